"""DNG tags, opcode lists and the DNG writer.

* :func:`parse_opcode_list` / :func:`serialize_opcode_list` — DNG 1.6 opcode lists (big-endian per
  the spec) <-> :mod:`rawlux.core.image` opcode dataclasses (GainMap, WarpRectilinear,
  FixVignetteRadial; anything else is kept verbatim as :class:`UnknownOpcode`).
* :class:`DngTags` / :func:`read_dng_tags` — the raw IFD and IFD 0 of a DNG read with tifffile
  (header only, no pixels), with typed accessors that raise :class:`CorruptInput` naming the tag.
* :func:`calibration_from_tags` — ColorMatrix/ForwardMatrix/... -> :class:`ColorCalibration`.
* :func:`write_dng` — CFA or LinearRaw DNG 1.4 (uint16, uncompressed), written atomically.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from rawlux.core.errors import (  # noqa: F401 - InputWarning, warn_input re-exported
    CorruptInput,
    InputWarning,
    InvalidParameter,
    OutputError,
    UnsupportedInput,
    warn_input,
)
from rawlux.core.image import (
    CFA,
    ColorCalibration,
    Crop,
    FixVignetteRadial,
    GainMap,
    Metadata,
    NoiseProfile,
    Opcode,
    RawImage,
    UnknownOpcode,
    WarpRectilinear,
)

# ------------------------------------------------------------------------------------ tag codes

TAG = {
    "NewSubfileType": 254,
    "ImageWidth": 256,
    "ImageLength": 257,
    "BitsPerSample": 258,
    "Compression": 259,
    "PhotometricInterpretation": 262,
    "Make": 271,
    "Model": 272,
    "StripOffsets": 273,
    "Orientation": 274,
    "SamplesPerPixel": 277,
    "RowsPerStrip": 278,
    "StripByteCounts": 279,
    "PlanarConfiguration": 284,
    "Software": 305,
    "DateTime": 306,
    "SubIFDs": 330,
    "CFARepeatPatternDim": 33421,
    "CFAPattern": 33422,
    "ExifIFD": 34665,
    "GPSIFD": 34853,
    "TIFFEPStandardID": 37398,
    "DNGVersion": 50706,
    "DNGBackwardVersion": 50707,
    "UniqueCameraModel": 50708,
    "CFAPlaneColor": 50710,
    "CFALayout": 50711,
    "LinearizationTable": 50712,
    "BlackLevelRepeatDim": 50713,
    "BlackLevel": 50714,
    "BlackLevelDeltaH": 50715,
    "BlackLevelDeltaV": 50716,
    "WhiteLevel": 50717,
    "DefaultScale": 50718,
    "DefaultCropOrigin": 50719,
    "DefaultCropSize": 50720,
    "ColorMatrix1": 50721,
    "ColorMatrix2": 50722,
    "CameraCalibration1": 50723,
    "CameraCalibration2": 50724,
    "AnalogBalance": 50727,
    "AsShotNeutral": 50728,
    "AsShotWhiteXY": 50729,
    "BaselineExposure": 50730,
    "CalibrationIlluminant1": 50778,
    "CalibrationIlluminant2": 50779,
    "ActiveArea": 50829,
    "ForwardMatrix1": 50964,
    "ForwardMatrix2": 50965,
    "OpcodeList1": 51008,
    "OpcodeList2": 51009,
    "OpcodeList3": 51022,
    "NoiseProfile": 51041,
}
TAG_NAME = {v: k for k, v in TAG.items()}

PHOTOMETRIC_CFA = 32803
PHOTOMETRIC_LINEAR_RAW = 34892

#: EXIF LightSource codes (DNG CalibrationIlluminant values).
LIGHT_SOURCES = {
    0: "Unknown",
    1: "Daylight",
    2: "Fluorescent",
    3: "Tungsten",
    4: "Flash",
    9: "Fine weather",
    10: "Cloudy",
    11: "Shade",
    12: "Daylight fluorescent",
    13: "Day white fluorescent",
    14: "Cool white fluorescent",
    15: "White fluorescent",
    16: "Warm white fluorescent",
    17: "Standard light A",
    18: "Standard light B",
    19: "Standard light C",
    20: "D55",
    21: "D65",
    22: "D75",
    23: "D50",
    24: "ISO studio tungsten",
    255: "Other",
}


def illuminant_name(code: int) -> str:
    """``"D65 (21)"`` style label for an EXIF LightSource code."""
    return f"{LIGHT_SOURCES.get(int(code), 'Unknown')} ({int(code)})"


# -------------------------------------------------------------------------------------- opcodes

#: DNG 1.6 opcode ids -> names.
OPCODE_NAMES = {
    1: "WarpRectilinear",
    2: "WarpFisheye",
    3: "FixVignetteRadial",
    4: "FixBadPixelsConstant",
    5: "FixBadPixelsList",
    6: "TrimBounds",
    7: "MapTable",
    8: "MapPolynomial",
    9: "GainMap",
    10: "DeltaPerRow",
    11: "DeltaPerColumn",
    12: "ScalePerRow",
    13: "ScalePerColumn",
    14: "WarpRectilinear2",
}
OPCODE_IDS = {v: k for k, v in OPCODE_NAMES.items()}

_GAINMAP_HEAD = struct.Struct(">10I4dI")  # 76 bytes
_MAX_OPCODES = 100_000


def opcode_name(op: Opcode) -> str:
    """The DNG spec name of an opcode object."""
    if isinstance(op, UnknownOpcode):
        return op.name
    return OPCODE_NAMES.get(op.opcode_id, f"Opcode{op.opcode_id}")


def _finite(values: Iterable[float], what: str, path: Any) -> None:
    if not all(math.isfinite(v) for v in values):
        raise CorruptInput(f"{what} has non-finite parameters", path)


#: Sanity bounds of opcode parameters (beyond them the maths overflows or means nothing):
#: optical centres in relative image coordinates, polynomial coefficients, GainMap geometry.
OPCODE_CENTER_RANGE = (-0.5, 1.5)
OPCODE_COEF_MAX = 1e4
GAINMAP_GEOMETRY_MAX = 1e6
GAINMAP_GAIN_MAX = 1e4


def _check_center(cx: float, cy: float, what: str, path: Any) -> None:
    lo, hi = OPCODE_CENTER_RANGE
    if not (lo <= cx <= hi and lo <= cy <= hi):
        raise CorruptInput(f"{what} centre ({cx:g}, {cy:g}) is outside {lo:g}..{hi:g}", path)


def _check_coefs(values: Iterable[float], what: str, path: Any) -> None:
    big = max((abs(v) for v in values), default=0.0)
    if big > OPCODE_COEF_MAX:
        raise CorruptInput(f"{what} coefficient {big:g} is above {OPCODE_COEF_MAX:g}", path)


def check_opcode_values(op: Opcode, path: Any) -> None:
    """Raise :class:`CorruptInput` when a parsed opcode's numbers are beyond the sanity bounds
    (:data:`OPCODE_CENTER_RANGE`, :data:`OPCODE_COEF_MAX`, GainMap geometry and gains): applied,
    they would overflow or mean nothing. Used on opcodes read from files."""
    if isinstance(op, GainMap):
        vals = (op.spacing_v, op.spacing_h, op.origin_v, op.origin_h)
        if max(abs(float(v)) for v in vals) > GAINMAP_GEOMETRY_MAX:
            raise CorruptInput(
                f"GainMap spacing ({op.spacing_v:g}, {op.spacing_h:g}) / origin ({op.origin_v:g}, "
                f"{op.origin_h:g}) is above {GAINMAP_GEOMETRY_MAX:g}",
                path,
            )
        g = np.asarray(op.gains)
        if not np.all(np.isfinite(g)) or float(np.abs(g).max()) > GAINMAP_GAIN_MAX:
            raise CorruptInput(
                f"GainMap has non-finite gains or gains above {GAINMAP_GAIN_MAX:g}", path
            )
    elif isinstance(op, WarpRectilinear):
        _check_center(float(op.center[0]), float(op.center[1]), "WarpRectilinear", path)
        coef = np.asarray(op.coefficients, np.float64).ravel().tolist()
        _check_coefs(coef, "WarpRectilinear", path)
    elif isinstance(op, FixVignetteRadial):
        _check_center(float(op.center[0]), float(op.center[1]), "FixVignetteRadial", path)
        _check_coefs([float(k) for k in op.k], "FixVignetteRadial", path)


def _parse_gain_map(p: bytes, head: dict[str, Any], path: Any) -> GainMap:
    if len(p) < _GAINMAP_HEAD.size:
        raise CorruptInput(
            f"GainMap opcode is {len(p)} bytes, shorter than its 76-byte header", path
        )
    (top, left, bottom, right, plane, planes, rpitch, cpitch, nv, nh, sv, sh, ov, oh, mp) = (
        _GAINMAP_HEAD.unpack_from(p)
    )
    _finite((sv, sh, ov, oh), "GainMap", path)
    if bottom < top or right < left:
        raise CorruptInput(f"GainMap area ({top},{left},{bottom},{right}) is inverted", path)
    if planes < 1 or rpitch < 1 or cpitch < 1 or nv < 1 or nh < 1 or mp < 1:
        raise CorruptInput(
            f"GainMap has a zero count (planes={planes}, pitch={rpitch}x{cpitch}, map={nv}x{nh}x{mp})",
            path,
        )
    if (nv > 1 and sv <= 0) or (nh > 1 and sh <= 0):
        raise CorruptInput(f"GainMap map spacing ({sv}, {sh}) is not positive", path)
    n = nv * nh * mp
    if len(p) != _GAINMAP_HEAD.size + 4 * n:
        raise CorruptInput(
            f"GainMap of {nv}x{nh}x{mp} gains needs {_GAINMAP_HEAD.size + 4 * n} bytes, has {len(p)}",
            path,
        )
    gains = np.frombuffer(p, ">f4", n, _GAINMAP_HEAD.size).astype(np.float32).reshape(nv, nh, mp)
    return GainMap(
        top=top, left=left, bottom=bottom, right=right, plane=plane, planes=planes,
        row_pitch=rpitch, col_pitch=cpitch, spacing_v=sv, spacing_h=sh, origin_v=ov, origin_h=oh,
        gains=gains, **head,
    )  # fmt: skip


def _parse_warp(p: bytes, head: dict[str, Any], path: Any) -> WarpRectilinear:
    if len(p) < 4:
        raise CorruptInput("WarpRectilinear opcode is shorter than 4 bytes", path)
    (n,) = struct.unpack_from(">I", p)
    if not 1 <= n <= 4 or len(p) != 4 + 48 * n + 16:
        raise CorruptInput(f"WarpRectilinear with {n} planes does not fit its {len(p)} bytes", path)
    coef = np.frombuffer(p, ">f8", 6 * n, 4).astype(np.float64).reshape(n, 6)
    cx, cy = struct.unpack_from(">2d", p, 4 + 48 * n)
    _finite([*coef.ravel().tolist(), cx, cy], "WarpRectilinear", path)
    return WarpRectilinear(coefficients=coef, center=(cx, cy), **head)


def _parse_vignette(p: bytes, head: dict[str, Any], path: Any) -> FixVignetteRadial:
    if len(p) != 56:
        raise CorruptInput(f"FixVignetteRadial opcode is {len(p)} bytes, expected 56", path)
    v = struct.unpack(">7d", p)
    _finite(v, "FixVignetteRadial", path)
    return FixVignetteRadial(k=tuple(v[:5]), center=(v[5], v[6]), **head)  # type: ignore[arg-type]


def parse_opcode_list(
    data: bytes, path: str | os.PathLike[str] | None = None
) -> tuple[Opcode, ...]:
    """Parse a DNG OpcodeList1/2/3 tag value (big-endian bytes) into opcode objects.

    Raises :class:`CorruptInput` (and nothing else) on malformed data.
    """
    data = bytes(data)
    if len(data) < 4:
        raise CorruptInput(f"opcode list is {len(data)} bytes, shorter than its count", path)
    (count,) = struct.unpack_from(">I", data)
    if count > _MAX_OPCODES or 4 + 16 * count > len(data):
        raise CorruptInput(f"opcode list claims {count} opcodes in {len(data)} bytes", path)
    ops: list[Opcode] = []
    pos = 4
    for i in range(count):
        if pos + 16 > len(data):
            raise CorruptInput(f"opcode list truncated in opcode {i + 1} of {count}", path)
        oid, ver, flags, size = struct.unpack_from(">4I", data, pos)
        pos += 16
        if size > len(data) - pos:
            raise CorruptInput(
                f"opcode {i + 1} ({OPCODE_NAMES.get(oid, oid)}) claims {size} bytes", path
            )
        payload = data[pos : pos + size]
        pos += size
        head = {
            "opcode_id": oid,
            "version": ver,
            "optional": bool(flags & 1),
            "preview_only": bool(flags & 2),
        }
        if flags & ~3:
            # Unknown flag bits cannot be represented by the dataclasses: keep the opcode verbatim.
            ops.append(
                UnknownOpcode(name=OPCODE_NAMES.get(oid, f"Opcode{oid}"), payload=payload, **head)
            )
            ops[-1].__dict__["_flags"] = flags
            continue
        if oid == 9:
            ops.append(_parse_gain_map(payload, head, path))
        elif oid == 1:
            ops.append(_parse_warp(payload, head, path))
        elif oid == 3:
            ops.append(_parse_vignette(payload, head, path))
        else:
            ops.append(
                UnknownOpcode(name=OPCODE_NAMES.get(oid, f"Opcode{oid}"), payload=payload, **head)
            )
    if pos != len(data):
        raise CorruptInput(f"opcode list has {len(data) - pos} trailing bytes", path)
    return tuple(ops)


def _u32(v: Any, what: str) -> int:
    i = int(v)
    if not 0 <= i <= 0xFFFFFFFF:
        raise InvalidParameter(f"{what} = {i} does not fit an unsigned 32-bit DNG field")
    return i


def serialize_opcode(op: Opcode) -> bytes:
    """One opcode as DNG bytes (id, version, flags, size, parameters; big-endian)."""
    flags = op.__dict__.get("_flags", (1 if op.optional else 0) | (2 if op.preview_only else 0))
    if isinstance(op, GainMap):
        g = np.asarray(op.gains, np.float32)
        if g.ndim != 3 or 0 in g.shape:
            raise InvalidParameter(
                f"GainMap gains must have shape (rows, cols, planes), got {g.shape}"
            )
        nums = [
            op.top,
            op.left,
            op.bottom,
            op.right,
            op.plane,
            op.planes,
            op.row_pitch,
            op.col_pitch,
        ]
        head = _GAINMAP_HEAD.pack(
            *[_u32(v, "GainMap field") for v in nums], g.shape[0], g.shape[1],
            float(op.spacing_v), float(op.spacing_h), float(op.origin_v), float(op.origin_h), g.shape[2],
        )  # fmt: skip
        payload = head + g.astype(">f4").tobytes()
        oid = 9
    elif isinstance(op, WarpRectilinear):
        c = np.asarray(op.coefficients, np.float64).reshape(-1, 6)
        payload = (
            struct.pack(">I", c.shape[0])
            + c.astype(">f8").tobytes()
            + struct.pack(">2d", *op.center)
        )
        oid = 1
    elif isinstance(op, FixVignetteRadial):
        payload = struct.pack(">7d", *op.k, *op.center)
        oid = 3
    elif isinstance(op, UnknownOpcode):
        payload = bytes(op.payload)
        oid = op.opcode_id
    else:
        raise InvalidParameter(f"cannot serialise opcode {type(op).__name__}")
    return (
        struct.pack(
            ">4I", _u32(oid, "opcode id"), _u32(op.version, "opcode version"), flags, len(payload)
        )
        + payload
    )


def serialize_opcode_list(ops: Sequence[Opcode]) -> bytes:
    """Inverse of :func:`parse_opcode_list`."""
    return struct.pack(">I", len(ops)) + b"".join(serialize_opcode(op) for op in ops)


# ---------------------------------------------------------------------------------- tag reading


def _tag_numbers(tag: Any) -> list[float]:
    """Numeric values of a tifffile TiffTag; RATIONAL/SRATIONAL pairs divided (den 0 -> nan)."""
    v = tag.value
    if isinstance(v, (bytes, bytearray)):
        return [float(b) for b in v]
    if isinstance(v, np.ndarray):
        vals = v.ravel().tolist()
    elif isinstance(v, (tuple, list)):
        vals = list(v)
    else:
        vals = [v]
    if int(tag.dtype) in (5, 10):  # RATIONAL, SRATIONAL come as flat (num, den, ...) tuples
        if len(vals) % 2:
            vals = vals[:-1]
        # dng_sdk convention: a zero denominator reads as 0 (some writers store 0/0 for "none")
        return [n / d if d else 0.0 for n, d in zip(vals[0::2], vals[1::2])]
    out = []
    for x in vals:
        try:
            out.append(float(x))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


@dataclass
class DngTags:
    """Tags of a DNG: the main raw IFD (NewSubfileType 0) and IFD 0, read without pixels.

    Lookups search the raw IFD first, then IFD 0 (DNG puts colour tags in IFD 0 and
    level/crop/opcode tags in the raw IFD, but writers vary).
    """

    path: str
    raw: dict[int, Any]
    ifd0: dict[int, Any]
    exif: dict[str, Any] = field(default_factory=dict)

    def has(self, code: int) -> bool:
        return code in self.raw or code in self.ifd0

    def tag(self, code: int) -> Any | None:
        return self.raw.get(code) or self.ifd0.get(code)

    def floats(self, code: int, n: int | None = None, *, finite: bool = True) -> np.ndarray | None:
        """float64 values of a numeric tag (None if absent); ``n`` checks the count."""
        t = self.tag(code)
        if t is None:
            return None
        vals = np.asarray(_tag_numbers(t), np.float64)
        name = TAG_NAME.get(code, str(code))
        if n is not None and vals.size != n:
            raise CorruptInput(f"{name} has {vals.size} values, expected {n}", self.path)
        if finite and not np.all(np.isfinite(vals)):
            raise CorruptInput(f"{name} has a zero denominator or non-finite value", self.path)
        return vals

    def scalar(self, code: int, default: float | None = None) -> float | None:
        v = self.floats(code)
        if v is None or v.size == 0:
            return default
        return float(v[0])

    def orientation(self) -> int:
        """EXIF Orientation of IFD 0 (1..8); anything else is ignored with a warning -> 1."""
        t = self.ifd0.get(TAG["Orientation"])
        if t is None:
            return 1
        v = _tag_numbers(t)
        o = int(v[0]) if v and math.isfinite(v[0]) else 0
        if not 1 <= o <= 8:
            shown = f"{v[0]:g}" if v else "?"
            warn_input(self.path, f"Orientation {shown} is outside 1..8; ignored")
            return 1
        return o

    def baseline_exposure(self) -> float:
        """BaselineExposure in EV (0 when absent). A value outside
        :data:`BASELINE_EXPOSURE_RANGE` is garbage, not a strong setting (cameras write -2..+4):
        it is ignored (0 EV) with a warning, as darktable does, rather than clamped to a
        washed-out +10 EV."""
        v = self.scalar(TAG["BaselineExposure"], 0.0) or 0.0
        lo, hi = BASELINE_EXPOSURE_RANGE
        if not lo <= v <= hi:
            warn_input(self.path, f"BaselineExposure {v:g} EV is outside {lo:g}..{hi:g}; ignored")
            v = 0.0
        return float(v)

    def string(self, code: int) -> str | None:
        t = self.tag(code)
        if t is None:
            return None
        v = t.value
        if isinstance(v, bytes):
            v = v.decode("latin-1")
        s = str(v).strip("\x00 ").strip()
        return s or None

    def raw_bytes(self, code: int) -> bytes | None:
        t = self.tag(code)
        if t is None:
            return None
        v = t.value
        if isinstance(v, (bytes, bytearray)):
            return bytes(v)
        if isinstance(v, np.ndarray):
            return v.tobytes()
        if isinstance(v, (tuple, list)):
            return bytes(int(x) & 0xFF for x in v)
        return None

    def matrix(self, code: int) -> np.ndarray | None:
        """A 3x3 matrix tag (ColorMatrix, ForwardMatrix, CameraCalibration) checked for sanity."""
        v = self.floats(code)
        if v is None:
            return None
        name = TAG_NAME.get(code, str(code))
        if v.size == 12 or v.size == 16:
            raise UnsupportedInput(
                f"{name} is for a 4-colour camera ({v.size} values); only RGB is supported",
                self.path,
            )
        if v.size != 9:
            raise CorruptInput(f"{name} has {v.size} values, expected 9", self.path)
        m = v.reshape(3, 3)
        big = float(np.abs(m).max()) if np.all(np.isfinite(m)) else 0.0
        if big > MATRIX_ENTRY_MAX or 0 < big < 1 / MATRIX_ENTRY_MAX:
            raise CorruptInput(
                f"{name} has a largest entry of {big:g}, "
                f"outside {1 / MATRIX_ENTRY_MAX:g}..{MATRIX_ENTRY_MAX:g}",
                self.path,
            )
        check_matrix(m, name, self.path)
        return m


def check_matrix(m: np.ndarray, name: str, path: Any) -> None:
    """Raise :class:`CorruptInput` when a 3x3 colour matrix is non-finite, zero or singular."""
    if not np.all(np.isfinite(m)):
        raise CorruptInput(f"{name} has non-finite entries", path)
    if not np.any(m):
        raise CorruptInput(f"{name} is all zeros", path)
    scale = float(np.abs(m).max())
    if abs(float(np.linalg.det(m / scale))) < 1e-9:
        raise CorruptInput(f"{name} is singular (determinant ~0)", path)


@dataclass(frozen=True)
class _Tag:
    """A tag value materialised while the file is open (tifffile reads values lazily)."""

    code: int
    dtype: int
    value: Any
    count: int = 1


def _ifd_tags(page: Any) -> dict[int, Any]:
    out = {}
    for t in page.tags.values():
        if t.code not in TAG_NAME:  # skip big tags nobody reads (ProfileGainTableMap, ...)
            continue
        try:
            out[t.code] = _Tag(int(t.code), int(t.dtype), t.value, int(t.count))
        except Exception:  # noqa: BLE001 - an unreadable tag we may not even need
            continue
    return out


# ------------------------------------------------------------------------- tag type/count spec

_TYPE_NAMES = {1: "BYTE", 2: "ASCII", 3: "SHORT", 4: "LONG", 5: "RATIONAL", 6: "SBYTE",
               7: "UNDEFINED", 8: "SSHORT", 9: "SLONG", 10: "SRATIONAL", 11: "FLOAT",
               12: "DOUBLE", 13: "IFD", 16: "LONG8", 17: "SLONG8", 18: "IFD8"}  # fmt: skip
_INT = frozenset({1, 3, 4, 6, 8, 9, 13, 16, 17, 18})
_NUM = _INT | {5, 10, 11, 12}
_BYTES = frozenset({1, 6, 7})
_INT_OR_UNDEF = _INT | {7}  # BYTE tags some writers store as UNDEFINED (CFAPattern, ...)
_KIND_TEXT = {_INT: "an integer type (BYTE/SHORT/LONG)", _NUM: "a numeric type",
              _BYTES: "BYTE or UNDEFINED", _INT_OR_UNDEF: "an integer type or UNDEFINED"}  # fmt: skip

#: What each tag rawlux reads may be: (allowed TIFF types, (min count, max count), soft).
#: A "hard" tag that breaks its spec makes the file unreadable (CorruptInput naming the tag);
#: a "soft" one (cosmetic, or with a safe default) is dropped with an :class:`InputWarning`.
#: Numeric tags accept any numeric type (as dng_sdk does); integer tags need an integer type.
TAG_SPEC: dict[int, tuple[frozenset[int], tuple[int, int], bool]] = {
    254: (_INT, (1, 1), False),  # NewSubfileType
    256: (_INT, (1, 1), False),  # ImageWidth
    257: (_INT, (1, 1), False),  # ImageLength
    258: (_INT, (1, 4), False),  # BitsPerSample
    259: (_INT, (1, 1), False),  # Compression
    262: (_INT, (1, 1), False),  # PhotometricInterpretation
    273: (_INT, (1, 2**24), False),  # StripOffsets
    274: (_INT, (1, 1), True),  # Orientation
    277: (_INT, (1, 1), False),  # SamplesPerPixel
    278: (_INT, (1, 1), False),  # RowsPerStrip
    279: (_INT, (1, 2**24), False),  # StripByteCounts
    284: (_INT, (1, 1), False),  # PlanarConfiguration
    33421: (_INT, (2, 2), False),  # CFARepeatPatternDim
    33422: (_INT_OR_UNDEF, (1, 256), False),  # CFAPattern
    50706: (_BYTES, (4, 4), False),  # DNGVersion
    50710: (_INT_OR_UNDEF, (1, 4), False),  # CFAPlaneColor
    50711: (_INT, (1, 1), True),  # CFALayout
    50712: (_INT, (1, 65536), False),  # LinearizationTable
    50713: (_INT, (2, 2), False),  # BlackLevelRepeatDim
    50714: (_NUM, (1, 1024), False),  # BlackLevel
    50715: (_NUM, (1, 2**20), True),  # BlackLevelDeltaH
    50716: (_NUM, (1, 2**20), True),  # BlackLevelDeltaV
    50717: (_NUM, (1, 4), False),  # WhiteLevel
    50718: (_NUM, (2, 2), True),  # DefaultScale
    50719: (_NUM, (2, 2), True),  # DefaultCropOrigin
    50720: (_NUM, (2, 2), True),  # DefaultCropSize
    50721: (_NUM, (9, 16), False),  # ColorMatrix1
    50722: (_NUM, (9, 16), True),  # ColorMatrix2
    50723: (_NUM, (9, 16), True),  # CameraCalibration1
    50724: (_NUM, (9, 16), True),  # CameraCalibration2
    50727: (_NUM, (3, 4), True),  # AnalogBalance
    50728: (_NUM, (3, 4), False),  # AsShotNeutral
    50729: (_NUM, (2, 2), True),  # AsShotWhiteXY
    50730: (_NUM, (1, 1), True),  # BaselineExposure
    50778: (_INT, (1, 1), True),  # CalibrationIlluminant1
    50779: (_INT, (1, 1), True),  # CalibrationIlluminant2
    50829: (_INT, (4, 4), False),  # ActiveArea
    50964: (_NUM, (9, 12), True),  # ForwardMatrix1
    50965: (_NUM, (9, 12), True),  # ForwardMatrix2
    51008: (_BYTES, (4, 2**28), False),  # OpcodeList1
    51009: (_BYTES, (4, 2**28), False),  # OpcodeList2
    51022: (_BYTES, (4, 2**28), False),  # OpcodeList3
    51041: (_NUM, (2, 8), True),  # NoiseProfile
}

#: BaselineExposure beyond this (EV) is ignored with a warning.
BASELINE_EXPOSURE_RANGE = (-10.0, 10.0)  # EV
#: Sanity bounds of colour tags (beyond them the colour maths overflows): the largest entry of a
#: matrix (1e-4..1e4), AsShotNeutral / AnalogBalance entries.
MATRIX_ENTRY_MAX = 1e4
BALANCE_RANGE = (1e-4, 1e4)


#: Plausible ranges of the EXIF numbers rawlux carries to the output (seconds, f-number, ISO, mm);
#: a value outside is dropped with a warning (writers turn e.g. a 1e-310 s exposure into inf).
#: EXIF names of the numeric Metadata fields, for messages; their ranges are
#: :data:`rawlux.core.plausible.LIMITS` (one table for readers, the writer and frames).
METADATA_TAG_NAMES = {
    "exposure_time": "ExposureTime",
    "f_number": "FNumber",
    "iso": "ISO",
    "focal_length": "FocalLength",
    "focal_length_35mm": "FocalLengthIn35mmFilm",
}


def sanitize_metadata(md: Metadata, path: Any) -> Metadata:
    """``md`` without absurd or non-finite EXIF numbers (outside
    :data:`rawlux.core.plausible.LIMITS`), each dropped with an :class:`InputWarning`. Zero is
    a camera's "unknown", dropped silently (:func:`rawlux.core.plausible.clean_metadata`)."""
    from dataclasses import replace

    from rawlux.core.plausible import LIMITS

    changes: dict[str, Any] = {}
    for fld, name in METADATA_TAG_NAMES.items():
        v = getattr(md, fld, None)
        if v is None:
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = math.nan
        lo, hi = LIMITS[fld]
        if not (math.isfinite(x) and lo <= x <= hi):
            if x != 0.0:
                warn_input(path, f"{name} {x:g} is outside {lo:g}..{hi:g}; ignored")
            changes[fld] = None
    return replace(md, **changes) if changes else md


