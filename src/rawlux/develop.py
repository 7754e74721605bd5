"""``develop``: raw -> finished photograph, as one ordered pipeline of ISP stages.

The stage list is data (:data:`STAGE_ORDER`); :func:`build_pipeline` configures it from user
options and :class:`~rawlux.core.pipeline.Pipeline` checks the contract chain once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from os import PathLike
from typing import Any, Callable

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import Image, RawImage
from rawlux.core.params import StageParams, param
from rawlux.core.memory import reuse_freed_memory
from rawlux.core.pipeline import Pipeline, Stage, StageDef

__all__ = ["DEFAULT_LOOK", "STAGE_ORDER", "DevelopOptions", "build_pipeline", "develop", "reuse_freed_memory", "stage_definitions"]

#: Stage modules in pipeline order (``rawlux.isp.<name>`` each exposing ``STAGE``).
STAGE_ORDER: tuple[str, ...] = (
    "black_level",
    "lens_shading",
    "white_balance",
    "highlights",
    "denoise",
    "demosaic",
    "lensfun",
    "geometry",
    "color_transform",
    "sharpen",
    "look",
    "output",
)

DEFAULT_LOOK = "authentic"
LENS_MODES = ("auto", "off", "dng", "lensfun")


def lens_mode(value: str | bool, raw: RawImage | None = None) -> str:
    """``DevelopOptions.lens_correction`` as a mode; "auto" with a raw becomes "dng" when the raw
    carries DNG lens opcodes (GainMap / FixVignetteRadial / WarpRectilinear), else "lensfun"."""
    mode = "auto" if value is True else "off" if value is False else str(value)
    if mode == "auto" and raw is not None:
        from rawlux.core.image import FixVignetteRadial, GainMap, WarpRectilinear

        lens_ops = (GainMap, FixVignetteRadial, WarpRectilinear)
        has = any(isinstance(op, lens_ops) for op in (*raw.opcodes2, *raw.opcodes3))
        mode = "dng" if has else "lensfun"
    return mode


def stage_definitions() -> dict[str, StageDef]:
    """Every develop stage definition by name (imports the stage modules)."""
    defs = {}
    for name in STAGE_ORDER:
        sd = importlib.import_module(f"rawlux.isp.{name}").STAGE
        defs[sd.name] = sd
    return defs


@dataclass(frozen=True)
class DevelopOptions(StageParams):
    """User-level options of :func:`develop` (each maps onto one stage's params)."""

    look: str = param(DEFAULT_LOOK, doc="look name or path to a look file")
    strength: float = param(1.0, lo=0.0, hi=1.0, doc="look strength (0 = neutral)")
    lut_strength: float = param(1.0, lo=0.0, hi=1.0, doc="blend of the user LUT")
    wb: str = param("as-shot", doc="as-shot | auto | KELVIN[,TINT]")
    exposure: float = param(0.0, lo=-10.0, hi=10.0, unit="EV", doc="exposure compensation")
    color_space: str = param("srgb", choices=("srgb", "p3"), doc="output colour space")
    demosaic: str | None = param(None, doc="demosaic method (None = default)")
    highlights: str = param("reconstruct", choices=("reconstruct", "clip", "none"),
                            doc="highlight handling")
    lens_correction: str = param(
        "auto", choices=LENS_MODES,
        doc="auto (DNG lens opcodes when the raw has them, else lensfun) | off | dng | lensfun; "
            "True/False mean auto/off")
    crop: bool = param(True, doc="apply the DNG default crop")
    gamut: str = param("compress", choices=("compress", "clip"), doc="out-of-gamut handling")
    scene_referred: bool = param(
        False, doc="no look or display encoding: linear Rec.2020 scene values, unclipped "
                   "(save as float .tif or .exr)")
    denoise: float = param(0.5, lo=0.0, hi=1.0, doc="raw noise reduction strength (0 = off)")
    sharpen: float = param(0.5, lo=0.0, hi=1.0, doc="capture sharpening amount (0 = off)")
    profile: str | None = param(None, doc="DNG camera profile (.dcp) used instead of the raw's "
                                          "own matrices and tables (see look 'camera')")


def _params(module: str, cls: str, **kw: Any) -> StageParams:
    return getattr(importlib.import_module(f"rawlux.isp.{module}"), cls)(**kw)


def build_pipeline(options: DevelopOptions, lut: Any = None, raw: RawImage | None = None) -> Pipeline:
    """The develop pipeline configured from ``options`` (``lut``: a loaded LUT object or None).
    ``raw`` (optional) resolves ``lens_correction="auto"`` (:func:`lens_mode`); without it auto
    means the DNG opcodes only (lensfun stays off: it could repeat an OpcodeList2 shading fix)."""
    from rawlux.isp.white_balance import parse_wb  # lazy: `import rawlux` loads no stage module

    defs = stage_definitions()
    lens = lens_mode(options.lens_correction)
    use_dng = lens in ("auto", "dng")  # auto keeps every DNG opcode (lens or not)
    lensfun_on = lens == "lensfun" or (lens == "auto" and raw is not None
                                       and lens_mode("auto", raw) == "lensfun")
    lensfun_mode = "on" if lensfun_on else "off"
    demosaic_kw = {} if options.demosaic is None else {"method": options.demosaic}
    params: dict[str, StageParams] = {
        "black_level": _params("black_level", "BlackLevelParams"),
        "lens_shading": _params("lens_shading", "LensShadingParams", enabled=use_dng),
        "white_balance": parse_wb(options.wb),
        "highlights": _params("highlights", "HighlightParams", method=options.highlights),
        "denoise": _params("denoise", "DenoiseParams", strength=options.denoise),
        "demosaic": _params("demosaic", "DemosaicParams", **demosaic_kw),
        "lensfun": _params("lensfun", "LensfunParams", mode=lensfun_mode),
        "geometry": _params("geometry", "GeometryParams", apply_warp=use_dng,
                            apply_crop=options.crop),
        "color_transform": _params("color_transform", "ColorTransformParams",
                                   exposure_ev=options.exposure),
        "sharpen": _params("sharpen", "SharpenParams", amount=options.sharpen),
        "look": _params("look", "LookParams", look=options.look, strength=options.strength,
                        lut=lut, lut_strength=options.lut_strength,
                        scene_referred=options.scene_referred),
        "output": _params("output", "OutputParams", color_space=options.color_space,
                          gamut_map=options.gamut, scene_referred=options.scene_referred),
    }
    return Pipeline(Stage(defs[name], params[name]) for name in STAGE_ORDER)


def develop(
    raw_or_path: RawImage | str | PathLike[str],
    *,
    lut: Any = None,
    on_stage: Callable[[str, int, int], None] | None = None,
    **options: Any,
) -> Image:
    """Develop a raw (object or path) into a display-encoded :class:`Image`.

    ``options`` are the fields of :class:`DevelopOptions` (look, strength, wb, exposure,
    color_space, demosaic, highlights, lens_correction, crop, gamut, lut_strength, denoise,
    sharpen, scene_referred). ``lut`` is a path to a ``.cube`` file or a loaded LUT. Returns
    float32 [0, 1] in sRGB or Display P3 with the sRGB transfer curve, orientation applied; with
    ``scene_referred=True`` linear Rec.2020 scene values (unclipped, no look; save as float
    ``.tif`` or ``.exr``). Save it with :func:`rawlux.save`.
    """
    unknown = sorted(set(options) - {f for f in DevelopOptions.__dataclass_fields__})
    if unknown:
        raise InvalidParameter(f"develop() got unknown option(s): {', '.join(unknown)}")
    opts = DevelopOptions(**options)
    with reuse_freed_memory():
        if isinstance(raw_or_path, RawImage):
            raw = raw_or_path
        else:
            from rawlux.io.raw import open_raw  # lazy: `import rawlux` stays light

            raw = open_raw(raw_or_path)
        if opts.profile:
            from rawlux.io.dcp import apply_profile, read_dcp

            raw = apply_profile(raw, *read_dcp(opts.profile))
        if lut is not None and not hasattr(lut, "table"):
            from rawlux.io.cube import read_cube  # lazy: `import rawlux` stays light

            lut = read_cube(lut)
        return build_pipeline(opts, lut, raw).run_plan(raw, on_stage=on_stage)
