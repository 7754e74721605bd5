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
from rawlux.core.jit import njit, prange, run_bands

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import Encoding, Image, Referred
from rawlux.core.params import StageParams, param
from rawlux.portrait.lens import LensParams
from rawlux.color.transfer import decode, encode, srgb_decode_fast, srgb_encode_fast

SENSOR_LONG_MM = 36.0
SENSOR_SHORT_MM = 24.0
R_MAX = 8.0  # largest kernel radius (px) at the level a layer is blurred at
LADDER_RATIO = 1.38  # ratio between successive layer radii
SHARP_RADIUS = 0.5  # px: a CoC radius up to this is in focus (the pixel is left untouched)


@dataclass(frozen=True)
class BokehParams(StageParams):
    """Rendering options that are not part of the lens character."""

    aperture: float = param(0.0, lo=0.0, hi=32.0, unit="f-number",
                            doc="f-number; 0 = the lens' default aperture")
    framing: float = param(1.0, lo=0.05, hi=1000.0, unit="m",
                           doc="scene height covered by the frame's short side at the focal plane")
    highlight_boost: float = param(32.0, lo=1.0, hi=1024.0,
                                   doc="largest extra gain for small clipped highlights of display-"
                                       "referred input (lamps, glints -> bright discs); 1 = off")
    highlight_threshold: float = param(0.7, lo=0.05, hi=0.99,
                                       doc="linear level above which display highlights are "
                                           "expanded before blurring (and compressed after)")
    disc_level: float = param(0.5, lo=0.05, hi=16.0,
                              doc="linear brightness a small highlight's disc aims at (before "
                                  "the highlight compression)")
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
    d = np.ascontiguousarray(disparity, dtype=np.float32)
    out = np.empty(d.shape, np.float32)
    df, of = d.reshape(-1), out.reshape(-1)
    inv_fd, kk = np.float32(1.0 / focus_disparity), np.float32(k)
    fall, cap = np.float32(lens.falloff), np.float32(lens.max_blur * long_side * 0.5)
    run_bands(lambda a, b: _signed_coc_kernel(df[a:b], inv_fd, kk, fall, cap, of[a:b]), df.size,
              min_rows=1 << 16)
    return out


@njit(cache=True, nogil=True, aot="void(f4[::1], f4, f4, f4, f4, f4[::1])")
def _signed_coc_kernel(d, inv_fd, k, falloff, cap, out):  # pragma: no cover - numba
    """out = sign(rel) * min(k * |rel| ** falloff, cap), rel = 1 - d * inv_fd; NaN -> 0."""
    for i in prange(d.shape[0]):
        rel = 1.0 - d[i] * inv_fd
        if rel != rel:
            out[i] = 0.0
            continue
        mag = abs(rel)
        if falloff != 1.0:
            mag = mag ** falloff
        b = min(mag * k, cap)
        out[i] = b if rel >= 0.0 else -b


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


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, ::1], f8, f8, f8, i8, f4[:, :, ::1])")
def _layer_down(rgb, b, lo, c, hi, f, out):  # pragma: no cover - numba
    """Area-downsample by ``f`` the premultiplied colour and alpha of the tent layer (lo, c, hi):
    weight 1 at ``c``, falling linearly to 0 at ``lo`` and ``hi`` (an infinite side stays 1; a
    NaN value weighs 0). ``lo = c = 0, hi = inf`` is the step "at or behind the focal plane"
    (coc >= 0) that the composite's fill needs: one downsampler for both."""
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
                    if v == c:
                        a = 1.0
                    elif v <= c:
                        if lo == -np.inf:
                            a = 1.0
                        elif v >= lo:
                            a = (v - lo) / (c - lo)
                    else:
                        if v != v:  # NaN
                            a = 0.0
                        elif hi == np.inf:
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


@njit(cache=True, nogil=True, aot="void(f4[:, ::1], f8[::1], i8[::1], i8[::1])")
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


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, ::1], f4[:, :, ::1], f4[:, ::1], f4[:, ::1], f4, f4, f4[:, :, ::1])")
def _composite_focus(rgb, coc, back, gy, gx, r0, r1, out):  # pragma: no cover - numba
    """out = back * (1 - a0) + rgb * a0 with the in-focus weight a0 of :func:`_a0` behind the
    plane, 1 in front. ``back`` is the coarse plate, sampled bilinearly through the grids
    ``gy``/``gx`` of :func:`_grid` (never materialised at full resolution)."""
    h, w = coc.shape
    for y in prange(h):
        for x in range(w):
            a = _a0(coc[y, x], r0, r1)
            for ch in range(3):
                bk = _bl(back, ch, gy, gx, y, x) if a < 1.0 else 0.0
                out[y, x, ch] = bk * (1.0 - a) + rgb[y, x, ch] * a


