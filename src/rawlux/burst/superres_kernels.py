"""Numba kernels of the multi-frame super-resolution (:mod:`rawlux.burst.superres`).

:func:`accumulate_rows` is the heart of the method: for every output pixel, the 3x3 raw samples
of one frame nearest to where the pixel lands in that frame add their value, each to its own
colour channel, weighted by an anisotropic Gaussian of their distance (inverse covariance from
the reference's local structure tensor) times the frame's robustness there.
:func:`accumulate_reference` is its numpy twin (tests).

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

_SIG = ("void(f4[:, ::1], i8[:, ::1], f4[:, :, ::1], i8, f4[:, :, ::1], f4[:, ::1], f8, f4[::1], "
        "f4[:, :, ::1], f4[:, :, ::1], f4[:, :, ::1], i8, i8)")


@njit(cache=True, nogil=True, fastmath=True, aot=_SIG)
def accumulate_rows(m, pattern, disp, tile, icov, rob, scale, cw, num, den, mom, r0, r1):  # pragma: no cover
    """Add frame ``m`` (H, W normalised mosaic) to ``num``/``den`` (Ho, Wo, 3) on output rows
    ``r0 .. r1``. ``icov`` (h2, w2, 3): the Gaussian's exponent ``a dx^2 + 2 b dx dy + c dy^2``
    coefficients (already halved); ``rob`` (h2, w2) robustness in [0, 1]; ``cw`` (3,) per-channel
    factor of the exponent (< 1: a wider kernel for that channel). ``mom`` (Ho, Wo, 7) or
    (1, 1, 7): when full size, the green channel's weighted moments of the sample offsets
    ``(ex, ey, ex^2, ex ey, ey^2, v ex, v ey)`` for a local linear fit."""
    llr = mom.shape[0] == num.shape[0] and mom.shape[1] == num.shape[1]
    h, w = m.shape
    h2, w2 = rob.shape
    ny, nx = disp.shape[0], disp.shape[1]
    wo = num.shape[1]
    inv_s = 1.0 / scale
    inv_t = 2.0 / tile
    cut = np.float32(CUTOFF)
    two = np.float32(2.0)
    row = np.empty((nx, 2), np.float64)  # the field interpolated to this output row
    chan = np.empty(4, np.int64)  # channel of raw site parity 2 (y & 1) + (x & 1)
    wch = np.empty(4, np.float32)  # and its exponent factor
    for k in range(4):
        chan[k] = pattern[k >> 1, k & 1]
        wch[k] = cw[chan[k]]
    for yo in range(r0, r1):
        uy = (yo + 0.5) * inv_s - 0.5
        py = (uy - 0.5) * 0.5  # Bayer-plane coordinate
        ip = min(max(int(py + 0.5), 0), h2 - 1)
        fy = min(max((py + 0.5) * inv_t, 0.0), ny - 1.0)
        ty = min(int(fy), max(ny - 2, 0))
        ty1 = min(ty + 1, ny - 1)
        wy = fy - ty
        for t_ in range(nx):
            row[t_, 0] = (1 - wy) * disp[ty, t_, 0] + wy * disp[ty1, t_, 0]
            row[t_, 1] = (1 - wy) * disp[ty, t_, 1] + wy * disp[ty1, t_, 1]
        for xo in range(wo):
            ux = (xo + 0.5) * inv_s - 0.5
            px = (ux - 0.5) * 0.5
            jp = min(max(int(px + 0.5), 0), w2 - 1)
            r = rob[ip, jp]
            if r <= 0.0:
                continue
            fx = min(max((px + 0.5) * inv_t, 0.0), nx - 1.0)
            tx = min(int(fx), max(nx - 2, 0))
            tx1 = min(tx + 1, nx - 1)
            wx = fx - tx
            dy = (1 - wx) * row[tx, 0] + wx * row[tx1, 0]
            dx = (1 - wx) * row[tx, 1] + wx * row[tx1, 1]
            vy = uy + 2.0 * dy
            vx = ux + 2.0 * dx
            cy = int(np.floor(vy + 0.5))
            cx = int(np.floor(vx + 0.5))
            ca = icov[ip, jp, 0]
            cb = two * icov[ip, jp, 1]
            cc = icov[ip, jp, 2]
            z = np.float32(0.0)
            n0 = n1 = n2 = d0 = d1 = d2 = z
            m0 = m1 = m2 = m3 = m4 = m5 = m6 = z
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
                    ch = chan[k]
                    wt = r * np.exp(-q)
                    v = m[sy, sx]
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
            num[yo, xo, 0] += n0
            num[yo, xo, 1] += n1
            num[yo, xo, 2] += n2
            den[yo, xo, 0] += d0
            den[yo, xo, 1] += d1
            den[yo, xo, 2] += d2
            if llr:
                mom[yo, xo, 0] += m0
                mom[yo, xo, 1] += m1
                mom[yo, xo, 2] += m2
                mom[yo, xo, 3] += m3
                mom[yo, xo, 4] += m4
                mom[yo, xo, 5] += m5
                mom[yo, xo, 6] += m6


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


@njit(cache=True, nogil=True, fastmath=True,
      aot="i8(f4[:, :, ::1], f4[:, :, ::1], f4[:, :, ::1], f8, f4[::1], b1, i8, i8)")
def finish_rows(num, den, mom, ridge, gains, cd, r0, r1):  # pragma: no cover - compiled
    """In place into ``num`` on rows ``r0 .. r1``: each channel's weighted mean; green by the local
    linear fit when ``mom`` is full size (intercept of the weighted least-squares plane, slopes
    damped by ``ridge`` raw px^2; the mean where that system is singular); with ``cd`` the red and
    blue channels hold colour differences and get green added; then divided by ``gains``.
    Pixels where a channel got no weight become NaN. Returns their count."""
    wo = num.shape[1]
    llr = mom.shape[0] == num.shape[0] and mom.shape[1] == num.shape[1]
    holes = 0
    for y in range(r0, r1):
        for x in range(wo):
            s0 = np.float64(den[y, x, 1])
            d0 = den[y, x, 0]
            d2 = den[y, x, 2]
            if s0 <= 1e-12 or d0 <= 1e-12 or d2 <= 1e-12:
                num[y, x, 0] = np.nan
                num[y, x, 1] = np.nan
                num[y, x, 2] = np.nan
                holes += 1
                continue
            sv = np.float64(num[y, x, 1])
            g = sv / s0
            if llr:
                sx = np.float64(mom[y, x, 0])
                sy = np.float64(mom[y, x, 1])
                sxx = mom[y, x, 2] + ridge * s0
                sxy = np.float64(mom[y, x, 3])
                syy = mom[y, x, 4] + ridge * s0
                c00 = sxx * syy - sxy * sxy
                c01 = sy * sxy - sx * syy
                c02 = sx * sxy - sy * sxx
                det = s0 * c00 + sx * c01 + sy * c02
                if det > 1e-9 * s0 * s0 * s0:
                    g = (sv * c00 + mom[y, x, 5] * c01 + mom[y, x, 6] * c02) / det
            r = num[y, x, 0] / d0
            b = num[y, x, 2] / d2
            if cd:
                r += g
                b += g
            num[y, x, 0] = r / gains[0]
            num[y, x, 1] = g / gains[1]
            num[y, x, 2] = b / gains[2]
    return holes
