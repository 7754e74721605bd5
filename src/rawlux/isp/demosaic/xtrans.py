"""X-Trans (6x6 CFA) demosaic: green-guided colour differences with one green refinement.

A fast alternative to Markesteijn's algorithm in numba passes (strip-parallel through
:func:`rawlux.core.jit.run_bands`; borders by reflect-101 indexing, and a site read across the
border counts with the colour it really has):

1. **Green, first estimate**: at red/blue sites the 5x5 binomial average of the green sites
   (normalised convolution; X-Trans has 20 greens in 36 sites, so it is never far).
2. **Green refined** at red/blue sites by the constant-colour-difference rule: ``G(x) = C(x) -
   mean(C - G)`` over the other sites of the same colour in a 7x7 window, weighted by
   ``1 / (1 + d^2 / 2)`` times the green similarity ``1 / (0.001 + |G(site) - G(x)|)``. This
   puts the detail the red/blue sample holds into green, which the first estimate blurred;
   the result is clamped to the range of the measured greens in the 3x3 around the site
   (without the clamp, saturated reds/blues get a dotted maze of overshoots).
3. **Red and blue** everywhere from the colour differences ``R - G`` / ``B - G`` at the sites
   of that colour in a 7x7 window, weighted by ``1 / (1 + d^2)`` times the green similarity
   ``1 / (0.01 + |G(site) - G(x)|)`` (a joint bilateral guided by the full green plane);
   ``C = G + difference``. Measured values are kept exactly.

On synthetic X-Trans mosaics of Kodak / phone images this is 2.5-5.5 dB above the normalised
convolution and level with LibRaw's 3-pass Markesteijn (+0.4 / +1.5 dB on kodim15 / kodim18,
-0.5 dB on a phone photo); see the tests and ``docs/architecture.md``. :func:`xtrans_reference` is a slow plain-Python
twin of the same maths (tests: equal).
"""

from __future__ import annotations

import numpy as np

from rawlux.core.jit import njit, run_bands
from rawlux.isp.demosaic._common import check_mosaic, refl

_K5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
_RAD = 3  # 7x7 windows
_EPS_COLOUR = 0.01
_EPS_GREEN = 1e-3


def check_xtrans(pattern: np.ndarray) -> np.ndarray:
    """int64 6x6 pattern; raises ContractError unless it has greens, reds and blues."""
    from rawlux.core.errors import ContractError

    p = np.asarray(pattern, np.int64)
    if p.shape != (6, 6) or set(np.unique(p).tolist()) != {0, 1, 2}:
        raise ContractError(f"X-Trans demosaic needs a 6x6 pattern of R, G and B, got {p.tolist()}")
    return np.ascontiguousarray(p)


@njit(cache=True, nogil=True, fastmath=False,
      aot="void(f4[:, ::1], i8[:, ::1], f8[::1], f4[:, ::1], i8, i8)")
def _green0_rows(cfa, pat, k5, g, r0, r1):  # pragma: no cover - compiled
    h, w = cfa.shape
    for y in range(r0, r1):
        for x in range(w):
            if pat[y % 6, x % 6] == 1:
                g[y, x] = cfa[y, x]
                continue
            num = 0.0
            den = 0.0
            for j in range(-2, 3):
                yy = refl(y + j, h)
                for i in range(-2, 3):
                    xx = refl(x + i, w)
                    if pat[yy % 6, xx % 6] == 1:
                        wgt = k5[j + 2] * k5[i + 2]
                        num += wgt * cfa[yy, xx]
                        den += wgt
            g[y, x] = num / den if den > 0 else cfa[y, x]


def _offsets(pat: np.ndarray, rad: int = _RAD) -> tuple[np.ndarray, np.ndarray]:
    """Per colour and 6x6 phase, the (dy, dx) offsets within ``rad`` whose site has that colour
    (centre excluded): (3, 6, 6, (2r+1)^2, 2) int64 and counts (3, 6, 6) int64."""
    n = (2 * rad + 1) ** 2
    offs = np.zeros((3, 6, 6, n, 2), np.int64)
    cnt = np.zeros((3, 6, 6), np.int64)
    for c in range(3):
        for py in range(6):
            for px in range(6):
                for j in range(-rad, rad + 1):
                    for i in range(-rad, rad + 1):
                        if (i or j) and pat[(py + j) % 6, (px + i) % 6] == c:
                            offs[c, py, px, cnt[c, py, px]] = (j, i)
                            cnt[c, py, px] += 1
    return offs, cnt


