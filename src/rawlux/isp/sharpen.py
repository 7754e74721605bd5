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
from rawlux.isp.pipeline import Contract, StageDef

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


@njit(cache=True, nogil=True, fastmath=True, aot="void(f4[:, :, ::1], f4[::1], f4[:, ::1], i8, i8)")
def _sqrt_luma(src, wts, u, r0, r1):  # pragma: no cover - compiled
    """u = sqrt(max(Y, 0)) for rows r0 .. r1."""
    w = src.shape[1]
    a, b, c = wts[0], wts[1], wts[2]
    z = np.float32(0.0)
    for i in range(r0, r1):
        for j in range(w):
            y = a * src[i, j, 0] + b * src[i, j, 1] + c * src[i, j, 2]
            u[i, j] = np.sqrt(y if y > z else z)


@njit(cache=True, inline="always")
def _sharpen_px(src, u, out, i, j, im, ip, jm, jp, gain, overshoot, t2):  # pragma: no cover
    c = u[i, j]
    n = u[im, j]
    s = u[ip, j]
    e = u[i, jp]
    ww = u[i, jm]
    nw = u[im, jm]
    ne = u[im, jp]
    sw = u[ip, jm]
    se = u[ip, jp]
    blur = (np.float32(4.0) * c + np.float32(2.0) * (n + s + e + ww) + nw + ne + sw + se) \
        * np.float32(1.0 / 16.0)
    mn = min(min(min(c, n), min(s, e)), min(min(ww, nw), min(ne, min(sw, se))))
    mx = max(max(max(c, n), max(s, e)), max(max(ww, nw), max(ne, max(sw, se))))
    d = c - blur
    d2 = d * d
    v = c + gain * d * d2 / (d2 + t2)
    o = overshoot * (mx - mn)
    v = min(max(v, mn - o), mx + o)
    z = np.float32(0.0)
    v = max(v, z)
    k = v * v / (c * c + np.float32(1e-20))  # Y'/Y (black stays black)
    out[i, j, 0] = max(src[i, j, 0] * k, z)
    out[i, j, 1] = max(src[i, j, 1] * k, z)
    out[i, j, 2] = max(src[i, j, 2] * k, z)


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, :, ::1], f4[:, ::1], f4, f4, f4, f4[:, :, ::1], i8, i8)")
def _sharpen_rows(src, u, gain, overshoot, thr, out, r0, r1):  # pragma: no cover - compiled
    """Rows r0 .. r1 of the sharpened image (interior columns branch-free)."""
    h, w = u.shape[0], u.shape[1]
    t2 = thr * thr + np.float32(1e-30)
    for i in range(r0, r1):
        im = max(i - 1, 0)
        ip = min(i + 1, h - 1)
        _sharpen_px(src, u, out, i, 0, im, ip, 0, min(1, w - 1), gain, overshoot, t2)
        for j in range(1, w - 1):
            _sharpen_px(src, u, out, i, j, im, ip, j - 1, j + 1, gain, overshoot, t2)
        if w > 1:
            _sharpen_px(src, u, out, i, w - 1, im, ip, w - 2, w - 1, gain, overshoot, t2)


def sharpen_data(data: np.ndarray, params: SharpenParams = SharpenParams()) -> np.ndarray:
    """Sharpen float32 (H, W, 3) linear Rec.2020 data (see module docstring) into a new array."""
    src = np.ascontiguousarray(data, np.float32)
    if src.ndim != 3 or src.shape[2] != 3:
        raise ContractError(f"sharpen needs (H, W, 3) data, got shape {src.shape}")
    h = src.shape[0]
    u = np.empty(src.shape[:2], np.float32)
    run_bands(_sqrt_luma, h, src, np.array(LUMA, np.float32), u)
    out = np.empty_like(src)
    run_bands(_sharpen_rows, h, src, u, np.float32(2.0 * params.amount), np.float32(params.overshoot),
              np.float32(params.threshold), out)
    return out


def sharpen(img: Image, params: SharpenParams = SharpenParams()) -> Image:
    """Capture sharpening of a scene-referred linear Rec.2020 :class:`Image`."""
    if img.space is not ColorSpace.REC2020 or img.encoding is not Encoding.LINEAR:
        raise ContractError(f"sharpen takes linear Rec.2020, got {img.space.value}/{img.encoding.value}")
    if params.amount <= 0.0 or img.height < 3 or img.width < 3:
        return img
    return img.with_data(sharpen_data(img.data, params))


STAGE = StageDef("sharpen", sharpen, SharpenParams, takes=SCENE_REC2020, gives=SCENE_REC2020)
