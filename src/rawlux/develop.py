"""``develop``: raw -> finished photograph, as one ordered pipeline of ISP stages.

The stage list is data (:data:`STAGE_ORDER`); :func:`build_pipeline` configures it from user
options and :class:`~rawlux.isp.pipeline.Pipeline` checks the contract chain once.
"""

from __future__ import annotations

import importlib
from os import PathLike
from typing import Any, Callable

from rawlux.core.image import Image, RawImage
from rawlux.core.memory import reuse_freed_memory
from rawlux.isp.pipeline import Pipeline, StageDef

__all__ = ["DEFAULT_LOOK", "STAGE_ORDER", "DevelopOptions", "build_pipeline", "develop", "reuse_freed_memory", "stage_definitions"]

#: Stage modules in pipeline order (``rawlux.isp.<name>`` each exposing ``STAGE``).
STAGE_ORDER: tuple[str, ...] = (
    "black_level",
    "lens_shading",
    "white_balance",
    "highlights",
    "denoise",
    "demosaic",
    "geometry",
    "color_transform",
    "sharpen",
    "look",
    "output",
)

DEFAULT_LOOK = "authentic"


def stage_definitions() -> dict[str, StageDef]:
    """Every develop stage definition by name (imports the stage modules)."""
    defs = {}
    for name in STAGE_ORDER:
        sd = importlib.import_module(f"rawlux.isp.{name}").STAGE
        defs[sd.name] = sd
    return defs


def __getattr__(name: str) -> Any:
    # ``DevelopOptions`` is derived from the stage params (rawlux.app.recipe.DEVELOP_OPTIONS) on
    # first use, so ``import rawlux`` does not import every stage module.
    if name == "DevelopOptions":
        from rawlux.app.recipe import develop_options_class

        return develop_options_class()
    raise AttributeError(f"module 'rawlux.develop' has no attribute {name!r}")


def build_pipeline(options: Any = None, lut: Any = None) -> Pipeline:
    """The develop pipeline configured from ``options`` (a ``DevelopOptions``, default: the
    defaults) and ``lut`` (a ``.cube`` path, a loaded LUT or None)."""
    from rawlux.app.recipe import Recipe, develop_options
    from rawlux.core.params import apply_options

    opts = develop_options() if options is None else options
    stages = apply_options(dict(Recipe.default().stages), opts)
    rec = Recipe(tuple(stages.items()))
    return (rec if lut is None else rec.with_options(lut=lut)).pipeline()


def develop(
    raw_or_path: RawImage | str | PathLike[str],
    *,
    lut: Any = None,
    recipe: Any = None,
    on_stage: Callable[[str, int, int], None] | None = None,
    **options: Any,
) -> Image:
    """Develop a raw (object or path) into a display-encoded :class:`Image`.

    ``options`` are the fields of :class:`DevelopOptions` (look, strength, wb, exposure,
    color_space, demosaic, highlights, lens_correction, crop, gamut, lut_strength, denoise,
    sharpen, scene_referred; see ``rawlux.app.recipe.schema()``), validated with one-line
    :class:`InvalidParameter` errors. ``lut`` is a path to a ``.cube`` file or a loaded LUT.
    ``recipe`` (a :class:`~rawlux.app.recipe.Recipe` or a recipe file) sets every stage's
    params; ``options`` given here override it. Returns
    float32 [0, 1] in sRGB or Display P3 with the sRGB transfer curve, orientation applied; with
    ``scene_referred=True`` linear Rec.2020 scene values (unclipped, no look; save as float
    ``.tif`` or ``.exr``). Save it with :func:`rawlux.save`.
    """
    from rawlux.app.recipe import Recipe, load_recipe

    if lut is not None:
        options["lut"] = lut
    if recipe is None:
        base = Recipe.default()
    else:
        base = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    pipeline = base.with_options(**options).pipeline()  # validated before the raw is read
    with reuse_freed_memory():
        if isinstance(raw_or_path, RawImage):
            raw = raw_or_path
        else:
            from rawlux.io.raw import open_raw

            raw = open_raw(raw_or_path)
        return pipeline.run(raw, on_stage=on_stage)