def _grid(n: int, n_src: int, f: int) -> np.ndarray:
    """Bilinear sampling grid, float32 (n, 3) = (i0, i1, weight of i1), of a coarse axis of
    ``n_src`` samples whose sample i is the block [i f, (i + 1) f) of the full axis (``n``)."""
    s = np.clip((np.arange(n, dtype=np.float64) + 0.5) / f - 0.5, 0.0, n_src - 1)
    i0 = np.floor(s)
    i1 = np.minimum(i0 + 1, n_src - 1)
    return np.stack([i0, i1, s - i0], axis=1).astype(np.float32)


@njit(cache=True, inline="always")
def _bl(src, ch, gy, gx, y, x):  # pragma: no cover - numba
    """Bilinear sample of channel ``ch`` of ``src`` at full-resolution pixel (y, x)."""
    y0, y1, wy = int(gy[y, 0]), int(gy[y, 1]), gy[y, 2]
    x0, x1, wx = int(gx[x, 0]), int(gx[x, 1]), gx[x, 2]
    top = src[y0, x0, ch] * (1.0 - wx) + src[y0, x1, ch] * wx
    bot = src[y1, x0, ch] * (1.0 - wx) + src[y1, x1, ch] * wx
    return top * (1.0 - wy) + bot * wy


@njit(cache=True)
def _a0(v, r0, r1):  # pragma: no cover - numba
    """In-focus weight of a pixel with signed CoC ``v`` behind the plane: 1 up to ``r0`` (a
    blur radius below half a pixel is sharp), 0 from ``r1`` (the first blurred layer) on."""
    if v <= r0:
        return 1.0
    a = (r1 - v) / (r1 - r0)
    return a if a > 0.0 else 0.0


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, :, ::1], f4[:, ::1], f4[:, :, ::1], f4[:, :, ::1], f4[:, ::1], f4[:, ::1], f4[:, ::1], f4, f4)")
def _front_composite(out, rgb, coc, fill, front, gy, gx, depth_in, r0, r1):  # pragma: no cover
    """In place: lay the summed foreground (premultiplied colour, alpha) over the plate.

    Behind the plane: ``out * (1 - A) + F`` (normalised where the summed alpha A > 1). In front:
    the pixel's own in-focus share (weight :func:`_a0` of ``-v``) joins the foreground sum; where
    the sum covers less than 1 the rest comes from ``fill`` (the plate around) at an object's
    edge and from the normalised foreground itself deep inside (``depth_in`` px from the edge,
    relative to the local radius), which closes gaps between layers of different blur.
    ``fill`` and ``front`` are coarse, sampled through the grids ``gy``/``gx``."""
    h, w = coc.shape
    for y in prange(h):
        fr = np.empty(4, np.float32)
        fl = np.empty(3, np.float32)
        for x in range(w):
            v = coc[y, x]
            for ch in range(4):
                fr[ch] = _bl(front, ch, gy, gx, y, x)
            fa = fr[3]
            if fa < 0.0:
                fa = 0.0
            if v < 0.0:
                for ch in range(3):
                    fl[ch] = _bl(fill, ch, gy, gx, y, x)
                a = _a0(-v, r0, r1)
                tot = fa + a
                inner = depth_in[y, x] / max(-v, 1.0)
                inner = min(inner, 1.0)
                for ch in range(3):
                    s = fr[ch] + a * rgb[y, x, ch]
                    if tot >= 1.0:
                        out[y, x, ch] = s / tot
                    else:
                        own = s / tot if tot > 1e-6 else fl[ch]
                        f = inner * own + (1.0 - inner) * fl[ch]
                        out[y, x, ch] = s + (1.0 - tot) * f
            elif fa > 0.0:
                if fa > 1.0:
                    for ch in range(3):
                        out[y, x, ch] = fr[ch] / fa
                else:
                    for ch in range(3):
                        out[y, x, ch] = out[y, x, ch] * (1.0 - fa) + fr[ch]


