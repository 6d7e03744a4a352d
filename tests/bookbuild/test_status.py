"""The status page: a table of parts first, then per part its chapters, coverage, relaxed targets
and claims, with numbers printed as numbers."""

from __future__ import annotations

from bookbuild import status, toc

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



def record(cid, claims, coverage=(), seconds=2.0, covers=("figure 1",)):
    return dict(id=cid, part=cid.split("/")[0], chapter=f"Chapter {cid}", covers=list(covers), profile="quick",
                seconds=seconds, data=[dict(name="toy", source="generated", n_samples=64)], notes=["smaller"],
                coverage=list(coverage), claims=claims)


def claim(cid, value, passed=True, origin="paper", relaxed=None):
    return dict(id=cid, statement=f"statement {cid}", value=value, target="< 1", passed=passed, origin=origin,
                relaxed=relaxed)


def test_render_parts_table_coverage_relaxed_and_numbers(tmp_path):
    root = tmp_path
    (root / "_toc.yml").write_text(TOC)
    for page in ("intro.md", "status.md", "alpha/index.md", "alpha/figure-1-x.ipynb", "alpha/beyond.md",
                 "alpha/beyond-a.ipynb", "beta/index.md", "beta/figure-1-x.ipynb", "beta/theorem-2.ipynb"):
        (root / "book" / page).parent.mkdir(parents=True, exist_ok=True)
        (root / "book" / page).write_text("{}")
    book = toc.read(root)
    records = {
        "alpha/figure-1-x": record("alpha/figure-1-x", [claim("A1", 0.123456), claim("A2", [1.0, 2.0], origin="book")],
                                   coverage=[dict(item="figure 1, MNIST", status="reduced", why="5 000-image subset"),
                                             dict(item="figure 1, CIFAR-10", status="not run", why="no data")]),
        "alpha/beyond-a": record("alpha/beyond-a", [claim("B1", 3e-16, origin="derived",
                                                          relaxed="5e-4 does not hold at T = 50")],
                                 coverage=[dict(item="a, left", status="reduced", why="w"),
                                           dict(item="a, right", status="reduced", why="w"),
                                           dict(item="a, other", status="not run", why="no data here")]),
        "beta/figure-1-x": record("beta/figure-1-x", [claim("C1", 2.0, passed=False)]),
        "beta/theorem-2": None,
    }
    times = {"alpha/figure-1-x": {"quick": dict(seconds=30.0), "paper": dict(seconds=7200.0, projected=True, basis="b")},
             "alpha/beyond-a": {"quick": dict(seconds=90.0), "paper": dict(
                 seconds=60.0, coverage=[dict(item="a, left", status="run"), dict(item="a, other", status="reduced")])}}
    page = status.render(book, records, {"beta/figure-1-x": "AssertionError: 1 of 1 claims failed"}, times,
                         cached={"alpha/beyond-a"}, build=dict(executed=2, cached=1, wall=50.0, sum=80.0, jobs=2))
    assert "**3 of 4 claims pass** across 4 chapters." in page
    assert "| {ref}`Part I: first paper <status-alpha>` | 2 | 3 / 3 | 2.0 min | ~2.0 h |" in page
    assert "| {ref}`Part II: second paper <status-beta>` | 2 | 0 / 1 (1 chapter(s) failed) | not measured | not measured |" in page
    assert "Status" not in page.split("## ")[0].split("| part |")[1]  # a part without chapters has no row
    assert "| figure 1, MNIST | reduced | projected | 5 000-image subset | Chapter alpha/figure-1-x |" in page
    assert "| figure 1, CIFAR-10 | not run | not run | no data | Chapter alpha/figure-1-x |" in page
    assert "| a, left | reduced | run (60 s) | w |" in page  # the recorded paper run's own status per row
    assert "| a, right | reduced | measured (60 s) | w |" in page  # no per-row record: the chapter's time only
    assert "| a, other | not run | reduced (60 s) | no data here |" in page
    assert "- `B1` (Chapter alpha/beyond-a): target < 1. 5e-4 does not hold at T = 50" in page
    assert "| `A1` | statement A1 | 0.1235 | < 1 | paper | pass |" in page
    assert "| `A2` | statement A2 | 1, 2 | < 1 | book check | pass |" in page  # a list, not "[1.0, 2.0]"
    assert "| `B1` | statement B1 | 3.00e-16 | < 1 (relaxed) | derived | pass |" in page
    assert "**Failed in this build:** `AssertionError: 1 of 1 claims failed`" in page
    assert "No record: this chapter has not been executed in this build." in page
    assert "reused from the chapter cache" in page and "2.0 s (cached)" in page
    assert "executed 2 chapter(s) and reused 1" in page
    assert page.index("(status-alpha)=") < page.index("(status-beta)=")
