"""Gain-map maths (ISO 21496-1 / Google Ultra HDR 1.1 / Adobe gain map): encode, decode, render.

Conventions (all arrays float32, linear light, the SDR base's own primaries, 1.0 = SDR white):

* per pixel and channel the log2 recovery ``L = log2((hdr + offset_hdr) / (sdr + offset_sdr))``;
* stored as ``e = ((L - gain_min) / (gain_max - gain_min)) ** gamma`` in [0, 1] (8-bit in files),
  ``gain_min``/``gain_max`` in log2 stops (``hdrgm:GainMapMin/Max``, ISO ``gainMapMin/Max``);
* a display with ``H`` stops of headroom shows
  ``hdr = (sdr + offset_sdr) * 2 ** (L * w) - offset_hdr`` with
  ``w = clip((H - capacity_min) / (capacity_max - capacity_min), 0, 1)`` (the HDR capacity, log2).

The gain map is 1 (luminance) or 3 channels; :func:`encode_gainmap` picks 3 only where colour
needs it (the HDR rendition's chromaticity differs from the base's by more than a threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.gainmap import (GainMap, GainMapMetadata, apply_gainmap, capacity_weight,  # noqa: F401
                                  gain_stops, upsample)
from rawlux.core.params import StageParams, param

DEFAULT_OFFSET = 1.0 / 64.0  # Ultra HDR / libultrahdr default offsets


@dataclass(frozen=True)
class GainMapParams(StageParams):
    """How rawlux encodes a gain map."""

    scale: int = param(4, lo=1, hi=16, doc="gain map is 1/scale of the base in each axis")
    gamma: float = param(1.0, lo=0.1, hi=10.0, doc="map gamma (1 = linear in stops)")
    offset: float = param(DEFAULT_OFFSET, lo=0.0, hi=1.0,
                          doc="offset added to SDR and HDR before the ratio (avoids log 0)")
    channels: str = param("auto", choices=("auto", "1", "3"),
                          doc="1 = luminance map, 3 = per channel, auto = 3 where colour needs it")
    colour_threshold: float = param(0.1, lo=0.0, hi=4.0, unit="EV",
                                    doc="auto: per-channel gain spread that needs a 3-channel map")


def _check_rgb(a: np.ndarray, what: str) -> None:
    if not isinstance(a, np.ndarray) or a.ndim != 3 or a.shape[2] != 3:
        raise ContractError(f"{what} must be an (H, W, 3) array, got {getattr(a, 'shape', a)}")


def log_recovery(sdr: np.ndarray, hdr: np.ndarray, offset_sdr: float, offset_hdr: float) -> np.ndarray:
    """Per-channel ``log2((hdr + o_hdr) / (sdr + o_sdr))`` of two linear (H, W, 3) images."""
    _check_rgb(sdr, "SDR rendition")
    _check_rgb(hdr, "HDR rendition")
    if sdr.shape != hdr.shape:
        raise ContractError(f"SDR {sdr.shape} and HDR {hdr.shape} renditions differ in shape")
    s = np.maximum(np.nan_to_num(sdr.astype(np.float32), nan=0.0), 0.0) + np.float32(offset_sdr)
    h = np.maximum(np.nan_to_num(hdr.astype(np.float32), nan=0.0), 0.0) + np.float32(offset_hdr)
    with np.errstate(divide="ignore"):
        return np.log2(np.maximum(h, 1e-12) / np.maximum(s, 1e-12)).astype(np.float32)


def encode_gainmap(sdr: np.ndarray, hdr: np.ndarray, params: GainMapParams = GainMapParams(),
                   y_row: np.ndarray | None = None, headroom: float | None = None) -> GainMap:
    """Gain map turning ``sdr`` into ``hdr`` (both linear, same primaries, same (h, w, 3) shape:
    the map's resolution; downscale before calling). ``y_row``: luminance weights of the
    primaries (default Rec.709/sRGB). ``headroom``: capacity max in stops (default: the map's
    largest gain, at least 0.01)."""
    o = float(params.offset)
    lr = log_recovery(sdr, hdr, o, o)
    y = np.asarray(y_row if y_row is not None else (0.2126, 0.7152, 0.0722), np.float32)
    sl = np.maximum(sdr.astype(np.float32), 0.0) @ y
    hl = np.maximum(hdr.astype(np.float32), 0.0) @ y
    ly = np.log2((hl + o) / (sl + o)).astype(np.float32)
    if params.channels == "auto":
        spread = np.abs(lr - ly[..., None]).max(axis=2)
        three = float(np.mean(spread > params.colour_threshold)) > 0.002
    else:
        three = params.channels == "3"
    L = lr if three else ly[..., None]
    lo = np.minimum(L.reshape(-1, L.shape[2]).min(axis=0), 0.0)
    hi = np.maximum(L.reshape(-1, L.shape[2]).max(axis=0), lo + 1e-3)
    lo = np.floor(lo.astype(np.float64) * 1e4) / 1e4  # round outward: short exact decimals
    hi = np.ceil(hi.astype(np.float64) * 1e4) / 1e4  # in XMP and exact rationals in ISO
    e = np.clip((L - lo.astype(np.float32)) / (hi - lo).astype(np.float32), 0.0, 1.0)
    if params.gamma != 1.0:
        e = e ** np.float32(params.gamma)
    q = np.rint(e * 255.0).astype(np.uint8)
    q = np.ascontiguousarray(q if three else q[..., 0])
    cap = float(max(hi.max(), 0.01)) if headroom is None else float(headroom)
    n = 3 if three else 1
    meta = GainMapMetadata(
        gain_min=tuple(round(float(v), 4) for v in lo),
        gain_max=tuple(round(float(v), 4) for v in hi),
        gamma=(float(params.gamma),) * n, offset_sdr=(o,) * n, offset_hdr=(o,) * n,
        capacity_min=0.0, capacity_max=round(max(cap, 0.01), 4))
    return GainMap(q, meta)


def downsample(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-average an (H, W, C) float32 image to (h, w, C)."""
    import cv2

    if a.shape[:2] == (h, w):
        return np.ascontiguousarray(a, np.float32)
    return cv2.resize(np.ascontiguousarray(a, np.float32), (w, h), interpolation=cv2.INTER_AREA)


def map_size(h: int, w: int, scale: int) -> tuple[int, int]:
    """(h, w) of a gain map 1/``scale`` of an (h, w) base (rounded up, at least 1)."""
    if scale < 1:
        raise InvalidParameter(f"gain map scale must be >= 1, got {scale}")
    return max(1, -(-h // scale)), max(1, -(-w // scale))


# ------------------------------------------------------------------ the HDR rendition of a look


def shoulder(x: np.ndarray, peak: float, knee: float = 0.75) -> np.ndarray:
    """Identity below ``knee * peak``, then a rational roll-off (slope 1 at the knee, C1) that
    approaches ``peak`` and never reaches it: HDR highlights above the headroom are compressed,
    not clipped flat."""
    k = knee * peak
    room = peak - k
    d = np.maximum(x - k, 0.0)
    return np.where(x <= k, x, k + d / (1.0 + d / room)).astype(np.float32)


def midtone_ratio(scene_y: np.ndarray, sdr_y: np.ndarray) -> float:
    """How the look maps scene luminance to display luminance in the midtones: the median of
    ``scene / sdr`` over pixels the SDR shows between 5 % and 50 % (1.0 if there are none)."""
    m = (sdr_y > 0.05) & (sdr_y < 0.5) & (scene_y > 0)
    if np.count_nonzero(m) < 16:
        return 1.0
    return float(np.median(scene_y[m] / sdr_y[m]))


def hdr_rendition(scene: np.ndarray, sdr: np.ndarray, headroom: float | None = 3.0,
                  y_row: np.ndarray | None = None, max_headroom: float = 3.0
                  ) -> tuple[np.ndarray, float]:
    """The HDR rendition that goes with an SDR rendering of a scene, and its headroom in stops.

    ``scene``: scene-referred linear RGB; ``sdr``: the look's display-referred linear RGB of the
    same pixels and primaries ([0, 1]). Midtones keep the look exactly (gain 1); where the scene
    rises above half of SDR white the rendition follows the scene's radiance (scaled by the
    look's midtone ratio, so a stop brighter in the scene is a stop brighter on the display) and
    its colour, up to ``headroom`` stops over SDR white (rolled off, never clipped).
    ``headroom=None``: what the scene needs (its 99.9th percentile), capped at ``max_headroom``.
    """
    _check_rgb(scene, "scene")
    _check_rgb(sdr, "SDR rendition")
    y = np.asarray(y_row if y_row is not None else (0.2126, 0.7152, 0.0722), np.float32)
    s = np.maximum(np.nan_to_num(scene.astype(np.float32), nan=0.0, posinf=0.0), 0.0)
    d = np.clip(sdr.astype(np.float32), 0.0, 1.0)
    sy = s @ y
    dy = d @ y
    s = s / np.float32(midtone_ratio(sy, dy))
    sy = s @ y
    if headroom is None:
        top = float(np.percentile(sy, 99.9)) if sy.size else 1.0
        headroom = float(np.clip(math.log2(max(top, 1.0)), 0.0, max_headroom))
    headroom = float(np.clip(headroom, 0.0, max_headroom))
    peak = float(2.0 ** headroom)
    hy = np.maximum(shoulder(sy, peak), dy) if headroom > 0 else dy
    t = np.clip((sy - 0.5) / 0.5, 0.0, 1.0)  # 0 in midtones, 1 from SDR white up
    t = t * t * (3.0 - 2.0 * t)
    gain = np.where(dy > 1e-6, hy / np.maximum(dy, 1e-6), 1.0)
    gain = 1.0 + t * (gain - 1.0)
    looked = d * gain[..., None]
    scene_col = s * np.where(sy > 1e-6, hy / np.maximum(sy, 1e-6), 0.0)[..., None]
    out = looked + t[..., None] * (scene_col - looked)
    return np.maximum(out, 0.0).astype(np.float32), headroom


def block_mean(a: np.ndarray, scale: int, transform: "Callable[[np.ndarray], np.ndarray] | None" = None,
               band: int = 128) -> np.ndarray:
    """Mean of each ``scale`` x ``scale`` block of an (H, W, C) float32 image (edge blocks over
    the pixels they have), shape :func:`map_size`; ``transform`` (e.g. an sRGB decode) is applied
    to one band of rows at a time, so no full-resolution temporary is made. Whole blocks go
    through OpenCV's area resize (exact for an integer factor), edge blocks through numpy."""
    import cv2

    h, w, c = a.shape
    mh, mw = map_size(h, w, scale)
    out = np.empty((mh, mw, c), np.float32)
    wf = (w // scale) * scale
    rows = band * scale
    for r0 in range(0, h, rows):
        chunk = np.ascontiguousarray(a[r0:r0 + rows], np.float32)
        if transform is not None:
            chunk = transform(chunk)
        ch = chunk.shape[0]
        hf = (ch // scale) * scale
        q0 = r0 // scale
        nq = hf // scale
        if nq and wf:
            out[q0:q0 + nq, :wf // scale] = cv2.resize(chunk[:hf, :wf], (wf // scale, nq),
                                                       interpolation=cv2.INTER_AREA).reshape(nq, -1, c)
        if wf < w and nq:  # right edge blocks (fewer columns)
            out[q0:q0 + nq, -1] = chunk[:hf, wf:].reshape(nq, scale, w - wf, c).mean(axis=(1, 2))
        if hf < ch:  # bottom edge blocks (fewer rows)
            tail = chunk[hf:]
            if wf:
                out[q0 + nq, :wf // scale] = tail[:, :wf].reshape(ch - hf, wf // scale, scale, c).mean(axis=(0, 2))
            if wf < w:
                out[q0 + nq, -1] = tail[:, wf:].reshape(-1, c).mean(axis=0)
    return out
