"""Correlated colour temperature (CCT) and tint <-> chromaticity, and the CIE daylight locus.

Method: Robertson (1968) isotemperature lines in CIE 1960 UCS ``(u, v)``, the method of the DNG
SDK. Valid for CCT >= 1667 K (mired 0..600); lower temperatures are clamped.

Tint scale
----------
``tint`` uses the Adobe/DNG convention (the common +-150 slider scale): it is the signed distance
from the Planckian locus along the isotemperature line in ``uv`` times 3000, positive towards
green (above the locus), i.e. ``tint ~= 3000 * Duv``. ``duv`` functions return Duv itself
(Ohno 2014 sign: positive above the locus).

All functions take scalars or arrays (broadcast) and return float64.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.errors import InvalidParameter

#: Robertson (1968) table: mired r = 1e6/T, (u, v) on the Planckian locus, slope t of the
#: isotemperature line (Wyszecki & Stiles, Color Science, 2nd ed., table 1(3.11)).
_ROBERTSON = np.array(
    [
        [0, 0.18006, 0.26352, -0.24341],
        [10, 0.18066, 0.26589, -0.25479],
        [20, 0.18133, 0.26846, -0.26876],
        [30, 0.18208, 0.27119, -0.28539],
        [40, 0.18293, 0.27407, -0.30470],
        [50, 0.18388, 0.27709, -0.32675],
        [60, 0.18494, 0.28021, -0.35156],
        [70, 0.18611, 0.28342, -0.37915],
        [80, 0.18740, 0.28668, -0.40955],
        [90, 0.18880, 0.28997, -0.44278],
        [100, 0.19032, 0.29326, -0.47888],
        [125, 0.19462, 0.30141, -0.58204],
        [150, 0.19962, 0.30921, -0.70471],
        [175, 0.20525, 0.31647, -0.84901],
        [200, 0.21142, 0.32312, -1.0182],
        [225, 0.21807, 0.32909, -1.2168],
        [250, 0.22511, 0.33439, -1.4512],
        [275, 0.23247, 0.33904, -1.7298],
        [300, 0.24010, 0.34308, -2.0637],
        [325, 0.24792, 0.34655, -2.4681],
        [350, 0.25591, 0.34951, -2.9641],
        [375, 0.26400, 0.35200, -3.5814],
        [400, 0.27218, 0.35407, -4.3633],
        [425, 0.28039, 0.35577, -5.3762],
        [450, 0.28863, 0.35714, -6.7262],
        [475, 0.29685, 0.35823, -8.5955],
        [500, 0.30505, 0.35907, -11.324],
        [525, 0.31320, 0.35968, -15.628],
        [550, 0.32129, 0.36011, -23.325],
        [575, 0.32931, 0.36038, -40.770],
        [600, 0.33724, 0.36051, -116.45],
    ]
)
_R, _U, _V, _T = _ROBERTSON.T
# Unit direction of each isotemperature line, pointing to +u (below the locus, magenta side).
_DU = 1.0 / np.sqrt(1.0 + _T**2)
_DV = _T * _DU

#: Tint units per unit of uv distance (DNG SDK kTintScale is -3000 with the opposite direction).
TINT_SCALE = 3000.0
CCT_MIN = 1e6 / 600.0  # 1666.7 K
CCT_MAX = 1e6  # effectively infinity for the table (mired 1)


def xy_to_uv(xy: np.ndarray) -> np.ndarray:
    """CIE 1931 xy -> CIE 1960 UCS uv (``(..., 2)``)."""
    xy = np.asarray(xy, dtype=np.float64)
    x, y = xy[..., 0], xy[..., 1]
    d = -2.0 * x + 12.0 * y + 3.0
    return np.stack([4.0 * x / d, 6.0 * y / d], axis=-1)


def uv_to_xy(uv: np.ndarray) -> np.ndarray:
    """CIE 1960 UCS uv -> CIE 1931 xy (``(..., 2)``)."""
    uv = np.asarray(uv, dtype=np.float64)
    u, v = uv[..., 0], uv[..., 1]
    d = 2.0 * u - 8.0 * v + 4.0
    return np.stack([3.0 * u / d, 2.0 * v / d], axis=-1)


def xy_to_cct_tint(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chromaticity -> (CCT in kelvin, tint on the +-150 scale, positive = green).

    CCT is clamped to [1667 K, 1e6 K] (the Robertson table range).
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape[-1] != 2 or not np.all(np.isfinite(xy)):
        raise InvalidParameter(f"xy must be finite (..., 2), got shape {xy.shape}")
    uv = xy_to_uv(xy)
    u = uv[..., 0][..., None]
    v = uv[..., 1][..., None]
    # signed distance of the point from each isotemperature line (positive: higher mired)
    d = _DU * (v - _V) - _DV * (u - _U)  # (..., 31)
    # first line with d <= 0 (the point lies between lines i-1 and i)
    below = d <= 0.0
    i = np.where(below.any(axis=-1), below.argmax(axis=-1), len(_R) - 1)
    i = np.clip(i, 1, len(_R) - 1)
    d1 = np.take_along_axis(d, (i - 1)[..., None], -1)[..., 0]
    d2 = np.take_along_axis(d, i[..., None], -1)[..., 0]
    den = d1 - d2
    f = np.where(np.abs(den) > 1e-15, d1 / np.where(den == 0, 1.0, den), 0.0)
    f = np.clip(f, 0.0, 1.0)  # weight of line i
    r = _R[i - 1] * (1 - f) + _R[i] * f
    cct = 1e6 / np.maximum(r, 1.0)
    pu = _U[i - 1] * (1 - f) + _U[i] * f
    pv = _V[i - 1] * (1 - f) + _V[i] * f
    du = _DU[i - 1] * (1 - f) + _DU[i] * f
    dv = _DV[i - 1] * (1 - f) + _DV[i] * f
    n = np.hypot(du, dv)
    off = ((uv[..., 0] - pu) * du + (uv[..., 1] - pv) * dv) / n
    return cct, -off * TINT_SCALE


def cct_tint_to_xy(cct: np.ndarray | float, tint: np.ndarray | float = 0.0) -> np.ndarray:
    """(CCT in kelvin, tint on the +-150 scale) -> xy ``(..., 2)`` via Robertson's lines.

    CCT below 1667 K is clamped; the inverse of :func:`xy_to_cct_tint`.
    """
    cct = np.asarray(cct, dtype=np.float64)
    tint = np.asarray(tint, dtype=np.float64)
    if not (np.all(np.isfinite(cct)) and np.all(np.isfinite(tint))) or np.any(cct <= 0):
        raise InvalidParameter(f"CCT must be finite and > 0 K, got {cct}")
    cct, tint = np.broadcast_arrays(cct, tint)
    r = np.clip(1e6 / cct, 0.0, 600.0)
    i = np.clip(np.searchsorted(_R, r, side="right"), 1, len(_R) - 1)
    f = (r - _R[i - 1]) / (_R[i] - _R[i - 1])
    pu = _U[i - 1] * (1 - f) + _U[i] * f
    pv = _V[i - 1] * (1 - f) + _V[i] * f
    du = _DU[i - 1] * (1 - f) + _DU[i] * f
    dv = _DV[i - 1] * (1 - f) + _DV[i] * f
    n = np.hypot(du, dv)
    off = -tint / TINT_SCALE
    return uv_to_xy(np.stack([pu + du / n * off, pv + dv / n * off], axis=-1))


def xy_to_cct_duv(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chromaticity -> (CCT in kelvin, Duv), Duv positive above the Planckian locus."""
    cct, tint = xy_to_cct_tint(xy)
    return cct, tint / TINT_SCALE


