"""Content-addressed cache of executed chapters: re-execute a chapter only when an input changed.

A chapter's **key** is a SHA-256 over everything its execution depends on:

* the notebook file itself (every cell, code and prose);
* the source of every package of the book it imports, followed transitively through the
  packages' own imports (a Part II chapter that imports ``overparam`` also depends on
  ``reprokit``, and on ``pcsaddles`` if ``overparam`` imports it);
* the pinned requirements (``requirements.txt``, ``pyproject.toml``) and the Python version;
* the profile and every papermill parameter passed to it.

Two builds with equal keys execute the same code on the same inputs, so the second reuses the
first's executed notebook and record (:class:`ChapterCache`). Editing one module of a part
therefore re-executes only the chapters that import that part (or a package importing it).

The local packages are the folders of ``src/`` holding an ``__init__.py``. Imports are read with
:mod:`ast` from the notebook's code cells (IPython magics and shell lines are skipped) and from
the packages' modules; an import inside a function counts too. Each package's digest and imports
are computed once per :class:`LocalPackages` snapshot, so keying every chapter of a build reads and
parses each package once, not once per chapter.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reprokit.runcache import canonical, files_digest, source_files

KEY_VERSION = "1"  # bump when the key's recipe changes
REQUIREMENT_FILES = ("requirements.txt", "pyproject.toml")


class LocalPackages(Mapping[str, Path]):
    """``{name: folder}`` of the importable packages in ``src``, each package's source read at most
    once: its digest (:meth:`digest`) and the other local packages it imports (:meth:`imports`) are
    computed on first use and kept. A snapshot: after editing a package, take a new one."""

    def __init__(self, src: Path):
        self._folders = {p.name: p for p in sorted(Path(src).iterdir()) if (p / "__init__.py").is_file()}
        self._digests: dict[str, str] = {}
        self._imports: dict[str, set[str]] = {}

    def __getitem__(self, name: str) -> Path:
        return self._folders[name]

    def __iter__(self):
        return iter(self._folders)

    def __len__(self) -> int:
        return len(self._folders)

    def digest(self, name: str) -> str:
        """SHA-256 over the package's ``.py`` files (names and contents)."""
        if name not in self._digests:
            self._digests[name] = files_digest(source_files(self[name]), self[name])
        return self._digests[name]

    def imports(self, name: str) -> set[str]:
        """The other local packages that package ``name`` imports (directly)."""
        if name not in self._imports:
            found: set[str] = set()
            for path in source_files(self[name]):
                found |= _imports(path.read_text(), str(path))
            self._imports[name] = (found & set(self)) - {name}
        return self._imports[name]


def local_packages(src: Path) -> LocalPackages:
    """The importable packages in ``src`` (a :class:`LocalPackages` snapshot)."""
    return LocalPackages(src)


def _imports(code: str, where: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise ValueError(f"cannot parse the code of {where}: {err}") from None
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def notebook_code(notebook: Path) -> str:
    """The notebook's code cells as one Python source, IPython magics and shell lines blanked."""
    nb = json.loads(Path(notebook).read_text())
    lines = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in src.splitlines():
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
        lines.append("")
    return "\n".join(lines)


def notebook_imports(notebook: Path, packages: LocalPackages) -> set[str]:
    """The local packages a notebook imports directly."""
    return _imports(notebook_code(notebook), str(notebook)) & set(packages)


def dependencies(notebook: Path, packages: LocalPackages) -> list[str]:
    """Every local package the notebook depends on: its imports and, transitively, theirs."""
    todo = list(notebook_imports(notebook, packages))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(packages.imports(name) - seen)
    return sorted(seen)


def chapter_key(notebook: Path, profile: str, params: Mapping[str, Any], *, root: Path,
                packages: LocalPackages | None = None) -> tuple[str, dict[str, Any]]:
    """``(key, inputs)``: the SHA-256 key of one chapter execution and what went into it (a dict
    of digests, stored next to the cached notebook so a reader can see why a key changed). Pass
    one ``packages`` snapshot for all the chapters of a build (each package is then hashed once)."""
    root = Path(root)
    packages = local_packages(root / "src") if packages is None else packages
    deps = dependencies(notebook, packages)
    inputs: dict[str, Any] = {
        "version": KEY_VERSION,
        "notebook": hashlib.sha256(Path(notebook).read_bytes()).hexdigest(),
        "packages": {name: packages.digest(name) for name in deps},
        "requirements": {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in REQUIREMENT_FILES
                         if (root / f).exists()},
        "python": "%d.%d" % sys.version_info[:2],
        "profile": profile,
        "params": json.loads(canonical(dict(params))),
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return key, inputs


class ChapterCache:
    """Executed notebooks and records on disk: ``folder/<chapter id>/<key[:24]>/`` holds
    ``notebook.ipynb``, ``record.json`` and ``inputs.json``. Only a chapter that passed its checks
    is stored. At most ``keep`` keys are kept per chapter (the most recent)."""

    def __init__(self, folder: str | Path, keep: int = 4):
        self.folder = Path(folder)
        self.keep = keep

    def _dir(self, chapter_id: str, key: str) -> Path:
        return self.folder / chapter_id / key[:24]

    def get(self, chapter_id: str, key: str) -> tuple[Path, Path] | None:
        """``(notebook, record)`` stored under ``key``, or None."""
        d = self._dir(chapter_id, key)
        nb, rec = d / "notebook.ipynb", d / "record.json"
        if nb.is_file() and rec.is_file() and (d / "inputs.json").is_file():
            return nb, rec
        return None

    def put(self, chapter_id: str, key: str, notebook: Path, record: Path, inputs: Mapping[str, Any]) -> None:
        d = self._dir(chapter_id, key)
        tmp = d.with_name(f".{d.name}.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        shutil.copy2(notebook, tmp / "notebook.ipynb")
        shutil.copy2(record, tmp / "record.json")
        (tmp / "inputs.json").write_text(json.dumps(dict(inputs), indent=1, sort_keys=True))
        if d.exists():
            shutil.rmtree(d)
        tmp.rename(d)
        entries = sorted((p for p in d.parent.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