@njit(cache=True)
def _knee_compress(m, t, umax):  # pragma: no cover - numba
    """Inverse of the highlight expansion for one value (identity below ``t``)."""
    if m <= t:
        return m
    z = (m - t) / (1.0 - t)
    return t + (1.0 - t) * (1.0 - math.exp(-z)) / umax


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4, f4)")
def _compress_colour(c, t, umax):  # pragma: no cover - numba
    """In place on (h, w, 3) colour: scale each pixel so its max channel follows the knee."""
    h, w = c.shape[0], c.shape[1]
    for y in prange(h):
        for x in range(w):
            m = max(c[y, x, 0], c[y, x, 1], c[y, x, 2])
            if m > t:
                g = _knee_compress(m, t, umax) / m
                for ch in range(3):
                    c[y, x, ch] *= g


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4, f4)")
def _compress_premult(c, t, umax):  # pragma: no cover - numba
    """In place on (h, w, 4) premultiplied colour + alpha: the knee on the colour (c / alpha)."""
    h, w = c.shape[0], c.shape[1]
    for y in prange(h):
        for x in range(w):
            a = c[y, x, 3]
            if a <= 1e-6:
                continue
            m = max(c[y, x, 0], c[y, x, 1], c[y, x, 2]) / a
            if m > t:
                g = _knee_compress(m, t, umax) / m
                for ch in range(3):
                    c[y, x, ch] *= g


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4, f4[:, ::1], f4[:, ::1])")
def _highlight_maps(lin, t, m, sw):  # pragma: no cover - numba
    """Per pixel: ``m`` = max channel; ``sw`` = smoothstep((m - t) / (1 - t)) times the
    whiteness ``clip((min / max - 0.4) / 0.4, 0, 1)``."""
    h, w = lin.shape[0], lin.shape[1]
    for y in prange(h):
        for x in range(w):
            r, g, b = lin[y, x, 0], lin[y, x, 1], lin[y, x, 2]
            hi = max(r, g, b)
            m[y, x] = hi
            u = (hi - t) / (1.0 - t)
            if u <= 0.0:
                sw[y, x] = 0.0
                continue
            u = min(u, 1.0)
            wh = (min(r, g, b) / hi - 0.4) / 0.4
            wh = min(max(wh, 0.0), 1.0)
            sw[y, x] = u * u * (3.0 - 2.0 * u) * wh


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4, f4, f4[:, :, ::1])")
def _expand_kernel(lin, t, umax, out):  # pragma: no cover - numba
    """out = lin scaled so its max channel m follows the expansion (identity below ``t``)."""
    h, w = lin.shape[0], lin.shape[1]
    for y in prange(h):
        for x in range(w):
            m = max(lin[y, x, 0], lin[y, x, 1], lin[y, x, 2])
            g = 1.0
            if m > t:
                u = min((m - t) / (1.0 - t), 1.0)
                g = (t - (1.0 - t) * math.log1p(-u * umax)) / m
            for ch in range(3):
                out[y, x, ch] = lin[y, x, ch] * g


def _down(x: np.ndarray, f: int) -> np.ndarray:
    """Area-downsample by exactly ``f`` (edge rows/columns replicated up to a multiple of f),
    so block centres land where :func:`_up` expects them."""
    if f == 1:
        return x
    h, w = x.shape[:2]
    ph, pw = -h % f, -w % f
    if ph or pw:
        x = cv2.copyMakeBorder(x, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    y = cv2.resize(x, ((w + pw) // f, (h + ph) // f), interpolation=cv2.INTER_AREA)
    return y if y.ndim == x.ndim else y[..., None]


def _up(x: np.ndarray, shape: tuple[int, int], f: int) -> np.ndarray:
    """Bilinear up-sampling by exactly ``f`` (pixel (i, j) of ``x`` is the block
    [i f, (i + 1) f) x [j f, (j + 1) f)), cropped to ``shape``. An inexact scale would shift
    coarse levels against fine ones by up to ``f`` px (ghost edges)."""
    h, w = shape
    if f == 1:
        return x[:h, :w]
    hs, ws = x.shape[:2]
    y = cv2.resize(x, (ws * f, hs * f), interpolation=cv2.INTER_LINEAR)
    y = y if y.ndim == x.ndim else y[..., None]
    return y[:h, :w]


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, ::1], f4[:, :, ::1], f4[:, :, ::1])")
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


def _normalise_rows(c: np.ndarray, w: np.ndarray, fallback: np.ndarray, out: np.ndarray) -> None:
    run_bands(lambda a, b: _normalise_or(c[a:b], w[a:b], fallback[a:b], out[a:b]), w.shape[0])


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
    _normalise_rows(c, w, np.broadcast_to(mean.astype(np.float32), c.shape).copy(), est)
    for c, w in reversed(levels[:-1]):
        up = np.ascontiguousarray(_up(est, w.shape[:2], 2), dtype=np.float32)
        est = np.empty(c.shape, np.float32)
        _normalise_rows(c, w, up, est)
    return est


def _polar_params(shape: tuple[int, int]) -> tuple[tuple[float, float], float]:
    h, w = shape
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    return centre, math.hypot(w / 2.0, h / 2.0)


@lru_cache(maxsize=16)
def _radius_weight(shape: tuple[int, int], power: float) -> np.ndarray:
    h, w = shape
    (cx, cy), rmax = _polar_params(shape)
    yy = np.arange(h, dtype=np.float32)[:, None]  # broadcast: same values as a full mgrid
    xx = np.arange(w, dtype=np.float32)[None, :]
    rho = np.hypot(xx - cx, yy - cy) / np.float32(rmax)
    return (rho**power).astype(np.float32)[..., None]


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, ::1], f4[:, ::1], f4, f4, f4, f4, f4[:, :, ::1], i8, i8)")
def _swirl_plate(src, rad, seen, amount, cx, cy, rmax, dst, r0, r1):  # pragma: no cover
    """Rotational (swirl) blur of the background plate ``src`` (h, w, C): at each pixel a tent
    with the variance of a box of ``amount * 2 * rad * rho * min(1.5 rho, 1)`` px along the
    tangent of the circle around the frame centre (``rho`` = distance / ``rmax``; ``rad`` = local
    disc radius, px), so bright discs stretch into soft-ended ovals, not hard streaks. At most 11
    bilinear taps (the plate is already blurred by a disc of that radius). Pixels where the plate
    is not seen (``seen`` <= 0: under the in-focus subject) are copied. Rows [r0, r1)."""
    h, w, nc = src.shape
    # normalised tent weights and tap offsets per odd tap count n (3..11), once
    wtab = np.zeros((12, 11))
    otab = np.zeros((12, 11))
    for n in range(3, 12, 2):
        wsum = 0.0
        for i in range(n):
            wsum += 1.0 - abs(2.0 * i / (n - 1) - 1.0) + 1e-3
        for i in range(n):
            wtab[n, i] = (1.0 - abs(2.0 * i / (n - 1) - 1.0) + 1e-3) / wsum
            otab[n, i] = i / (n - 1) - 0.5
    for y in range(r0, r1):
        for x in range(w):
            if seen[y, x] <= 0.0:
                for ch in range(nc):
                    dst[y, x, ch] = src[y, x, ch]
                continue
            dx = x - cx
            dy = y - cy
            r = math.sqrt(dx * dx + dy * dy)
            rho = r / rmax
            wgt = rho * min(1.5 * rho, 1.0)
            length = amount * 2.0 * rad[y, x] * wgt
            if length < 1.0 or r < 1e-6:
                for ch in range(nc):
                    dst[y, x, ch] = src[y, x, ch]
                continue
            tx = -dy / r
            ty = dx / r
            span = 1.41 * length  # a tent of the box's variance: no hard-ended streaks
            n = min(int(span) + 2, 11) | 1
            for ch in range(nc):
                dst[y, x, ch] = 0.0
            for i in range(n):
                wt = wtab[n, i]
                o = otab[n, i] * span
                sx = min(max(x + o * tx, 0.0), w - 1.0)
                sy = min(max(y + o * ty, 0.0), h - 1.0)
                x0 = min(int(sx), w - 2) if w > 1 else 0
                y0 = min(int(sy), h - 2) if h > 1 else 0
                fx = sx - x0
                fy = sy - y0
                x1 = min(x0 + 1, w - 1)
                y1 = min(y0 + 1, h - 1)
                for ch in range(nc):
                    v = ((src[y0, x0, ch] * (1.0 - fx) + src[y0, x1, ch] * fx) * (1.0 - fy)
                         + (src[y1, x0, ch] * (1.0 - fx) + src[y1, x1, ch] * fx) * fy)
                    dst[y, x, ch] += v * wt


