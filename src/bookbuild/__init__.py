"""bookbuild: the machinery that builds the book (not imported by any chapter).

* :mod:`~bookbuild.toc`: the one walker of ``_toc.yml`` (parts, chapter ids, ``--only`` selection),
  used by the build, the tests and the benchmarks;
* :mod:`~bookbuild.chaptercache`: content-addressed keys of chapter executions and the cache of
  executed chapters;
* :mod:`~bookbuild.status`: the Reproduction status page.

Kept apart from :mod:`reprokit` on purpose: chapters import ``reprokit``, so every edit to it
re-executes every chapter; editing the build's own code re-executes none.
"""

from . import chaptercache, status, toc

__all__ = ["chaptercache", "status", "toc"]