def validate_tags(tags: dict[int, Any], path: Any, where: str = "") -> dict[int, Any]:
    """``tags`` checked against :data:`TAG_SPEC` (type, count; numeric values finite).

    Returns the dict without the soft tags that failed (each dropped with a warning); a hard tag
    that fails raises :class:`CorruptInput` naming it, its type and its count.
    """
    out = dict(tags)
    for code, t in tags.items():
        spec = TAG_SPEC.get(code)
        if spec is None:
            continue
        types, (lo, hi), soft = spec
        name = TAG_NAME.get(code, str(code))
        problem = None
        if int(t.dtype) not in types:
            tn = _TYPE_NAMES.get(int(t.dtype), f"type {int(t.dtype)}")
            problem = f"{name} has type {tn}, expected {_KIND_TEXT.get(types, 'another type')}"
        else:
            n = _value_count(t)
            if not lo <= n <= hi:
                want = str(lo) if lo == hi else f"{lo}..{hi}"
                problem = f"{name} has {n} values, expected {want}"
            elif types is not _BYTES:
                vals = _tag_numbers(t)
                if not all(math.isfinite(v) for v in vals):
                    problem = f"{name} has a non-finite value"
        if problem is None:
            continue
        if soft:
            warn_input(path, f"{problem}{where}; ignored")
            del out[code]
        else:
            raise CorruptInput(problem + where, path)
    return out


