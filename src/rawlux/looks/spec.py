"""Look definitions as data: :class:`LookSpec` parsed from one TOML file per look.

A look file has a top-level ``name`` and ``description`` and these optional tables (every key
optional, defaults = no change; bounds are checked and an error names the file and key):

``[tone]`` exposure (EV), pivot, grey, contrast, white, toe, black — see :mod:`rawlux.looks.tone`.
``[local]`` local tone mapping on scene-linear log luminance — shadows (0..1 lift of dark regions
toward the pivot), shadow_start (stops below the pivot where the lift begins), highlights (0..1 compression of bright regions), detail (local contrast
boost, -0.5..1), max_lift (EV cap of the local gain), radius (fraction of the image's short
side), edge (edge-stop in stops: steps larger than this keep their contrast).
``[color]`` saturation, vibrance (boosts low-chroma colours more), highlight_desaturation,
skin_protection (0..1: share of the chroma gain withheld from skin tones), shadow_saturation.
``[[hue]]`` per-hue adjustments (Oklab hue in degrees, width, saturation, lightness, shift).
``[split]`` split toning: shadows_hue, shadows_amount, highlights_hue, highlights_amount.
``[mono]`` enabled, mix (linear Rec.2020 R, G, B weights -> grey), tint_hue, tint_amount.
``[adapt]`` scene-adaptive key and black point from the image's own statistics: key (EV cap of
the pull-down of a too-bright median toward key_target), black (0..1 share of a raised black floor
— haze, flare — removed so the darkest 1 % reach black_target). Off by default.
``[vignette]`` a *creative* radial darkening: amount (EV at the corners; negative darkens),
midpoint (radius where it starts). Default 0. Lens light falloff is the lens-correction stage's
business (it is corrected there or left as captured); a look never re-adds it, so only stylised
looks that say "vignette" in their description use this.
``[grain]`` amount (relative, 0..0.2), size (pixels).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rawlux.core import datafiles
from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.params import StageParams, param
from rawlux.looks.tone import solve_curve


@dataclass(frozen=True)
class ToneSpec(StageParams):
    """Global tone: exposure and the tone curve (see rawlux.looks.tone)."""

    exposure: float = param(0.0, lo=-4.0, hi=4.0, unit="EV", doc="exposure offset of the look")
    pivot: float = param(0.18, lo=0.01, hi=1.0, doc="scene value mapped to `grey`")
    grey: float = param(0.18, lo=0.05, hi=0.5, doc="display-linear value of the pivot")
    contrast: float = param(1.0, lo=0.3, hi=3.0, doc="log-log slope at the pivot")
    white: float = param(6.0, lo=1.5, hi=16.0, unit="stops", doc="stops above pivot -> white")
    toe: float = param(0.0, lo=0.0, hi=1.0, doc="shadow crush")
    black: float = param(0.0, lo=0.0, hi=0.1, doc="display black lift (fade)")


@dataclass(frozen=True)
class LocalSpec(StageParams):
    """Local tone mapping (guided-filter base/detail split of log2 luminance)."""

    shadows: float = param(0.0, lo=0.0, hi=1.0, doc="lift of dark regions toward the pivot")
    shadow_start: float = param(1.0, lo=0.0, hi=6.0, unit="stops",
                                doc="stops below the pivot where the shadow lift begins")
    highlights: float = param(0.0, lo=0.0, hi=1.0, doc="compression of bright regions")
    detail: float = param(0.0, lo=-0.5, hi=1.0, doc="local contrast boost of the detail layer")
    max_lift: float = param(2.0, lo=0.0, hi=4.0, unit="EV", doc="cap on the local gain")
    radius: float = param(0.04, lo=0.005, hi=0.25, doc="filter radius, fraction of short side")
    edge: float = param(0.4, lo=0.1, hi=4.0, unit="stops", doc="edge-stop of the guided filter")

    @property
    def active(self) -> bool:
        return self.shadows > 0.0 or self.highlights > 0.0 or self.detail != 0.0


@dataclass(frozen=True)
class ColorSpec(StageParams):
    """Global colour (Oklab chroma/lightness operations on display-linear values)."""

    saturation: float = param(1.0, lo=0.0, hi=2.0, doc="chroma multiplier")
    vibrance: float = param(0.0, lo=-1.0, hi=1.0, doc="extra chroma gain for muted colours")
    highlight_desaturation: float = param(0.0, lo=0.0, hi=1.0, doc="chroma fade near white")
    shadow_saturation: float = param(1.0, lo=0.0, hi=2.0, doc="chroma multiplier in deep shadows")
    skin_protection: float = param(0.0, lo=0.0, hi=1.0, doc="share of chroma gain kept off skin")


@dataclass(frozen=True)
class HueSpec(StageParams):
    """One per-hue adjustment band (Oklab hue angle)."""

    hue: float = param(0.0, lo=-360.0, hi=360.0, unit="deg", doc="band centre, Oklab hue")
    width: float = param(40.0, lo=5.0, hi=180.0, unit="deg", doc="band half width")
    saturation: float = param(1.0, lo=0.0, hi=2.0, doc="chroma multiplier in the band")
    lightness: float = param(0.0, lo=-0.2, hi=0.2, doc="Oklab L offset in the band")
    shift: float = param(0.0, lo=-30.0, hi=30.0, unit="deg", doc="hue rotation in the band")


@dataclass(frozen=True)
class SplitSpec(StageParams):
    """Split toning: tint shadows and highlights (Oklab a/b offsets)."""

    shadows_hue: float = param(220.0, lo=-360.0, hi=360.0, unit="deg", doc="shadow tint hue")
    shadows_amount: float = param(0.0, lo=0.0, hi=0.1, doc="shadow tint chroma (Oklab)")
    highlights_hue: float = param(70.0, lo=-360.0, hi=360.0, unit="deg", doc="highlight tint hue")
    highlights_amount: float = param(0.0, lo=0.0, hi=0.1, doc="highlight tint chroma (Oklab)")


@dataclass(frozen=True)
class MonoSpec(StageParams):
    """Monochrome conversion (channel mix on scene-linear Rec.2020) and a tint."""

    enabled: bool = param(False, doc="render in monochrome")
    mix: tuple = param((0.30, 0.60, 0.10), doc="R, G, B weights (linear Rec.2020), sum ~1")
    tint_hue: float = param(70.0, lo=-360.0, hi=360.0, unit="deg", doc="tint hue (Oklab)")
    tint_amount: float = param(0.0, lo=0.0, hi=0.1, doc="tint chroma (Oklab)")


@dataclass(frozen=True)
class AdaptSpec(StageParams):
    """Scene-adaptive key and black point, measured on the image (see rawlux.looks.adapt)."""

    key: float = param(0.0, lo=0.0, hi=2.0, unit="EV",
                       doc="largest exposure pull-down of a median brighter than key_target")
    key_target: float = param(0.35, lo=0.1, hi=0.8,
                              doc="display-linear median above which `key` pulls down")
    black: float = param(0.0, lo=0.0, hi=1.0,
                         doc="share of a raised black floor (haze, flare) that is removed")
    black_target: float = param(0.01, lo=0.001, hi=0.05,
                                doc="display-linear value the darkest 1 % may reach at most")
    black_percentile: float = param(1.0, lo=0.1, hi=10.0, unit="%",
                                    doc="percentile of the scene that defines its black floor")
    black_chroma: float = param(0.0, lo=0.0, hi=1.0,
                                doc="0 = the floor is removed from luminance only, 1 = from "
                                    "each channel (restores the colour haze washed out)")

    @property
    def active(self) -> bool:
        return self.key > 0.0 or self.black > 0.0


@dataclass(frozen=True)
class VignetteSpec(StageParams):
    """Creative radial exposure falloff (scene-linear); 0 = none (the default)."""

    amount: float = param(0.0, lo=-2.0, hi=1.0, unit="EV", doc="exposure change at the corners")
    midpoint: float = param(0.35, lo=0.0, hi=0.95, doc="normalised radius where it starts")


@dataclass(frozen=True)
class GrainSpec(StageParams):
    """Film-like luminance grain (deterministic)."""

    amount: float = param(0.0, lo=0.0, hi=0.2, doc="relative grain strength")
    size: float = param(1.5, lo=1.0, hi=8.0, unit="px", doc="grain size")


SECTIONS: dict[str, type[StageParams]] = {
    "tone": ToneSpec, "local": LocalSpec, "color": ColorSpec, "split": SplitSpec,
    "mono": MonoSpec, "vignette": VignetteSpec, "grain": GrainSpec, "adapt": AdaptSpec,
}


@dataclass(frozen=True)
class LookSpec:
    """A complete look; ``neutral`` is the special colorimetric look (``is_neutral``)."""

    name: str
    description: str = ""
    tone: ToneSpec = ToneSpec()
    local: LocalSpec = LocalSpec()
    color: ColorSpec = ColorSpec()
    hue: tuple[HueSpec, ...] = ()
    split: SplitSpec = SplitSpec()
    mono: MonoSpec = MonoSpec()
    vignette: VignetteSpec = VignetteSpec()
    grain: GrainSpec = GrainSpec()
    adapt: AdaptSpec = AdaptSpec()
    source: str | None = None
    is_neutral: bool = False


NEUTRAL = LookSpec("neutral", "colorimetric: scene colour as measured, no creative curve; "
                   "highlights above the knee roll off into white instead of clipping",
                   is_neutral=True)


def _section(cls: type[StageParams], data: Any, where: str, path: str) -> StageParams:
    if not isinstance(data, dict):
        raise InvalidParameter(f"[{where}] must be a table, got {type(data).__name__}", path)
    names = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise InvalidParameter(
                f"unknown key {where}.{key}; valid: {', '.join(sorted(names))}", path)
        default = names[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise InvalidParameter(f"{where}.{key} must be true/false, got {value!r}", path)
        elif isinstance(default, tuple):
            if (not isinstance(value, list) or len(value) != len(default)
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in value)):
                raise InvalidParameter(
                    f"{where}.{key} must be a list of {len(default)} numbers, got {value!r}", path)
            value = tuple(float(v) for v in value)
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidParameter(f"{where}.{key} must be a number, got {value!r}", path)
            value = float(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except InvalidParameter as err:
        reason = err.reason.replace(f"{cls.__name__}.", f"{where}.")
        raise InvalidParameter(reason, path) from None


def parse_look(data: dict[str, Any], path: str | os.PathLike[str], name: str | None = None
               ) -> LookSpec:
    """Build a :class:`LookSpec` from parsed TOML ``data``; errors name ``path`` and the key."""
    p = str(path)
    known = {"name", "description", "hue", *SECTIONS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidParameter(f"unknown key(s) {', '.join(unknown)}; valid: "
                               f"{', '.join(sorted(known))}", p)
    look_name = data.get("name", name if name is not None else Path(p).stem)
    if not isinstance(look_name, str) or not look_name.strip():
        raise InvalidParameter(f"name must be a non-empty string, got {look_name!r}", p)
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise InvalidParameter(f"description must be a string, got {desc!r}", p)
    kw: dict[str, Any] = {}
    for sec, cls in SECTIONS.items():
        if sec in data:
            kw[sec] = _section(cls, data[sec], sec, p)
    hues = data.get("hue", [])
    if not isinstance(hues, list):
        raise InvalidParameter("hue must be an array of tables ([[hue]])", p)
    kw["hue"] = tuple(_section(HueSpec, h, f"hue[{i}]", p) for i, h in enumerate(hues))
    spec = LookSpec(name=look_name.strip().lower(), description=desc, source=p, **kw)
    try:  # the tone curve must be solvable

        solve_curve(spec.tone.grey, spec.tone.contrast, spec.tone.white)
    except RawluxError as err:
        raise InvalidParameter(f"[tone] {err.reason}", p) from None
    return spec


def load_look_file(path: str | os.PathLike[str]) -> LookSpec:
    """Read one look TOML file (errors: MissingInput, InvalidParameter naming file and key)."""
    p = Path(path)
    return parse_look(datafiles.read_toml(p, datafiles.LOOKS), p)


def with_changes(spec: LookSpec, **changes: Any) -> LookSpec:
    """A copy of ``spec`` with some fields replaced (helper for tests and tools)."""
    return dataclasses.replace(spec, **changes)
