"""Stage: lens corrections from the lensfun database (lensfunpy) for raws without DNG opcodes.

Image (camera RGB, linear, scene-referred) -> Image (same). The camera and lens are matched
from EXIF (Make/Model, LensModel) in the lensfun database that lensfunpy ships
(:func:`match_lens`); at the shot's focal length, aperture and ``distance`` lensfun's models
give, in this order (lensfun's own order for correcting):

1. vignetting: a per-pixel gain on the linear data (lensfun ``apply_color_modification``);
2. distortion and lateral chromatic aberration (TCA): per-channel source coordinates
   (``apply_subpixel_geometry_distortion``) resampled by :func:`rawlux.isp.geometry.remap`
   (bicubic, replicated border; tiles beyond OpenCV's 32767 px limit). Scale 1: the output
   keeps the input's size and centre (corners the correction pulls in are filled from the
   nearest edge rather than cropped).

``correction`` (the ``lens_correction`` develop option, :class:`LensCorrection`): "lensfun"
applies what matches; "auto" means the DNG lens opcodes when the raw has them, else lensfun;
"dng" the DNG opcodes only; "off" nothing. "auto" needs the raw to decide: the pipeline is
built with :func:`resolve_lens` (``Recipe.pipeline(raw=...)``), which turns it into "lensfun"
or "dng" and switches the DNG opcode stages (``lens_shading.enabled``,
``geometry.apply_warp``) to match; left unresolved, "auto" corrects nothing here (DNG opcodes
only, so an OpcodeList2 shading fix is never repeated). No match (unknown camera or lens, no
focal length) is not an error: the image passes through, and :func:`match_lens` says why (``rawlux info``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import Image, Metadata
from rawlux.core.params import Choice, StageParams, param
from rawlux.core.pipeline import CAMERA_LINEAR, StageDef


class LensCorrection(Choice):
    """Source of lens corrections (``True``/``False`` are accepted as auto/off)."""

    AUTO = "auto"
    OFF = "off"
    DNG = "dng"
    LENSFUN = "lensfun"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, bool):  # the old boolean lens_correction option
            return cls.AUTO if value else cls.OFF
        return super()._missing_(value)


@dataclass(frozen=True)
class LensfunParams(StageParams):
    """Lensfun lens-correction parameters."""

    correction: LensCorrection = param(
        LensCorrection.AUTO,
        doc="lens corrections: auto (the DNG lens opcodes when the raw has them, else lensfun) "
            "| off | dng (opcodes only) | lensfun (lensfun only)")
    distortion: bool = param(True, doc="correct geometric distortion")
    tca: bool = param(True, doc="correct lateral chromatic aberration")
    vignetting: bool = param(True, doc="correct vignetting (light falloff)")
    distance: float = param(10.0, lo=0.1, hi=1000.0, unit="m",
                            doc="focus distance for the vignetting model")


@dataclass(frozen=True)
class LensMatch:
    """A lensfun camera + lens found for a photo, and the shot's focal length / aperture."""

    camera: Any
    lens: Any
    focal: float
    aperture: float

    @property
    def crop_factor(self) -> float:
        return float(self.camera.crop_factor)

    def describe(self) -> str:
        cal = [n for n, attr in (("distortion", "calib_distortion"), ("TCA", "calib_tca"),
                                 ("vignetting", "calib_vignetting")) if getattr(self.lens, attr)]
        cam, lens = self.camera.model, self.lens.model
        cam = cam if cam.lower().startswith(self.camera.maker.lower()) else f"{self.camera.maker} {cam}"
        lens = lens if lens.lower().startswith(self.lens.maker.lower()) else f"{self.lens.maker} {lens}"
        return (f"{cam} + {lens} "
                f"at {self.focal:g} mm f/{self.aperture:g} (crop {self.crop_factor:.3g}; "
                f"models: {', '.join(cal) or 'none'})")


