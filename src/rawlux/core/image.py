"""The image data contract: :class:`RawImage` (mosaic or linear raw) and :class:`Image` (RGB).

Both are frozen dataclasses holding owned, C-contiguous numpy arrays. Stages never mutate them;
they return new objects via :func:`dataclasses.replace` (see :meth:`RawImage.with_data`).

Units and ranges
----------------
* ``RawImage.data`` — uint16 DN straight from the file (``black``/``white`` in the same DN), or
  float32 normalised ``(x - black) / (white - black)`` after the black_level stage (not clipped,
  negatives kept, 1.0 = sensor saturation before white balance).
* ``Image.data`` — float32 (H, W, 3), RGB order, in ``space`` with transfer ``encoding``.
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rawlux.core.errors import ContractError

# --------------------------------------------------------------------------------------- enums


class CFA(enum.Enum):
    """Colour filter array layout, named by the top-left 2x2 block of ``RawImage.data``."""

    RGGB = "RGGB"
    BGGR = "BGGR"
    GRBG = "GRBG"
    GBRG = "GBRG"
    XTRANS = "XTRANS"  # 6x6 pattern carried in RawImage.cfa_pattern
    LINEAR = "LINEAR"  # already demosaiced (H, W, 3) data, e.g. a LinearRaw DNG

    @property
    def is_bayer(self) -> bool:
        return self in (CFA.RGGB, CFA.BGGR, CFA.GRBG, CFA.GBRG)

    def pattern(self) -> np.ndarray:
        """2x2 int8 array of channel indices (0=R, 1=G, 2=B) for Bayer layouts."""
        if not self.is_bayer:
            raise ContractError(f"CFA {self.value} has no 2x2 pattern")
        idx = {"R": 0, "G": 1, "B": 2}
        return np.array([[idx[c] for c in self.value[:2]], [idx[c] for c in self.value[2:]]], np.int8)

    @staticmethod
    def from_pattern(pattern: np.ndarray) -> "CFA":
        """Inverse of :meth:`pattern`; a 6x6 pattern gives XTRANS."""
        p = np.asarray(pattern)
        if p.shape == (6, 6):
            return CFA.XTRANS
        if p.shape != (2, 2):
            raise ContractError(f"unsupported CFA pattern shape {p.shape}")
        name = "".join("RGB"[int(v)] for v in p.ravel())
        try:
            return CFA(name)
        except ValueError:
            raise ContractError(f"unsupported CFA pattern {name}") from None

    def shifted(self, dy: int, dx: int) -> "CFA":
        """The layout seen after cropping ``dy`` rows and ``dx`` columns off the top-left."""
        if not self.is_bayer:
            return self
        return CFA.from_pattern(np.roll(self.pattern(), (-dy, -dx), axis=(0, 1)))


class ColorSpace(enum.Enum):
    """RGB/XYZ space of ``Image.data`` (primaries + white point; transfer is :class:`Encoding`)."""

    CAMERA = "camera"  # camera native RGB (white balanced or not, see Image.white_balanced)
    XYZ_D50 = "xyz-d50"  # DNG profile connection space
    REC2020 = "rec2020"  # linear working space, D65
    SRGB = "srgb"  # sRGB / Rec.709 primaries, D65
    DISPLAY_P3 = "p3"  # Display P3 primaries, D65


class Encoding(enum.Enum):
    """Transfer function applied to the values."""

    LINEAR = "linear"
    SRGB = "srgb"  # IEC 61966-2-1 piecewise curve (also used by Display P3)


class Referred(enum.Enum):
    """Scene-referred (unbounded, proportional to light) or display-referred ([0, 1])."""

    SCENE = "scene"
    DISPLAY = "display"


# ------------------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class GPS:
    """Decimal degrees (north/east positive), altitude in metres above sea level."""

    latitude: float
    longitude: float
    altitude: float | None = None


@dataclass(frozen=True)
class Metadata:
    """Camera metadata that survives the pipeline and is written as EXIF.

    ``exposure_time`` in seconds, ``focal_length`` in mm (real), ``focal_length_35mm`` in mm
    (full-frame equivalent), ``orientation`` is the EXIF code 1..8 of the *pixels it travels with*.
    """

    make: str | None = None
    model: str | None = None
    lens: str | None = None
    exposure_time: float | None = None
    f_number: float | None = None
    iso: float | None = None
    focal_length: float | None = None
    focal_length_35mm: float | None = None
    datetime_original: _dt.datetime | None = None
    gps: GPS | None = None
    orientation: int = 1
    software: str | None = None
    artist: str | None = None
    copyright: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form, not written

    def __hash__(self) -> int:  # dict field: hash by identity-free summary
        return hash((self.make, self.model, self.datetime_original))


# ---------------------------------------------------------------------------------- DNG colour


# EXIF LightSource codes used by CalibrationIlluminant1/2 (DNG spec 1.6, table "LightSource").
LIGHT_SOURCE_D65 = 21
LIGHT_SOURCE_D50 = 23
LIGHT_SOURCE_A = 17


@dataclass(frozen=True)
class ColorCalibration:
    """DNG colour tags; matrices are float64 3x3 (or None when absent).

    ``color_matrix`` maps XYZ -> reference camera space (DNG ColorMatrix), ``forward_matrix``
    maps white-balanced camera space -> XYZ D50 (ForwardMatrix). Illuminants are EXIF LightSource
    codes (17 = A, 21 = D65, 23 = D50, 0 = unknown). Non-DNG raws get LibRaw's matrix as
    ``color_matrix1`` with illuminant D65 and nothing in slot 2.
    ``as_shot_neutral`` is the camera-space neutral (R, G, B, G=1 scale arbitrary);
    ``as_shot_white_xy`` the alternative chromaticity form. ``analog_balance`` defaults to ones.
    """

    color_matrix1: np.ndarray | None = None
    color_matrix2: np.ndarray | None = None
    forward_matrix1: np.ndarray | None = None
    forward_matrix2: np.ndarray | None = None
    camera_calibration1: np.ndarray | None = None
    camera_calibration2: np.ndarray | None = None
    illuminant1: int = 0
    illuminant2: int = 0
    analog_balance: np.ndarray | None = None
    as_shot_neutral: np.ndarray | None = None
    as_shot_white_xy: np.ndarray | None = None
    source: str = "dng"  # "dng", "libraw", "preview" (fitted to the embedded preview) or "none"
    #: DNG profile tables (hue/sat maps, look table, tone curve, gain table map) beyond the
    #: matrices: a :class:`rawlux.color.dcp.DngProfile`, or None.
    profile: Any = None

    __hash__ = object.__hash__


@dataclass(frozen=True)
class NoiseProfile:
    """DNG NoiseProfile: per channel variance = scale * x + offset, x normalised to [0, 1].

    ``pairs`` has shape (C, 2) with columns (scale S, offset O); C = 1 (shared) or 3 (R, G, B).
    """

    pairs: np.ndarray

    __hash__ = object.__hash__

    def variance(self, x: np.ndarray, channel: int = 0) -> np.ndarray:
        s, o = self.pairs[min(channel, len(self.pairs) - 1)]
        return np.maximum(s * x + o, 0.0).astype(np.float32)


# ----------------------------------------------------------------------------------- opcodes


@dataclass(frozen=True)
class Opcode:
    """Base for DNG opcodes. ``optional``: may be skipped; ``preview_only``: skip for full render."""

    opcode_id: int
    version: int = 0x01030000
    optional: bool = False
    preview_only: bool = False

    __hash__ = object.__hash__


@dataclass(frozen=True)
class GainMap(Opcode):
    """DNG GainMap (opcode 9): multiply pixels in an area/plane range by an interpolated map.

    Geometry per DNG 1.6 sect. 6: ``top, left, bottom, right`` area in image pixels, ``plane``,
    ``planes``, ``row_pitch``, ``col_pitch`` select pixels; the map has ``gains`` (rows, cols,
    map_planes) float32 sampled at ``origin_v + i*spacing_v`` (relative 0..1 of the area).
    """

    top: int = 0
    left: int = 0
    bottom: int = 0
    right: int = 0
    plane: int = 0
    planes: int = 1
    row_pitch: int = 1
    col_pitch: int = 1
    spacing_v: float = 1.0
    spacing_h: float = 1.0
    origin_v: float = 0.0
    origin_h: float = 0.0
    gains: np.ndarray = field(default_factory=lambda: np.ones((1, 1, 1), np.float32))


@dataclass(frozen=True)
class WarpRectilinear(Opcode):
    """DNG WarpRectilinear (opcode 1): radial (kr0..kr3) and tangential (kt0, kt1) distortion per
    plane; ``coefficients`` shape (planes, 6); ``center`` (cx, cy) relative 0..1 of the image."""

    coefficients: np.ndarray = field(default_factory=lambda: np.zeros((1, 6)))
    center: tuple[float, float] = (0.5, 0.5)


@dataclass(frozen=True)
class FixVignetteRadial(Opcode):
    """DNG FixVignetteRadial (opcode 3): gain = 1 + k0 r^2 + k1 r^4 + ... + k4 r^10."""

    k: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    center: tuple[float, float] = (0.5, 0.5)


@dataclass(frozen=True)
class UnknownOpcode(Opcode):
    """An opcode rawlux does not implement; ``name`` from the DNG spec, ``payload`` raw bytes."""

    name: str = "Unknown"
    payload: bytes = b""


# ------------------------------------------------------------------------------------ images


@dataclass(frozen=True)
class Crop:
    """Default crop in ``data`` pixel coordinates (after ActiveArea): top, left, height, width."""

    top: int
    left: int
    height: int
    width: int


@dataclass(frozen=True)
class RawImage:
    """A raw capture: sensor mosaic (H, W) or linear raw (H, W, 3). See module docstring for units.

    ``black`` is a per-site black level tiled over the image: shape (2, 2) for Bayer (same layout
    as ``data[:2, :2]``), (6, 6) for X-Trans, (3,) for LINEAR; ``white`` the saturation DN.
    After the black_level stage ``data`` is float32, ``black`` is all zeros and ``white`` is 1.0.
    ``cfa_pattern`` holds channel indices (0=R, 1=G, 2=B) of the repeating tile (2x2 or 6x6).
    ``wb_gains`` is set by the white_balance stage (camera R, G, B multipliers applied), else None.
    """

    data: np.ndarray
    cfa: CFA
    black: np.ndarray
    white: float
    calibration: ColorCalibration = field(default_factory=ColorCalibration)
    cfa_pattern: np.ndarray | None = None
    baseline_exposure: float = 0.0
    noise_profile: NoiseProfile | None = None
    opcodes1: tuple[Opcode, ...] = ()
    opcodes2: tuple[Opcode, ...] = ()
    opcodes3: tuple[Opcode, ...] = ()
    crop: Crop | None = None
    metadata: Metadata = field(default_factory=Metadata)
    source: str | None = None
    wb_gains: np.ndarray | None = None

    __hash__ = object.__hash__

    def __post_init__(self) -> None:
        d = self.data
        if not isinstance(d, np.ndarray):
            raise ContractError(f"RawImage.data must be a numpy array, got {type(d).__name__}")
        if d.dtype not in (np.uint16, np.float32):
            raise ContractError(f"RawImage.data must be uint16 or float32, got {d.dtype}")
        want_ndim = 3 if self.cfa is CFA.LINEAR else 2
        if d.ndim != want_ndim or (want_ndim == 3 and d.shape[2] != 3):
            raise ContractError(f"RawImage.data shape {d.shape} does not fit CFA {self.cfa.value}")
        if not d.flags.c_contiguous:
            raise ContractError("RawImage.data must be a C-contiguous array")
        if self.cfa_pattern is None and self.cfa.is_bayer:
            object.__setattr__(self, "cfa_pattern", self.cfa.pattern())
        if self.cfa is CFA.XTRANS and (self.cfa_pattern is None or self.cfa_pattern.shape != (6, 6)):
            raise ContractError("X-Trans RawImage needs a 6x6 cfa_pattern")

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def is_normalized(self) -> bool:
        """True after the black_level stage (float32, black 0, white 1)."""
        return self.data.dtype == np.float32

    def channel_masks(self) -> np.ndarray:
        """(3, H, W) bool masks of R, G, B sites (all True for LINEAR)."""
        h, w = self.height, self.width
        if self.cfa is CFA.LINEAR:
            return np.ones((3, h, w), bool)
        p = np.asarray(self.cfa_pattern)
        ph, pw = p.shape
        tiled = np.tile(p, (h // ph + 1, w // pw + 1))[:h, :w]
        return np.stack([tiled == c for c in range(3)])

    def with_data(self, data: np.ndarray, **changes: Any) -> "RawImage":
        """A copy with new pixel data (and any other field changes)."""
        return replace(self, data=np.ascontiguousarray(data), **changes)


@dataclass(frozen=True)
class Image:
    """An RGB image: float32 (H, W, 3), C-contiguous, RGB order.

    ``space``/``encoding``/``referred`` state exactly what the numbers mean. ``white_balanced``
    matters only for ``ColorSpace.CAMERA``. ``calibration`` and ``wb_gains`` travel from the raw
    so color_transform can build the camera matrix; ``metadata`` travels to the output.
    """

    data: np.ndarray
    space: ColorSpace
    encoding: Encoding = Encoding.LINEAR
    referred: Referred = Referred.SCENE
    metadata: Metadata = field(default_factory=Metadata)
    calibration: ColorCalibration | None = None
    wb_gains: np.ndarray | None = None
    white_balanced: bool = True
    baseline_exposure: float = 0.0
    opcodes3: tuple[Opcode, ...] = ()
    crop: Crop | None = None
    noise_profile: NoiseProfile | None = None
    source: str | None = None

    __hash__ = object.__hash__

    @staticmethod
    def from_raw(raw: "RawImage", data: np.ndarray, *, white_balanced: bool = True) -> "Image":
        """Camera-RGB linear scene-referred Image carrying everything later stages need from
        ``raw`` (calibration, WB gains, baseline exposure, opcode list 3, crop, metadata)."""
        return Image(
            data=np.ascontiguousarray(data, dtype=np.float32),
            space=ColorSpace.CAMERA,
            encoding=Encoding.LINEAR,
            referred=Referred.SCENE,
            metadata=raw.metadata,
            calibration=raw.calibration,
            wb_gains=raw.wb_gains,
            white_balanced=white_balanced,
            baseline_exposure=raw.baseline_exposure,
            opcodes3=raw.opcodes3,
            crop=raw.crop,
            noise_profile=raw.noise_profile,
            source=raw.source,
        )

    def __post_init__(self) -> None:
        d = self.data
        if not isinstance(d, np.ndarray) or d.dtype != np.float32:
            raise ContractError(
                f"Image.data must be float32, got {getattr(d, 'dtype', type(d).__name__)}"
            )
        if d.ndim != 3 or d.shape[2] != 3:
            raise ContractError(f"Image.data must have shape (H, W, 3), got {d.shape}")
        if not d.flags.c_contiguous:
            raise ContractError("Image.data must be C-contiguous")

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    def with_data(self, data: np.ndarray, **changes: Any) -> "Image":
        """A copy with new pixel data (float32, made contiguous) and any other field changes."""
        return replace(self, data=np.ascontiguousarray(data, dtype=np.float32), **changes)
