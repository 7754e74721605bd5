"""``develop``: raw -> finished photograph, as one ordered pipeline of ISP stages.

The stage list is data (:data:`STAGE_ORDER`, :mod:`rawlux.isp.stages`); a recipe
(:mod:`rawlux.app.recipe`) configures every stage and :class:`~rawlux.core.pipeline.Pipeline`
checks the contract chain once. This module is the library facade above the application layer.
"""

from __future__ import annotations

from os import PathLike
from typing import Any, Callable

from rawlux.core.image import Image, RawImage
from rawlux.core.memory import reuse_freed_memory
from rawlux.core.pipeline import Pipeline

__all__ = ["DEFAULT_LOOK", "STAGE_ORDER", "DevelopOptions", "build_pipeline", "develop", "reuse_freed_memory", "stage_definitions"]

from rawlux.isp.stages import DEFAULT_LOOK, STAGE_ORDER, stage_definitions  # noqa: F401 - re-exported


def __getattr__(name: str) -> Any:
    # ``DevelopOptions`` is derived from the stage params (rawlux.app.recipe.DEVELOP_OPTIONS) on
    # first use, so ``import rawlux`` does not import every stage module.
    if name == "DevelopOptions":
        from rawlux.app.recipe import develop_options_class

        return develop_options_class()
    raise AttributeError(f"module 'rawlux.develop' has no attribute {name!r}")


def build_pipeline(options: Any = None, lut: Any = None, raw: RawImage | None = None) -> Pipeline:
    """The develop pipeline configured from ``options`` (a ``DevelopOptions``, default: the
    defaults) and ``lut`` (a ``.cube`` path, a loaded LUT or None); ``raw`` decides
    ``lens_correction="auto"``: :func:`rawlux.app.recipe.build_pipeline`."""
    from rawlux.app.recipe import build_pipeline as build

    return build(options, lut, raw)


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
    sharpen, scene_referred, profile, hdr, headroom, transfer; see ``rawlux.app.recipe.schema()``), validated with one-line
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
    rec = base.with_options(**options)  # validated before the raw is read
    with reuse_freed_memory():
        if isinstance(raw_or_path, RawImage):
            raw = raw_or_path
        else:
            from rawlux.io.raw import open_raw  # lazy: `import rawlux` stays light

            raw = open_raw(raw_or_path)
        from rawlux.app.run import run_pipeline  # + the gain map with hdr=True

        return run_pipeline(rec.pipeline(raw=raw), raw, on_stage=on_stage)
