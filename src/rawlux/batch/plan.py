"""Turn INPUTS (files, folders, globs) into planned outputs: discovery, output names, bursts.

No pixels here: files are classified by their first bytes (through :mod:`rawlux.batch.jobs`)
and bursts are grouped from EXIF capture times or file-name sequence numbers.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from rawlux.core.errors import InvalidParameter, MissingInput

__all__ = ["Source", "Planned", "discover", "plan_outputs", "group_bursts", "input_signature"]

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Source:
    """An input file and the folder its output path is relative to."""

    path: Path
    base: Path
    explicit: bool  # named on the command line (kept even if not recognised as an image)


@dataclass(frozen=True)
class Planned:
    """One output to make: ``key`` (path relative to OUT), its inputs, burst or single."""

    key: str
    kind: str  # "develop" | "burst"
    inputs: tuple[Path, ...]


def _inside(p: Path, folder: Path | None) -> bool:
    return folder is not None and (p == folder or folder in p.parents)


def discover(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False,
             exclude: Path | None = None,
             kind_of: Callable[[Path], str | None] | None = None) -> list[Source]:
    """Every input file, in a stable order (sorted per argument, arguments in order).

    Folders give their image files (``recursive``: also sub-folders; hidden files and folders and
    ``exclude``, the output folder, are skipped); files named explicitly are always kept (a bad
    one then fails as a job and is recorded); globs expand like the shell (``**`` with
    ``recursive``). ``kind_of`` tells images from other files (None = not an image).
    """
    kind_of = kind_of or (lambda p: "raw")
    exclude = exclude.resolve() if exclude is not None else None
    out: list[Source] = []
    seen: set[Path] = set()

    def add(p: Path, base: Path, explicit: bool) -> None:
        p = p.resolve()
        if p in seen or (not explicit and _inside(p, exclude)):
            return
        if not explicit and kind_of(p) is None:
            return
        seen.add(p)
        out.append(Source(p, base.resolve(), explicit))

    for arg in inputs:
        a = Path(arg)
        if a.is_dir():
            if exclude is not None and a.resolve() == exclude:
                raise InvalidParameter(f"{a}: the output folder is this input folder; its outputs "
                                       "would be read as inputs by the next run (use a sub-folder)")
            if recursive:
                for root, dirs, files in os.walk(a):
                    rp = Path(root)
                    dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                     and not _inside((rp / d).resolve(), exclude))
                    for f in sorted(files):
                        if not f.startswith("."):
                            add(rp / f, a, False)
            else:
                for f in sorted(a.iterdir()):
                    if f.is_file() and not f.name.startswith("."):
                        add(f, a, False)
        elif a.is_file():
            add(a, a.parent, True)
        elif _GLOB.search(str(a)):
            hits = sorted(glob.glob(str(a), recursive=recursive))
            if not hits:
                raise MissingInput("no file matches this pattern", a)
            for h in hits:
                hp = Path(h)
                if hp.is_file() and not hp.name.startswith("."):
                    add(hp, hp.parent, False)
        else:
            raise MissingInput("no such file or folder", a)
    return out


def _rel(src: Source) -> Path:
    try:
        return src.path.relative_to(src.base)
    except ValueError:
        return Path(src.path.name)


def plan_outputs(groups: Iterable[Sequence[Source]], ext: str) -> list[Planned]:
    """Output keys mirroring the input tree (``a/b/IMG_1.dng`` -> ``a/b/IMG_1.jpg``).

    A burst is named after its first frame plus ``_night``. When two inputs would give the same
    name (``IMG_1.dng`` and ``IMG_1.nef``), both keep their extension (``IMG_1.dng.jpg``).
    """
    items = []
    for g in groups:
        g = list(g)
        rel = _rel(g[0])
        kind = "burst" if len(g) > 1 else "develop"
        stem = rel.stem + ("_night" if kind == "burst" else "")
        items.append((rel, stem, kind, tuple(s.path for s in g)))
    counts: dict[str, int] = {}
    for rel, stem, _, _ in items:
        k = str(rel.parent / (stem + ext))
        counts[k] = counts.get(k, 0) + 1
    out = []
    for rel, stem, kind, paths in items:
        k = str(rel.parent / (stem + ext))
        if counts[k] > 1:
            k = str(rel.parent / (stem + rel.suffix + ext))
        out.append(Planned(Path(k).as_posix(), kind, paths))
    return out


_SEQ = re.compile(r"^(.*?)(\d+)$")


def _seq(p: Path) -> tuple[str, int] | None:
    m = _SEQ.match(p.stem)
    return (m.group(1), int(m.group(2))) if m else None


def group_bursts(sources: Sequence[Source], gap: float = 2.0,
                 info: Callable[[Path], tuple[float | None, str]] | None = None,
                 kind_of: Callable[[Path], str | None] | None = None) -> list[list[Source]]:
    """Group raws into bursts; photos and lone raws stay single.

    Within one folder, raws sorted by (capture time, name) join the previous frame's burst when
    the camera is the same and: both have a capture time no more than ``gap`` seconds apart; or,
    without times, their names carry consecutive sequence numbers with the same prefix
    (``frame_07``, ``frame_08``). ``info(path) -> (POSIX time or None, camera)``.
    """
    info = info or (lambda p: (None, ""))
    kind_of = kind_of or (lambda p: "raw")
    by_folder: dict[Path, list[Source]] = {}
    singles: list[list[Source]] = []
    for s in sources:
        if kind_of(s.path) == "raw":
            by_folder.setdefault(s.path.parent, []).append(s)
        else:
            singles.append([s])
    groups: list[list[Source]] = []
    for folder in by_folder:
        frames = [(info(s.path), s) for s in by_folder[folder]]
        frames.sort(key=lambda f: (f[0][0] is None, f[0][0] or 0.0, f[1].path.name))
        current: list[Source] = []
        prev = None
        for (when, cam), s in frames:
            joins = False
            if prev is not None:
                (pw, pcam), ps = prev
                if cam == pcam:
                    if when is not None and pw is not None:
                        joins = abs(when - pw) <= gap
                    elif when is None and pw is None:
                        a, b = _seq(ps.path), _seq(s.path)
                        joins = a is not None and b is not None and a[0] == b[0] and b[1] == a[1] + 1
            if not joins and current:
                groups.append(current)
                current = []
            current.append(s)
            prev = ((when, cam), s)
        if current:
            groups.append(current)
    order = {s.path: i for i, s in enumerate(sources)}
    return sorted(groups + singles, key=lambda g: order[g[0].path])


def input_signature(paths: Sequence[Path], content_hash: bool = False) -> str:
    """JSON identity of the inputs: per file [size, mtime_ns] or, with ``content_hash``,
    [size, sha256] (a touched but unchanged file is then not redone)."""
    sig = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            sig.append([str(p), None])
            continue
        if content_hash:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            sig.append([str(p), st.st_size, h.hexdigest()])
        else:
            sig.append([str(p), st.st_size, st.st_mtime_ns])
    return json.dumps(sig, separators=(",", ":"))


def check_gap(gap: float) -> float:
    if not 0 < gap <= 3600:
        raise InvalidParameter(f"burst gap must be in (0, 3600] s, got {gap}")
    return float(gap)
