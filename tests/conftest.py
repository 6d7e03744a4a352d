"""Shared fixtures. The ``book`` fixture builds the whole book once per test session (quick
profile): every chapter is executed by papermill exactly as the README's book command does, so
the chapter tests and the browser test check what a reader would get."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built_book() -> dict:
    """Run ``scripts/build_book.py --profile quick`` once; return its outcome.

    The build reuses a chapter from the chapter cache only when nothing it depends on changed
    (``bookbuild.chaptercache``); a fresh clone, as in CI, has no cache and executes everything.
    Set REPROBOOK_NO_CACHE=1 to execute every chapter anyway.
    """
    html = ROOT / "_build" / "html"
    cmd = [sys.executable, str(ROOT / "scripts" / "build_book.py"), "--profile", "quick"]
    if os.environ.get("REPROBOOK_NO_CACHE") == "1":
        cmd.append("--no-cache")
    proc = subprocess.run(
        cmd,
        cwd=ROOT, capture_output=True, text=True,
    )
    output = proc.stdout + proc.stderr
    print(output)
    return {"returncode": proc.returncode, "output": output, "html": html, "claims": ROOT / "_build" / "claims"}


@pytest.fixture(scope="session")
def site_dir(built_book) -> Path:
    """The built HTML site (``_build/html``); fails if the book build failed."""
    if built_book["returncode"] != 0:
        pytest.fail(f"the book build failed:\n{built_book['output'][-8000:]}")
    return built_book["html"]


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    """The unit tests use small matrices, where OpenMP threads only add overhead (and, on a
    loaded 2-core machine, spin-wait contention of 10-100x)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