def _blur_layer(x: np.ndarray, radius: float, lens: LensParams) -> np.ndarray:
    """Aperture blur of a (h, w, 4) premultiplied layer plus the lens' cat-eye (the swirl is
    applied once to the whole background plate, see :func:`_swirl_plate`)."""
    k = aperture_kernel(radius, lens)
    y = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT)
    if lens.cat_eye > 0 and radius >= 1.0:
        k2 = aperture_kernel(radius * (1.0 - lens.cat_eye), lens)
        y2 = cv2.filter2D(x, -1, k2, borderType=cv2.BORDER_REFLECT)
        wgt = _radius_weight(x.shape[:2], 2.0)
        y2 -= y  # y + wgt * (y2 - y), in place (same float32 operations, no temporaries)
        y2 *= wgt
        y += y2
        del y2
    return y.astype(np.float32, copy=False)


# --------------------------------------------------------------------------------- renderer


def render_linear(rgb: np.ndarray, coc: np.ndarray, lens: LensParams, *, quality: float = 1.0,
                  glow_long_side: int | None = None, light: np.ndarray | None = None,
                  knee: HighlightKnee | None = None,
                  matte: np.ndarray | None = None) -> np.ndarray:
    """Render depth of field on linear RGB (H, W, 3) float32 given a signed CoC radius map (px).

    ``rgb`` is what the in-focus pixels show (untouched where ``coc`` is 0). ``light``: optional
    radiance (same shape) that the *blurred* layers spread instead of ``rgb`` (display input with
    expanded highlights, see :func:`expand_highlights`); ``knee`` then maps the blurred colour
    back (its :meth:`HighlightKnee.compress`, the inverse of the expansion), so an unblurred area
    round-trips and only out-of-focus light blooms. ``matte``: optional float32 (H, W) [0, 1]
    coverage of an in-focus subject (see :func:`matte_coc`): the result is then
    ``matte * rgb + (1 - matte) * background`` across the subject's edge (the blurred background
    passes behind it) instead of a per-pixel switch on the CoC. Returns float32 (H, W, 3) linear
    light.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.float32:
        raise ContractError(f"render_linear needs float32 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if coc.shape != rgb.shape[:2]:
        raise ContractError(f"CoC map shape {coc.shape} does not match image {rgb.shape[:2]}")
    if light is not None and (light.shape != rgb.shape or light.dtype != np.float32):
        raise ContractError(f"light must match the image {rgb.shape} float32, got "
                            f"{light.dtype} {light.shape}")
    h, w = coc.shape
    rgb = np.ascontiguousarray(rgb)
    src = rgb if light is None else np.ascontiguousarray(light)
    light = None
    coc = np.ascontiguousarray(coc, dtype=np.float32)
    if np.isnan(coc).any():
        coc = np.nan_to_num(coc, nan=0.0)
    if matte is not None and matte.shape != coc.shape:
        raise ContractError(f"matte shape {matte.shape} does not match image {rgb.shape[:2]}")
    maxr = max(float(coc.max()), -float(coc.min())) if coc.size else 0.0
    if maxr <= SHARP_RADIUS and lens.glow <= 0:
        return rgb.copy()
    maxr = max(maxr, 0.25)
    radii = layer_ladder(maxr, quality)
    r1 = float(radii[0])
    r0 = min(SHARP_RADIUS, 0.5 * r1)  # |CoC| up to r0 is in focus: those pixels are untouched
    # CoC the focus composite reads: a matte value m gives in-focus weight max(a0(coc), m)
    cfocus = coc if matte is None else _matte_focus_coc(coc, matte, r0, r1)
    base_f = 2 if max(h, w) >= 2400 and quality <= 1.0 else 1
    hb, wb = -(-h // base_f), -(-w // base_f)

    # occupied layers: tent j spans (radii[j-1], radii[j+1]); bins of |CoC| between rungs
    edges = np.concatenate([radii, [np.inf]])
    hist_b = np.zeros(len(edges) + 1, np.int64)
    hist_f = np.zeros(len(edges) + 1, np.int64)
    _occupancy(coc, edges, hist_b, hist_f)  # bin 0: (0, r1), bin j: [r_{j-1}, r_j)

    def occupied(hist: np.ndarray, j: int) -> bool:  # layer radii[j] (j >= 0)
        return bool(hist[j] + hist[j + 1] > 0)

    def level_of(radius: float) -> int:
        """Downsampling factor (a multiple of base_f) where the kernel radius is <= R_MAX."""
        f = base_f
        while radius / f > R_MAX * quality:
            f *= 2
        return f

    def blurred_layer(c: float, lo: float, hi: float, acc: dict, racc: dict | None) -> None:
        """Tent layer (lo, c, hi) taken straight from full resolution to its own level,
        blurred there and summed into that level's accumulator (``racc``: its alpha times its
        radius, to know the local disc radius of the plate)."""
        f = level_of(abs(c))
        out = np.empty((-(-h // f), -(-w // f), 4), np.float32)
        run_bands(lambda a, b: _layer_down(src[a * f:b * f], coc[a * f:b * f], float(lo), float(c),
                                           float(hi), f, out[a:b]), out.shape[0])
        y = _blur_layer(out, abs(c) / f, lens)
        if f in acc:
            acc[f] += y
        else:
            acc[f] = y
        if racc is not None:
            ra = y[..., 3:] * np.float32(abs(c))
            if f in racc:
                racc[f] += ra
            else:
                racc[f] = ra

    def collapse(acc: dict, nc: int = 4) -> np.ndarray:
        tot = np.zeros((hb, wb, nc), np.float32)
        for f, y in acc.items():
            tot += _up(y, (hb, wb), f // base_f)
        return tot

    n = len(radii)
    # background (behind the focal plane): every layer blurred as premultiplied colour + alpha
    # and summed (light adds up, tents split nothing), then normalised by the summed alpha: near
    # the subject the plate is the average of the *visible* background only (no halo, no dark
    # rim); deep under the subject it is filled by pull-push from around.
    levels: dict = {}
    rlevels: dict | None = {} if lens.swirl > 0 else None
    for j in range(n - 1, -1, -1):
        if occupied(hist_b, j):
            lo = radii[j - 1] if j > 0 else r0
            hi = radii[j + 1] if j + 1 < n else np.inf
            blurred_layer(radii[j], lo, hi, levels, rlevels)
    acc = collapse(levels)
    del levels
    if rlevels:
        acc5 = np.concatenate([acc[..., :3], collapse(rlevels, 1)], axis=2)
        plate = pull_push_fill(acc5, np.clip(acc[..., 3], 0.0, None))
        del acc5
        back = np.empty((hb, wb, 3), np.float32)
        (cx, cy), rmax = _polar_params((hb, wb))
        run_bands(_swirl_plate, hb, np.ascontiguousarray(plate[..., :3]),
                  np.ascontiguousarray(plate[..., 3] / np.float32(base_f)),
                  np.ascontiguousarray(cv2.dilate(acc[..., 3], np.ones((3, 3), np.uint8))),
                  np.float32(lens.swirl), np.float32(cx), np.float32(cy), np.float32(rmax), back)
        del plate
    else:
        back = pull_push_fill(acc[..., :3], np.clip(acc[..., 3], 0.0, None))
    del acc, rlevels
    if knee is not None:
        kt, ku = np.float32(knee.threshold), np.float32(knee.umax)
        run_bands(lambda a, b: _compress_colour(back[a:b], kt, ku), hb)

    # foreground (in front of the plane): layers summed as premultiplied colour + alpha
    flevels: dict = {}
    for j in range(n):
        if occupied(hist_f, j):
            lo = -radii[j + 1] if j + 1 < n else -np.inf
            hi = -radii[j - 1] if j > 0 else -r0
            blurred_layer(-radii[j], lo, hi, flevels, None)
    front = None
    if flevels:
        front = collapse(flevels)
        del flevels
        if knee is not None:
            kt, ku = np.float32(knee.threshold), np.float32(knee.umax)
            run_bands(lambda a, b: _compress_premult(front[a:b], kt, ku), hb)
    del src

    # in focus at full resolution (pixels in front of the plane keep their own colour here;
    # their blur comes with the foreground below)
    out = np.empty((h, w, 3), np.float32)
    gy, gx = _grid(h, hb, base_f), _grid(w, wb, base_f)
    fr0, fr1 = np.float32(r0), np.float32(r1)
    run_bands(lambda a, b: _composite_focus(rgb[a:b], cfocus[a:b], back, gy[a:b], gx, fr0, fr1,
                                            out[a:b]), h)
    del back
    if lens.glow > 0:
        out = _glow(out, rgb, cfocus, np.float32(r0), np.float32(r1), lens,
                    glow_long_side or max(h, w))
    del cfocus

    if front is not None:
        # what lies behind the foreground is unknown: near the edge of a foreground object it is
        # filled from the plate around it; deep inside, from the foreground itself (so gaps
        # between foreground layers never show an unrelated colour)
        pb = np.empty((hb, wb, 4), np.float32)
        run_bands(lambda a, b: _layer_down(out[a * base_f:b * base_f], coc[a * base_f:b * base_f],
                                           0.0, 0.0, np.inf, base_f, pb[a:b]), hb)
        fill = pull_push_fill(pb[..., :3], pb[..., 3])
        del pb
        fmask = (coc < 0.0).astype(np.uint8)
        depth_in = cv2.distanceTransform(fmask, cv2.DIST_L2, 3)
        del fmask
        run_bands(lambda a, b: _front_composite(out[a:b], rgb[a:b], coc[a:b], fill, front,
                                                gy[a:b], gx, depth_in[a:b], fr0, fr1), h)
    np.maximum(out, 0.0, out=out)
    return out


MATTE_EXCLUDE = 0.25  # matte above this: the pixel is subject, kept out of the blurred layers


def _matte_focus_coc(coc: np.ndarray, matte: np.ndarray, r0: float, r1: float) -> np.ndarray:
    """CoC for the focus composite such that :func:`_a0` gives ``max(a0(coc), matte)`` behind
    the plane (``_a0`` is linear from ``r0`` to ``r1``); pixels in front keep their CoC."""
    m = np.clip(matte, 0.0, 1.0).astype(np.float32)
    lim = np.float32(r0) + (np.float32(1.0) - m) * np.float32(r1 - r0)
    lim[m <= 0.0] = np.inf
    return np.where(coc > 0.0, np.minimum(coc, lim), coc).astype(np.float32)


def matte_coc(coc: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The CoC the blurred layers use with an in-focus subject matte (float32 (H, W) [0, 1]):
    pixels the matte covers more than :data:`MATTE_EXCLUDE` are in focus (CoC 0), so they are
    composited by the matte and not spread into the background plate as their own discs
    (which left sharp subject pixels and subject-coloured smears along the edge)."""
    return np.where(matte > MATTE_EXCLUDE, np.float32(0.0), coc).astype(np.float32)


