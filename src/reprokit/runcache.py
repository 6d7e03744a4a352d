"""Finished runs on disk, keyed by their full configuration and by the code that ran them.

Long runs (a paper-profile training run takes minutes to a day) are stored so that a rebuild
loads them instead of recomputing. A stored run is found again only if **everything** that
determines it is the same: the run's name, its configuration (seed, sizes, learning rate,
options -- whatever the caller puts in ``config``) and the source code of the packages it ran
(:func:`code_fingerprint`). Change any of them and the key changes, so the run is recomputed:
a seed-3 build never loads seed 0's runs, and a bug fix in the package is never ignored.

While a run is in progress it can save **checkpoints** (every ``every`` seconds of work, atomically),
so an interrupted run resumes from its last checkpoint instead of from its start::

    store = RunStore("_build/results/pc-saddles/figure-5-escape-nonlinear/paper", code=("pcsaddles", "reprokit"))
    run = store.run("fashion_mnist-tanh-pc", config)      # a StoredRun
    if run.finished:                                       # loaded: nothing to compute
        arrays = run.load()
    else:
        arrays = train(..., resume=run.resume_state(), checkpoint=run.checkpointer(every=120))
        run.save(arrays)
    run.status                                             # "loaded", "resumed" or "computed"

Files, for a run named ``NAME`` with key ``K`` (the first 16 hex digits of a SHA-256):
``NAME-K.npz`` (the finished arrays), ``NAME-K.json`` (configuration, code fingerprint, seconds,
date; for a reader) and, while unfinished, ``NAME-K.ckpt.pt`` (the checkpoint, a ``torch.save``
file). Every write goes to a temporary file that is renamed into place, so an interrupted write
never leaves a half-written run that counts as finished.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.util
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def package_root(package: str) -> Path:
    """The folder of an importable package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package (expected e.g. 'pcsaddles' or 'reprokit')")
    return Path(next(iter(spec.submodule_search_locations)))


def source_files(folder: Path) -> list[Path]:
    """The ``.py`` files under ``folder``, sorted (``__pycache__`` skipped)."""
    return sorted(p for p in Path(folder).rglob("*.py") if "__pycache__" not in p.parts)


def package_files(package: str) -> list[Path]:
    """The ``.py`` files of an importable package, sorted."""
    return source_files(package_root(package))


