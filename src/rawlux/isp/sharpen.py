"""Stage 8: capture sharpening of the luminance (scene-referred linear Rec.2020 -> same).

Restores the softness of demosaicing and the lens (about a pixel of blur) the way an unsharp
mask with halo control does, on a perceptual luminance so dark and bright edges get the same
treatment:

1. ``u = sqrt(Y)`` with ``Y`` the Rec.2020 luminance (``sqrt`` ~ a display gamma, and it evens
   out photon noise);
2. detail ``d = u - binomial3x3(u)``; small details (below ``threshold``, noise) are not
   amplified (garrote), the rest is added back ``gain = 2 * amount`` times;
3. halo control: the result is clamped to the 3x3 neighbourhood's ``[min, max]`` widened by
   ``overshoot`` times its range, so an edge never rings beyond that bound;
4. ``Y' = u'^2``; every channel is scaled by ``Y'/Y`` (hue and saturation kept).

Output is >= 0 (NaN -> 0), float32, same space/encoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.core.jit import njit, run_bands
from rawlux.core.params import StageParams, param
from rawlux.core.pipeline import Contract, StageDef

SCENE_REC2020 = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE)
#: Rec.2020 luminance weights.
LUMA = (0.2627, 0.6780, 0.0593)


@dataclass(frozen=True)
class SharpenParams(StageParams):
    """Capture sharpening (amount 0 = off)."""

    amount: float = param(0.5, lo=0.0, hi=1.0, doc="sharpening strength; the fine-detail gain is 2 x amount")
    overshoot: float = param(0.15, lo=0.0, hi=1.0, unit="x local range",
                             doc="how far an edge may overshoot its 3x3 neighbourhood (halo bound)")
    threshold: float = param(0.004, lo=0.0, hi=0.1, unit="sqrt(Y)",
                             doc="detail below this is treated as noise and not amplified")


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", aot="void(f4[:, ::1], f4[::1], f4[:, ::1], i8, i8)")
def _sqrt_luma(src, wts, u, r0, r1):  # pragma: no cover - compiled
    """u = sqrt(max(Y, 0)) for rows r0 .. r1 (``src`` is the image as (H, 3 W) rows)."""
    w = u.shape[1]
    a, b, c = wts[0], wts[1], wts[2]
    z = np.float32(0.0)
    for i in range(r0, r1):
        srow = src[i]
        urow = u[i]
        for j in range(w):
            y = a * srow[3 * j] + b * srow[3 * j + 1] + c * srow[3 * j + 2]
            urow[j] = np.sqrt(max(y, z))


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(f4[:, ::1], f4[:, ::1], f4, f4, f4, f4[:, ::1], i8, i8)")
def _sharpen_rows(src, u, gain, overshoot, thr, out, r0, r1):  # pragma: no cover - compiled
    """Rows r0 .. r1 of the sharpened image: per row, the luminance gain ``Y'/Y`` of every pixel
    (a branch-free loop over contiguous rows of ``u``, which vectorises), then RGB x gain."""
    h, w = u.shape[0], u.shape[1]
    t2 = thr * thr + np.float32(1e-30)
    z = np.float32(0.0)
    k = np.empty(w, np.float32)
    pad = np.empty((3, w + 2), np.float32)  # rows i-1, i, i+1 with replicated edge columns
    for i in range(r0, r1):
        for a in range(3):
            urow = u[min(max(i - 1 + a, 0), h - 1)]
            dst = pad[a]
            for j in range(w):
                dst[j + 1] = urow[j]
            dst[0] = urow[0]
            dst[w + 1] = urow[w - 1]
        top = pad[0]
        mid = pad[1]
        bot = pad[2]
        for j in range(w):
            nw = top[j]
            n = top[j + 1]
            ne = top[j + 2]
            ww = mid[j]
            c = mid[j + 1]
            e = mid[j + 2]
            sw = bot[j]
            s = bot[j + 1]
            se = bot[j + 2]
            blur = (np.float32(4.0) * c + np.float32(2.0) * (n + s + e + ww) + nw + ne + sw + se) \
                * np.float32(1.0 / 16.0)
            mn = min(min(min(c, n), min(s, e)), min(min(ww, nw), min(ne, min(sw, se))))
            mx = max(max(max(c, n), max(s, e)), max(max(ww, nw), max(ne, max(sw, se))))
            d = c - blur
            d2 = d * d
            v = c + gain * d * d2 / (d2 + t2)
            o = overshoot * (mx - mn)
            v = max(min(max(v, mn - o), mx + o), z)
            k[j] = v * v / (c * c + np.float32(1e-20))  # Y'/Y (black stays black)
        srow = src[i]
        orow = out[i]
        for j in range(w):
            kj = k[j]
            orow[3 * j] = max(srow[3 * j] * kj, z)
            orow[3 * j + 1] = max(srow[3 * j + 1] * kj, z)
            orow[3 * j + 2] = max(srow[3 * j + 2] * kj, z)


def sharpen_data(data: np.ndarray, params: SharpenParams = SharpenParams(), out: np.ndarray | None = None) -> np.ndarray:
    """Sharpen float32 (H, W, 3) linear Rec.2020 data (see module docstring) into a new array,
    or into ``out`` (may be ``data`` itself: each output pixel reads only its own input pixel
    and the separate luminance buffer)."""
    src = np.ascontiguousarray(data, np.float32)
    if src.ndim != 3 or src.shape[2] != 3:
        raise ContractError(f"sharpen needs (H, W, 3) data, got shape {src.shape}")
    h, w = src.shape[:2]
    rows = src.reshape(h, 3 * w)  # 1-D rows in the kernels (2-D indexing blocks vectorisation)
    u = np.empty((h, w), np.float32)
    run_bands(_sqrt_luma, h, rows, np.array(LUMA, np.float32), u)
    out = np.empty_like(src) if out is None else out
    run_bands(_sharpen_rows, h, rows, u, np.float32(2.0 * params.amount), np.float32(params.overshoot),
              np.float32(params.threshold), out.reshape(h, 3 * w))
    return out


def sharpen_reference(data: np.ndarray, params: SharpenParams = SharpenParams()) -> np.ndarray:
    """Numpy reference of :func:`sharpen_data` (float64 maths, float32 result)."""
    x = np.asarray(data, np.float64)
    u = np.sqrt(np.maximum(x @ np.array(LUMA), 0.0))
    p = np.pad(u, 1, mode="edge")
    h, w = u.shape
    nb = np.stack([p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
    kern = np.array([1, 2, 1, 2, 4, 2, 1, 2, 1], np.float64)[:, None, None] / 16.0
    d = u - (nb * kern).sum(0)
    t2 = params.threshold**2 + 1e-30
    v = u + 2.0 * params.amount * d * d * d / (d * d + t2)
    mn, mx = nb.min(0), nb.max(0)
    o = params.overshoot * (mx - mn)
    v = np.maximum(np.clip(v, mn - o, mx + o), 0.0)
    k = v * v / (u * u + 1e-20)
    return np.maximum(x * k[..., None], 0.0).astype(np.float32)


def sharpen(img: Image, params: SharpenParams = SharpenParams()) -> Image:
    """Capture sharpening of a scene-referred linear Rec.2020 :class:`Image`."""
    return _sharpen(img, params, in_place=False)


def sharpen_inplace(img: Image, params: SharpenParams = SharpenParams()) -> Image:
    """:func:`sharpen` writing into ``img.data`` (pipeline-owned images only)."""
    return _sharpen(img, params, in_place=True)


def _sharpen(img: Image, params: SharpenParams, in_place: bool) -> Image:
    if img.space is not ColorSpace.REC2020 or img.encoding is not Encoding.LINEAR:
        raise ContractError(f"sharpen takes linear Rec.2020, got {img.space.value}/{img.encoding.value}")
    if params.amount <= 0.0 or img.height < 3 or img.width < 3:
        return img
    if in_place and img.data.flags.writeable and img.data.flags.c_contiguous:
        sharpen_data(img.data, params, out=img.data)
        return img
    return img.with_data(sharpen_data(img.data, params))


STAGE = StageDef("sharpen", sharpen, SharpenParams, takes=SCENE_REC2020, gives=SCENE_REC2020,
                 inplace=sharpen_inplace)
