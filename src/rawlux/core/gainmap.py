"""Gain-map data types shared by ``io`` (byte layout) and ``hdr`` (maths): ISO 21496-1 metadata
and the encoded map. Gains and capacities are log2 stops; offsets are linear (1.0 = SDR white)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import ContractError


@dataclass(frozen=True)
class GainMapMetadata:
    """The numbers a decoder needs (per channel tuples of length 1 or 3; log2 units for gains
    and capacities). Field names follow ISO 21496-1; the hdrgm XMP names are in the docs."""

    gain_min: tuple[float, ...]
    gain_max: tuple[float, ...]
    gamma: tuple[float, ...]
    offset_sdr: tuple[float, ...]
    offset_hdr: tuple[float, ...]
    capacity_min: float = 0.0
    capacity_max: float = 1.0
    base_is_hdr: bool = False
    use_base_colour_space: bool = True

    def __post_init__(self) -> None:
        n = len(self.gain_min)
        if n not in (1, 3):
            raise ContractError(f"gain map metadata needs 1 or 3 channels, got {n}")
        for name in ("gain_max", "gamma", "offset_sdr", "offset_hdr"):
            if len(getattr(self, name)) != n:
                raise ContractError(f"gain map metadata {name} has {len(getattr(self, name))} "
                                    f"values for {n} channel(s)")
        vals = (*self.gain_min, *self.gain_max, *self.gamma, *self.offset_sdr, *self.offset_hdr,
                self.capacity_min, self.capacity_max)
        if not all(math.isfinite(v) for v in vals):
            raise ContractError("gain map metadata holds a non-finite value")
        if any(g <= 0 for g in self.gamma):
            raise ContractError(f"gain map gamma must be > 0, got {self.gamma}")
        if any(hi < lo for lo, hi in zip(self.gain_min, self.gain_max)):
            raise ContractError(f"gain map max {self.gain_max} below min {self.gain_min}")

    @property
    def channels(self) -> int:
        return len(self.gain_min)

    def per_channel(self, name: str) -> np.ndarray:
        """Field ``name`` as a float32 array of 3 values (a 1-channel value repeated)."""
        v = np.asarray(getattr(self, name), np.float32)
        return np.repeat(v, 3) if v.size == 1 else v


@dataclass(frozen=True)
class GainMap:
    """A gain map: ``data`` uint8 (h, w) or (h, w, 3) encoded values, plus its metadata."""

    data: np.ndarray
    meta: GainMapMetadata

    def __post_init__(self) -> None:
        d = self.data
        if not isinstance(d, np.ndarray) or d.dtype != np.uint8:
            raise ContractError(f"gain map data must be uint8, got {getattr(d, 'dtype', type(d))}")
        if d.ndim not in (2, 3) or (d.ndim == 3 and d.shape[2] != 3) or min(d.shape[:2]) < 1:
            raise ContractError(f"gain map data must be (h, w) or (h, w, 3), got {d.shape}")
        if (1 if d.ndim == 2 else 3) != self.meta.channels:
            raise ContractError(f"gain map has {1 if d.ndim == 2 else 3} channel(s) but its "
                                f"metadata {self.meta.channels}")

    @property
    def headroom(self) -> float:
        """Stops of headroom a display needs to show the full HDR rendition (capacity max)."""
        return float(self.meta.capacity_max)


# ------------------------------------------------ decoding (used by io writers and hdr maths)


def gain_stops(gm: GainMap) -> np.ndarray:
    """The map's log2 recovery per pixel, float32 (h, w, C), C = 1 or 3."""
    e = gm.data.astype(np.float32) / 255.0
    if e.ndim == 2:
        e = e[..., None]
    g = np.asarray(gm.meta.gamma, np.float32)
    if np.any(g != 1.0):
        e = e ** (1.0 / g)
    lo = np.asarray(gm.meta.gain_min, np.float32)
    hi = np.asarray(gm.meta.gain_max, np.float32)
    return lo + e * (hi - lo)


def capacity_weight(meta: GainMapMetadata, display_headroom: float | None) -> float:
    """Weight of the map for a display with ``display_headroom`` stops (None = full HDR)."""
    if display_headroom is None:
        return 1.0
    lo, hi = meta.capacity_min, meta.capacity_max
    if hi <= lo:
        return 1.0 if display_headroom >= hi else 0.0
    return float(np.clip((display_headroom - lo) / (hi - lo), 0.0, 1.0))


def upsample(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of an (h0, w0[, C]) float32 map to (h, w[, C]) (pixel centres aligned)."""
    import cv2

    if a.shape[:2] == (h, w):
        return a
    out = cv2.resize(np.ascontiguousarray(a, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return out[..., None] if a.ndim == 3 and out.ndim == 2 else out


def apply_gainmap(sdr: np.ndarray, gm: GainMap, display_headroom: float | None = None) -> np.ndarray:
    """HDR rendition (linear, 1.0 = SDR white) of a linear SDR base (H, W, 3) and its gain map,
    as a display with ``display_headroom`` stops would show it (None: the full rendition)."""
    if not isinstance(sdr, np.ndarray) or sdr.ndim != 3 or sdr.shape[2] != 3:
        raise ContractError(f"SDR base must be an (H, W, 3) array, got {getattr(sdr, 'shape', sdr)}")
    h, w = sdr.shape[:2]
    L = upsample(gain_stops(gm), h, w)
    if L.ndim == 2:
        L = L[..., None]
    wgt = np.float32(capacity_weight(gm.meta, display_headroom))
    os_ = gm.meta.per_channel("offset_sdr")
    oh = gm.meta.per_channel("offset_hdr")
    return ((sdr.astype(np.float32) + os_) * np.exp2(L * wgt) - oh).astype(np.float32)
