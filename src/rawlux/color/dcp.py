"""DNG camera profiles (DNG spec 1.6 ch. 6 / DCP files): hue/sat maps, look table, tone curve.

A :class:`DngProfile` is the part of a DNG colour profile beyond the matrices: the two
``ProfileHueSatMapData`` tables (blended by white balance like the colour matrices), the
``ProfileLookTableData``, the ``ProfileToneCurve``, their encodings, ``BaselineExposureOffset``,
``DefaultBlackRender`` and the profile name; plus the image's ``ProfileGainTableMap`` (DNG 1.6,
tag 0xCD2D: the phone's local tone map), which lives in the raw IFD but is applied at the same
place in the render. Built from tag values by :func:`profile_from_tags` (a DNG's IFD 0 or a
``.dcp`` file, read by :mod:`rawlux.io.dcp`); every field is validated (CorruptInput naming tag).

Maths (DNG SDK reference conventions), all in linear ProPhoto RGB (D50):

* HSV: ``v = max``, ``s = (max - min) / max``, hue ``h`` in [0, 6) (hexcone).
* Hue/sat map: a table of (hue shift in degrees, saturation scale, value scale) at
  ``HueDivisions x SaturationDivisions x ValueDivisions`` points, stored value-outer, hue-middle,
  saturation-inner. Hue wraps; saturation and value are clamped to the table. Interpolation is
  bilinear in (h, s) for ``ValueDivisions == 1`` and trilinear otherwise; with encoding 1 (sRGB)
  the value axis of a 3-D table is indexed (and scaled) in sRGB-encoded value (the encoding
  does not apply to 2.5-D tables, as the spec says). The new saturation is capped at
  1; the value is **not** capped (scene values above 1 are kept; the DNG SDK renders in [0, 1]).
* Tone curve: ``ProfileToneCurve`` points through (0, 0) and (1, 1), interpolated by a natural
  cubic spline into a 4096-entry table, applied hue-preserving (the DNG SDK "RGB tone": the
  largest and smallest channels go through the curve, the middle one keeps its ratio).
* Gain table map: per pixel, the input ``clamp((R, G, B, min, max) . weights, 0, 1)``, raised to
  ``Gamma`` (PGTM v2; 1 for v1), indexes (times ``MapPointsN``, linear) the gain table
  interpolated bilinearly between the grid points (pixel-centred, edges replicated); RGB is
  multiplied by the gain.

Fast paths (numba via :mod:`rawlux.core.jit`) have plain-numpy references here, tested equal.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rawlux.core.errors import CorruptInput, UnsupportedInput
from rawlux.core.jit import njit, run_bands

# ----------------------------------------------------------------------------- tag codes

PROFILE_TAGS = {
    "UniqueCameraModel": 50708,
    "ColorMatrix1": 50721,
    "ColorMatrix2": 50722,
    "CalibrationIlluminant1": 50778,
    "CalibrationIlluminant2": 50779,
    "ForwardMatrix1": 50964,
    "ForwardMatrix2": 50965,
    "ProfileCalibrationSignature": 50932,
    "ProfileName": 50936,
    "ProfileHueSatMapDims": 50937,
    "ProfileHueSatMapData1": 50938,
    "ProfileHueSatMapData2": 50939,
    "ProfileToneCurve": 50940,
    "ProfileEmbedPolicy": 50941,
    "ProfileCopyright": 50942,
    "ProfileLookTableDims": 50981,
    "ProfileLookTableData": 50982,
    "ProfileHueSatMapEncoding": 51107,
    "ProfileLookTableEncoding": 51108,
    "BaselineExposureOffset": 51109,
    "DefaultBlackRender": 51110,
    "ProfileGainTableMap": 52525,
    "ProfileGainTableMap2": 52544,
    "ProfileHueSatMapData3": 52537,
}
#: Tags whose presence makes a profile worth carrying (besides the matrices of a .dcp).
_TABLE_TAGS = ("ProfileHueSatMapData1", "ProfileLookTableData", "ProfileToneCurve",
               "ProfileGainTableMap", "ProfileGainTableMap2", "BaselineExposureOffset")

MAX_TABLE_POINTS = 1 << 20  # hue x sat x val points of one table (Adobe uses 90x30x1, 36x8x16)
MAX_TONE_POINTS = 8192
MAX_GTM_POINTS = 64 * 1024 * 1024  # gain entries of a ProfileGainTableMap (Pixel 7: ~790 k)
TONE_LUT_SIZE = 4096

_PROPHOTO_XY = np.array([[0.7347, 0.2653], [0.1596, 0.8404], [0.0366, 0.0001]])


def prophoto_to_xyz() -> np.ndarray:
    """Linear ProPhoto (ROMM, D50) -> XYZ D50 (float64 3x3)."""
    from rawlux.color.spaces import WHITE_D50, primaries_to_xyz

    return primaries_to_xyz(_PROPHOTO_XY, WHITE_D50)


# ----------------------------------------------------------------------------- data classes


@dataclass(frozen=True)
class HueSatMap:
    """One hue/sat/val table: ``data`` float32 (V, H, S, 3) = (hue shift deg, sat scale, val scale)."""

    data: np.ndarray

    __hash__ = object.__hash__

    @property
    def dims(self) -> tuple[int, int, int]:
        v, h, s, _ = self.data.shape
        return h, s, v


@dataclass(frozen=True)
class GainTableMap:
    """ProfileGainTableMap: ``gains`` float32 (PointsV, PointsH, PointsN); geometry relative to
    the ActiveArea (1.0 = its height/width); ``weights`` the 5 MapInputWeights; ``gamma`` 1 for v1.
    ``frame`` = (active height, active width, crop top, crop left, crop height, crop width) of the
    image it was read with, so a cropped render finds its place in the map."""

    gains: np.ndarray
    spacing_v: float
    spacing_h: float
    origin_v: float
    origin_h: float
    weights: np.ndarray
    gamma: float = 1.0
    version: int = 1
    frame: tuple[int, int, int, int, int, int] | None = None

    __hash__ = object.__hash__

    @property
    def points(self) -> tuple[int, int, int]:
        v, h, n = self.gains.shape
        return v, h, n


@dataclass(frozen=True)
class DngProfile:
    """Profile tables of a DNG or ``.dcp`` (see module docstring). Illuminants are EXIF
    LightSource codes of the two calibrations (the hue/sat maps are blended between them)."""

    name: str | None = None
    hue_sat_map1: HueSatMap | None = None
    hue_sat_map2: HueSatMap | None = None
    hue_sat_encoding: int = 0  # 0 linear, 1 sRGB
    look_table: HueSatMap | None = None
    look_encoding: int = 0
    tone_curve: np.ndarray | None = None  # (N, 2) float64
    baseline_exposure_offset: float = 0.0
    default_black_render: int = 0  # 0 auto, 1 none
    illuminant1: int = 0
    illuminant2: int = 0
    gain_table_map: GainTableMap | None = None
    embed_policy: int | None = None
    copyright: str | None = None
    source: str = "dng"  # "dng" or the path of the .dcp

    __hash__ = object.__hash__

    @property
    def has_tables(self) -> bool:
        return any(x is not None for x in (self.hue_sat_map1, self.look_table, self.tone_curve))

    def summary(self) -> str:
        """One line for ``rawlux info``."""
        parts = []
        if self.hue_sat_map1 is not None:
            h, s, v = self.hue_sat_map1.dims
            n = 2 if self.hue_sat_map2 is not None else 1
            enc = ", sRGB-indexed" if self.hue_sat_encoding == 1 and v > 1 else ""
            parts.append(f"HueSatMap {h}x{s}x{v} x{n}{enc}")
        if self.look_table is not None:
            h, s, v = self.look_table.dims
            enc = ", sRGB-indexed" if self.look_encoding == 1 and v > 1 else ""
            parts.append(f"LookTable {h}x{s}x{v}{enc}")
        if self.tone_curve is not None:
            parts.append(f"ToneCurve {len(self.tone_curve)} points")
        if self.baseline_exposure_offset:
            parts.append(f"exposure offset {self.baseline_exposure_offset:+.2f} EV")
        if not parts:
            parts.append("no tables (matrices only)")
        parts.append("DefaultBlackRender " + ("none" if self.default_black_render else "auto"))
        return ", ".join(parts)


# ----------------------------------------------------------------------------- parsing

TagGetter = Callable[[int], Any]


def _floats(get: TagGetter, name: str, path: Any) -> np.ndarray | None:
    v = get(PROFILE_TAGS[name])
    if v is None:
        return None
    try:
        a = np.asarray(v, np.float64).ravel()
    except (TypeError, ValueError):
        raise CorruptInput(f"{name} is not numeric", path) from None
    if not np.all(np.isfinite(a)):
        raise CorruptInput(f"{name} has non-finite values", path)
    return a


def _int(get: TagGetter, name: str, path: Any, allowed: tuple[int, ...] | None = None) -> int | None:
    a = _floats(get, name, path)
    if a is None or a.size == 0:
        return None
    x = int(a[0])
    if allowed is not None and x not in allowed:
        raise CorruptInput(f"{name} {x} is not one of {', '.join(map(str, allowed))}", path)
    return x


def _text(get: TagGetter, name: str) -> str | None:
    v = get(PROFILE_TAGS[name])
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("utf-8", "replace")
    s = str(v).strip("\x00 ").strip()
    return s or None


def _table(get: TagGetter, dims_name: str, data_name: str, path: Any) -> HueSatMap | None:
    data = _floats(get, data_name, path)
    if data is None:
        return None
    dims = _floats(get, dims_name, path)
    if dims is None:
        raise CorruptInput(f"{data_name} without {dims_name}", path)
    if dims.size == 2:
        dims = np.append(dims, 1.0)
    if dims.size != 3 or np.any(dims != np.round(dims)):
        raise CorruptInput(f"{dims_name} {dims.tolist()} is not 2 or 3 integers", path)
    h, s, v = (int(x) for x in dims)
    if h < 1 or s < 2 or v < 1 or h * s * v > MAX_TABLE_POINTS:
        raise CorruptInput(f"{dims_name} {h}x{s}x{v} is outside 1+ hues, 2+ saturations, "
                           f"1+ values, {MAX_TABLE_POINTS} points", path)
    if data.size != h * s * v * 3:
        raise CorruptInput(f"{data_name} has {data.size} values, {dims_name} {h}x{s}x{v} needs "
                           f"{h * s * v * 3}", path)
    t = data.reshape(v, h, s, 3)
    if np.any(np.abs(t[..., 0]) > 360.0):
        raise CorruptInput(f"{data_name} has a hue shift beyond +-360 degrees", path)
    if np.any(t[..., 1:] < 0) or np.any(t[..., 1:] > 1e3):
        raise CorruptInput(f"{data_name} has a saturation/value scale outside 0..1000", path)
    return HueSatMap(np.ascontiguousarray(t, np.float32))


def _tone_curve(get: TagGetter, path: Any) -> np.ndarray | None:
    a = _floats(get, "ProfileToneCurve", path)
    if a is None:
        return None
    if a.size < 4 or a.size % 2 or a.size > 2 * MAX_TONE_POINTS:
        raise CorruptInput(f"ProfileToneCurve has {a.size} values, expected 2..{MAX_TONE_POINTS} "
                           "(x, y) pairs", path)
    pts = a.reshape(-1, 2)
    if np.any(pts < 0) or np.any(pts > 1) or np.any(np.diff(pts[:, 0]) <= 0):
        raise CorruptInput("ProfileToneCurve points are not increasing in x within 0..1", path)
    if abs(pts[0, 0]) > 1e-6 or abs(pts[-1, 0] - 1) > 1e-6:
        raise CorruptInput("ProfileToneCurve does not span x = 0..1", path)
    return pts


def parse_gain_table_map(b: bytes, path: Any, *, byteorder: str = "<", version: int = 1,
                         ) -> GainTableMap:
    """A ProfileGainTableMap (v1, 0xCD2D) or ProfileGainTableMap2 (DNG 1.7) payload -> map.

    v1 (64-byte header): PointsV, PointsH (LONG), SpacingV, SpacingH, OriginV, OriginH
    (DOUBLE), PointsN (LONG), 5 FLOAT weights, then V*H*N FLOAT gains, in the file's byte order.
    v2 (DNG 1.7, tag 0xCD40, 80-byte header) adds DataType (LONG: 0 uint8, 1 uint16, 2 half,
    3 float), Gamma (0.25..4), GainMin, GainMax (FLOAT) before the gains; integer gains map
    linearly onto GainMin..GainMax. v2 supersedes v1 when both are present. Every field is
    checked; CorruptInput names the field."""
    import struct

    e = byteorder
    head = struct.Struct(e + "2I4dI5f")
    if len(b) < head.size:
        raise CorruptInput(f"ProfileGainTableMap has {len(b)} bytes, under the {head.size}-byte "
                           "header", path)
    pv, ph, sv, sh, ov, oh, pn, *w = head.unpack_from(b, 0)
    off = head.size
    gamma, dtype_code, gmin, gmax = 1.0, 3, 1.0, 1.0
    if version == 2:
        ext = struct.Struct(e + "I3f")
        if len(b) < off + ext.size:
            raise CorruptInput("ProfileGainTableMap2 header is truncated", path)
        dtype_code, gamma, gmin, gmax = ext.unpack_from(b, off)
        off += ext.size
    for name, v in (("MapPointsV", pv), ("MapPointsH", ph), ("MapPointsN", pn)):
        if v < 1:
            raise CorruptInput(f"ProfileGainTableMap {name} is {v}, needs >= 1", path)
    if pv * ph * pn > MAX_GTM_POINTS:
        raise CorruptInput(f"ProfileGainTableMap has {pv}x{ph}x{pn} gains, over {MAX_GTM_POINTS}",
                           path)
    for name, v in (("MapSpacingV", sv), ("MapSpacingH", sh)):
        if not (math.isfinite(v) and 0 < v <= 1e3) and not (v == 0 and (pv if name[-1] == "V" else ph) == 1):
            raise CorruptInput(f"ProfileGainTableMap {name} {v:g} is not a positive finite "
                               "relative spacing", path)
    for name, v in (("MapOriginV", ov), ("MapOriginH", oh)):
        if not (math.isfinite(v) and abs(v) <= 1e3):
            raise CorruptInput(f"ProfileGainTableMap {name} {v:g} is not finite and within "
                               "+-1000", path)
    weights = np.asarray(w, np.float64)
    if not np.all(np.isfinite(weights)) or np.any(np.abs(weights) > 1e6):
        raise CorruptInput(f"ProfileGainTableMap MapInputWeights {weights.tolist()} are not "
                           "finite", path)
    if not (math.isfinite(gamma) and 0.25 <= gamma <= 4.0):
        raise CorruptInput(f"ProfileGainTableMap2 Gamma {gamma:g} is outside 0.25..4", path)
    n = pv * ph * pn
    sizes = {0: (1, "u1"), 1: (2, "u2"), 2: (2, "f2"), 3: (4, "f4")}
    if dtype_code not in sizes:
        raise CorruptInput(f"ProfileGainTableMap2 DataType {dtype_code} is not 0..3", path)
    nbytes, code = sizes[dtype_code]
    if len(b) != off + n * nbytes:
        raise CorruptInput(f"ProfileGainTableMap has {len(b)} bytes, its header "
                           f"({pv}x{ph}x{pn}) needs {off + n * nbytes}", path)
    raw = np.frombuffer(b, np.dtype(code).newbyteorder(e), count=n, offset=off)
    if dtype_code in (0, 1):
        if not (math.isfinite(gmin) and math.isfinite(gmax) and 0 <= gmin <= gmax):
            raise CorruptInput(f"ProfileGainTableMap2 GainMin {gmin:g} / GainMax {gmax:g} are "
                               "invalid", path)
        top = 255.0 if dtype_code == 0 else 65535.0
        gains = gmin + (gmax - gmin) * (raw.astype(np.float64) / top)
    else:
        gains = raw.astype(np.float64)
    if not np.all(np.isfinite(gains)) or np.any(gains < 0) or np.any(gains > 1e4):
        raise CorruptInput("ProfileGainTableMap gains must be finite and within 0..10000", path)
    return GainTableMap(
        gains=np.ascontiguousarray(gains.reshape(pv, ph, pn), np.float32),
        spacing_v=float(sv), spacing_h=float(sh), origin_v=float(ov), origin_h=float(oh),
        weights=weights, gamma=float(gamma), version=version,
    )


def serialize_gain_table_map(m: GainTableMap, byteorder: str = "<") -> bytes:
    """Inverse of :func:`parse_gain_table_map`: a v1 payload, or for ``m.version == 2`` a
    ProfileGainTableMap2 payload with float gains (DataType 3) and ``m.gamma``."""
    import struct

    pv, ph, pn = m.points
    head = struct.pack(byteorder + "2I4dI5f", pv, ph, m.spacing_v, m.spacing_h, m.origin_v,
                       m.origin_h, pn, *[float(x) for x in m.weights])
    if m.version == 2:
        head += struct.pack(byteorder + "I3f", 3, float(m.gamma), 1.0, 1.0)
    return head + np.asarray(m.gains, np.dtype("f4").newbyteorder(byteorder)).tobytes()


Entry = tuple[int, int, int, bytes]  # (tag code, TIFF type, count, little-endian payload)


def entry(name: str, typ: int, values: Any) -> Entry:
    """One little-endian TIFF entry of tag ``name`` (types 2 ASCII, 3/4 SHORT/LONG, 7 UNDEFINED
    bytes, 10 SRATIONAL with denominator 10000, 11 FLOAT)."""
    code = PROFILE_TAGS[name]
    if typ == 2:
        data = str(values).encode("utf-8") + b"\x00"
        count = len(data)
    elif typ == 7:
        data = bytes(values)
        count = len(data)
    elif typ == 10:
        fr = [(int(round(float(x) * 10000)), 10000) for x in np.ravel(values)]
        data = b"".join(struct.pack("<ii", a, b) for a, b in fr)
        count = len(fr)
    else:
        fmt = {3: "H", 4: "I", 11: "f"}[typ]
        vals = np.ravel(values)
        data = struct.pack(f"<{len(vals)}{fmt}", *(float(x) if typ == 11 else int(x) for x in vals))
        count = len(vals)
    return code, typ, count, data


def profile_entries(profile: DngProfile) -> list[Entry]:
    """The TIFF entries of ``profile``'s name, tables, encodings, tone curve, exposure offset,
    black render, copyright and embed policy (IFD 0 of a DNG, or a ``.dcp``)."""
    out = []
    if profile.name:
        out.append(entry("ProfileName", 2, profile.name))
    if profile.hue_sat_map1 is not None:
        out.append(entry("ProfileHueSatMapDims", 4, list(profile.hue_sat_map1.dims)))
        out.append(entry("ProfileHueSatMapData1", 11, profile.hue_sat_map1.data))
        if profile.hue_sat_map2 is not None:
            out.append(entry("ProfileHueSatMapData2", 11, profile.hue_sat_map2.data))
        out.append(entry("ProfileHueSatMapEncoding", 4, [profile.hue_sat_encoding]))
    if profile.look_table is not None:
        out.append(entry("ProfileLookTableDims", 4, list(profile.look_table.dims)))
        out.append(entry("ProfileLookTableData", 11, profile.look_table.data))
        out.append(entry("ProfileLookTableEncoding", 4, [profile.look_encoding]))
    if profile.tone_curve is not None:
        out.append(entry("ProfileToneCurve", 11, profile.tone_curve))
    if profile.baseline_exposure_offset:
        out.append(entry("BaselineExposureOffset", 10, [profile.baseline_exposure_offset]))
    out.append(entry("DefaultBlackRender", 4, [profile.default_black_render]))
    if profile.copyright:
        out.append(entry("ProfileCopyright", 2, profile.copyright))
    if profile.embed_policy is not None:
        out.append(entry("ProfileEmbedPolicy", 4, [profile.embed_policy]))
    return out


def gain_table_map_entry(profile: DngProfile) -> Entry | None:
    """The raw IFD's ProfileGainTableMap (v1) or ProfileGainTableMap2 entry of ``profile``."""
    m = profile.gain_table_map
    if m is None:
        return None
    name = "ProfileGainTableMap2" if m.version == 2 else "ProfileGainTableMap"
    return entry(name, 7, serialize_gain_table_map(m))


