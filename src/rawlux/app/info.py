"""``info``: what was read from a raw file (or a ``.dcp`` camera profile), as (key, value) rows."""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path

from rawlux.io.raw import EmptyRawWarning, describe, open_raw


def describe_file(path: str | PathLike[str], *, cfa: str | None = None) -> list[tuple[str, str]]:
    """Camera, CFA, levels, colour matrices, neutral, noise profile, opcodes, crop and what lens
    correction ``auto`` would do for ``path`` (``cfa``: of a bare mosaic PNG/TIFF). An empty raw
    is described, with a "warning" row. A ``.dcp`` file is described as a DNG camera profile; a
    developed photo by its size and HDR gain map, if any."""
    if Path(path).suffix.lower() == ".dcp":  # a DNG camera profile, not a raw
        from rawlux.io.dcp import describe_dcp

        return list(describe_dcp(path))
    from rawlux.io.probe import input_kind

    if input_kind(path, cfa=cfa) == "photo":
        from rawlux.io.gainmap import describe_photo  # lazy: only photos need the gain-map reader

        return list(describe_photo(path))
    with warnings.catch_warnings():  # shown as the "warning" row of the table
        warnings.simplefilter("ignore", EmptyRawWarning)
        raw = open_raw(path, **({"cfa": cfa} if cfa else {}))
    rows = list(describe(raw))
    from rawlux.isp.lensfun import describe_lens  # lazy: lensfunpy loads only here

    rows.append(("lens correction", describe_lens(raw)))
    return rows
