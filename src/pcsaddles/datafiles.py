"""Where dataset files are looked for, and how a missing dataset is fetched or reported.

Files are searched in ``data_dir`` (the folder that holds them), then ``$PCSADDLES_DATA_DIR/<name>``,
then a system folder where one applies (Fashion-MNIST: the Debian package's
``/usr/share/datasets/fashion-mnist``), then the download cache ``~/.cache/pcsaddles/<name>``
(``$XDG_CACHE_HOME/pcsaddles/<name>`` when that is set). ``download=True`` fetches the standard
files, verified by checksum (:func:`reprokit.data.fetch`), into the first of ``data_dir``,
``$PCSADDLES_DATA_DIR/<name>`` and the cache. Nothing is silently substituted: a missing dataset
raises :class:`reprokit.data.DataUnavailableError` naming the folders searched and the fixes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reprokit.data import DataUnavailableError, DownloadError, fetch

ENV_DATA_DIR = "PCSADDLES_DATA_DIR"

__all__ = ["ENV_DATA_DIR", "cache_root", "find_or_download", "idx_missing_message", "join_url", "search_dirs"]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/pcsaddles`` or ``~/.cache/pcsaddles``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "pcsaddles"


def search_dirs(sub: str, data_dir: Any, system: Path | None = None) -> tuple[list[Path], Path]:
    """The folders to search, in order, and the folder a download goes to."""
    search: list[Path] = []
    if data_dir is not None:
        search.append(Path(data_dir).expanduser())
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        search.append(Path(env).expanduser() / sub)
    target = search[0] if search else cache_root() / sub
    if system is not None:
        search.append(system)
    cache = cache_root() / sub
    if cache not in search:
        search.append(cache)
    return search, target


def find_or_download(
    find: Callable[[Sequence[Path]], Any],
    search: Sequence[Path],
    target: Path,
    download: bool,
    mirrors: Sequence[str],
    files: dict[str, str],
    *,
    missing: Callable[[], str],
    download_failed: Callable[[], str] | None = None,
) -> tuple[Any, str]:
    """Locate a dataset's files with ``find(dirs)`` (``None`` when absent) in ``search``; if absent
    and ``download``, fetch every ``files`` entry (file name -> MD5) from the first of ``mirrors``
    that serves it into ``target`` and look there.

    Returns what ``find`` located and how (for the provenance). Raises ``ValueError`` for an empty
    or string ``mirrors`` (only when a download is attempted) and :class:`DataUnavailableError`
    with ``missing()`` when the files are absent, or with ``download_failed()`` (default
    ``missing()``) and the downloader's report when the download failed.
    """
    found = find(search)
    how = "read"
    if found is None and download:
        if isinstance(mirrors, str) or not mirrors:
            raise ValueError(f"mirrors must be a non-empty list of base URLs; received {mirrors!r}")
        try:
            for filename, digest in files.items():
                fetch([join_url(base, filename) for base in mirrors], target / filename, md5=digest)
        except DownloadError as err:
            msg = (download_failed or missing)()
            raise DataUnavailableError(f"{msg}\nThe download failed:\n{err}") from err
        found = find([target])
        how = "downloaded and checksum-verified, then read"
    if found is None:
        raise DataUnavailableError(missing())
    return found, how


def idx_missing_message(
    title: str,
    split: str | None,
    search: Sequence[Path],
    stems: Sequence[str],
    target: Path,
    sub: str,
    extra_fix: str,
    first_fix: bool,
) -> str:
    """The error message of a missing IDX dataset (MNIST, Fashion-MNIST): where it was looked for and how to get it."""
    places = "\n".join(f"  - {d}" for d in search)
    what = " and ".join(f"{s}[.gz]" for s in stems)
    which = f" ({split!r} split)" if split else ""
    fixes = [
        f"when online, pass download=True (fetches the four IDX files, checked by MD5, into {target})",
        f"copy the four IDX files ({{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]) into "
        f"${ENV_DATA_DIR}/{sub} "
        "or a folder you pass as data_dir=",
    ]
    fixes.insert(0 if first_fix else len(fixes), extra_fix)
    return (
        f"{title}{which} is not available: looked for {what} in\n{places}\nTo fix, either\n"
        + "\n".join(f"  - {f}" for f in fixes)
    )


def join_url(base: str, filename: str) -> str:
    """``base`` and ``filename`` joined by exactly one slash."""
    return base.rstrip("/") + "/" + filename
