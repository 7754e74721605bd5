"""Numba kernels of the multi-frame super-resolution (:mod:`rawlux.burst.superres`).

:func:`merge_rows` is the heart of the method: for every output pixel and every frame, the 3x3
raw samples nearest to where the pixel lands in that frame add their value, each to its own
colour channel, weighted by an anisotropic Gaussian of their distance (inverse covariance from
the reference's local structure tensor) times the frame's robustness there; the sums stay in
registers and the pixel is finished at once (no accumulator images: memory traffic is the
frames' samples and the output). :func:`accumulate_reference` (one frame into sum images) and
:func:`finish_reference` are its numpy twin (tests).

Units: raw (sensor) pixels with centres at integers; the motion field is the tile field of
:func:`rawlux.burst.align.align` (Bayer-plane px, ``ref(y, x) ~ alt(y + dy, x + dx)``); the
inverse covariance and robustness maps live on the Bayer-plane grid (plane pixel ``i`` centred
at raw ``2 i + 0.5``); an output pixel ``Y`` of scale ``s`` sits at raw ``(Y + 0.5) / s - 0.5``.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.jit import njit

#: samples whose kernel exponent exceeds this (weight < 3e-4 of the centre's) are skipped
CUTOFF = 8.0
#: table entries per unit of the exponent for exp(-q)
LUT_STEPS = 128

_SIG = ("i8(f4[:, :, ::1], i8[:, ::1], f4[:, :, :, ::1], i8, f4[:, :, ::1], f4[:, :, ::1], f8, f4[::1], "
        "f8, f4[::1], b1, b1, f4[:, :, ::1], i8, i8)")


@njit(cache=True, nogil=True, fastmath=True, aot=_SIG)
def merge_rows(stack, pattern, disps, tile, icov, robs, scale, cw, ridge, gains, cd, llr, out, r0, r1):  # pragma: no cover
    """Output rows ``r0 .. r1`` of ``out`` (Ho, Wo, 3) from every frame at once (sums in registers).

    ``stack`` (n, H, W) samples per frame (mosaic, or green + colour differences with ``cd``),
    ``disps`` (n, ny, nx, 2) merge-grid fields (plane px), ``robs`` (n, h2, w2) robustness,
    ``icov`` (h2, w2, 3) kernel exponent coefficients ``a dx^2 + 2 b dx dy + c dy^2`` (halved),
    ``cw`` (3,) exponent factor per channel. Each channel is the ratio of weighted sums; with
    ``llr`` green is the intercept of the weighted least-squares plane (slopes damped by
    ``ridge`` raw px^2); with ``cd`` red and blue get green added; all are divided by ``gains``.
    A pixel that got no weight in some channel is NaN. Returns the count of those."""
    n, h, w = stack.shape
    h2, w2 = robs.shape[1], robs.shape[2]
    ny, nx = disps.shape[1], disps.shape[2]
    wo = out.shape[1]
    inv_s = 1.0 / scale
    inv_t = 2.0 / tile
    cut = np.float32(CUTOFF)
    two = np.float32(2.0)
    z = np.float32(0.0)
    rows = np.empty((n, nx, 2), np.float64)  # each frame's field interpolated to this output row
    chan = np.empty(4, np.int64)  # channel of raw site parity 2 (y & 1) + (x & 1)
    wch = np.empty(4, np.float32)  # and its exponent factor
    for k in range(4):
        chan[k] = pattern[k >> 1, k & 1]
        wch[k] = cw[chan[k]]
    # exp(-q) on [0, CUTOFF] by linear interpolation in a table (relative error < 1e-5)
    lut_n = int(CUTOFF * LUT_STEPS) + 2
    lut = np.empty(lut_n, np.float32)
    for k in range(lut_n):
        lut[k] = np.exp(-k / LUT_STEPS)
    lut_s = np.float32(LUT_STEPS)
    holes = 0
    for yo in range(r0, r1):
        uy = (yo + 0.5) * inv_s - 0.5
        py = (uy - 0.5) * 0.5  # Bayer-plane coordinate
        ip = min(max(int(py + 0.5), 0), h2 - 1)
        fy = min(max((py + 0.5) * inv_t, 0.0), ny - 1.0)
        ty = min(int(fy), max(ny - 2, 0))
        ty1 = min(ty + 1, ny - 1)
        wy = fy - ty
        for f in range(n):
            for t_ in range(nx):
                rows[f, t_, 0] = (1 - wy) * disps[f, ty, t_, 0] + wy * disps[f, ty1, t_, 0]
                rows[f, t_, 1] = (1 - wy) * disps[f, ty, t_, 1] + wy * disps[f, ty1, t_, 1]
        for xo in range(wo):
            ux = (xo + 0.5) * inv_s - 0.5
            px = (ux - 0.5) * 0.5
            jp = min(max(int(px + 0.5), 0), w2 - 1)
            fx = min(max((px + 0.5) * inv_t, 0.0), nx - 1.0)
            tx = min(int(fx), max(nx - 2, 0))
            tx1 = min(tx + 1, nx - 1)
            wx = fx - tx
            ca = icov[ip, jp, 0]
            cb = two * icov[ip, jp, 1]
            cc = icov[ip, jp, 2]
            n0 = n1 = n2 = d0 = d1 = d2 = z
            m0 = m1 = m2 = m3 = m4 = m5 = m6 = z
            for f in range(n):
                r = robs[f, ip, jp]
                if r <= 0.0:
                    continue
                vy = uy + 2.0 * ((1 - wx) * rows[f, tx, 0] + wx * rows[f, tx1, 0])
                vx = ux + 2.0 * ((1 - wx) * rows[f, tx, 1] + wx * rows[f, tx1, 1])
                cy = int(np.floor(vy + 0.5))
                cx = int(np.floor(vx + 0.5))
                for a in range(-1, 2):
                    sy = cy + a
                    if sy < 0 or sy >= h:
                        continue
                    ey = np.float32(sy - vy)
                    for b in range(-1, 2):
                        sx = cx + b
                        if sx < 0 or sx >= w:
                            continue
                        ex = np.float32(sx - vx)
                        k = ((sy & 1) << 1) | (sx & 1)
                        q = (ca * ex * ex + cb * ex * ey + cc * ey * ey) * wch[k]
                        if q > cut:  # weight below exp(-CUTOFF): skipped
                            continue
                        qs = q * lut_s
                        qi = int(qs)
                        e0 = lut[qi]
                        wt = r * (e0 + (qs - qi) * (lut[qi + 1] - e0))
                        v = stack[f, sy, sx]
                        ch = chan[k]
                        if ch == 1:
                            n1 += wt * v
                            d1 += wt
                            wx_ = wt * ex
                            wy_ = wt * ey
                            m0 += wx_
                            m1 += wy_
                            m2 += wx_ * ex
                            m3 += wx_ * ey
                            m4 += wy_ * ey
                            m5 += wx_ * v
                            m6 += wy_ * v
                        elif ch == 0:
                            n0 += wt * v
                            d0 += wt
                        else:
                            n2 += wt * v
                            d2 += wt
            if d0 <= 1e-12 or d1 <= 1e-12 or d2 <= 1e-12:
                out[yo, xo, 0] = np.nan
                out[yo, xo, 1] = np.nan
                out[yo, xo, 2] = np.nan
                holes += 1
                continue
            s0 = np.float64(d1)
            g = n1 / s0
            if llr:
                sxx = m2 + ridge * s0
                syy = m4 + ridge * s0
                sxy = np.float64(m3)
                c00 = sxx * syy - sxy * sxy
                c01 = m1 * sxy - m0 * syy
                c02 = m0 * sxy - m1 * sxx
                det = s0 * c00 + m0 * c01 + m1 * c02
                if det > 1e-9 * s0 * s0 * s0:
                    g = (n1 * c00 + m5 * c01 + m6 * c02) / det
            rr = n0 / d0
            bb = n2 / d2
            if cd:
                rr += g
                bb += g
            out[yo, xo, 0] = rr / gains[0]
            out[yo, xo, 1] = g / gains[1]
            out[yo, xo, 2] = bb / gains[2]
    return holes


def accumulate_reference(m: np.ndarray, pattern: np.ndarray, disp: np.ndarray, tile: int,
                         icov: np.ndarray, rob: np.ndarray, scale: float, cw: np.ndarray,
                         num: np.ndarray, den: np.ndarray, mom: np.ndarray) -> None:
    """Plain numpy twin of :func:`accumulate_rows` over all rows (float64 maths, slow)."""
    llr = mom.shape[:2] == num.shape[:2]
    h, w = m.shape
    h2, w2 = rob.shape
    ny, nx = disp.shape[:2]
    ho, wo = num.shape[:2]
    ys = (np.arange(ho) + 0.5) / scale - 0.5
    xs = (np.arange(wo) + 0.5) / scale - 0.5
    uy, ux = np.meshgrid(ys, xs, indexing="ij")
    py, px = (uy - 0.5) * 0.5, (ux - 0.5) * 0.5
    ip = np.clip((py + 0.5).astype(np.int64), 0, h2 - 1)
    jp = np.clip((px + 0.5).astype(np.int64), 0, w2 - 1)
    fy = np.clip((py + 0.5) * 2.0 / tile, 0, ny - 1)
    fx = np.clip((px + 0.5) * 2.0 / tile, 0, nx - 1)
    ty = np.minimum(fy.astype(np.int64), max(ny - 2, 0))
    tx = np.minimum(fx.astype(np.int64), max(nx - 2, 0))
    ty1, tx1 = np.minimum(ty + 1, ny - 1), np.minimum(tx + 1, nx - 1)
    wy, wx = fy - ty, fx - tx
    d = ((1 - wy)[..., None] * ((1 - wx)[..., None] * disp[ty, tx] + wx[..., None] * disp[ty, tx1])
         + wy[..., None] * ((1 - wx)[..., None] * disp[ty1, tx] + wx[..., None] * disp[ty1, tx1]))
    vy, vx = uy + 2.0 * d[..., 0], ux + 2.0 * d[..., 1]
    cy, cx = np.floor(vy + 0.5).astype(np.int64), np.floor(vx + 0.5).astype(np.int64)
    r = rob[ip, jp].astype(np.float64)
    ca, cb, cc = (icov[ip, jp, k].astype(np.float64) for k in range(3))
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            sy, sx = cy + a, cx + b
            ok = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w) & (r > 0)
            ey, ex = sy - vy, sx - vx
            syc, sxc = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
            ch = pattern[syc & 1, sxc & 1]
            q = (ca * ex * ex + 2 * cb * ex * ey + cc * ey * ey) * np.asarray(cw, np.float64)[ch]
            wt = np.where(ok & (q <= CUTOFF), r * np.exp(-q), 0.0)
            val = m[syc, sxc]
            for c in range(3):
                sel = ch == c
                num[..., c] += np.where(sel, wt * val, 0.0).astype(num.dtype)
                den[..., c] += np.where(sel, wt, 0.0).astype(den.dtype)
            if llr:
                g = np.where(ch == 1, wt, 0.0)
                for k, v in enumerate((ex, ey, ex * ex, ex * ey, ey * ey, val * ex, val * ey)):
                    mom[..., k] += (g * v).astype(mom.dtype)


def finish_reference(num: np.ndarray, den: np.ndarray, mom: np.ndarray, ridge: float,
                     gains: np.ndarray, cd: bool, llr: bool) -> np.ndarray:
    """Numpy twin of the end of :func:`merge_rows`: sums of :func:`accumulate_reference` over
    the frames -> (Ho, Wo, 3) float32 (NaN where a channel got no weight)."""
    s0 = den[..., 1].astype(np.float64)
    g = num[..., 1] / np.where(s0 > 1e-12, s0, 1.0)
    if llr:
        sx, sy, sxx, sxy, syy, svx, svy = np.moveaxis(mom.astype(np.float64), -1, 0)
        sxx = sxx + ridge * s0
        syy = syy + ridge * s0
        c00 = sxx * syy - sxy * sxy
        c01 = sy * sxy - sx * syy
        c02 = sx * sxy - sy * sxx
        det = s0 * c00 + sx * c01 + sy * c02
        ok = det > 1e-9 * s0**3
        g = np.where(ok, (num[..., 1] * c00 + svx * c01 + svy * c02) / np.where(ok, det, 1.0), g)
    out = np.empty(num.shape, np.float64)
    for c in range(3):
        out[..., c] = num[..., c] / np.where(den[..., c] > 1e-12, den[..., c], 1.0)
    out[..., 1] = g
    if cd:
        out[..., 0] += g
        out[..., 2] += g
    out /= np.asarray(gains, np.float64)
    out[(den <= 1e-12).any(axis=-1)] = np.nan
    return out.astype(np.float32)


@njit(cache=True, nogil=True, fastmath=True, aot="void(f4[:, :, ::1], f4[:, ::1], f4[:, ::1], i8, f8[:, ::1], i8, i8)")
def tile_costs(field, g0, g, t, out, r0, r1):  # pragma: no cover
    """(ny, nx) ``out``: mean squared difference per ``t`` raw px tile (the last row / column of
    tiles takes the remainder) between ``g0`` and ``g`` sampled bilinearly (edge replicated) at
    ``(y + dy, x + dx)`` with the tile's displacement ``field`` (ny, nx, 2) raw px; tile rows
    ``r0 .. r1``."""
    h, w = g0.shape
    ny, nx = out.shape
    for ty in range(r0, r1):
        y0 = ty * t
        y1 = h if ty == ny - 1 else min(h, y0 + t)
        for tx in range(nx):
            x0 = tx * t
            x1 = w if tx == nx - 1 else min(w, x0 + t)
            dy = field[ty, tx, 0]
            dx = field[ty, tx, 1]
            s = 0.0
            for y in range(y0, y1):
                sy = y + dy
                fy = np.floor(sy)
                ay = sy - fy
                iy = int(fy)
                ya = min(max(iy, 0), h - 1)
                yb = min(max(iy + 1, 0), h - 1)
                for x in range(x0, x1):
                    sx = x + dx
                    fx = np.floor(sx)
                    ax = sx - fx
                    ix = int(fx)
                    xa = min(max(ix, 0), w - 1)
                    xb = min(max(ix + 1, 0), w - 1)
                    v = ((1 - ay) * ((1 - ax) * g[ya, xa] + ax * g[ya, xb])
                         + ay * ((1 - ax) * g[yb, xa] + ax * g[yb, xb]))
                    d = v - g0[y, x]
                    s += d * d
            n = (y1 - y0) * (x1 - x0)
            out[ty, tx] = s / max(n, 1)
