"""Local tone mapping: edge-aware base/detail split of log2 luminance at reduced resolution.

The base layer is a self-guided filter (He, Sun & Tang 2013) of ``log2(max(R, G, B))`` computed
on a block-averaged copy (integer factor ``k``, short side about :data:`WORK_SIDE` px); its
linear coefficients ``A, B`` are returned at low resolution and applied at full resolution as
``base = A * log2(norm) + B`` (the "fast guided filter", He & Sun 2015), so strong edges stay
sharp in the base layer and no halo band appears beside them. The render kernel then turns base
and detail into a per-pixel log gain (see :func:`local_gain_reference`).

Geometry: low-resolution pixel ``q`` is the mean of full-resolution rows/columns
``[q k, (q + 1) k)`` (the last block may be partial); upsampling is bilinear with low-res
coordinate ``(i + 0.5) / k - 0.5``, clamped at the edges.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.jit import njit, run_bands
from rawlux.looks.spec import LocalSpec

#: approximate short side of the low-resolution copy on which the guided filter runs
WORK_SIDE = 384
LOG_FLOOR = -20.0  # log2 of the darkest value considered


def work_factor(h: int, w: int) -> int:
    """Integer block size ``k >= 1`` of the low-resolution copy for an ``h x w`` image."""
    return max(1, min(h, w) // WORK_SIDE)


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(f4[:, :, ::1], i8, i8, f4[:, :, ::1], i8, i8)")
def _block_mean_kernel(src, k, row_step, out, q0, q1):  # pragma: no cover - compiled
    """Low-resolution rows ``q0 .. q1`` of :func:`block_mean`."""
    H, W = src.shape[0], src.shape[1]
    sw = out.shape[1]
    flat = src.reshape(-1)
    for q in range(q0, q1):
        y0 = q * k
        y1 = min(y0 + k, H)
        colsum = np.zeros(3 * W, np.float32)  # column sums of the block's rows (vectorised)
        nrows = 0
        for i in range(y0, y1, row_step):
            row = flat[i * 3 * W:(i + 1) * 3 * W]
            for j in range(3 * W):
                colsum[j] += row[j]
            nrows += 1
        for p in range(sw):
            x0 = p * k
            x1 = min(x0 + k, W)
            inv = np.float32(1.0 / (nrows * (x1 - x0)))
            s0 = np.float32(0.0)
            s1 = np.float32(0.0)
            s2 = np.float32(0.0)
            for j in range(x0, x1):
                s0 += colsum[3 * j]
                s1 += colsum[3 * j + 1]
                s2 += colsum[3 * j + 2]
            out[q, p, 0] = s0 * inv
            out[q, p, 1] = s1 * inv
            out[q, p, 2] = s2 * inv


def block_mean(rgb: np.ndarray, k: int, row_step: int = 1) -> np.ndarray:
    """Mean of ``k x k`` blocks of (H, W, 3) float32 (partial blocks at the far edges); with
    ``row_step`` > 1 only every ``row_step``-th row of each block is read (less memory traffic)."""
    src = np.ascontiguousarray(rgb, np.float32)
    h, w = src.shape[:2]
    out = np.empty((-(-h // k), -(-w // k), 3), np.float32)
    run_bands(_block_mean_kernel, out.shape[0], src, int(k), max(1, int(row_step)), out, min_rows=1)
    return out


@njit(cache=True, nogil=True, error_model="numpy", aot="void(f4[:, :, ::1], f4[:, ::1], b1, f4[:, ::1])")
def _log_norm_kernel(small, mat, use_mat, out):  # pragma: no cover - compiled
    floor = np.float32(LOG_FLOOR)
    for q in range(small.shape[0]):
        for p in range(small.shape[1]):
            r, g, b = small[q, p, 0], small[q, p, 1], small[q, p, 2]
            if use_mat:
                r, g, b = (mat[0, 0] * r + mat[0, 1] * g + mat[0, 2] * b,
                           mat[1, 0] * r + mat[1, 1] * g + mat[1, 2] * b,
                           mat[2, 0] * r + mat[2, 1] * g + mat[2, 2] * b)
            n = max(r, max(g, b))
            if np.isnan(n):
                n = np.float32(0.0)
            n = min(n, np.float32(2.0 ** 20))
            out[q, p] = max(np.log2(max(n, np.float32(2.0 ** LOG_FLOOR))), floor)


def downsample_norm(rgb: np.ndarray, matrix: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Low-resolution ``log2(max(R, G, B))`` (float32, in [:data:`LOG_FLOOR`, 20]) of the
    ``k x k`` block means (optionally mixed by ``matrix`` first; NaN -> floor), and ``k``.
    For ``k >= 4`` the block means read every other row (the guide only needs a low-pass;
    sparser rows alias fine texture into the guide's variance and visibly change the result)."""
    h, w = rgb.shape[:2]
    k = work_factor(h, w)
    small = (block_mean(rgb, k, 2 if k >= 4 else 1) if k > 1
             else np.ascontiguousarray(rgb, np.float32))
    out = np.empty(small.shape[:2], np.float32)
    mat = np.eye(3, dtype=np.float32) if matrix is None else np.ascontiguousarray(matrix, np.float32)
    _log_norm_kernel(small, mat, matrix is not None, out)
    return out, k