def files_digest(files: Sequence[Path], base: Path) -> str:
    """SHA-256 over the files' names relative to ``base`` and their contents (order-independent)."""
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: str(Path(p).relative_to(base))):
        h.update(str(Path(path).relative_to(base)).encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return h.hexdigest()


def _src_root() -> Path:
    """The folder holding the book's packages (``src/``)."""
    return package_root("reprokit").parent


def _module_file(name: str) -> Path | None:
    """The ``.py`` file of module ``name``; None for names that are not modules (``pkg.mod.attr``,
    built-in or compiled modules, unknown names)."""
    if not name:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def module_closure(module: str) -> list[Path]:
    """The source files a module of the book runs: its own file and, transitively, those of the
    book's modules it imports (``from . import x``, ``from .x import y``, ``from pkg import x``,
    ``import pkg.x``), plus the ``__init__.py`` of each package involved. Imports of modules outside
    ``src/`` (numpy, torch, ...) are pinned by the requirements and not followed."""
    import ast

    src = _src_root()
    todo, seen, files = [module], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None or src not in path.parents:
            continue
        files.add(path)
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        if package:
            files.add(package_root(package.split(".")[0]) / "__init__.py")
        if is_pkg and name != module:
            continue  # a package's __init__ re-exports everything; what a caller runs is followed directly
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    mod = f"{base}.{node.module}" if node.module else base
                else:
                    mod = node.module or ""
                todo.append(mod)
                todo.extend(f"{mod}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                todo.extend(a.name for a in node.names)
    return sorted(files)


def code_fingerprint(code: Sequence[str]) -> str:
    """SHA-256 of the source a run executes. Each item of ``code`` is a package of the book
    (``"pcsaddles"``: all its files) or one of its modules (``"pcsaddles.escape"``: that module and,
    transitively, the book's modules it imports; see :func:`module_closure`). Computed afresh on
    every call (milliseconds), so an edit is never missed."""
    if isinstance(code, str):
        code = (code,)
    files: set[Path] = set()
    for name in code:
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ValueError(f"code names {name!r}, which is not an importable package or module of the book")
        if spec.submodule_search_locations and "." not in name:
            files |= set(package_files(name))
        else:
            files |= set(module_closure(name))
    return files_digest(sorted(files), _src_root())


def canonical(config: Mapping[str, Any]) -> str:
    """The configuration as canonical JSON (sorted keys; floats exactly as ``repr``). Values must be
    JSON types (numbers, strings, bools, None, lists, dicts); anything else raises a TypeError
    naming the key, since a value without a stable text form cannot key a stored run."""
    def clean(value: Any, where: str) -> Any:
        if isinstance(value, (np.generic,)):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            return {str(k): clean(v, f"{where}.{k}") for k, v in value.items()}
        raise TypeError(f"run configuration value {where} = {value!r} ({type(value).__name__}) is not a JSON type; "
                        "give numbers, strings, bools, None, lists or dicts")

    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of the run's settings; received {type(config).__name__}")
    return json.dumps(clean(dict(config), "config"), sort_keys=True, separators=(",", ":"))


class RunStore:
    """A folder of stored runs for one chapter and profile. ``code``: the packages or modules whose
    source keys the runs (:func:`code_fingerprint`; name the module that runs them, e.g.
    ``"pcsaddles.escape"``, and its imports are followed). ``enabled=False`` computes everything and
    stores nothing (the quick profile of a chapter that needs no store)."""

    def __init__(self, folder: str | os.PathLike[str], *, code: Sequence[str] = ("reprokit",), enabled: bool = True):
        self.folder = Path(folder)
        self.code = tuple(sorted(set((code,) if isinstance(code, str) else code)))
        self.enabled = bool(enabled)
        self.fingerprint = code_fingerprint(self.code)
        self.runs: list[StoredRun] = []

    def key(self, name: str, config: Mapping[str, Any]) -> str:
        payload = json.dumps({"name": name, "config": canonical(config), "code": self.fingerprint}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def run(self, name: str, config: Mapping[str, Any]) -> StoredRun:
        """The stored run ``name`` with this ``config`` (finished, checkpointed or new)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"a run name must be letters, digits and _.=+- (it names a file); received {name!r}")
        run = StoredRun(self, name, dict(config), self.key(name, config))
        self.runs.append(run)
        return run

    def report(self) -> list[dict[str, Any]]:
        """One row per run asked for in this session: name, status (loaded / resumed / computed /
        pending), file and, for a resumed run, the iteration it resumed from."""
        return [dict(name=r.name, status=r.status, file=r.result.name, resumed_from=r.resumed_from) for r in self.runs]


class StoredRun:
    """One run of a :class:`RunStore`; see the module docstring."""

    def __init__(self, store: RunStore, name: str, config: dict, key: str):
        self.store, self.name, self.config, self.key = store, name, config, key
        stem = f"{name}-{key[:16]}"
        self.result = store.folder / f"{stem}.npz"
        self.meta = store.folder / f"{stem}.json"
        self.checkpoint_file = store.folder / f"{stem}.ckpt.pt"
        self.status = "pending"
        self.resumed_from: int | None = None

    @property
    def finished(self) -> bool:
        return self.store.enabled and self.result.is_file()

    def load(self) -> dict[str, np.ndarray]:
        """The stored arrays of a finished run (``status`` becomes ``"loaded"``)."""
        if not self.finished:
            raise FileNotFoundError(f"run {self.name!r} has no finished result at {self.result}")
        with np.load(self.result, allow_pickle=False) as f:
            out = {k: f[k] for k in f.files}
        self.status = "loaded"
        return out

    def save(self, arrays: Mapping[str, Any], seconds: float | None = None) -> None:
        """Store the finished run's arrays (atomically) and drop its checkpoint."""
        self.status = "resumed" if self.resumed_from is not None else "computed"
        if not self.store.enabled:
            return
        self.store.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.result.with_name(f".{self.result.stem}.tmp.npz")
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
        tmp.replace(self.result)
        meta = dict(name=self.name, key=self.key, config=json.loads(canonical(self.config)), code=list(self.store.code),
                    code_fingerprint=self.store.fingerprint, seconds=seconds, resumed_from=self.resumed_from,
                    date=_dt.datetime.now().isoformat(timespec="seconds"))
        _atomic_text(self.meta, json.dumps(meta, indent=1))
        self.checkpoint_file.unlink(missing_ok=True)

    def resume_state(self) -> dict | None:
        """The last checkpoint of this exact run (same name, configuration and code), or None."""
        if not self.store.enabled or not self.checkpoint_file.is_file():
            return None
        import torch

        state = torch.load(self.checkpoint_file, map_location="cpu", weights_only=False)
        self.resumed_from = int(state.get("iteration", 0)) if isinstance(state, dict) else 0
        return state

    def checkpointer(self, every: float = 120.0) -> Callable[[Callable[[], dict]], bool] | None:
        """A callback for a training loop: ``checkpoint(make_state)`` saves ``make_state()`` when at
        least ``every`` seconds of work have passed since the last save (or the start), and returns
        whether it saved. None when the store is disabled (nothing to resume into)."""
        if not self.store.enabled:
            return None
        if not every > 0:
            raise ValueError(f"checkpoint interval must be > 0 seconds; received {every}")
        last = [time.perf_counter()]

        def checkpoint(make_state: Callable[[], dict], force: bool = False) -> bool:
            now = time.perf_counter()
            if not force and now - last[0] < every:
                return False
            self.save_checkpoint(make_state())
            last[0] = time.perf_counter()
            return True

        return checkpoint

    def save_checkpoint(self, state: dict) -> None:
        import torch

        self.store.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_file.with_name(f".{self.checkpoint_file.name}.tmp")
        torch.save(state, tmp)
        tmp.replace(self.checkpoint_file)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
