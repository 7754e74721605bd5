"""Normalised-convolution demosaic for any CFA tile (X-Trans and other non-Bayer layouts).

Each channel is ``blur(mosaic * mask_c) / blur(mask_c)`` with a 5x5 binomial kernel and
reflect-101 borders (applied identically to data and masks, so weights stay consistent);
measured sites keep their value. Simple and robust, not sharp: a fallback, not a default.
"""

from __future__ import annotations

import numpy as np

from rawlux.isp.demosaic._common import check_mosaic

_K1 = np.array([1, 4, 6, 4, 1], np.float32) / 16


def normalized_convolution(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """float32 (H, W) mosaic + (ph, pw) tile of channel indices -> float32 (H, W, 3)."""
    import cv2

    cfa, pat = check_mosaic(cfa, pattern, bayer=False)
    h, w = cfa.shape
    ph, pw = pat.shape
    tile = np.tile(pat, (h // ph + 1, w // pw + 1))[:h, :w]
    out = np.empty((h, w, 3), np.float32)
    for c in range(3):
        mask = (tile == c).astype(np.float32)
        num = cv2.sepFilter2D(cfa * mask, cv2.CV_32F, _K1, _K1, borderType=cv2.BORDER_REFLECT_101)
        den = cv2.sepFilter2D(mask, cv2.CV_32F, _K1, _K1, borderType=cv2.BORDER_REFLECT_101)
        est = num / np.maximum(den, np.float32(1e-6))
        out[..., c] = np.where(tile == c, cfa, est)
    return out
