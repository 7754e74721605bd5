"""Recipes of the studio: the develop recipe of a photo saved beside it (never in it), as
``rawlux develop --recipe`` reads it (:mod:`rawlux.app.recipe`, sidecar ``PHOTO.EXT.rawlux.toml``)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from rawlux.studio.controls import develop_options, options

__all__ = ["RECIPE_SUFFIX", "recipe_path", "save_recipe", "load_recipe", "recipe_of",
           "options_of"]

RECIPE_SUFFIX = ".rawlux.toml"


def recipe_path(path: Path) -> Path:
    """The recipe sidecar of the photo ``path`` (:func:`rawlux.app.recipe.sidecar_path`)."""
    from rawlux.app.recipe import sidecar_path

    return sidecar_path(path)


def recipe_of(opts: dict[str, Any]) -> Any:
    """The :class:`rawlux.app.recipe.Recipe` of the studio options ``opts`` (validated)."""
    from rawlux.app.recipe import Recipe

    return Recipe.default().with_options(**develop_options(opts))


def save_recipe(path: Path, opts: dict[str, Any]) -> Path:
    """Write the recipe of ``opts`` beside the photo ``path`` (atomically); returns its path."""
    from rawlux.app.recipe import save_recipe as write

    return write(recipe_of(opts), recipe_path(path))


def _value(v: Any) -> Any:
    return v.value if isinstance(v, enum.Enum) else v


def options_of(recipe: Any) -> dict[str, Any]:
    """The studio options a recipe sets, where they differ from the develop defaults (stage
    fields no studio control sets are not shown; the recipe file keeps them for export)."""
    from rawlux.app.recipe import Recipe

    base = Recipe.default()
    out: dict[str, Any] = {}
    for name, o in options().items():
        targets = o.get("targets") or []
        if name == "wb":
            wb = recipe["white_balance"]
            if wb == base["white_balance"]:
                continue
            mode = _value(wb.mode)
            out[name] = (f"{wb.kelvin:g},{wb.tint:+g}" if mode == "kelvin" else str(mode))
            continue
        if not targets or "." not in targets[0]:
            continue
        stage, _, field = targets[0].partition(".")
        v, d = _value(getattr(recipe[stage], field)), _value(getattr(base[stage], field))
        if v != d and (name != "look" or isinstance(v, str)):
            out[name] = v
    return out


def load_recipe(path: Path) -> dict[str, Any] | None:
    """The studio options of the recipe beside ``path``, or None when there is none."""
    from rawlux.app.recipe import load_recipe as read

    src = recipe_path(path)
    if not src.is_file():
        return None
    return options_of(read(src))