def xy_to_cct(xy: np.ndarray) -> np.ndarray:
    """Chromaticity -> CCT in kelvin (Robertson)."""
    return xy_to_cct_tint(xy)[0]


def cct_to_xy(
    cct: np.ndarray | float, duv: np.ndarray | float = 0.0, locus: str = "planckian"
) -> np.ndarray:
    """CCT in kelvin -> xy on the Planckian locus (offset by ``duv``) or the CIE daylight locus.

    ``locus="daylight"`` uses the CIE D-series formula (valid 4000-25000 K; ``duv`` ignored).
    """
    if locus == "daylight":
        return cct_to_xy_daylight(cct)
    if locus != "planckian":
        raise InvalidParameter(f"unknown locus {locus!r}; valid: daylight, planckian")
    return cct_tint_to_xy(cct, np.asarray(duv, dtype=np.float64) * TINT_SCALE)


def cct_to_xy_daylight(cct: np.ndarray | float) -> np.ndarray:
    """CIE daylight locus: CCT (4000-25000 K, clamped) -> xy (CIE 15:2004 eq. 3.3/3.4)."""
    t = np.clip(np.asarray(cct, dtype=np.float64), 4000.0, 25000.0)
    x_lo = -4.6070e9 / t**3 + 2.9678e6 / t**2 + 0.09911e3 / t + 0.244063
    x_hi = -2.0064e9 / t**3 + 1.9018e6 / t**2 + 0.24748e3 / t + 0.237040
    x = np.where(t <= 7000.0, x_lo, x_hi)
    y = -3.000 * x**2 + 2.870 * x - 0.275
    return np.stack([x, y], axis=-1)
