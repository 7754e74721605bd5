"""Stage 5: raw-domain noise reduction on the white-balanced mosaic (RAW_NORM -> RAW_NORM).

It runs before demosaic and before the colour matrix, where the noise is still white, its
variance per channel is known (``variance = S * x + O``, DNG NoiseProfile) and no clamp at 0
has biased the shadows yet (a clamped noisy shadow turns olive/magenta; a denoised one does
not). Each 2x2 Bayer quad (R, G1, G2, B) becomes four half-resolution planes

    Y = (R + G1 + G2 + B) / 4,  C1 = R - G,  C2 = B - G,  D = G1 - G2   (G = (G1 + G2) / 2)

(invertible; LINEAR raws use R, G, G, B per pixel, D = 0):

* **chroma** (C1, C2): averaged over 4x4 quads (8x8 sites), filtered there by a cross
  bilateral (5x5, range on Y and chroma scaled by their noise sigma), brought back by bilinear
  upsampling; the full-resolution chroma keeps only the part of its
  difference to that estimate that stands above the noise (garrote shrinkage), so colour
  blotches go and real colour edges stay; low-res chroma within ~1.5 noise sigma of neutral
  is pulled towards neutral (deep shadows lose their noise colour cast). The smooth chroma is
  carried as a ratio to the low-res luma and multiplied by the denoised luma when upsampled,
  so the texture of a coloured surface (foliage: R, G, B modulated together) is not flattened;
* **luma** (Y): gentle: the 3x3 high-pass of Y and its 3x3 - 5x5 binomial band are
  garrote-shrunk at a multiple (``luma``) of their noise sigma (texture above the noise is kept);
* **green split** (D): shrunk towards 0 at its noise sigma (removes G1/G2 imbalance "maze").

The noise model per channel is the DNG NoiseProfile scaled by the white-balance gains
(``S' = g S``, ``O' = g^2 O``), or, without one, fitted to the mosaic itself
(:func:`estimate_noise`). Values above 1 and negatives are kept (not clipped); NaN/inf sites
raise :class:`ContractError` (they would spread through the filters), as in demosaic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import CFA, NoiseProfile, RawImage
from rawlux.core.jit import njit, run_bands
from rawlux.core.params import StageParams, param
from rawlux.core.pipeline import RAW_NORM, StageDef

# Tuning constants (noise-sigma multiples), chosen on synthetic scenes (benchmarks/detail.py).
K_LUMA = 2.5      # luma high-pass garrote threshold at luma = 1
K_CHROMA_BIL = 2.5  # bilateral range sigma on low-res chroma
K_GUIDE = 2.0     # bilateral range sigma on low-res luma (guide)
K_RESID = 2.0     # garrote threshold of the full-res chroma residual
K_SPLIT = 2.5     # garrote threshold of G1 - G2
K_MID = 2.5       # luma 3x3 - 5x5 band garrote threshold at luma = 1
K_GATE = 1.5      # low-res chroma below this many noise sigmas is pulled towards neutral
#: Chroma is filtered on means of LOW x LOW quads (2 LOW x 2 LOW sites).
LOW = 4


@dataclass(frozen=True)
class DenoiseParams(StageParams):
    """Raw-domain noise reduction (0 = off for each strength)."""

    strength: float = param(0.5, lo=0.0, hi=1.0, doc="overall noise reduction (0 = off, 0.5 = default, 1 = strong)")
    luma: float = param(0.5, lo=0.0, hi=1.0, doc="luminance share: threshold in noise sigmas / K at strength 1")
    chroma: float = param(1.0, lo=0.0, hi=1.0, doc="colour-noise share (blend towards the filtered chroma)")


# ------------------------------------------------------------------------------ kernels


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(f4[:, ::1], i8[::1], f4[:, :, ::1], f4[:, :, ::1], i8, i8)")
def _analyse(data, sites, q, lo, r0, r1):  # pragma: no cover - compiled
    """Low-res rows r0 .. r1: quads -> planar q (4, Hq, Wq: Y, C1, C2, D) and LOW x LOW-quad
    means of (Y, C1, C2) -> lo (Hl, Wl, 3). ``sites`` = flat 2x2 site index of R, G1, G2, B."""
    hq, wq = q.shape[1], q.shape[2]
    wl = lo.shape[1]
    ry, rx = sites[0] // 2, sites[0] % 2
    g1y, g1x = sites[1] // 2, sites[1] % 2
    g2y, g2x = sites[2] // 2, sites[2] % 2
    by, bx = sites[3] // 2, sites[3] % 2
    acc = np.empty((3, wq), np.float32)
    a0 = acc[0]  # 1-D row views: 2-D indexing in the inner loop blocks vectorisation
    a1 = acc[1]
    a2 = acc[2]
    half = np.float32(0.5)
    quarter = np.float32(0.25)
    for li in range(r0, r1):
        acc[:] = 0.0
        nrow = 0
        for qi in range(LOW * li, min(LOW * li + LOW, hq)):
            nrow += 1
            rr = data[2 * qi + ry]
            r1r = data[2 * qi + g1y]
            r2r = data[2 * qi + g2y]
            rb = data[2 * qi + by]
            qy = q[0, qi]
            qc1 = q[1, qi]
            qc2 = q[2, qi]
            qd = q[3, qi]
            for qj in range(wq):
                r = rr[2 * qj + rx]
                g1 = r1r[2 * qj + g1x]
                g2 = r2r[2 * qj + g2x]
                b = rb[2 * qj + bx]
                g = half * (g1 + g2)
                yv = quarter * (r + g1 + g2 + b)
                qy[qj] = yv
                qc1[qj] = r - g
                qc2[qj] = b - g
                qd[qj] = g1 - g2
            for qj in range(wq):  # separate loop: fewer arrays per loop, so it vectorises
                a0[qj] += qy[qj]
                a1[qj] += qc1[qj]
                a2[qj] += qc2[qj]
        for lj in range(wl):
            j0 = LOW * lj
            j1 = min(j0 + LOW, wq)
            inv = np.float32(1.0) / np.float32(nrow * (j1 - j0))
            for c in range(3):
                t = np.float32(0.0)
                for j in range(j0, j1):
                    t += acc[c, j]
                lo[li, lj, c] = t * inv


@njit(cache=True, inline="always", error_model="numpy")
def _variances(model, yv, c1, c2):  # pragma: no cover - compiled
    """Noise variances of R, G1, G2, B at the levels implied by (Y, C1, C2)."""
    return _variances_s(model[0], model[1], model[2], model[3], model[4], model[5], model[6],
                        model[7], yv, c1, c2)


@njit(cache=True, inline="always", error_model="numpy")
def _variances_s(sr, orr, sg1, og1, sg2, og2, sb, ob, yv, c1, c2):  # pragma: no cover - compiled
    """:func:`_variances` with the model as scalars (hoisted out of hot loops)."""
    g = yv - np.float32(0.25) * (c1 + c2)
    z = np.float32(0.0)
    gp = max(g, z)
    return (sr * max(g + c1, z) + orr, sg1 * gp + og1, sg2 * gp + og2, sb * max(g + c2, z) + ob)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(f4[:, :, ::1], f4[::1], f4, f4, f4, f4[:, :, ::1], i8, i8)")
def _chroma_bilateral(lp, model, kc, kg, kgate, out, r0, r1):  # pragma: no cover - compiled
    """Cross bilateral 5x5 of the low-res chroma guided by the low-res luma -> planar
    ``out`` (2, Hl, Wl); then chroma below ``kgate`` x its noise sigma is pulled towards neutral
    (a garrote on its magnitude: low-SNR shadows lose their noise colour, not detail).
    ``lp`` = planar (Y, C1, C2) means of LOW x LOW quads, edge-padded by 2 on every side.
    Loops run along rows over 1-D views (they vectorise)."""
    wl = out.shape[2]
    half = np.float32(0.5)
    one = np.float32(1.0)
    m0, m1, m2, m3, m4, m5, m6, m7 = (model[0], model[1], model[2], model[3], model[4], model[5],
                                      model[6], model[7])
    buf = np.empty((7, wl), np.float32)
    iy = buf[0]
    ic = buf[1]
    vm = buf[2]
    s1 = buf[3]
    s2 = buf[4]
    sw = buf[5]
    yfloor = buf[6]
    for i in range(r0, r1):
        y0 = lp[0, i + 2]
        c10 = lp[1, i + 2]
        c20 = lp[2, i + 2]
        for j in range(wl):
            vr, vg1, vg2, vb = _variances_s(m0, m1, m2, m3, m4, m5, m6, m7, y0[j + 2], c10[j + 2], c20[j + 2])
            # variance of a mean of n = LOW^2 quads of C1 + C2 and of Y; differences of two -> x2
            vmean = (vr + vb + half * (vg1 + vg2)) * np.float32(1.0 / (LOW * LOW))
            vm[j] = vmean
            ic[j] = half / (kc * kc * np.float32(2.0) * vmean + np.float32(1e-12))
            vyl = (vr + vg1 + vg2 + vb) * np.float32(1.0 / (16.0 * LOW * LOW))
            iy[j] = half / (kg * kg * np.float32(2.0) * vyl + np.float32(1e-12))
            yfloor[j] = max(y0[j + 2], np.float32(3.0) * np.sqrt(vyl) + np.float32(1e-6))
            s1[j] = 0.0
            s2[j] = 0.0
            sw[j] = 0.0
        for di in range(-2, 3):
            yr = lp[0, i + 2 + di]
            c1r = lp[1, i + 2 + di]
            c2r = lp[2, i + 2 + di]
            for dj in range(-2, 3):
                sp = np.float32(di * di + dj * dj) * np.float32(0.125)
                o = 2 + dj
                for j in range(wl):
                    dy = yr[j + o] - y0[j + 2]
                    n1 = c1r[j + o]
                    n2 = c2r[j + o]
                    d1 = n1 - c10[j + 2]
                    d2 = n2 - c20[j + 2]
                    # capped: past 1e4 the weight is < 1e-11 anyway, and e^3 must not overflow
                    e = min(sp + dy * dy * iy[j] + (d1 * d1 + d2 * d2) * ic[j], np.float32(1e4))
                    # exp(-e) ~ 1 / (1 + e + e^2/2 + e^3/6): no exp, heavy enough fall-off
                    w = one / (one + e * (one + e * (half + e * np.float32(1.0 / 6.0))))
                    s1[j] += w * n1
                    s2[j] += w * n2
                    sw[j] += w
        o1 = out[0, i]
        o2 = out[1, i]
        for j in range(wl):
            f1 = s1[j] / sw[j]
            f2 = s2[j] / sw[j]
            mm = f1 * f1 + f2 * f2
            gate = mm / (mm + kgate * kgate * vm[j] + np.float32(1e-30)) / yfloor[j]
            o1[j] = f1 * gate  # chroma / luma: upsampled, it is multiplied by the local luma
            o2[j] = f2 * gate


@njit(cache=True, inline="always", error_model="numpy")
def _garrote(d, t2):  # pragma: no cover - compiled
    """Smooth shrinkage d^3 / (d^2 + t^2): small values attenuated, never zeroed (texture)."""
    d2 = d * d
    return d * d2 / (d2 + t2 + np.float32(1e-30))


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(f4[:, :, ::1], f4[:, :, ::1], f4[::1], f4[::1], i8[::1], f4[:, ::1], f4[:, :, ::1], b1, i8, i8)")
def _rebuild(q, cden, model, k, sites, mosaic, planes, to_mosaic, r0, r1):  # pragma: no cover
    """Quad rows r0 .. r1: denoise planar (Y, C1, C2, D) and write the mosaic sites
    (``to_mosaic``) or R, G, B per quad into ``planes`` (LINEAR raws). ``k`` = (luma t,
    residual t, split t, chroma blend) in noise sigmas. Row buffers keep the inner loop
    branch-free over contiguous arrays (it vectorises)."""
    hq, wq = q.shape[1], q.shape[2]
    hl, wl = cden.shape[1], cden.shape[2]
    kl2 = k[0] * k[0] * np.float32(0.64 / 16.0)  # 3x3 binomial high-pass of white noise: 0.8 sigma
    km2 = k[4] * k[4] * np.float32(0.0201 / 16.0)  # 3x3 - 5x5 binomial band: 0.142 sigma
    kr2 = k[1] * k[1]
    kd2 = k[2] * k[2]
    amt = k[3]
    one = np.float32(1.0)
    half = np.float32(0.5)
    quarter = np.float32(0.25)
    ry, rx = sites[0] // 2, sites[0] % 2
    g1y, g1x = sites[1] // 2, sites[1] % 2
    g2y, g2x = sites[2] // 2, sites[2] % 2
    by, bx = sites[3] // 2, sites[3] % 2
    m0, m1, m2, m3, m4, m5, m6, m7 = (model[0], model[1], model[2], model[3], model[4], model[5],
                                      model[6], model[7])
    lx0 = np.empty(wq, np.int64)
    lx1 = np.empty(wq, np.int64)
    wxa = np.empty(wq, np.float32)
    for qj in range(wq):
        fx = (np.float32(qj) - np.float32(0.5 * (LOW - 1))) * np.float32(1.0 / LOW)
        x0 = int(np.floor(fx))
        wxa[qj] = fx - np.float32(x0)
        lx1[qj] = min(max(x0 + 1, 0), wl - 1)
        lx0[qj] = min(max(x0, 0), wl - 1)
    vv = np.empty((2, wq + 4), np.float32)
    v3 = vv[0]
    v5 = vv[1]
    cv = np.empty((2, wl), np.float32)
    cs = np.empty((2, wq), np.float32)
    orow = np.empty((4, wq), np.float32)
    # 1-D row views: 2-D indexing in the inner loop blocks vectorisation
    cv0 = cv[0]
    cv1 = cv[1]
    cs0 = cs[0]
    cs1 = cs[1]
    o0 = orow[0]
    o1 = orow[1]
    o2 = orow[2]
    o3 = orow[3]
    for qi in range(r0, r1):
        r0_ = q[0, max(qi - 2, 0)]
        r1_ = q[0, max(qi - 1, 0)]
        r2_ = q[0, qi]
        r3_ = q[0, min(qi + 1, hq - 1)]
        r4_ = q[0, min(qi + 2, hq - 1)]
        for j in range(wq):  # vertical passes of the 3x3 and 5x5 binomials (rows edge-clamped)
            v3[j + 2] = r1_[j] + np.float32(2.0) * r2_[j] + r3_[j]
            v5[j + 2] = r0_[j] + r4_[j] + np.float32(4.0) * (r1_[j] + r3_[j]) + np.float32(6.0) * r2_[j]
        for j in range(2):  # replicated edge columns
            v3[j] = v3[2]
            v5[j] = v5[2]
            v3[wq + 2 + j] = v3[wq + 1]
            v5[wq + 2 + j] = v5[wq + 1]
        fy = (np.float32(qi) - np.float32(0.5 * (LOW - 1))) * np.float32(1.0 / LOW)
        y0 = int(np.floor(fy))
        wy = fy - np.float32(y0)
        ly1 = min(max(y0 + 1, 0), hl - 1)
        ly0 = min(max(y0, 0), hl - 1)
        for lj in range(wl):  # bilinear chroma upsampling: vertical, then horizontal
            cv0[lj] = (one - wy) * cden[0, ly0, lj] + wy * cden[0, ly1, lj]
            cv1[lj] = (one - wy) * cden[1, ly0, lj] + wy * cden[1, ly1, lj]
        for qj in range(wq):
            wx = wxa[qj]
            cs0[qj] = (one - wx) * cv0[lx0[qj]] + wx * cv0[lx1[qj]]
            cs1[qj] = (one - wx) * cv1[lx0[qj]] + wx * cv1[lx1[qj]]
        qc1 = q[1, qi]
        qc2 = q[2, qi]
        qd = q[3, qi]
        for qj in range(wq):
            yv = r2_[qj]
            b = (v3[qj + 1] + np.float32(2.0) * v3[qj + 2] + v3[qj + 3]) * np.float32(1.0 / 16.0)
            b5 = (v5[qj] + v5[qj + 4] + np.float32(4.0) * (v5[qj + 1] + v5[qj + 3])
                  + np.float32(6.0) * v5[qj + 2]) * np.float32(1.0 / 256.0)
            b5p = max(b5, np.float32(0.0))
            vr, vg1, vg2, vb = _variances_s(m0, m1, m2, m3, m4, m5, m6, m7, b, cs0[qj] * b5p, cs1[qj] * b5p)
            vgm = quarter * (vg1 + vg2)
            # luma: garrote on the 3x3 high-pass and on the 3x3 - 5x5 band
            vs = vr + vg1 + vg2 + vb
            y2 = b5 + _garrote(b - b5, km2 * vs) + _garrote(yv - b, kl2 * vs)
            # the smooth chroma follows the denoised luma (texture of coloured surfaces)
            y2p = max(y2, np.float32(0.0))
            c1s = cs0[qj] * y2p
            c2s = cs1[qj] * y2p
            # chroma: smooth estimate + the residual that stands above the noise
            c1 = qc1[qj]
            c2 = qc2[qj]
            n1 = c1s + _garrote(c1 - c1s, kr2 * (vr + vgm))
            n2 = c2s + _garrote(c2 - c2s, kr2 * (vb + vgm))
            c1 = c1 + amt * (n1 - c1)
            c2 = c2 + amt * (n2 - c2)
            dd = half * _garrote(qd[qj], kd2 * (vg1 + vg2))
            g = y2 - quarter * (c1 + c2)
            o0[qj] = g + c1
            o1[qj] = g + dd
            o2[qj] = g - dd
            o3[qj] = g + c2
        if to_mosaic:
            mr = mosaic[2 * qi + ry]
            for qj in range(wq):
                mr[2 * qj + rx] = o0[qj]
            mr = mosaic[2 * qi + g1y]
            for qj in range(wq):
                mr[2 * qj + g1x] = o1[qj]
            mr = mosaic[2 * qi + g2y]
            for qj in range(wq):
                mr[2 * qj + g2x] = o2[qj]
            mr = mosaic[2 * qi + by]
            for qj in range(wq):
                mr[2 * qj + bx] = o3[qj]
        else:
            for qj in range(wq):
                planes[qi, qj, 0] = o0[qj]
                planes[qi, qj, 1] = o1[qj]
                planes[qi, qj, 2] = o3[qj]


# ------------------------------------------------------------------------------ noise model


def binned_noise_points(m: np.ndarray, v: np.ndarray, bins: int, quantile: float,
                        expectation: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust (level, variance) points from per-block means ``m`` and noise variances ``v``:
    blocks split into ``bins`` level bins of equal count; per bin (>= 4 blocks) the median level
    and the ``quantile`` of the variances divided by ``expectation`` (that quantile's expected
    value for pure noise: texture only adds variance, so low quantiles find the flat blocks).
    Returns float64 ``(x, y, count)``; shared by the detail stage and the burst merge."""
    edges = np.unique(np.quantile(m, np.linspace(0, 1, bins + 1)))
    xs, ys, ns = [], [], []
    for lo, hi in itertools.pairwise(edges):
        sel = (m >= lo) & (m <= hi)
        n = int(sel.sum())
        if n < 4:
            continue
        xs.append(float(np.median(m[sel])))
        ys.append(float(np.quantile(v[sel], quantile)) / expectation)
        ns.append(float(n))
    return np.array(xs), np.array(ys), np.array(ns)


