"""reprokit: what every part of the reproduction book shares.

* :mod:`~reprokit.records`: reproduction records (each chapter's checked claims);
* :mod:`~reprokit.profiles`: the ``quick`` and ``paper`` run profiles;
* :mod:`~reprokit.runcache`: finished runs on disk, keyed by configuration and code, with
  checkpoints so an interrupted long run resumes mid-run;
* :mod:`~reprokit.data`: provenance records and checksummed downloads;
* :mod:`~reprokit.checks`: input checks with messages that name the expected and received values;
* :mod:`~reprokit.hessian`: dense Hessians, Hessian-vector products and Lanczos for functions of a
  list of weight matrices;
* :mod:`~reprokit.plotting`: the book's palette and matplotlib style.

It names no paper: each part's package (``pcsaddles``, ``overparam``, ``plrnn``) builds on it.
The build's own machinery (the table of contents, the chapter cache, the status page) is the
package :mod:`bookbuild`, which no chapter imports.
"""

from . import checks, data, hessian, plotting, profiles, records, runcache

__all__ = ["checks", "data", "hessian", "plotting", "profiles", "records", "runcache"]
__version__ = "0.1.0"
