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


def test_run_times_cover_every_chapter_in_both_profiles():
    """benchmarks/chapter_times.json (shown on the status page) has, for every chapter, a measured
    quick-profile time and a paper-profile time that is measured or an explicitly based projection."""
    store = json.loads((ROOT / "benchmarks" / "chapter_times.json").read_text())["chapters"]
    for nb in NOTEBOOKS:
        assert nb.stem in store, f"no run time recorded for {nb.stem}: run benchmarks/chapter_times.py --record"
        for profile in ("quick", "paper"):
            entry = store[nb.stem].get(profile)
            assert entry is not None, f"{nb.stem}: no {profile}-profile time in benchmarks/chapter_times.json"
            assert entry["seconds"] > 0 and entry.get("date") and entry.get("cpu")
            if entry.get("projected"):
                assert entry.get("basis"), f"{nb.stem}: a projected {profile} time must say what it is based on"
            else:
                passed, total = map(int, entry["claims"].split("/"))
                assert passed == total, f"{nb.stem}: recorded {profile} time of a run that failed claims"
    assert set(store) <= {nb.stem for nb in NOTEBOOKS}, "chapter_times.json names chapters that are not in the book"


@pytest.mark.book
def test_status_page_shows_both_profiles_run_times(site_dir: Path):
    page = (site_dir / "book" / "reproduction-status.html").read_text()
    assert "Run times in both profiles" in page
