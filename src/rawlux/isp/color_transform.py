"""Stage 7: camera RGB (linear, white balanced) -> linear Rec.2020 D65, scene-referred, >= 0.

One fused 3x3 per image: ``M = 2^(BaselineExposure + exposure_ev) * RGB2020<-XYZ(D65) @
Bradford(D50 -> D65) @ CameraToXYZ_D50(neutral) @ diag(1 / wb_gains)`` where the camera neutral
is ``1 / wb_gains`` (the white the white_balance stage used), so a white-balanced grey of value
``v`` becomes Rec.2020 ``(v, v, v)`` times the exposure factor. CameraToXYZ_D50 follows DNG spec
ch. 6 (ForwardMatrix when present, else ColorMatrix + Bradford; dual-illuminant interpolation),
see :mod:`rawlux.color.camera`. An image that was not white balanced uses the as-shot neutral.
Negative results (out-of-gamut noise) and NaN are clamped to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.core.params import StageParams, param
from rawlux.isp.pipeline import Contract, StageDef

SCENE_REC2020 = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE)
_TAKES = Contract(Image, "float32", ColorSpace.CAMERA, Encoding.LINEAR, Referred.SCENE)


@dataclass(frozen=True)
class ColorTransformParams(StageParams):
    """Colour transform parameters."""

    exposure_ev: float = param(
        0.0, lo=-10.0, hi=10.0, unit="EV", doc="exposure added to BaselineExposure"
    )


def camera_matrix(img: Image, params: ColorTransformParams = ColorTransformParams()) -> np.ndarray:
    """The fused 3x3 float64 matrix (camera RGB as held by ``img`` -> scaled linear Rec.2020)."""
    from rawlux.color.camera import as_shot_neutral, camera_profile, camera_to_xyz_d50
    from rawlux.color.spaces import rgb_to_rgb64

    prof = camera_profile(img.calibration, img.source)
    if img.white_balanced and img.wb_gains is not None:
        g = np.asarray(img.wb_gains, np.float64).ravel()
        if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ContractError(f"wb_gains {g.tolist()} must be 3 positive numbers")
        neutral = 1.0 / g
        neutral /= neutral.max()
        pre = np.diag(neutral)  # undo the gains: camera = neutral * balanced (max-normalised)
    elif img.white_balanced:
        neutral = np.ones(3)  # balanced by someone else: assume the white is camera (1, 1, 1)
        pre = np.eye(3)
    else:
        neutral = None if img.calibration is None else as_shot_neutral(img.calibration, img.source)
        if neutral is None:
            neutral = np.ones(3)
        pre = np.eye(3)
    cam_to_xyz, _ = camera_to_xyz_d50(prof, neutral, img.source)
    m = rgb_to_rgb64(ColorSpace.XYZ_D50, ColorSpace.REC2020) @ cam_to_xyz @ pre
    return m * 2.0 ** (float(img.baseline_exposure) + params.exposure_ev)


def apply_matrix(data: np.ndarray, m: np.ndarray, clamp_negative: bool = True) -> np.ndarray:
    """``out[..., i] = sum_j m[i, j] * data[..., j]`` for float32 (H, W, 3); optional clamp >= 0."""
    import cv2

    out = cv2.transform(np.ascontiguousarray(data, np.float32), np.asarray(m, np.float32))
    if clamp_negative:
        np.fmax(out, 0.0, out=out)  # also maps NaN (bad sensor data) to 0
    return out


def color_transform(img: Image, params: ColorTransformParams = ColorTransformParams()) -> Image:
    """Camera RGB -> scene-referred linear Rec.2020 (see module docstring)."""
    if img.space is not ColorSpace.CAMERA or img.encoding is not Encoding.LINEAR:
        raise ContractError(
            f"color_transform takes linear camera RGB, got {img.space.value}/{img.encoding.value}"
        )
    m = camera_matrix(img, params)
    out = apply_matrix(img.data, m)
    return img.with_data(out, space=ColorSpace.REC2020, white_balanced=True)


STAGE = StageDef(
    "color_transform", color_transform, ColorTransformParams, takes=_TAKES, gives=SCENE_REC2020
)
