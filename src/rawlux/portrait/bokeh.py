"""Lens bokeh renderer: layered, occlusion-aware depth-of-field in linear light.

Optics (thin lens, full-frame equivalent 36 x 24 mm sensor). For focal length ``f``, f-number
``N`` and magnification ``m`` of the focal plane, a point at disparity ``d`` (any scale,
proportional to 1/distance) images to a circle of confusion of diameter, on the sensor,

    c = (f / N) * m * |1 - d / d_f|          (d_f = disparity of the focal plane)

``m`` follows from the framing: the frame's short side (24 mm) covers ``framing`` metres at the
focal plane, ``m = 0.024 / framing``. So at equal framing a longer lens or a wider aperture blurs
the background more, as with real glass. ``c`` in pixels is ``c * long_side_px / 36``.

Rendering. The signed CoC radius ``b`` (> 0 behind the focal plane, < 0 in front) is split into
soft depth layers (tent memberships on a geometric ladder of radii, a partition of unity). Each
layer is taken straight from full resolution to the coarsest level where its kernel keeps about
``R_MAX`` px radius, blurred there as premultiplied colour + alpha with the aperture kernel
(polygon of ``blades`` sides with equal area to the CoC disc, radial brightness profile), and
summed per level. Background layers are summed (light adds, so point lights keep their energy)
and normalised by their summed alpha: next to the subject the background is the average of the
*visible* background only, and under the subject it is filled by pull-push. So the subject never
bleeds into the background (no halo) and the background is blurred right up to the subject's
edge (no sharp fringe). The in-focus layer is composited at full resolution, then the summed
foreground layers go over it with their summed alpha (what hides behind them is filled from the
plate around). Lens character: cat-eye squeeze and rotational swirl toward the frame corners,
soft-focus glow on the in-focus layer, defocus exponent (``falloff``), disc profile and edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numba import njit, prange

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import Encoding, Image, Referred
from rawlux.core.params import StageParams, param
from rawlux.portrait.lens import LensParams

SENSOR_LONG_MM = 36.0
SENSOR_SHORT_MM = 24.0
R_MAX = 8.0  # largest kernel radius (px) at the level a layer is blurred at
LADDER_RATIO = 1.38  # ratio between successive layer radii


@dataclass(frozen=True)
class BokehParams(StageParams):
    """Rendering options that are not part of the lens character."""

    aperture: float = param(0.0, lo=0.0, hi=32.0, unit="f-number",
                            doc="f-number; 0 = the lens' default aperture")
    framing: float = param(1.0, lo=0.05, hi=1000.0, unit="m",
                           doc="scene height covered by the frame's short side at the focal plane")
    highlight_boost: float = param(6.0, lo=1.0, hi=64.0,
                                   doc="gain for near-clipped highlights of display-referred input")
    highlight_threshold: float = param(0.85, lo=0.0, hi=1.0,
                                       doc="linear level above which display highlights are boosted")
    quality: float = param(1.0, lo=0.25, hi=4.0,
                           doc="layer density and kernel resolution multiplier (speed trade-off)")


# ----------------------------------------------------------------------------------- optics


def coc_scale(lens: LensParams, f_number: float, framing: float, long_side: int) -> float:
    """CoC *radius* in pixels of a point at infinity (``|1 - d/d_f| = 1``)."""
    if f_number <= 0:
        raise InvalidParameter(f"aperture f/{f_number} must be positive")
    m = SENSOR_SHORT_MM / (framing * 1000.0)
    diameter_mm = (lens.focal_length / f_number) * m
    return 0.5 * diameter_mm * long_side / SENSOR_LONG_MM


def signed_coc(disparity: np.ndarray, focus_disparity: float, lens: LensParams, f_number: float,
               framing: float, long_side: int) -> np.ndarray:
    """Signed CoC radius in px, float32 (H, W): > 0 behind the focal plane, < 0 in front.

    ``disparity`` >= 0 is proportional to 1/distance; ``focus_disparity`` > 0 is the focal plane.
    Magnitudes are capped at ``lens.max_blur * long_side / 2``.
    """
    if not focus_disparity > 0 or not math.isfinite(focus_disparity):
        raise InvalidParameter(f"focus disparity must be positive, got {focus_disparity}")
    k = coc_scale(lens, f_number, framing, long_side)
    rel = 1.0 - disparity.astype(np.float32, copy=False) / np.float32(focus_disparity)
    mag = np.abs(rel)
    if lens.falloff != 1.0:
        mag = np.power(mag, np.float32(lens.falloff))
    cap = np.float32(lens.max_blur * long_side * 0.5)
    b = np.minimum(mag * np.float32(k), cap)
    return np.copysign(b, rel).astype(np.float32)


# ---------------------------------------------------------------------------------- kernels


def _shape_unit(theta: np.ndarray, lens: LensParams) -> np.ndarray:
    """Boundary radius of the aperture (unit circumradius) at angle ``theta`` (radians)."""
    n = lens.sides
    if n == 0:
        return np.ones_like(theta)
    seg = 2.0 * np.pi / n
    rot = np.deg2rad(lens.rotation) + np.pi / 2  # one vertex up at rotation 0
    local = np.mod(theta - rot, seg) - seg / 2
    poly = np.cos(np.pi / n) / np.cos(local)
    return (1.0 - lens.roundness) * poly + lens.roundness


@lru_cache(maxsize=256)
def _kernel_cached(radius_q: int, sides: int, roundness: float, rotation: float,
                   edge_brightness: float, edge_softness: float, squeeze: float) -> np.ndarray:
    radius = radius_q / 64.0
    lens = LensParams(blades=sides, roundness=roundness, rotation=rotation)
    ang = np.linspace(0, 2 * np.pi, 1440, endpoint=False)
    s = _shape_unit(ang, lens)
    area_unit = 0.5 * np.mean(s**2) * 2 * np.pi
    scale = radius * math.sqrt(math.pi / area_unit)  # equal area with the CoC disc
    half = int(math.ceil(scale * max(1.0, float(s.max())) + 1))
    ss = 4 if radius < 24 else 2
    n = (2 * half + 1) * ss
    g = (np.arange(n, dtype=np.float64) + 0.5) / ss - (half + 0.5)
    yy, xx = np.meshgrid(g, g, indexing="ij")
    yy = yy / max(1e-6, 1.0 - squeeze)  # radial squeeze (cat eye) applied along y by caller
    rho = np.hypot(xx, yy)
    theta = np.arctan2(-yy, xx)
    bound = _shape_unit(theta, lens) * scale
    u = rho / np.maximum(bound, 1e-9)
    soft = max(edge_softness, 0.0)
    if soft > 0:
        edge = np.clip((1.0 - u) / soft, 0.0, 1.0)
        edge = edge * edge * (3 - 2 * edge)
    else:
        edge = (u <= 1.0).astype(np.float64)
    prof = np.clip(1.0 + edge_brightness * (2.0 * np.minimum(u, 1.0) ** 2 - 1.0), 0.0, None)
    k = (edge * prof).reshape(2 * half + 1, ss, 2 * half + 1, ss).mean(axis=(1, 3))
    if k.sum() <= 0:  # radius far below a pixel
        k = np.zeros((1, 1))
        k[0, 0] = 1.0
    k = k / k.sum()
    return np.ascontiguousarray(k, dtype=np.float32)


def aperture_kernel(radius: float, lens: LensParams, squeeze: float = 0.0) -> np.ndarray:
    """Normalised float32 kernel of the aperture: equal area to a disc of ``radius`` px.

    Polygon of ``lens.blades`` sides (rounded by ``lens.roundness``), brightness profile
    ``1 + edge_brightness (2 u^2 - 1)`` over the normalised radius ``u``, edge roll-off
    ``edge_softness``. ``squeeze`` in [0, 1) shortens it along y (used for cat-eye tests).
    """
    if radius < 0 or not math.isfinite(radius):
        raise InvalidParameter(f"kernel radius {radius} must be finite and >= 0")
    return _kernel_cached(int(round(radius * 64)), lens.sides, float(lens.roundness),
                          float(lens.rotation), float(lens.edge_brightness),
                          float(lens.edge_softness), float(squeeze))


# ------------------------------------------------------------------------------ layer maths


def layer_ladder(max_radius: float, quality: float = 1.0) -> np.ndarray:
    """Positive layer radii 0 < r1 < r2 ... (px) covering ``max_radius``."""
    ratio = 1.0 + (LADDER_RATIO - 1.0) / quality
    radii = [1.0 / quality]
    while radii[-1] < max_radius:
        radii.append(max(radii[-1] * ratio, radii[-1] + 1.0 / quality))
    return np.asarray(radii, np.float64)


@njit(cache=True, parallel=True)
def _layer_down(rgb, b, lo, c, hi, f, out):  # pragma: no cover - numba
    """Area-downsample by ``f`` the premultiplied colour and alpha of the tent layer (lo, c, hi)."""
    h, w = b.shape
    ho, wo = out.shape[0], out.shape[1]
    for oy in prange(ho):
        y0 = oy * f
        y1 = min(y0 + f, h)
        for ox in range(wo):
            x0 = ox * f
            x1 = min(x0 + f, w)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            sa = 0.0
            for y in range(y0, y1):
                for x in range(x0, x1):
                    v = b[y, x]
                    a = 0.0
                    if v <= c:
                        if lo == -np.inf:
                            a = 1.0
                        elif v >= lo:
                            a = (v - lo) / (c - lo)
                    else:
                        if hi == np.inf:
                            a = 1.0
                        elif v <= hi:
                            a = (hi - v) / (hi - c)
                    if a > 0.0:
                        s0 += a * rgb[y, x, 0]
                        s1 += a * rgb[y, x, 1]
                        s2 += a * rgb[y, x, 2]
                        sa += a
            inv = 1.0 / ((y1 - y0) * (x1 - x0))
            out[oy, ox, 0] = s0 * inv
            out[oy, ox, 1] = s1 * inv
            out[oy, ox, 2] = s2 * inv
            out[oy, ox, 3] = sa * inv


@njit(cache=True)
def _occupancy(coc, edges, counts_pos, counts_neg):  # pragma: no cover - numba
    """Count |CoC| per ladder bin (edges ascending, last bin open), split by sign."""
    h, w = coc.shape
    n = edges.shape[0]
    for y in range(h):
        for x in range(w):
            v = coc[y, x]
            a = abs(v)
            if a == 0.0:
                continue
            lo, hi = 0, n
            while lo < hi:  # first edge > a
                mid = (lo + hi) // 2
                if edges[mid] > a:
                    hi = mid
                else:
                    lo = mid + 1
            if v > 0:
                counts_pos[lo] += 1
            else:
                counts_neg[lo] += 1


@njit(cache=True, parallel=True)
def _composite_focus(rgb, coc, back, r1, out):  # pragma: no cover - numba
    """out = back * (1 - a0) + rgb * a0; a0 = max(0, 1 - coc / r1) behind the plane, 1 in front."""
    h, w = coc.shape
    for y in prange(h):
        for x in range(w):
            a = _a0(coc[y, x], r1)
            for ch in range(3):
                out[y, x, ch] = back[y, x, ch] * (1.0 - a) + rgb[y, x, ch] * a


@njit(cache=True)
def _a0(v, r1):  # pragma: no cover - numba
    """In-focus weight of a pixel with signed CoC ``v``."""
    if v <= 0.0:
        return 1.0
    a = 1.0 - v / r1
    return a if a > 0.0 else 0.0


@njit(cache=True, parallel=True)
def _behind_down(out, coc, f, dst):  # pragma: no cover - numba
    """Area-downsample by ``f`` the plate ``out`` over pixels at or behind the focal plane
    (coc >= 0): dst[..., :3] premultiplied colour, dst[..., 3] coverage."""
    h, w = coc.shape
    ho, wo = dst.shape[0], dst.shape[1]
    for oy in prange(ho):
        y0 = oy * f
        y1 = min(y0 + f, h)
        for ox in range(wo):
            x0 = ox * f
            x1 = min(x0 + f, w)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            n = 0.0
            for y in range(y0, y1):
                for x in range(x0, x1):
                    if coc[y, x] >= 0.0:
                        s0 += out[y, x, 0]
                        s1 += out[y, x, 1]
                        s2 += out[y, x, 2]
                        n += 1.0
            inv = 1.0 / ((y1 - y0) * (x1 - x0))
            dst[oy, ox, 0] = s0 * inv
            dst[oy, ox, 1] = s1 * inv
            dst[oy, ox, 2] = s2 * inv
            dst[oy, ox, 3] = n * inv


@njit(cache=True, parallel=True)
def _front_composite(out, rgb, coc, fill, front, r1):  # pragma: no cover - numba
    """In place: pixels in front of the plane get their own colour blended with the estimate of
    what is behind them (``fill``), then the blurred foreground (premult, alpha) goes over."""
    h, w = coc.shape
    for y in prange(h):
        for x in range(w):
            v = coc[y, x]
            if v < 0.0:
                a = 1.0 + v / r1
                a = max(a, 0.0)
                for ch in range(3):
                    out[y, x, ch] = a * rgb[y, x, ch] + (1.0 - a) * fill[y, x, ch]
            fa = front[y, x, 3]
            if fa > 1.0:
                fa = 1.0
            elif fa < 0.0:
                fa = 0.0
            for ch in range(3):
                out[y, x, ch] = out[y, x, ch] * (1.0 - fa) + front[y, x, ch]


@njit(cache=True, parallel=True)
def _boost_kernel(rgb, gain, threshold):  # pragma: no cover - numba
    h, w = rgb.shape[0], rgb.shape[1]
    inv = 1.0 / (1.0 - threshold)
    for y in prange(h):
        for x in range(w):
            m = max(rgb[y, x, 0], rgb[y, x, 1], rgb[y, x, 2])
            if m > threshold:
                t = (m - threshold) * inv
                t = min(t, 1.0)
                g = 1.0 + (gain - 1.0) * t * t * t
                for ch in range(3):
                    rgb[y, x, ch] *= g


def _down(x: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return x
    h, w = x.shape[:2]
    return cv2.resize(x, (max(1, -(-w // f)), max(1, -(-h // f))), interpolation=cv2.INTER_AREA)


def _up(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    if x.shape[:2] == (h, w):
        return x
    y = cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)
    return y if y.ndim == x.ndim else y[..., None]


@njit(cache=True, parallel=True)
def _normalise_or(c, w, fallback, out):  # pragma: no cover - numba
    """out = c / w where covered (w > 1e-3), else the coarser estimate ``fallback``."""
    h, wd = w.shape
    nc = c.shape[2]
    for y in prange(h):
        for x in range(wd):
            a = w[y, x]
            if a > 1e-3:
                inv = 1.0 / a
                for ch in range(nc):
                    out[y, x, ch] = c[y, x, ch] * inv
            else:
                for ch in range(nc):
                    out[y, x, ch] = fallback[y, x, ch]


def pull_push_fill(premult: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Colour estimate everywhere from premultiplied colour ``premult`` (h, w, C) with coverage
    ``weight`` (h, w) >= 0: normalised where covered, pulled from coarser levels elsewhere."""
    c0 = np.ascontiguousarray(premult, dtype=np.float32)
    w0 = np.ascontiguousarray(weight, dtype=np.float32)
    levels = [(c0, w0)]
    c, w = c0, w0
    while min(w.shape[:2]) > 2:
        c = _down(c, 2)
        w = _down(w, 2)
        if c.ndim == 2:
            c = c[..., None]
        levels.append((np.ascontiguousarray(c), np.ascontiguousarray(w)))
    c, w = levels[-1]
    tot = float(w.sum())
    mean = (c.reshape(-1, c.shape[-1]).sum(0) / tot) if tot > 1e-12 else np.zeros(c.shape[-1])
    est = np.empty(c.shape, np.float32)
    _normalise_or(c, w, np.broadcast_to(mean.astype(np.float32), c.shape).copy(), est)
    for c, w in reversed(levels[:-1]):
        up = np.ascontiguousarray(_up(est, w.shape[:2]), dtype=np.float32)
        est = np.empty(c.shape, np.float32)
        _normalise_or(c, w, up, est)
    return est


