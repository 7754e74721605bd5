"""Render a look: scene-linear Rec.2020 (H, W, 3) -> display-linear Rec.2020 [0, 1].

Per pixel, in one fused, row-parallel numba kernel (:func:`_render_rows`; numpy reference
:func:`render_reference`, tested equal within 2e-5):

1. optional monochrome channel mix, negatives clipped;
2. ``t = log2(max(R, G, B))`` (a fast bit-level log2) plus exposure, the local tone-mapping gain
   (guided-filter coefficients from :mod:`rawlux.looks.local`, bilinear: pre-upsampled along x
   once, two rows blended per output row) and the vignette;
3. tone curve looked up at ``t`` (table in log2 x, clamped), applied as a ratio to RGB (hue kept);
4. the global colour edits as a baked 33^3 LUT on ``sqrt``-shaped display values
   (tetrahedral; stored with a 4th padding channel so each vertex is one 4-wide load);
   monochrome looks only ever sample the LUT's grey diagonal, where tetrahedral
   interpolation is exactly linear between diagonal nodes, so they use that 1D table;
5. grain (a deterministic periodic noise tile, equal on all channels), blend with neutral by
   ``strength``.

The guided filter itself runs on ``k x k`` block means (short side about 384 px).
:func:`render_look` can write in place (``out=data``), saving the output allocation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rawlux.color.transfer import lut_interp
from rawlux.core.fastmath import clip01, fast_log2
from rawlux.core.jit import njit, run_bands
from rawlux.looks.fastops import (
    pair_lerp,
    prefetch,
    tetra_blend4,
    tetra_blend4_clip,
)
from rawlux.looks.local import (
    downsample_norm,
    guided_coefficients,
    local_gain_reference,
    upsample_columns,
    upsample_reference,
)
from rawlux.looks.lut import apply_3d_reference
from rawlux.looks.adapt import NONE as NO_ADAPTATION
from rawlux.looks.adapt import Adaptation
from rawlux.looks.adapt import measure as measure_adaptation
from rawlux.looks.spec import LookSpec, ToneSpec
from rawlux.looks.tone import ToneTable, apply_tone_table, chroma_gain, tone_table
from rawlux.core.errors import InvalidParameter
from rawlux.looks.colour import colour_ops
from rawlux.looks.lut import Lut
from rawlux.looks.registry import get_look
from rawlux.looks.tone import shoulder_curve, shoulder_knee, shoulder_table

COLOUR_LUT_SIZE = 33


@dataclass(frozen=True, eq=False)
class Baked:
    """Everything the kernel needs from a look, precomputed once per look."""

    matrix: np.ndarray  # (3, 3) float32
    use_matrix: bool
    tone: ToneTable
    colour_lut: np.ndarray  # (N, N, N, 3) float32 on sqrt-shaped display-linear input
    colour_lut4: np.ndarray  # the same padded to 4 channels (N, N, N, 4), for 4-wide loads
    tone_pairs: np.ndarray  # tone table as (value, slope to the next) pairs, (2 n) float32

    @property
    def diagonal(self) -> np.ndarray:
        """The colour LUT's grey diagonal ``lut[i, i, i]`` (N, 3) float32 (monochrome looks)."""
        i = np.arange(self.colour_lut.shape[0])
        return np.ascontiguousarray(self.colour_lut[i, i, i], np.float32)


def _mix_matrix(spec: LookSpec) -> np.ndarray | None:
    if not spec.mono.enabled:
        return None
    w = np.asarray(spec.mono.mix, np.float64)
    s = w.sum()
    w = w / s if abs(s) > 1e-6 else np.full(3, 1.0 / 3.0)
    return np.tile(w, (3, 1)).astype(np.float32)


def colour_function(spec: LookSpec):  # type: ignore[no-untyped-def]
    """The look's global colour edit on display-linear Rec.2020 (float64 in/out)."""
    return lambda rgb: colour_ops(rgb, spec)


@lru_cache(maxsize=32)
def _bake_cached(spec: LookSpec, size: int) -> Baked:
    if not 2 <= size <= 127:  # the kernel packs vertex offsets of the 4-channel LUT in 16 bits

        raise InvalidParameter(f"colour LUT size {size} is outside [2, 127]")
    m = _mix_matrix(spec)
    t = spec.tone
    table = tone_table(t.pivot, t.grey, t.contrast, t.white, t.toe, t.black)
    g = np.linspace(0.0, 1.0, size)
    r, gg, b = np.meshgrid(g, g, g, indexing="ij")
    grid = np.stack([r, gg, b], axis=-1) ** 2  # sqrt-shaped nodes -> display linear
    lut = np.ascontiguousarray(colour_function(spec)(grid), np.float32)
    lut4 = np.zeros((size, size, size, 4), np.float32)
    lut4[..., :3] = lut
    pairs = _tone_pairs(table)
    return Baked(m if m is not None else np.eye(3, dtype=np.float32), m is not None, table, lut,
                 lut4, pairs)


def _tone_pairs(table: ToneTable) -> np.ndarray:
    """The tone table as (value, slope to the next node) pairs, (2 n) float32."""
    pairs = np.zeros(2 * table.values.shape[0], np.float32)
    pairs[0::2] = table.values
    pairs[1:-2:2] = np.diff(table.values)
    return pairs


def bake(spec: LookSpec, size: int = COLOUR_LUT_SIZE) -> Baked:
    """Precompute the look's tone table and colour LUT (cached per look)."""
    return _bake_cached(spec, size)


