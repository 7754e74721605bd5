"""Render a look: scene-linear Rec.2020 (H, W, 3) -> display-linear Rec.2020 [0, 1].

Per pixel, in one fused, row-parallel numba kernel (:func:`_render_kernel`; numpy reference
:func:`render_reference`, tested equal within 2e-5):

1. optional monochrome channel mix, negatives clipped;
2. ``t = log2(max(R, G, B))`` (a fast bit-level log2) plus exposure, the local tone-mapping gain
   (guided-filter coefficients from :mod:`rawlux.looks.local`, bilinear: pre-upsampled along x
   once, two rows blended per output row) and the vignette;
3. tone curve looked up at ``t`` (table in log2 x, clamped), applied as a ratio to RGB (hue kept);
4. the global colour edits as a baked 33^3 LUT on ``sqrt``-shaped display values
   (tetrahedral); monochrome looks only ever sample the LUT's grey diagonal, where tetrahedral
   interpolation is exactly linear between diagonal nodes, so they use that 1D table;
5. grain (a deterministic periodic noise tile, equal on all channels), blend with neutral by
   ``strength``.

The guided filter itself runs on ``k x k`` block means (short side about 384 px).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from rawlux.looks.fastops import fast_log2
from rawlux.looks.local import (
    downsample_norm,
    guided_coefficients,
    local_gain_reference,
    upsample_columns,
    upsample_reference,
)
from rawlux.looks.lut import apply_3d_reference
from rawlux.looks.spec import LookSpec
from rawlux.looks.tone import ToneTable, apply_tone_table, tone_table

COLOUR_LUT_SIZE = 33


@dataclass(frozen=True, eq=False)
class Baked:
    """Everything the kernel needs from a look, precomputed once per look."""

    matrix: np.ndarray  # (3, 3) float32
    use_matrix: bool
    tone: ToneTable
    colour_lut: np.ndarray  # (N, N, N, 3) float32 on sqrt-shaped display-linear input

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
    from rawlux.looks.colour import colour_ops

    return lambda rgb: colour_ops(rgb, spec)


@lru_cache(maxsize=32)
def _bake_cached(spec: LookSpec, size: int) -> Baked:
    m = _mix_matrix(spec)
    t = spec.tone
    table = tone_table(t.pivot, t.grey, t.contrast, t.white, t.toe, t.black)
    g = np.linspace(0.0, 1.0, size)
    r, gg, b = np.meshgrid(g, g, g, indexing="ij")
    grid = np.stack([r, gg, b], axis=-1) ** 2  # sqrt-shaped nodes -> display linear
    lut = np.ascontiguousarray(colour_function(spec)(grid), np.float32)
    return Baked(m if m is not None else np.eye(3, dtype=np.float32), m is not None, table, lut)


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


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def _tetra(T, n, x, y, z):  # pragma: no cover - compiled
    """Tetrahedral interpolation of the flattened (n, n, n, 3) table ``T`` at index coordinates
    ``x, y, z`` already clamped to [0, n - 1]; unsigned offsets (no negative-index wrap)."""
    nm2 = np.uint64(n - 2)
    i = min(np.uint64(x), nm2)
    j = min(np.uint64(y), nm2)
    k = min(np.uint64(z), nm2)
    fr = x - np.float32(i)
    fg = y - np.float32(j)
    fb = z - np.float32(k)
    sb = np.uint64(3)
    sg = np.uint64(3 * n)
    sr = np.uint64(3 * n * n)
    base = i * sr + j * sg + k * sb
    rg = fr > fg
    gb = fg > fb
    rb = fr > fb
    r_max = rg and rb
    g_max = (not rg) and gb
    r_min = (not rg) and (not rb)
    g_min = rg and (not gb)
    f1 = fr if r_max else (fg if g_max else fb)
    o1 = sr if r_max else (sg if g_max else sb)
    f3 = fr if r_min else (fg if g_min else fb)
    o3 = sr if r_min else (sg if g_min else sb)
    f2 = fr + fg + fb - f1 - f3
    o2 = sr + sg + sb - o3
    w0 = np.float32(1.0) - f1
    w1 = f1 - f2
    w2 = f2 - f3
    p1 = base + o1
    p2 = base + o2
    p3 = base + sr + sg + sb
    one = np.uint64(1)
    two = np.uint64(2)
    a = w0 * T[base] + w1 * T[p1] + w2 * T[p2] + f3 * T[p3]
    b = w0 * T[base + one] + w1 * T[p1 + one] + w2 * T[p2 + one] + f3 * T[p3 + one]
    c = w0 * T[base + two] + w1 * T[p1 + two] + w2 * T[p2 + two] + f3 * T[p3 + two]
    return a, b, c


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def _render_kernel(src, mix, mono, Ax, Bx, use_local, pivot_log, k_sh, sh_start, k_hi, k_det,
                   max_lift, kfac, exposure, vig_amount, vig_mid, tone_vals, t_lo, t_scale, clut,
                   diag, strength, grain_amount, gtile, out):  # pragma: no cover - compiled
    H, W = src.shape[0], src.shape[1]
    sh = Ax.shape[0]
    n_tone = tone_vals.shape[0]
    top_tone = np.float32(n_tone - 1)
    n_lut = clut.shape[0]
    nm1 = np.float32(n_lut - 1)
    flat = clut.reshape(-1)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    tiny = np.float32(1e-12)
    huge = np.float32(3.0e38)
    expo = np.float32(exposure)
    tlo = np.float32(t_lo)
    tsc = np.float32(t_scale)
    tone_zero = tone_vals[0]
    # vignette: squared normalised column distances, once
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
    st = np.float32(strength)
    m00, m01, m02 = mix[0, 0], mix[0, 1], mix[0, 2]
    piv = np.float32(pivot_log)
    ksh = np.float32(k_sh)
    kst = np.float32(sh_start)
    khi = np.float32(k_hi)
    kdt = np.float32(k_det)
    mlift = np.float32(max_lift)
    floor = np.float32(-20.0)
    for i in prange(H):
        # local coefficients: blend of two column-upsampled low-resolution rows
        ly = min(max((i + 0.5) / kfac - 0.5, 0.0), sh - 1.0)
        y0 = min(int(ly), max(sh - 2, 0))
        y1 = min(y0 + 1, sh - 1)
        wy = np.float32(ly - y0)
        wy0 = one - wy
        dy2 = np.float32(((i - cy) * inv_r) ** 2)
        gi = i % gp
        crd = np.empty((W, 3), np.float32)
        arow = np.empty(W if use_local else 1, np.float32)
        brow = np.empty(W if use_local else 1, np.float32)
        if use_local:
            for j in range(W):
                arow[j] = Ax[y0, j] * wy0 + Ax[y1, j] * wy
                brow[j] = Bx[y0, j] * wy0 + Bx[y1, j] * wy
        # pass 1: tone (exposure, local gain, vignette, curve) -> LUT index coordinates
        for j in range(W):
            if mono:
                r = max(m00 * src[i, j, 0] + m01 * src[i, j, 1] + m02 * src[i, j, 2], zero)
                g = r
                b = r
            else:
                r = max(src[i, j, 0], zero)
                g = max(src[i, j, 1], zero)
                b = max(src[i, j, 2], zero)
            n = max(r, max(g, b))
            if n > tiny and n < huge:
                ln = fast_log2(n)
                t = ln + expo
                if use_local:
                    lnc = max(ln, floor)
                    base = arow[j] * lnc + brow[j]
                    d = base - piv
                    gain = kdt * (lnc - base) - (ksh * min(d + kst, zero) + khi * max(d, zero))
                    t += min(max(gain, -mlift), mlift)
                if use_vig:
                    v = max(np.sqrt(dy2 + dx2[j]) - vmid, zero) * vinv
                    t += vam * v * v
                pos = min(max((t - tlo) * tsc, zero), top_tone)
                kk = min(np.uint64(pos), np.uint64(n_tone - 2))
                fr = pos - np.float32(kk)
                f = tone_vals[kk] + fr * (tone_vals[kk + np.uint64(1)] - tone_vals[kk])
                ratio = f / n
                crd[j, 0] = np.sqrt(min(r * ratio, one)) * nm1
                crd[j, 1] = np.sqrt(min(g * ratio, one)) * nm1
                crd[j, 2] = np.sqrt(min(b * ratio, one)) * nm1
            else:
                f = one if n >= huge else tone_zero  # +inf -> white; 0 and NaN -> black
                q = np.sqrt(f) * nm1
                crd[j, 0] = q
                crd[j, 1] = q
                crd[j, 2] = q
        # pass 2: colour LUT (grey diagonal for monochrome), grain, blend with neutral
        for j in range(W):
            if mono:
                q = crd[j, 0]
                kq = min(np.uint64(q), np.uint64(n_lut - 2))
                wq = q - np.float32(kq)
                o0 = diag[kq, 0] + wq * (diag[kq + np.uint64(1), 0] - diag[kq, 0])
                o1 = diag[kq, 1] + wq * (diag[kq + np.uint64(1), 1] - diag[kq, 1])
                o2 = diag[kq, 2] + wq * (diag[kq + np.uint64(1), 2] - diag[kq, 2])
            else:
                o0, o1, o2 = _tetra(flat, n_lut, crd[j, 0], crd[j, 1], crd[j, 2])
            if use_grain:
                lum = np.float32(0.2627) * o0 + np.float32(0.678) * o1 + np.float32(0.0593) * o2
                gm = one + gam * gtile[gi, j % gp] * (one - np.float32(0.7) * min(lum, one))
                o0 *= gm
                o1 *= gm
                o2 *= gm
            if blend:
                n0 = min(max(src[i, j, 0], zero), one)
                n1 = min(max(src[i, j, 1], zero), one)
                n2 = min(max(src[i, j, 2], zero), one)
                o0 = n0 + st * (o0 - n0)
                o1 = n1 + st * (o1 - n1)
                o2 = n2 + st * (o2 - n2)
            out[i, j, 0] = min(max(o0, zero), one)
            out[i, j, 1] = min(max(o1, zero), one)
            out[i, j, 2] = min(max(o2, zero), one)


@njit(cache=True, parallel=True, error_model="numpy")
def _clip_kernel(src, out):  # pragma: no cover - compiled
    H, W = src.shape[0], src.shape[1]
    for i in prange(H):
        for j in range(W):
            for c in range(3):
                v = src[i, j, c]
                if v >= 1.0:
                    v = 1.0
                elif not v > 0.0:  # negatives and NaN
                    v = 0.0
                out[i, j, c] = v


def clip_neutral(data: np.ndarray) -> np.ndarray:
    """The neutral look: clip to [0, 1] (NaN -> 0, +inf -> 1), float32, one parallel pass."""
    src = np.ascontiguousarray(data, np.float32)
    out = np.empty_like(src)
    if src.ndim == 3 and src.shape[2] == 3:
        _clip_kernel(src, out)
        return out
    return np.clip(np.nan_to_num(src, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _local_coefficients(data: np.ndarray, spec: LookSpec, baked: Baked
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """Low-resolution guided-filter coefficients ``A, B`` and the block factor ``k``."""
    if not spec.local.active:
        z = np.zeros((2, 2), np.float32)
        return z, z, 1
    log_norm, k = downsample_norm(data, baked.matrix if baked.use_matrix else None)
    A, B = guided_coefficients(log_norm, spec.local)
    return A, B, k


def render_look(data: np.ndarray, look: LookSpec | str, strength: float = 1.0) -> np.ndarray:
    """Render scene-linear Rec.2020 ``data`` (H, W, 3) float32 with ``look`` -> display [0, 1]."""
    from rawlux.looks.registry import get_look

    spec = get_look(look) if isinstance(look, str) else look
    src = np.ascontiguousarray(data, np.float32)
    if spec.is_neutral:
        return clip_neutral(src)
    baked = bake(spec)
    A, B, k = _local_coefficients(src, spec, baked)
    w = src.shape[1]
    if spec.local.active:
        Ax, Bx = upsample_columns(A, w, k), upsample_columns(B, w, k)
    else:
        Ax = Bx = np.zeros((1, 1), np.float32)
    out = np.empty_like(src)
    lo, t, v, gr = spec.local, spec.tone, spec.vignette, spec.grain
    _render_kernel(src, baked.matrix, baked.use_matrix, Ax, Bx, lo.active,
                   float(np.log2(t.pivot)), lo.shadows, lo.shadow_start, lo.highlights, lo.detail,
                   lo.max_lift, float(k), t.exposure, v.amount, v.midpoint, baked.tone.values,
                   baked.tone.t_lo, baked.tone.scale, baked.colour_lut, baked.diagonal,
                   float(strength), gr.amount,
                   grain_tile(gr.size, _grain_seed(src.shape, spec)) if gr.amount > 0
                   else np.zeros((1, 1), np.float32), out)
    return out


def global_part(scene: np.ndarray, spec: LookSpec, exact: bool = True) -> np.ndarray:
    """The look's global (spatially invariant) part on scene-linear Rec.2020 (..., 3): mix,
    exposure, tone curve and colour edits — no local tone mapping, vignette or grain.
    ``exact`` evaluates the colour edits directly instead of through the baked LUT."""
    x = np.maximum(np.asarray(scene, np.float64), 0.0)
    if spec.is_neutral:
        return np.clip(x, 0.0, 1.0)
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
    from rawlux.looks.lut import Lut

    lut = Lut(baked.colour_lut)
    return apply_3d_reference(np.sqrt(disp), lut, "tetrahedral").astype(np.float64)


def render_reference(data: np.ndarray, spec: LookSpec, strength: float = 1.0) -> np.ndarray:
    """Numpy reference of :func:`render_look` without grain (tests compare the two)."""
    src = np.asarray(data, np.float32)
    if spec.is_neutral:
        return np.clip(src, 0.0, 1.0)
    baked = bake(spec)
    h, w = src.shape[:2]
    x = np.maximum(src.astype(np.float64), 0.0)
    if baked.use_matrix:
        x = np.maximum(x @ baked.matrix.T.astype(np.float64), 0.0)
    n = x.max(axis=-1)
    ln = np.log2(np.maximum(n, 1e-30))
    t = ln + spec.tone.exposure
    if spec.local.active:
        A, B, k = _local_coefficients(src, spec, baked)
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
    f = apply_tone_table(t, baked.tone)
    safe = n > 1e-12
    ratio = np.where(safe, f / np.where(safe, n, 1.0), 0.0)
    disp = np.where(safe[..., None], np.minimum(x * ratio[..., None], 1.0),
                    baked.tone.value_at_zero)
    from rawlux.looks.lut import Lut

    o = apply_3d_reference(np.sqrt(disp), Lut(baked.colour_lut), "tetrahedral").astype(np.float64)
    neutral = np.clip(src, 0.0, 1.0)
    return np.clip(neutral + strength * (o - neutral), 0.0, 1.0).astype(np.float32)
