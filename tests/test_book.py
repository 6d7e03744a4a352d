"""The book as a whole: every chapter executes in the quick profile and passes its checks.

Runs the README's book build once (see conftest.py) and asserts each chapter's reproduction
record, so a chapter that errors, skips its checks, or fails a claim fails the test suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from bookbuild import toc
from reprokit.records import ORIGINS

ROOT = Path(__file__).resolve().parents[1]
BOOK = toc.read(ROOT)
CHAPTERS = BOOK.chapters


def test_toc_lists_every_page_once_in_parts():
    assert CHAPTERS, "_toc.yml lists no notebook"
    listed = {e.path.resolve() for e in BOOK.entries}
    for page in sorted((ROOT / "book").rglob("*")):
        if page.suffix in (".ipynb", ".md") and ".ipynb_checkpoints" not in page.parts:
            assert page.resolve() in listed, f"{page.relative_to(ROOT)} is in book/ but not in _toc.yml, so the build never shows it"
    assert not BOOK.loose, "every page except the root belongs to a part"
    for part in BOOK.parts:
        if part.chapters:
            assert part.folder, f"the chapters of {part.caption!r} must share one part folder"
            assert part.entries[0].stem == "index", f"{part.caption!r} must open with its index page"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.id)
def test_notebook_is_clean_and_parametrised(chapter):
    """Committed notebooks carry no outputs, have a papermill parameters cell with a profile, and
    end with the reproduction check, whose record carries the chapter's id."""
    notebook = chapter.path
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
    source = "\n".join(c.source for c in code)
    assert f'"{chapter.id}"' in source, f"{notebook.name}: its Reproduction must be created with its id {chapter.id!r}"


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.id)
def test_chapter_passes_its_reproduction_checks(built_book, chapter):
    record_path = built_book["claims"] / f"{chapter.id}.json"
    assert record_path.exists(), (
        f"{chapter.id} wrote no reproduction record; build output:\n{built_book['output'][-4000:]}"
    )
    record = json.loads(record_path.read_text())
    assert set(record) >= {"id", "part", "chapter", "covers", "profile", "seconds", "data", "claims"}
    assert record["id"] == chapter.id and record["part"] == chapter.folder
    assert record["covers"], f"{chapter.id}: the record must say what of the paper it covers"
    assert record["profile"] == "quick"
    assert record["claims"], f"{chapter.id} checked no claim"
    for claim in record["claims"]:
        assert set(claim) >= {"id", "statement", "value", "target", "passed", "origin"}
        assert claim["origin"] in ORIGINS, f"{chapter.id}: claim {claim['id']} says not where its target comes from"
    assert record.get("coverage"), f"{chapter.id}: the record must say how the run covers the paper (rep.coverage)"
    failed = [c for c in record["claims"] if not c["passed"]]
    assert not failed, f"{chapter.id}: failed claims {failed}"


@pytest.mark.book
def test_book_build_succeeded(built_book):
    assert built_book["returncode"] == 0, built_book["output"][-8000:]


@pytest.mark.book
def test_status_page_lists_every_part_chapter_and_claim(site_dir: Path, built_book):
    page = (site_dir / "book" / "reproduction-status.html").read_text()
    for part in BOOK.parts:
        if part.chapters:
            assert part.caption.split(":")[0] in page, f"status page misses {part.caption}"
    for chapter in CHAPTERS:
        record = json.loads((built_book["claims"] / f"{chapter.id}.json").read_text())
        assert record["chapter"].replace("'", "&#8217;").split(":")[0] in page, f"status page misses {chapter.id}"
        for claim in record["claims"]:
            assert claim["id"] in page, f"status page misses claim {claim['id']} of {chapter.id}"


def test_run_times_cover_every_chapter_in_both_profiles():
    """benchmarks/chapter_times.json (shown on the status page) has, for every chapter, a measured
    quick-profile time and a paper-profile time that is measured or an explicitly based projection."""
    store = json.loads((ROOT / "benchmarks" / "chapter_times.json").read_text())["chapters"]
    for chapter in CHAPTERS:
        assert chapter.id in store, f"no run time recorded for {chapter.id}: run benchmarks/chapter_times.py --record"
        for profile in ("quick", "paper"):
            entry = store[chapter.id].get(profile)
            assert entry is not None, f"{chapter.id}: no {profile}-profile time in benchmarks/chapter_times.json"
            assert entry["seconds"] > 0 and entry.get("date") and entry.get("cpu")
            if entry.get("projected"):
                assert entry.get("basis"), f"{chapter.id}: a projected {profile} time must say what it is based on"
            else:
                passed, total = map(int, entry["claims"].split("/"))
                assert passed == total or entry.get("note"), (
                    f"{chapter.id}: recorded {profile} time of a run that failed claims, without a note explaining it")
    assert set(store) <= {c.id for c in CHAPTERS}, "chapter_times.json names chapters that are not in the book"


@pytest.mark.book
def test_status_page_shows_parts_and_both_profiles_run_times(site_dir: Path):
    page = (site_dir / "book" / "reproduction-status.html").read_text()
    assert "run time, quick" in page and "run time, paper" in page


@pytest.mark.book
def test_a_rebuild_with_nothing_changed_executes_no_chapter(built_book):
    """After the build, every chapter's current key is in the chapter cache, so the next
    `bash scripts/book.sh` reuses every chapter (the build prints and records what it executed)."""
    from bookbuild import chaptercache

    cache = chaptercache.ChapterCache(ROOT / "_build" / "cache" / "chapters")
    packages = chaptercache.local_packages(ROOT / "src")
    missing = [c.id for c in CHAPTERS
               if cache.get(c.id, chaptercache.chapter_key(c.path, "quick", {"profile": "quick"}, root=ROOT,
                                                           packages=packages)[0]) is None]
    assert not missing, f"a rebuild would execute these chapters again: {missing}"
