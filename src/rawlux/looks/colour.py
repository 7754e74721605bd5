"""Global colour operations of a look, on display-linear Rec.2020 values in [0, 1].

Everything here is per pixel and global, so it can be baked into a 3D LUT (see
:mod:`rawlux.looks.render` and :mod:`rawlux.looks.export`). Chroma, hue and lightness are
edited in Oklab (Ottosson 2020), computed from linear Rec.2020 via linear Rec.709.
"""

from __future__ import annotations

import numpy as np

from rawlux.looks.spec import LookSpec
from rawlux.color.spaces import rgb_to_rgb64
from rawlux.core.image import ColorSpace

# Oklab (B. Ottosson, 2020): linear sRGB/Rec.709 -> LMS, and cube-rooted LMS -> Lab.
_M1_709 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                    [0.2119034982, 0.6806995451, 0.1073969566],
                    [0.0883024619, 0.2817188376, 0.6299787005]])
_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660]])
_M2_INV = np.linalg.inv(_M2)

#: Rec.2020 luminance weights (linear).
LUMA_2020 = np.array([0.2627, 0.6780, 0.0593])

# Skin tones in Oklab: hue ~ 25-70 deg at low/moderate chroma (ColorChecker dark/light skin
# sit near 44 deg, C ~ 0.06; saturated oranges have C > 0.12).
SKIN_HUE = 45.0
SKIN_HUE_WIDTH = 30.0
SKIN_CHROMA_HI = 0.085
SKIN_CHROMA_FADE = 0.05


def _m_2020_to_709() -> np.ndarray:
    return rgb_to_rgb64(ColorSpace.REC2020, ColorSpace.SRGB)


def rgb2020_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """Linear Rec.2020 (..., 3) -> Oklab (..., 3) float64 (negatives allowed)."""
    m1 = _M1_709 @ _m_2020_to_709()
    lms = np.asarray(rgb, np.float64) @ m1.T
    return np.cbrt(lms) @ _M2.T


def oklab_to_rgb2020(lab: np.ndarray) -> np.ndarray:
    """Oklab (..., 3) -> linear Rec.2020 (..., 3) float64."""
    m1 = _M1_709 @ _m_2020_to_709()
    lms = (np.asarray(lab, np.float64) @ _M2_INV.T) ** 3
    return lms @ np.linalg.inv(m1).T


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _hue_weight(h_deg: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Smooth band weight: 1 at ``centre``, 0 beyond ``width`` degrees (raised cosine)."""
    d = np.abs((h_deg - centre + 180.0) % 360.0 - 180.0)
    return np.where(d < width, 0.5 + 0.5 * np.cos(np.pi * d / width), 0.0)


def skin_mask(lab: np.ndarray) -> np.ndarray:
    """0..1 weight of skin-like colours (Oklab hue near 45 deg, low/moderate chroma)."""
    a, b = lab[..., 1], lab[..., 2]
    c = np.hypot(a, b)
    h = np.degrees(np.arctan2(b, a))
    w_h = _hue_weight(h, SKIN_HUE, SKIN_HUE_WIDTH)
    w_c = 1.0 - _smoothstep(SKIN_CHROMA_HI, SKIN_CHROMA_HI + SKIN_CHROMA_FADE, c)
    w_c = w_c * _smoothstep(0.005, 0.02, c)  # near-greys are not skin
    return w_h * w_c


def fit_gamut(rgb: np.ndarray, lightness: np.ndarray) -> np.ndarray:
    """Bring linear RGB into [0, 1] by moving toward the grey of equal Oklab lightness."""
    grey = np.clip(lightness, 0.0, 1.0) ** 3
    g = grey[..., None]
    d = rgb - g
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi = np.where(rgb > 1.0, (1.0 - g) / d, 1.0)
        t_lo = np.where(rgb < 0.0, g / -d, 1.0)
    t = np.clip(np.nan_to_num(np.minimum(t_hi, t_lo).min(axis=-1), nan=0.0), 0.0, 1.0)
    return np.clip(g + t[..., None] * d, 0.0, 1.0)


def colour_ops(rgb: np.ndarray, spec: LookSpec) -> np.ndarray:
    """Apply the look's global colour edits to display-linear Rec.2020 ``rgb`` in [0, 1].

    Order: Oklab; saturation x vibrance x per-hue chroma gains (gain above 1 reduced on skin by
    ``skin_protection``); shadow saturation; highlight desaturation; per-hue lightness and hue
    shift; monochrome (chroma 0) and tint; split toning; back to RGB with gamut fitting.
    Returns float64 (..., 3) in [0, 1].
    """
    lab = rgb2020_to_oklab(np.clip(rgb, 0.0, 1.0))
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    C = np.hypot(a, b)
    h = np.degrees(np.arctan2(b, a))
    col = spec.color
    gain = np.full_like(C, col.saturation)
    if col.vibrance != 0.0:
        muted = np.clip(1.0 - C / 0.2, 0.0, 1.0) ** 2
        gain = gain * (1.0 + col.vibrance * muted)
    dL = np.zeros_like(L)
    dh = np.zeros_like(L)
    for band in spec.hue:
        w = _hue_weight(h, band.hue, band.width)
        gain = gain * (1.0 + w * (band.saturation - 1.0))
        dL = dL + w * band.lightness * np.clip(C / 0.05, 0.0, 1.0)  # greys keep their lightness
        dh = dh + w * band.shift
    if col.skin_protection > 0.0:
        protect = col.skin_protection * skin_mask(lab)
        gain = np.where(gain > 1.0, gain - protect * (gain - 1.0), gain)
        dh = dh * (1.0 - protect)
    if col.shadow_saturation != 1.0:
        ws = 1.0 - _smoothstep(0.0, 0.35, L)
        gain = gain * (1.0 + ws * (col.shadow_saturation - 1.0))
    if col.highlight_desaturation > 0.0:
        gain = gain * (1.0 - col.highlight_desaturation * _smoothstep(0.8, 1.0, L))
    C2 = C * np.maximum(gain, 0.0)
    h2 = np.radians(h + dh)
    L2 = np.clip(L + dL, 0.0, 1.0)
    if spec.mono.enabled:
        C2 = np.zeros_like(C2)
    a2, b2 = C2 * np.cos(h2), C2 * np.sin(h2)
    envelope = _smoothstep(0.0, 0.12, L2) * (1.0 - _smoothstep(0.9, 1.0, L2))
    if spec.mono.enabled and spec.mono.tint_amount > 0.0:
        th = np.radians(spec.mono.tint_hue)
        w = spec.mono.tint_amount * envelope * (1.0 - 0.5 * L2)
        a2 = a2 + w * np.cos(th)
        b2 = b2 + w * np.sin(th)
    sp = spec.split
    if sp.shadows_amount > 0.0 or sp.highlights_amount > 0.0:
        ws = sp.shadows_amount * envelope * (1.0 - _smoothstep(0.15, 0.6, L2))
        wh = sp.highlights_amount * envelope * _smoothstep(0.45, 0.9, L2)
        a2 = a2 + ws * np.cos(np.radians(sp.shadows_hue)) + wh * np.cos(np.radians(sp.highlights_hue))
        b2 = b2 + ws * np.sin(np.radians(sp.shadows_hue)) + wh * np.sin(np.radians(sp.highlights_hue))
    out = oklab_to_rgb2020(np.stack([L2, a2, b2], axis=-1))
    return fit_gamut(out, L2)