def _grain_seed(shape: tuple[int, ...], spec: LookSpec) -> int:
    return zlib.crc32(f"{shape}:{spec.name}".encode()) & 0x7FFFFFFF


GRAIN_PERIOD = 1024  # px; the grain pattern repeats every GRAIN_PERIOD pixels


@lru_cache(maxsize=8)
def grain_tile(size: float, seed: int) -> np.ndarray:
    """Periodic value-noise tile (GRAIN_PERIOD^2 float32, values in [-1, 1]) with grain cells of
    about ``size`` px, bilinearly interpolated and wrapping seamlessly at its edges."""
    n = max(2, round(GRAIN_PERIOD / size))
    cells = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, n)).astype(np.float32)
    u = np.arange(GRAIN_PERIOD) * (n / GRAIN_PERIOD)
    i0 = np.floor(u).astype(np.int64) % n
    i1 = (i0 + 1) % n
    f = (u - np.floor(u)).astype(np.float32)
    rows = cells[i0] * (1 - f)[:, None] + cells[i1] * f[:, None]
    tile = rows[:, i0] * (1 - f)[None, :] + rows[:, i1] * f[None, :]
    return np.ascontiguousarray(tile, np.float32)


ROW_CHUNK = 8  # rows per parallel work item (buffers are allocated once per chunk)
#: fast-math without 'nnan'/'ninf': NaN and inf inputs must still be handled (NaN -> black,
#: +inf -> white), so comparisons with them keep their IEEE meaning
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, inline="always", fastmath=_FASTMATH, error_model="numpy")
def _tetra_pixel(j, x, y, z, f, ok, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2,
                 fr3):  # pragma: no cover - compiled
    """Pass C for pixel ``j`` from its display values ``x, y, z`` (clipped to [0, 1]; ``f``
    instead when not ``ok``): see :func:`_tetra_weights`."""
    i1 = np.int32(1)
    s_all = sr + sg + sb
    x = np.sqrt(x if ok else f) * nm1
    y = np.sqrt(y if ok else f) * nm1
    z = np.sqrt(z if ok else f) * nm1
    ii = min(np.int32(x), nm2)
    jj = min(np.int32(y), nm2)
    kk = min(np.int32(z), nm2)
    fr = x - np.float32(ii)
    fg = y - np.float32(jj)
    fb = z - np.float32(kk)
    # tetrahedron: vertices ordered by the largest, middle and smallest
    # fraction (branch-free: integer masks, so the loop vectorises)
    rg = np.int32(fr > fg)
    gb = np.int32(fg > fb)
    rb = np.int32(fr > fb)
    r_max = rg * rb
    g_max = (i1 - rg) * gb
    r_min = (i1 - rg) * (i1 - rb)
    g_min = rg * (i1 - gb)
    f1 = max(fr, max(fg, fb))
    f3 = min(fr, min(fg, fb))
    f2 = fr + fg + fb - f1 - f3
    o1 = sb + r_max * (sr - sb) + g_max * (sg - sb)
    o3 = sb + r_min * (sr - sb) + g_min * (sg - sb)
    ibase[j] = (max(ii, np.int32(0)) * sr + max(jj, np.int32(0)) * sg
                + max(kk, np.int32(0)) * sb)  # NaN-safe: never outside the table
    ioff[j] = o1 | ((s_all - o3) << np.int32(16))
    fr1[j] = f1
    fr2[j] = f2
    fr3[j] = f3


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _tetra_weights(srow, nrm, pos, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2,
                   fr3):  # pragma: no cover - compiled
    """Pass C of :func:`_render_rows` on one row (``srow``: 3 W floats; ``nrm``: max(R, G, B);
    ``pos``: tone value): sqrt-shaped LUT coordinates -> tetrahedron base offset ``ibase``, the
    offsets of its 2nd and 3rd vertex packed in ``ioff`` (low and high 16 bits; the 4th is the
    opposite corner) and the sorted fractions ``fr1 >= fr2 >= fr3`` (weights ``1 - fr1,
    fr1 - fr2, fr2 - fr3, fr3``; same vertex choice as :func:`rawlux.looks.lut.apply_3d_reference`).
    Branch-free, so LLVM vectorises it; a separate function on row slices because signed
    offsets into the full image keep the loop scalar."""
    W = nrm.shape[0]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    tiny = np.float32(1e-12)
    huge = np.float32(3.0e38)
    for j in range(W):
        n = nrm[j]
        f = pos[j]
        ok = (n > tiny) & (n < huge)
        ratio = f / n
        x = min(max(srow[3 * j] * ratio, zero), one)
        y = min(max(srow[3 * j + 1] * ratio, zero), one)
        z = min(max(srow[3 * j + 2] * ratio, zero), one)
        _tetra_pixel(j, x, y, z, f, ok, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2, fr3)