@functools.lru_cache(maxsize=1)
def database() -> Any:
    """The lensfun database shipped with lensfunpy (loaded once)."""
    import lensfunpy

    return lensfunpy.Database()


def _clean(s: str | None) -> str:
    return re.sub(r"\s+", " ", (s or "").replace("\x00", "")).strip()


@functools.lru_cache(maxsize=64)
def _find(make: str, model: str, lens: str) -> tuple[Any, Any, str]:
    db = database()
    cams = db.find_cameras(make, model) or []
    if not cams:  # EXIF makes like "NIKON CORPORATION" vs lensfun's "Nikon Corporation"
        first = make.split()[0] if make else ""
        cams = db.find_cameras(first, model) or db.find_cameras(None, model) or []
    if not cams:
        return None, None, f"camera '{' '.join(x for x in (make, model) if x)}' is not in the lensfun database"
    cam = cams[0]
    if not lens:
        return cam, None, "the file names no lens (EXIF LensModel)"
    lenses = db.find_lenses(cam, None, lens) or []
    if not lenses:
        return cam, None, f"lens '{lens}' is not in the lensfun database for {cam.mount}"
    best = lenses[0]
    if best.score < 20:  # a loose fuzzy match is worse than none
        return cam, None, f"lens '{lens}' has no confident lensfun match (best: {best.model})"
    return cam, best, ""


def match_lens(md: Metadata) -> tuple[LensMatch | None, str]:
    """(match, "") or (None, why not) for a photo's EXIF."""
    make, model, lens = _clean(md.make), _clean(md.model), _clean(md.lens)
    if not model:
        return None, "the file names no camera model"
    cam, ln, why = _find(make, model, lens)
    if ln is None:
        return None, why
    if not md.focal_length or md.focal_length <= 0:
        return None, "the file has no focal length"
    focal = float(md.focal_length)
    aperture = float(md.f_number) if md.f_number and md.f_number > 0 else float(ln.min_aperture or 8.0)
    return LensMatch(cam, ln, focal, aperture), ""


def _modifier(m: LensMatch, width: int, height: int, params: LensfunParams, flags: int,
              reverse: bool = False) -> Any:
    import lensfunpy

    mod = lensfunpy.Modifier(m.lens, m.crop_factor, width, height)
    mod.initialize(m.focal, m.aperture, params.distance, scale=1.0, pixel_format=np.float32,
                   flags=flags, reverse=reverse)
    return mod


def _flags(params: LensfunParams) -> tuple[int, int]:
    """(colour flags, geometry flags) as lensfun ModifyFlags values."""
    import lensfunpy

    f = lensfunpy.ModifyFlags
    col = int(f.VIGNETTING) if params.vignetting else 0
    geo = (int(f.DISTORTION) if params.distortion else 0) | (int(f.TCA) if params.tca else 0)
    return col, geo


def correct(data: np.ndarray, m: LensMatch,
            params: LensfunParams = LensfunParams(correction=LensCorrection.LENSFUN),
            *, reverse: bool = False) -> np.ndarray:
    """Lens-correct float32 (H, W, 3) linear ``data`` with match ``m`` (new array). ``reverse``
    applies the lens instead (vignetting and distortion added: synthetic test images)."""
    import cv2

    from rawlux.isp.geometry import remap

    src = np.ascontiguousarray(data, np.float32)
    if src.ndim != 3 or src.shape[2] != 3:
        raise ContractError(f"lensfun correction needs (H, W, 3) data, got {src.shape}")
    h, w = src.shape[:2]
    col, geo = _flags(params)
    out = src.copy()
    if col and not reverse:
        _modifier(m, w, h, params, col).apply_color_modification(out)
    if geo:
        coords = _modifier(m, w, h, params, geo, reverse).apply_subpixel_geometry_distortion()
        if coords is not None:
            res = np.empty_like(out)
            for c in range(3):
                mx = np.ascontiguousarray(coords[:, :, c, 0], np.float32)
                my = np.ascontiguousarray(coords[:, :, c, 1], np.float32)
                res[..., c] = remap(np.ascontiguousarray(out[..., c]), mx, my, cv2.INTER_CUBIC,
                                    cv2.BORDER_REPLICATE)
            out = res
    if col and reverse:
        _modifier(m, w, h, params, col, True).apply_color_modification(out)
    return out


