"""Stage 5: demosaic (RawImage float32 mosaic -> camera-RGB :class:`Image`).

Methods live in the :data:`DEMOSAIC` registry; each is ``fn(mosaic, pattern) -> rgb`` on a
float32 (H, W) mosaic with a 2x2 pattern of channel indices (0=R, 1=G, 2=B), returning float32
(H, W, 3) linear camera RGB. Values are never clipped (above 1 = highlights kept for later
stages; negatives = noise around black). NaN/inf in the mosaic raise :class:`ContractError`.

* ``rcd`` (default) — ratio-corrected demosaicing, numba, strip-parallel (:mod:`.rcd`);
  ``rcd_reference`` is its slow numpy twin (tested equal).
* ``bilinear`` — numba bilinear; :func:`bilinear_reference` is its numpy twin.
* ``menon2007`` — colour-demosaicing's DDFAPD (optional dependency, for comparison).

X-Trans (6x6) uses :func:`rawlux.isp.demosaic.xtrans.xtrans` whatever the method, any other
non-Bayer tile :func:`normalized_convolution`;
LINEAR raws (already demosaiced) pass straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import CFA, Image, RawImage
from rawlux.core.params import Choice, StageParams, param
from rawlux.core.registry import Registry
from rawlux.isp.demosaic.bilinear import bilinear, bilinear_reference
from rawlux.isp.demosaic.generic import normalized_convolution
from rawlux.isp.demosaic.menon import menon2007
from rawlux.isp.demosaic.rcd import rcd
from rawlux.isp.demosaic.rcd_reference import rcd_reference
from rawlux.core.pipeline import CAMERA_LINEAR, RAW_NORM, StageDef

DemosaicFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Bayer demosaic methods by name: ``fn(mosaic float32 (H, W), pattern (2, 2)) -> (H, W, 3)``.
DEMOSAIC: Registry[DemosaicFn] = Registry("demosaic method")
DEMOSAIC.register("rcd", rcd)
DEMOSAIC.register("rcd_reference", rcd_reference)
DEMOSAIC.register("bilinear", bilinear)
DEMOSAIC.register("bilinear_reference", bilinear_reference)
DEMOSAIC.register("menon2007", menon2007)

DEFAULT_METHOD = "rcd"

#: The registry's methods as an enum (the ``*_reference`` twins are for tests only).
DemosaicMethod = Choice(  # type: ignore[misc]
    "DemosaicMethod", [(n.upper(), n) for n in DEMOSAIC.names() if not n.endswith("_reference")])


@dataclass(frozen=True)
class DemosaicParams(StageParams):
    """Demosaic parameters."""

    method: DemosaicMethod = param(DemosaicMethod(DEFAULT_METHOD), doc="Bayer demosaic method")


def demosaic_mosaic(
    cfa: np.ndarray, pattern: np.ndarray, method: str = DEFAULT_METHOD
) -> np.ndarray:
    """Demosaic a bare float32 mosaic with the named method (non-Bayer tiles: normalised conv.)."""
    p = np.asarray(pattern)
    if p.shape == (6, 6):
        from rawlux.isp.demosaic.xtrans import xtrans

        return xtrans(cfa, p)
    if p.shape != (2, 2):
        return normalized_convolution(cfa, p)
    return DEMOSAIC.get(method)(cfa, p)


def demosaic(raw: RawImage, params: DemosaicParams = DemosaicParams()) -> Image:
    """Normalised RawImage -> camera-RGB linear scene-referred Image (see module docstring)."""
    if not isinstance(raw, RawImage):
        raise ContractError(f"demosaic takes a RawImage, got {type(raw).__name__}")
    if raw.data.dtype != np.float32:
        raise ContractError(
            f"demosaic needs the normalised float32 RawImage (run black_level first), got {raw.data.dtype}"
        )
    balanced = raw.wb_gains is not None
    if raw.cfa is CFA.LINEAR:
        data = raw.data
        if not np.isfinite(float(np.add.reduce(data, axis=None, dtype=np.float64))):
            raise ContractError(
                f"{raw.source or 'raw image'}: linear data contain NaN or infinite values"
            )
        return Image.from_raw(raw, data, white_balanced=balanced)
    pattern = raw.cfa_pattern if raw.cfa_pattern is not None else raw.cfa.pattern()
    rgb = demosaic_mosaic(raw.data, pattern, params.method)
    return Image.from_raw(raw, rgb, white_balanced=balanced)


#: Methods that can apply a following pointwise colour matrix while writing their output.
FUSABLE = {"rcd": rcd}


def demosaic_fused(raw: RawImage, params: DemosaicParams, tail: Callable[[Image], object]) -> Image | None:
    """Stage fusion: demosaic and apply the following pointwise stages (``tail``) in the same
    kernel (see ``StageDef.fuse_tail``). None (plain run) for LINEAR raws, non-Bayer tiles and
    methods without a fused kernel."""
    if not isinstance(raw, RawImage) or raw.data.dtype != np.float32 or raw.cfa is CFA.LINEAR:
        return None
    fn = FUSABLE.get(params.method)
    pattern = raw.cfa_pattern if raw.cfa_pattern is not None else raw.cfa.pattern()
    if fn is None or np.asarray(pattern).shape != (2, 2) or raw.data.ndim != 2:
        return None
    balanced = raw.wb_gains is not None
    # metadata now (the buffer is not touched unless it is the output), pixels below
    full = np.empty((raw.height, raw.width, 3), np.float32)
    img = Image.from_raw(raw, full, white_balanced=balanced)
    pm = tail(img)
    if pm is None:
        fn(raw.data, pattern, out=full)
        return img
    out = full
    if pm.window is not None:  # a fused crop: compute and write only the window
        out = np.empty((pm.window[2], pm.window[3], 3), np.float32)
        img = replace(img, data=out)  # the full-size buffer was never written: no pages spent
    fn(raw.data, pattern, post=pm.matrix, clamp=pm.clamp_negative, out=out, window=pm.window)
    return replace(img, **pm.changes) if pm.changes else img


STAGE = StageDef(
    "demosaic", demosaic, DemosaicParams, takes=RAW_NORM, gives=CAMERA_LINEAR, fuse_tail=demosaic_fused
)

__all__ = [
    "DEFAULT_METHOD",
    "DEMOSAIC",
    "STAGE",
    "DemosaicParams",
    "bilinear",
    "bilinear_reference",
    "demosaic",
    "demosaic_mosaic",
    "menon2007",
    "normalized_convolution",
    "rcd",
    "rcd_reference",
]