@njit(cache=True, fastmath=_FASTMATH, error_model="numpy")
def _tetra_weights_h(srow, nrm, pos, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2, fr3,
                     hbuf):  # pragma: no cover - compiled
    """:func:`_tetra_weights` with the adaptive black's chroma gain ``hbuf``: each channel's
    distance below the max is stretched, ``f - (n - c) ratio h`` instead of ``c ratio``."""
    W = nrm.shape[0]
    zero = np.float32(0.0)
    one = np.float32(1.0)
    tiny = np.float32(1e-12)
    huge = np.float32(3.0e38)
    for j in range(W):
        n = nrm[j]
        f = pos[j]
        ok = (n > tiny) & (n < huge)
        rh = f / n * hbuf[j]
        x = min(max(f - (n - srow[3 * j]) * rh, zero), one)
        y = min(max(f - (n - srow[3 * j + 1]) * rh, zero), one)
        z = min(max(f - (n - srow[3 * j + 2]) * rh, zero), one)
        _tetra_pixel(j, x, y, z, f, ok, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2, fr3)


@njit(cache=True, inline="always", fastmath=_FASTMATH, error_model="numpy")
def _lut_pixel(T, ibase, ioff, fr1, fr2, fr3, s_all, j, clip, out, o):  # pragma: no cover - compiled
    """Pass D for pixel ``j``: blend its tetrahedron's four 4-wide LUT vertices (offsets from
    pass C) into ``out[o:o + 4]`` (the 4th lane is scratch), clipped to [0, 1] when ``clip``."""
    one = np.float32(1.0)
    b0 = np.uint32(ibase[j])
    pk = np.uint32(ioff[j])
    f1 = fr1[j]
    f2 = fr2[j]
    f3 = fr3[j]
    b1 = b0 + (pk & np.uint32(0xFFFF))
    b2 = b0 + (pk >> np.uint32(16))
    b3 = b0 + np.uint32(s_all)
    if clip:
        tetra_blend4_clip(T, b0, b1, b2, b3, one - f1, f1 - f2, f2 - f3, f3, out, np.uint32(o))
    else:
        tetra_blend4(T, b0, b1, b2, b3, one - f1, f1 - f2, f2 - f3, f3, out, np.uint32(o))


@njit(cache=True, inline="always", fastmath=_FASTMATH, error_model="numpy")
def _grain_gain(r: float, g: float, b: float, amount: float) -> float:  # pragma: no cover - compiled
    """Multiplicative grain of one display-linear pixel: ``1 + amount (1 - 0.7 min(Y, 1))``
    (``amount`` = strength x grain sample; weaker in highlights, Rec.2020 luminance Y)."""
    lum = np.float32(0.2627) * r + np.float32(0.678) * g + np.float32(0.0593) * b
    return np.float32(1.0) + amount * (np.float32(1.0) - np.float32(0.7) * min(lum, np.float32(1.0)))


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy",
      aot="void(f4[:, :, ::1], f4[:, ::1], b1, f4[:, ::1], f4[:, ::1], b1, f8, f8, f8, f8, f8, f8, f8,"
      " f8, f8, f8, f4[::1], f8, f8, f4[:, :, :, ::1], f4[:, ::1], f8, f8, f4[:, ::1], f4[:, :, ::1],"
      " f4[:, :, ::1], f4[::1], b1, i8, i8)")