def profile_from_tags(get: TagGetter, path: Any, *, source: str = "dng",
                      byteorder: str = "<") -> DngProfile | None:
    """A :class:`DngProfile` from tag values (``get(code)`` -> value or None), or None when the
    tags hold no profile name, table, tone curve, exposure offset or gain table map (and
    ``source`` is "dng"). Raises :class:`CorruptInput` naming the bad tag."""
    present = [n for n in _TABLE_TAGS if get(PROFILE_TAGS[n]) is not None]
    if get(PROFILE_TAGS["ProfileHueSatMapData3"]) is not None:
        raise UnsupportedInput("ProfileHueSatMapData3 (triple-illuminant profile) is not "
                               "supported", path)
    name = _text(get, "ProfileName")
    if not present and source == "dng" and name is None:
        return None
    hsm1 = _table(get, "ProfileHueSatMapDims", "ProfileHueSatMapData1", path)
    hsm2 = _table(get, "ProfileHueSatMapDims", "ProfileHueSatMapData2", path)
    if hsm1 is None and hsm2 is not None:
        hsm1, hsm2 = hsm2, None
    look = _table(get, "ProfileLookTableDims", "ProfileLookTableData", path)
    off = _floats(get, "BaselineExposureOffset", path)
    offset = float(off[0]) if off is not None and off.size else 0.0
    if not -10 <= offset <= 10:
        raise CorruptInput(f"BaselineExposureOffset {offset:g} EV is outside -10..10", path)
    gtm = None
    for tag, ver in (("ProfileGainTableMap2", 2), ("ProfileGainTableMap", 1)):
        raw = get(PROFILE_TAGS[tag])
        if raw is not None:
            if not isinstance(raw, (bytes, bytearray)):
                raw = np.asarray(raw, np.uint8).tobytes()
            gtm = parse_gain_table_map(bytes(raw), path, byteorder=byteorder, version=ver)
            break
    return DngProfile(
        name=name,
        hue_sat_map1=hsm1,
        hue_sat_map2=hsm2,
        hue_sat_encoding=_int(get, "ProfileHueSatMapEncoding", path, (0, 1)) or 0,
        look_table=look,
        look_encoding=_int(get, "ProfileLookTableEncoding", path, (0, 1)) or 0,
        tone_curve=_tone_curve(get, path),
        baseline_exposure_offset=offset,
        default_black_render=_int(get, "DefaultBlackRender", path, (0, 1)) or 0,
        illuminant1=_int(get, "CalibrationIlluminant1", path) or 0,
        illuminant2=_int(get, "CalibrationIlluminant2", path) or 0,
        gain_table_map=gtm,
        embed_policy=_int(get, "ProfileEmbedPolicy", path),
        copyright=_text(get, "ProfileCopyright"),
        source=source,
    )


