"""Recipe adapter for batch: the app layer's :class:`~rawlux.app.recipe.Recipe`, plus the one
canonical JSON the ledger hashes settings with.

A batch recipe is an ordinary rawlux recipe file (``--save-recipe`` of ``develop``, TOML or
JSON, older versions migrated) or a mapping of develop options (``{"exposure": 1.0}``; a
``lut`` path there is referenced by content). The ledger keys on :meth:`Recipe.hash`: every
stage parameter, and data files (LUT, look files) by their sha256, not their path, so a
changed LUT changes the hash.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from rawlux.app.develop import develop_recipe
from rawlux.app.recipe import Recipe
from rawlux.app.recipe import load_recipe as _load
from rawlux.core.params import FileRef

__all__ = ["Recipe", "load_recipe", "as_recipe", "canonical_json", "check_files"]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, floats as Python repr."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def as_recipe(options: Mapping[str, Any] | None = None,
              lut: str | os.PathLike[str] | None = None) -> Recipe:
    """The develop defaults with ``options`` (develop option names) and ``lut`` written over
    them; every value validated now (one-line :class:`InvalidParameter`)."""
    return develop_recipe(dict(options or {}), lut=os.fspath(lut) if lut is not None else None)


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a ``.toml`` or ``.json`` rawlux recipe (see :func:`rawlux.app.recipe.load_recipe`)."""
    return _load(path)


def check_files(recipe: Recipe) -> None:
    """Check, before any work, that every data file the recipe references (LUT, look, layout,
    logo) still has the content it recorded: one :class:`InvalidParameter` naming the file,
    instead of the same failure in every job."""
    for _, params in (*recipe.stages, *recipe.commands):
        for f in dataclasses.fields(params):
            value = getattr(params, f.name)
            if isinstance(value, FileRef):
                value.verified_path()
