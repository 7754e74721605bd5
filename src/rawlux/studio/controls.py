"""The studio's controls: their description for the page (:func:`schema`, built from the one
parameter source, :func:`rawlux.app.recipe.schema`) and the validation of the options a page
sends (:func:`develop_options`); option keys of each cached render part."""

from __future__ import annotations

import functools
from typing import Any

from rawlux.core.errors import InvalidParameter

#: Long side (px) of the preview render; full resolution is rendered on demand.
PREVIEW_LONG_SIDE = 1280
#: Options the studio does not expose (no LUT or DCP file from a web page; scene-referred and HDR
#: output are export choices: the previews are SDR).
HIDDEN = ("lut", "lut_strength", "profile", "scene_referred", "hdr", "headroom", "transfer")
#: Options that act on raw data only (a developed photo enters at the look stage).
RAW_ONLY = ("wb", "highlights", "denoise", "sharpen", "demosaic", "lens_correction", "crop")
#: A developed photo opens as it is: the neutral look leaves it unchanged (mean |diff| < 2/255).
PHOTO_DEFAULTS = {"look": "neutral"}

GEOMETRY_KEYS = ("wb", "highlights", "denoise", "demosaic", "lens_correction", "crop")
SCENE_KEYS = GEOMETRY_KEYS + ("exposure", "sharpen")
ALL_KEYS = SCENE_KEYS + ("look", "strength", "color_space", "gamut")
_GROUPS = {
    "look": "Look", "strength": "Look",
    "exposure": "Light", "wb": "Light", "highlights": "Light",
    "denoise": "Detail", "sharpen": "Detail", "demosaic": "Detail",
    "lens_correction": "Lens", "crop": "Lens",
    "color_space": "Output", "gamut": "Output",
}
#: schema type of an option -> the control's value type
_TYPES = {"bool": "bool", "float": "float", "int": "float", "enum": "str", "str": "str"}


@functools.lru_cache(maxsize=1)
def options() -> dict[str, dict[str, Any]]:
    """The develop options the studio shows, by name, as :func:`rawlux.app.recipe.schema`
    describes them (type, default, bounds, unit, doc, choices, stage fields they set)."""
    from rawlux.app.recipe import schema as recipe_schema

    return {o["name"]: o for o in recipe_schema()["options"] if o["name"] not in HIDDEN}


@functools.lru_cache(maxsize=1)
def aperture_range() -> tuple[float, float]:
    """The f-numbers a portrait lens takes (``app.recipe.schema(commands=True)``: the lens
    params' ``default_aperture`` bounds); 0 means the lens' own aperture."""
    from rawlux.app.recipe import schema as recipe_schema

    lens = recipe_schema(commands=True)["commands"]["portrait"]["lens"]["fields"]
    f = next(x for x in lens if x["name"] == "default_aperture")
    return float(f["lo"]), float(f["hi"])


def schema() -> dict[str, Any]:
    """Description of every control: one dict per develop option (name, type, default, lo, hi,
    unit, doc, choices, group, targets) plus the portrait lenses and frame layouts. The front
    end builds its controls from this."""
    from rawlux.looks.registry import look_names
    from rawlux.looks.sheet import ordered

    order = list(dict.fromkeys(_GROUPS.values()))
    ranked = sorted(options().values(),
                    key=lambda o: order.index(_GROUPS[o["name"]]) if o["name"] in _GROUPS
                    else len(order))
    fields = []
    for o in ranked:
        d = {k: o.get(k) for k in ("name", "default", "lo", "hi", "doc", "choices", "targets")}
        d["unit"] = o.get("unit") or ""
        d["group"] = _GROUPS.get(o["name"], "More")
        d["type"] = _TYPES.get(o["type"], "str")
        if o["name"] == "look":
            d["choices"] = ordered(look_names())  # names only: no look files from a web page
        elif o["name"] == "wb":
            d["type"] = "wb"
            d["kelvin"] = {"lo": 1700.0, "hi": 50000.0, "default": 5500.0, "unit": "K"}
            d["tint"] = {"lo": -150.0, "hi": 150.0, "default": 0.0, "unit": ""}
        d["raw_only"] = o["name"] in RAW_ONLY
        if d["type"] == "float" and d["lo"] is not None and d["hi"] is not None:
            d["step"] = 0.05 if (d["hi"] - d["lo"]) > 2 else 0.01
        fields.append(d)
    lo, hi = aperture_range()
    return {"develop": fields, "lenses": lens_names(), "layouts": layout_names(),
            "aperture": {"lo": lo, "hi": hi, "unit": "f-number"},
            "photo_defaults": dict(PHOTO_DEFAULTS), "preview_size": PREVIEW_LONG_SIDE}


def lens_names() -> list[str]:
    """Portrait lenses by name (built-in and user folders: the one data-file registry)."""
    from rawlux.core import datafiles

    names = datafiles.names(datafiles.LENSES)
    return sorted(names, key=lambda n: (float(n), n) if n.replace(".", "").isdigit() else (1e9, n))


def layout_names() -> list[str]:
    """EXIF frame layouts by name (:func:`rawlux.app.frame.layouts`)."""
    from rawlux.app.frame import layouts

    return [name for name, _ in layouts()]


def develop_options(opts: dict[str, Any] | None) -> dict[str, Any]:
    """Validated develop options from a request's dict: unknown keys, wrong types and values
    the stage params refuse (bounds, choices, white balance text) raise
    :class:`InvalidParameter` naming the option. Looks by name only."""
    from rawlux.app.recipe import Recipe

    opts = dict(opts or {})
    known = options()
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise InvalidParameter(f"unknown option(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for k, v in opts.items():
        t = _TYPES.get(known[k]["type"], "str")
        if t == "bool":
            if not isinstance(v, bool):
                raise InvalidParameter(f"option {k} must be true or false, got {v!r}")
        elif t == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidParameter(f"option {k} must be a number, got {v!r}")
            v = float(v)
        elif not isinstance(v, str):
            raise InvalidParameter(f"option {k} must be text, got {v!r}")
        out[k] = v
    if "look" in out:
        from rawlux.looks.registry import look_names

        if out["look"] not in look_names():  # names only: no paths from a web page
            raise InvalidParameter(
                f"look {out['look']!r} is unknown; valid: {', '.join(look_names())}")
    Recipe.default().with_options(**out)  # bounds, choices, wb text: the stage params decide
    return out


def part_key(opts: dict[str, Any], names: tuple[str, ...]) -> tuple:
    """The values of option ``names`` (defaults filled in): the cache key of a render part."""
    d = {n: o["default"] for n, o in options().items()}
    d.update(opts)
    return tuple((n, d[n]) for n in names)
