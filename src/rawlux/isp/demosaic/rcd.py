"""RCD — ratio-corrected demosaicing (after L. Sanz Rodríguez's RCD, 2017), numba, float32.

Algorithm (Bayer, linear data):

1. Directional discrimination ``VH = V / (V + H)`` where V/H are 3-tap sums of the squared
   7-tap colour-difference high-pass ``(c[-3] - c[-1] - c[+1] + c[+3]) - 3(c[-2] + c[+2]) + 6c``
   along columns/rows. ``VH`` near 1 means vertical structure is busy -> trust horizontal.
2. A 3x3 binomial low-pass ``L`` of the raw mosaic (a local luminance proxy).
3. Green at R/B sites: four cardinal estimates ``G_n * 2L / (L + L_n)`` (ratio-corrected by
   the low-pass), mixed per axis by inverse gradients, then across axes by ``VH`` (the central
   value or the diagonal neighbourhood mean, whichever is more decisive).
4. R at B and B at R: colour differences ``C - G`` of the four diagonal neighbours, gradient
   weighted along each diagonal, mixed by a diagonal discrimination ``PQ`` built like ``VH``.
5. R and B at G: colour differences of the cardinal neighbours, weighted like step 3.

Execution: horizontal strips of ``_TS`` rows, bands of strips run in parallel (``run_bands``), each with a
``_M``-row reflect-101 margin, so working memory is a few strip-sized buffers per thread,
not full-size planes. Nothing is clipped: values above 1 (highlights) and negatives (noise
around black) survive; ratio corrections use the low-pass clamped at 0 so they stay in [0, 2].
"""

from __future__ import annotations

import numpy as np
from rawlux.core.jit import njit, run_bands

from rawlux.core.errors import ContractError
from rawlux.isp.demosaic._common import check_mosaic, reflect_indices

_M = 12  # strip margin (even: keeps the Bayer phase of local coordinates)
_TS = 128  # strip height (even)
_EPS = np.float32(1e-5)
_EPSSQ = np.float32(1e-10)


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def _disc(d: np.ndarray, i: int, jm: int) -> np.float32:  # pragma: no cover - compiled
    """The more decisive of d[i, jm+1] and the mean of its 4 diagonal neighbours.

    Column indices are written as ``jm + non-negative constant`` (jm = j - 1) throughout this
    module: numba's negative-index wraparound check otherwise blocks SIMD vectorisation.
    """
    c = d[i, jm + 1]
    n = np.float32(0.25) * (d[i - 1, jm] + d[i - 1, jm + 2] + d[i + 1, jm] + d[i + 1, jm + 2])
    return n if abs(np.float32(0.5) - c) < abs(np.float32(0.5) - n) else c


