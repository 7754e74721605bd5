"""Stage 8: the look — scene-referred linear Rec.2020 -> display-referred linear Rec.2020 [0, 1].

``neutral`` is colorimetric below a highlight shoulder: scene values are kept as they are up to a
knee and the image's own bright range above it is rolled off smoothly into display white
(:func:`rawlux.looks.render.render_neutral`), so nothing the raw holds is clipped. Every other
look comes from :mod:`rawlux.looks` (data files); ``strength`` blends the look with ``neutral``
and an optional user :class:`~rawlux.looks.lut.Lut` is applied on top (``lut_strength``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.core.params import FileRef, StageParams, param
from rawlux.core.pipeline import Contract, StageDef

TAKES = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE)
GIVES = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.DISPLAY)


@dataclass(frozen=True)
class LookParams(StageParams):
    """Look stage parameters."""

    look: str = param("neutral", files=True,
                      doc="look name (see `rawlux looks list`) or a look .toml file (path + sha256)")
    strength: float = param(1.0, lo=0.0, hi=1.0, doc="blend of the look over neutral (0 = neutral)")
    lut: FileRef | None = param(None, type=FileRef,
                                doc="user .cube LUT applied after the look (path + sha256), or none")
    lut_strength: float = param(1.0, lo=0.0, hi=1.0, doc="blend of the user LUT (0 = off)")
    scene_referred: bool = param(
        False, doc="no look: pass the scene-referred linear Rec.2020 values on unclipped "
                   "(NaN -> 0), for float TIFF / OpenEXR output graded elsewhere")

    #: 2: ``lut`` is a :class:`FileRef` (1: a loaded LUT object or a bare path)
    version: ClassVar[int] = 2

    def __post_init__(self) -> None:
        lut = self.lut
        if lut is not None and hasattr(lut, "table"):  # a loaded Lut: reference it by content
            from rawlux.io.cube import lut_ref

            object.__setattr__(self, "lut", lut_ref(lut))
        elif lut is not None and not isinstance(lut, (FileRef, dict)):
            from rawlux.core.errors import InvalidParameter

            raise InvalidParameter("LookParams.lut must be a FileRef (rawlux.io.cube.lut_ref(PATH)) "
                                   f"or a Lut, got {type(lut).__name__}")
        super().__post_init__()

    @classmethod
    def migrate(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Version 1 saved ``lut`` as a bare path string: reference it (hash unknown)."""
        data = dict(data)
        if from_version < 2 and isinstance(data.get("lut"), str):
            data["lut"] = {"path": data["lut"], "sha256": ""}
        return data


def look(img: Image, params: LookParams = LookParams()) -> Image:
    """Render ``img`` (linear Rec.2020, scene-referred) to display-referred linear Rec.2020."""
    return _look(img, params, in_place=False)


def look_inplace(img: Image, params: LookParams = LookParams()) -> Image:
    """:func:`look` rendering into ``img.data`` itself (pipeline-owned images only, see
    :attr:`~rawlux.core.pipeline.StageDef.inplace`)."""
    return _look(img, params, in_place=True)


def _look(img: Image, params: LookParams, in_place: bool) -> Image:
    TAKES.check(img, "look stage input")
    if params.scene_referred:
        return img.with_data(_finite(img.data, in_place), referred=Referred.SCENE)
    from rawlux.looks.registry import get_look
    from rawlux.looks.render import render_look, render_neutral

    name = params.look.verified_path() if isinstance(params.look, FileRef) else params.look
    spec = get_look(name)  # validates the name / file even at strength 0
    data = img.data
    reuse = in_place and data.flags.c_contiguous and data.flags.writeable and data.ndim == 3
    dst = data if reuse else None
    if spec.name == "camera" and getattr(img.calibration, "profile", None) is not None:
        import numpy as np

        from rawlux.isp.profile import render_camera  # the DNG profile's own rendering

        out = render_camera(img)
        if params.strength < 1.0:
            base = render_neutral(data)
            out = base + (out - base) * np.float32(params.strength)
    elif spec.is_neutral or params.strength == 0.0:
        out = render_neutral(data, out=dst)
    else:
        out = render_look(data, spec, params.strength, out=dst)
    if params.lut is not None and params.lut_strength > 0.0:
        from rawlux.io.cube import resolve_lut
        from rawlux.looks.lut import apply_lut_rec2020

        out = apply_lut_rec2020(out, resolve_lut(params.lut), params.lut_strength)
    return img.with_data(out, referred=Referred.DISPLAY)


def _finite(data: Any, in_place: bool) -> Any:
    """``data`` with NaN -> 0 and -inf -> 0, +inf -> float32 max (scene values stay unbounded)."""
    import numpy as np

    out = data if in_place and data.flags.writeable else data.copy()
    np.nan_to_num(out, copy=False, nan=0.0, neginf=0.0)
    np.maximum(out, 0.0, out=out)
    return out


SCENE_GIVES = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE)


def _gives(params: LookParams) -> Contract:
    return SCENE_GIVES if params.scene_referred else GIVES


STAGE = StageDef("look", look, LookParams, takes=TAKES, gives=_gives, inplace=look_inplace)
