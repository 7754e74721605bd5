"""The look registry: built-in looks from ``rawlux/looks/data/*.toml``, user looks from the
folders in ``RAWLUX_LOOKS_DIR`` (``os.pathsep``-separated) and ``~/.config/rawlux/looks``, and
look files given by path (files found and read by :mod:`rawlux.core.datafiles`).
"""

from __future__ import annotations

import os
from pathlib import Path

from rawlux.core import datafiles
from rawlux.core.errors import InvalidParameter
from rawlux.core.registry import Registry
from rawlux.looks.spec import NEUTRAL, LookSpec, parse_look

DATA_DIR = datafiles.LOOKS.builtin
ENV_DIR = datafiles.LOOKS.env

#: The DNG camera profile's own rendering (hue/sat map, gain table map, look table, tone
#: curve: :mod:`rawlux.isp.profile`); for an image without a profile it renders as neutral.
CAMERA = NEUTRAL.__class__(
    "camera", "the camera profile's own rendering (DNG/DCP hue-sat map, look table, tone curve, "
    "phone gain table map); neutral when the raw has no profile", is_neutral=True)

_cache: dict[tuple[str, ...], Registry[LookSpec]] = {}


def _load_file(path: Path) -> LookSpec:
    return datafiles.load_file(datafiles.LOOKS, path, parse_look)


def registry() -> Registry[LookSpec]:
    """All named looks (built-in + user folders, by their ``name`` key); earlier folders win."""
    dirs = tuple(str(d) for d in datafiles.search_dirs(datafiles.LOOKS))
    if dirs not in _cache:
        reg: Registry[LookSpec] = Registry("look")
        reg.register("neutral", NEUTRAL)
        reg.register("camera", CAMERA)
        for d in reversed(dirs):
            for f in sorted(Path(d).glob("*.toml")):
                spec = _load_file(f)
                if spec.name in ("neutral", "camera"):
                    raise InvalidParameter(f"the name '{spec.name}' is reserved", f)
                reg.register(spec.name, spec)
        _cache[dirs] = reg
    return _cache[dirs]


def get_look(name_or_path: str | os.PathLike[str]) -> LookSpec:
    """A look by name, or loaded from a ``.toml`` path."""
    if datafiles.is_path(datafiles.LOOKS, name_or_path):
        return _load_file(datafiles.resolve(datafiles.LOOKS, name_or_path))
    return registry().get(str(name_or_path))


def look_names() -> list[str]:
    """Sorted names of every registered look (``neutral`` included)."""
    return registry().names()