# ----------------------------------------------------------------------------- blending


def blend_hue_sat_map(p: DngProfile, cct: float, cct1: float, cct2: float) -> HueSatMap | None:
    """The hue/sat map at white ``cct`` (kelvin): tables 1 and 2 mixed with the matrices'
    weight (linear in 1/CCT, clamped; :func:`rawlux.color.camera.interpolation_weight`)."""
    from rawlux.color.camera import interpolation_weight

    if p.hue_sat_map1 is None:
        return None
    if p.hue_sat_map2 is None or p.hue_sat_map2.data.shape != p.hue_sat_map1.data.shape:
        return p.hue_sat_map1
    w = interpolation_weight(cct, cct1, cct2)
    if w >= 1.0:
        return p.hue_sat_map1
    if w <= 0.0:
        return p.hue_sat_map2
    d = w * p.hue_sat_map1.data.astype(np.float64) + (1 - w) * p.hue_sat_map2.data
    return HueSatMap(np.ascontiguousarray(d, np.float32))


# ----------------------------------------------------------------------------- references


def _srgb_enc(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(np.maximum(v, 0.0031308), 1 / 2.4) - 0.055)


def _srgb_dec(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, np.power((np.maximum(v, 0.04045) + 0.055) / 1.055, 2.4))


def rgb_to_hsv_reference(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DNG hexcone HSV of (..., 3) float64: h in [0, 6), s in [0, 1], v = max."""
    r, g, b = (rgb[..., i] for i in range(3))
    mx = np.max(rgb, axis=-1)
    mn = np.min(rgb, axis=-1)
    gap = mx - mn
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(r == mx, (g - b) / gap, np.where(g == mx, 2 + (b - r) / gap, 4 + (r - g) / gap))
        h = np.where(h < 0, h + 6, h)
        s = gap / mx
    ok = gap > 0
    return np.where(ok, h, 0.0), np.where(ok, s, 0.0), mx


def hsv_to_rgb_reference(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_hsv_reference` (h wrapped into [0, 6))."""
    h = np.mod(h, 6.0)
    i = np.minimum(np.floor(h).astype(np.int64), 5)
    f = h - i
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    gray = s <= 0
    out = np.stack([np.where(gray, v, r), np.where(gray, v, g), np.where(gray, v, b)], axis=-1)
    return out


def apply_hue_sat_map_reference(rgb: np.ndarray, table: HueSatMap, encoding: int = 0) -> np.ndarray:
    """Plain numpy hue/sat/val map of linear ProPhoto (..., 3), float64 maths (module docstring)."""
    x = np.maximum(np.asarray(rgb, np.float64), 0.0)
    t = table.data.astype(np.float64)
    nv, nh, ns, _ = t.shape
    if nv == 1:
        encoding = 0  # the spec: the encoding does not apply to a 2.5-D table
    h, s, v = rgb_to_hsv_reference(x)
    hs = h * (nh / 6.0)
    h0 = np.floor(hs).astype(np.int64)
    hf = hs - h0
    h0 %= nh
    h1 = (h0 + 1) % nh
    ss = np.clip(s, 0, 1) * (ns - 1)
    s0 = np.minimum(np.floor(ss).astype(np.int64), ns - 2)
    sf = ss - s0
    s1 = s0 + 1
    venc = _srgb_enc(v) if encoding == 1 else v
    if nv > 1:
        vs = np.clip(venc, 0.0, 1.0) * (nv - 1)
        v0 = np.minimum(np.floor(vs).astype(np.int64), nv - 2)
        vf = vs - v0
        v1 = v0 + 1
    else:
        v0 = v1 = np.zeros_like(h0)
        vf = np.zeros_like(hf)

    def corner(vi, hi, si):
        return t[vi, hi, si]

    acc = np.zeros(x.shape[:-1] + (3,))
    for vi, wv in ((v0, 1 - vf), (v1, vf)):
        for hi, wh in ((h0, 1 - hf), (h1, hf)):
            for si, ws in ((s0, 1 - sf), (s1, sf)):
                acc += (wv * wh * ws)[..., None] * corner(vi, hi, si)
    hue = h + acc[..., 0] * (6.0 / 360.0)
    sat = np.minimum(s * acc[..., 1], 1.0)
    if encoding == 1:
        val = _srgb_dec(venc * acc[..., 2])
    else:
        val = v * acc[..., 2]
    out = hsv_to_rgb_reference(hue, sat, val)
    return np.where((v > 0)[..., None], out, x)


def tone_lut(curve: np.ndarray, size: int = TONE_LUT_SIZE) -> np.ndarray:
    """ProfileToneCurve points (N, 2) -> float32 table of ``size`` samples over x in [0, 1]
    (natural cubic spline, monotone-clamped into [0, 1]; two points are a straight line)."""
    from scipy.interpolate import CubicSpline

    pts = np.asarray(curve, np.float64)
    xs = np.linspace(0.0, 1.0, size)
    if len(pts) == 2:
        y = np.interp(xs, pts[:, 0], pts[:, 1])
    else:
        y = CubicSpline(pts[:, 0], pts[:, 1], bc_type="natural")(xs)
    y = np.maximum.accumulate(np.clip(y, 0.0, 1.0))
    return y.astype(np.float32)


def _lut_reference(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    n = lut.size - 1
    p = np.clip(x, 0.0, 1.0) * n
    i = np.minimum(np.floor(p).astype(np.int64), n - 1)
    f = p - i
    return lut[i] * (1 - f) + lut[i + 1] * f


def rgb_tone_reference(rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Hue-preserving tone curve (DNG SDK "RGB tone") of (..., 3) in [0, 1], float64 maths:
    largest and smallest channels through the curve, the middle one keeps its relative place."""
    x = np.clip(np.asarray(rgb, np.float64), 0.0, 1.0)
    lut = np.asarray(lut, np.float64)
    mx = x.max(axis=-1, keepdims=True)
    mn = x.min(axis=-1, keepdims=True)
    tmx = _lut_reference(mx, lut)
    tmn = _lut_reference(mn, lut)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = tmn + (tmx - tmn) * (x - mn) / (mx - mn)
    flat = (mx - mn) <= 0
    return np.where(flat, tmx, out)


def gain_table_reference(rgb: np.ndarray, m: GainTableMap, rows: np.ndarray, cols: np.ndarray,
                         ) -> np.ndarray:
    """Numpy reference of the gain table map on (H, W, 3) float64 data whose pixel centres sit
    at relative positions ``rows`` (H,) and ``cols`` (W,) of the ActiveArea."""
    x = np.asarray(rgb, np.float64)
    g = m.gains.astype(np.float64)
    pv, ph, pn = g.shape

    def axis(pos: np.ndarray, origin: float, spacing: float, n: int):
        if n == 1 or spacing <= 0:
            z = np.zeros(pos.shape, np.int64)
            return z, z, np.zeros(pos.shape)
        u = np.clip((pos - origin) / spacing, 0.0, n - 1)
        i0 = np.minimum(np.floor(u).astype(np.int64), n - 2)
        return i0, i0 + 1, u - i0

    r0, r1, rf = axis(rows, m.origin_v, m.spacing_v, pv)
    c0, c1, cf = axis(cols, m.origin_h, m.spacing_h, ph)
    tab = ((1 - rf)[:, None, None] * ((1 - cf)[None, :, None] * g[r0][:, c0] + cf[None, :, None] * g[r0][:, c1])
           + rf[:, None, None] * ((1 - cf)[None, :, None] * g[r1][:, c0] + cf[None, :, None] * g[r1][:, c1]))
    feats = np.concatenate([x, x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)], axis=-1)
    tin = np.clip(feats @ m.weights, 0.0, 1.0)
    if m.gamma != 1.0:
        tin = tin ** m.gamma
    p = tin * pn
    # linear lookup: index tin * N into the N samples (clamped to the last)
    i0 = np.clip(np.floor(p).astype(np.int64), 0, pn - 1)
    i1 = np.minimum(i0 + 1, pn - 1)
    f = np.clip(p - i0, 0.0, 1.0)
    hh, ww = np.indices(tin.shape)
    gain = tab[hh, ww, i0] * (1 - f) + tab[hh, ww, i1] * f
    return x * gain[..., None]


# ----------------------------------------------------------------------------- fast kernels


@njit(cache=True, nogil=True, fastmath=False,
      aot="void(f4[:, ::1], f8[:, :, :, ::1], i8, f4[:, ::1], i8, i8)")
def _hsm_kernel(src, t, enc, dst, k0, k1):  # pragma: no cover - compiled
    nv, nh, ns = t.shape[0], t.shape[1], t.shape[2]
    for k in range(k0, k1):
        r = max(src[k, 0], 0.0)
        g = max(src[k, 1], 0.0)
        b = max(src[k, 2], 0.0)
        mx = max(r, max(g, b))
        mn = min(r, min(g, b))
        gap = mx - mn
        if mx <= 0.0:
            dst[k, 0] = r
            dst[k, 1] = g
            dst[k, 2] = b
            continue
        h = 0.0
        s = 0.0
        if gap > 0.0:
            if r == mx:
                h = (g - b) / gap
                if h < 0.0:
                    h += 6.0
            elif g == mx:
                h = 2.0 + (b - r) / gap
            else:
                h = 4.0 + (r - g) / gap
            s = gap / mx
        v = mx
        hs = h * (nh / 6.0)
        h0 = int(math.floor(hs))
        hf = hs - h0
        h0 = h0 % nh
        h1 = (h0 + 1) % nh
        ss = min(max(s, 0.0), 1.0) * (ns - 1)
        s0 = min(int(math.floor(ss)), ns - 2)
        sf = ss - s0
        if enc == 1:
            venc = 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1.0 / 2.4) - 0.055
        else:
            venc = v
        v0 = 0
        vf = 0.0
        if nv > 1:
            vs = min(max(venc, 0.0), 1.0) * (nv - 1)
            v0 = min(int(math.floor(vs)), nv - 2)
            vf = vs - v0
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        for dv in range(2 if nv > 1 else 1):
            wv = (1.0 - vf) if dv == 0 else vf
            vi = v0 + dv
            for dh in range(2):
                wh = (1.0 - hf) if dh == 0 else hf
                hi = h0 if dh == 0 else h1
                for ds in range(2):
                    w = wv * wh * ((1.0 - sf) if ds == 0 else sf)
                    si = s0 + ds
                    a0 += w * t[vi, hi, si, 0]
                    a1 += w * t[vi, hi, si, 1]
                    a2 += w * t[vi, hi, si, 2]
        h = h + a0 * (6.0 / 360.0)
        s = min(s * a1, 1.0)
        if enc == 1:
            e = venc * a2
            v = e / 12.92 if e <= 0.04045 else ((e + 0.055) / 1.055) ** 2.4
        else:
            v = v * a2
        if s <= 0.0:
            dst[k, 0] = v
            dst[k, 1] = v
            dst[k, 2] = v
            continue
        h = h % 6.0
        i = min(int(math.floor(h)), 5)
        f = h - i
        p = v * (1.0 - s)
        q = v * (1.0 - s * f)
        tt = v * (1.0 - s * (1.0 - f))
        if i == 0:
            r, g, b = v, tt, p
        elif i == 1:
            r, g, b = q, v, p
        elif i == 2:
            r, g, b = p, v, tt
        elif i == 3:
            r, g, b = p, q, v
        elif i == 4:
            r, g, b = tt, p, v
        else:
            r, g, b = v, p, q
        dst[k, 0] = r
        dst[k, 1] = g
        dst[k, 2] = b


def apply_hue_sat_map(rgb: np.ndarray, table: HueSatMap, encoding: int = 0) -> np.ndarray:
    """Fast (numba, banded) :func:`apply_hue_sat_map_reference`: (..., 3) float32 -> new array."""
    src = np.ascontiguousarray(rgb, np.float32)
    flat = src.reshape(-1, 3)
    out = np.empty_like(flat)
    enc = int(encoding) if table.data.shape[0] > 1 else 0  # not applicable to 2.5-D tables
    run_bands(_hsm_kernel, flat.shape[0], flat, np.ascontiguousarray(table.data, np.float64),
              np.int64(enc), out, min_rows=1 << 14)
    return out.reshape(src.shape)


@njit(cache=True, nogil=True, fastmath=False)
def _lut1(x, lut):  # pragma: no cover - compiled
    n = lut.size - 1
    p = min(max(x, 0.0), 1.0) * n
    i = min(int(p), n - 1)
    f = p - i
    return lut[i] * (1.0 - f) + lut[i + 1] * f


@njit(cache=True, nogil=True, fastmath=False,
      aot="void(f4[:, ::1], f8[::1], f4[:, ::1], i8, i8)")
def _rgb_tone_kernel(src, lut, dst, k0, k1):  # pragma: no cover - compiled
    for k in range(k0, k1):
        r = min(max(src[k, 0], 0.0), 1.0)
        g = min(max(src[k, 1], 0.0), 1.0)
        b = min(max(src[k, 2], 0.0), 1.0)
        mx = max(r, max(g, b))
        mn = min(r, min(g, b))
        tmx = _lut1(mx, lut)
        if mx - mn <= 0.0:
            dst[k, 0] = tmx
            dst[k, 1] = tmx
            dst[k, 2] = tmx
            continue
        tmn = _lut1(mn, lut)
        sc = (tmx - tmn) / (mx - mn)
        dst[k, 0] = tmn + (r - mn) * sc
        dst[k, 1] = tmn + (g - mn) * sc
        dst[k, 2] = tmn + (b - mn) * sc


def rgb_tone(rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Fast :func:`rgb_tone_reference` (float32 in and out)."""
    src = np.ascontiguousarray(rgb, np.float32)
    flat = src.reshape(-1, 3)
    out = np.empty_like(flat)
    run_bands(_rgb_tone_kernel, flat.shape[0], flat, np.ascontiguousarray(lut, np.float64), out,
              min_rows=1 << 14)
    return out.reshape(src.shape)


@njit(cache=True, nogil=True, fastmath=False,
      aot="void(f4[:, :, ::1], f8[:, :, ::1], i8[::1], i8[::1], f8[::1], i8[::1], i8[::1], f8[::1], "
          "f8[::1], f8, f4[:, :, ::1], i8, i8)")
def _gtm_kernel(src, g, rr0, rr1, rrf, cc0, cc1, ccf, wts, gamma, dst, r0, r1):  # pragma: no cover
    pn = g.shape[2]
    w = src.shape[1]
    for i in range(r0, r1):
        a0, a1, fa = rr0[i], rr1[i], rrf[i]
        for j in range(w):
            b0, b1, fb = cc0[j], cc1[j], ccf[j]
            r = src[i, j, 0]
            gg = src[i, j, 1]
            b = src[i, j, 2]
            mn = min(r, min(gg, b))
            mx = max(r, max(gg, b))
            tin = r * wts[0] + gg * wts[1] + b * wts[2] + mn * wts[3] + mx * wts[4]
            tin = min(max(tin, 0.0), 1.0)
            if gamma != 1.0:
                tin = tin ** gamma
            p = tin * pn
            k0 = min(max(int(math.floor(p)), 0), pn - 1)
            k1 = min(k0 + 1, pn - 1)
            f = min(max(p - k0, 0.0), 1.0)
            w00 = (1.0 - fa) * (1.0 - fb)
            w01 = (1.0 - fa) * fb
            w10 = fa * (1.0 - fb)
            w11 = fa * fb
            t0 = w00 * g[a0, b0, k0] + w01 * g[a0, b1, k0] + w10 * g[a1, b0, k0] + w11 * g[a1, b1, k0]
            t1 = w00 * g[a0, b0, k1] + w01 * g[a0, b1, k1] + w10 * g[a1, b0, k1] + w11 * g[a1, b1, k1]
            gain = t0 * (1.0 - f) + t1 * f
            dst[i, j, 0] = r * gain
            dst[i, j, 1] = gg * gain
            dst[i, j, 2] = b * gain


def _axis(pos: np.ndarray, origin: float, spacing: float, n: int):
    if n == 1 or spacing <= 0:
        z = np.zeros(pos.shape, np.int64)
        return z, z.copy(), np.zeros(pos.shape)
    u = np.clip((pos - origin) / spacing, 0.0, n - 1)
    i0 = np.ascontiguousarray(np.minimum(np.floor(u).astype(np.int64), n - 2))
    return i0, i0 + 1, np.ascontiguousarray(u - i0, np.float64)


def apply_gain_table_map(rgb: np.ndarray, m: GainTableMap, rows: np.ndarray, cols: np.ndarray,
                         ) -> np.ndarray:
    """Fast :func:`gain_table_reference` for float32 (H, W, 3) -> new float32 array."""
    src = np.ascontiguousarray(rgb, np.float32)
    pv, ph, _ = m.points
    ra = _axis(np.asarray(rows, np.float64).ravel(), m.origin_v, m.spacing_v, pv)
    ca = _axis(np.asarray(cols, np.float64).ravel(), m.origin_h, m.spacing_h, ph)
    out = np.empty_like(src)
    run_bands(_gtm_kernel, src.shape[0], src, np.ascontiguousarray(m.gains, np.float64), *ra, *ca,
              np.ascontiguousarray(m.weights, np.float64), float(m.gamma), out, min_rows=8)
    return out


def pixel_positions(m: GainTableMap, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Relative ActiveArea positions (pixel centres) of the rows and columns of an image of
    ``height x width``: the active area itself, its default crop (``m.frame``), or a resized
    copy of either (mapped proportionally)."""
    if m.frame is None:
        fh, fw, ct, cl, ch, cw = height, width, 0, 0, height, width
    else:
        fh, fw, ct, cl, ch, cw = m.frame
    if (height, width) == (fh, fw):
        top, left, sh, sw = 0.0, 0.0, float(fh), float(fw)
    else:  # the crop window, at its own size or resized
        top, left, sh, sw = float(ct), float(cl), float(ch), float(cw)
    rows = (top + (np.arange(height) + 0.5) * (sh / height)) / fh
    cols = (left + (np.arange(width) + 0.5) * (sw / width)) / fw
    return rows, cols


# ----------------------------------------------------------------------------- fitting


def fit_hue_sat_map(src: np.ndarray, dst: np.ndarray, hues: int = 36, sats: int = 8,
                    smooth: float = 0.5, min_sat: float = 0.02) -> HueSatMap:
    """A 2-D hue/sat map (``hues`` x ``sats`` x 1) that takes linear ProPhoto colours ``src``
    (N, 3; e.g. a matrix profile's output for chart patches) toward ``dst`` (N, 3; the patches'
    true colours), by regularised least squares: each table quantity (hue shift, saturation
    scale, value scale) is linear in the table entries through the bilinear weights of the
    patch's (h, s); ``smooth`` weighs differences between neighbouring entries (hue wraps) and
    a pull toward identity keeps entries no patch reaches at (0, 1, 1)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        from rawlux.core.errors import InvalidParameter

        raise InvalidParameter(f"fit_hue_sat_map needs two (N, 3) arrays, got {src.shape} and {dst.shape}")
    h, s, v = rgb_to_hsv_reference(np.maximum(src, 0))
    h2, s2, v2 = rgb_to_hsv_reference(np.maximum(dst, 0))
    ok = (v > 1e-6) & (v2 > 1e-6) & (s > min_sat)
    n = hues * sats
    rows, targets = [], [[], [], []]
    for k in np.flatnonzero(ok):
        hs = h[k] * hues / 6.0
        i0 = int(np.floor(hs)) % hues
        i1 = (i0 + 1) % hues
        fh = hs - np.floor(hs)
        ss = min(s[k], 1.0) * (sats - 1)
        j0 = min(int(ss), sats - 2)
        fs = ss - j0
        r = np.zeros(n)
        for hi, wh in ((i0, 1 - fh), (i1, fh)):
            for sj, ws in ((j0, 1 - fs), (j0 + 1, fs)):
                r[hi * sats + sj] += wh * ws
        rows.append(r)
        dh = (h2[k] - h[k] + 3.0) % 6.0 - 3.0
        targets[0].append(dh * 60.0)
        targets[1].append(s2[k] / s[k])
        targets[2].append(v2[k] / v[k])
    a = np.array(rows).reshape(-1, n)
    reg = []
    for i in range(hues):
        for j in range(sats):
            for di, dj in ((1, 0), (0, 1)):
                ii, jj = (i + di) % hues, j + dj
                if jj >= sats:
                    continue
                r = np.zeros(n)
                r[i * sats + j], r[ii * sats + jj] = smooth, -smooth
                reg.append(r)
    prior = np.eye(n) * (smooth * 0.1)
    big = np.vstack([a, np.array(reg), prior])
    out = np.empty((hues, sats, 3))
    for q, ident in enumerate((0.0, 1.0, 1.0)):
        rhs = np.concatenate([np.asarray(targets[q]) - ident, np.zeros(len(reg) + n)])
        sol = np.linalg.lstsq(big, rhs, rcond=None)[0] + ident
        out[..., q] = sol.reshape(hues, sats)
    out[:, 0, 2] = 1.0  # the spec: zero-saturation entries keep the value scale at 1
    out[..., 1:] = np.maximum(out[..., 1:], 0.0)
    return HueSatMap(np.ascontiguousarray(out[None], np.float32))