def _fit_line(m: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """Non-negative (S, O) of variance = S * level + O from per-block (level, variance)."""
    if m.size < 4:
        return 0.0, float(np.median(v)) if v.size else 1e-8
    # 5th percentile: the flattest blocks; 0.65 = its expectation for pure noise in 16x16
    # blocks (measured on flat scenes)
    xs, ys, ns = binned_noise_points(m, v, 12, 0.05, 0.65)
    if len(xs) < 2:
        return 0.0, float(np.median(v))
    x, y = np.maximum(xs, 0.0), ys
    w = np.sqrt(ns) / np.maximum(y, 1e-12)
    a = np.stack([x, np.ones_like(x)], 1) * w[:, None]
    (s, o), *_ = np.linalg.lstsq(a, y * w, rcond=None)
    if s < 0:  # read noise only
        s, o = 0.0, float(np.sum(y * w * w) / np.sum(w * w))
    if o <= 0:
        s = float(np.sum(x * y * w * w) / max(np.sum(x * x * w * w), 1e-30))
        o = max(float(y.min()) * 0.1, 1e-12)
    return float(s), float(o)


_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_BLOCK = 16


def _block_stats(plane: np.ndarray, max_blocks: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    """Per 16x16 block: mean level and robust (MAD) noise variance of a white-noise plane."""
    import cv2

    h, w = plane.shape
    by, bx = (h - 2) // _BLOCK, (w - 2) // _BLOCK
    if by <= 0 or bx <= 0:
        return np.empty(0), np.empty(0)
    step = max(1, int(np.ceil(np.sqrt(by * bx / max_blocks))))  # sample a grid of block rows
    rows = range(0, by, step)
    means, vars_ = [], []
    for bi in rows:
        y0 = 1 + bi * _BLOCK
        strip = np.ascontiguousarray(plane[y0 - 1 : y0 + _BLOCK + 1, : bx * _BLOCK + 2], np.float32)
        hp = cv2.filter2D(strip, cv2.CV_32F, _IMMERKAER)[1:-1, 1:-1][:, : bx * _BLOCK]
        core = strip[1:-1, 1 : bx * _BLOCK + 1]
        blk = np.abs(hp.reshape(_BLOCK, bx, _BLOCK)).transpose(1, 0, 2).reshape(bx, -1)[::step]
        mean = core.reshape(_BLOCK, bx, _BLOCK).mean(axis=(0, 2))[::step]
        sigma = np.median(blk, axis=1) / 0.6745 / 6.0
        means.append(mean)
        vars_.append(sigma * sigma)
    return np.concatenate(means), np.concatenate(vars_)


def estimate_noise(raw: RawImage) -> np.ndarray | None:
    """Fit ``variance = S * x + O`` per channel (R, G, B) to a normalised float32 raw as it is
    (white balanced or not): (3, 2) float64 of (S, O), or None when a channel has too few
    blocks inside the normalised range to measure (nothing is known of its noise). Bayer planes
    are white-noise images; a LINEAR raw's channels are used as they are (their noise is
    already correlated)."""
    data = raw.data
    if data.dtype != np.float32:
        raise ContractError(f"noise estimation needs the normalised float32 raw, got {data.dtype}")
    gains = _gains(raw)
    out = np.zeros((3, 2))
    for c in range(3):
        if raw.cfa is CFA.LINEAR:
            planes = [data[:, :, c]]
        elif raw.cfa.is_bayer:
            pat = np.asarray(raw.cfa_pattern)
            planes = [data[dy::2, dx::2] for dy in range(2) for dx in range(2) if pat[dy, dx] == c]
        else:
            raise ContractError(f"noise estimation supports Bayer and LINEAR raws, not {raw.cfa.value}")
        ms, vs = zip(*(_block_stats(p) for p in planes))
        m, v = np.concatenate(ms), np.concatenate(vs)
        ok = np.isfinite(m) & np.isfinite(v) & (m < 0.85 * gains[c]) & (m > -0.01)
        if np.count_nonzero(ok) < 4:
            return None
        out[c] = _fit_line(m[ok], v[ok])
    return out


def _gains(raw: RawImage) -> np.ndarray:
    g = np.ones(3) if raw.wb_gains is None else np.asarray(raw.wb_gains, np.float64).ravel()
    if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ContractError(f"wb_gains {g.tolist()} must be 3 positive finite numbers")
    return g


def _profile_ok(prof: NoiseProfile | None) -> bool:
    if prof is None:
        return False
    p = np.asarray(prof.pairs, np.float64)
    # S and O are in units of the normalised signal (real profiles: ~1e-6..1e-2); a variance
    # above 1 (the whole signal range) is junk, and would overflow the float32 kernels
    return (p.ndim == 2 and p.shape[1] == 2 and len(p) in (1, 3) and bool(np.all(np.isfinite(p)))
            and bool(np.all(p >= 0)) and bool(np.all(p <= 1.0)) and bool(np.all(p.sum(1) > 0)))


def noise_model(raw: RawImage) -> tuple[np.ndarray | None, str]:
    """Per-channel (R, G, B) ``(S, O)`` in the units of ``raw.data`` (WB gains applied when
    ``raw.wb_gains`` is set), and where it came from: ``"profile"`` or ``"estimate"``; None
    (``"unknown"``) when the file has no usable profile and the image too few measurable blocks
    (e.g. a white level far below the data)."""
    if _profile_ok(raw.noise_profile):
        p = np.asarray(raw.noise_profile.pairs, np.float64)  # type: ignore[union-attr]
        p = np.repeat(p, 3, axis=0) if len(p) == 1 else p
        g = _gains(raw)
        return np.stack([g * p[:, 0], g * g * p[:, 1]], 1), "profile"
    est = estimate_noise(raw)
    return (est, "estimate") if est is not None else (None, "unknown")


# ------------------------------------------------------------------------------ stage


def _site_order(raw: RawImage) -> np.ndarray:
    pat = np.asarray(raw.cfa_pattern).ravel()
    r = int(np.flatnonzero(pat == 0)[0])
    g = np.flatnonzero(pat == 1)
    b = int(np.flatnonzero(pat == 2)[0])
    return np.array([r, int(g[0]), int(g[1]), b], np.int64)


def denoise(raw: RawImage, params: DenoiseParams = DenoiseParams()) -> RawImage:
    """Raw-domain noise reduction of a normalised, white-balanced RawImage (module docstring)."""
    return _denoise(raw, params, in_place=False)


def denoise_inplace(raw: RawImage, params: DenoiseParams = DenoiseParams()) -> RawImage:
    """:func:`denoise` writing into ``raw.data`` (pipeline-owned images only; every site is
    read into the quad planes before any is written)."""
    return _denoise(raw, params, in_place=True)


def _denoise(raw: RawImage, params: DenoiseParams, in_place: bool) -> RawImage:
    if raw.data.dtype != np.float32:
        raise ContractError(f"denoise needs the normalised float32 raw, got {raw.data.dtype}")
    if params.strength <= 0.0 or (params.luma <= 0.0 and params.chroma <= 0.0):
        return raw
    if not (raw.cfa.is_bayer or raw.cfa is CFA.LINEAR):
        return raw  # X-Trans is demosaiced at read time (LINEAR); anything else: untouched
    h, w = raw.height, raw.width
    linear = raw.cfa is CFA.LINEAR
    hq, wq = (h, w) if linear else (h // 2, w // 2)
    if hq < 4 or wq < 4:
        return raw
    pairs, _ = noise_model(raw)
    if pairs is None:
        return raw  # noise unknown: denoising blind would guess, so leave the data alone
    model = np.empty(8, np.float32)
    for slot, c in enumerate((0, 1, 1, 2)):
        model[2 * slot : 2 * slot + 2] = pairs[c]
    if not np.all(np.isfinite(model)):
        return raw  # a model beyond float32 (absurd gains x profile): nothing sane to do
    hl, wl = -(-hq // LOW), -(-wq // LOW)
    data = raw.data
    if linear:
        q = np.empty((4, hq, wq), np.float32)
        r_, g_, b_ = data[..., 0], data[..., 1], data[..., 2]
        q[0] = 0.25 * (r_ + 2 * g_ + b_)
        q[1] = r_ - g_
        q[2] = b_ - g_
        q[3] = 0.0
        lo = np.ascontiguousarray(_block_means(np.moveaxis(q[:3], 0, -1), hl, wl))
        sites = np.array([0, 1, 2, 3], np.int64)
    else:
        sites = _site_order(raw)
        q = np.empty((4, hq, wq), np.float32)
        lo = np.empty((hl, wl, 3), np.float32)
        run_bands(_analyse, hl, data, sites, q, lo, min_rows=4)
    if not np.isfinite(lo).all():  # a NaN/inf site would spread through the filters: refuse
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise ContractError(f"denoise: mosaic contains NaN or infinite values ({bad} sites)")
    kc, kg, kgate, k = _constants(params)
    cden = np.empty((2, hl, wl), np.float32)
    lp = np.ascontiguousarray(np.pad(np.moveaxis(lo, -1, 0), ((0, 0), (2, 2), (2, 2)), mode="edge"))
    run_bands(_chroma_bilateral, hl, lp, model, np.float32(kc), np.float32(kg), np.float32(kgate),
              cden, min_rows=4)
    if linear:
        planes = np.empty((hq, wq, 3), np.float32)
        run_bands(_rebuild, hq, q, cden, model, k, sites, np.empty((1, 1), np.float32), planes, False)
        return raw.with_data(planes)
    if in_place and data.flags.writeable and data.flags.c_contiguous:
        out = data
    else:
        out = np.empty_like(data)
        if h % 2:
            out[-1] = data[-1]
        if w % 2:
            out[:, -1] = data[:, -1]
    run_bands(_rebuild, hq, q, cden, model, k, sites, out, np.empty((1, 1, 1), np.float32), True)
    return raw if out is data else raw.with_data(out)


def _block_means(a: np.ndarray, hl: int, wl: int) -> np.ndarray:
    """LOW x LOW means of (H, W, C); edge cells average the samples they hold -> (hl, wl, C)."""
    h, w, c = a.shape
    pad = np.zeros((LOW * hl, LOW * wl, c), np.float64)
    pad[:h, :w] = a
    cnt = np.zeros((LOW * hl, LOW * wl), np.float64)
    cnt[:h, :w] = 1.0
    sums = pad.reshape(hl, LOW, wl, LOW, c).sum(axis=(1, 3))
    return (sums / cnt.reshape(hl, LOW, wl, LOW).sum(axis=(1, 3))[..., None]).astype(np.float32)


def _constants(params: DenoiseParams) -> tuple[float, float, float, np.ndarray]:
    """(bilateral chroma k, guide k, gate k, rebuild k[4]) for ``params``."""
    s = float(params.strength) * 2.0  # default 0.5 -> nominal constants
    k = np.array([K_LUMA * params.luma * s, K_RESID * min(s, 1.5), K_SPLIT * min(s, 1.5),
                  min(1.0, params.chroma * s), K_MID * params.luma * s], np.float32)
    return K_CHROMA_BIL * min(s, 1.5), K_GUIDE, K_GATE * min(s, 1.5) * params.chroma, k


def denoise_reference(raw: RawImage, params: DenoiseParams = DenoiseParams()) -> np.ndarray:
    """Numpy reference of the Bayer path of :func:`denoise` (float64 maths): the denoised
    mosaic as float32. Same algorithm, written plane-wise; tested equal to the kernels."""
    data = np.asarray(raw.data, np.float64)
    h, w = data.shape
    hq, wq = h // 2, w // 2
    st = _site_order(raw)
    r, g1, g2, b = (data[si // 2 : 2 * hq : 2, si % 2 : 2 * wq : 2] for si in st)
    g = 0.5 * (g1 + g2)
    y, c1, c2, d = 0.25 * (r + g1 + g2 + b), r - g, b - g, g1 - g2
    pairs, _ = noise_model(raw)
    if pairs is None:
        return raw.data.copy()
    mdl = np.asarray([pairs[c] for c in (0, 1, 1, 2)], np.float32).astype(np.float64)

    def variances(yv, a1, a2):  # noqa: ANN001, ANN202
        gg = yv - 0.25 * (a1 + a2)
        return (mdl[0, 0] * np.maximum(gg + a1, 0) + mdl[0, 1], mdl[1, 0] * np.maximum(gg, 0) + mdl[1, 1],
                mdl[2, 0] * np.maximum(gg, 0) + mdl[2, 1], mdl[3, 0] * np.maximum(gg + a2, 0) + mdl[3, 1])

    kc, kg, kgate, k = (float(v) if np.ndim(v) == 0 else v.astype(np.float64) for v in _constants(params))
    hl, wl = -(-hq // LOW), -(-wq // LOW)
    lo = _block_means(np.stack([y, c1, c2], -1), hl, wl).astype(np.float64)
    ly, l1, l2 = lo[..., 0], lo[..., 1], lo[..., 2]
    vr, vg1, vg2, vb = variances(ly, l1, l2)
    vmean = (vr + vb + 0.5 * (vg1 + vg2)) / LOW**2
    ic = 0.5 / (kc * kc * 2.0 * vmean + 1e-12)
    vyl = (vr + vg1 + vg2 + vb) / (16.0 * LOW**2)
    iy = 0.5 / (kg * kg * 2.0 * vyl + 1e-12)
    lp = np.pad(lo, ((2, 2), (2, 2), (0, 0)), mode="edge")
    s1 = np.zeros_like(ly)
    s2 = np.zeros_like(ly)
    sw = np.zeros_like(ly)
    for di in range(-2, 3):
        for dj in range(-2, 3):
            nb = lp[2 + di : 2 + di + hl, 2 + dj : 2 + dj + wl]
            e = (di * di + dj * dj) * 0.125 + (nb[..., 0] - ly) ** 2 * iy \
                + ((nb[..., 1] - l1) ** 2 + (nb[..., 2] - l2) ** 2) * ic
            wgt = 1.0 / (1.0 + e * (1.0 + e * (0.5 + e / 6.0)))
            s1 += wgt * nb[..., 1]
            s2 += wgt * nb[..., 2]
            sw += wgt
    f1, f2 = s1 / sw, s2 / sw
    mm = f1 * f1 + f2 * f2
    gate = mm / (mm + kgate * kgate * vmean + 1e-30) / np.maximum(ly, 3.0 * np.sqrt(vyl) + 1e-6)
    rat1, rat2 = f1 * gate, f2 * gate

    def coords(n: int, nl: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = (np.arange(n) - 0.5 * (LOW - 1)) / LOW
        i0 = np.floor(f).astype(int)
        return np.clip(i0, 0, nl - 1), np.clip(i0 + 1, 0, nl - 1), f - i0

    y0, y1, wy = coords(hq, hl)
    x0, x1, wx = coords(wq, wl)

    def up(a: np.ndarray) -> np.ndarray:
        v = (1 - wy)[:, None] * a[y0] + wy[:, None] * a[y1]
        return (1 - wx)[None] * v[:, x0] + wx[None] * v[:, x1]

    yp = np.pad(y, 2, mode="edge")
    k3 = np.outer([0, 1, 2, 1, 0], [0, 1, 2, 1, 0]) / 16.0
    k5 = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
    bl = sum(k3[a, c] * yp[a : a + hq, c : c + wq] for a in range(5) for c in range(5))
    b5 = sum(k5[a, c] * yp[a : a + hq, c : c + wq] for a in range(5) for c in range(5))
    u1, u2 = up(rat1), up(rat2)
    b5p = np.maximum(b5, 0.0)
    vr, vg1, vg2, vb = variances(bl, u1 * b5p, u2 * b5p)
    vgm = 0.25 * (vg1 + vg2)

    def garrote(x: np.ndarray, t2: np.ndarray) -> np.ndarray:
        return x**3 / (x * x + t2 + 1e-30)

    vs = vr + vg1 + vg2 + vb
    y2 = b5 + garrote(bl - b5, k[4] ** 2 * (0.0201 / 16.0) * vs) + garrote(y - bl, k[0] ** 2 * 0.04 * vs)
    c1s, c2s = u1 * np.maximum(y2, 0.0), u2 * np.maximum(y2, 0.0)
    n1 = c1s + garrote(c1 - c1s, k[1] ** 2 * (vr + vgm))
    n2 = c2s + garrote(c2 - c2s, k[1] ** 2 * (vb + vgm))
    c1o, c2o = c1 + k[3] * (n1 - c1), c2 + k[3] * (n2 - c2)
    dd = 0.5 * garrote(d, k[2] ** 2 * (vg1 + vg2))
    go = y2 - 0.25 * (c1o + c2o)
    out = data.copy()
    for si, v in zip(st, (go + c1o, go + dd, go - dd, go + c2o)):
        out[si // 2 : 2 * hq : 2, si % 2 : 2 * wq : 2] = v
    return out.astype(np.float32)


STAGE = StageDef("denoise", denoise, DenoiseParams, takes=RAW_NORM, gives=RAW_NORM,
                 inplace=denoise_inplace)
