"""The DNG WarpRectilinear opcode (lens distortion) on float32 (H, W, C) data.

WarpRectilinear (DNG 1.6, DNG SDK conventions): for each output pixel ``(x, y)`` (integer pixel
coordinates) and plane ``p`` with coefficients ``kr0..kr3, kt0, kt1``: centre
``(cx*W, cy*H)``, ``m`` = distance from the centre to the farthest image corner,
``dx = (x - cx)/m``, ``dy = (y - cy)/m``, ``r^2 = dx^2 + dy^2``,
``ratio = kr0 + kr1 r^2 + kr2 r^4 + kr3 r^6``, tangential
``tx = 2 kt0 dx dy + kt1 (r^2 + 2 dx^2)``, ``ty = 2 kt1 dx dy + kt0 (r^2 + 2 dy^2)``; the
output samples the input at ``(cx + (dx*ratio + tx) m, cy + (dy*ratio + ty) m)`` (cv2.remap,
float32, replicated border). One coefficient set serves all planes; three give one per plane.

OpenCV's ``remap`` refuses images with a side of ``SHRT_MAX`` (32767) px or more; larger
images are remapped in output tiles (:func:`remap`), each reading only the source rectangle its
coordinates reach, which gives the same pixels as one call (to float rounding: OpenCV's SIMD
and scalar loops differ in the last bit).
"""

from __future__ import annotations

import cv2
import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import Crop, WarpRectilinear
from rawlux.core.jit import njit, run_bands


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(i8, i8, f8[::1], f8, f8, f8, f4[:, ::1], f4[:, ::1], i8, i8)")
def _warp_maps(r0, c0, coef, cx, cy, m, mapx, mapy, i0, i1):  # pragma: no cover - compiled
    """Source coordinates for output pixels (r0 + i, c0 + j), i in [i0, i1), of the full-size warp."""
    w = mapx.shape[1]
    kr0, kr1, kr2, kr3, kt0, kt1 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    inv = 1.0 / m
    for i in range(i0, i1):
        dy = (r0 + i - cy) * inv
        for j in range(w):
            dx = (c0 + j - cx) * inv
            r2 = dx * dx + dy * dy
            ratio = kr0 + r2 * (kr1 + r2 * (kr2 + r2 * kr3))
            tx = 2.0 * kt0 * dx * dy + kt1 * (r2 + 2.0 * dx * dx)
            ty = 2.0 * kt1 * dx * dy + kt0 * (r2 + 2.0 * dy * dy)
            mapx[i, j] = np.float32(cx + (dx * ratio + tx) * m)
            mapy[i, j] = np.float32(cy + (dy * ratio + ty) * m)


def _window(height: int, width: int, window: Crop | None) -> tuple[int, int, int, int]:
    if window is None:
        return 0, 0, height, width
    t, l = max(int(window.top), 0), max(int(window.left), 0)
    b = min(int(window.top) + int(window.height), height)
    r = min(int(window.left) + int(window.width), width)
    if b <= t or r <= l:
        raise ContractError(f"default crop {window} lies outside the {width}x{height} image")
    return t, l, b - t, r - l


