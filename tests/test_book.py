"""The book as a whole: every chapter executes in the quick profile and passes its checks.

Runs the README's book build once (see conftest.py) and asserts each chapter's reproduction
record, so a chapter that errors, skips its checks, or fails a claim fails the test suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                entries.append(item["file"])
            walk(item.get("sections"))

    walk(toc.get("chapters"))
    return [ROOT / f"{e}.ipynb" for e in entries if (ROOT / f"{e}.ipynb").exists()]


NOTEBOOKS = toc_notebooks()


def test_toc_lists_chapters():
    assert NOTEBOOKS, "_toc.yml lists no notebook"
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        assert nb in NOTEBOOKS, f"{nb.name} is in book/ but not in _toc.yml, so the build never runs it"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parametrised(notebook: Path):
    """Committed notebooks carry no outputs and have a papermill parameters cell with a profile."""
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        assert not cell.outputs, f"{notebook.name}: code cell {i} has committed outputs (papermill makes them)"
        assert cell.execution_count is None, f"{notebook.name}: code cell {i} has an execution count"
        assert "pip install" not in cell.source and "!apt" not in cell.source, f"{notebook.name}: install cell"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{notebook.name}: needs exactly one cell tagged 'parameters', found {len(params)}"
    assert 'profile = "quick"' in params[0].source, f"{notebook.name}: the parameters cell must default profile to 'quick'"
    assert "rep.finish()" in code[-1].source, f"{notebook.name}: the last cell must be the reproduction check (rep.finish())"


@pytest.mark.book
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_passes_its_reproduction_checks(built_book, notebook: Path):
    record_path = built_book["claims"] / f"{notebook.stem}.json"
    assert record_path.exists(), (
        f"{notebook.stem} wrote no reproduction record; build output:\n{built_book['output'][-4000:]}"
    )
    record = json.loads(record_path.read_text())
    assert set(record) >= {"chapter", "profile", "seconds", "data", "claims"}
    assert record["profile"] == "quick"
    assert record["claims"], f"{notebook.stem} checked no claim"
    for claim in record["claims"]:
        assert set(claim) >= {"id", "statement", "value", "target", "passed"}
    failed = [c for c in record["claims"] if not c["passed"]]
    assert not failed, f"{notebook.stem}: failed claims {failed}"


@pytest.mark.book
def test_book_build_succeeded(built_book):
    assert built_book["returncode"] == 0, built_book["output"][-8000:]


@pytest.mark.book
def test_status_page_lists_every_chapter(site_dir: Path):
    page = (site_dir / "book" / "reproduction-status.html").read_text()
    for nb in NOTEBOOKS:
        record = json.loads((ROOT / "_build" / "claims" / f"{nb.stem}.json").read_text())
        assert record["chapter"] in page, f"status page misses {nb.stem}"
        for claim in record["claims"]:
            assert claim["id"] in page, f"status page misses claim {claim['id']} of {nb.stem}"