@njit(cache=True)
def _glow_weight(r, g, b, amount, thr):  # pragma: no cover - numba
    m = max(r, g, b)
    t = (m - thr) / (1.0 - thr)
    if t <= 0.0:
        return 0.0
    t = min(t, 1.0)
    return t * t * (3.0 - 2.0 * t) * amount


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, ::1], f4, f4, f4, f4, i8, f4[:, :, ::1])")
def _glow_down(rgb, coc, r0, r1, amount, thr, f, dst):  # pragma: no cover - numba
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
                    a = _a0(coc[y, x], r0, r1)
                    r, g, b = rgb[y, x, 0] * a, rgb[y, x, 1] * a, rgb[y, x, 2] * a
                    k = _glow_weight(r, g, b, amount, thr)
                    s0 += k * r
                    s1 += k * g
                    s2 += k * b
            inv = 1.0 / ((y1 - y0) * (x1 - x0))
            dst[oy, ox, 0] = s0 * inv
            dst[oy, ox, 1] = s1 * inv
            dst[oy, ox, 2] = s2 * inv


@njit(cache=True, nogil=True, aot="void(f4[:, :, ::1], f4[:, :, ::1], f4[:, ::1], f4, f4, f4[:, :, ::1], f4[:, ::1], f4[:, ::1], f4, f4, f4)")
def _glow_apply(out, rgb, coc, r0, r1, halo, gy, gx, amount, thr, keep):  # pragma: no cover
    """In place: take the glowing light out of the sharp image and add it back as a halo
    (``halo`` coarse, sampled through the grids ``gy``/``gx``)."""
    h, w = out.shape[0], out.shape[1]
    for y in prange(h):
        for x in range(w):
            a = _a0(coc[y, x], r0, r1)
            r, g, b = rgb[y, x, 0] * a, rgb[y, x, 1] * a, rgb[y, x, 2] * a
            k = _glow_weight(r, g, b, amount, thr)
            k *= 1.0 - keep
            out[y, x, 0] += _bl(halo, 0, gy, gx, y, x) - k * r
            out[y, x, 1] += _bl(halo, 1, gy, gx, y, x) - k * g
            out[y, x, 2] += _bl(halo, 2, gy, gx, y, x) - k * b


