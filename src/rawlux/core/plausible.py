"""Which metadata values are facts and which are blanks or junk.

Cameras and converters write 0 for "unknown" (Magic Lantern DNGs: ExposureTime 0, FNumber 0,
ISO 0, FocalLength 0; their APEX ShutterSpeedValue/ApertureValue 0 decode to "1 s" and "f/1"),
empty strings for dates, and 0/0 for GPS. Nothing may show or write such a value as if it had
been measured: :func:`clean_metadata` drops every field outside the ranges below, and the EXIF
writer and frame captions use the same ranges. Shared by io (readers, writer) and frame.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import fields, replace
from typing import Any

from rawlux.core.image import GPS, Metadata

#: (lowest, highest) value a real capture can have, per numeric Metadata field
LIMITS: dict[str, tuple[float, float]] = {
    "exposure_time": (1e-6, 86400.0),  # s: 1/1,000,000 s .. one day
    "f_number": (0.3, 1024.0),  # fastest lenses ever made ~f/0.33; pinholes ~f/500
    "iso": (1.0, 10_000_000.0),
    "focal_length": (0.1, 10_000.0),  # mm
    "focal_length_35mm": (1.0, 100_000.0),  # mm
}
YEARS = (1900, 2200)  # a DateTimeOriginal outside these years is junk


def plausible(name: str, value: Any) -> bool:
    """True when ``value`` is a finite number inside ``LIMITS[name]``."""
    if value is None or isinstance(value, bool):
        return False
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    lo, hi = LIMITS[name]
    return math.isfinite(v) and lo <= v <= hi


def plausible_date(value: Any) -> bool:
    return isinstance(value, _dt.date) and YEARS[0] <= value.year <= YEARS[1]


def plausible_gps(gps: Any) -> bool:
    """A real position: finite, in range, and not the 0, 0 that blank GPS blocks decode to."""
    if not isinstance(gps, GPS):
        return False
    la, lo = gps.latitude, gps.longitude
    if not (math.isfinite(la) and math.isfinite(lo) and abs(la) <= 90 and abs(lo) <= 180):
        return False
    return not (la == 0 and lo == 0)


def clean_metadata(md: Metadata) -> Metadata:
    """``md`` with every blank, zero or impossible value set to None (names in
    ``extra["dropped"]``); texts are stripped of NULs and surrounding blanks."""
    changes: dict[str, Any] = {}
    for name in LIMITS:
        v = getattr(md, name)
        if v is not None and not plausible(name, v):
            changes[name] = None
    if md.datetime_original is not None and not plausible_date(md.datetime_original):
        changes["datetime_original"] = None
    if md.gps is not None:
        if not plausible_gps(md.gps):
            changes["gps"] = None
        elif md.gps.altitude is not None and not (math.isfinite(md.gps.altitude)
                                                  and -12_000 <= md.gps.altitude <= 100_000):
            changes["gps"] = replace(md.gps, altitude=None)
    for f in fields(Metadata):
        v = getattr(md, f.name)
        if isinstance(v, str):
            t = v.replace("\x00", " ").strip()
            if t != v:
                changes[f.name] = t or None
    if not changes:
        return md
    dropped = tuple(k for k, v in changes.items() if v is None)
    extra = dict(md.extra)
    if dropped:
        extra["dropped"] = tuple(dict.fromkeys((*extra.get("dropped", ()), *dropped)))
    return replace(md, extra=extra, **changes)


__all__ = ["LIMITS", "clean_metadata", "plausible", "plausible_date", "plausible_gps"]
