"""``info``: what was read from a raw file, as (key, value) rows."""

from __future__ import annotations

import warnings
from os import PathLike

from rawlux.io.raw import EmptyRawWarning, describe, open_raw


def describe_file(path: str | PathLike[str], *, cfa: str | None = None) -> list[tuple[str, str]]:
    """Camera, CFA, levels, colour matrices, neutral, noise profile, opcodes, crop of ``path``
    (``cfa``: of a bare mosaic PNG/TIFF). An empty raw is described, with a "warning" row. A
    developed photo is described by its size and HDR gain map, if any."""
    from rawlux.io.probe import input_kind

    if input_kind(path, cfa=cfa) == "photo":
        from rawlux.io.gainmap import describe_photo  # lazy: only photos need the gain-map reader

        return list(describe_photo(path))
    with warnings.catch_warnings():  # shown as the "warning" row of the table
        warnings.simplefilter("ignore", EmptyRawWarning)
        raw = open_raw(path, **({"cfa": cfa} if cfa else {}))
    return list(describe(raw))