def _render_rows(src, mix, mono, Ax, Bx, use_local, pivot_log, k_sh, sh_start, k_hi, k_det,
                 max_lift, kfac, exposure, vig_amount, vig_mid, tone_pairs, t_lo, t_scale, clut,
                 diag, strength, grain_amount, gtile, neutral, out, chroma_pairs, use_h, ch0,
                 ch1):  # pragma: no cover - compiled
    """Row chunks ``ch0 .. ch1`` (of ROW_CHUNK rows; :func:`run_bands` runs bands of chunks in
    parallel); per row five short passes over W pixels: the arithmetic passes (A, C, E) are
    branch-free loops over row slices and contiguous buffers that LLVM vectorises; the table
    look-ups are scalar: B (tone curve, one 8-byte (value, slope) load per pixel) and D (colour
    LUT padded to 4 channels: one 4-wide load per tetrahedron vertex and a 4-wide store; without
    grain or blending D clips and stores straight into ``out``). See the module docstring.

    ``out`` may be ``src`` (in place): a row is read only by its own iteration, and all its
    reads (A, C, the blend in E) come before its first write; the 4th lane of D's last pixel,
    which would land on the next row, goes through the row buffer. ``neutral`` is the neutral
    rendering the look is blended with when ``strength < 1`` (unused otherwise).
    ``chroma_pairs`` (same grid as ``tone_pairs``) is the adaptive black's chroma gain, read in
    pass B when ``use_h``."""
    H, W = src.shape[0], src.shape[1]
    sf = src.reshape(-1)
    nf = neutral.reshape(-1)
    of = out.reshape(-1)
    sh = Ax.shape[0]
    n_tone = tone_pairs.shape[0] // 2  # (value, slope) pairs
    top_tone = np.float32(n_tone - 1)
    last_tone = np.int32(n_tone - 2)
    n_lut = clut.shape[0]
    nm1 = np.float32(n_lut - 1)
    nm2 = np.int32(n_lut - 2)
    T = clut.reshape(-1)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    tiny = np.float32(1e-12)
    huge = np.float32(3.0e38)
    expo = np.float32(exposure)
    tlo = np.float32(t_lo)
    tsc = np.float32(t_scale)
    cy = (H - 1) * 0.5
    cx = (W - 1) * 0.5
    inv_r = 1.0 / max(np.sqrt(cy * cy + cx * cx), 1e-6)
    dx2 = np.empty(W, np.float32)
    for j in range(W):
        dx2[j] = np.float32(((j - cx) * inv_r) ** 2)
    use_vig = vig_amount != 0.0
    vam = np.float32(vig_amount)
    vmid = np.float32(vig_mid)
    vinv = np.float32(1.0 / (1.0 - vig_mid))
    use_grain = grain_amount > 0.0
    gam = np.float32(grain_amount)
    gp = gtile.shape[0]
    blend = strength < 1.0
    direct = not blend and not use_grain and not mono
    st = np.float32(strength)
    m0, m1, m2 = mix[0, 0], mix[0, 1], mix[0, 2]
    piv = np.float32(pivot_log)
    ksh = np.float32(k_sh)
    kst = np.float32(sh_start)
    khi = np.float32(k_hi)
    kdt = np.float32(k_det)
    mlift = np.float32(max_lift)
    floor = np.float32(-20.0)
    nch = clut.shape[3]  # 4: padded for 4-wide loads
    sb = np.int32(nch)
    sg = np.int32(nch * n_lut)
    sr = np.int32(nch * n_lut * n_lut)
    s_all = sr + sg + sb
    for ch in range(ch0, ch1):
        nrm = np.empty(W, np.float32)  # max(R, G, B), later the tone ratio
        pos = np.empty(W, np.float32)  # tone-table position, later the tone value
        vrow = np.full(W, expo, np.float32)  # exposure plus the vignette offset
        ibase = np.empty(W, np.int32)
        ioff = np.empty(W, np.int32)
        fr1 = np.empty(W, np.float32)
        fr2 = np.empty(W, np.float32)
        fr3 = np.empty(W, np.float32)
        hbuf = np.empty(W if use_h else 1, np.float32)  # chroma gain of the adaptive black
        orow = np.empty(3 * W + 1, np.float32)  # + 1: the 4-wide stores of pass D
        for i in range(ch * ROW_CHUNK, min(H, (ch + 1) * ROW_CHUNK)):
            r0 = i * 3 * W
            srow = sf[r0:r0 + 3 * W]  # row slices: non-negative indices, loops vectorise
            dst = of[r0:r0 + 3 * W]
            # --- A: norm and log2 exposure t -> tone-table position (vectorised loops)
            if mono:
                for j in range(W):
                    v = m0 * srow[3 * j] + m1 * srow[3 * j + 1] + m2 * srow[3 * j + 2]
                    nrm[j] = max(v, zero)
            else:
                for j in range(W):
                    nrm[j] = max(max(srow[3 * j], max(srow[3 * j + 1], srow[3 * j + 2])), zero)
            if use_vig:  # vrow: exposure offset of the vignette (stays 0 without one)
                dy2 = np.float32(((i - cy) * inv_r) ** 2)
                for j in range(W):
                    vv = max(np.sqrt(dy2 + dx2[j]) - vmid, zero) * vinv
                    vrow[j] = expo + vam * vv * vv
            if use_local:
                ly = min(max((i + 0.5) / kfac - 0.5, 0.0), sh - 1.0)
                y0 = min(int(ly), max(sh - 2, 0))
                y1 = min(y0 + 1, sh - 1)
                wy = np.float32(ly - y0)
                wy0 = one - wy
                a0r, a1r, b0r, b1r = Ax[y0], Ax[y1], Bx[y0], Bx[y1]
                for j in range(W):
                    n = nrm[j]
                    ln = fast_log2(min(max(n, tiny), huge))
                    lnc = max(ln, floor)
                    base = (a0r[j] * wy0 + a1r[j] * wy) * lnc + (b0r[j] * wy0 + b1r[j] * wy)
                    d = base - piv
                    gain = kdt * (lnc - base) - (ksh * min(d + kst, zero) + khi * max(d, zero))
                    t = ln + vrow[j] + min(max(gain, -mlift), mlift)
                    p = min(max((t - tlo) * tsc, zero), top_tone)
                    p = p if n > tiny else zero  # 0 and NaN -> black
                    p = top_tone if n >= huge else p  # +inf -> white
                    kt = min(np.int32(p), last_tone)
                    ibase[j] = kt + kt  # (value, slope) pair of the tone table
                    pos[j] = p - np.float32(kt)
            else:
                for j in range(W):
                    n = nrm[j]
                    t = fast_log2(min(max(n, tiny), huge)) + vrow[j]
                    p = min(max((t - tlo) * tsc, zero), top_tone)
                    p = p if n > tiny else zero
                    p = top_tone if n >= huge else p
                    kt = min(np.int32(p), last_tone)
                    ibase[j] = kt + kt
                    pos[j] = p - np.float32(kt)
            # --- B: tone curve (scalar gather): pos becomes the tone value f
            if use_h:
                for j in range(W):
                    hbuf[j] = pair_lerp(chroma_pairs, np.uint32(ibase[j]), pos[j])
            for j in range(W):
                pos[j] = pair_lerp(tone_pairs, np.uint32(ibase[j]), pos[j])
            # --- C: LUT coordinates and tetrahedral weights (vectorised)
            if mono:
                for j in range(W):
                    q = min(np.sqrt(pos[j]) * nm1, nm1)
                    kq = max(min(np.int32(q), nm2), np.int32(0))
                    ibase[j] = kq
                    fr1[j] = q - np.float32(kq)
            else:
                if use_h:
                    _tetra_weights_h(srow, nrm, pos, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2,
                                     fr3, hbuf)
                else:
                    _tetra_weights(srow, nrm, pos, nm1, nm2, sr, sg, sb, ibase, ioff, fr1, fr2, fr3)
            # --- D: colour LUT (scalar gathers). Meanwhile the next source row is prefetched
            # (48 bytes every 4 pixels), so pass A of the next row does not wait for memory.
            nxt = r0 + 3 * W if i + 1 < H else r0
            if mono:
                for j in range(W):
                    if (j & 3) == 0:
                        prefetch(sf, nxt + 3 * j)
                    k = np.uint32(ibase[j])
                    wq = fr1[j]
                    k1 = k + np.uint32(1)
                    orow[3 * j] = diag[k, 0] + wq * (diag[k1, 0] - diag[k, 0])
                    orow[3 * j + 1] = diag[k, 1] + wq * (diag[k1, 1] - diag[k, 1])
                    orow[3 * j + 2] = diag[k, 2] + wq * (diag[k1, 2] - diag[k, 2])
            elif direct:  # no grain, no blend: clipped straight into the output row
                for j in range(W - 1):
                    if (j & 3) == 0:
                        prefetch(sf, nxt + 3 * j)
                    _lut_pixel(T, ibase, ioff, fr1, fr2, fr3, s_all, j, True, dst, 3 * j)
                j = W - 1  # the last pixel's 4th lane would spill into the next row: via orow
                _lut_pixel(T, ibase, ioff, fr1, fr2, fr3, s_all, j, True, orow, 0)
                for c in range(3):
                    dst[3 * j + c] = orow[c]
                continue
            else:
                for j in range(W):
                    if (j & 3) == 0:
                        prefetch(sf, nxt + 3 * j)
                    _lut_pixel(T, ibase, ioff, fr1, fr2, fr3, s_all, j, False, orow, 3 * j)
            # --- E: grain, blend with neutral, clip, store (vectorised). The blend reads the
            # source row, so it writes the buffer (with out = src a loop reading one and
            # writing the other would fail the vectoriser's overlap check and run scalar)
            if use_grain and not blend:  # grain fused with the clipped store
                grow = gtile[i % gp]
                for j0 in range(0, W, gp):
                    m = min(W - j0, gp)
                    seg = orow[3 * j0:3 * (j0 + m)]
                    dseg = dst[3 * j0:3 * (j0 + m)]
                    for t in range(m):
                        o0 = seg[3 * t]
                        o1_ = seg[3 * t + 1]
                        o2_ = seg[3 * t + 2]
                        gm = _grain_gain(o0, o1_, o2_, gam * grow[t])
                        dseg[3 * t] = clip01(o0 * gm)
                        dseg[3 * t + 1] = clip01(o1_ * gm)
                        dseg[3 * t + 2] = clip01(o2_ * gm)
                continue
            if use_grain:
                grow = gtile[i % gp]
                for j0 in range(0, W, gp):
                    m = min(W - j0, gp)
                    seg = orow[3 * j0:3 * (j0 + m)]
                    for t in range(m):
                        o0 = seg[3 * t]
                        o1_ = seg[3 * t + 1]
                        o2_ = seg[3 * t + 2]
                        gm = _grain_gain(o0, o1_, o2_, gam * grow[t])
                        seg[3 * t] = o0 * gm
                        seg[3 * t + 1] = o1_ * gm
                        seg[3 * t + 2] = o2_ * gm
            if blend:
                nrow = nf[r0:r0 + 3 * W]  # the neutral rendering
                for j in range(3 * W):
                    nv = nrow[j]
                    orow[j] = nv + st * (orow[j] - nv)
            for j in range(3 * W):
                dst[j] = clip01(orow[j])


