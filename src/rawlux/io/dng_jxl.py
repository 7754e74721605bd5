"""DNG 1.7 JPEG XL raws (Compression 52546, tiled): read and write with tifffile + imagecodecs.

Samsung Expert RAW and other DNG 1.7 writers store the raw image as JPEG XL tiles. LibRaw (and
so rawpy) cannot decode them, so :func:`rawlux.io.raw.open_raw` sends a raw IFD whose
compression :func:`is_jxl` to its tifffile decoder (every tile through
``imagecodecs.jpegxl_decode``; size checked against the header before decoding).

:func:`write_jxl_dng` writes a CFA (H, W) or LinearRaw (H, W, 3) uint16 image as a tiled JXL
DNG with the colour/level tags a reader needs (lossless by default: ``distance=0``); it makes
the test files and lets users shrink DNGs. Tags JXLDistance (52553), JXLEffort (52554) and
JXLDecodeSpeed (52555) are written as DNG 1.7 asks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rawlux.core.errors import InvalidParameter

COMPRESSION_JXL = 52546
TAG_JXL_DISTANCE = 52553
TAG_JXL_EFFORT = 52554
TAG_JXL_DECODE_SPEED = 52555


def is_jxl(compression: int) -> bool:
    """True for the DNG 1.7 JPEG XL compression code (and the older draft code 50002)."""
    return int(compression) in (COMPRESSION_JXL, 50002)


def _rational(values: Sequence[float], signed: bool = True) -> list[int]:
    from fractions import Fraction

    out: list[int] = []
    for v in values:
        f = Fraction(float(v)).limit_denominator(1_000_000)
        out += [f.numerator, f.denominator]
    return out


def write_jxl_dng(
    path: str | os.PathLike[str],
    data: np.ndarray,
    *,
    cfa: str | np.ndarray = "RGGB",
    black: float = 0.0,
    white: float = 65535.0,
    color_matrix: np.ndarray | None = None,
    as_shot_neutral: Sequence[float] = (0.5, 1.0, 0.6),
    illuminant: int = 21,
    tile: int = 256,
    distance: float = 0.0,
    effort: int = 3,
    bits: int = 16,
    extratags: Sequence[tuple[int, int, int, Any]] = (),
    compress: bool = True,
) -> Path:
    """Write ``data`` (uint16 CFA (H, W) or LinearRaw (H, W, 3)) as a DNG 1.7 with JPEG XL tiles
    of ``tile`` px (``distance`` 0 = lossless); ``compress=False`` writes the same tiles
    uncompressed (a reference file), or strips with ``tile=0``. ``extratags``: more (code, type, count, value) tags."""
    import tifffile

    a = np.asarray(data)
    if a.dtype != np.uint16 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise InvalidParameter(f"write_jxl_dng needs uint16 (H, W) or (H, W, 3), got {a.dtype} {a.shape}")
    if tile and (tile % 16 or tile < 16):
        raise InvalidParameter(f"tile must be a multiple of 16 px (or 0: strips), got {tile}")
    if not tile and compress:
        raise InvalidParameter("JPEG XL DNGs are tiled: tile=0 (strips) needs compress=False")
    linear = a.ndim == 3
    cm = np.eye(3) if color_matrix is None else np.asarray(color_matrix, np.float64)
    tags: list[tuple[int, int, int, Any, bool]] = [
        (50706, 1, 4, (1, 7, 0, 0), True),  # DNGVersion 1.7
        (50707, 1, 4, (1, 7, 0, 0) if compress else (1, 4, 0, 0), True),  # DNGBackwardVersion
        (50708, 2, 0, "rawlux JXL test camera", True),  # UniqueCameraModel
        (50714, 5, 1, tuple(_rational([black])), True),  # BlackLevel
        (50717, 4, 1, int(white), True),  # WhiteLevel
        (50721, 10, 9, tuple(_rational(cm.ravel())), True),  # ColorMatrix1
        (50778, 3, 1, int(illuminant), True),  # CalibrationIlluminant1
        (50728, 5, 3, tuple(_rational(as_shot_neutral)), True),  # AsShotNeutral
    ]
    if not linear:
        pat = {"RGGB": (0, 1, 1, 2), "BGGR": (2, 1, 1, 0), "GRBG": (1, 0, 2, 1), "GBRG": (1, 2, 0, 1)}
        if not isinstance(cfa, str):  # a 6x6 (X-Trans) or 2x2 tile of channel indices
            ct = np.asarray(cfa, np.int64)
            if ct.shape not in ((2, 2), (6, 6)) or not set(np.unique(ct).tolist()) <= {0, 1, 2}:
                raise InvalidParameter(f"cfa tile must be 2x2 or 6x6 of 0..2, got {ct.tolist()}")
            dims, values = ct.shape, tuple(int(v) for v in ct.ravel())
        elif cfa in pat:
            dims, values = (2, 2), pat[cfa]
        else:
            raise InvalidParameter(f"cfa must be one of {', '.join(pat)} or a tile, got {cfa!r}")
        tags += [(33421, 3, 2, dims, True), (33422, 1, len(values), values, True),
                 (50710, 1, 3, (0, 1, 2), True), (50711, 3, 1, 1, True)]
    if compress:
        tags += [(TAG_JXL_DISTANCE, 11, 1, float(distance), True),
                 (TAG_JXL_EFFORT, 4, 1, int(effort), True),
                 (TAG_JXL_DECODE_SPEED, 4, 1, 4, True)]
    tags += [(c, t, n, v, True) for c, t, n, v in extratags]
    kw: dict[str, Any] = {}
    if compress:
        kw["compression"] = COMPRESSION_JXL
        kw["compressionargs"] = ({"lossless": True, "effort": int(effort)} if distance == 0
                                 else {"distance": float(distance), "effort": int(effort)})
    p = Path(path)
    tifffile.imwrite(
        p, a, photometric=34892 if linear else 32803, tile=(tile, tile) if tile else None,
        subfiletype=0,
        bitspersample=bits, planarconfig="contig", extratags=tags, metadata=None, **kw,
    )
    return p
