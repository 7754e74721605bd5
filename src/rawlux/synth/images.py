"""Test images for benchmarks and tests: scikit-image samples in linear light, Bayer mosaics, PSNR.

These are shared by the demosaic and burst benchmarks and their tests, so every score is
computed the same way. scikit-image is imported only when a sample is asked for.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.errors import InvalidParameter

RGGB = np.array([[0, 1], [1, 2]])


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear light (float64, exact IEC 61966-2-1 curve)."""
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def sample_image(name: str = "astronaut") -> np.ndarray:
    """A scikit-image sample image as uint8 RGB (grey samples are stacked to RGB)."""
    from skimage import data

    fn = getattr(data, name, None)
    if fn is None:
        raise InvalidParameter(f"unknown scikit-image sample {name!r}")
    img = fn()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    return np.ascontiguousarray(img[..., :3])


def linear_sample(name: str) -> np.ndarray:
    """A scikit-image sample decoded from sRGB to linear float32 (H, W, 3) in [0, 1]."""
    return srgb_to_linear(sample_image(name) / 255.0).astype(np.float32)


def mosaic(rgb: np.ndarray, pattern: np.ndarray = RGGB) -> np.ndarray:
    """(H, W, 3) -> (H, W) Bayer mosaic keeping channel ``pattern[y % 2, x % 2]`` at each
    site (``pattern`` as ``RawImage.cfa_pattern``: 0=R, 1=G, 2=B); same dtype, C-contiguous."""
    h, w = rgb.shape[:2]
    p = np.asarray(pattern)
    out = np.empty((h, w), rgb.dtype)
    for a in range(p.shape[0]):
        for b in range(p.shape[1]):
            out[a :: p.shape[0], b :: p.shape[1]] = rgb[a :: p.shape[0], b :: p.shape[1], p[a, b]]
    return out


def psnr(x: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None, peak: float = 1.0,
         border: int = 0) -> float:
    """PSNR in dB of ``x`` against ``truth`` (float64 maths) over ``mask`` (all if None), after
    dropping ``border`` pixels on every side."""
    d = np.asarray(x, np.float64) - np.asarray(truth, np.float64)
    if border:
        d = d[border:-border, border:-border]
        mask = None if mask is None else mask[border:-border, border:-border]
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d * d)) if d.size else float("nan")
    return float(10 * np.log10(peak * peak / mse)) if mse > 0 else float("inf")
