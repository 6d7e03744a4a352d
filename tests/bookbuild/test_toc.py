"""The one walker of _toc.yml: parts, chapter ids and --only selection, on a parted toc."""

from __future__ import annotations

import pytest

from bookbuild import toc

TOC = """
format: jb-book
root: book/intro
parts:
  - caption: "Part I: first paper"
    chapters:
      - file: book/alpha/index
      - file: book/alpha/figure-1-x
      - file: book/alpha/beyond
        sections:
          - file: book/alpha/beyond-a
  - caption: "Part II: second paper"
    chapters:
      - file: book/beta/index
      - file: book/beta/figure-1-x
      - file: book/beta/theorem-2
  - caption: Status
    chapters:
      - file: book/status
"""


@pytest.fixture
def book(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC)
    for page in ("intro.md", "status.md", "alpha/index.md", "alpha/figure-1-x.ipynb", "alpha/beyond.md",
                 "alpha/beyond-a.ipynb", "beta/index.md", "beta/figure-1-x.ipynb", "beta/theorem-2.ipynb"):
        path = tmp_path / "book" / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}" if page.endswith(".ipynb") else "# page\n")
    return tmp_path


def test_parts_entries_and_ids(book):
    t = toc.read(book)
    assert [p.caption for p in t.parts] == ["Part I: first paper", "Part II: second paper", "Status"]
    assert [p.folder for p in t.parts] == ["alpha", "beta", None]
    assert t.root.id == "intro" and t.root.kind == "markdown"
    assert [e.id for e in t.entries] == ["intro", "alpha/index", "alpha/figure-1-x", "alpha/beyond", "alpha/beyond-a",
                                         "beta/index", "beta/figure-1-x", "beta/theorem-2", "status"]
    assert [c.id for c in t.chapters] == ["alpha/figure-1-x", "alpha/beyond-a", "beta/figure-1-x", "beta/theorem-2"]
    assert [c.part for c in t.chapters] == ["Part I: first paper"] * 2 + ["Part II: second paper"] * 2
    assert t.chapters[0].path == book / "book" / "alpha" / "figure-1-x.ipynb"
    assert t.part_of("beta/theorem-2").caption == "Part II: second paper"


def test_select_by_id_part_folder_and_unambiguous_stem(book):
    chapters = toc.read(book).chapters
    assert [c.id for c in toc.select(chapters, None)] == [c.id for c in chapters]
    assert [c.id for c in toc.select(chapters, ["beta"])] == ["beta/figure-1-x", "beta/theorem-2"]
    assert [c.id for c in toc.select(chapters, ["book/alpha/beyond-a.ipynb", "theorem-2"])] == [
        "alpha/beyond-a", "beta/theorem-2"]
    with pytest.raises(ValueError, match=r"ambiguous: it names \['alpha/figure-1-x', 'beta/figure-1-x'\]"):
        toc.select(chapters, ["figure-1-x"])
    with pytest.raises(ValueError, match=r"no chapter or part named 'gamma'; parts are \['alpha', 'beta'\]"):
        toc.select(chapters, ["gamma"])


def test_missing_files_duplicates_and_pages_outside_book_are_errors(book):
    (book / "book" / "beta" / "theorem-2.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match="book/beta/theorem-2"):
        toc.read(book)
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: A\n    chapters:\n"
                                   "      - file: book/intro\n")
    with pytest.raises(ValueError, match=r"more than once: \['intro'\]"):
        toc.read(book)
    (book / "notes.md").write_text("x")
    (book / "_toc.yml").write_text("format: jb-book\nroot: notes\n")
    with pytest.raises(ValueError, match="outside book/"):
        toc.read(book)
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n  - chapters: []\n")
    with pytest.raises(ValueError, match="part 1 of _toc.yml has no caption"):
        toc.read(book)
