"""Depth for the bokeh renderer: the :class:`DepthMap` carrier, conversions from the encodings
phones store (GDepth / Dynamic Depth RangeInverse and RangeLinear, Apple disparity), a layered
depth built from the subject mask and image cues when the file carries none, and the focal
plane choice.

Convention: the renderer works on **disparity** ``d`` (float32, >= 0, proportional to
1 / distance, any scale; 0 = infinity). Only ratios ``d / d_focus`` matter.
"""

from __future__ import annotations


import cv2
import numpy as np

from rawlux.core.depth import DepthMap, decode_range, disparity_from_image  # noqa: F401 - re-exported
from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.portrait.layered_depth import layered_depth


def depth_from_cues(rgb: np.ndarray, mask: np.ndarray | None, *,
                    background: float = 0.25) -> DepthMap:
    """Layered disparity from the subject matte and image cues (no depth map in the file).

    The subject layer (``mask`` grown to the colour segments it mostly covers) is at 1; sky,
    a ground plane through the subject's lowest row, and segment-wise background disparities
    come from :func:`rawlux.portrait.layered_depth.layered_depth` (one value per segment, so a
    surface gets one blur). ``mask`` None: a scene without a subject (floor + sky only).
    ``rgb`` float32 (H, W, 3) sRGB-encoded [0, 1], ``mask`` float32 (H, W) in [0, 1].
    """
    if mask is not None and rgb.shape[:2] != mask.shape:
        raise ContractError(f"mask shape {mask.shape} does not match image {rgb.shape[:2]}")
    d, _ = layered_depth(rgb, None if mask is None else np.clip(mask, 0.0, 1.0).astype(np.float32),
                         background=background)
    return DepthMap(d, "cues")


def focus_disparity(disparity: np.ndarray, *, point: tuple[float, float] | None = None,
                    mask: np.ndarray | None = None) -> float:
    """Disparity of the focal plane.

    ``point`` = (x, y) as fractions of width/height (0..1) -> median in a small window there;
    else the median disparity of the confident subject (``mask`` > 0.8); else the depth map's
    own subject (:func:`nearest_region_disparity`).
    """
    d = disparity
    h, w = d.shape
    if point is not None:
        x, y = point
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise InvalidParameter(f"focus point ({x}, {y}) must be fractions in [0, 1]")
        cx, cy = min(w - 1, int(x * w)), min(h - 1, int(y * h))
        r = max(1, round(max(h, w) / 200))
        win = d[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1]
        val = float(np.median(win))
    elif mask is not None and mask.shape == d.shape and float((mask > 0.8).mean()) > 0.002:
        val = float(np.median(d[mask > 0.8]))
    else:
        val = nearest_region_disparity(d)
    if not np.isfinite(val) or val <= 0:
        val = float(d.max()) if float(d.max()) > 0 else 1.0
    return val


REGION_MIN_AREA = 0.02  # of the frame: smallest near region taken as the subject
_LEVELS = (97.0, 93.0, 87.0, 80.0, 70.0, 60.0)  # disparity percentiles tried, nearest first


def nearest_region_disparity(disparity: np.ndarray, *, side: int = 128) -> float:
    """Focal-plane disparity from a depth map alone (no focus point, no matte).

    On a ``side``-px copy, nearest first: pixels above a disparity percentile (97, 93, ... 60)
    form connected regions; the first region that covers >= 2 % of the frame, lies at least a
    third in the central box (x 0.15-0.85, y 0.05-0.9) and is not a surface receding upward (a
    floor or a table in front: its top third of rows < 0.85 x the disparity of its bottom
    third) and stands out (the median of a ring around it < 0.9 x its 25th percentile) is the
    subject: its
    median disparity. None qualifies ->
    the median of the frame's central region (x 0.35-0.65, y 0.3-0.7)."""
    d = np.asarray(disparity, np.float32)
    h, w = d.shape
    s = min(1.0, side / max(h, w))
    small = d if s >= 1.0 else cv2.resize(d, (max(4, round(w * s)), max(4, round(h * s))),
                                          interpolation=cv2.INTER_AREA)
    small = cv2.medianBlur(np.ascontiguousarray(small), 3) if min(small.shape) >= 3 else small
    sh, sw = small.shape
    yy, xx = np.mgrid[0:sh, 0:sw]
    fx, fy = (xx + 0.5) / sw, (yy + 0.5) / sh
    central = (fx > 0.15) & (fx < 0.85) & (fy > 0.05) & (fy < 0.9)
    n = sh * sw
    ring_k = np.ones((2 * max(2, round(max(sh, sw) / 32)) + 1,) * 2, np.uint8)
    for q in _LEVELS:
        t = float(np.percentile(small, q))
        near = (small >= t).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
        order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1
        for k in order:
            area = int(stats[k, cv2.CC_STAT_AREA])
            if area < REGION_MIN_AREA * n:
                break
            reg = labels == k
            if central[reg].mean() < 1 / 3 or _receding(small, reg, stats[k]):
                continue
            val = float(np.median(small[reg]))
            ring = cv2.dilate(reg.astype(np.uint8), ring_k).astype(bool) & ~reg
            low = float(np.percentile(small[reg], 25))
            if ring.any() and float(np.median(small[ring])) < 0.9 * low:  # it stands out
                return val
    box = (fx > 0.35) & (fx < 0.65) & (fy > 0.3) & (fy < 0.7)
    return float(np.median(small[box])) if box.any() else float(np.median(small))


def _receding(d: np.ndarray, reg: np.ndarray, stat: np.ndarray) -> bool:
    """Whether the region ``reg`` of disparity ``d`` is a ground plane: nearer toward its
    bottom (median of its top third of rows < 0.85 x that of its bottom third)."""
    y0, hgt = int(stat[cv2.CC_STAT_TOP]), int(stat[cv2.CC_STAT_HEIGHT])
    if hgt < 3:
        return False
    t = hgt // 3
    top, bot = reg[y0:y0 + t], reg[y0 + hgt - t:y0 + hgt]
    if not top.any() or not bot.any():
        return False
    upper = float(np.median(d[y0:y0 + t][top]))
    return upper < 0.85 * float(np.median(d[y0 + hgt - t:y0 + hgt][bot]))