def _value_count(t: Any) -> int:
    """Number of values of a tag as stored in the file (RATIONALs count once per pair)."""
    return int(getattr(t, "count", 1))


def _int_value(tags: dict[int, Any], code: int, default: int) -> int:
    """First value of a validated integer tag as int (``default`` when absent)."""
    t = tags.get(code)
    if t is None:
        return default
    v = _tag_numbers(t)
    return int(v[0]) if v else default


class quiet_tifffile:
    """Context manager muting a library's logger (default tifffile's: it logs every damaged tag
    of hostile files; Pillow's TIFF reader logs "More samples per pixel..." the same way)."""

    def __init__(self, *names: str) -> None:
        self._names = names or ("tifffile",)  # logger names (``disabled`` is not inherited)

    def __enter__(self) -> "quiet_tifffile":
        import logging

        self._logs = [logging.getLogger(n) for n in self._names]
        self._old = [log.disabled for log in self._logs]
        for log in self._logs:
            log.disabled = True
        return self

    def __exit__(self, *exc: Any) -> None:
        for log, old in zip(self._logs, self._old):
            log.disabled = old


def _extent(page: Any) -> tuple[int | None, int | None]:
    """(first byte, end byte) of a page's strips/tiles, (None, None) when it has none."""
    offs = [int(o) for o, c in zip(page.dataoffsets or (), page.databytecounts or ()) if int(c) > 0]
    ends = [
        int(o) + int(c)
        for o, c in zip(page.dataoffsets or (), page.databytecounts or ())
        if int(c) > 0
    ]
    return (min(offs), max(ends)) if offs else (None, None)