@njit(cache=True, nogil=True, error_model="numpy", aot="void(f4[:, :, ::1], f4[:, :, ::1], i8, i8)")
def _clip_kernel(src, out, ch0, ch1):  # pragma: no cover - compiled
    """Row chunks ``ch0 .. ch1`` of :func:`clip_neutral`."""
    H, W = src.shape[0], src.shape[1]
    sf = src.reshape(-1)
    of = out.reshape(-1)
    for ch in range(ch0, ch1):
        a = ch * ROW_CHUNK * 3 * W
        b = min(H, (ch + 1) * ROW_CHUNK) * 3 * W
        s = sf[a:b]
        o = of[a:b]
        for j in range(b - a):
            o[j] = clip01(s[j])  # negatives and NaN -> 0, +inf -> 1


@njit(cache=True, nogil=True, error_model="numpy", aot="void(f4[:, :, ::1], i8, i8)")
def _clip_inplace_kernel(data, ch0, ch1):  # pragma: no cover - compiled
    """Row chunks ``ch0 .. ch1`` of :func:`clip_neutral` in place (one array, so the loop
    vectorises: with two overlapping arrays it would fall back to scalar code)."""
    H, W = data.shape[0], data.shape[1]
    f = data.reshape(-1)
    for ch in range(ch0, ch1):
        a = ch * ROW_CHUNK * 3 * W
        b = min(H, (ch + 1) * ROW_CHUNK) * 3 * W
        o = f[a:b]
        for j in range(b - a):
            o[j] = clip01(o[j])


@njit(cache=True, nogil=True, fastmath=_FASTMATH, error_model="numpy",
      aot="void(f4[:, :, ::1], f4[:, :, ::1], f8, f8, f4[::1], i8, i8)")