@njit(cache=True, nogil=True, fastmath=False,
      aot="void(f4[:, ::1], i8[:, ::1], f4[:, ::1], i8[:, :, :, :, ::1], i8[:, :, ::1], "
          "f4[:, :, ::1], i8, i8)")
def _colour_rows(cfa, pat, g, offs, cnt, out, r0, r1):  # pragma: no cover - compiled
    h, w = cfa.shape
    rad = 3
    for y in range(r0, r1):
        inner_y = rad <= y < h - rad
        for x in range(w):
            c0 = pat[y % 6, x % 6]
            gx = g[y, x]
            out[y, x, 1] = gx
            for c in (0, 2):
                if c == c0:
                    out[y, x, c] = cfa[y, x]
                    continue
                num = 0.0
                den = 0.0
                if inner_y and rad <= x < w - rad:  # no reflection: the phase's offset list
                    py = y % 6
                    px = x % 6
                    for k in range(cnt[c, py, px]):
                        j = offs[c, py, px, k, 0]
                        i = offs[c, py, px, k, 1]
                        gn = g[y + j, x + i]
                        wgt = 1.0 / (1.0 + j * j + i * i) / (0.01 + abs(gn - gx))
                        num += wgt * (cfa[y + j, x + i] - gn)
                        den += wgt
                    out[y, x, c] = gx + (num / den if den > 0 else 0.0)
                    continue
                for j in range(-rad, rad + 1):
                    yy = refl(y + j, h)
                    for i in range(-rad, rad + 1):
                        xx = refl(x + i, w)
                        if pat[yy % 6, xx % 6] != c:
                            continue
                        wgt = 1.0 / (1.0 + j * j + i * i) / (0.01 + abs(g[yy, xx] - gx))
                        num += wgt * (cfa[yy, xx] - g[yy, xx])
                        den += wgt
                out[y, x, c] = gx + (num / den if den > 0 else 0.0)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _clamp_to_greens(cfa, pat, y, x, v):  # pragma: no cover - compiled
    """``v`` clamped to the range of the measured greens in the 3x3 around (y, x)."""
    h, w = cfa.shape
    lo = np.inf
    hi = -np.inf
    for j in range(-1, 2):
        yy = refl(y + j, h)
        for i in range(-1, 2):
            xx = refl(x + i, w)
            if pat[yy % 6, xx % 6] == 1:
                lo = min(lo, cfa[yy, xx])
                hi = max(hi, cfa[yy, xx])
    if lo > hi:
        return v
    return min(max(v, lo), hi)


@njit(cache=True, nogil=True, fastmath=False,
      aot="void(f4[:, ::1], i8[:, ::1], f4[:, ::1], i8[:, :, :, :, ::1], i8[:, :, ::1], "
          "f4[:, ::1], i8, i8)")
def _refine_rows(cfa, pat, g, offs, cnt, out, r0, r1):  # pragma: no cover - compiled
    h, w = cfa.shape
    rad = 3
    for y in range(r0, r1):
        inner_y = rad <= y < h - rad
        for x in range(w):
            c0 = pat[y % 6, x % 6]
            if c0 == 1:
                out[y, x] = cfa[y, x]
                continue
            gx = g[y, x]
            num = 0.0
            den = 0.0
            if inner_y and rad <= x < w - rad:
                py = y % 6
                px = x % 6
                for k in range(cnt[c0, py, px]):
                    j = offs[c0, py, px, k, 0]
                    i = offs[c0, py, px, k, 1]
                    gn = g[y + j, x + i]
                    wgt = 1.0 / (1.0 + (i * i + j * j) / 2.0) / (1e-3 + abs(gn - gx))
                    num += wgt * (cfa[y + j, x + i] - gn)
                    den += wgt
                v = cfa[y, x] - num / den if den > 0 else gx
                out[y, x] = _clamp_to_greens(cfa, pat, y, x, v)
                continue
            for j in range(-rad, rad + 1):
                yy = refl(y + j, h)
                for i in range(-rad, rad + 1):
                    if i == 0 and j == 0:
                        continue
                    xx = refl(x + i, w)
                    if pat[yy % 6, xx % 6] != c0:
                        continue
                    wgt = 1.0 / (1.0 + (i * i + j * j) / 2.0) / (1e-3 + abs(g[yy, xx] - gx))
                    num += wgt * (cfa[yy, xx] - g[yy, xx])
                    den += wgt
            v = cfa[y, x] - num / den if den > 0 else gx
            out[y, x] = _clamp_to_greens(cfa, pat, y, x, v)