def warp_source_coords(
    op: WarpRectilinear, height: int, width: int, plane: int = 0, window: Crop | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """float32 source x and y coordinates the warp samples for each output pixel.

    The warp geometry is that of the full (height, width) image; ``window`` restricts the
    output to a sub-rectangle (e.g. the default crop), giving arrays of the window's shape.
    """
    coef = np.asarray(op.coefficients, np.float64)
    if coef.ndim != 2 or coef.shape[1] != 6 or coef.shape[0] < 1:
        raise ContractError(f"WarpRectilinear coefficients must be (planes, 6), got {coef.shape}")
    if not np.all(np.isfinite(coef)):
        raise ContractError("WarpRectilinear coefficients are not finite")
    cx, cy = float(op.center[0]) * width, float(op.center[1]) * height
    m = float(np.sqrt(max(cx * cx, (width - cx) ** 2) + max(cy * cy, (height - cy) ** 2)))
    if not np.isfinite(m) or m <= 0:
        raise ContractError(f"WarpRectilinear centre {op.center} gives no valid radius")
    t, l, oh, ow = _window(height, width, window)
    mapx = np.empty((oh, ow), np.float32)
    mapy = np.empty((oh, ow), np.float32)
    row = np.ascontiguousarray(coef[min(plane, coef.shape[0] - 1)])
    run_bands(_warp_maps, oh, int(t), int(l), row, cx, cy, m, mapx, mapy)
    return mapx, mapy


#: Largest side (px) of a source or output image handed to one ``cv2.remap`` call (< SHRT_MAX).
REMAP_MAX_SIDE = 32766
_REMAP_TILE = 4096  # output tile side when tiling
_TAPS = 3  # source margin (px) around a tile's coordinates: covers the 4x4 cubic kernel


def remap(
    src: np.ndarray, mapx: np.ndarray, mapy: np.ndarray, flag: int, border: int
) -> np.ndarray:
    """``cv2.remap`` for float32 (H, W[, C]) ``src`` and float32 maps of any size.

    Within OpenCV's size limit this is one call; beyond it the output is produced in tiles of
    at most :data:`REMAP_MAX_SIDE` px whose source is cut to the rectangle their (clamped)
    coordinates reach plus the kernel margin, split further when that rectangle is itself too
    large. Coordinates are clamped to 4 px outside the image first: with a replicated border
    that does not change any output value, and it bounds every source rectangle.
    """
    lim = REMAP_MAX_SIDE
    h, w = src.shape[:2]
    if max(h, w) <= lim and max(mapx.shape) <= lim:
        return cv2.remap(src, mapx, mapy, flag, borderMode=border)
    out = np.empty((*mapx.shape, *src.shape[2:]), src.dtype)
    step = min(_REMAP_TILE, lim)
    todo = [(r, c, min(step, mapx.shape[0] - r), min(step, mapx.shape[1] - c))
            for r in range(0, mapx.shape[0], step) for c in range(0, mapx.shape[1], step)]  # fmt: skip
    while todo:
        r, c, th, tw = todo.pop()
        bx = np.clip(np.nan_to_num(mapx[r : r + th, c : c + tw], nan=-4.0), -4.0, w + 3.0)
        by = np.clip(np.nan_to_num(mapy[r : r + th, c : c + tw], nan=-4.0), -4.0, h + 3.0)
        # never empty (OpenCV crashes on an empty source): at least the nearest edge row/column
        x0 = min(max(int(np.floor(bx.min())) - _TAPS, 0), w - 1)
        x1 = max(min(int(np.floor(bx.max())) + _TAPS + 1, w), x0 + 1)
        y0 = min(max(int(np.floor(by.min())) - _TAPS, 0), h - 1)
        y1 = max(min(int(np.floor(by.max())) + _TAPS + 1, h), y0 + 1)
        if (x1 - x0 > lim or y1 - y0 > lim) and (th > 1 or tw > 1):
            if th >= tw:  # split the tile along its longer side and try again
                todo += [(r, c, th // 2, tw), (r + th // 2, c, th - th // 2, tw)]
            else:
                todo += [(r, c, th, tw // 2), (r, c + tw // 2, th, tw - tw // 2)]
            continue
        sub = np.ascontiguousarray(src[y0:y1, x0:x1])
        res = cv2.remap(sub, bx - np.float32(x0), by - np.float32(y0), flag, borderMode=border)
        out[r : r + th, c : c + tw] = res.reshape(out[r : r + th, c : c + tw].shape)
    return out


def warp_rectilinear(
    data: np.ndarray,
    op: WarpRectilinear,
    interpolation: str = "cubic",
    window: Crop | None = None,
) -> np.ndarray:
    """Apply a WarpRectilinear opcode to float32 (H, W, C) data; returns a new array.

    With ``window`` only that part of the corrected image is produced (warp then crop in one
    step, without computing or copying the discarded border).
    """
    if data.ndim != 3 or data.dtype != np.float32:
        raise ContractError(f"warp needs float32 (H, W, C) data, got {data.dtype} {data.shape}")
    h, w, n = data.shape
    flag = cv2.INTER_CUBIC if interpolation == "cubic" else cv2.INTER_LINEAR
    planes = np.asarray(op.coefficients).shape[0]
    border = cv2.BORDER_REPLICATE
    if planes == 1 or n == 1:
        mx, my = warp_source_coords(op, h, w, 0, window)
        out = remap(data, mx, my, flag, border)
        return np.ascontiguousarray(out.reshape(*mx.shape, n), dtype=np.float32)
    out = None
    for p in range(n):
        mx, my = warp_source_coords(op, h, w, p, window)
        if out is None:
            out = np.empty((*mx.shape, n), np.float32)
        src = np.ascontiguousarray(data[..., p])
        out[..., p] = remap(src, mx, my, flag, border)
    return out
