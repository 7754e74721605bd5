"""Stage 4: highlight reconstruction on the white-balanced mosaic (RAW_NORM -> RAW_NORM).

Before white balance every channel saturates at 1.0; after it, channel ``c`` saturates at
``wb_gains[c]``. A site of channel ``c`` is *clipped* when ``value >= wb_gains[c] *
clip_threshold``. Because green (gain 1) clips first, an untreated blown highlight has
R and B above G: magenta. Methods:

* ``none`` — leave the data alone.
* ``clip`` — clip every site to the lowest channel saturation ``min(wb_gains) * threshold``:
  blown areas become neutral white at the cost of highlight detail.
* ``reconstruct`` (default) — on a half-resolution R/G/B "superpixel" map (per pixel for
  LINEAR raws):

  1. the mean colour ``k`` of the unclipped pixels in a band around the clipped areas
     (brightness-weighted: a sum of colours, so dark noisy pixels barely count) is inpainted
     into them by push-pull (a pyramid of weighted averages: fine levels keep measured
     colours, coarse levels fill holes);
  2. a clipped pixel is estimated inside the family ``s * ((1 - t) * k + t * white)``: the
     neighbourhood's colour desaturated towards white, which has the neighbourhood's hue, so
     no hue is invented. ``t`` stays in the range that puts the clipped channels at or above
     their clipped values. With one channel clipped it comes from the ratio of the two
     measured channels (a core whiter than its glow gets ``t > 0``; the glow's saturated
     ratio is not extrapolated to many times the clip level: the old hot-magenta patches), as
     far as that ratio can tell (a pixel beyond white from its surround keeps the surround's
     opposed-channel ratio, capped); with two it is the middle of the range, moving to its
     dim white end as the measured channel nears its clip (when no ``t`` fits,
     the data force a hue shift and the candidate nearer the neighbourhood's hue line wins).
     Fully clipped pixels become white at their brightest value. A clipped channel ends as
     ``max(value, estimate)``;
  3. back on the mosaic only clipped sites change: ``max(site, bilinear(estimate),
     estimate of the site's own 2x2 block)``.
     Unclipped data are untouched, so the clip boundary stays continuous.

  LINEAR raws (already demosaiced by a converter) carry blown areas as a plateau of values
  scattered just under the clip level; values under the threshold with enough clipped
  neighbours count as clipped too (:func:`_linear_clip_mask`), or they would stay behind as
  speckles at the clip level among reconstructed pixels.

A sensor that saturates below the declared white level (a guessed white for a bare mosaic, or a
file that declares too much) leaves blown areas under the threshold, where white balance turns
them magenta; with ``detect_saturation`` the stage looks for a pile-up of sites shared by at least
two channels at one pre-white-balance level below 0.99 (:func:`saturation_plateau`, ~2-8 ms on
a strided sample) and counts that level as the clip.

All arithmetic is float32; the low-res work uses OpenCV, the two full-resolution passes numba.
Output values above 1 are kept (that is the point); LINEAR raws use the same maths per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rawlux.core.jit import njit, run_bands

from rawlux.core.errors import ContractError
from rawlux.core.image import CFA, RawImage
from rawlux.core.params import Choice, StageParams, param
from rawlux.core.pipeline import RAW_NORM, StageDef

class HighlightMethod(Choice):
    """How clipped highlights are handled."""

    RECONSTRUCT = "reconstruct"
    CLIP = "clip"
    NONE = "none"


METHODS = HighlightMethod.values()


@dataclass(frozen=True)
class HighlightParams(StageParams):
    """Highlight handling parameters."""

    method: HighlightMethod = param(HighlightMethod.RECONSTRUCT, doc="how clipped highlights are handled: reconstruct (colour from unclipped neighbours), clip (to white), none (keep raw values)")
    clip_threshold: float = param(
        0.97,
        lo=0.5,
        hi=1.0,
        unit="x saturation",
        doc="fraction of the white level counted as clipped (sensors often saturate a little below it)",
    )
    band: int = param(
        8, lo=1, hi=64, unit="px (half-res)", doc="width of the colour-sampling band around clips"
    )
    detect_saturation: bool = param(
        True, doc="find a sensor saturation plateau below the declared white level (files "
                  "whose white level is guessed or wrong) and count it as clipped")


# ------------------------------------------------------------------------- numba full-res


@njit(cache=True, nogil=True,
      aot="void(f4[:, ::1], i8[:, ::1], f4[::1], f4[:, :, ::1], u1[:, :, ::1], u1[:, ::1], i8, i8)")
def _superpixel(data, pat, thr, lo, clip, anyc, b0, b1):  # pragma: no cover - compiled
    """Block rows ``b0 .. b1`` of the (H//2, W//2, 3) R/G/B block means ``lo`` and per-channel
    'any site clipped' flags ``clip`` / ``anyc`` (both come in zeroed)."""
    w2 = data.shape[1] // 2
    for bi in range(b0, b1):
        for bj in range(w2):
            s0 = np.float32(0.0)
            s1 = np.float32(0.0)
            s2 = np.float32(0.0)
            n1 = 0
            for di in range(2):
                for dj in range(2):
                    c = pat[di, dj]
                    v = data[2 * bi + di, 2 * bj + dj]
                    if v >= thr[c]:
                        clip[bi, bj, c] = 1
                        anyc[bi, bj] = 1
                    if c == 0:
                        s0 += v
                    elif c == 1:
                        s1 += v
                        n1 += 1
                    else:
                        s2 += v
            lo[bi, bj, 0] = s0
            lo[bi, bj, 1] = s1 / n1
            lo[bi, bj, 2] = s2


@njit(cache=True, inline="always")
def _est_row(i, h2):  # pragma: no cover - compiled
    """Row ``i``'s bilinear sample rows of the half-resolution estimate: (y0, y1, fy, own block row)."""
    y = min(max((i - 0.5) * 0.5, 0.0), h2 - 1.0)
    y0 = min(int(y), h2 - 1)
    return y0, min(y0 + 1, h2 - 1), np.float32(y - y0), min(i // 2, h2 - 1)


@njit(cache=True, inline="always")
def _est_at(est, c, j, y0, y1, fy, bi):  # pragma: no cover - compiled
    """The estimate of channel ``c`` at column ``j`` of a row set up by :func:`_est_row`:
    bilinear, never below the estimate of the site's own block (small specular clips)."""
    w2 = est.shape[1]
    x = min(max((j - 0.5) * 0.5, 0.0), w2 - 1.0)
    x0 = min(int(x), w2 - 1)
    x1 = min(x0 + 1, w2 - 1)
    fx = np.float32(x - x0)
    top = est[y0, x0, c] + fx * (est[y0, x1, c] - est[y0, x0, c])
    bot = est[y1, x0, c] + fx * (est[y1, x1, c] - est[y1, x0, c])
    s = top + fy * (bot - top)
    return max(s, est[bi, min(j // 2, w2 - 1), c])


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, ::1], i8[:, ::1], f4[::1], f4[:, :, ::1], f4[:, ::1], i8, i8)")
def _apply_mosaic(data, pat, thr, est, out, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1``: clipped sites -> max(site, bilinear sample of est at the site); others
    copied."""
    w = data.shape[1]
    for i in range(r0, r1):
        y0, y1, fy, bi = _est_row(i, est.shape[0])
        for j in range(w):
            v = data[i, j]
            c = pat[i & 1, j & 1]
            if v >= thr[c]:
                out[i, j] = max(v, _est_at(est, c, j, y0, y1, fy, bi))
            else:
                out[i, j] = v


# ------------------------------------------------- sparse execution (same maths, less memory)
#
# Clipped areas are usually a small part of a photograph, and outside them the result is a
# copy. The sparse path below computes exactly what the dense path (_superpixel ->
# reconstruct_rgb -> _apply_mosaic) computes, bit for bit, but never materialises the
# half-resolution image: superpixel means are recomputed from the mosaic where needed (in the
# band around clips and on clipped blocks), the estimate exists only on clipped blocks and
# their 8 neighbours (the bilinear support of _apply_mosaic), and the output is a parallel row
# copy with only rows holding clipped blocks revisited. Tests check it equals the dense path.


@njit(cache=True, inline="always")
def _lo_at(data, pat, bi, bj, c):  # pragma: no cover - compiled
    """Superpixel mean of channel ``c`` in block (bi, bj), computed as in :func:`_superpixel`."""
    s = np.float32(0.0)
    n = 0
    for di in range(2):
        for dj in range(2):
            if pat[di, dj] == c:
                s += data[2 * bi + di, 2 * bj + dj]
                n += 1
    if c == 1:
        return np.float32(s / n)
    return s


@njit(cache=True, inline="always")
def _colour_cells(vs, wsum, cnt, bi):  # pragma: no cover - compiled
    """Finish cell row ``bi``: divide the sums of the sampled colours ``vs`` and the sample
    counts ``wsum`` by the cell's pixel count (``vs`` becomes the mean colour premultiplied by
    the sample fraction, as push-pull takes it)."""
    for bj in range(vs.shape[1]):
        inv = np.float32(1.0) / max(cnt[bi, bj], np.float32(1.0))
        for c in range(3):
            vs[bi, bj, c] *= inv
            wsum[bi, bj, c] *= inv


@njit(cache=True, nogil=True,
      aot="void(f4[:, ::1], i8[:, ::1], f4[::1], u1[:, :, ::1], u1[:, ::1], i8[::1], i8, i8)")
def _clip_flags(data, pat, thr, clip, anyc, rows, b0, b1):  # pragma: no cover - compiled
    """Block rows ``b0 .. b1`` of the per-block per-channel clip flags ``clip`` (h2, w2, 3), the
    any-clip map ``anyc`` (h2, w2) and the clipped blocks per block row ``rows`` (all zeroed)."""
    w2 = data.shape[1] // 2
    p00, p01, p10, p11 = pat[0, 0], pat[0, 1], pat[1, 0], pat[1, 1]
    t00, t01, t10, t11 = thr[p00], thr[p01], thr[p10], thr[p11]
    for bi in range(b0, b1):
        r0 = data[2 * bi]
        r1 = data[2 * bi + 1]
        hit = False
        for bj in range(w2):  # cheap test first: most blocks have no clipped site
            if (r0[2 * bj] >= t00) | (r0[2 * bj + 1] >= t01) | (r1[2 * bj] >= t10) | (r1[2 * bj + 1] >= t11):
                hit = True
                break
        if not hit:
            continue
        n = 0
        for bj in range(w2):
            a = False
            if r0[2 * bj] >= t00:
                clip[bi, bj, p00] = 1
                a = True
            if r0[2 * bj + 1] >= t01:
                clip[bi, bj, p01] = 1
                a = True
            if r1[2 * bj] >= t10:
                clip[bi, bj, p10] = 1
                a = True
            if r1[2 * bj + 1] >= t11:
                clip[bi, bj, p11] = 1
                a = True
            if a:
                anyc[bi, bj] = 1
                n += 1
        rows[bi] = n


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, ::1], i8[:, ::1], u1[:, :, ::1], u1[:, ::1], u1[::1], f4, f4[:, :, ::1],"
      " f4[:, :, ::1], f4[:, ::1], i8, i8)")
def _colour_small_sparse(data, pat, clip, near, near_rows, floor, vs, wsum, cnt, s0, s1):  # pragma: no cover
    """Rows ``s0 .. s1`` of :func:`_colour_small` with superpixel means taken from the mosaic on
    demand, visiting only block rows with a pixel near a clip (``near_rows``); ``vs``, ``wsum``
    (hs, ws, 3) come in zeroed, ``cnt`` (hs, ws) holds the pixel count per cell."""
    h, w = clip.shape[0], clip.shape[1]
    hs, ws = vs.shape[0], vs.shape[1]
    for bi in range(s0, s1):
        i0 = bi * h // hs
        i1 = (bi + 1) * h // hs
        busy = False
        for i in range(i0, i1):
            if near_rows[i]:
                busy = True
        if not busy:  # nothing measured or clipped here: the cell sums stay 0
            continue
        for i in range(i0, i1):
            if not near_rows[i]:
                continue
            for j in range(w):
                bj = min(j * ws // w, ws - 1)
                if clip[i, j, 0] + clip[i, j, 1] + clip[i, j, 2] > 0 or not near[i, j]:
                    continue
                l0 = _lo_at(data, pat, i, j, 0)
                l1 = _lo_at(data, pat, i, j, 1)
                l2 = _lo_at(data, pat, i, j, 2)
                if l0 + l1 + l2 > 3 * floor:
                    vs[bi, bj, 0] += l0
                    vs[bi, bj, 1] += l1
                    vs[bi, bj, 2] += l2
                    for c in range(3):
                        wsum[bi, bj, c] += 1.0
        _colour_cells(vs, wsum, cnt, bi)


_EVIDENCE = 0.1  # change of the measured ratio over half the t range that fully trusts a fit
_SLACK = 0.97  # a clipped value bounds its channel from below only to within this factor
_CORE_FROM = 0.7  # two clipped: from this fraction of its clip the measured channel pulls t white


@njit(cache=True, inline="always")
def _rebuild_px(lo, clip, k, thr, rec):  # pragma: no cover - compiled
    """Estimate of one pixel with clipped channels into ``rec`` (``lo``: its 3 values, ``clip``:
    3 flags, ``k``: the mean colour of the unclipped neighbourhood, ``thr``: clip levels).

    The pixel is taken from the family ``s * ((1 - t) * k^ + t)`` (``k^ = k / max(k)``): the
    neighbourhood's colour desaturated towards white by ``t`` in [0, 1], which keeps the
    neighbourhood's hue. ``s`` makes the brightest measured channel exact; ``t`` stays in the
    interval that puts every clipped channel at or above its clipped value (within
    ``_SLACK``): its ends are the brightest, most saturated and the dimmest, whitest readings
    the data allow. With one channel clipped, ``t`` is solved from the ratio of the two
    measured channels (a pixel whiter than its surround gets ``t > 0`` instead of the
    surround's ratio extrapolated far above the clip level), weighted against the middle of
    the interval by how much that ratio can tell (``_EVIDENCE``); a pixel whose ratio lies
    beyond white from the surround's keeps the surround's ratio of the clipped channel to the
    mean of the other two, capped by the family at mid-interval. With two clipped, ``t`` is
    the middle of the interval (it joins the one-channel neighbours most smoothly), moving to
    its dim end as the measured channel nears its clip (to meet the blown core); when the
    interval is empty, see the fallback below. With three, the pixel becomes white at its
    brightest value. Clipped channels end as ``max(value, estimate)``; measured channels are
    kept."""
    km = max(k[0], max(k[1], k[2]))
    nc = clip[0] + clip[1] + clip[2]
    for c in range(3):
        rec[c] = lo[c]
    if km <= 0 or nc == 3:
        white = max(lo[0], max(lo[1], lo[2]))
        for c in range(3):
            rec[c] = white
        return
    a = 0  # the brighter measured channel
    for c in range(3):
        if not clip[c] and (clip[a] or lo[c] > lo[a]):
            a = c
    one = np.float32(1.0)
    ka = k[a] / km
    # the range of t with s ((1 - t) k^c + t) >= value for every clipped channel c (a clipped
    # value is the saturation level, known only to within the clip threshold's margin)
    lo_t = np.float32(0.0)
    hi_t = one
    for c in range(3):
        if clip[c]:
            kc = k[c] / km
            vc = lo[c] * np.float32(_SLACK)
            # lo[a] ((1 - t) kc + t) >= vc ((1 - t) ka + t)  <=>  p + t q >= 0
            p = lo[a] * kc - vc * ka
            q = lo[a] * (one - kc) - vc * (one - ka)
            if q > 0:
                lo_t = max(lo_t, -p / q)
            elif q < 0:
                hi_t = min(hi_t, -p / q)
            elif p < 0:
                hi_t = np.float32(-1.0)
    t_mid = (lo_t + hi_t) * np.float32(0.5)
    if nc == 1:  # t from the ratio of the two measured channels, as far as it tells
        b = a
        for c in range(3):
            if not clip[c] and c != a:
                b = c
        kb = k[b] / km
        # the family's a/b ratio runs monotonically from ka/kb (t = 0) to 1 (t = 1)
        r0 = ka / max(kb, np.float32(1e-6))
        r = lo[a] / max(lo[b], np.float32(1e-6))
        f = (r - r0) / (one - r0) if r0 != one else np.float32(0.0)
        beyond = np.float32(0.0)
        if f <= 0:  # as saturated as the neighbourhood or more
            t_fit = np.float32(0.0)
        elif f >= 1:  # at or beyond white
            t_fit = one
            beyond = min(f - one, one)
        else:
            num = lo[a] * kb - lo[b] * ka
            den = lo[b] * (one - ka) - lo[a] * (one - kb)
            t_fit = min(max(num / den, np.float32(0.0)), one) if den != 0 else t_mid
        if hi_t < lo_t:
            t = t_fit
        else:
            # evidence: how much the family's a/b ratio changes between the saturated end
            # and the middle of the range (none when k^a == k^b: a red light's green and
            # blue say nothing about how white its core is, and a fit would be noise)
            r0 = ((one - lo_t) * ka + lo_t) / max((one - lo_t) * kb + lo_t, np.float32(1e-6))
            rm = ((one - t_mid) * ka + t_mid) / max((one - t_mid) * kb + t_mid, np.float32(1e-6))
            w = min(abs(r0 - rm) / max(max(r0, rm), np.float32(1e-6)) / np.float32(_EVIDENCE), one)
            t = min(max(w * t_fit + (one - w) * t_mid, lo_t), hi_t)
        _family(lo, clip, k, km, a, t, rec)
        if beyond > 0:
            # well beyond white from the surround (a pinkish lamp in a bluish room): no member
            # of the family matches both measured channels, and the measured pair fixes the
            # tint. Blend (by how far beyond, so the result stays continuous at white) towards
            # the surround's relation of the clipped channel to the mean of the other two (the
            # opposed-channel ratio), never above the family at the middle of its range (a
            # saturated surround's ratio would extrapolate far above the clip)
            m = (lo[a] + lo[b]) * np.float32(0.5)
            kab = max((k[a] + k[b]) * np.float32(0.5), np.float32(1e-6))
            s_mid = lo[a] / max((one - t_mid) * ka + t_mid, np.float32(1e-6))
            for c in range(3):
                if clip[c]:
                    cap = s_mid * ((one - t_mid) * (k[c] / km) + t_mid)
                    v = max(lo[c], min(cap, m * k[c] / kab))
                    rec[c] = rec[c] * (one - beyond) + v * beyond
        return
    elif hi_t >= lo_t:
        # the middle of the range; towards its dim, white end as the one measured channel
        # nears its own clip (``thr``), to meet the fully blown core (white at its clip level)
        # without a step
        u = min(max((lo[a] / thr[a] - np.float32(_CORE_FROM)) / np.float32(1.0 - _CORE_FROM),
                    np.float32(0.0)), one)
        t = t_mid + (hi_t - t_mid) * u * u * (np.float32(3.0) - np.float32(2.0) * u)
    else:
        # no member of the family reaches every clipped value: the data force a hue shift.
        # Candidates: the family member with the least shortfall of the clipped channels (the
        # middle of the t that tie for it, so a shortfall that no t changes does not push t
        # to an extreme), or the compromise halfway to white at the highest clipped value;
        # whichever is nearer the neighbourhood's hue line
        best = np.float32(np.inf)
        t_lo = one
        t_hi = np.float32(0.0)
        for pass_ in range(2):
            for g in range(9):
                tg = np.float32(g) * np.float32(0.125)
                sg = lo[a] / max((one - tg) * ka + tg, np.float32(1e-6))
                short = np.float32(0.0)
                for c in range(3):
                    if clip[c]:
                        vc = lo[c] * np.float32(_SLACK)
                        short = max(short, (vc - sg * ((one - tg) * (k[c] / km) + tg)) / vc)
                if pass_ == 0:
                    best = min(best, short)
                elif short <= best + np.float32(0.02):
                    t_lo = min(t_lo, tg)
                    t_hi = max(t_hi, tg)
        _family(lo, clip, k, km, a, (t_lo + t_hi) * np.float32(0.5), rec)
        d0 = _off_hue(rec, k, km)
        top = np.float32(0.0)
        for c in range(3):
            if clip[c]:
                top = max(top, lo[c])
        mid = (lo[a] + top) * np.float32(0.5)
        e0, e1, e2 = rec[0], rec[1], rec[2]
        for c in range(3):
            if clip[c]:
                rec[c] = max(lo[c], mid)
        if d0 <= _off_hue(rec, k, km):
            rec[0], rec[1], rec[2] = e0, e1, e2
        return
    _family(lo, clip, k, km, a, t, rec)


@njit(cache=True, inline="always")
def _family(lo, clip, k, km, a, t, rec):  # pragma: no cover - compiled
    """Clipped channels of ``rec`` <- max(value, s ((1 - t) k^ + t)) with ``s`` fixed by the
    measured channel ``a``; measured channels <- their values."""
    one = np.float32(1.0)
    s = lo[a] / max((one - t) * (k[a] / km) + t, np.float32(1e-6))
    for c in range(3):
        rec[c] = max(lo[c], s * ((one - t) * (k[c] / km) + t)) if clip[c] else lo[c]


@njit(cache=True, inline="always")
def _off_hue(p, k, km):  # pragma: no cover - compiled
    """How far colour ``p`` lies from the hue line of ``k`` (white -> k) in the opponent
    plane, both normalised by their brightest channel (0 = on the line)."""
    s2, s6 = np.float32(0.70710678), np.float32(0.40824829)
    pm = max(p[0], max(p[1], p[2]), np.float32(1e-6))
    o1 = (p[0] - p[1]) / pm * s2
    o2 = (p[0] + p[1] - 2 * p[2]) / pm * s6
    d1 = (k[0] - k[1]) / km * s2
    d2 = (k[0] + k[1] - 2 * k[2]) / km * s6
    dn = np.sqrt(d1 * d1 + d2 * d2)
    if dn < np.float32(1e-4):
        return np.sqrt(o1 * o1 + o2 * o2)
    along = (o1 * d1 + o2 * d2) / dn
    if along <= 0:
        return np.sqrt(o1 * o1 + o2 * o2)
    return abs(o1 * d2 - o2 * d1) / dn


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, ::1], i8[:, ::1], u1[:, :, ::1], u1[:, ::1], i8[::1], f4[:, :, ::1],"
      " f4[::1], f4[:, :, ::1], i8, i8)")
def _rebuild_sparse(data, pat, clip, support, rows, colour, thr, out, r0, r1):  # pragma: no cover
    """Rows ``r0 .. r1`` of :func:`_rebuild` evaluated only where ``support`` is set (elsewhere
    ``out`` is left unset)."""
    h, w = clip.shape[0], clip.shape[1]
    hs, ws = colour.shape[0], colour.shape[1]
    sy = hs / h
    sx = ws / w
    for i in range(r0, r1):
        if rows[i] == 0:
            continue
        lo = np.empty(3, np.float32)
        rec = np.empty(3, np.float32)
        k = np.empty(3, np.float32)
        y = (i + 0.5) * sy - 0.5
        for j in range(w):
            if not support[i, j]:
                continue
            for c in range(3):
                lo[c] = _lo_at(data, pat, i, j, c)
            c0, c1, c2 = clip[i, j, 0], clip[i, j, 1], clip[i, j, 2]
            if c0 + c1 + c2 == 0:
                out[i, j, 0] = lo[0]
                out[i, j, 1] = lo[1]
                out[i, j, 2] = lo[2]
                continue
            x = (j + 0.5) * sx - 0.5
            for c in range(3):
                k[c] = _bilin(colour, y, x, c)
            _rebuild_px(lo, clip[i, j], k, thr, rec)
            for c in range(3):
                out[i, j, c] = rec[c]


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, ::1], i8[:, ::1], f4[::1], f4[:, :, ::1], i8[::1], f4[:, ::1], b1, i8, i8)")
def _apply_mosaic_sparse(data, pat, thr, est, rows, out, copy, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1`` of :func:`_apply_mosaic` as a row copy (``copy``; skipped when ``out``
    is ``data``) that revisits only rows of blocks with clipped sites. A site's new value
    depends only on its own old value and ``est``, so ``out`` may be ``data``."""
    w = data.shape[1]
    h2 = est.shape[0]
    for i in range(r0, r1):
        src = data[i]
        dst = out[i]
        if copy:
            for j in range(w):
                dst[j] = src[j]
        if rows[min(i // 2, h2 - 1)] == 0:
            continue
        y0, y1, fy, bi = _est_row(i, h2)
        for j in range(w):
            v = src[j]
            c = pat[i & 1, j & 1]
            if v >= thr[c]:
                dst[j] = max(v, _est_at(est, c, j, y0, y1, fy, bi))


# ---------------------------------------------------------------------------- low-res maths
_SMALL = 4  # the neighbourhood colour map lives at 1/_SMALL of the superpixel resolution
_FLOOR = 0.01  # colours are sampled only where the mean of the three channels exceeds this


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, :, ::1], u1[:, :, ::1], u1[:, ::1], f4, f4[:, :, ::1], f4[:, :, ::1],"
      " f4[:, ::1], i8, i8)")
def _colour_small(lo, clip, near, floor, vs, wsum, cnt, s0, s1):  # pragma: no cover - compiled
    """Rows ``s0 .. s1`` of the cell means (cells of ~_SMALL x _SMALL pixels on the (hs, ws)
    grid of ``vs``) of the colours of unclipped pixels near a clip and brighter than ``floor``
    (premultiplied by the fraction of such pixels, which goes to ``wsum``); ``vs``, ``wsum``,
    ``cnt`` come in zeroed. Their ratio after push-pull is the brightness-weighted mean colour
    of the neighbourhood (dark, noisy pixels barely move it)."""
    h, w = lo.shape[0], lo.shape[1]
    hs, ws = vs.shape[0], vs.shape[1]
    for bi in range(s0, s1):
        i0 = bi * h // hs
        i1 = (bi + 1) * h // hs
        for i in range(i0, i1):
            for j in range(w):
                bj = min(j * ws // w, ws - 1)
                cnt[bi, bj] += 1.0
                if clip[i, j, 0] + clip[i, j, 1] + clip[i, j, 2] > 0 or not near[i, j]:
                    continue
                if lo[i, j, 0] + lo[i, j, 1] + lo[i, j, 2] > 3 * floor:
                    for c in range(3):
                        vs[bi, bj, c] += lo[i, j, c]
                        wsum[bi, bj, c] += 1.0
        _colour_cells(vs, wsum, cnt, bi)


@njit(cache=True, inline="always")
def _bilin(a, y, x, c):  # pragma: no cover - compiled
    h, w = a.shape[0], a.shape[1]
    y = min(max(y, 0.0), h - 1.0)
    x = min(max(x, 0.0), w - 1.0)
    y0 = min(int(y), h - 1)
    x0 = min(int(x), w - 1)
    y1 = min(y0 + 1, h - 1)
    x1 = min(x0 + 1, w - 1)
    fy = y - y0
    fx = x - x0
    top = a[y0, x0, c] + fx * (a[y0, x1, c] - a[y0, x0, c])
    bot = a[y1, x0, c] + fx * (a[y1, x1, c] - a[y1, x0, c])
    return top + fy * (bot - top)


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, :, ::1], u1[:, :, ::1], f4[:, :, ::1], f4[::1], f4[:, :, ::1], i8, i8)")
def _rebuild(lo, clip, colour, thr, out, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1`` of the per-pixel estimate (:func:`_rebuild_px` with the neighbourhood
    colour bilinearly sampled from ``colour``) of an (H, W, 3) image."""
    h, w = lo.shape[0], lo.shape[1]
    hs, ws = colour.shape[0], colour.shape[1]
    sy = hs / h
    sx = ws / w
    for i in range(r0, r1):
        rec = np.empty(3, np.float32)
        px = np.empty(3, np.float32)
        k = np.empty(3, np.float32)
        y = (i + 0.5) * sy - 0.5
        for j in range(w):
            c0, c1, c2 = clip[i, j, 0], clip[i, j, 1], clip[i, j, 2]
            if c0 + c1 + c2 == 0:
                out[i, j, 0] = lo[i, j, 0]
                out[i, j, 1] = lo[i, j, 1]
                out[i, j, 2] = lo[i, j, 2]
                continue
            x = (j + 0.5) * sx - 0.5
            for c in range(3):
                k[c] = _bilin(colour, y, x, c)
                px[c] = lo[i, j, c]
            _rebuild_px(px, clip[i, j], k, thr, rec)
            for c in range(3):
                out[i, j, c] = rec[c]


def push_pull(values: np.ndarray, weights: np.ndarray, default: float = 1.0) -> np.ndarray:
    """Fill (H, W, C) ``values`` where ``weights`` (same shape, in [0, 1]) are 0 from nearby
    weighted values by a push-pull pyramid; where weight is 1 the value is kept."""
    return _push_pull_premult(
        np.asarray(values * weights, np.float32), np.asarray(weights, np.float32), default
    )


def _push_pull_premult(vw: np.ndarray, w: np.ndarray, default: float) -> np.ndarray:
    import cv2

    v_levels = [np.ascontiguousarray(vw, np.float32)]
    w_levels = [np.ascontiguousarray(w, np.float32)]
    while max(v_levels[-1].shape[:2]) > 2:
        h, wd = v_levels[-1].shape[:2]
        size = (max(1, (wd + 1) // 2), max(1, (h + 1) // 2))
        v_levels.append(_resize(cv2, v_levels[-1], size, cv2.INTER_AREA))
        w_levels.append(_resize(cv2, w_levels[-1], size, cv2.INTER_AREA))
    vt, wt = v_levels[-1], w_levels[-1]
    tot_w = wt.sum(axis=(0, 1))
    mean = np.where(tot_w > 0, vt.sum(axis=(0, 1)) / np.maximum(tot_w, 1e-12), default)
    est = np.broadcast_to(mean.astype(np.float32), vt.shape)
    est = vt + (1.0 - np.minimum(wt, 1.0)) * est
    for lv, lw in zip(reversed(v_levels[:-1]), reversed(w_levels[:-1])):
        h, wd = lv.shape[:2]
        up = _resize(cv2, np.ascontiguousarray(est, np.float32), (wd, h), cv2.INTER_LINEAR)
        est = lv + (1.0 - np.minimum(lw, 1.0)) * up
    return np.ascontiguousarray(est, dtype=np.float32)


def _resize(cv2, a: np.ndarray, size: tuple[int, int], interp: int) -> np.ndarray:
    out = cv2.resize(a, size, interpolation=interp)
    return out.reshape(size[1], size[0], a.shape[2]) if a.ndim == 3 else out


def reconstruct_rgb(
    lo: np.ndarray, clip: np.ndarray, thr: np.ndarray, band: int = 8,
    anyc: np.ndarray | None = None,
) -> np.ndarray:
    """Reconstruct clipped channels of an (H, W, 3) float32 image given (H, W, 3) clip flags
    and the (3,) per-channel clip thresholds ``thr``.

    Returns the estimate for every pixel/channel (unclipped channels keep their value).
    ``anyc`` (H, W) uint8 "any channel clipped" may be passed when already known.
    """
    import cv2

    lo = np.ascontiguousarray(lo, np.float32)
    clip8 = np.ascontiguousarray(clip, np.uint8)
    if anyc is None:
        anyc = (clip8[..., 0] | clip8[..., 1] | clip8[..., 2]).astype(np.uint8)
    k = 2 * int(band) + 1
    near = cv2.dilate(anyc, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    floor = np.float32(_FLOOR)  # normalised data: 1.0 ~ sensor saturation
    h, w = lo.shape[:2]
    hs, ws = max(1, h // _SMALL), max(1, w // _SMALL)
    vs = np.zeros((hs, ws, 3), np.float32)
    wsum = np.zeros((hs, ws, 3), np.float32)
    cnt = np.zeros((hs, ws), np.float32)
    run_bands(_colour_small, hs, lo, clip8, np.ascontiguousarray(near, np.uint8), floor, vs, wsum,
              cnt, min_rows=1)
    colour = _push_pull_premult(vs, wsum, 1.0)
    out = np.empty((h, w, 3), np.float32)
    run_bands(_rebuild, h, lo, clip8, colour, np.ascontiguousarray(thr, np.float32), out)
    return out


# ---------------------------------------------------------------------------------- stage


_PLATEAU_SAMPLES = 1 << 16  # sites per channel looked at (rows are strided beyond this)
_PLATEAU_BIN = 0.004  # histogram bin, fraction of the white level
_PLATEAU_PEAK = 4.0  # a plateau bin holds this many times the typical count just below it
_PLATEAU_SHARE = 2e-4  # ... and at least this share of the channel's sites
_PLATEAU_AGREE = 0.02  # channels' plateaus agree within this fraction (one sensor well depth)


def _channel_plateau(v: np.ndarray) -> float | None:
    """Level (fraction of white) of a pile-up of values near the top of one channel's sites
    ``v`` (pre-white-balance units), or None. A saturating sensor stacks every blown site
    into a narrow, noisy band at its well depth; an unclipped bright surface spreads out."""
    v = v[np.isfinite(v)]
    if v.size < 1000:
        return None
    k = v.size - 1 - v.size // 10000
    top = float(np.partition(v, k)[k])  # 99.99th percentile: the top, without hot pixels
    if not 0.3 < top < 1.2:
        return None
    lo = 0.6 * top
    nbins = int((top - lo) / _PLATEAU_BIN) + 1
    hi = lo + nbins * _PLATEAU_BIN
    counts, edges = np.histogram(v[v >= lo], bins=nbins, range=(lo, hi))  # uniform: no sort
    if counts.size < 20:
        return None
    peak = int(np.argmax(counts[counts.size // 2:])) + counts.size // 2
    below = counts[max(0, peak - 40):max(1, peak - 5)]
    typical = max(float(np.median(below)) if below.size else 0.0, 1.0)
    if counts[peak] < _PLATEAU_PEAK * typical or counts[peak] < _PLATEAU_SHARE * v.size:
        return None
    # the plateau starts where the pile-up rises above a quarter of its peak (read noise
    # spreads blown sites below the well depth too)
    start = peak
    while start > 0 and counts[start - 1] >= 0.25 * counts[peak]:
        start -= 1
    return float(edges[start])


def saturation_plateau(data: np.ndarray, pat: np.ndarray, gains: np.ndarray) -> float | None:
    """Sensor saturation (fraction of the declared white, pre-white-balance) found in a
    white-balanced Bayer mosaic, when at least two channels pile up at the same level (one
    well depth) below ``0.99``; None when the data show no such plateau.

    Raws whose white level is guessed (bare mosaics) or declared too high leave blown areas
    just under it, where white balance turns them magenta; this finds them."""
    levels = []
    h, w = data.shape
    step = max(1, int(np.ceil(h * w / 4 / _PLATEAU_SAMPLES)))
    for c in range(3):
        ys, xs = np.nonzero(pat == c)
        if ys.size == 0:
            continue
        sites = np.concatenate([data[y::2 * step, x::2].ravel() for y, x in zip(ys, xs)])
        lvl = _channel_plateau(sites / np.float32(gains[c]))
        if lvl is not None:
            levels.append(lvl)
    levels.sort()
    for a, b in zip(levels, levels[1:]):
        if b - a <= _PLATEAU_AGREE and b < 0.99:
            return a
    return None


def _thresholds(raw: RawImage, params: HighlightParams) -> np.ndarray:
    g = (
        np.ones(3, np.float32)
        if raw.wb_gains is None
        else np.asarray(raw.wb_gains, np.float32).ravel()
    )
    if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ContractError(f"wb_gains {g.tolist()} must be 3 positive finite numbers")
    level = float(params.clip_threshold)
    if (params.detect_saturation and raw.cfa.is_bayer and raw.cfa_pattern is not None
            and raw.data.ndim == 2 and raw.data.shape[0] >= 2 and raw.data.shape[1] >= 2):
        plateau = saturation_plateau(raw.data, np.asarray(raw.cfa_pattern), g)
        if plateau is not None:
            level = min(level, plateau)
    return (g * np.float32(level)).astype(np.float32)


def highlights(raw: RawImage, params: HighlightParams = HighlightParams()) -> RawImage:
    """Handle clipped highlights of a normalised, white-balanced RawImage (see module doc)."""
    return _highlights(raw, params, in_place=False)


def highlights_inplace(raw: RawImage, params: HighlightParams = HighlightParams()) -> RawImage:
    """:func:`highlights` changing only the clipped sites of ``raw.data`` in place (Bayer
    ``reconstruct``; pipeline-owned images only, see :attr:`StageDef.inplace`)."""
    return _highlights(raw, params, in_place=True)


def _highlights(raw: RawImage, params: HighlightParams, in_place: bool) -> RawImage:
    if raw.data.dtype != np.float32:
        raise ContractError(f"highlights need the normalised float32 raw, got {raw.data.dtype}")
    if params.method == "none":
        return raw
    thr = _thresholds(raw, params)
    data = raw.data
    if params.method == "clip":
        return raw.with_data(np.minimum(data, thr.min()))
    if raw.cfa is CFA.LINEAR:
        if float(np.max(data)) < float(thr.min()):
            return raw  # nothing clipped: fast path
        clip = _linear_clip_mask(data, thr)
        if not clip.any():
            return raw
        est = reconstruct_rgb(data, clip, thr, params.band)
        return raw.with_data(np.where(clip, np.maximum(data, est), data).astype(np.float32))
    if not raw.cfa.is_bayer:
        # X-Trans: no superpixel layout here; neutral clip is the safe choice
        return raw.with_data(np.minimum(data, thr.min()))
    if data.shape[0] < 2 or data.shape[1] < 2:
        return raw
    pat = np.ascontiguousarray(raw.cfa_pattern, dtype=np.int64)
    out = reconstruct_mosaic(data, pat, thr, params.band,
                             in_place=in_place and data.flags.c_contiguous and data.flags.writeable)
    return raw if out is data else raw.with_data(out)


_WEAK = 0.8  # linear raws: a value above this fraction of its clip level ...
_WEAK_NEIGHBOURS = 5  # ... with at least this many of its 8 neighbours clipped counts as clipped
_NEAR, _NEAR_NEIGHBOURS = 0.95, 2  # and so does one just under the clip with two clipped neighbours
_WEAK_ROUNDS = 4  # the rules are applied this many times (so they reach into a plateau)


def _linear_clip_mask(data: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """(H, W, 3) bool clip flags of a LINEAR raw: a value >= ``thr`` is clipped, and so is a
    value >= ``_WEAK * thr`` with at least ``_WEAK_NEIGHBOURS`` clipped 8-neighbours, or >=
    ``_NEAR * thr`` with ``_NEAR_NEIGHBOURS`` (``_WEAK_ROUNDS`` rounds, so the rules reach into
    a plateau). A converter's demosaic smears the clip level of blown areas into a plateau of
    values just under it (0.92-1.0 of it on the 6D DNG); a single threshold splits that plateau into
    single-pixel islands left at the clip level among reconstructed ones: speckles. Values
    at the edge of a clip (few clipped neighbours) are real gradation and stay measured."""
    import cv2

    clip = data >= thr
    kernel = np.ones((3, 3), np.float32)
    kernel[1, 1] = 0.0
    for c in range(3):
        rows = np.flatnonzero(clip[..., c].any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(clip[rows[0]: rows[-1] + 1, :, c].any(axis=0))
        # each round reaches 1 px further out; 2 more px keep the filter's border exact
        m = _WEAK_ROUNDS + 2
        y0, y1 = max(rows[0] - m, 0), rows[-1] + m + 1
        x0, x1 = max(cols[0] - m, 0), cols[-1] + m + 1
        v = data[y0:y1, x0:x1, c]
        box = clip[y0:y1, x0:x1, c]
        weak = v >= thr[c] * np.float32(_WEAK)
        near = v >= thr[c] * np.float32(_NEAR)
        for _ in range(_WEAK_ROUNDS):
            n = cv2.filter2D(box.view(np.uint8), cv2.CV_8U, kernel, borderType=cv2.BORDER_CONSTANT)
            grown = (weak & (n >= _WEAK_NEIGHBOURS)) | (near & (n >= _NEAR_NEIGHBOURS))
            if not (grown & ~box).any():
                break
            box |= grown
    return clip


def reconstruct_mosaic(data: np.ndarray, pat: np.ndarray, thr: np.ndarray, band: int = 8, *,
                       in_place: bool = False) -> np.ndarray:
    """Bayer ``reconstruct`` on a float32 (H, W) mosaic (H, W >= 2) with 2x2 channel ``pat`` and
    per-channel clip thresholds ``thr``: the sparse execution of :func:`reconstruct_mosaic_dense`
    (equal to it), returning ``data`` itself when no site is clipped. ``in_place`` (float32
    C-contiguous ``data`` only) writes the reconstructed sites into ``data`` and returns it."""
    import cv2

    data = np.ascontiguousarray(data, np.float32)
    pat = np.ascontiguousarray(pat, np.int64)
    thr = np.ascontiguousarray(thr, np.float32)
    if data.shape[0] % 2 or data.shape[1] % 2:  # a lone last row/column: use the dense path
        if float(np.max(data)) < float(np.min(thr)):
            return data
        return reconstruct_mosaic_dense(data, pat, thr, band)
    h2, w2 = data.shape[0] // 2, data.shape[1] // 2
    clip = np.zeros((h2, w2, 3), np.uint8)
    anyc = np.zeros((h2, w2), np.uint8)
    rows = np.zeros(h2, np.int64)
    run_bands(_clip_flags, h2, data, pat, thr, clip, anyc, rows)
    if not rows.any():
        return data  # nothing clipped: nothing to do
    k = 2 * int(band) + 1
    near = cv2.dilate(anyc, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    support = cv2.dilate(anyc, np.ones((3, 3), np.uint8))  # bilinear support of _apply_mosaic
    support_rows = np.convolve(rows > 0, np.ones(3), mode="same").astype(np.int64)
    h, w = clip.shape[:2]
    hs, ws = max(1, h // _SMALL), max(1, w // _SMALL)
    vs = np.zeros((hs, ws, 3), np.float32)
    wsum = np.zeros((hs, ws, 3), np.float32)
    cnt = _cell_counts(h, w, hs, ws)
    near_rows = np.ascontiguousarray(near.max(axis=1), np.uint8)
    run_bands(_colour_small_sparse, hs, data, pat, clip, near, near_rows, np.float32(_FLOOR), vs,
              wsum, cnt, min_rows=1)
    colour = _push_pull_premult(vs, wsum, 1.0)
    est = np.empty((h, w, 3), np.float32)
    run_bands(_rebuild_sparse, h, data, pat, clip, support, support_rows, colour, thr, est)
    out = data if in_place else np.empty(data.shape, np.float32)
    run_bands(_apply_mosaic_sparse, data.shape[0], data, pat, thr, est, rows, out, not in_place)
    return out


def _cell_counts(h: int, w: int, hs: int, ws: int) -> np.ndarray:
    """float32 (hs, ws): how many of the (h, w) pixels fall in each cell of the colour grid (cell
    row ``bi`` holds pixel rows ``[bi h // hs, (bi + 1) h // hs)``, pixel column ``j`` falls in
    cell column ``min(j ws // w, ws - 1)``, as in the kernels)."""
    rows = np.diff(np.arange(hs + 1) * h // hs)
    cols = np.bincount(np.minimum(np.arange(w) * ws // w, ws - 1), minlength=ws)
    return np.outer(rows, cols).astype(np.float32)


def reconstruct_mosaic_dense(data: np.ndarray, pat: np.ndarray, thr: np.ndarray, band: int = 8) -> np.ndarray:
    """Reference execution of the Bayer ``reconstruct`` method over full half-resolution planes."""
    data = np.ascontiguousarray(data, np.float32)
    pat = np.ascontiguousarray(pat, np.int64)
    thr = np.ascontiguousarray(thr, np.float32)
    h2, w2 = data.shape[0] // 2, data.shape[1] // 2
    lo = np.empty((h2, w2, 3), np.float32)
    clip = np.zeros((h2, w2, 3), np.uint8)
    anyc = np.zeros((h2, w2), np.uint8)
    run_bands(_superpixel, h2, data, pat, thr, lo, clip, anyc)
    est = reconstruct_rgb(lo, clip, thr, band, anyc)
    out = np.empty(data.shape, np.float32)
    run_bands(_apply_mosaic, data.shape[0], data, pat, thr, est, out)
    return out


STAGE = StageDef("highlights", highlights, HighlightParams, takes=RAW_NORM, gives=RAW_NORM,
                 inplace=highlights_inplace)