@njit(cache=True, fastmath=True, error_model="numpy")
def _rcd_strip(cfa, pat, cols, out, r0, r1, c, t1, t2, vh, g, pq, c2, post, pm, top, left):  # pragma: no cover
    """Demosaic rows [r0, r1) of ``cfa`` into ``out`` using the given strip buffers; ``out``
    holds the window of the frame starting at (``top``, ``left``) (the whole frame: 0, 0).

    Inner loops run over ``k`` with the column ``j = k + B`` for a per-step constant ``B``;
    every column index is ``k + (non-negative constant)`` so the loops vectorise.
    """
    H, W = cfa.shape
    M = _M
    Lw = W + 2 * M
    Lh = r1 - r0 + 2 * M
    eps = _EPS
    f0 = np.float32(0.0)
    half = np.float32(0.5)
    quarter = np.float32(0.25)
    three = np.float32(3.0)
    six = np.float32(6.0)
    two = np.float32(2.0)
    one = np.float32(1.0)
    # ---- local mosaic with reflect-101 borders (local phase == global phase: r0, M even)
    for li in range(Lh):
        gi = r0 + li - M
        if gi < 0 or gi >= H:
            if H == 1:
                gi = 0
            else:
                per = 2 * (H - 1)
                gi = abs(gi) % per
                if gi >= H:
                    gi = per - gi
        for lj in range(M):
            c[li, lj] = cfa[gi, cols[lj]]
        for lj in range(W):
            c[li, lj + M] = cfa[gi, lj]
        for lj in range(M + W, Lw):
            c[li, lj] = cfa[gi, cols[lj]]
    # ---- step 1: squared directional high-pass (t1 vertical, t2 horizontal) -> VH
    for i in range(3, Lh - 3):
        for k in range(Lw):
            hp = (
                (c[i - 3, k] - c[i - 1, k] - c[i + 1, k] + c[i + 3, k])
                - three * (c[i - 2, k] + c[i + 2, k])
                + six * c[i, k]
            )
            t1[i, k] = hp * hp
    for i in range(Lh):
        for k in range(Lw - 6):  # j = k + 3
            hp = (
                (c[i, k] - c[i, k + 2] - c[i, k + 4] + c[i, k + 6])
                - three * (c[i, k + 1] + c[i, k + 5])
                + six * c[i, k + 3]
            )
            t2[i, k + 3] = hp * hp
    for i in range(4, Lh - 4):
        for k in range(Lw - 8):  # j = k + 4
            v = max(_EPSSQ, t1[i - 1, k + 4] + t1[i, k + 4] + t1[i + 1, k + 4])
            h = max(_EPSSQ, t2[i, k + 3] + t2[i, k + 4] + t2[i, k + 5])
            vh[i, k + 4] = v / (v + h)
    # ---- step 2: 3x3 low-pass, clamped >= 0 for the ratio correction (t1)
    for i in range(1, Lh - 1):
        for k in range(Lw - 2):  # j = k + 1
            lp = (
                c[i, k + 1]
                + half * (c[i - 1, k + 1] + c[i + 1, k + 1] + c[i, k] + c[i, k + 2])
                + quarter * (c[i - 1, k] + c[i - 1, k + 2] + c[i + 1, k] + c[i + 1, k + 2])
            )
            t1[i, k + 1] = max(lp, f0)
    # ---- step 3: green at non-green sites (whole rows computed, selected by parity)
    for i in range(Lh):
        for k in range(Lw):
            g[i, k] = c[i, k]
    for i in range(5, Lh - 5):
        j0 = 0 if pat[i & 1, 0] != 1 else 1
        for k in range(Lw - 12):  # j = k + 6
            cc = c[i, k + 6]
            lc = t1[i, k + 6]
            cn1 = c[i - 1, k + 6]
            cs1 = c[i + 1, k + 6]
            cw1 = c[i, k + 5]
            ce1 = c[i, k + 7]
            dv = abs(cn1 - cs1)
            dh = abs(cw1 - ce1)
            ng = (
                eps
                + dv
                + abs(cc - c[i - 2, k + 6])
                + abs(cn1 - c[i - 3, k + 6])
                + abs(c[i - 2, k + 6] - c[i - 4, k + 6])
            )
            sg = (
                eps
                + dv
                + abs(cc - c[i + 2, k + 6])
                + abs(cs1 - c[i + 3, k + 6])
                + abs(c[i + 2, k + 6] - c[i + 4, k + 6])
            )
            wg = (
                eps
                + dh
                + abs(cc - c[i, k + 4])
                + abs(cw1 - c[i, k + 3])
                + abs(c[i, k + 4] - c[i, k + 2])
            )
            eg = (
                eps
                + dh
                + abs(cc - c[i, k + 8])
                + abs(ce1 - c[i, k + 9])
                + abs(c[i, k + 8] - c[i, k + 10])
            )
            l2 = two * lc + eps
            ne = cn1 * l2 / (eps + lc + t1[i - 2, k + 6])
            se = cs1 * l2 / (eps + lc + t1[i + 2, k + 6])
            we = cw1 * l2 / (eps + lc + t1[i, k + 4])
            ee = ce1 * l2 / (eps + lc + t1[i, k + 8])
            ve = (sg * ne + ng * se) / (ng + sg)
            he = (eg * we + wg * ee) / (eg + wg)
            d = _disc(vh, i, k + 5)
            est = d * he + (one - d) * ve
            g[i, k + 6] = est if ((k ^ j0) & 1) == 0 else cc
    # ---- step 4.1: diagonal high-pass (t1 = NW-SE "P", t2 = NE-SW "Q") -> PQ
    for i in range(3, Lh - 3):
        for k in range(Lw - 6):  # j = k + 3
            hp = (
                (c[i - 3, k] - c[i - 1, k + 2] - c[i + 1, k + 4] + c[i + 3, k + 6])
                - three * (c[i - 2, k + 1] + c[i + 2, k + 5])
                + six * c[i, k + 3]
            )
            t1[i, k + 3] = hp * hp
            hq = (
                (c[i - 3, k + 6] - c[i - 1, k + 4] - c[i + 1, k + 2] + c[i + 3, k])
                - three * (c[i - 2, k + 5] + c[i + 2, k + 1])
                + six * c[i, k + 3]
            )
            t2[i, k + 3] = hq * hq
    for i in range(4, Lh - 4):
        for k in range(Lw - 8):  # j = k + 4
            p = max(_EPSSQ, t1[i - 1, k + 3] + t1[i, k + 4] + t1[i + 1, k + 5])
            q = max(_EPSSQ, t2[i - 1, k + 5] + t2[i, k + 4] + t2[i + 1, k + 3])
            pq[i, k + 4] = p / (p + q)
    # ---- step 4.2: the missing chroma at non-green sites -> c2 (finite garbage at green sites)
    for i in range(7, Lh - 7):
        for k in range(Lw - 16):  # j = k + 8
            gc = g[i, k + 8]
            cnw = c[i - 1, k + 7]
            cne = c[i - 1, k + 9]
            csw = c[i + 1, k + 7]
            cse = c[i + 1, k + 9]
            nwg = eps + abs(cnw - cse) + abs(cnw - c[i - 3, k + 5]) + abs(gc - g[i - 2, k + 6])
            neg = eps + abs(cne - csw) + abs(cne - c[i - 3, k + 11]) + abs(gc - g[i - 2, k + 10])
            swg = eps + abs(csw - cne) + abs(csw - c[i + 3, k + 5]) + abs(gc - g[i + 2, k + 6])
            seg = eps + abs(cse - cnw) + abs(cse - c[i + 3, k + 11]) + abs(gc - g[i + 2, k + 10])
            nwe = cnw - g[i - 1, k + 7]
            nee = cne - g[i - 1, k + 9]
            swe = csw - g[i + 1, k + 7]
            see = cse - g[i + 1, k + 9]
            pe = (nwg * see + seg * nwe) / (nwg + seg)
            qe = (neg * swe + swg * nee) / (neg + swg)
            d = _disc(pq, i, k + 7)
            c2[i, k + 8] = gc + (one - d) * pe + d * qe
    # ---- step 4.3 + output: R and B at green sites, assemble the strip (j = k + M)
    oh, ow = out.shape[0], out.shape[1]
    for i in range(M, Lh - M):
        gi = r0 + i - M
        oi = gi - top
        if oi < 0 or oi >= oh:
            continue
        jng = 0 if pat[i & 1, 0] != 1 else 1  # non-green column parity of this row
        ch = pat[i & 1, jng]  # chroma of this row's non-green sites
        red_row = ch == 0  # else this row's chroma is blue and rows above/below are red
        for k in range(W):
            gc = c[i, k + 12]
            d = _disc(vh, i, k + 11)
            gn = g[i - 1, k + 12]
            gs = g[i + 1, k + 12]
            gw = g[i, k + 11]
            ge = g[i, k + 13]
            dgn = abs(gc - g[i - 2, k + 12])
            dgs = abs(gc - g[i + 2, k + 12])
            dgw = abs(gc - g[i, k + 10])
            dge = abs(gc - g[i, k + 14])
            # chroma cv: raw above/below (c), interpolated left/right (c2)
            vn = c[i - 1, k + 12]
            vs = c[i + 1, k + 12]
            hw = c2[i, k + 11]
            hx = c2[i, k + 13]
            ng = eps + dgn + abs(vn - vs) + abs(vn - c[i - 3, k + 12])
            sg = eps + dgs + abs(vs - vn) + abs(vs - c[i + 3, k + 12])
            wg = eps + dgw + abs(hw - hx) + abs(hw - c2[i, k + 9])
            eg = eps + dge + abs(hx - hw) + abs(hx - c2[i, k + 15])
            ve = (ng * (vs - gs) + sg * (vn - gn)) / (ng + sg)
            he = (eg * (hw - gw) + wg * (hx - ge)) / (eg + wg)
            ecv = gc + (one - d) * ve + d * he
            # chroma ch: interpolated above/below (c2), raw left/right (c)
            vn = c2[i - 1, k + 12]
            vs = c2[i + 1, k + 12]
            hw = c[i, k + 11]
            hx = c[i, k + 13]
            ng = eps + dgn + abs(vn - vs) + abs(vn - c2[i - 3, k + 12])
            sg = eps + dgs + abs(vs - vn) + abs(vs - c2[i + 3, k + 12])
            wg = eps + dgw + abs(hw - hx) + abs(hw - c[i, k + 9])
            eg = eps + dge + abs(hx - hw) + abs(hx - c[i, k + 15])
            ve = (ng * (vs - gs) + sg * (vn - gn)) / (ng + sg)
            he = (eg * (hw - gw) + wg * (hx - ge)) / (eg + wg)
            ech = gc + (one - d) * ve + d * he
            t1[i, k] = ecv  # t1/t2 are free again: row buffers for the two estimates
            t2[i, k] = ech
        if post == 0:
            for k in range(left, left + ow):  # interleave (a separate loop so the maths above vectorises)
                gc = c[i, k + 12]
                isng = ((k ^ jng) & 1) == 0
                vch = gc if isng else t2[i, k]  # chroma ch (raw at this row's non-green sites)
                vcv = c2[i, k + 12] if isng else t1[i, k]  # chroma cv
                out[oi, k - left, 0] = vch if red_row else vcv
                out[oi, k - left, 1] = g[i, k + 12]
                out[oi, k - left, 2] = vcv if red_row else vch
        else:  # fused pointwise tail: out = pm @ rgb (post 2: then max(., 0))
            for k in range(left, left + ow):
                gc = c[i, k + 12]
                isng = ((k ^ jng) & 1) == 0
                vch = gc if isng else t2[i, k]
                vcv = c2[i, k + 12] if isng else t1[i, k]
                rv = vch if red_row else vcv
                gv = g[i, k + 12]
                bv = vcv if red_row else vch
                x = pm[0, 0] * rv + pm[0, 1] * gv + pm[0, 2] * bv
                y = pm[1, 0] * rv + pm[1, 1] * gv + pm[1, 2] * bv
                z = pm[2, 0] * rv + pm[2, 1] * gv + pm[2, 2] * bv
                if post == 2:
                    x = x if x > f0 else f0
                    y = y if y > f0 else f0
                    z = z if z > f0 else f0
                out[oi, k - left, 0] = x
                out[oi, k - left, 1] = y
                out[oi, k - left, 2] = z