def _shoulder_kernel(src, out, knee, white, ktab, ch0, ch1):  # pragma: no cover - compiled
    """Row chunks ``ch0 .. ch1`` of :func:`render_neutral`: each pixel scaled by
    ``f(n) / n`` of its ``n = max(R, G, B)`` (:func:`rawlux.looks.tone.shoulder_curve`; ``ktab``
    samples ``f(x) / x`` on [knee, white]), then moved toward white of its own brightness
    ``(f, f, f)`` by ``d = ((f - knee) / (1 - knee))^4`` (the path to white) and clipped
    (NaN -> 0, +inf -> 1). Per row: the norms (vectorised); a row with no pixel above the knee
    is a plain clip (vectorised), others get their per-pixel factor first. ``out`` may be
    ``src``: a row is read before it is written."""
    H, W = src.shape[0], src.shape[1]
    sf = src.reshape(-1)
    of = out.reshape(-1)
    kn = np.float32(knee)
    wh = np.float32(white)
    inv = np.float32(1.0 / (white - knee))
    inv_top = np.float32(1.0 / (1.0 - knee))
    zero = np.float32(0.0)
    one = np.float32(1.0)
    huge = np.float32(3.0e38)
    for ch in range(ch0, ch1):
        kbuf = np.empty(W, np.float32)
        for i in range(ch * ROW_CHUNK, min(H, (ch + 1) * ROW_CHUNK)):
            r0 = i * 3 * W
            s = sf[r0:r0 + 3 * W]
            o = of[r0:r0 + 3 * W]
            above = 0
            for j in range(W):
                n = max(s[3 * j], max(s[3 * j + 1], s[3 * j + 2]))
                kbuf[j] = n
                above += 1 if n > kn else 0
            if above:
                for j in range(W):
                    n = kbuf[j]
                    k = lut_interp((n - kn) * inv, ktab)
                    k = k if n > kn else one
                    k = one / n if n >= wh else k
                    kbuf[j] = one if n >= huge else k  # +inf: plain clip (-> 1)
                for j in range(W):
                    k = kbuf[j]
                    v0 = s[3 * j] * k
                    v1 = s[3 * j + 1] * k
                    v2 = s[3 * j + 2] * k
                    f = max(v0, max(v1, v2))
                    t = min(max((f - kn) * inv_top, zero), one)
                    t = t * t
                    d = t * t  # path to white: 0 up to the knee, 1 at white
                    fin = f < huge  # +inf pixels: plain clip
                    o[3 * j] = clip01(v0 + (f - v0) * d if fin else v0)
                    o[3 * j + 1] = clip01(v1 + (f - v1) * d if fin else v1)
                    o[3 * j + 2] = clip01(v2 + (f - v2) * d if fin else v2)
            else:
                for j in range(3 * W):
                    o[j] = clip01(s[j])


#: the neutral shoulder ends at this percentile of max(R, G, B) (a few specular points may clip)
NEUTRAL_WHITE_PERCENTILE = 99.99
NEUTRAL_MAX_WHITE = 256.0  # cap: at most 8 stops above display white are rolled off
_WHITE_SAMPLES = 1 << 18  # pixels sampled (strided) to find the white


def neutral_white(data: np.ndarray) -> float:
    """Scene value (max(R, G, B), linear) that the neutral shoulder maps to display white: the
    :data:`NEUTRAL_WHITE_PERCENTILE` of a strided sample of ``data`` (H, W, 3), in
    [1, :data:`NEUTRAL_MAX_WHITE`]; 1 (plain clip, no shoulder) when nothing exceeds white."""
    a = np.asarray(data)
    if a.ndim != 3 or a.shape[2] != 3 or a.size == 0:
        return 1.0
    step = max(1, int(np.sqrt(a.shape[0] * a.shape[1] / _WHITE_SAMPLES)))
    sub = a[::step, ::step]
    n = np.fmax(np.fmax(sub[..., 0], sub[..., 1]), sub[..., 2]).ravel()
    n = n[np.isfinite(n)]
    if n.size == 0 or not (n > 1.0).any():
        return 1.0
    w = float(np.percentile(n, NEUTRAL_WHITE_PERCENTILE))
    return min(max(w, 1.0), NEUTRAL_MAX_WHITE)


@lru_cache(maxsize=64)
def _shoulder_setup(white: float) -> tuple[float, np.ndarray]:
    knee = shoulder_knee(white)
    return knee, shoulder_table(knee, white)


WHITE_EPS = 1e-3  # a white this close to 1 needs no shoulder: plain clip


def render_neutral(data: np.ndarray, out: np.ndarray | None = None,
                   white: float | None = None) -> np.ndarray:
    """The neutral look: colorimetric (identity) below a knee, a smooth hue-keeping shoulder
    above it that reaches display white at ``white`` (scene linear; default
    :func:`neutral_white` of ``data``), then clipped to [0, 1] (NaN -> 0, +inf -> 1).

    Scales each pixel by ``f(n) / n`` with ``n = max(R, G, B)`` (so no channel clips below
    ``white``), then moves it toward white of the same brightness by ``d = ((f - knee) /
    (1 - knee))^4``: chromaticity is kept just above the knee, and the top of the shoulder
    fades to white like film instead of showing tints (e.g. of reconstructed highlights).
    Written to ``out`` when given (may be ``data`` itself)."""
    src = np.ascontiguousarray(data, np.float32)
    w = neutral_white(src) if white is None else float(white)
    if not w > 1.0 + WHITE_EPS or src.ndim != 3 or src.shape[2] != 3:
        return clip_neutral(src, out)
    dst = _output(src, out)
    knee, ktab = _shoulder_setup(round(w, 4))
    run_bands(_shoulder_kernel, _n_chunks(src.shape[0]), src, dst, knee, round(w, 4), ktab,
              min_rows=1)
    return dst


