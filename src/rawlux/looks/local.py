"""Local tone mapping: edge-aware base/detail split of log2 luminance at reduced resolution.

The base layer is a self-guided filter (He, Sun & Tang 2013) of ``log2(max(R, G, B))`` computed
on a downsampled copy; its linear coefficients ``A, B`` are returned at low resolution and
applied at full resolution as ``base = A * log2(norm) + B`` (the "fast guided filter", He & Sun
2015), so strong edges stay sharp in the base layer and no halo band appears beside them.
The render kernel then turns base and detail into a per-pixel log gain (see
:func:`local_gain_reference`).
"""

from __future__ import annotations

import numpy as np

from rawlux.looks.spec import LocalSpec

#: short side of the low-resolution copy on which the guided filter runs
WORK_SIDE = 384
LOG_FLOOR = -20.0  # log2 of the darkest value considered


def downsample_norm(rgb: np.ndarray, matrix: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Low-resolution ``log2(max(R, G, B))`` (float32) and the downsampling factor."""
    import cv2

    h, w = rgb.shape[:2]
    f = max(1.0, min(h, w) / WORK_SIDE)
    sh, sw = max(1, round(h / f)), max(1, round(w / f))
    small = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA) if f > 1.0 else rgb
    if matrix is not None:
        small = small @ matrix.T.astype(np.float32)
    norm = np.nan_to_num(np.max(small, axis=2), nan=0.0, posinf=2.0 ** 20, neginf=0.0)
    return np.maximum(np.log2(np.maximum(norm, 2.0 ** LOG_FLOOR)), LOG_FLOOR).astype(np.float32), f


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


def upsample_reference(coef: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear upsampling used by the kernel (pixel centres aligned; edges clamped)."""
    sh, sw = coef.shape
    fy, fx = sh / h, sw / w
    y = np.clip((np.arange(h) + 0.5) * fy - 0.5, 0.0, sh - 1.0)
    x = np.clip((np.arange(w) + 0.5) * fx - 0.5, 0.0, sw - 1.0)
    y0 = np.minimum(np.floor(y).astype(int), sh - 2 if sh > 1 else 0)
    x0 = np.minimum(np.floor(x).astype(int), sw - 2 if sw > 1 else 0)
    y1, x1 = np.minimum(y0 + 1, sh - 1), np.minimum(x0 + 1, sw - 1)
    wy, wx = (y - y0)[:, None], (x - x0)[None, :]
    c = coef.astype(np.float64)
    top = c[y0][:, x0] * (1 - wx) + c[y0][:, x1] * wx
    bot = c[y1][:, x0] * (1 - wx) + c[y1][:, x1] * wx
    return top * (1 - wy) + bot * wy


def local_gain_reference(log_norm: np.ndarray, base: np.ndarray, pivot_log: float,
                         spec: LocalSpec) -> np.ndarray:
    """Per-pixel log2 gain: compress the base toward the pivot, scale the detail, cap it."""
    g = base - pivot_log
    gain = -(spec.shadows * np.minimum(g + spec.shadow_start, 0.0)
             + spec.highlights * np.maximum(g, 0.0))
    gain = gain + spec.detail * (log_norm - base)
    return np.clip(gain, -spec.max_lift, spec.max_lift)
