"""What the studio reports about a render: histograms, clipping masks (output and raw) and
the white balance a patch implies. Inputs are uint8 display images or float32 camera RGB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import Image, RawImage

__all__ = ["histogram", "clip_grid", "raw_clip_display", "white_of", "unorient"]


def histogram(rgb: np.ndarray, bins: int = 128) -> dict[str, Any]:
    """R, G, B and luminance (Rec.709 weights on the encoded values) histograms of a uint8
    image, each normalised to its peak, and the percentage of pixels clipped at either end."""
    flat = rgb[::2, ::2].reshape(-1, 3)  # every 4th pixel: same shape, a quarter of the work
    out: dict[str, Any] = {}
    luma = ((flat[:, 0].astype(np.uint32) * 54 + flat[:, 1].astype(np.uint32) * 183
             + flat[:, 2].astype(np.uint32) * 19) >> 8).astype(np.uint8)  # Rec.709 weights /256
    for name, ch in (("r", flat[:, 0]), ("g", flat[:, 1]), ("b", flat[:, 2]), ("l", luma)):
        h = np.bincount(ch >> (8 - int(np.log2(bins))), minlength=bins).astype(np.float64)
        inner = h[1:-1].max() if bins > 2 else h.max()
        out[name] = np.round(h / max(inner, 1.0), 4).clip(0, 1).tolist()
    n = max(flat.shape[0], 1)
    mx, mn = flat.max(axis=1), flat.min(axis=1)
    out["clipped_high_percent"] = round(100.0 * float(np.count_nonzero(mx >= 254)) / n, 3)
    out["clipped_low_percent"] = round(100.0 * float(np.count_nonzero(mx <= 1)) / n, 3)
    del mn
    return out


def clip_grid(clip_full: np.ndarray | None, h: int, w: int) -> np.ndarray:
    """Raw clip mask (mosaic or linear) reduced to an (h, w) bool grid (any clipped site)."""
    import cv2

    if clip_full is None:
        return np.zeros((h, w), bool)
    m = clip_full.any(axis=2) if clip_full.ndim == 3 else clip_full
    frac = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return frac > 0.02


def raw_clip_display(grid: np.ndarray, pr: RawImage, opts: dict[str, Any],
                      shape: tuple[int, int]) -> np.ndarray:
    """The preview-raw clip grid cropped and oriented like the displayed image."""
    import cv2

    from rawlux.isp.output import apply_orientation

    g = grid
    if opts.get("crop", True) and pr.crop is not None:
        c = pr.crop
        g = g[c.top: c.top + c.height, c.left: c.left + c.width]
    g = apply_orientation(g, int(pr.metadata.orientation or 1))
    if g.shape != shape:
        g = cv2.resize(g.astype(np.uint8), (shape[1], shape[0]),
                       interpolation=cv2.INTER_NEAREST) > 0
    return g


def white_of(camera: Image, path: Path, gains: Any) -> str:
    """``KELVIN,TINT`` of the white that camera-RGB ``gains`` neutralise (camera profile of
    ``camera``), clipped to the white-balance stage's bounds."""
    from rawlux.color.camera import camera_profile, neutral_to_xy
    from rawlux.color.cct import xy_to_cct_tint

    if gains is None:
        raise InvalidParameter("no white balance applied")
    n = 1.0 / np.asarray(gains, np.float64).ravel()
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise InvalidParameter("that spot is too dark or clipped to set white balance from")
    xy = neutral_to_xy(camera_profile(camera.calibration, str(path)), n / n.max())
    cct, tint = xy_to_cct_tint(np.asarray(xy))
    k = float(np.clip(float(np.asarray(cct).ravel()[0]), 1700.0, 50000.0))
    t = float(np.clip(float(np.asarray(tint).ravel()[0]), -150.0, 150.0))
    return f"{round(k)},{t:+.0f}"


def unorient(r: int, c: int, oh: int, ow: int, orient: int) -> tuple[int, int]:
    """Pixel (r, c) of the upright (oriented) image -> (row, col) in the stored image."""
    h, w = (ow, oh) if orient in (5, 6, 7, 8) else (oh, ow)
    probe = np.arange(h * w).reshape(h, w)
    from rawlux.isp.output import apply_orientation

    idx = int(apply_orientation(probe, orient)[min(r, oh - 1), min(c, ow - 1)])
    return divmod(idx, w)