def check_extents(page: Any, file_size: int, path: Any) -> None:
    """Raise :class:`CorruptInput` when a page's strips/tiles reach past the end of the file."""
    offs = page.dataoffsets or ()
    counts = page.databytecounts or ()
    end = max((int(o) + int(c) for o, c in zip(offs, counts)), default=0)
    if end > file_size:
        raise CorruptInput(
            f"truncated: image data ends at byte {end}, file has {file_size} bytes", path
        )


_STRUCTURE_TAGS = frozenset({254, 256, 257, 258, 259, 262, 277, 278, 284})


def probe_tiff(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Structure of a TIFF-based file without reading pixels: ``is_dng``, ``grey`` (page 0 is a
    single-channel unsigned image), ``width``/``height`` of page 0. Raises :class:`CorruptInput`
    when the structure is unreadable or truncated."""
    import tifffile

    p = str(path)
    size = os.path.getsize(p)
    try:
        with quiet_tifffile(), tifffile.TiffFile(p) as tf:
            if not tf.pages:
                raise CorruptInput(
                    "TIFF structure has no readable image directory (truncated or damaged)", p
                )
            pg = tf.pages[0]
            validate_tags({c: t for c, t in _ifd_tags(pg).items() if c in _STRUCTURE_TAGS}, p)
            pages = [pg]
            try:
                pages += list(pg.pages or [])
            except Exception:  # noqa: BLE001
                pass
            extents = [_extent(q) for q in pages]
            starts = [a for a, _ in extents if a is not None]
            ends = [b for _, b in extents if b is not None]
            metadata_only = bool(starts) and min(starts) == size  # image data stripped off the end
            if ends and max(ends) > size and not metadata_only:
                raise CorruptInput(
                    f"truncated: image data ends at byte {max(ends)}, file has {size} bytes", p
                )
            return {
                "metadata_only": metadata_only,
                "has_make": 271 in pg.tags,
                "is_dng": TAG["DNGVersion"] in pg.tags,
                "grey": int(pg.samplesperpixel) == 1
                and pg.dtype is not None
                and pg.dtype.kind == "u",
                "width": int(pg.imagewidth),
                "height": int(pg.imagelength),
            }
    except CorruptInput:
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises many types on hostile data
        raise CorruptInput(f"unreadable TIFF structure ({type(e).__name__}: {e})", p) from None


def _contiguous_extent(page: Any) -> tuple[int, int] | None:
    """(offset, bytecount) of an uncompressed, contiguous, tile-free pixel block, else None."""
    try:
        if not page.is_contiguous or int(page.compression) != 1 or page.is_tiled or int(page.fillorder) != 1:
            return None
        offsets, counts = page.dataoffsets, page.databytecounts
        if not offsets:
            return None
        return int(offsets[0]), int(sum(int(c) for c in counts))
    except Exception:  # noqa: BLE001 - odd pages simply take the LibRaw path
        return None


def _is_int_tag(t: Any) -> bool:
    return t is not None and int(t.dtype) in _INT and int(getattr(t, "count", 1)) >= 1


def _raw_info(page: Any, tags: dict[int, Any], path: Any) -> dict[str, Any]:
    """Width, height, samples, photometric, compression and bits of the raw IFD, each checked
    for a sane range (CorruptInput / UnsupportedInput naming the tag)."""
    for code in (256, 257):
        if code not in tags:
            raise CorruptInput(f"raw image directory has no {TAG_NAME[code]}", path)
    width, height = _int_value(tags, 256, 0), _int_value(tags, 257, 0)
    if width < 1 or height < 1:
        raise CorruptInput(f"ImageWidth {width} x ImageLength {height}: the image is empty", path)
    samples = _int_value(tags, 277, 1)
    if not 1 <= samples <= 4:
        raise CorruptInput(f"SamplesPerPixel {samples} is outside 1..4", path)
    bits_all = [int(v) for v in _tag_numbers(tags[258])] if 258 in tags else [16]
    bits = max(bits_all)
    if min(bits_all) < 1 or bits > 32:
        bad = bits if bits > 32 else min(bits_all)
        raise CorruptInput(f"BitsPerSample {bad} is outside 1..32", path)
    if bits > 16:
        raise UnsupportedInput(
            f"BitsPerSample {bits}: only raw samples of up to 16 bits are supported", path
        )
    return {
        "width": width,
        "height": height,
        "samples": samples,
        "photometric": _int_value(tags, 262, -1),
        "compression": _int_value(tags, 259, 1),
        "bits": bits,
    }


def check_raw_ifd(info: dict[str, Any], path: Any) -> None:
    """Header claims against the file and the memory budget, before any pixel is allocated:
    the safety dimension limits, the image data the file holds (unless the file is a
    metadata-only DNG, whose pixels read as zeros) and :func:`rawlux.io.safety.check_memory`."""
    from rawlux.io.safety import check_data_holds, check_dimensions, check_memory

    w, h = info["width"], info["height"]
    check_dimensions(w, h, path, "DNG raw image")
    if not info.get("metadata_only"):
        check_data_holds(w, h, info["samples"], info["bits"], info["compression"],
                         int(info.get("stored", 0)), path)  # fmt: skip
    check_memory(w, h, path, "DNG raw image")


def check_decoded_size(width: int, height: int, info: dict[str, Any], path: Any, who: str) -> None:
    """Raise :class:`CorruptInput` when a decoder (LibRaw, tifffile) is about to produce an image
    larger than the validated header (duplicated or damaged tags read differently by each
    parser: the checks of :func:`check_raw_ifd` must hold for what is really decoded)."""
    w, h = int(width), int(height)
    if w > info["width"] or h > info["height"]:
        raise CorruptInput(
            f"{who} reads the raw image as {w}x{h} px but ImageWidth x ImageLength is "
            f"{info['width']}x{info['height']} (conflicting or duplicated tags)",
            path,
        )


def read_dng_tags(path: str | os.PathLike[str]) -> tuple[DngTags, Any]:
    """Open ``path`` with tifffile and return its :class:`DngTags` and the raw page (no pixels read).

    Raises :class:`CorruptInput` when the TIFF structure is unreadable and
    :class:`UnsupportedInput` when the file is a TIFF but not a DNG.
    """
    import tifffile

    p = str(path)
    try:
        with quiet_tifffile(), tifffile.TiffFile(p) as tf:
            if not tf.pages:
                raise CorruptInput("TIFF has no image directories", p)
            page0 = tf.pages[0]
            ifd0 = _ifd_tags(page0)
            if TAG["DNGVersion"] not in ifd0:
                raise UnsupportedInput("TIFF without DNGVersion tag (not a DNG)", p)
            candidates = [page0]
            try:
                candidates += list(page0.pages or [])  # SubIFDs
            except Exception:  # noqa: BLE001 - broken SubIFD pointers
                pass
            raw_page = None
            for pg in candidates:
                tags = _ifd_tags(pg)
                sub = _int_value(tags, 254, 0) if _is_int_tag(tags.get(254)) else -1
                phot = _int_value(tags, 262, -1) if _is_int_tag(tags.get(262)) else -1
                if sub == 0 and phot in (PHOTOMETRIC_CFA, PHOTOMETRIC_LINEAR_RAW):
                    raw_page = pg
                    break
            if raw_page is None:
                raise UnsupportedInput("DNG has no CFA or LinearRaw image directory", p)
            where = "" if raw_page is page0 else " (raw SubIFD)"
            rawtags = validate_tags(_ifd_tags(raw_page), p, where)
            ifd0 = rawtags if raw_page is page0 else validate_tags(ifd0, p, " (IFD 0)")
            size = os.path.getsize(p)
            first, _ = _extent(raw_page)
            metadata_only = first is not None and first >= size
            if not metadata_only:  # a metadata-only file (data stripped) reads as zeros
                check_extents(raw_page, size, p)
            exif: dict[str, Any] = {}
            info = _raw_info(raw_page, rawtags, p)
            info["contiguous"] = _contiguous_extent(raw_page)
            info["byteorder"] = tf.byteorder
            info["metadata_only"] = metadata_only
            info["stored"] = sum(int(c) for c in (raw_page.databytecounts or ()))
            info["tile_width"] = int(raw_page.tilewidth) if raw_page.is_tiled else 0
            return DngTags(p, rawtags, ifd0, exif), info
    except (CorruptInput, UnsupportedInput):
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises many types on hostile data
        raise CorruptInput(f"unreadable TIFF/DNG structure ({type(e).__name__}: {e})", p) from None


def _check_balance(v: np.ndarray, name: str, path: Any) -> None:
    lo, hi = BALANCE_RANGE
    if np.any(v < lo) or np.any(v > hi):
        shown = [float(f"{x:.4g}") for x in v]
        raise CorruptInput(f"{name} {shown} is outside {lo:g}..{hi:g}", path)


def calibration_from_tags(tags: DngTags) -> ColorCalibration:
    """DNG colour tags -> :class:`ColorCalibration` (matrices validated, neutral checked > 0)."""
    path = tags.path
    cm1 = tags.matrix(TAG["ColorMatrix1"])
    if cm1 is None:
        raise CorruptInput("DNG has no ColorMatrix1 (required by the DNG spec for raw data)", path)
    neutral = tags.floats(TAG["AsShotNeutral"])
    if neutral is not None:
        if neutral.size != 3:
            raise UnsupportedInput(
                f"AsShotNeutral has {neutral.size} values; only RGB cameras are supported", path
            )
        if np.any(neutral <= 0):
            raise CorruptInput(
                f"AsShotNeutral {neutral.tolist()} has a zero or negative entry", path
            )
        _check_balance(neutral, "AsShotNeutral", path)
    white_xy = tags.floats(TAG["AsShotWhiteXY"])
    if white_xy is not None:
        if white_xy.size != 2 or np.any(white_xy <= 0) or white_xy.sum() >= 1:
            raise CorruptInput(
                f"AsShotWhiteXY {white_xy.tolist()} is not a valid chromaticity", path
            )
    ab = tags.floats(TAG["AnalogBalance"])
    if ab is not None and (ab.size != 3 or np.any(ab <= 0)):
        raise CorruptInput(f"AnalogBalance {ab.tolist()} is not three positive values", path)
    if ab is not None:
        _check_balance(ab, "AnalogBalance", path)
    return ColorCalibration(
        color_matrix1=cm1,
        color_matrix2=tags.matrix(TAG["ColorMatrix2"]),
        forward_matrix1=tags.matrix(TAG["ForwardMatrix1"]),
        forward_matrix2=tags.matrix(TAG["ForwardMatrix2"]),
        camera_calibration1=tags.matrix(TAG["CameraCalibration1"]),
        camera_calibration2=tags.matrix(TAG["CameraCalibration2"]),
        illuminant1=int(tags.scalar(TAG["CalibrationIlluminant1"], 0) or 0),
        illuminant2=int(tags.scalar(TAG["CalibrationIlluminant2"], 0) or 0),
        analog_balance=ab,
        as_shot_neutral=neutral,
        as_shot_white_xy=white_xy,
        source="dng",
    )


def noise_profile_from_tags(tags: DngTags) -> NoiseProfile | None:
    """NoiseProfile tag -> :class:`NoiseProfile` (None when absent)."""
    v = tags.floats(TAG["NoiseProfile"])
    if v is None:
        return None
    if v.size < 2 or v.size % 2:
        raise CorruptInput(f"NoiseProfile has {v.size} values, expected pairs", tags.path)
    pairs = v.reshape(-1, 2)
    if np.any(pairs[:, 0] <= 0) or np.any(pairs[:, 1] < 0):
        raise CorruptInput(
            f"NoiseProfile {v.tolist()} has non-positive scale or negative offset", tags.path
        )
    return NoiseProfile(pairs=pairs)


def opcodes_from_tags(tags: DngTags, n: int) -> tuple[Opcode, ...]:
    """OpcodeList``n`` (1, 2 or 3) parsed, or ``()``."""
    b = tags.raw_bytes(TAG[f"OpcodeList{n}"])
    if not b:
        return ()
    try:
        ops = parse_opcode_list(b, tags.path)
        for op in ops:
            check_opcode_values(op, tags.path)
        return ops
    except CorruptInput as e:
        raise CorruptInput(f"OpcodeList{n}: {e.reason}", tags.path) from None


def black_from_tags(
    tags: DngTags, origin: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray | None:
    """BlackLevel (+RepeatDim, + mean of BlackLevelDeltaH/V) tiled to ``shape`` as seen from ``origin``.

    ``origin`` is the (row, col) of the returned data relative to the ActiveArea top-left, where
    the DNG black pattern starts. Returns float64 of ``shape`` (or (samples,) when shape is (0, n)).
    """
    bl = tags.floats(TAG["BlackLevel"])
    if bl is None:
        return None
    rep = tags.floats(TAG["BlackLevelRepeatDim"])
    rr, rc = (1, 1) if rep is None or rep.size != 2 else (int(rep[0]), int(rep[1]))
    if rr < 1 or rc < 1 or rr > 16 or rc > 16:
        raise CorruptInput(f"BlackLevelRepeatDim ({rr}, {rc}) is out of range", tags.path)
    samples = bl.size // (rr * rc) if bl.size >= rr * rc else 0
    if samples < 1 or bl.size != rr * rc * samples:
        raise CorruptInput(f"BlackLevel has {bl.size} values for repeat dim {rr}x{rc}", tags.path)
    pat = bl.reshape(rr, rc, samples)
    extra = 0.0
    for code in (TAG["BlackLevelDeltaH"], TAG["BlackLevelDeltaV"]):
        d = tags.floats(code)
        if d is not None and d.size:
            extra += float(np.mean(d))
    if shape[0] == 0:  # linear: per-sample
        if samples not in (1, shape[1]):
            raise CorruptInput(
                f"BlackLevel has {samples} values per site for a {shape[1]}-sample image", tags.path
            )
        return pat.mean(axis=(0, 1)) + extra
    h, w = shape
    rows = (np.arange(h) + origin[0]) % rr
    cols = (np.arange(w) + origin[1]) % rc
    return pat[rows][:, cols, 0] + extra


def crop_from_tags(
    tags: DngTags, height: int, width: int, origin: tuple[int, int] = (0, 0)
) -> Crop | None:
    """DefaultCropOrigin/Size (relative to the active area) -> :class:`Crop` in the coordinates of
    data whose top-left is ``origin`` (row, col) inside the active area; clamped to the data."""
    o = tags.floats(TAG["DefaultCropOrigin"])
    s = tags.floats(TAG["DefaultCropSize"])
    if s is None:
        return None
    if s.size != 2 or (o is not None and o.size != 2):
        raise CorruptInput("DefaultCropOrigin/Size must have 2 values each", tags.path)
    left, top = (0.0, 0.0) if o is None else (float(o[0]), float(o[1]))
    cw, ch = float(s[0]), float(s[1])
    if left < 0 or top < 0 or cw < 1 or ch < 1 or max(left, top, cw, ch) > 1e9:
        warn_input(
            tags.path,
            f"DefaultCrop origin ({left:g}, {top:g}) size ({cw:g}, {ch:g}) is invalid; ignored",
        )
        return None
    ct, cl = max(int(round(top)) - origin[0], 0), max(int(round(left)) - origin[1], 0)
    hh, ww = int(round(ch)), int(round(cw))
    ct, cl = min(ct, height - 1), min(cl, width - 1)
    hh, ww = min(hh, height - ct), min(ww, width - cl)
    return Crop(top=ct, left=cl, height=hh, width=ww)


# ---------------------------------------------------------------------------------- TIFF writer

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _UNDEF, _SRATIONAL, _DOUBLE = 1, 2, 3, 4, 5, 7, 10, 12
_TYPE_SIZE = {
    _BYTE: 1,
    _ASCII: 1,
    _SHORT: 2,
    _LONG: 4,
    _RATIONAL: 8,
    _UNDEF: 1,
    _SRATIONAL: 8,
    _DOUBLE: 8,
}


def _frac(x: float, signed: bool) -> tuple[int, int]:
    """A rational (num, den) close to ``x`` with both parts inside 32-bit limits."""
    x = float(x)
    if not math.isfinite(x):
        raise InvalidParameter(f"cannot write non-finite value {x} as a DNG rational")
    lim = 2**31 - 1 if signed else 2**32 - 1
    if abs(x) >= lim:
        raise InvalidParameter(f"value {x} is too large for a DNG rational")
    if not signed and x < 0:
        raise InvalidParameter(f"value {x} must be >= 0 for an unsigned DNG rational")
    max_den = min(lim, int(lim / max(abs(x), 1.0)))
    f = Fraction(x).limit_denominator(max_den)
    return f.numerator, f.denominator


@dataclass
class _Entry:
    tag: int
    typ: int
    count: int
    payload: bytes


class _IFD:
    """A little-endian TIFF IFD under construction."""

    def __init__(self) -> None:
        self.entries: dict[int, _Entry] = {}

    def add(self, tag: int, typ: int, values: Any) -> None:
        if typ == _ASCII:
            b = str(values).encode("ascii", "replace") + b"\x00"
            self.entries[tag] = _Entry(tag, typ, len(b), b)
            return
        if typ in (_BYTE, _UNDEF) and isinstance(values, (bytes, bytearray)):
            self.entries[tag] = _Entry(tag, typ, len(values), bytes(values))
            return
        vals = list(
            np.atleast_1d(
                np.asarray(
                    values, np.float64 if typ in (_RATIONAL, _SRATIONAL, _DOUBLE) else np.int64
                )
            ).ravel()
        )
        if typ in (_BYTE, _UNDEF):
            b = bytes(int(v) for v in vals)
        elif typ == _SHORT:
            b = struct.pack(f"<{len(vals)}H", *[int(v) for v in vals])
        elif typ == _LONG:
            b = struct.pack(f"<{len(vals)}I", *[int(v) for v in vals])
        elif typ == _DOUBLE:
            b = struct.pack(f"<{len(vals)}d", *[float(v) for v in vals])
        elif typ in (_RATIONAL, _SRATIONAL):
            fmt = "<ii" if typ == _SRATIONAL else "<II"
            b = b"".join(struct.pack(fmt, *_frac(v, typ == _SRATIONAL)) for v in vals)
        else:  # pragma: no cover - programming error
            raise ValueError(typ)
        self.entries[tag] = _Entry(tag, typ, len(vals), b)

    def size(self) -> int:
        n = len(self.entries)
        extra = sum(_pad(len(e.payload)) for e in self.entries.values() if len(e.payload) > 4)
        return 2 + 12 * n + 4 + extra

    def encode(self, offset: int, next_ifd: int = 0) -> bytes:
        """The IFD bytes placed at file ``offset`` (its overflow data follows the entry table)."""
        ents = sorted(self.entries.values(), key=lambda e: e.tag)
        data_off = offset + 2 + 12 * len(ents) + 4
        table = [struct.pack("<H", len(ents))]
        blobs = []
        for e in ents:
            if len(e.payload) <= 4:
                table.append(
                    struct.pack("<HHI", e.tag, e.typ, e.count) + e.payload.ljust(4, b"\x00")
                )
            else:
                table.append(struct.pack("<HHII", e.tag, e.typ, e.count, data_off))
                blobs.append(e.payload.ljust(_pad(len(e.payload)), b"\x00"))
                data_off += _pad(len(e.payload))
        table.append(struct.pack("<I", next_ifd))
        return b"".join(table) + b"".join(blobs)


def _pad(n: int) -> int:
    return n + (n & 1)


def encode_tiff(
    ifd0: _IFD, pixels: bytes, *, exif: _IFD | None = None, gps: _IFD | None = None
) -> bytes:
    """A single-strip little-endian TIFF: header, IFD0 (+ Exif/GPS sub-IFDs), then ``pixels``.

    StripOffsets/StripByteCounts/ExifIFD/GPSIFD pointers are filled in here.
    """
    ifd0.add(TAG["StripOffsets"], _LONG, [0])
    ifd0.add(TAG["StripByteCounts"], _LONG, [len(pixels)])
    if exif is not None:
        ifd0.add(TAG["ExifIFD"], _LONG, [0])
    if gps is not None:
        ifd0.add(TAG["GPSIFD"], _LONG, [0])
    off = 8
    off0 = off
    off += ifd0.size()
    off_exif = off
    if exif is not None:
        off += exif.size()
    off_gps = off
    if gps is not None:
        off += gps.size()
    off_pix = (off + 15) // 16 * 16
    ifd0.add(TAG["StripOffsets"], _LONG, [off_pix])
    if exif is not None:
        ifd0.add(TAG["ExifIFD"], _LONG, [off_exif])
    if gps is not None:
        ifd0.add(TAG["GPSIFD"], _LONG, [off_gps])
    parts = [b"II*\x00" + struct.pack("<I", off0), ifd0.encode(off0)]
    if exif is not None:
        parts.append(exif.encode(off_exif))
    if gps is not None:
        parts.append(gps.encode(off_gps))
    head = b"".join(parts)
    return head + b"\x00" * (off_pix - len(head)) + pixels


# ---------------------------------------------------------------------------------- DNG writer


def _exif_ifd(md: Metadata) -> _IFD | None:
    e = _IFD()
    if md.exposure_time and md.exposure_time > 0:
        e.add(33434, _RATIONAL, [md.exposure_time])
    if md.f_number and md.f_number > 0:
        e.add(33437, _RATIONAL, [md.f_number])
    if md.iso and md.iso > 0:
        e.add(34855, _SHORT, [min(int(round(md.iso)), 65535)])
    if md.datetime_original is not None:
        e.add(36867, _ASCII, md.datetime_original.strftime("%Y:%m:%d %H:%M:%S"))
    if md.focal_length and md.focal_length > 0:
        e.add(37386, _RATIONAL, [md.focal_length])
    if md.focal_length_35mm and md.focal_length_35mm > 0:
        e.add(41989, _SHORT, [min(int(round(md.focal_length_35mm)), 65535)])
    if md.lens:
        e.add(42036, _ASCII, md.lens)
    if not e.entries:
        return None
    e.add(36864, _UNDEF, b"0231")
    return e


def _gps_ifd(md: Metadata) -> _IFD | None:
    g = md.gps
    if g is None or not (math.isfinite(g.latitude) and math.isfinite(g.longitude)):
        return None
    ifd = _IFD()

    def dms(v: float) -> list[float]:
        v = abs(v)
        d = math.floor(v)
        m = math.floor((v - d) * 60)
        s = ((v - d) * 60 - m) * 60
        return [d, m, round(s, 4)]

    ifd.add(0, _BYTE, bytes([2, 3, 0, 0]))
    ifd.add(1, _ASCII, "N" if g.latitude >= 0 else "S")
    ifd.add(2, _RATIONAL, dms(g.latitude))
    ifd.add(3, _ASCII, "E" if g.longitude >= 0 else "W")
    ifd.add(4, _RATIONAL, dms(g.longitude))
    if g.altitude is not None and math.isfinite(g.altitude):
        ifd.add(5, _BYTE, bytes([0 if g.altitude >= 0 else 1]))
        ifd.add(6, _RATIONAL, [abs(g.altitude)])
    return ifd


def _quantise(
    raw: RawImage, black: Any, white: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixels as uint16 plus the black (per site / per sample) and white levels to write."""
    linear = raw.cfa is CFA.LINEAR
    if raw.data.dtype == np.uint16:
        b = np.asarray(raw.black if black is None else black, np.float64)
        w = float(raw.white if white is None else white)
        return raw.data, b, w
    w = 65535.0 if white is None else float(white)
    b = np.zeros(3 if linear else (2, 2)) if black is None else np.asarray(black, np.float64)
    if b.ndim == 0:
        b = np.full(3 if linear else (2, 2), float(b))
    if not (0 <= float(b.min()) and float(b.max()) < w <= 65535):
        raise InvalidParameter(
            f"DNG levels need 0 <= black < white <= 65535, got black {b.tolist()}, white {w}"
        )
    x = raw.data
    if raw.wb_gains is not None:  # a DNG stores camera-native values: undo the white balance
        g = np.asarray(raw.wb_gains, np.float32).reshape(3)
        if not (np.all(np.isfinite(g)) and np.all(g > 0)):
            raise InvalidParameter(f"wb_gains {g.tolist()} must be positive to write a DNG")
        if linear:
            x = x / g
        else:
            site = g[np.asarray(raw.cfa_pattern)]
            x = (
                x
                / np.tile(site, (x.shape[0] // site.shape[0] + 1, x.shape[1] // site.shape[1] + 1))[
                    : x.shape[0], : x.shape[1]
                ]
            )
    if linear:
        bb = b.reshape(1, 1, 3).astype(np.float32)
    else:
        bp = b if b.shape == (2, 2) else np.full((2, 2), float(b.mean()))
        bb = np.tile(bp.astype(np.float32), (x.shape[0] // 2 + 1, x.shape[1] // 2 + 1))[
            : x.shape[0], : x.shape[1]
        ]
    scale = np.float32(w) - bb
    out = np.empty(x.shape, np.float32)
    np.multiply(np.nan_to_num(x, nan=0.0, posinf=1e6, neginf=-1e6), scale, out=out)
    out += bb
    np.rint(out, out=out)
    np.clip(out, 0.0, w, out=out)
    return out.astype(np.uint16), b, w


def build_dng(raw: RawImage, *, black: Any = None, white: float | None = None) -> bytes:
    """The DNG file bytes for ``raw`` (see :func:`write_dng`)."""
    if raw.cfa is CFA.XTRANS:
        raise UnsupportedInput("writing X-Trans DNGs is not supported")
    data, b, w = _quantise(raw, black, white)
    linear = raw.cfa is CFA.LINEAR
    h, wd = data.shape[:2]
    md = raw.metadata
    cal = raw.calibration
    ifd = _IFD()
    ifd.add(TAG["NewSubfileType"], _LONG, [0])
    ifd.add(TAG["ImageWidth"], _LONG, [wd])
    ifd.add(TAG["ImageLength"], _LONG, [h])
    ifd.add(TAG["BitsPerSample"], _SHORT, [16] * (3 if linear else 1))
    ifd.add(TAG["Compression"], _SHORT, [1])
    ifd.add(
        TAG["PhotometricInterpretation"],
        _SHORT,
        [PHOTOMETRIC_LINEAR_RAW if linear else PHOTOMETRIC_CFA],
    )
    if md.make:
        ifd.add(TAG["Make"], _ASCII, md.make)
    if md.model:
        ifd.add(TAG["Model"], _ASCII, md.model)
    ifd.add(TAG["Orientation"], _SHORT, [md.orientation if 1 <= md.orientation <= 8 else 1])
    ifd.add(TAG["SamplesPerPixel"], _SHORT, [3 if linear else 1])
    ifd.add(TAG["RowsPerStrip"], _LONG, [h])
    ifd.add(TAG["PlanarConfiguration"], _SHORT, [1])
    ifd.add(TAG["Software"], _ASCII, md.software or "rawlux")
    if md.artist:
        ifd.add(315, _ASCII, md.artist)
    if md.copyright:
        ifd.add(33432, _ASCII, md.copyright)
    if md.datetime_original is not None:
        ifd.add(TAG["DateTime"], _ASCII, md.datetime_original.strftime("%Y:%m:%d %H:%M:%S"))
    if not linear:
        ifd.add(TAG["CFARepeatPatternDim"], _SHORT, [2, 2])
        ifd.add(
            TAG["CFAPattern"], _BYTE, bytes(int(v) for v in np.asarray(raw.cfa_pattern).ravel())
        )
        ifd.add(TAG["CFAPlaneColor"], _BYTE, bytes([0, 1, 2]))
        ifd.add(TAG["CFALayout"], _SHORT, [1])
    ifd.add(TAG["TIFFEPStandardID"], _BYTE, bytes([1, 0, 0, 0]))
    ifd.add(TAG["DNGVersion"], _BYTE, bytes([1, 4, 0, 0]))
    ifd.add(TAG["DNGBackwardVersion"], _BYTE, bytes([1, 3, 0, 0]))
    ucm = " ".join(x for x in (md.make, md.model) if x) or "rawlux"
    ifd.add(TAG["UniqueCameraModel"], _ASCII, ucm)
    if linear:
        ifd.add(TAG["BlackLevelRepeatDim"], _SHORT, [1, 1])
        ifd.add(
            TAG["BlackLevel"],
            _RATIONAL,
            np.broadcast_to(b.ravel() if b.size == 3 else b.mean(), (3,)),
        )
        ifd.add(TAG["WhiteLevel"], _LONG, [int(round(w))] * 3)
    else:
        bp = b if b.shape == (2, 2) else np.full((2, 2), float(np.mean(b)))
        ifd.add(TAG["BlackLevelRepeatDim"], _SHORT, [2, 2])
        ifd.add(TAG["BlackLevel"], _RATIONAL, bp.ravel())
        ifd.add(TAG["WhiteLevel"], _LONG, [int(round(w))])
    if raw.crop is not None:
        c = raw.crop
        ifd.add(TAG["DefaultCropOrigin"], _LONG, [c.left, c.top])
        ifd.add(TAG["DefaultCropSize"], _LONG, [c.width, c.height])
    cm1 = cal.color_matrix1
    if cm1 is None:
        cm1 = np.array(
            [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
        )
        ill1 = 21  # sRGB primaries as a stand-in, so readers can still render
    else:
        ill1 = cal.illuminant1
    for name, m in (
        ("ColorMatrix1", cm1), ("ColorMatrix2", cal.color_matrix2),
        ("ForwardMatrix1", cal.forward_matrix1), ("ForwardMatrix2", cal.forward_matrix2),
        ("CameraCalibration1", cal.camera_calibration1), ("CameraCalibration2", cal.camera_calibration2),
    ):  # fmt: skip
        if m is not None:
            m = np.asarray(m, np.float64)
            if m.shape != (3, 3):
                raise InvalidParameter(f"{name} must be 3x3, got {m.shape}")
            ifd.add(TAG[name], _SRATIONAL, m.ravel())
    ifd.add(TAG["CalibrationIlluminant1"], _SHORT, [ill1])
    if cal.color_matrix2 is not None:
        ifd.add(TAG["CalibrationIlluminant2"], _SHORT, [cal.illuminant2 or 0])
    if cal.analog_balance is not None:
        ifd.add(TAG["AnalogBalance"], _RATIONAL, np.asarray(cal.analog_balance, np.float64).ravel())
    if cal.as_shot_neutral is not None:
        ifd.add(
            TAG["AsShotNeutral"], _RATIONAL, np.asarray(cal.as_shot_neutral, np.float64).ravel()
        )
    elif cal.as_shot_white_xy is not None:
        ifd.add(
            TAG["AsShotWhiteXY"], _RATIONAL, np.asarray(cal.as_shot_white_xy, np.float64).ravel()
        )
    ifd.add(TAG["BaselineExposure"], _SRATIONAL, [raw.baseline_exposure])
    if raw.noise_profile is not None:
        ifd.add(
            TAG["NoiseProfile"], _DOUBLE, np.asarray(raw.noise_profile.pairs, np.float64).ravel()
        )
    for n, ops in ((1, raw.opcodes1), (2, raw.opcodes2), (3, raw.opcodes3)):
        if ops:
            ifd.add(TAG[f"OpcodeList{n}"], _UNDEF, serialize_opcode_list(ops))
    prof = getattr(cal, "profile", None)
    if prof is not None:  # profile tables (+ the raw IFD's gain table map: IFD 0 is the raw here)
        from rawlux.color.dcp import gain_table_map_entry, profile_entries

        gtm = gain_table_map_entry(prof)
        for code, typ, count, payload in [*profile_entries(prof), *([gtm] if gtm else [])]:
            ifd.entries[code] = _Entry(code, typ, count, payload)
    pixels = np.ascontiguousarray(data, "<u2").tobytes()
    return encode_tiff(ifd, pixels, exif=_exif_ifd(md), gps=_gps_ifd(md))


def write_dng(
    raw: RawImage,
    path: str | os.PathLike[str],
    *,
    black: float | Sequence[float] | np.ndarray | None = None,
    white: float | None = None,
) -> None:
    """Write ``raw`` as an uncompressed uint16 DNG 1.4 (CFA for Bayer, LinearRaw for ``CFA.LINEAR``).

    uint16 data is written as is with ``raw.black``/``raw.white`` (``black``/``white`` override
    the level tags). float32 normalised data is mapped so 0 -> ``black`` and 1 -> ``white`` DN
    (defaults 0 and 65535; ``black`` scalar, per site (2, 2) or per sample (3,)), rounded and
    clipped to [0, white]; a white-balanced float mosaic (``wb_gains`` set) is divided by its gains
    first, since a DNG stores camera-native values. Every tag :func:`rawlux.io.raw.open_raw` reads is written, plus basic
    EXIF (exposure, f-number, ISO, focal lengths, lens, date) and GPS. The file is written to a
    temporary file in the target directory and renamed, so nothing partial is ever left behind.
    """
    target = Path(path)
    if target.suffix.lower() != ".dng":
        raise OutputError(f"DNG output needs a .dng extension, got '{target.suffix}'", target)
    d = target.parent if str(target.parent) else Path(".")
    if not d.is_dir():
        raise OutputError("output directory does not exist", target)
    blob = build_dng(raw, black=black, white=white)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"cannot write DNG ({e.strerror or e})", target) from None
        raise
