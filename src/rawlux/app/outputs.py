"""Check every output of a command before any pixel work: one function for all commands.

:func:`check_outputs` checks the extension here and delegates every other rule (symbolic links,
directories, inputs, clashes, ``--out-dir`` escapes) to :func:`rawlux.io.safety.check_output_paths`,
the rules :func:`rawlux.io.write.save` applies again just before it writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

from rawlux.core.errors import InvalidParameter, OutputError
from rawlux.io.safety import check_output_paths
from rawlux.io.write import supported_extensions

PathArg = str | PathLike[str]


def check_outputs(outputs: Iterable[PathArg | None], *, inputs: Iterable[PathArg | None] = (),
                  extensions: Sequence[str] | None = None,
                  out_dir: PathArg | None = None) -> list[Path]:
    """The outputs as paths, after checking each: a known extension (``extensions``, default
    every format :func:`rawlux.io.write.save` writes), then the rules of
    :func:`~rawlux.io.safety.check_output_paths` (not a symbolic link or directory, an existing
    writable directory, none of the ``inputs``, no two outputs the same file, inside ``out_dir``
    when given). ``None`` entries (an optional output not asked for) are skipped. Raises
    :class:`OutputError` naming the output."""
    exts = sorted(e.lower() for e in (extensions if extensions is not None else supported_extensions()))
    outs = [Path(o) for o in outputs if o is not None]
    for p in outs:
        ext = p.suffix.lower()
        if ext not in exts:
            raise OutputError(f"unknown output extension {ext or '(none)'!r}; supported: "
                              f"{', '.join(exts)}", p)
    return check_output_paths(outs, list(inputs), out_dir=out_dir)


def check_extension_name(fmt: str) -> str:
    """An output format given as an extension (``jpg``, ``.tif``) -> lower case without the dot;
    refuses anything but 1-10 ASCII letters and digits (no ``/``, ``..``, spaces)."""
    ext = str(fmt).strip().lower().lstrip(".")
    if not re.fullmatch(r"[a-z0-9]{1,10}", ext):
        raise InvalidParameter(f"--format {fmt[:40]!r} is not a file extension (like jpg, tif, png)")
    return ext
