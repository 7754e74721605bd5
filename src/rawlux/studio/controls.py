"""The studio's controls: their description for the page (:func:`schema`) and the validation
of the options a page sends (:func:`develop_options`); option keys of each cached render part."""

from __future__ import annotations

import dataclasses
from typing import Any

from rawlux.core.errors import InvalidParameter

#: Long side (px) of the preview render; full resolution is rendered on demand.
PREVIEW_LONG_SIDE = 1280
#: Options the studio does not expose (no LUT upload; scene-referred output is an export choice).
HIDDEN = ("lut_strength", "scene_referred")
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


def schema() -> dict[str, Any]:
    """Description of every control: one dict per develop option (name, type, default, lo, hi,
    unit, doc, choices, group) plus the portrait lenses and frame layouts. The front end builds
    its controls from this."""
    from rawlux.develop import DevelopOptions
    from rawlux.isp.demosaic import DEMOSAIC
    from rawlux.looks.registry import look_names
    from rawlux.looks.sheet import ordered

    fields = []
    order = list(dict.fromkeys(_GROUPS.values()))
    ranked = sorted(dataclasses.fields(DevelopOptions),
                    key=lambda f: order.index(_GROUPS[f.name]) if f.name in _GROUPS else len(order))
    for f in ranked:
        if f.name in HIDDEN:
            continue
        meta = dict(f.metadata)
        d: dict[str, Any] = {
            "name": f.name, "default": f.default, "lo": meta.get("lo"), "hi": meta.get("hi"),
            "unit": meta.get("unit") or "", "doc": meta.get("doc") or "",
            "choices": list(meta["choices"]) if meta.get("choices") else None,
            "group": _GROUPS.get(f.name, "More"),
        }
        d["type"] = ("bool" if isinstance(f.default, bool) else
                     "float" if isinstance(f.default, float) else "str")
        if f.name == "look":
            d["choices"] = ordered(look_names())
        elif f.name == "demosaic":
            d["choices"] = ["default"] + [n for n in DEMOSAIC.names()
                                          if not n.endswith("_reference")]
            d["default"] = "default"
        elif f.name == "wb":
            d["type"] = "wb"
            d["kelvin"] = {"lo": 1700.0, "hi": 50000.0, "default": 5500.0, "unit": "K"}
            d["tint"] = {"lo": -150.0, "hi": 150.0, "default": 0.0, "unit": ""}
        d["raw_only"] = f.name in RAW_ONLY
        if d["type"] == "float" and d["lo"] is not None and d["hi"] is not None:
            d["step"] = 0.05 if (d["hi"] - d["lo"]) > 2 else 0.01
        fields.append(d)
    return {"develop": fields, "lenses": lens_names(), "layouts": layout_names(),
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
    """Validated keyword options for :func:`rawlux.develop` from a request's dict (unknown keys,
    wrong types and out-of-range values raise :class:`InvalidParameter`, naming the option)."""
    from rawlux.develop import DevelopOptions
    from rawlux.isp.white_balance import parse_wb

    opts = dict(opts or {})
    names = {f.name: f for f in dataclasses.fields(DevelopOptions)}
    unknown = sorted(set(opts) - set(names))
    if unknown:
        raise InvalidParameter(f"unknown option(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for k, v in opts.items():
        default = names[k].default
        if k == "demosaic":
            v = None if v in (None, "", "default") else str(v)
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise InvalidParameter(f"option {k} must be true or false, got {v!r}")
        elif isinstance(default, float):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidParameter(f"option {k} must be a number, got {v!r}")
            v = float(v)
        elif not isinstance(v, str):
            raise InvalidParameter(f"option {k} must be text, got {v!r}")
        out[k] = v
    full = DevelopOptions(**out)  # bounds and choices
    parse_wb(full.wb)
    if "look" in out:
        from rawlux.looks.registry import look_names

        if out["look"] not in look_names():  # names only: no paths from a web page
            raise InvalidParameter(
                f"look {out['look']!r} is unknown; valid: {', '.join(look_names())}")
    if out.get("demosaic") is not None:
        from rawlux.isp.demosaic import DEMOSAIC

        DEMOSAIC.get(out["demosaic"])
    return out


def part_key(opts: dict[str, Any], names: tuple[str, ...]) -> tuple:
    """The values of option ``names`` (defaults filled in): the cache key of a render part."""
    from rawlux.develop import DevelopOptions

    d = {f.name: f.default for f in dataclasses.fields(DevelopOptions)}
    d.update(opts)
    return tuple((n, d[n]) for n in names)