def _polar_params(shape: tuple[int, int]) -> tuple[tuple[float, float], float]:
    h, w = shape
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    return centre, math.hypot(w / 2.0, h / 2.0)


@lru_cache(maxsize=16)
def _radius_weight(shape: tuple[int, int], power: float) -> np.ndarray:
    h, w = shape
    (cx, cy), rmax = _polar_params(shape)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rho = np.hypot(xx - cx, yy - cy) / np.float32(rmax)
    return (rho**power).astype(np.float32)[..., None]


def _swirl(x: np.ndarray, arc_px: float) -> np.ndarray:
    """Rotational blur: box of ``arc_px`` along the circle through the frame corner (smaller
    arcs nearer the centre, none at the centre)."""
    h, w = x.shape[:2]
    centre, rmax = _polar_params((h, w))
    n_r = max(8, int(math.ceil(rmax)))
    n_a = max(16, int(math.ceil(2 * math.pi * rmax)))
    flags = cv2.WARP_POLAR_LINEAR | cv2.INTER_LINEAR | cv2.WARP_FILL_OUTLIERS
    pol = cv2.warpPolar(x, (n_r, n_a), centre, rmax, flags)
    k = int(round(arc_px))
    if k >= 2:
        pad = k
        ext = np.concatenate([pol[-pad:], pol, pol[:pad]], axis=0)
        ext = cv2.blur(ext, (1, k), borderType=cv2.BORDER_REPLICATE)
        pol = np.ascontiguousarray(ext[pad:-pad])
    back = cv2.warpPolar(pol, (w, h), centre, rmax, flags | cv2.WARP_INVERSE_MAP)
    return back if back.ndim == x.ndim else back[..., None]