def xtrans(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """float32 (H, W) X-Trans mosaic + 6x6 pattern (0=R 1=G 2=B, phase of ``cfa[0, 0]``) ->
    float32 (H, W, 3) camera RGB (module docstring)."""
    cfa, _ = check_mosaic(cfa, pattern, bayer=False)
    cfa = np.ascontiguousarray(cfa, np.float32)
    pat = check_xtrans(pattern)
    h, w = cfa.shape
    g = np.empty((h, w), np.float32)
    run_bands(_green0_rows, h, cfa, pat, _K5, g, min_rows=16)
    offs, cnt = _offsets(pat)
    g2 = np.empty_like(g)
    run_bands(_refine_rows, h, cfa, pat, g, offs, cnt, g2, min_rows=16)
    out = np.empty((h, w, 3), np.float32)
    run_bands(_colour_rows, h, cfa, pat, g2, offs, cnt, out, min_rows=16)
    return out


def xtrans_reference(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Plain numpy/Python twin of :func:`xtrans` (float64 maths, float32 between passes like the
    kernel; slow: small images only)."""
    from rawlux.isp.demosaic._common import reflect_indices

    cfa, _ = check_mosaic(cfa, pattern, bayer=False)
    cfa = np.ascontiguousarray(cfa, np.float32)
    pat = check_xtrans(pattern)
    h, w = cfa.shape
    m = cfa.astype(np.float64)
    r = _RAD
    ry, rx = reflect_indices(h, r), reflect_indices(w, r)
    M = m[ry][:, rx]
    C = pat[ry % 6][:, rx % 6]  # colour of each (reflected) site that is read

    g = np.empty((h, w))
    for y in range(h):
        for x in range(w):
            if pat[y % 6, x % 6] == 1:
                g[y, x] = m[y, x]
                continue
            sub_m = M[y + r - 2 : y + r + 3, x + r - 2 : x + r + 3]
            wgt = np.outer(_K5, _K5) * (C[y + r - 2 : y + r + 3, x + r - 2 : x + r + 3] == 1)
            g[y, x] = (wgt * sub_m).sum() / wgt.sum()
    g = g.astype(np.float32).astype(np.float64)
    jj, ii = np.mgrid[-r : r + 1, -r : r + 1]

    def colour(g: np.ndarray) -> np.ndarray:
        G = g[ry][:, rx]
        out = np.empty((h, w, 3))
        out[..., 1] = g
        for y in range(h):
            for x in range(w):
                c0 = pat[y % 6, x % 6]
                sg = G[y : y + 2 * r + 1, x : x + 2 * r + 1]
                sm = M[y : y + 2 * r + 1, x : x + 2 * r + 1]
                sc = C[y : y + 2 * r + 1, x : x + 2 * r + 1]
                for c in (0, 2):
                    if c == c0:
                        out[y, x, c] = m[y, x]
                        continue
                    wgt = (sc == c) / (1.0 + jj**2 + ii**2) / (_EPS_COLOUR + np.abs(sg - g[y, x]))
                    out[y, x, c] = g[y, x] + (wgt * (sm - sg)).sum() / wgt.sum()
        return out

    G = g[ry][:, rx]
    g2 = g.copy()
    for y in range(h):
        for x in range(w):
            c0 = pat[y % 6, x % 6]
            if c0 == 1:
                continue
            sg = G[y : y + 2 * r + 1, x : x + 2 * r + 1]
            sm = M[y : y + 2 * r + 1, x : x + 2 * r + 1]
            sc = C[y : y + 2 * r + 1, x : x + 2 * r + 1]
            mask = (sc == c0) & ~((jj == 0) & (ii == 0))
            wgt = mask / (1.0 + (jj**2 + ii**2) / 2.0) / (_EPS_GREEN + np.abs(sg - g[y, x]))
            v = m[y, x] - (wgt * (sm - sg)).sum() / wgt.sum()
            near = (sc[r - 1 : r + 2, r - 1 : r + 2] == 1)
            greens = sm[r - 1 : r + 2, r - 1 : r + 2][near]
            g2[y, x] = np.clip(v, greens.min(), greens.max()) if greens.size else v
    g2 = g2.astype(np.float32).astype(np.float64)
    return colour(g2).astype(np.float32)