def lensfun_stage(img: Image, params: LensfunParams = LensfunParams()) -> Image:
    """Apply lensfun corrections (module docstring) or pass ``img`` through."""
    if params.correction is not LensCorrection.LENSFUN:
        return img
    m, _ = match_lens(img.metadata)
    if m is None:
        return img
    return img.with_data(correct(img.data, m, params))


def lensfun_pointwise(img: Image, params: LensfunParams = LensfunParams()) -> object | None:
    """Fusion hint: the identity when nothing will be corrected (keeps stage fusion), else None."""
    if params.correction is not LensCorrection.LENSFUN:
        from rawlux.core.fused import PixelMatrix

        return PixelMatrix.identity()
    m, _ = match_lens(img.metadata)
    if m is None:
        from rawlux.core.fused import PixelMatrix

        return PixelMatrix.identity()
    return None


STAGE = StageDef("lensfun", lensfun_stage, LensfunParams, takes=CAMERA_LINEAR, gives=CAMERA_LINEAR,
                 pointwise=lensfun_pointwise)


def has_lens_opcodes(raw: Any) -> bool:
    """True when the RawImage ``raw`` carries DNG lens opcodes (GainMap, FixVignetteRadial,
    WarpRectilinear in OpcodeList2 or 3)."""
    from rawlux.core.image import FixVignetteRadial, GainMap, WarpRectilinear

    lens_ops = (GainMap, FixVignetteRadial, WarpRectilinear)
    return any(isinstance(op, lens_ops) for op in (*raw.opcodes2, *raw.opcodes3))


def resolve_lens(stages: dict[str, StageParams], raw: Any = None) -> dict[str, StageParams]:
    """The develop stage params with ``lensfun.correction`` decided for ``raw``: "auto" becomes
    "dng" when the raw has DNG lens opcodes, else "lensfun" ("dng" without a raw). "auto" and
    "dng" keep every DNG opcode; "lensfun" and "off" switch the DNG opcode stages off (never on
    when the recipe turned them off)."""
    from dataclasses import replace

    lf = stages.get("lensfun")
    if not isinstance(lf, LensfunParams):
        return stages
    mode = lf.correction
    if mode is LensCorrection.AUTO:
        mode = (LensCorrection.LENSFUN if raw is not None and not has_lens_opcodes(raw)
                else LensCorrection.DNG)
    out = dict(stages)
    out["lensfun"] = replace(lf, correction=mode)
    if lf.correction in (LensCorrection.OFF, LensCorrection.LENSFUN):
        if "lens_shading" in out:
            out["lens_shading"] = replace(out["lens_shading"], enabled=False)
        if "geometry" in out:
            out["geometry"] = replace(out["geometry"], apply_warp=False)
    return out


def describe_lens(raw: Any) -> str:
    """What ``--lens-correction auto`` does for ``raw`` (a RawImage), for ``rawlux info``."""
    from rawlux.core.image import FixVignetteRadial, GainMap, WarpRectilinear

    ops = [op for op in (*raw.opcodes2, *raw.opcodes3)
           if isinstance(op, (GainMap, FixVignetteRadial, WarpRectilinear))]
    m, why = match_lens(raw.metadata)
    lf = f"lensfun: {m.describe()}" if m is not None else f"lensfun: no match ({why})"
    if ops:
        return f"DNG opcodes ({len(ops)} lens opcodes; auto uses them); {lf}"
    return ("auto uses " + lf) if m is not None else f"none (lensfun: {why})"
