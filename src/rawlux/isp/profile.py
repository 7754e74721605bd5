"""The ``camera`` look: the DNG camera profile's own rendering (what the phone / Adobe intends).

Scene-referred linear Rec.2020 (D65) -> display-referred linear Rec.2020 [0, 1], in the DNG
SDK's order, all in linear ProPhoto RGB (D50; Bradford from D65, the inverse of what
color_transform used):

1. ProfileHueSatMap (the two tables blended at the white balance's CCT, like the matrices),
   indexed at the file's exposure before BaselineExposure (3-D tables look up "value" there);
2. ProfileGainTableMap (the phone's local tone map; after BaselineExposure, positioned on the
   ActiveArea with the default crop accounted for);
3. BaselineExposureOffset (2^offset);
4. highlights above the knee roll off into white (:func:`rawlux.looks.render.render_neutral`)
   instead of the DNG SDK's hard clip at 1;
5. ProfileLookTable, then ProfileToneCurve (hue-preserving RGB tone).

Each part is skipped when the profile lacks it; with no profile at all the look is ``neutral``.

The develop stage ``profile`` (first, on the uint16 raw) swaps in a ``.dcp``'s matrices and
tables (:class:`ProfileParams`, the ``profile`` option: a file by path + content hash).
DefaultBlackRender "auto" (Adobe's automatic black subtraction) is not emulated: rawlux never
subtracts an automatic black, which is what "none" asks for.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from rawlux.color.dcp import (
    DngProfile,
    apply_gain_table_map,
    apply_hue_sat_map,
    blend_hue_sat_map,
    pixel_positions,
    prophoto_to_xyz,
    rgb_tone,
    tone_lut,
)
from rawlux.core.image import ColorSpace, Image, RawImage
from rawlux.core.params import FileRef, StageParams, param
from rawlux.core.pipeline import RAW_DN, StageDef

CAMERA_LOOK = "camera"


def _matrices() -> tuple[np.ndarray, np.ndarray]:
    """(Rec.2020 D65 -> ProPhoto D50, its inverse), float64."""
    from rawlux.color.spaces import rgb_to_rgb64

    to_xyz = rgb_to_rgb64(ColorSpace.REC2020, ColorSpace.XYZ_D50)  # Bradford D65 -> D50
    m = np.linalg.inv(prophoto_to_xyz()) @ to_xyz
    return m, np.linalg.inv(m)


def white_cct(img: Image) -> float:
    """CCT (kelvin) of the white the image was balanced to (as the colour matrices used)."""
    from rawlux.color.camera import as_shot_neutral, camera_profile, neutral_to_xy
    from rawlux.color.cct import xy_to_cct

    cal = img.calibration
    prof = camera_profile(cal, img.source)
    if img.wb_gains is not None:
        n = 1.0 / np.asarray(img.wb_gains, np.float64)
    else:
        n = None if cal is None else as_shot_neutral(cal, img.source)
        if n is None:
            n = np.ones(3)
    return float(xy_to_cct(neutral_to_xy(prof, n / n.max(), img.source)))


def hue_sat_map_for(img: Image, profile: DngProfile):  # type: ignore[no-untyped-def]
    """The profile's hue/sat map blended for ``img``'s white (None when it has none)."""
    from rawlux.color.illuminants import light_source_cct

    if profile.hue_sat_map1 is None:
        return None
    cal = img.calibration
    i1 = profile.illuminant1 or (cal.illuminant1 if cal is not None else 0)
    i2 = profile.illuminant2 or (cal.illuminant2 if cal is not None else 0)
    try:
        t1, t2 = light_source_cct(int(i1)), light_source_cct(int(i2))
    except Exception:  # noqa: BLE001 - unknown illuminant: table 1 (DNG SDK behaviour)
        return profile.hue_sat_map1
    return blend_hue_sat_map(profile, white_cct(img), t1, t2)


def render_camera(img: Image, *, gain_map: bool = True) -> np.ndarray:
    """``img`` (scene-linear Rec.2020) rendered by its camera profile -> float32 (H, W, 3) in
    [0, 1], display-referred linear Rec.2020 (module docstring). ``gain_map`` False skips the
    ProfileGainTableMap."""
    from rawlux.isp.color_transform import apply_matrix
    from rawlux.looks.render import render_neutral

    profile = getattr(img.calibration, "profile", None)
    if profile is None:
        return render_neutral(img.data)
    to_pp, from_pp = _matrices()
    x = apply_matrix(img.data, to_pp)
    hsm = hue_sat_map_for(img, profile)
    if hsm is not None:
        if hsm.data.shape[0] > 1:  # value-indexed: look up at the pre-BaselineExposure level
            k = np.float32(2.0 ** -float(img.baseline_exposure))
            x = apply_hue_sat_map(x * k, hsm, profile.hue_sat_encoding) * (1 / k)
        else:
            x = apply_hue_sat_map(x, hsm, profile.hue_sat_encoding)
    gtm = profile.gain_table_map
    if gain_map and gtm is not None:
        rows, cols = pixel_positions(gtm, x.shape[0], x.shape[1])
        x = apply_gain_table_map(x, gtm, rows, cols)
    if profile.baseline_exposure_offset:
        x *= np.float32(2.0 ** profile.baseline_exposure_offset)
    x = render_neutral(x, out=x)
    if profile.look_table is not None:
        x = apply_hue_sat_map(x, profile.look_table, profile.look_encoding)
    if profile.tone_curve is not None:
        x = rgb_tone(x, tone_lut(profile.tone_curve))
    out = apply_matrix(x, from_pp)
    return np.minimum(out, 1.0, out=out)


# ------------------------------------------------------------------ stage: a .dcp for the raw


@dataclass(frozen=True)
class ProfileParams(StageParams):
    """Camera profile stage parameters."""

    dcp: FileRef | None = param(
        None, type=FileRef,
        doc="DNG camera profile (.dcp, path + sha256) used instead of the raw's own matrices and "
            "tables (the raw's gain table map stays; --look camera applies its tables), or none")

    def __post_init__(self) -> None:
        if isinstance(self.dcp, (str, os.PathLike)):  # a bare path: reference it by content
            object.__setattr__(self, "dcp", FileRef.of(self.dcp))
        super().__post_init__()


@functools.lru_cache(maxsize=8)
def _read(ref: FileRef) -> tuple[object, object]:
    from rawlux.io.dcp import read_dcp

    return read_dcp(ref.path)


def load_profile(ref: FileRef) -> tuple[object, object]:
    """(DngProfile, ColorCalibration) of the ``.dcp`` ``ref``: its content hash is checked on
    every call (a few kB), the parsed profile cached by (path, hash)."""
    ref.verified_path()
    return _read(ref)


def profile_stage(raw: RawImage, params: ProfileParams = ProfileParams()) -> RawImage:
    """``raw`` with the ``.dcp``'s matrices and tables instead of its own (uint16 DN in and
    out, pixels untouched); no ``dcp``: ``raw`` itself."""
    if params.dcp is None:
        return raw
    from rawlux.io.dcp import apply_profile

    return apply_profile(raw, *load_profile(params.dcp))


STAGE = StageDef("profile", profile_stage, ProfileParams, takes=RAW_DN, gives=RAW_DN)