def _blur_layer(x: np.ndarray, radius: float, lens: LensParams) -> np.ndarray:
    """Aperture blur of a (h, w, 4) premultiplied layer plus the lens' spatial character."""
    k = aperture_kernel(radius, lens)
    y = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT)
    if lens.cat_eye > 0 and radius >= 1.0:
        k2 = aperture_kernel(radius * (1.0 - lens.cat_eye), lens)
        y2 = cv2.filter2D(x, -1, k2, borderType=cv2.BORDER_REFLECT)
        wgt = _radius_weight(x.shape[:2], 2.0)
        y = y + wgt * (y2 - y)
    if lens.swirl > 0 and radius >= 1.0:
        ys = _swirl(y, lens.swirl * radius * 2.0)
        wgt = _radius_weight(x.shape[:2], 1.0)
        y = y + np.clip(wgt * 1.5, 0, 1) * (ys - y)
    return y.astype(np.float32, copy=False)


# --------------------------------------------------------------------------------- renderer


def render_linear(rgb: np.ndarray, coc: np.ndarray, lens: LensParams, *, quality: float = 1.0,
                  glow_long_side: int | None = None) -> np.ndarray:
    """Render depth of field on linear RGB (H, W, 3) float32 given a signed CoC radius map (px).

    Returns float32 (H, W, 3) linear light (values above 1 kept).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.float32:
        raise ContractError(f"render_linear needs float32 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if coc.shape != rgb.shape[:2]:
        raise ContractError(f"CoC map shape {coc.shape} does not match image {rgb.shape[:2]}")
    h, w = coc.shape
    rgb = np.ascontiguousarray(rgb)
    coc = np.ascontiguousarray(np.nan_to_num(coc.astype(np.float32), nan=0.0))
    maxr = max(float(coc.max()), -float(coc.min())) if coc.size else 0.0
    if maxr < 0.25 and lens.glow <= 0:
        return rgb.copy()
    maxr = max(maxr, 0.25)
    radii = layer_ladder(maxr, quality)
    r1 = float(radii[0])
    base_f = 2 if max(h, w) >= 2400 and quality <= 1.0 else 1
    hb, wb = -(-h // base_f), -(-w // base_f)

    # occupied layers: tent j spans (radii[j-1], radii[j+1]); bins of |CoC| between rungs
    edges = np.concatenate([radii, [np.inf]])
    cnt_b = np.zeros(len(edges) + 1, np.int64)
    cnt_f = np.zeros(len(edges) + 1, np.int64)
    _occupancy(coc, edges, cnt_b, cnt_f)
    hist_b, hist_f = cnt_b, cnt_f  # bin 0: (0, r1), bin j: [r_{j-1}, r_j)

    def occupied(hist: np.ndarray, j: int) -> bool:  # layer radii[j] (j >= 0)
        return bool(hist[j] + hist[j + 1] > 0)

    def level_of(radius: float) -> int:
        """Downsampling factor (a multiple of base_f) where the kernel radius is <= R_MAX."""
        f = base_f
        while radius / f > R_MAX * quality:
            f *= 2
        return f

    def blurred_layer(c: float, lo: float, hi: float, acc: dict) -> None:
        """Tent layer (lo, c, hi) taken straight from full resolution to its own level,
        blurred there and summed into that level's accumulator."""
        f = level_of(abs(c))
        out = np.empty((-(-h // f), -(-w // f), 4), np.float32)
        _layer_down(rgb, coc, float(lo), float(c), float(hi), f, out)
        y = _blur_layer(out, abs(c) / f, lens)
        if f in acc:
            acc[f] += y
        else:
            acc[f] = y

    def collapse(acc: dict) -> np.ndarray:
        tot = np.zeros((hb, wb, 4), np.float32)
        for y in acc.values():
            tot += _up(y, (hb, wb))
        return tot

    # background (behind the focal plane): every layer blurred as premultiplied colour + alpha
    # and summed (light adds up, tents split nothing), then normalised by the summed alpha: near
    # the subject the plate is the average of the *visible* background only (no halo, no dark
    # rim); deep under the subject it is filled by pull-push from around.
    levels: dict = {}
    n = len(radii)
    for j in range(n - 1, -1, -1):
        if not occupied(hist_b, j):
            continue
        c = radii[j]
        lo = radii[j - 1] if j > 0 else 0.0
        hi = radii[j + 1] if j + 1 < n else np.inf
        blurred_layer(c, lo, hi, levels)
    acc = collapse(levels)
    back = pull_push_fill(acc[..., :3], np.clip(acc[..., 3], 0.0, None))

    # in focus at full resolution (pixels in front of the plane keep their own colour here;
    # their blur comes with the foreground below)
    out = np.empty((h, w, 3), np.float32)
    _composite_focus(rgb, coc, np.ascontiguousarray(_up(back, (h, w))), np.float32(r1), out)
    del back
    if lens.glow > 0:
        out = _glow(out, rgb, coc, np.float32(r1), lens, glow_long_side or max(h, w))

    # foreground (in front of the plane): layers summed, then laid over with their summed alpha
    flevels: dict = {}
    any_front = False
    for j in range(n):
        if not occupied(hist_f, j):
            continue
        c = radii[j]
        lo = -radii[j + 1] if j + 1 < n else -np.inf
        hi = -radii[j - 1] if j > 0 else 0.0
        blurred_layer(-c, lo, hi, flevels)
        any_front = True
    if any_front:
        facc = collapse(flevels)
        # what lies behind the foreground is unknown: fill it from the plate around it
        pb = np.empty((hb, wb, 4), np.float32)
        _behind_down(out, coc, base_f, pb)
        fill = np.ascontiguousarray(_up(pull_push_fill(pb[..., :3], pb[..., 3]), (h, w)))
        front = np.ascontiguousarray(_up(facc, (h, w)))
        _front_composite(out, rgb, coc, fill, front, np.float32(r1))
    np.maximum(out, 0.0, out=out)
    return out


@njit(cache=True)
def _glow_weight(r, g, b, amount):  # pragma: no cover - numba
    m = max(r, g, b)
    t = (m - 0.25) / 0.75
    if t <= 0.0:
        return 0.0
    t = min(t, 1.0)
    return t * t * (3.0 - 2.0 * t) * amount


@njit(cache=True, parallel=True)
def _glow_down(rgb, coc, r1, amount, f, dst):  # pragma: no cover - numba
    """Area-downsample by ``f`` the glowing part (highlight-weighted) of the in-focus layer."""
    h, w = coc.shape
    ho, wo = dst.shape[0], dst.shape[1]
    for oy in prange(ho):
        y0 = oy * f
        y1 = min(y0 + f, h)
        for ox in range(wo):
            x0 = ox * f
            x1 = min(x0 + f, w)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            for y in range(y0, y1):
                for x in range(x0, x1):
                    a = _a0(coc[y, x], r1)
                    r, g, b = rgb[y, x, 0] * a, rgb[y, x, 1] * a, rgb[y, x, 2] * a
                    k = _glow_weight(r, g, b, amount)
                    s0 += k * r
                    s1 += k * g
                    s2 += k * b
            inv = 1.0 / ((y1 - y0) * (x1 - x0))
            dst[oy, ox, 0] = s0 * inv
            dst[oy, ox, 1] = s1 * inv
            dst[oy, ox, 2] = s2 * inv


@njit(cache=True, parallel=True)
def _glow_apply(out, rgb, coc, r1, halo, amount):  # pragma: no cover - numba
    """In place: take the glowing light out of the sharp image and add it back as a halo."""
    h, w = out.shape[0], out.shape[1]
    for y in prange(h):
        for x in range(w):
            a = _a0(coc[y, x], r1)
            r, g, b = rgb[y, x, 0] * a, rgb[y, x, 1] * a, rgb[y, x, 2] * a
            k = _glow_weight(r, g, b, amount)
            out[y, x, 0] += halo[y, x, 0] - k * r
            out[y, x, 1] += halo[y, x, 1] - k * g
            out[y, x, 2] += halo[y, x, 2] - k * b


def _glow(out: np.ndarray, rgb: np.ndarray, coc: np.ndarray, r1: np.float32, lens: LensParams,
          long_side: int) -> np.ndarray:
    """Soft-focus glow: the bright part of the in-focus layer (``rgb`` times the in-focus weight
    from ``coc``; weight
    ``glow * smoothstep((max(rgb) - 0.25) / 0.75)``) spreads into a Gaussian halo of sigma
    ``glow_radius * long_side``. Light is conserved (what glows is taken from the sharp image);
    midtone detail stays, highlights bloom. Modifies ``out`` in place and returns it."""
    h, w = out.shape[:2]
    sigma = lens.glow_radius * long_side
    gf = max(1, int(sigma // 4))
    small = np.empty((-(-h // gf), -(-w // gf), 3), np.float32)
    _glow_down(rgb, coc, r1, np.float32(lens.glow), gf, small)
    halo = cv2.GaussianBlur(small, (0, 0), max(sigma / gf, 0.5), borderType=cv2.BORDER_REFLECT)
    halo = np.ascontiguousarray(_up(halo, (h, w)), dtype=np.float32)
    _glow_apply(out, rgb, coc, r1, halo, np.float32(lens.glow))
    return out


def boost_highlights(rgb: np.ndarray, gain: float, threshold: float) -> np.ndarray:
    """Expand near-clipped display highlights (linear) so they bloom into bright discs:
    per-pixel gain rises smoothly from 1 at ``threshold`` to ``gain`` at 1.0 (max channel)."""
    if gain <= 1.0 or threshold >= 1.0:
        return rgb
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    _boost_kernel(out, np.float32(gain), np.float32(threshold))
    return out


def render_bokeh(img: Image, disparity: np.ndarray, focus_disparity: float, lens: LensParams,
                 params: BokehParams = BokehParams()) -> Image:
    """Render ``img`` through ``lens`` focused at ``focus_disparity``.

    ``img``: any RGB Image (linear or sRGB-encoded, scene or display-referred); rendering runs in
    linear light and the result has the same space/encoding/referred as the input (display-
    referred output clipped to [0, 1]). ``disparity``: float32 (H, W) >= 0, proportional to
    1/distance (resized to the image if needed).
    """
    from rawlux.color.transfer import decode, encode, srgb_decode_fast, srgb_encode_fast

    d = np.asarray(disparity, np.float32)
    if d.ndim != 2:
        raise ContractError(f"disparity must be (H, W), got shape {d.shape}")
    if d.shape != (img.height, img.width):
        d = cv2.resize(d, (img.width, img.height), interpolation=cv2.INTER_LINEAR)
    f_number = params.aperture if params.aperture > 0 else lens.default_aperture
    if f_number < 0.7:
        raise InvalidParameter(f"aperture f/{f_number} is below f/0.7")
    display = img.referred is Referred.DISPLAY
    if img.encoding is Encoding.LINEAR:
        lin = np.nan_to_num(img.data, nan=0.0)
        if display:
            lin = np.clip(lin, 0.0, 1.0)
    elif display and img.encoding is Encoding.SRGB:
        lin = srgb_decode_fast(img.data)  # clips to [0, 1], NaN -> 0
    else:
        lin = np.nan_to_num(decode(img.data, img.encoding), nan=0.0)
    lin = np.ascontiguousarray(lin, dtype=np.float32)
    if display:
        lin = boost_highlights(lin, params.highlight_boost, params.highlight_threshold)
    long_side = max(img.height, img.width)
    coc = signed_coc(d, focus_disparity, lens, f_number, params.framing, long_side)
    out = render_linear(lin, coc, lens, quality=params.quality)
    if display and img.encoding is Encoding.SRGB:
        out = srgb_encode_fast(out, out=out)  # clips to [0, 1]
    else:
        if display:
            np.clip(out, 0.0, 1.0, out=out)
        if img.encoding is not Encoding.LINEAR:
            out = encode(out, img.encoding)
    return img.with_data(np.ascontiguousarray(out, dtype=np.float32))
