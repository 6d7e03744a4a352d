"""Data every part shares: provenance records and checksummed downloads.

* :func:`provenance` builds the dict a chapter registers with
  :meth:`reprokit.records.Reproduction.add_data` (what the numbers came from: a file, a package,
  a simulation with its parameters).
* :func:`fetch` downloads a file, verified by checksum, atomically (a half-written or corrupt file
  never counts as present).
* :class:`DataUnavailableError` is what a loader raises when a dataset is not on the machine: the
  message names the places searched and how to get the files. Nothing is silently substituted.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


def provenance(name: str, source: str, *, n_samples: int | None = None, split: str | None = None,
               note: str = "", **extra: Any) -> dict[str, Any]:
    """Where a chapter's numbers came from: ``name`` (a short id), ``source`` (a file, a package, a
    simulation), ``n_samples``, ``split``, a ``note`` for the reader, and any further key (the
    parameters of a simulated system, an integrator and its tolerances, a checksum)."""
    for key, value in (("name", name), ("source", source)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"provenance {key} must be a non-empty string; received {value!r}")
    if n_samples is not None and (isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 0):
        raise ValueError(f"n_samples must be a non-negative int or None; received {n_samples!r}")
    return dict(name=name, source=source, n_samples=n_samples, split=split, note=note, **extra)


class DataUnavailableError(FileNotFoundError, ValueError):
    """A dataset's files are not on this machine (and were not, or could not be, downloaded).

    Both a :class:`FileNotFoundError` and a :class:`ValueError`, so either ``except`` catches it.
    The message names the dataset, the paths searched and how to get the files.
    """


class ChecksumError(ValueError):
    """A downloaded file's digest differs from the published one (the file was deleted)."""


class DownloadError(OSError):
    """No URL delivered the file (network error, HTTP error or an interrupted transfer)."""


def fetch(
    url_or_urls: str | Sequence[str],
    dest: str | os.PathLike[str],
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30,
) -> Path:
    """Download a file to ``dest`` (trying the URLs in order) and return ``dest``.

    If ``dest`` exists and matches the given checksums it is kept and nothing is requested (with
    no checksum given, an existing file is trusted); an existing file that does not match is
    deleted and fetched again. Each attempt streams into a temporary file in ``dest``'s folder,
    checks the announced length and the checksums, and only then renames it to ``dest``
    (``os.replace``), so a half-written or corrupt file never counts as present: on any failure
    the temporary file is deleted. Raises :class:`ChecksumError` (naming the expected and
    received digests) if a URL delivered a file with the wrong digest and no URL delivered the
    right one, and :class:`DownloadError` if no URL delivered a file.
    """
    urls = [url_or_urls] if isinstance(url_or_urls, str) else list(url_or_urls)
    if not urls:
        raise ValueError("fetch needs at least one URL; received an empty list")
    for url in urls:
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"fetch downloads http:// or https:// URLs only; received {url!r}")
    expected = {k: v.lower() for k, v in (("md5", md5), ("sha256", sha256)) if v is not None}
    dest = Path(dest)
    if dest.is_file():
        if not expected or _digests(_file_chunks(dest), expected) == expected:
            return dest
        dest.unlink()  # present but corrupt: it must not count as present
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[tuple[str, Exception]] = []
    for url in urls:
        try:
            _fetch_one(url, dest, expected, timeout)
            return dest
        except (ChecksumError, DownloadError, OSError, http.client.HTTPException) as err:
            failures.append((url, err))
    report = "\n".join(f"  - {url}: {type(err).__name__}: {err}" for url, err in failures)
    if any(isinstance(err, ChecksumError) for _, err in failures):
        raise ChecksumError(f"no URL delivered {dest.name} with the expected checksum:\n{report}")
    raise DownloadError(f"could not download {dest.name}:\n{report}")


def _fetch_one(url: str, dest: Path, expected: dict[str, str], timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        hashers = {k: hashlib.new(k, usedforsecurity=False) for k in ("md5", "sha256")}
        request = urllib.request.Request(url, headers={"User-Agent": "pcsaddles-data/0.1"})
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as err:
                err.close()  # the error holds the open response; release its socket
                raise DownloadError(f"HTTP {err.code} {err.reason}") from None
            with response:
                announced = response.headers.get("Content-Length")
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    received += len(chunk)
                    for h in hashers.values():
                        h.update(chunk)
        if announced is not None and received != int(announced):
            raise DownloadError(f"the transfer was interrupted: received {received} of {announced} bytes")
        got = {k: hashers[k].hexdigest() for k in expected}
        if got != expected:
            detail = "; ".join(f"expected {k} {expected[k]}, received {k} {got[k]}" for k in expected)
            raise ChecksumError(f"checksum mismatch for {url}: {detail} (the file was discarded)")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def _digests(chunks: Iterator[bytes], expected: dict[str, str]) -> dict[str, str]:
    hashers = {k: hashlib.new(k, usedforsecurity=False) for k in expected}
    for chunk in chunks:
        for h in hashers.values():
            h.update(chunk)
    return {k: h.hexdigest() for k, h in hashers.items()}