def guided_coefficients(log_norm: np.ndarray, spec: LocalSpec) -> tuple[np.ndarray, np.ndarray]:
    """Self-guided filter coefficients ``A, B`` (float32, same shape as ``log_norm``)."""
    import cv2

    h, w = log_norm.shape
    r = max(1, round(spec.radius * min(h, w)))
    k = (2 * r + 1, 2 * r + 1)
    eps = float(spec.edge) ** 2

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, k, normalize=True, borderType=cv2.BORDER_REFLECT)

    mean = box(log_norm)
    var = np.maximum(box(log_norm * log_norm) - mean * mean, 0.0)
    a = var / (var + eps)
    b = mean - a * mean
    return np.ascontiguousarray(box(a), np.float32), np.ascontiguousarray(box(b), np.float32)


def upsample_taps(n_low: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps ``(i0, i1, w)`` (int64, int64, float32) of ``n`` full-resolution positions
    on a low-resolution axis of ``n_low`` samples with block size ``k``."""
    x = np.clip((np.arange(n) + 0.5) / k - 0.5, 0.0, n_low - 1.0)
    i0 = np.minimum(np.floor(x).astype(np.int64), max(n_low - 2, 0))
    i1 = np.minimum(i0 + 1, n_low - 1)
    return i0, i1, (x - i0).astype(np.float32)


def upsample_reference(coef: np.ndarray, h: int, w: int, k: int) -> np.ndarray:
    """Bilinear upsampling used by the kernel (float64 (h, w)); see the module docstring."""
    sh, sw = coef.shape
    y0, y1, wy = upsample_taps(sh, h, k)
    x0, x1, wx = upsample_taps(sw, w, k)
    wy64, wx64 = wy.astype(np.float64)[:, None], wx.astype(np.float64)[None, :]
    c = coef.astype(np.float64)
    top = c[y0][:, x0] * (1 - wx64) + c[y0][:, x1] * wx64
    bot = c[y1][:, x0] * (1 - wx64) + c[y1][:, x1] * wx64
    return top * (1 - wy64) + bot * wy64


def upsample_columns(coef: np.ndarray, w: int, k: int, exact: bool = True) -> np.ndarray:
    """``coef`` (sh, sw) upsampled along x only to (sh, w) float32 (the kernel then blends two
    such rows per output row, contiguous and cheap). OpenCV's bilinear resize to width ``sw k``
    (scale exactly ``1 / k``) samples at the same coordinate ``(j + 0.5) / k - 0.5``, clamped.
    ``exact=False`` may return more than ``w`` columns (C-contiguous, the first ``w`` are the
    result): no cropping copy."""
    import cv2

    c = np.ascontiguousarray(coef, np.float32)
    sh, sw = c.shape
    wide = sw * k
    out = cv2.resize(c, (wide, sh), interpolation=cv2.INTER_LINEAR).reshape(sh, wide)
    if wide < w:  # coefficients narrower than ceil(w / k): the far edge is clamped
        return np.pad(out, ((0, 0), (0, w - wide)), mode="edge")
    return np.ascontiguousarray(out[:, :w]) if exact and wide > w else out


def local_gain_reference(log_norm: np.ndarray, base: np.ndarray, pivot_log: float,
                         spec: LocalSpec) -> np.ndarray:
    """Per-pixel log2 gain: compress the base toward the pivot, scale the detail, cap it."""
    g = base - pivot_log
    gain = -(spec.shadows * np.minimum(g + spec.shadow_start, 0.0)
             + spec.highlights * np.maximum(g, 0.0))
    gain = gain + spec.detail * (log_norm - base)
    return np.clip(gain, -spec.max_lift, spec.max_lift)
