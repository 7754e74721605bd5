"""Stage 1: black level subtraction and normalisation.

RawImage uint16 DN -> RawImage float32 ``(x - black[site]) / (white - black[site])``: 0 = black,
1 = sensor saturation; not clipped (negative noise is kept, it matters for merging and denoise).
OpcodeList1 (which the DNG spec applies to the raw DN as read) is applied here first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import CorruptInput
from rawlux.core.image import CFA, RawImage
from rawlux.core.params import StageParams, param
from rawlux.core.fused import SiteAffine, apply_site_affine
from rawlux.core.pipeline import RAW_DN, RAW_NORM, StageDef
from rawlux.isp.lens_shading import apply_opcodes


@dataclass(frozen=True)
class BlackLevelParams(StageParams):
    """Black level stage parameters."""

    apply_opcodes1: bool = param(True, doc="apply DNG OpcodeList1 to the raw DN before normalising")


def _normalise_mosaic(data: np.ndarray, black: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(data - black) * scale`` per CFA site as float32: the one-step per-site affine kernel."""
    return apply_site_affine(data, SiteAffine.step(black, scale))


def _normalise_reference(data: np.ndarray, black: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Numpy reference of :func:`_normalise_mosaic` (tests check they agree)."""
    h, w = data.shape[:2]
    if data.ndim == 3:
        return ((data.astype(np.float32) - black) * scale).astype(np.float32)
    ph, pw = black.shape
    reps = (-(-h // ph), -(-w // pw))
    b = np.tile(black, reps)[:h, :w]
    s = np.tile(scale, reps)[:h, :w]
    return ((data.astype(np.float32) - b) * s).astype(np.float32)


def _levels(raw: RawImage) -> tuple[np.ndarray, np.ndarray]:
    """(black, scale) float32 tiles: (3,) for LINEAR raws, 2-D site tiles for mosaics."""
    black = np.asarray(raw.black, np.float32)
    white = float(raw.white)
    if not np.all(np.isfinite(black)) or not np.isfinite(white) or np.any(black >= white):
        raise CorruptInput(
            f"black level {black.ravel().tolist()} is not below white level {white}", raw.source
        )
    if raw.cfa is CFA.LINEAR:
        if black.shape != (3,):
            black = np.broadcast_to(black.ravel()[:1], (3,)).astype(np.float32)
    elif black.ndim != 2:
        black = np.full((2, 2), float(black.ravel()[0]), np.float32)
    return black, (1.0 / (white - black)).astype(np.float32)


def black_level_affine(raw: RawImage, params: BlackLevelParams = BlackLevelParams()) -> SiteAffine | None:
    """The stage as the per-site step ``(x - black) * scale`` (for stage fusion), or
    None when OpcodeList1 must run or the levels are invalid (the stage itself then raises)."""
    if params.apply_opcodes1 and raw.opcodes1:
        return None
    try:
        black, scale = _levels(raw)
    except CorruptInput:
        return None
    return SiteAffine.step(black, scale, {"black": np.zeros_like(black), "white": 1.0})


def black_level(raw: RawImage, params: BlackLevelParams = BlackLevelParams()) -> RawImage:
    """Normalise a uint16 RawImage to float32 with black 0 and saturation 1 (see module doc)."""
    black, scale = _levels(raw)
    data = raw.data
    if params.apply_opcodes1 and raw.opcodes1:
        data = apply_opcodes(data.astype(np.float32), raw.opcodes1, raw.cfa_pattern)
    if raw.cfa is CFA.LINEAR:
        out = np.empty(data.shape, np.float32)
        np.subtract(data, black, out=out, dtype=np.float32)
        np.multiply(out, scale, out=out)
    else:
        out = _normalise_mosaic(np.ascontiguousarray(data), black, scale)
    return raw.with_data(out, black=np.zeros_like(black), white=1.0)


STAGE = StageDef(
    "black_level", black_level, BlackLevelParams, takes=RAW_DN, gives=RAW_NORM, affine=black_level_affine
)
