"""Stage 6: geometry — DNG OpcodeList3 on camera RGB, then the DNG default crop.

Image (camera RGB, linear) -> Image (same space). OpcodeList3 opcodes run in file order:
WarpRectilinear (lens distortion, below), GainMap / FixVignetteRadial (via
:func:`rawlux.isp.lens_shading.apply_opcodes`); then ``img.crop`` is applied.

WarpRectilinear (DNG 1.6, DNG SDK conventions): for each output pixel ``(x, y)`` (integer pixel
coordinates) and plane ``p`` with coefficients ``kr0..kr3, kt0, kt1``: centre
``(cx*W, cy*H)``, ``m`` = distance from the centre to the farthest image corner,
``dx = (x - cx)/m``, ``dy = (y - cy)/m``, ``r^2 = dx^2 + dy^2``,
``ratio = kr0 + kr1 r^2 + kr2 r^4 + kr3 r^6``, tangential
``tx = 2 kt0 dx dy + kt1 (r^2 + 2 dx^2)``, ``ty = 2 kt1 dx dy + kt0 (r^2 + 2 dy^2)``; the
output samples the input at ``(cx + (dx*ratio + tx) m, cy + (dy*ratio + ty) m)`` (cv2.remap,
float32, replicated border). One coefficient set serves all planes; three give one per plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from rawlux.core.errors import ContractError
from rawlux.core.image import Crop, Image, WarpRectilinear
from rawlux.core.params import StageParams, param
from rawlux.isp.pipeline import CAMERA_LINEAR, StageDef

_INTERP = ("linear", "cubic")


@dataclass(frozen=True)
class GeometryParams(StageParams):
    """Geometry stage parameters."""

    apply_warp: bool = param(True, doc="apply DNG OpcodeList3 (lens distortion and gain maps)")
    apply_crop: bool = param(True, doc="apply the DNG default crop")
    interpolation: str = param("cubic", choices=_INTERP, doc="resampling kernel of the warp")


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def _warp_maps(h, w, coef, cx, cy, m, mapx, mapy):  # pragma: no cover - compiled
    kr0, kr1, kr2, kr3, kt0, kt1 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    inv = 1.0 / m
    for i in prange(h):
        dy = (i - cy) * inv
        for j in range(w):
            dx = (j - cx) * inv
            r2 = dx * dx + dy * dy
            ratio = kr0 + r2 * (kr1 + r2 * (kr2 + r2 * kr3))
            tx = 2.0 * kt0 * dx * dy + kt1 * (r2 + 2.0 * dx * dx)
            ty = 2.0 * kt1 * dx * dy + kt0 * (r2 + 2.0 * dy * dy)
            mapx[i, j] = np.float32(cx + (dx * ratio + tx) * m)
            mapy[i, j] = np.float32(cy + (dy * ratio + ty) * m)


def warp_source_coords(op: WarpRectilinear, height: int, width: int, plane: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 (H, W) source x and y coordinates the warp samples for each output pixel."""
    coef = np.asarray(op.coefficients, np.float64)
    if coef.ndim != 2 or coef.shape[1] != 6 or coef.shape[0] < 1:
        raise ContractError(f"WarpRectilinear coefficients must be (planes, 6), got {coef.shape}")
    if not np.all(np.isfinite(coef)):
        raise ContractError("WarpRectilinear coefficients are not finite")
    cx, cy = float(op.center[0]) * width, float(op.center[1]) * height
    m = float(np.sqrt(max(cx * cx, (width - cx) ** 2) + max(cy * cy, (height - cy) ** 2)))
    if not np.isfinite(m) or m <= 0:
        raise ContractError(f"WarpRectilinear centre {op.center} gives no valid radius")
    mapx = np.empty((height, width), np.float32)
    mapy = np.empty((height, width), np.float32)
    _warp_maps(height, width, np.ascontiguousarray(coef[min(plane, coef.shape[0] - 1)]), cx, cy, m, mapx, mapy)
    return mapx, mapy


def warp_rectilinear(data: np.ndarray, op: WarpRectilinear, interpolation: str = "cubic") -> np.ndarray:
    """Apply a WarpRectilinear opcode to float32 (H, W, C) data; returns a new array."""
    import cv2

    if data.ndim != 3 or data.dtype != np.float32:
        raise ContractError(f"warp needs float32 (H, W, C) data, got {data.dtype} {data.shape}")
    h, w, n = data.shape
    flag = cv2.INTER_CUBIC if interpolation == "cubic" else cv2.INTER_LINEAR
    planes = np.asarray(op.coefficients).shape[0]
    if planes == 1 or n == 1:
        mx, my = warp_source_coords(op, h, w, 0)
        out = cv2.remap(data, mx, my, flag, borderMode=cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(out.reshape(h, w, n), dtype=np.float32)
    out = np.empty_like(data)
    for p in range(n):
        mx, my = warp_source_coords(op, h, w, p)
        out[..., p] = cv2.remap(np.ascontiguousarray(data[..., p]), mx, my, flag, borderMode=cv2.BORDER_REPLICATE)
    return out


def crop_image(img: Image, crop: Crop) -> Image:
    """``img`` cut to ``crop`` (clipped to the image); raises ContractError when nothing is left."""
    t, l = max(int(crop.top), 0), max(int(crop.left), 0)
    b, r = min(int(crop.top) + int(crop.height), img.height), min(int(crop.left) + int(crop.width), img.width)
    if b <= t or r <= l:
        raise ContractError(f"default crop {crop} lies outside the {img.width}x{img.height} image")
    return img.with_data(img.data[t:b, l:r], crop=None)


def geometry(img: Image, params: GeometryParams = GeometryParams()) -> Image:
    """Apply OpcodeList3 (when ``apply_warp``) and the default crop (when ``apply_crop``)."""
    if not isinstance(img, Image):
        raise ContractError(f"geometry takes an Image, got {type(img).__name__}")
    if params.apply_warp and img.opcodes3:
        from rawlux.isp.lens_shading import apply_opcodes

        data = img.data
        for op in img.opcodes3:
            if op.preview_only:
                continue
            if isinstance(op, WarpRectilinear):
                data = warp_rectilinear(data, op, params.interpolation)
            else:
                data = apply_opcodes(data, [op], None)
        img = img.with_data(data, opcodes3=())
    if params.apply_crop and img.crop is not None:
        img = crop_image(img, img.crop)
    return img


STAGE = StageDef("geometry", geometry, GeometryParams, takes=CAMERA_LINEAR, gives=CAMERA_LINEAR)