@njit(
    cache=True,
    nogil=True,
    aot="void(f4[:, ::1], i8[:, ::1], i8[::1], f4[:, :, ::1], i8, f4[:, ::1], i8, i8, i8, i8)",
)
def _rcd_strips(cfa, pat, cols, out, post, pm, top, left, s0, s1):  # pragma: no cover - compiled
    """Demosaic strips ``s0 .. s1`` (of ``_TS`` rows each) with one set of strip buffers into
    ``out``, the window of the frame starting at (``top``, ``left``)."""
    H, W = cfa.shape
    shape = (_TS + 2 * _M, W + 2 * _M)
    c = np.empty(shape, np.float32)
    t1 = np.empty(shape, np.float32)
    t2 = np.empty(shape, np.float32)
    vh = np.empty(shape, np.float32)
    g = np.empty(shape, np.float32)
    pq = np.empty(shape, np.float32)
    c2 = np.empty(shape, np.float32)
    for s in range(s0, s1):
        r0 = s * _TS
        r1 = min(H, r0 + _TS)
        _rcd_strip(cfa, pat, cols, out, r0, r1, c, t1, t2, vh, g, pq, c2, post, pm, top, left)


def rcd(
    cfa: np.ndarray,
    pattern: np.ndarray,
    *,
    post: np.ndarray | None = None,
    clamp: bool = False,
    out: np.ndarray | None = None,
    window: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """RCD demosaic: float32 (H, W) Bayer mosaic + 2x2 pattern -> float32 (H, W, 3).

    ``post`` (3x3): a pointwise matrix applied to each demosaiced pixel as it is written
    (``clamp``: then negatives become 0) — the fused form of a following colour-matrix stage.
    ``window`` = (top, left, height, width): compute and return only that rectangle of the
    frame (a fused crop; equal to cropping the full result). ``out``: a float32 C-contiguous
    array of the result's shape to write into (else a new one).
    """
    cfa, pat = check_mosaic(cfa, pattern)
    h, w = cfa.shape
    top, left, oh, ow = (0, 0, h, w) if window is None else (int(v) for v in window)
    if top < 0 or left < 0 or oh < 1 or ow < 1 or top + oh > h or left + ow > w:
        raise ContractError(f"rcd window {window} does not fit the {w}x{h} mosaic")
    if out is None:
        out = np.empty((oh, ow, 3), np.float32)
    elif out.shape != (oh, ow, 3) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ContractError(f"rcd out must be float32 C-contiguous {(oh, ow, 3)}, got {out.dtype} {out.shape}")
    mode = 0 if post is None else (2 if clamp else 1)
    pm = np.eye(3, dtype=np.float32) if post is None else np.ascontiguousarray(post, np.float32)
    if pm.shape != (3, 3):
        raise ContractError(f"rcd post matrix must be 3x3, got {pm.shape}")
    first = top // _TS  # only the strips that hold window rows
    nstrips = (top + oh + _TS - 1) // _TS - first
    run_bands(_rcd_band, nstrips, cfa, pat, reflect_indices(w, _M), out, mode, pm, top, left, first,
              min_rows=1)
    return out


def _rcd_band(cfa: np.ndarray, pat: np.ndarray, cols: np.ndarray, out: np.ndarray, mode: int,
              pm: np.ndarray, top: int, left: int, first: int, s0: int, s1: int) -> None:
    _rcd_strips(cfa, pat, cols, out, mode, pm, top, left, first + s0, first + s1)
