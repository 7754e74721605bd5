"""Check every output of a command before any pixel work: one function for all commands."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

from rawlux.core.errors import InvalidParameter, OutputError
from rawlux.io.write import supported_extensions

PathArg = str | PathLike[str]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_outputs(outputs: Iterable[PathArg | None], *, inputs: Iterable[PathArg] = (),
                  extensions: Sequence[str] | None = None) -> list[Path]:
    """The outputs as paths, after checking each: a known extension (``extensions``, default
    every format :func:`rawlux.io.write.save` writes), not a directory, an existing writable
    directory, none of the ``inputs``, no two outputs the same file. ``None`` entries (an
    optional output not asked for) are skipped. Raises :class:`OutputError` naming the output."""
    exts = sorted(e.lower() for e in (extensions if extensions is not None else supported_extensions()))
    ins = [Path(i) for i in inputs]
    seen: list[Path] = []
    for o in outputs:
        if o is None:
            continue
        p = Path(o)
        ext = p.suffix.lower()
        if ext not in exts:
            raise OutputError(f"unknown output extension {ext or '(none)'!r}; supported: "
                              f"{', '.join(exts)}", p)
        if p.is_dir():
            raise OutputError("output path is a directory", p)
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError("output directory does not exist", p)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError("output directory is not writable", p)
        for i in ins:
            if _same(p, i):
                raise OutputError(f"refusing to overwrite an input file ({i})", p)
        for q in seen:
            if _same(p, q):
                raise InvalidParameter(f"two outputs write the same file {p}")
        seen.append(p)
    return seen
