"""Stage 6: geometry — DNG OpcodeList3 on camera RGB, then the DNG default crop.

Image (camera RGB, linear) -> Image (same space). OpcodeList3 opcodes run in file order:
WarpRectilinear (lens distortion, :mod:`rawlux.isp.warp`), GainMap / FixVignetteRadial (via
:func:`rawlux.isp.lens_shading.apply_opcodes`); then ``img.crop`` is applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from rawlux.core.errors import ContractError
from rawlux.core.fused import PixelMatrix
from rawlux.core.image import Crop, Image, WarpRectilinear
from rawlux.core.params import Choice, StageParams, param
from rawlux.core.pipeline import CAMERA_LINEAR, StageDef
from rawlux.isp.lens_shading import apply_opcodes
from rawlux.isp.warp import (  # noqa: F401 - re-exported: the warp's public names
    REMAP_MAX_SIDE,
    _window,
    remap,
    warp_rectilinear,
    warp_source_coords,
)

class Interpolation(Choice):
    """Resampling kernel of the lens warp."""

    LINEAR = "linear"
    CUBIC = "cubic"


_INTERP = Interpolation.values()


@dataclass(frozen=True)
class GeometryParams(StageParams):
    """Geometry stage parameters."""

    apply_warp: bool = param(True, doc="apply DNG OpcodeList3 (lens distortion and gain maps)")
    apply_crop: bool = param(True, doc="apply the DNG default crop")
    interpolation: Interpolation = param(Interpolation.CUBIC, doc="resampling kernel of the warp")


def crop_image(img: Image, crop: Crop) -> Image:
    """``img`` cut to ``crop`` (clipped to the image); raises ContractError when nothing is left."""
    t, l, h, w = _window(img.height, img.width, crop)
    return img.with_data(img.data[t : t + h, l : l + w], crop=None)


def geometry(img: Image, params: GeometryParams = GeometryParams()) -> Image:
    """Apply OpcodeList3 (when ``apply_warp``) and the default crop (when ``apply_crop``).

    When the last opcode to run is a WarpRectilinear, the crop is fused into it (only the
    cropped window is resampled): same pixels, less work.
    """
    if not isinstance(img, Image):
        raise ContractError(f"geometry takes an Image, got {type(img).__name__}")
    crop = img.crop if params.apply_crop else None
    ops = [op for op in img.opcodes3 if not op.preview_only] if params.apply_warp else []
    if ops:
        data = img.data
        for k, op in enumerate(ops):
            if isinstance(op, WarpRectilinear):
                fuse = crop if k == len(ops) - 1 else None
                data = warp_rectilinear(data, op, params.interpolation, fuse)
                if fuse is not None:
                    return img.with_data(data, opcodes3=(), crop=None)
            else:
                data = apply_opcodes(data, [op], None)
        img = img.with_data(data, opcodes3=())
    if crop is not None:
        img = crop_image(img, crop)
    return img


def geometry_pointwise(img: Image, params: GeometryParams = GeometryParams()) -> object | None:
    """Stage fusion hint when no OpcodeList3 warp has to run: the default crop as a window
    (the stage before then computes only the cropped pixels), or the identity; else None."""
    if params.apply_warp and any(not op.preview_only for op in img.opcodes3):
        return None
    if params.apply_crop and img.crop is not None:
        window = _window(img.height, img.width, img.crop)
        if window == (0, 0, img.height, img.width):
            return PixelMatrix.identity(crop=None)
        return PixelMatrix.crop(window, crop=None)
    return PixelMatrix.identity()


STAGE = StageDef(
    "geometry", geometry, GeometryParams, takes=CAMERA_LINEAR, gives=CAMERA_LINEAR,
    pointwise=geometry_pointwise,
)
