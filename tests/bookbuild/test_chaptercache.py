"""The chapter cache's key never misses an input: editing a package file, a notebook, a requirement
or a parameter invalidates exactly the chapters that depend on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bookbuild import chaptercache as cc


def notebook(path: Path, *code: str, markdown: str = "# title") -> None:
    cells = [dict(cell_type="markdown", metadata={}, source=markdown)]
    cells += [dict(cell_type="code", metadata={}, source=c, outputs=[], execution_count=None) for c in code]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)))


@pytest.fixture
def repo(tmp_path):
    """shared <- part1 <- part2 (part2 imports part1, as Part II's bridge imports Part I), part3 alone."""
    files = {
        "src/shared/__init__.py": "from . import records\n",
        "src/shared/records.py": "X = 1\n",
        "src/part1/__init__.py": "",
        "src/part1/core.py": "from shared import records\n",
        "src/part2/__init__.py": "",
        "src/part2/bridge.py": "def f():\n    import part1.core  # an import inside a function counts\n",
        "src/part3/__init__.py": "",
        "src/part3/maps.py": "import numpy as np\n",
        "requirements.txt": "numpy==2.4.6\n",
        "pyproject.toml": "[project]\nname = 'x'\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    notebook(tmp_path / "book/one/a.ipynb", "%matplotlib inline\nfrom part1 import core\nfrom shared.records import X")
    notebook(tmp_path / "book/two/b.ipynb", "import part2.bridge\n!echo shell lines are skipped")
    notebook(tmp_path / "book/three/c.ipynb", "from part3 import maps\nimport numpy")
    return tmp_path


CHAPTERS = {"one/a": "book/one/a.ipynb", "two/b": "book/two/b.ipynb", "three/c": "book/three/c.ipynb"}


def keys(root: Path, profile: str = "quick", params: dict | None = None) -> dict[str, str]:
    return {cid: cc.chapter_key(root / path, profile, {"profile": profile, **(params or {})}, root=root)[0]
            for cid, path in CHAPTERS.items()}


def changed(before: dict, after: dict) -> set[str]:
    return {cid for cid in before if before[cid] != after[cid]}


def test_dependencies_follow_imports_transitively(repo):
    packages = cc.local_packages(repo / "src")
    assert set(packages) == {"shared", "part1", "part2", "part3"}
    assert cc.dependencies(repo / CHAPTERS["one/a"], packages) == ["part1", "shared"]
    assert cc.dependencies(repo / CHAPTERS["two/b"], packages) == ["part1", "part2", "shared"]
    assert cc.dependencies(repo / CHAPTERS["three/c"], packages) == ["part3"]


def test_keys_are_stable_when_nothing_changes(repo):
    assert keys(repo) == keys(repo)


def test_one_snapshot_of_the_packages_reads_each_package_once(repo, monkeypatch):
    """A build keys every chapter from one snapshot: each package is hashed and parsed once (not
    once per chapter that depends on it), and the keys are those of fresh snapshots."""
    packages = cc.local_packages(repo / "src")
    hashed, parsed = [], []
    digest, parse = cc.files_digest, cc._imports
    monkeypatch.setattr(cc, "files_digest", lambda files, base: hashed.append(base.name) or digest(files, base))
    monkeypatch.setattr(cc, "_imports", lambda code, where: parsed.append(where) or parse(code, where))
    shared = {cid: cc.chapter_key(repo / path, "quick", {"profile": "quick"}, root=repo, packages=packages)[0]
              for cid, path in CHAPTERS.items()}
    # one/a needs part1+shared, two/b part1+part2+shared, three/c part3: 6 package uses, 4 packages
    assert sorted(hashed) == ["part1", "part2", "part3", "shared"]
    modules = [w for w in parsed if w.endswith(".py")]
    assert len(modules) == len(set(modules)) == len(list((repo / "src").rglob("*.py")))
    assert shared == keys(repo)


@pytest.mark.parametrize("edit, expected", [
    ("src/shared/records.py", {"one/a", "two/b"}),          # the shared package: everything importing it
    ("src/part1/core.py", {"one/a", "two/b"}),              # Part I's package, also used by part2's bridge
    ("src/part2/bridge.py", {"two/b"}),                     # one Part II module: only Part II's chapter
    ("src/part3/maps.py", {"three/c"}),
    ("requirements.txt", {"one/a", "two/b", "three/c"}),    # a pin: everything
    ("pyproject.toml", {"one/a", "two/b", "three/c"}),
])
def test_editing_a_file_invalidates_exactly_its_dependants(repo, edit, expected):
    before = keys(repo)
    path = repo / edit
    path.write_text(path.read_text() + "# edited\n")
    assert changed(before, keys(repo)) == expected


def test_a_new_module_in_a_package_counts(repo):
    before = keys(repo)
    (repo / "src/part3/extra.py").write_text("Y = 2\n")
    assert changed(before, keys(repo)) == {"three/c"}


def test_editing_a_notebook_even_its_prose_invalidates_only_it(repo):
    before = keys(repo)
    notebook(repo / CHAPTERS["two/b"], "import part2.bridge\n!echo shell lines are skipped", markdown="# new title")
    assert changed(before, keys(repo)) == {"two/b"}


def test_profile_and_parameters_are_part_of_the_key(repo):
    base = keys(repo)
    assert changed(base, keys(repo, "paper")) == set(CHAPTERS)
    assert changed(base, keys(repo, params={"seed": 3})) == set(CHAPTERS)
    assert keys(repo, params={"seed": 3}) == keys(repo, params={"seed": 3})
    assert changed(keys(repo, params={"lr": 0.1}), keys(repo, params={"lr": 0.1000001})) == set(CHAPTERS)


def test_the_cache_stores_and_returns_by_key_and_prunes(repo, tmp_path):
    cache = cc.ChapterCache(tmp_path / "cache", keep=2)
    nb, rec = tmp_path / "nb.ipynb", tmp_path / "rec.json"
    nb.write_text("{}")
    rec.write_text('{"claims": []}')
    assert cache.get("two/b", "k1" * 32) is None
    for i in range(3):
        cache.put("two/b", f"k{i}" * 32, nb, rec, {"i": i})
    assert cache.get("two/b", "k2" * 32) is not None and cache.get("two/b", "k1" * 32) is not None
    assert cache.get("two/b", "k0" * 32) is None  # pruned: at most `keep` per chapter
    got_nb, got_rec = cache.get("two/b", "k2" * 32)
    assert got_rec.read_text() == rec.read_text() and got_nb.read_text() == "{}"


def test_unparseable_notebook_code_is_an_error_not_a_silent_miss(repo):
    notebook(repo / CHAPTERS["three/c"], "from part3 import (")
    with pytest.raises(ValueError, match="cannot parse the code of"):
        keys(repo)
