"""The look registry: built-in looks from ``rawlux/looks/data/*.toml``, user looks from the
directories in ``RAWLUX_LOOKS_DIR`` (``os.pathsep``-separated), and look files given by path.
"""

from __future__ import annotations

import os
from pathlib import Path

from rawlux.core.errors import InvalidParameter
from rawlux.core.registry import Registry
from rawlux.looks.spec import NEUTRAL, LookSpec, load_look_file

DATA_DIR = Path(__file__).resolve().parent / "data"
ENV_DIR = "RAWLUX_LOOKS_DIR"

#: The DNG camera profile's own rendering (hue/sat map, gain table map, look table, tone
#: curve: :mod:`rawlux.isp.profile`); for an image without a profile it renders as neutral.
CAMERA = NEUTRAL.__class__(
    "camera", "the camera profile's own rendering (DNG/DCP hue-sat map, look table, tone curve, "
    "phone gain table map); neutral when the raw has no profile", is_neutral=True)

_cache: dict[tuple[str, ...], Registry[LookSpec]] = {}
_file_cache: dict[tuple[str, float], LookSpec] = {}


def _dirs() -> tuple[str, ...]:
    extra = [d for d in os.environ.get(ENV_DIR, "").split(os.pathsep) if d.strip()]
    return (str(DATA_DIR), *extra)


def _load_file(path: Path) -> LookSpec:
    key = (str(path.resolve()), path.stat().st_mtime if path.exists() else 0.0)
    if key not in _file_cache:
        _file_cache[key] = load_look_file(path)
    return _file_cache[key]


def registry() -> Registry[LookSpec]:
    """All named looks (built-in + user dirs); later directories override earlier names."""
    dirs = _dirs()
    if dirs not in _cache:
        reg: Registry[LookSpec] = Registry("look")
        reg.register("neutral", NEUTRAL)
        reg.register("camera", CAMERA)
        for d in dirs:
            p = Path(d)
            if d != str(DATA_DIR) and not p.is_dir():
                raise InvalidParameter(f"{ENV_DIR} entry is not a directory", p)
            for f in sorted(p.glob("*.toml")):
                spec = _load_file(f)
                if spec.name in ("neutral", "camera"):
                    raise InvalidParameter(f"the name '{spec.name}' is reserved", f)
                reg.register(spec.name, spec)
        _cache[dirs] = reg
    return _cache[dirs]


def get_look(name_or_path: str | os.PathLike[str]) -> LookSpec:
    """A look by name, or loaded from a ``.toml`` path."""
    s = str(name_or_path)
    if s.lower().endswith(".toml") or os.sep in s:
        return _load_file(Path(s))
    return registry().get(s)


def look_names() -> list[str]:
    """Sorted names of every registered look (``neutral`` included)."""
    return registry().names()
