"""Recipe adapter for batch: a TOML/JSON file of develop options -> validated options + hash.

This is the ONE place batch reads recipes (the app layer's ``app/recipe.py`` replaces it at
merge). A recipe file holds :class:`rawlux.develop.DevelopOptions` fields, either at the top
level or in a ``[develop]`` table, plus an optional ``lut`` (path to a ``.cube``, relative to
the recipe file). The hash is the sha256 of the canonical JSON of *all* options with defaults
filled in (so stating a default changes nothing) and of the LUT file's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rawlux.core.errors import InvalidParameter, MissingInput

__all__ = ["BatchRecipe", "load_recipe", "as_recipe", "canonical_json"]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, floats as Python repr."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


@dataclass(frozen=True)
class BatchRecipe:
    """Develop options (validated, complete) and the LUT they use (absolute path or None)."""

    options: Mapping[str, Any] = field(default_factory=dict)
    lut: str | None = None
    source: str | None = None  # file it came from (for messages)

    def develop_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`rawlux.develop.develop` (without ``lut``)."""
        return dict(self.options)

    def hash(self) -> str:
        """sha256 (hex) of the canonical options and the LUT file's content."""
        h = hashlib.sha256(canonical_json({"develop": dict(self.options)}).encode())
        if self.lut is not None:
            h.update(b"\0lut\0")
            with open(self.lut, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()


def _complete(options: Mapping[str, Any], where: str) -> dict[str, Any]:
    from rawlux.develop import DevelopOptions

    known = set(DevelopOptions.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidParameter(f"{where}: unknown recipe option(s): {', '.join(unknown)}; "
                               f"valid: {', '.join(sorted(known))}")
    try:
        opts = DevelopOptions(**options)
    except TypeError as e:  # pragma: no cover - unknown names are caught above
        raise InvalidParameter(f"{where}: {e}") from None
    if "wb" in options:
        from rawlux.isp.white_balance import parse_wb

        parse_wb(opts.wb)
    return asdict(opts)


def as_recipe(options: Mapping[str, Any] | None = None, lut: str | os.PathLike[str] | None = None,
              source: str | None = None) -> BatchRecipe:
    """A recipe from option values (missing ones take their defaults)."""
    lut_path = None
    if lut is not None:
        p = Path(lut).resolve()
        if not p.is_file():
            raise MissingInput("LUT file does not exist", p)
        lut_path = str(p)
    return BatchRecipe(_complete(dict(options or {}), source or "recipe"), lut_path, source)


def load_recipe(path: str | os.PathLike[str]) -> BatchRecipe:
    """Read a ``.toml`` or ``.json`` recipe (see module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise MissingInput("recipe file does not exist", p)
    text = p.read_bytes()
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidParameter(f"{p}: not a valid recipe ({' '.join(str(e).split())})") from None
    if not isinstance(data, dict):
        raise InvalidParameter(f"{p}: a recipe is a table of options")
    data = dict(data)
    data.pop("version", None)
    data.pop("_version", None)
    section = data.pop("develop", None)
    if section is not None:
        if not isinstance(section, dict):
            raise InvalidParameter(f"{p}: [develop] must be a table")
        data.update(section)
    lut = data.pop("lut", None)
    if lut is not None:
        lut = p.parent / str(lut)
    return as_recipe(data, lut, str(p))
