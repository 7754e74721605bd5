"""Recipes of the studio: the develop options of a photo saved beside it (never in it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rawlux.core.errors import InvalidParameter
from rawlux.studio.controls import develop_options

RECIPE_SUFFIX = ".rawlux.json"
RECIPE_SCHEMA = 1

__all__ = ["RECIPE_SUFFIX", "recipe_path", "save_recipe", "load_recipe"]


def recipe_path(path: Path) -> Path:
    """``PHOTO.EXT.rawlux.json`` beside ``path``."""
    return path.with_name(path.name + RECIPE_SUFFIX)


def save_recipe(path: Path, opts: dict[str, Any]) -> Path:
    """Write the validated ``opts`` beside the photo ``path`` (never the photo itself),
    atomically; returns the recipe's path."""
    opts = develop_options(opts)
    dst = recipe_path(path)
    body = {"rawlux_recipe": RECIPE_SCHEMA, "photo": path.name, "develop": opts}
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, dst)
    return dst


def load_recipe(path: Path) -> dict[str, Any] | None:
    """The saved options beside ``path`` (validated), or None when there is none."""
    src = recipe_path(path)
    if not src.is_file():
        return None
    try:
        body = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"{src.name}: not a readable recipe ({exc})") from None
    if not isinstance(body, dict) or body.get("rawlux_recipe") != RECIPE_SCHEMA:
        raise InvalidParameter(f"{src.name}: not a rawlux recipe of schema {RECIPE_SCHEMA}")
    return develop_options(body.get("develop") or {})
