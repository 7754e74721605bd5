"""Sub-pixel resampling of a Bayer frame onto the reference's sample grid (night-mode merge).

What the merge needs from an alternate frame is, for each Bayer plane, the frame's colour at the
reference's sites of that colour moved by the motion field. A full demosaic is more than that:

1. :func:`green_cd` — one pass over the white-balanced mosaic (gains applied on the fly):
   full-resolution green (green sites kept; at red/blue sites the Hamilton-Adams horizontal and
   vertical estimates, Laplacian-corrected by the site's own colour, blended by inverse squared
   gradients), and the colour-difference planes ``R - G`` at red sites and ``B - G`` at blue sites
   (Bayer-plane resolution; smooth, so they interpolate well at half resolution).
2. :func:`warp_bayer` — per 2x2 Bayer block, the tile field is interpolated bilinearly at the
   block centre and the four sites share its Catmull-Rom weights: green at each site's moved raw
   position is bicubic (separable, a 5x5 window for the whole block); red/blue sites add their
   colour difference sampled bilinearly on its plane; each value is divided by its white-balance
   gain. With zero motion the frame's own samples come back exactly.

Units: mosaics normalised float32 (H, W); planes (4, H//2, W//2) in the order of
:func:`rawlux.burst.noise.bayer_planes`; the field is that of :func:`rawlux.burst.align.align`
(plane px). Output buffers are passed in so a burst reuses them frame after frame.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import RawImage
from rawlux.core.jit import njit, run_bands

#: weight of the colour channel's Laplacian in the green estimates (Hamilton-Adams: 0.25); 0.15
#: amplifies noise less and measured best on the night benchmark (mild and extreme noise)
LAPLACIAN_WEIGHT = 0.15


@njit(cache=True, inline="always")
def _refl(x: int, n: int) -> int:  # pragma: no cover - compiled
    """Reflect-101 index (keeps the Bayer phase at the borders)."""
    if x < 0:
        return -x
    if x >= n:
        return 2 * n - 2 - x
    return x


@njit(cache=True, nogil=True, fastmath=True)
def _green_cd(m, pattern, gains, lap, g_out, cd_out, r0, r1):  # pragma: no cover - compiled
    h, w = m.shape
    h2, w2 = cd_out.shape[1], cd_out.shape[2]
    eps = np.float32(1e-10)
    half = np.float32(0.5)
    gg = gains[1]
    for y in range(r0, r1):
        a = y & 1
        ym1 = _refl(y - 1, h)
        yp1 = _refl(y + 1, h)
        ym2 = _refl(y - 2, h)
        yp2 = _refl(y + 2, h)
        for b in range(2):
            ch = pattern[a, b]
            if ch == 1:
                for x in range(b, w, 2):
                    g_out[y, x] = gg * m[y, x]
                continue
            gc = gains[ch]
            k = 0 if ch == 0 else 1
            for x in range(b, w, 2):
                xm1 = _refl(x - 1, w)
                xp1 = _refl(x + 1, w)
                xm2 = _refl(x - 2, w)
                xp2 = _refl(x + 2, w)
                c = m[y, x]
                lh = gc * (c + c - m[y, xm2] - m[y, xp2])
                lv = gc * (c + c - m[ym2, x] - m[yp2, x])
                gh = half * gg * (m[y, xm1] + m[y, xp1]) + lap * lh
                gv = half * gg * (m[ym1, x] + m[yp1, x]) + lap * lv
                dh = gg * abs(m[y, xm1] - m[y, xp1]) + abs(lh)
                dv = gg * abs(m[ym1, x] - m[yp1, x]) + abs(lv)
                wh = np.float32(1.0) / (dh * dh + eps)
                wv = np.float32(1.0) / (dv * dv + eps)
                gval = (wh * gh + wv * gv) / (wh + wv)
                g_out[y, x] = gval
                if (y >> 1) < h2 and (x >> 1) < w2:
                    cd_out[k, y >> 1, x >> 1] = gc * c - gval


def wb_gains(raw: RawImage) -> np.ndarray:
    """(3,) float32 white-balance gains of ``raw`` for :func:`green_cd` / :func:`warp_bayer`:
    1 / AsShotNeutral scaled so the smallest is 1; ones when the neutral is unknown or invalid."""
    neutral = raw.calibration.as_shot_neutral if raw.calibration is not None else None
    if neutral is None:
        return np.ones(3, np.float32)
    n = np.asarray(neutral, np.float64)
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        return np.ones(3, np.float32)
    g = 1.0 / n
    return (g / g.min()).astype(np.float32)


def green_cd(
    mosaic: np.ndarray, pattern: np.ndarray, gains: np.ndarray,
    g_out: np.ndarray | None = None, cd_out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """White-balanced full-resolution green (H, W) and colour differences (2, H//2, W//2)
    (``R - G`` at red sites, ``B - G`` at blue sites), float32, from a normalised Bayer mosaic.

    ``pattern`` (2, 2) channel indices (0=R, 1=G, 2=B); ``gains`` (3,) white-balance factors.
    ``g_out``/``cd_out``: optional preallocated float32 outputs of those shapes.
    """
    if mosaic.ndim != 2 or min(mosaic.shape) < 3:
        raise ContractError(f"green_cd needs a 2-D Bayer mosaic of at least 3x3, got {mosaic.shape}")
    h, w = mosaic.shape
    if g_out is None:
        g_out = np.empty((h, w), np.float32)
    if cd_out is None:
        cd_out = np.empty((2, h // 2, w // 2), np.float32)
    run_bands(_green_cd, h, np.ascontiguousarray(mosaic, np.float32), np.asarray(pattern, np.int64),
              np.asarray(gains, np.float32), np.float32(LAPLACIAN_WEIGHT), g_out, cd_out)
    return g_out, cd_out


@njit(cache=True, inline="always")
def _hpair(g, r, c0, c1, c2, c3, c4, wx0, wx1, wx2, wx3):  # pragma: no cover - compiled
    """Horizontal Catmull-Rom of row ``r`` at the two columns of a Bayer block."""
    v0 = g[r, c0]
    v1 = g[r, c1]
    v2 = g[r, c2]
    v3 = g[r, c3]
    v4 = g[r, c4]
    return wx0 * v0 + wx1 * v1 + wx2 * v2 + wx3 * v3, wx0 * v1 + wx1 * v2 + wx2 * v3 + wx3 * v4


@njit(cache=True, inline="always")
def _cr(u):  # pragma: no cover - compiled
    """Catmull-Rom weights of the taps at -1, 0, 1, 2 for fraction ``u`` in [0, 1)."""
    half = np.float32(0.5)
    u2 = u * u
    u3 = u2 * u
    return (half * (-u3 + np.float32(2.0) * u2 - u),
            half * (np.float32(3.0) * u3 - np.float32(5.0) * u2 + np.float32(2.0)),
            half * (np.float32(-3.0) * u3 + np.float32(4.0) * u2 + u),
            half * (u3 - u2))


@njit(cache=True, nogil=True, fastmath=True)
def _warp_bayer(g, cd, pattern, gains, disp, tile, out, r0, r1):  # pragma: no cover - compiled
    h, w = g.shape
    h2, w2 = out.shape[1], out.shape[2]
    ny, nx = disp.shape[0], disp.shape[1]
    inv_s = np.float32(2.0 / tile)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    # per site k = 2a + b: 1 / gain, and whether the red / blue colour difference is added
    inv_g = np.empty(4, np.float32)
    mr = np.zeros(4, np.float32)
    mb = np.zeros(4, np.float32)
    for k in range(4):
        ch = pattern[k // 2, k % 2]
        inv_g[k] = one / gains[ch]
        if ch == 0:
            mr[k] = one
        elif ch == 2:
            mb[k] = one
    for i in range(r0, r1):
        fy = min(max(np.float32((i + 0.5) * inv_s), zero), np.float32(ny - 1))
        ty = min(int(fy), max(ny - 2, 0))
        ty1 = min(ty + 1, ny - 1)
        wy = fy - ty
        row = np.empty((nx, 2), np.float32)
        for tx in range(nx):
            for c in range(2):
                row[tx, c] = (one - wy) * disp[ty, tx, c] + wy * disp[ty1, tx, c]
        for j in range(w2):
            fx = min(max(np.float32((j + 0.5) * inv_s), zero), np.float32(nx - 1))
            tx = min(int(fx), max(nx - 2, 0))
            tx1 = min(tx + 1, nx - 1)
            wx = fx - tx
            dy = (one - wx) * row[tx, 0] + wx * row[tx1, 0]
            dx = (one - wx) * row[tx, 1] + wx * row[tx1, 1]
            # green: bicubic at the moved raw positions of the block's four sites
            py = dy + dy
            px = dx + dx
            fpy = np.floor(py)
            fpx = np.floor(px)
            wy0, wy1, wy2, wy3 = _cr(py - fpy)
            wx0, wx1, wx2, wx3 = _cr(px - fpx)
            r0 = 2 * i + int(fpy) - 1
            q0 = 2 * j + int(fpx) - 1
            if r0 >= 0 and q0 >= 0 and r0 + 4 < h and q0 + 4 < w:
                c0, c1, c2, c3, c4 = q0, q0 + 1, q0 + 2, q0 + 3, q0 + 4
                s0, s1, s2, s3, s4 = r0, r0 + 1, r0 + 2, r0 + 3, r0 + 4
            else:
                c0 = min(max(q0, 0), w - 1)
                c1 = min(max(q0 + 1, 0), w - 1)
                c2 = min(max(q0 + 2, 0), w - 1)
                c3 = min(max(q0 + 3, 0), w - 1)
                c4 = min(max(q0 + 4, 0), w - 1)
                s0 = min(max(r0, 0), h - 1)
                s1 = min(max(r0 + 1, 0), h - 1)
                s2 = min(max(r0 + 2, 0), h - 1)
                s3 = min(max(r0 + 3, 0), h - 1)
                s4 = min(max(r0 + 4, 0), h - 1)
            a0, b0 = _hpair(g, s0, c0, c1, c2, c3, c4, wx0, wx1, wx2, wx3)
            a1, b1 = _hpair(g, s1, c0, c1, c2, c3, c4, wx0, wx1, wx2, wx3)
            a2, b2 = _hpair(g, s2, c0, c1, c2, c3, c4, wx0, wx1, wx2, wx3)
            a3, b3 = _hpair(g, s3, c0, c1, c2, c3, c4, wx0, wx1, wx2, wx3)
            a4, b4 = _hpair(g, s4, c0, c1, c2, c3, c4, wx0, wx1, wx2, wx3)
            # colour differences: bilinear on their planes at (i + dy, j + dx)
            qy = min(max(np.float32(i) + dy, zero), np.float32(h2 - 1))
            qx = min(max(np.float32(j) + dx, zero), np.float32(w2 - 1))
            iy = int(qy)
            ix = int(qx)
            iy1 = min(iy + 1, h2 - 1)
            ix1 = min(ix + 1, w2 - 1)
            ey = qy - iy
            ex = qx - ix
            w00 = (one - ey) * (one - ex)
            w01 = (one - ey) * ex
            w10 = ey * (one - ex)
            w11 = ey * ex
            cr = (w00 * cd[0, iy, ix] + w01 * cd[0, iy, ix1]
                  + w10 * cd[0, iy1, ix] + w11 * cd[0, iy1, ix1])
            cb = (w00 * cd[1, iy, ix] + w01 * cd[1, iy, ix1]
                  + w10 * cd[1, iy1, ix] + w11 * cd[1, iy1, ix1])
            out[0, i, j] = (wy0 * a0 + wy1 * a1 + wy2 * a2 + wy3 * a3
                            + mr[0] * cr + mb[0] * cb) * inv_g[0]
            out[1, i, j] = (wy0 * b0 + wy1 * b1 + wy2 * b2 + wy3 * b3
                            + mr[1] * cr + mb[1] * cb) * inv_g[1]
            out[2, i, j] = (wy0 * a1 + wy1 * a2 + wy2 * a3 + wy3 * a4
                            + mr[2] * cr + mb[2] * cb) * inv_g[2]
            out[3, i, j] = (wy0 * b1 + wy1 * b2 + wy2 * b3 + wy3 * b4
                            + mr[3] * cr + mb[3] * cb) * inv_g[3]


def warp_bayer(green: np.ndarray, cd: np.ndarray, pattern: np.ndarray, gains: np.ndarray,
               disp: np.ndarray, tile: int, out: np.ndarray | None = None) -> np.ndarray:
    """(4, H//2, W//2) float32 Bayer planes of a frame moved onto the reference's sample grid.

    ``green``/``cd`` from :func:`green_cd` (white balanced by ``gains``, which are undone here);
    ``disp`` (ny, nx, 2) merge-grid field of :func:`rawlux.burst.align.align` (plane px,
    ``ref(y, x) ~ alt(y + dy, x + dx)``), ``tile`` its tile size. ``out``: optional buffer.
    """
    h, w = green.shape
    if cd.shape != (2, h // 2, w // 2):
        raise ContractError(f"colour-difference planes {cd.shape} do not match green {green.shape}")
    if out is None:
        out = np.empty((4, h // 2, w // 2), np.float32)
    run_bands(_warp_bayer, out.shape[1], green, cd, np.asarray(pattern, np.int64),
              np.asarray(gains, np.float32), np.ascontiguousarray(disp, np.float32), int(tile), out)
    return out
