"""Numpy reference of :func:`rawlux.isp.demosaic.rcd.rcd` (same maths, whole-image arrays).

Slow and memory hungry (dozens of full-size temporaries): for tests and for reading the
algorithm. Each step is computed at every pixel of a reflect-padded image and selected by CFA
masks; ``sh(a, dy, dx)[i, j] == a[i + dy, j + dx]`` (wrap-around garbage stays inside the
12-pixel pad because the whole dependency chain has radius 10).
"""

from __future__ import annotations

import numpy as np

from rawlux.isp.demosaic._common import check_mosaic

_M = 12
_EPS = np.float32(1e-5)
_EPSSQ = np.float32(1e-10)


def _sh(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    return np.roll(a, (-dy, -dx), axis=(0, 1))


def _disc(d: np.ndarray) -> np.ndarray:
    n = np.float32(0.25) * (_sh(d, -1, -1) + _sh(d, -1, 1) + _sh(d, 1, -1) + _sh(d, 1, 1))
    return np.where(np.abs(0.5 - d) < np.abs(0.5 - n), n, d).astype(np.float32)


def _hp(c: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Squared 7-tap colour-difference high-pass along the direction (dy, dx)."""
    s = lambda k: _sh(c, k * dy, k * dx)
    hp = (s(-3) - s(-1) - s(1) + s(3)) - 3 * (s(-2) + s(2)) + 6 * c
    return (hp * hp).astype(np.float32)


def rcd_reference(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """RCD demosaic in plain numpy: float32 (H, W) mosaic + 2x2 pattern -> float32 (H, W, 3)."""
    cfa, pat = check_mosaic(cfa, pattern)
    h, w = cfa.shape
    c = np.pad(cfa, _M, mode="reflect").astype(np.float32)
    ph, pw = c.shape
    col = np.tile(pat, (ph // 2 + 1, pw // 2 + 1))[:ph, :pw]  # phase kept: _M is even
    ng = col != 1
    eps = _EPS
    # step 1: VH discrimination
    t1, t2 = _hp(c, 1, 0), _hp(c, 0, 1)
    v = np.maximum(_EPSSQ, _sh(t1, -1, 0) + t1 + _sh(t1, 1, 0))
    hh = np.maximum(_EPSSQ, _sh(t2, 0, -1) + t2 + _sh(t2, 0, 1))
    vh = (v / (v + hh)).astype(np.float32)
    # step 2: low-pass
    lpf = (
        c
        + 0.5 * (_sh(c, -1, 0) + _sh(c, 1, 0) + _sh(c, 0, -1) + _sh(c, 0, 1))
        + 0.25 * (_sh(c, -1, -1) + _sh(c, -1, 1) + _sh(c, 1, -1) + _sh(c, 1, 1))
    )
    lpf = np.maximum(lpf, 0).astype(np.float32)
    # step 3: green at non-green sites
    x = lambda dy, dx: _sh(c, dy, dx)
    dv, dh = np.abs(x(-1, 0) - x(1, 0)), np.abs(x(0, -1) - x(0, 1))
    ngr = (
        eps + dv + np.abs(c - x(-2, 0)) + np.abs(x(-1, 0) - x(-3, 0)) + np.abs(x(-2, 0) - x(-4, 0))
    )
    sgr = eps + dv + np.abs(c - x(2, 0)) + np.abs(x(1, 0) - x(3, 0)) + np.abs(x(2, 0) - x(4, 0))
    wgr = (
        eps + dh + np.abs(c - x(0, -2)) + np.abs(x(0, -1) - x(0, -3)) + np.abs(x(0, -2) - x(0, -4))
    )
    egr = eps + dh + np.abs(c - x(0, 2)) + np.abs(x(0, 1) - x(0, 3)) + np.abs(x(0, 2) - x(0, 4))
    l2 = 2 * lpf + eps
    ne = x(-1, 0) * l2 / (eps + lpf + _sh(lpf, -2, 0))
    se = x(1, 0) * l2 / (eps + lpf + _sh(lpf, 2, 0))
    we = x(0, -1) * l2 / (eps + lpf + _sh(lpf, 0, -2))
    ee = x(0, 1) * l2 / (eps + lpf + _sh(lpf, 0, 2))
    ve = (sgr * ne + ngr * se) / (ngr + sgr)
    he = (egr * we + wgr * ee) / (egr + wgr)
    d = _disc(vh)
    g = np.where(ng, d * he + (1 - d) * ve, c).astype(np.float32)
    # step 4.1: PQ discrimination
    tp, tq = _hp(c, 1, 1), _hp(c, 1, -1)
    p = np.maximum(_EPSSQ, _sh(tp, -1, -1) + tp + _sh(tp, 1, 1))
    q = np.maximum(_EPSSQ, _sh(tq, -1, 1) + tq + _sh(tq, 1, -1))
    pq = (p / (p + q)).astype(np.float32)
    # step 4.2: missing chroma at non-green sites
    gg = lambda dy, dx: _sh(g, dy, dx)
    nwg = eps + np.abs(x(-1, -1) - x(1, 1)) + np.abs(x(-1, -1) - x(-3, -3)) + np.abs(g - gg(-2, -2))
    neg = eps + np.abs(x(-1, 1) - x(1, -1)) + np.abs(x(-1, 1) - x(-3, 3)) + np.abs(g - gg(-2, 2))
    swg = eps + np.abs(x(1, -1) - x(-1, 1)) + np.abs(x(1, -1) - x(3, -3)) + np.abs(g - gg(2, -2))
    seg = eps + np.abs(x(1, 1) - x(-1, -1)) + np.abs(x(1, 1) - x(3, 3)) + np.abs(g - gg(2, 2))
    nwe, nee = x(-1, -1) - gg(-1, -1), x(-1, 1) - gg(-1, 1)
    swe, see = x(1, -1) - gg(1, -1), x(1, 1) - gg(1, 1)
    pe = (nwg * see + seg * nwe) / (nwg + seg)
    qe = (neg * swe + swg * nee) / (neg + swg)
    dp = _disc(pq)
    c2 = (g + (1 - dp) * pe + dp * qe).astype(np.float32)
    # step 4.3: chroma at green sites; "a" = raw above/below, "b" = raw left/right
    dgn, dgs = np.abs(c - gg(-2, 0)), np.abs(c - gg(2, 0))
    dgw, dge = np.abs(c - gg(0, -2)), np.abs(c - gg(0, 2))

    def chroma(vsrc: np.ndarray, hsrc: np.ndarray) -> np.ndarray:
        vn, vs = _sh(vsrc, -1, 0), _sh(vsrc, 1, 0)
        hw, hx = _sh(hsrc, 0, -1), _sh(hsrc, 0, 1)
        n_ = eps + dgn + np.abs(vn - vs) + np.abs(vn - _sh(vsrc, -3, 0))
        s_ = eps + dgs + np.abs(vs - vn) + np.abs(vs - _sh(vsrc, 3, 0))
        w_ = eps + dgw + np.abs(hw - hx) + np.abs(hw - _sh(hsrc, 0, -3))
        e_ = eps + dge + np.abs(hx - hw) + np.abs(hx - _sh(hsrc, 0, 3))
        ve_ = (n_ * (vs - gg(1, 0)) + s_ * (vn - gg(-1, 0))) / (n_ + s_)
        he_ = (e_ * (hw - gg(0, -1)) + w_ * (hx - gg(0, 1))) / (e_ + w_)
        return c + (1 - d) * ve_ + d * he_

    e_a = chroma(c, c2)  # the chroma of the rows above/below
    e_b = chroma(c2, c)  # the chroma of this row's non-green sites
    out = np.empty((ph, pw, 3), np.float32)
    col_h = _sh(col, 0, 1)  # at green sites: colour of the row neighbours
    for k in (0, 2):
        at_ng = np.where(col == k, c, c2)
        at_g = np.where(col_h == k, e_b, e_a)
        out[..., k] = np.where(ng, at_ng, at_g)
    out[..., 1] = g
    return np.ascontiguousarray(out[_M : _M + h, _M : _M + w])
