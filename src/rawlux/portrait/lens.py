"""Lens characters: the parameters of a simulated lens, loaded from TOML data files.

Built-in characters live in ``rawlux/portrait/lenses/*.toml`` (``35``, ``50``, ``75``, ``90``); a
user copies one, edits it and passes the path instead of a name. A file has a top-level
``name``/``description`` and the sections ``[lens]``, ``[aperture]``, ``[bokeh]`` and ``[glow]``
whose keys are the fields of :class:`LensParams` (every field is optional; missing keys keep the
default).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from rawlux.core import datafiles
from rawlux.core.errors import InvalidParameter
from rawlux.core.params import StageParams, param

LENS_DIR = datafiles.LENSES.plural
BUILTIN_LENSES = ("35", "50", "75", "90")


@dataclass(frozen=True)
class LensParams(StageParams):
    """One lens character. Distances in mm on a full-frame (36 x 24 mm) equivalent sensor."""

    name: str = param("custom", doc="display name")
    focal_length: float = param(50.0, lo=10.0, hi=800.0, unit="mm", doc="full-frame focal length")
    default_aperture: float = param(1.8, lo=0.7, hi=32.0, unit="f-number",
                                    doc="f-number used when none is given")
    blades: int = param(9, lo=0, hi=32, doc="aperture blades (0 = perfectly round)")
    roundness: float = param(0.0, lo=0.0, hi=1.0, doc="0 straight blades, 1 circular opening")
    rotation: float = param(0.0, lo=-180.0, hi=180.0, unit="deg", doc="aperture polygon rotation")
    edge_brightness: float = param(0.0, lo=-1.0, hi=1.0,
                                   doc="disc profile: >0 bright rim (busy), <0 bright centre (creamy)")
    edge_softness: float = param(0.05, lo=0.0, hi=0.8,
                                 doc="width of the disc edge roll-off, fraction of the radius")
    falloff: float = param(1.0, lo=0.3, hi=3.0,
                           doc="exponent on defocus: <1 blur rises fast off the focal plane")
    cat_eye: float = param(0.0, lo=0.0, hi=0.9,
                           doc="radial squeeze of discs at the frame corner (mechanical vignetting)")
    swirl: float = param(0.0, lo=0.0, hi=3.0,
                         doc="tangential (rotational) smear at the frame corner, in disc radii")
    glow: float = param(0.0, lo=0.0, hi=1.0, doc="soft-focus glow fraction on in-focus areas")
    glow_threshold: float = param(0.5, lo=0.0, hi=0.95,
                                  doc="linear level where in-focus light starts to glow (the glow "
                                      "weight rises smoothly from here to 1.0)")
    glow_core: float = param(0.0, lo=0.0, hi=1.0,
                             doc="share of the glowing light that also stays in the sharp core "
                                 "(0 = light conserved, 1 = halo purely added)")
    glow_radius: float = param(0.01, lo=0.001, hi=0.1,
                               doc="glow Gaussian sigma as a fraction of the image long side")
    max_blur: float = param(0.08, lo=0.001, hi=0.25,
                            doc="largest CoC diameter, fraction of the image long side")

    @property
    def sides(self) -> int:
        """Number of visible polygon sides (0 = round)."""
        return 0 if self.blades < 3 or self.roundness >= 1.0 else int(self.blades)


_SECTIONS = ("lens", "aperture", "bokeh", "glow")


def lens_from_dict(data: dict, source: str = "<dict>") -> LensParams:
    """Flatten a parsed lens TOML (sections ``lens/aperture/bokeh/glow``) into :class:`LensParams`."""
    flat: dict = {}
    for key, value in data.items():
        if key in _SECTIONS and isinstance(value, dict):
            flat.update(value)
        elif key == "description":
            continue
        else:
            flat[key] = value
    names = {f.name: f for f in fields(LensParams)}
    unknown = sorted(set(flat) - set(names))
    if unknown:
        raise InvalidParameter(f"{source}: unknown lens key(s): {', '.join(unknown)}")
    kw = {}
    for key, value in flat.items():
        default = names[key].default
        try:
            if isinstance(default, bool):
                kw[key] = bool(value)
            elif isinstance(default, int):
                kw[key] = int(value)
            elif isinstance(default, float):
                kw[key] = float(value)
            else:
                kw[key] = str(value)
        except (TypeError, ValueError):
            raise InvalidParameter(f"{source}: lens key {key} = {value!r} is not a number") from None
    try:
        return LensParams(**kw)
    except InvalidParameter as err:
        raise InvalidParameter(f"{source}: {err.reason}") from None


def builtin_lens_path(name: str) -> Path:
    """Path of a built-in lens file (``35``, ``50``, ``75``, ``90``)."""
    return datafiles.LENSES.builtin / f"{name}.toml"


def _parse(data: dict, p: Path) -> LensParams:
    return lens_from_dict(data, str(p))


def load_lens(name_or_path: str | Path) -> LensParams:
    """A lens by name (``"35"``, ``"50mm"``, ``"75"``, ``"90"``, or a file in
    ``$RAWLUX_LENSES_DIR`` / ``~/.config/rawlux/lenses``) or a lens TOML path."""
    s = str(name_or_path).strip()
    if datafiles.is_path(datafiles.LENSES, name_or_path) or (s and Path(s).is_file()):
        return datafiles.load_file(datafiles.LENSES, datafiles.resolve(datafiles.LENSES, Path(s)),
                                   _parse)
    key = s.lower().removesuffix("mm")
    known = datafiles.files(datafiles.LENSES)
    if key not in known:
        raise InvalidParameter(f"unknown lens {s!r}; valid: {', '.join(known.names())} or a .toml file")
    return datafiles.load_file(datafiles.LENSES, known.get(key), _parse)
