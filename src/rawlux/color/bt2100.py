"""BT.2100 HDR encodings: PQ (SMPTE ST 2084) and HLG (ARIB STD-B67) transfer functions, and
10-bit code values of a linear BT.2020 HDR rendition given in SDR-white units."""

from __future__ import annotations

import math

import numpy as np

from rawlux.core.errors import InvalidParameter

SDR_WHITE_NITS = 203.0  # ITU-R BT.2408 reference white
HLG_REF_WHITE = 0.2647  # scene-linear E of HLG reference white (75 % signal), peak = 1


def pq_oetf(nits: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 inverse EOTF: absolute luminance (cd/m^2) -> PQ signal [0, 1]."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    y = np.clip(np.asarray(nits, np.float64) / 10000.0, 0.0, 1.0) ** m1
    return ((c1 + c2 * y) / (1 + c3 * y)) ** m2


def pq_eotf(v: np.ndarray) -> np.ndarray:
    """PQ signal [0, 1] -> absolute luminance (cd/m^2)."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.clip(np.asarray(v, np.float64), 0.0, 1.0) ** (1 / m2)
    return 10000.0 * (np.maximum(p - c1, 0.0) / (c2 - c3 * p)) ** (1 / m1)


def hlg_oetf(e: np.ndarray) -> np.ndarray:
    """ARIB STD-B67 / BT.2100 HLG OETF: scene-linear E [0, 1] -> signal [0, 1]."""
    a, b = 0.17883277, 0.28466892
    c = 0.5 - a * math.log(4 * a)
    e = np.clip(np.asarray(e, np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(e <= 1 / 12, np.sqrt(3 * e), a * np.log(np.maximum(12 * e - b, 1e-12)) + c)


def encode_bt2100(hdr_rec2020: np.ndarray, transfer: str) -> np.ndarray:
    """10-bit BT.2100 code values (uint16 0..1023) of a linear BT.2020 HDR rendition in SDR-white
    units (1.0 = SDR white): ``pq`` puts SDR white at 203 cd/m^2, ``hlg`` at reference white
    (75 % signal)."""
    x = np.maximum(np.nan_to_num(hdr_rec2020, nan=0.0, posinf=0.0), 0.0)
    if transfer == "pq":
        v = pq_oetf(x * SDR_WHITE_NITS)
    elif transfer == "hlg":
        v = hlg_oetf(x * HLG_REF_WHITE)
    else:
        raise InvalidParameter(f"transfer must be 'pq' or 'hlg', got {transfer!r}")
    return np.clip(np.rint(v * 1023.0), 0, 1023).astype(np.uint16)