def neutral_reference(data: np.ndarray, white: float | None = None) -> np.ndarray:
    """Numpy (float64) reference of :func:`render_neutral`."""
    x = np.nan_to_num(np.asarray(data, np.float64), nan=0.0, posinf=np.inf)
    w = neutral_white(data) if white is None else float(white)
    if not w > 1.0 + WHITE_EPS:
        return np.clip(np.nan_to_num(x, posinf=1.0), 0.0, 1.0)
    w = round(w, 4)
    n = np.max(np.maximum(x, 0.0), axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(n > 0, shoulder_curve(n, shoulder_knee(w), w) / n, 1.0)
    k = np.where(np.isinf(n), 1.0, k)
    v = np.nan_to_num(x * k, nan=0.0, posinf=1.0)
    knee = shoulder_knee(w)
    f = v.max(axis=-1, keepdims=True)
    d = np.clip((f - knee) / (1.0 - knee), 0.0, 1.0) ** 4  # path to white
    d = np.where(np.isinf(n), 0.0, d)  # +inf pixels: plain clip
    return np.clip(v + (f - v) * d, 0.0, 1.0)


def _n_chunks(height: int) -> int:
    return (height + ROW_CHUNK - 1) // ROW_CHUNK


def _same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ctypes.data == b.ctypes.data and a.strides == b.strides and a.shape == b.shape


def _output(src: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``out`` checked (float32 C-contiguous, ``src``'s shape, ``src`` itself or not overlapping
    it), or a new array."""
    if out is None:
        return np.empty_like(src)

    if not (isinstance(out, np.ndarray) and out.dtype == np.float32 and out.flags.c_contiguous
            and out.flags.writeable and out.shape == src.shape):
        raise InvalidParameter(f"look output must be writeable float32 C-contiguous {src.shape}")
    if not _same_buffer(out, src) and np.may_share_memory(out, src):
        raise InvalidParameter("look output overlaps its input without being the input itself")
    return out


def clip_neutral(data: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The neutral look: clip to [0, 1] (NaN -> 0, +inf -> 1), float32, one parallel pass;
    written to ``out`` when given (float32 C-contiguous, same shape; may be ``data`` itself)."""
    src = np.ascontiguousarray(data, np.float32)
    dst = _output(src, out)
    if src.ndim == 3 and src.shape[2] == 3:
        if _same_buffer(src, dst):
            run_bands(_clip_inplace_kernel, _n_chunks(src.shape[0]), dst, min_rows=1)
        else:
            run_bands(_clip_kernel, _n_chunks(src.shape[0]), src, dst, min_rows=1)
        return dst
    np.clip(np.nan_to_num(src, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0, out=dst)
    return dst


def _local_coefficients(data: np.ndarray, spec: LookSpec, baked: Baked
                        ) -> tuple[np.ndarray, np.ndarray, int, Adaptation]:
    """Low-resolution guided-filter coefficients ``A, B``, the block factor ``k`` and the
    scene adaptation (both from one low-resolution ``log2(max(R, G, B))``)."""
    if not (spec.local.active or spec.adapt.active):
        z = np.zeros((2, 2), np.float32)
        return z, z, 1, NO_ADAPTATION
    log_norm, k = downsample_norm(data, baked.matrix if baked.use_matrix else None)
    adaptation = measure_adaptation(log_norm, spec)
    if not spec.local.active:
        z = np.zeros((2, 2), np.float32)
        return z, z, k, adaptation
    A, B = guided_coefficients(log_norm, spec.local)
    return A, B, k, adaptation


@lru_cache(maxsize=64)
def _tone_cached(tone: ToneSpec, offset: float, chroma: float
                 ) -> tuple[ToneTable, np.ndarray, np.ndarray | None]:
    table = tone_table(tone.pivot, tone.grey, tone.contrast, tone.white, tone.toe, tone.black,
                       offset=offset)
    if chroma <= 0.0:
        return table, _tone_pairs(table), None
    gain = chroma_gain(table, offset, chroma)
    return table, _tone_pairs(table), _tone_pairs(ToneTable(gain, table.t_lo, table.scale, 1.0))


_NO_CHROMA = np.zeros(4, np.float32)


def adapted_tone(spec: LookSpec, baked: Baked, adaptation: Adaptation
                 ) -> tuple[ToneTable, np.ndarray, np.ndarray | None]:
    """The tone table, its (value, slope) pairs and the chroma-gain pairs (None: no gain) for
    this image (the baked table when there is no black offset)."""
    if adaptation.offset <= 0.0:
        return baked.tone, baked.tone_pairs, None
    return _tone_cached(spec.tone, round(float(adaptation.offset), 7),
                        float(spec.adapt.black_chroma))


def render_look(data: np.ndarray, look: LookSpec | str, strength: float = 1.0,
                out: np.ndarray | None = None) -> np.ndarray:
    """Render scene-linear Rec.2020 ``data`` (H, W, 3) float32 with ``look`` -> display [0, 1].

    ``out``: where to write the result (float32 C-contiguous (H, W, 3)); it may be ``data``
    itself (in place: the kernel reads every row before writing it, and no other row)."""
    spec = get_look(look) if isinstance(look, str) else look
    src = np.ascontiguousarray(data, np.float32)
    if spec.is_neutral:
        return render_neutral(src, out)
    out = _output(src, out)
    baked = bake(spec)
    A, B, k, ad = _local_coefficients(src, spec, baked)  # reads src before the kernel writes out
    table, pairs, chroma = adapted_tone(spec, baked, ad)
    w = src.shape[1]
    if spec.local.active:
        Ax, Bx = upsample_columns(A, w, k, exact=False), upsample_columns(B, w, k, exact=False)
    else:
        Ax = Bx = np.zeros((1, 1), np.float32)
    lo, t, v, gr = spec.local, spec.tone, spec.vignette, spec.grain
    gtile = (grain_tile(gr.size, _grain_seed(src.shape, spec)) if gr.amount > 0
             else np.zeros((1, 1), np.float32))
    # blending with neutral needs the neutral rendering (read before the kernel writes out)
    neutral = render_neutral(src) if strength < 1.0 else src
    run_bands(_render_rows, _n_chunks(src.shape[0]), src, baked.matrix, bool(baked.use_matrix), Ax,
              Bx, bool(lo.active), float(np.log2(t.pivot)), float(lo.shadows),
              float(lo.shadow_start), float(lo.highlights), float(lo.detail), float(lo.max_lift),
              float(k), float(t.exposure + ad.exposure), float(v.amount), float(v.midpoint), pairs,
              float(table.t_lo), float(table.scale), baked.colour_lut4, baked.diagonal,
              float(strength), float(gr.amount), gtile, neutral, out,
              _NO_CHROMA if chroma is None else chroma, chroma is not None, min_rows=1)
    return out


def global_part(scene: np.ndarray, spec: LookSpec, exact: bool = True) -> np.ndarray:
    """The look's global (spatially invariant) part on scene-linear Rec.2020 (..., 3): mix,
    exposure, tone curve and colour edits — no local tone mapping, vignette or grain.
    ``exact`` evaluates the colour edits directly instead of through the baked LUT."""
    x = np.maximum(np.asarray(scene, np.float64), 0.0)
    if spec.is_neutral:
        return neutral_reference(x)
    baked = bake(spec)
    if baked.use_matrix:
        x = np.maximum(x @ baked.matrix.T.astype(np.float64), 0.0)
    n = x.max(axis=-1)
    with np.errstate(divide="ignore"):
        t = np.log2(np.maximum(n, 1e-30)) + spec.tone.exposure
    f = apply_tone_table(t, baked.tone)
    safe = n > 1e-12
    ratio = np.where(safe, f / np.where(safe, n, 1.0), 0.0)
    disp = np.where(safe[..., None], np.minimum(x * ratio[..., None], 1.0),
                    baked.tone.value_at_zero)
    if exact:
        return np.clip(colour_function(spec)(disp), 0.0, 1.0)

    lut = Lut(baked.colour_lut)
    return apply_3d_reference(np.sqrt(disp), lut, "tetrahedral").astype(np.float64)


def render_reference(data: np.ndarray, spec: LookSpec, strength: float = 1.0) -> np.ndarray:
    """Numpy reference of :func:`render_look` without grain (tests compare the two)."""
    src = np.asarray(data, np.float32)
    if spec.is_neutral:
        return neutral_reference(src).astype(np.float32)
    baked = bake(spec)
    h, w = src.shape[:2]
    x = np.maximum(src.astype(np.float64), 0.0)
    if baked.use_matrix:
        x = np.maximum(x @ baked.matrix.T.astype(np.float64), 0.0)
    n = x.max(axis=-1)
    ln = np.log2(np.maximum(n, 1e-30))
    A, B, k, ad = _local_coefficients(src, spec, baked)
    table, _, chroma = adapted_tone(spec, baked, ad)
    t = ln + spec.tone.exposure + ad.exposure
    if spec.local.active:
        base = (upsample_reference(A, h, w, k) * np.maximum(ln, -20.0)
                + upsample_reference(B, h, w, k))
        t = t + local_gain_reference(np.maximum(ln, -20.0), base, float(np.log2(spec.tone.pivot)),
                                     spec.local)
    if spec.vignette.amount != 0.0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        cy, cx = (h - 1) / 2, (w - 1) / 2
        rr = np.hypot(yy - cy, xx - cx) / max(np.hypot(cy, cx), 1e-6)
        v = np.maximum(rr - spec.vignette.midpoint, 0.0) / (1.0 - spec.vignette.midpoint)
        t = t + spec.vignette.amount * v * v
    f = apply_tone_table(t, table)
    safe = n > 1e-12
    ratio = np.where(safe, f / np.where(safe, n, 1.0), 0.0)
    if chroma is not None:  # adaptive black: distances below the max stretched by the gain
        h = apply_tone_table(t, ToneTable(chroma[0::2], table.t_lo, table.scale, 1.0))
        scaled = f[..., None] - (n[..., None] - x) * (ratio * h)[..., None]
    else:
        scaled = x * ratio[..., None]
    disp = np.where(safe[..., None], np.clip(scaled, 0.0, 1.0), table.value_at_zero)

    o = apply_3d_reference(np.sqrt(disp), Lut(baked.colour_lut), "tetrahedral").astype(np.float64)
    neutral = neutral_reference(src) if strength < 1.0 else 0.0
    return np.clip(neutral + strength * (o - neutral), 0.0, 1.0).astype(np.float32)
