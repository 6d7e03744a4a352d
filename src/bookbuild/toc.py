"""The book's table of contents (``_toc.yml``, Jupyter Book 1.x with parts) and chapter ids.

One walker for the build, the tests and the benchmarks. A chapter's **id** is its path under
``book/`` without the extension (``pc-saddles/figure-5-escape-nonlinear``); the first component
is its part's folder. Records, stored results, run-time tables and ``--only`` use ids.

    toc = read(root)                  # Toc: root page, parts (caption, folder, entries)
    toc.entries                       # every page in reading order (root first)
    toc.chapters                      # the notebooks only
    select(toc.chapters, ["overparameterized", "pc-saddles/theorem-1-equilibrated-energy"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BOOK = "book"


@dataclass(frozen=True)
class Entry:
    """One page: ``id`` (path under ``book/`` without extension), ``path`` (the file), ``part``
    (its part's caption, None for pages outside parts) and ``kind`` (``"notebook"`` or ``"markdown"``)."""

    id: str
    path: Path
    part: str | None
    kind: str

    @property
    def folder(self) -> str | None:
        """The part folder: the first component of a chapter id (``pc-saddles``), None at top level."""
        return self.id.split("/", 1)[0] if "/" in self.id else None

    @property
    def stem(self) -> str:
        return self.id.rsplit("/", 1)[-1]


@dataclass
class Part:
    caption: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def folder(self) -> str | None:
        """The folder shared by the part's pages (None if they do not share one)."""
        folders = {e.folder for e in self.entries}
        return folders.pop() if len(folders) == 1 else None

    @property
    def chapters(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "notebook"]


@dataclass
class Toc:
    root: Entry
    parts: list[Part]
    loose: list[Entry]  # pages listed under top-level ``chapters:`` (a toc without parts)

    @property
    def entries(self) -> list[Entry]:
        return [self.root, *self.loose, *(e for p in self.parts for e in p.entries)]

    @property
    def chapters(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "notebook"]

    def part_of(self, chapter_id: str) -> Part | None:
        return next((p for p in self.parts if any(e.id == chapter_id for e in p.entries)), None)


def _resolve(root: Path, file: str) -> tuple[Path, str]:
    for suffix, kind in ((".ipynb", "notebook"), (".md", "markdown")):
        path = root / f"{file}{suffix}"
        if path.exists():
            return path, kind
    raise FileNotFoundError(f"_toc.yml lists {file!r} but neither {file}.ipynb nor {file}.md exists under {root}")


def _entry(root: Path, file: str, part: str | None) -> Entry:
    path, kind = _resolve(root, file)
    prefix = f"{BOOK}/"
    if not file.startswith(prefix):
        raise ValueError(f"_toc.yml entry {file!r} is outside {BOOK}/: every page lives under {BOOK}/")
    return Entry(id=file[len(prefix):], path=path, part=part, kind=kind)


def read(root: str | Path, toc_file: str = "_toc.yml") -> Toc:
    """Parse ``root/_toc.yml`` (``format: jb-book``; ``parts:`` with ``caption`` and ``chapters``,
    nested ``sections`` allowed) into a :class:`Toc`. Every listed file must exist."""
    import yaml

    root = Path(root)
    data = yaml.safe_load((root / toc_file).read_text())
    if not isinstance(data, dict) or "root" not in data:
        raise ValueError(f"{root / toc_file} must be a jb-book table of contents with a 'root' entry")

    def walk(items, part: str | None, out: list[Entry]) -> list[Entry]:
        for item in items or []:
            if "file" in item:
                out.append(_entry(root, item["file"], part))
            walk(item.get("sections"), part, out)
            walk(item.get("chapters"), part, out)
        return out

    parts = []
    for i, part in enumerate(data.get("parts") or []):
        caption = part.get("caption")
        if not caption:
            raise ValueError(f"part {i + 1} of {toc_file} has no caption")
        parts.append(Part(caption, walk(part.get("chapters"), caption, [])))
    toc = Toc(root=_entry(root, data["root"], None), parts=parts, loose=walk(data.get("chapters"), None, []))
    ids = [e.id for e in toc.entries]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{toc_file} lists these pages more than once: {dupes}")
    return toc


def select(chapters: list[Entry], only: list[str] | None) -> list[Entry]:
    """The chapters named by ``only``: chapter ids, part folders (every chapter of that part) or,
    when unambiguous, bare notebook stems. None selects every chapter. Unknown or ambiguous names
    raise ValueError listing what exists."""
    if not only:
        return list(chapters)
    wanted: set[str] = set()
    folders = {c.folder for c in chapters if c.folder}
    for name in only:
        name = name.strip().removeprefix(f"{BOOK}/").removesuffix(".ipynb").rstrip("/")
        if any(c.id == name for c in chapters):
            wanted.add(name)
        elif name in folders:
            wanted |= {c.id for c in chapters if c.folder == name}
        else:
            hits = [c.id for c in chapters if c.stem == name]
            if len(hits) == 1:
                wanted.add(hits[0])
            elif hits:
                raise ValueError(f"--only {name!r} is ambiguous: it names {hits}; give the chapter id")
            else:
                raise ValueError(f"--only: no chapter or part named {name!r}; parts are {sorted(folders)}, "
                                 f"chapters are {[c.id for c in chapters]}")
    return [c for c in chapters if c.id in wanted]
