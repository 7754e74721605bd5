"""Render a look: scene-linear Rec.2020 (H, W, 3) -> display-linear Rec.2020 [0, 1].

Per pixel, in one fused numba kernel (:func:`_render_kernel`, numpy reference
:func:`render_reference`):

1. optional 3x3 mix (monochrome channel mix), negatives clipped;
2. ``t = log2(max(R, G, B))`` plus exposure, the local tone-mapping gain (guided-filter
   coefficients from :mod:`rawlux.looks.local`, upsampled bilinearly) and the vignette;
3. tone curve looked up at ``t`` (table in log2 x), applied as a ratio to RGB (hue kept);
4. the global colour edits as a baked 3D LUT on ``sqrt``-shaped display values (tetrahedral);
5. grain (a deterministic periodic noise tile, equal on all channels), blend with neutral by
   ``strength``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from rawlux.looks.local import (
    downsample_norm,
    guided_coefficients,
    local_gain_reference,
    upsample_reference,
)
from rawlux.looks.lut import apply_3d_reference, tetra_sample
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


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def _render_kernel(src, mat, use_mat, A, B, use_local, pivot_log, k_sh, sh_start, k_hi, k_det,
                   max_lift,
                   exposure, vig_amount, vig_mid, tone_vals, t_lo, t_scale, tone_zero, clut,
                   strength, grain_amount, gtile, out):  # pragma: no cover - compiled
    H, W = src.shape[0], src.shape[1]
    sh, sw = A.shape[0], A.shape[1]
    n_tone = tone_vals.shape[0]
    n_lut = clut.shape[0]
    nm1 = np.float32(n_lut - 1)
    flat = clut.reshape(-1)
    cy = (H - 1) * 0.5
    cx = (W - 1) * 0.5
    inv_rmax = 1.0 / max(np.sqrt(cy * cy + cx * cx), 1e-6)
    fy = sh / H
    fx = sw / W
    gp = gtile.shape[0]
    zero32 = np.float32(0.0)
    # column-constant bilinear taps of the low-resolution local coefficients
    cx0 = np.empty(W, np.int64)
    cx1 = np.empty(W, np.int64)
    cwx = np.empty(W, np.float32)
    for j in range(W):
        lx = min(max((j + 0.5) * fx - 0.5, 0.0), sw - 1.0)
        x0 = min(int(lx), max(sw - 2, 0))
        cx0[j] = x0
        cx1[j] = min(x0 + 1, sw - 1)
        cwx[j] = lx - x0
    for i in prange(H):
        row = np.empty((W, 3), np.float32)
        ly = min(max((i + 0.5) * fy - 0.5, 0.0), sh - 1.0)
        y0 = min(int(ly), max(sh - 2, 0))
        y1 = min(y0 + 1, sh - 1)
        wy = ly - y0
        arow = np.empty(sw, np.float32)
        brow = np.empty(sw, np.float32)
        if use_local:
            for q in range(sw):
                arow[q] = A[y0, q] * (1 - wy) + A[y1, q] * wy
                brow[q] = B[y0, q] * (1 - wy) + B[y1, q] * wy
        # pass 1: tone (exposure, local gain, vignette, curve) -> display-linear row
        for j in range(W):
            r0 = src[i, j, 0]
            g0 = src[i, j, 1]
            b0 = src[i, j, 2]
            if use_mat:
                r = mat[0, 0] * r0 + mat[0, 1] * g0 + mat[0, 2] * b0
                g = mat[1, 0] * r0 + mat[1, 1] * g0 + mat[1, 2] * b0
                b = mat[2, 0] * r0 + mat[2, 1] * g0 + mat[2, 2] * b0
            else:
                r, g, b = r0, g0, b0
            r = max(np.float32(r), zero32)
            g = max(np.float32(g), zero32)
            b = max(np.float32(b), zero32)
            n = max(r, max(g, b))
            if n > 1e-12 and n < 3.0e38:
                ln = np.log2(n)
                t = ln + exposure
                if use_local:
                    x0 = cx0[j]
                    x1 = cx1[j]
                    wx = cwx[j]
                    a_ = arow[x0] * (1 - wx) + arow[x1] * wx
                    b_ = brow[x0] * (1 - wx) + brow[x1] * wx
                    lnc = max(ln, -20.0)
                    base = a_ * lnc + b_
                    d = base - pivot_log
                    gain = (-(k_sh * min(d + sh_start, 0.0) + k_hi * max(d, 0.0))
                            + k_det * (lnc - base))
                    t += min(max(gain, -max_lift), max_lift)
                if vig_amount != 0.0:
                    dy = i - cy
                    dx = j - cx
                    rr = np.sqrt(dy * dy + dx * dx) * inv_rmax
                    v = max(rr - vig_mid, 0.0) / (1.0 - vig_mid)
                    t += vig_amount * v * v
                pos = (t - t_lo) * t_scale
                if pos <= 0.0:
                    f = tone_zero
                elif pos >= n_tone - 1:
                    f = 1.0
                else:
                    k = int(pos)
                    fr = pos - k
                    f = tone_vals[k] * (1 - fr) + tone_vals[k + 1] * fr
                ratio = f / n
                row[j, 0] = min(r * ratio, 1.0)
                row[j, 1] = min(g * ratio, 1.0)
                row[j, 2] = min(b * ratio, 1.0)
            else:
                v0 = 1.0 if n >= 3.0e38 else tone_zero  # +inf -> white; 0 and NaN -> black
                row[j, 0] = v0
                row[j, 1] = v0
                row[j, 2] = v0
        # pass 2: colour LUT, grain, blend with neutral
        for j in range(W):
            o0, o1, o2 = tetra_sample(flat, n_lut, np.sqrt(row[j, 0]) * nm1,
                                      np.sqrt(row[j, 1]) * nm1, np.sqrt(row[j, 2]) * nm1)
            if grain_amount > 0.0:
                lum = 0.2627 * o0 + 0.678 * o1 + 0.0593 * o2
                gm = 1.0 + grain_amount * gtile[i % gp, j % gp] * (1.0 - 0.7 * min(lum, 1.0))
                o0 *= gm
                o1 *= gm
                o2 *= gm
            if strength < 1.0:
                n0 = min(max(src[i, j, 0], 0.0), 1.0)
                n1 = min(max(src[i, j, 1], 0.0), 1.0)
                n2 = min(max(src[i, j, 2], 0.0), 1.0)
                o0 = n0 + strength * (o0 - n0)
                o1 = n1 + strength * (o1 - n1)
                o2 = n2 + strength * (o2 - n2)
            out[i, j, 0] = min(max(o0, 0.0), 1.0)
            out[i, j, 1] = min(max(o1, 0.0), 1.0)
            out[i, j, 2] = min(max(o2, 0.0), 1.0)


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
                        ) -> tuple[np.ndarray, np.ndarray]:
    if not spec.local.active:
        z = np.zeros((2, 2), np.float32)
        return z, z
    log_norm, _ = downsample_norm(data, baked.matrix if baked.use_matrix else None)
    return guided_coefficients(log_norm, spec.local)


def render_look(data: np.ndarray, look: LookSpec | str, strength: float = 1.0) -> np.ndarray:
    """Render scene-linear Rec.2020 ``data`` (H, W, 3) float32 with ``look`` -> display [0, 1]."""
    from rawlux.looks.registry import get_look

    spec = get_look(look) if isinstance(look, str) else look
    src = np.ascontiguousarray(data, np.float32)
    if spec.is_neutral:
        return clip_neutral(src)
    baked = bake(spec)
    A, B = _local_coefficients(src, spec, baked)
    out = np.empty_like(src)
    lo, t, v, gr = spec.local, spec.tone, spec.vignette, spec.grain
    _render_kernel(src, baked.matrix, baked.use_matrix, A, B, lo.active,
                   float(np.log2(t.pivot)), lo.shadows, lo.shadow_start, lo.highlights, lo.detail, lo.max_lift,
                   t.exposure, v.amount, v.midpoint, baked.tone.values, baked.tone.t_lo,
                   baked.tone.scale, baked.tone.value_at_zero, baked.colour_lut, float(strength),
                   gr.amount, grain_tile(gr.size, _grain_seed(src.shape, spec)) if gr.amount > 0
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
        A, B = _local_coefficients(src, spec, baked)
        base = upsample_reference(A, h, w) * np.maximum(ln, -20.0) + upsample_reference(B, h, w)
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
