"""EXIF/DNG LightSource codes (CalibrationIlluminant1/2) -> CCT and chromaticity.

CCTs follow the DNG SDK (``dng_camera_profile::IlluminantToTemperature``) so that dual-illuminant
interpolation weights match Adobe's; fluorescent classes use the middle of their CCT range.
Chromaticities: CIE standard values for A/B/C/D50/D55/D65/D75, else the Planckian locus
(tint 0) below 4000 K and the CIE daylight locus from 4000 K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.color.cct import cct_tint_to_xy, cct_to_xy_daylight
from rawlux.color.spaces import WHITE_A, WHITE_D50, WHITE_D55, WHITE_D65, WHITE_D75
from rawlux.core.errors import InvalidParameter


@dataclass(frozen=True)
class LightSource:
    """One EXIF LightSource code: ``name``, ``cct`` in kelvin (0 = unknown)."""

    code: int
    name: str
    cct: float


_TABLE: dict[int, tuple[str, float]] = {
    0: ("Unknown", 0.0),
    1: ("Daylight", 5500.0),
    2: ("Fluorescent", (3800.0 + 4500.0) / 2),
    3: ("Tungsten", 2850.0),
    4: ("Flash", 5500.0),
    9: ("Fine weather", 5500.0),
    10: ("Cloudy weather", 6500.0),
    11: ("Shade", 7500.0),
    12: ("Daylight fluorescent (D 5700-7100K)", (5700.0 + 7100.0) / 2),
    13: ("Day white fluorescent (N 4600-5500K)", (4600.0 + 5500.0) / 2),
    14: ("Cool white fluorescent (W 3800-4500K)", (3800.0 + 4500.0) / 2),
    15: ("White fluorescent (WW 3250-3800K)", (3250.0 + 3800.0) / 2),
    16: ("Warm white fluorescent (L 2600-3250K)", (2600.0 + 3250.0) / 2),
    17: ("Standard light A", 2850.0),
    18: ("Standard light B", 5500.0),
    19: ("Standard light C", 6500.0),
    20: ("D55", 5500.0),
    21: ("D65", 6500.0),
    22: ("D75", 7500.0),
    23: ("D50", 5000.0),
    24: ("ISO studio tungsten", 3200.0),
    255: ("Other", 0.0),
}

_XY: dict[int, np.ndarray] = {
    17: WHITE_A,
    18: np.array([0.34842, 0.35161]),
    19: np.array([0.31006, 0.31616]),
    20: WHITE_D55,
    21: WHITE_D65,
    22: WHITE_D75,
    23: WHITE_D50,
}


def light_source(code: int) -> LightSource:
    """The :class:`LightSource` for an EXIF code; unknown codes raise :class:`InvalidParameter`."""
    try:
        name, cct = _TABLE[int(code)]
    except (KeyError, ValueError, TypeError):
        raise InvalidParameter(
            f"unknown EXIF LightSource code {code!r}; valid: {', '.join(map(str, _TABLE))}"
        ) from None
    return LightSource(int(code), name, cct)


def light_source_cct(code: int) -> float:
    """CCT in kelvin of an EXIF LightSource code (0.0 for unknown/other)."""
    return light_source(code).cct


def light_source_xy(code: int) -> np.ndarray | None:
    """CIE 1931 xy of an EXIF LightSource code, or None when the code names no colour."""
    if int(code) in _XY:
        return _XY[int(code)].copy()
    cct = light_source_cct(code)
    if cct <= 0:
        return None
    return cct_to_xy_daylight(cct) if cct >= 4000 else cct_tint_to_xy(cct, 0.0)