def _glow(out: np.ndarray, rgb: np.ndarray, coc: np.ndarray, r0: np.float32, r1: np.float32,
          lens: LensParams,
          long_side: int) -> np.ndarray:
    """Soft-focus glow: the bright part of the in-focus layer (``rgb`` times the in-focus weight
    from ``coc``; weight ``glow * smoothstep((max(rgb) - g) / (1 - g))`` with
    ``g = lens.glow_threshold``) spreads into a Gaussian halo of sigma
    ``glow_radius * long_side``. A fraction ``1 - lens.glow_core`` of the glowing light is
    taken from the sharp image (``glow_core`` = 0 conserves light, 1 keeps the core as it was);
    midtone detail stays, highlights bloom. Modifies ``out`` in place and returns it."""
    h, w = out.shape[:2]
    sigma = lens.glow_radius * long_side
    gf = max(1, int(sigma // 4))
    small = np.empty((-(-h // gf), -(-w // gf), 3), np.float32)
    thr = np.float32(lens.glow_threshold)
    amount = np.float32(lens.glow)
    run_bands(lambda a, b: _glow_down(rgb[a * gf:b * gf], coc[a * gf:b * gf], r0, r1, amount, thr,
                                      gf, small[a:b]), small.shape[0])
    halo = cv2.GaussianBlur(small, (0, 0), max(sigma / gf, 0.5), borderType=cv2.BORDER_REFLECT)
    halo = np.ascontiguousarray(halo, dtype=np.float32)
    gy, gx = _grid(h, halo.shape[0], gf), _grid(w, halo.shape[1], gf)
    keep = np.float32(lens.glow_core)
    run_bands(lambda a, b: _glow_apply(out[a:b], rgb[a:b], coc[a:b], r0, r1, halo, gy[a:b], gx,
                                       amount, thr, keep), h)
    return out


@dataclass(frozen=True)
class HighlightKnee:
    """The display-highlight expansion and its inverse, on a pixel's max channel ``m`` (linear).

    Below ``threshold`` both are the identity. Above it, with ``u = (m - t) / (1 - t)``, the
    expansion is ``t + (1 - t) * -ln(1 - u * umax)`` (1.0 -> ``t + (1 - t) * -ln(1 - umax)``)
    and :meth:`compress` is its exact inverse ``t + (1 - t) * (1 - exp(-z)) / umax``, defined for
    any ``z = (m - t) / (1 - t) >= 0`` (so summed light rolls off smoothly instead of clipping).
    """

    threshold: float
    umax: float = 0.995

    def expand(self, m: np.ndarray) -> np.ndarray:
        t = self.threshold
        u = np.clip((np.asarray(m, np.float64) - t) / (1 - t), 0.0, 1.0)
        return np.where(m > t, t - (1 - t) * np.log1p(-u * self.umax), m)

    def compress(self, m: np.ndarray) -> np.ndarray:
        t = self.threshold
        z = np.maximum((np.asarray(m, np.float64) - t) / (1 - t), 0.0)
        return np.where(m > t, t + (1 - t) * (1 - np.exp(-z)) / self.umax, m)


def expand_highlights(lin: np.ndarray, coc: np.ndarray, knee: HighlightKnee, boost: float,
                      disc_level: float) -> np.ndarray:
    """Radiance for the blurred layers of display-referred ``lin`` (float32 (H, W, 3) in [0, 1]).

    Every pixel above ``knee.threshold`` is expanded by the knee (inverted after blurring). A
    *small*, near-white highlight (brighter than its surroundings by a white top-hat of width
    ~0.6 % of the long side; min/max channel ratio above 0.4, full weight from 0.8: a lamp, a
    glint, a crystal, not a sunlit leaf) was clipped far below its true brightness: each such
    blob gets an extra gain so that, spread over its disc of confusion (radius = the blob's mean
    ``|coc|``), the disc reaches ``disc_level`` (linear, before the knee's compression), at most
    ``boost``. Large bright areas (sky, a white wall) get no extra gain, so they do not flood
    their surroundings. float32 (H, W, 3) >= 0.
    """
    t = knee.threshold
    h, w = lin.shape[:2]
    m = np.empty((h, w), np.float32)
    sw = np.empty((h, w), np.float32)
    lin = np.ascontiguousarray(lin, dtype=np.float32)
    ft = np.float32(t)
    run_bands(lambda a, b: _highlight_maps(lin[a:b], ft, m[a:b], sw[a:b]), h)
    idx = np.zeros(0, np.int64)
    if boost > 1.0 and float(sw.max()) > 0.25:
        rho = max(2, round(0.003 * max(h, w)))
        se = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * rho + 1, 2 * rho + 1))
        tophat = m - cv2.morphologyEx(m, cv2.MORPH_OPEN, se)
        del m
        peak = sw * np.clip(tophat * np.float32(2.0 / (1.0 - t)), 0.0, 1.0)
        del tophat, sw
        blob = (peak > 0.25).astype(np.uint8)
        n, labels = cv2.connectedComponents(blob, connectivity=8, ltype=cv2.CV_32S)
        idx = np.flatnonzero(blob)
        if idx.size:
            lab = labels.ravel()[idx]
            pv = peak.ravel()[idx]
            energy = np.bincount(lab, weights=pv, minlength=n)
            count = np.bincount(lab, minlength=n)
            rad = np.bincount(lab, weights=np.abs(coc.ravel()[idx]), minlength=n)
            rad = rad / np.maximum(count, 1)
            full = float(knee.expand(np.float64(1.0)))
            g = disc_level * np.pi * np.maximum(rad, 0.5) ** 2 / (np.maximum(energy, 1e-6) * full)
            g = np.clip(g, 1.0, boost)
            g[0] = 1.0
            gain_idx = (1.0 + (g[lab] - 1.0) * pv).astype(np.float32)
        del labels, peak, blob
    out = np.empty_like(lin)
    fu = np.float32(knee.umax)
    run_bands(lambda a, b: _expand_kernel(lin[a:b], ft, fu, out[a:b]), h)
    if idx.size:
        flat = out.reshape(-1, 3)
        flat[idx] *= gain_idx[:, None]
    return out


def render_bokeh(img: Image, disparity: np.ndarray, focus_disparity: float, lens: LensParams,
                 params: BokehParams = BokehParams(), *,
                 matte: np.ndarray | None = None) -> Image:
    """Render ``img`` through ``lens`` focused at ``focus_disparity``.

    ``img``: any RGB Image (linear or sRGB-encoded, scene or display-referred); rendering runs in
    linear light and the result has the same space/encoding/referred as the input (display-
    referred output clipped to [0, 1]). ``disparity``: float32 (H, W) >= 0, proportional to
    1/distance (resized to the image if needed). ``matte``: optional float32 (H, W) [0, 1]
    coverage of the subject standing at disparity 1 (layered depth); when that plane is in focus
    the subject's edge is composited by the matte over the blurred background.
    """
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
    long_side = max(img.height, img.width)
    coc = signed_coc(d, focus_disparity, lens, f_number, params.framing, long_side)
    if matte is not None:
        m = np.asarray(matte, np.float32)
        if m.shape != d.shape:
            raise ContractError(f"matte shape {m.shape} does not match image {d.shape}")
        one = signed_coc(np.ones((1, 1), np.float32), focus_disparity, lens, f_number,
                         params.framing, long_side)
        if abs(float(one[0, 0])) <= SHARP_RADIUS:  # the subject is in focus
            matte = m
            coc = matte_coc(coc, m)
        else:
            matte = None
    knee = None
    if display and params.highlight_boost > 1.0 and params.highlight_threshold < 1.0:
        knee = HighlightKnee(params.highlight_threshold)
    # the expanded radiance is passed without keeping a reference here, so render_linear can
    # free it as soon as the blurred layers are made
    out = render_linear(lin, coc, lens, quality=params.quality, knee=knee, matte=matte,
                        light=None if knee is None else expand_highlights(
                            lin, coc, knee, params.highlight_boost, params.disc_level))
    if display and img.encoding is Encoding.SRGB:
        out = srgb_encode_fast(out, out=out)  # clips to [0, 1]
    else:
        if display:
            np.clip(out, 0.0, 1.0, out=out)
        if img.encoding is not Encoding.LINEAR:
            out = encode(out, img.encoding)
    return img.with_data(np.ascontiguousarray(out, dtype=np.float32))
