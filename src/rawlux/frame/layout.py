"""Frame layouts as data: one TOML file per layout, parsed into a frozen :class:`Layout`.

Every length is a fraction of the photo's **short side**, so a layout looks the same at any
resolution and in portrait or landscape. A layout file::

    name = "bar"
    description = "white bar below the photo"
    background = "#ffffff"                      # sRGB hex (converted to the image's space)
    margin = { top = 0.0, right = 0.0, bottom = 0.1, left = 0.0 }

    [zone]                                      # the margin that holds text/logo
    side = "bottom"                             # "bottom" or "top"
    padding = 0.045                             # inner left/right padding from the canvas edge
    gap = 0.022                                 # space between items in a group

    [[left]]                                    # groups: left, center, right (items in order)
    type = "text"                               # "text", "logo" or "separator"
    align = "left"                              # alignment of the lines in a text block
    lines = [ { text = "{model}", size = 0.026, weight = "bold", color = "#141414" },
              { text = "{lens}", size = 0.018, color = "#8c8c8c" } ]

    [[right]]
    type = "logo"                               # the user's --logo; skipped when none
    height = 0.045
    [[right]]
    type = "separator"
    width = 0.0012
    height = 0.05
    color = "#d6d6d6"
    when = "logo"                               # only with a logo ("no-logo": only without)

A text line's ``text`` is a template (see :mod:`rawlux.frame.template`); ``caption = true`` marks
the line(s) that ``--text`` replaces (default: the first text line). ``size`` is the font size
(em) as a fraction of the short side; ``line_gap`` (per block, fraction of the next line's size)
is the space between one line's baseline and the next line's cap height.

Names resolve through :mod:`rawlux.core.datafiles`: ``$RAWLUX_LAYOUTS_DIR/NAME.toml``
(os.pathsep-separated folders, searched first, so a user can override a built-in), the user
folder ``~/.config/rawlux/layouts``, then the built-in ``layouts/`` folder; a path to a ``.toml``
file is read directly.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rawlux.core import datafiles
from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.registry import Registry
from rawlux.frame.template import parse_template

BUILTIN_DIR = datafiles.LAYOUTS.builtin
ENV_DIRS = datafiles.LAYOUTS.env

_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def parse_color(value: Any, where: str = "color") -> tuple[float, float, float]:
    """``"#rrggbb"`` / ``"#rgb"`` (sRGB-encoded) -> (r, g, b) floats in [0, 1]."""
    m = _HEX.match(str(value).strip()) if isinstance(value, str) else None
    if not m:
        raise InvalidParameter(f"{where}: expected a colour like '#1a1a1a', got {value!r}")
    h = m.group(1)
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


@dataclass(frozen=True)
class TextLine:
    """One line of text: template, size (fraction of the short side), weight, sRGB colour."""

    text: str
    size: float = 0.02
    weight: str = "regular"  # "regular" | "bold"
    color: tuple[float, float, float] = (0.08, 0.08, 0.08)
    caption: bool = False


@dataclass(frozen=True)
class Item:
    """One element of a group: a text block, the logo, or a thin vertical separator."""

    type: str  # "text" | "logo" | "separator"
    lines: tuple[TextLine, ...] = ()
    align: str = "left"  # text block: "left" | "center" | "right"
    line_gap: float = 0.45  # text block: baseline -> next cap height, fraction of next size
    height: float = 0.045  # logo / separator height, fraction of the short side
    width: float = 0.0012  # separator width
    max_width: float = 0.3  # logo width cap
    color: tuple[float, float, float] = (0.84, 0.84, 0.84)  # separator colour
    tint: tuple[float, float, float] | None = None  # logo: recolour keeping alpha
    when: str = "always"  # "always" | "logo" | "no-logo"


@dataclass(frozen=True)
class Layout:
    """A parsed frame layout (all lengths are fractions of the photo's short side)."""

    name: str
    description: str = ""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    margin_top: float = 0.0
    margin_right: float = 0.0
    margin_bottom: float = 0.0
    margin_left: float = 0.0
    side: str = "bottom"
    padding: float = 0.045
    gap: float = 0.022
    left: tuple[Item, ...] = ()
    center: tuple[Item, ...] = ()
    right: tuple[Item, ...] = ()
    source: str | None = field(default=None, compare=False)

    def margins_px(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, right, bottom, left) margins in pixels for a ``height`` x ``width`` photo."""
        short = min(height, width)
        return tuple(int(round(f * short)) for f in (  # type: ignore[return-value]
            self.margin_top, self.margin_right, self.margin_bottom, self.margin_left))

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the framed image for a ``height`` x ``width`` photo."""
        t, r, b, l = self.margins_px(height, width)
        return height + t + b, width + l + r

    def with_text(self, template: str) -> "Layout":
        """A copy whose caption line(s) (or first text line) use ``template``."""
        from dataclasses import replace

        groups = {"left": self.left, "center": self.center, "right": self.right}
        has_caption = any(ln.caption for g in groups.values() for it in g for ln in it.lines)
        done = False
        new = {}
        for gname, items in groups.items():
            out = []
            for it in items:
                lines = []
                for ln in it.lines:
                    hit = ln.caption if has_caption else (not done and it.type == "text")
                    if hit:
                        ln = replace(ln, text=template)
                        done = True
                    lines.append(ln)
                out.append(replace(it, lines=tuple(lines)))
            new[gname] = tuple(out)
        if not done:
            raise InvalidParameter(f"layout {self.name!r} has no text line to put the text in")
        return replace(self, **new)


# ------------------------------------------------------------------------------------ parsing


def _check_keys(d: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise InvalidParameter(f"{where}: expected a table, got {type(d).__name__}")
    extra = sorted(set(d) - allowed)
    if extra:
        raise InvalidParameter(f"{where}: unknown key {extra[0]!r}; valid: {', '.join(sorted(allowed))}")
    return d


def _num(d: dict[str, Any], key: str, default: float, lo: float, hi: float, where: str) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InvalidParameter(f"{where}.{key}: expected a number, got {v!r}")
    if not lo <= float(v) <= hi:
        raise InvalidParameter(f"{where}.{key} = {v} is outside [{lo}, {hi}]")
    return float(v)


def _choice(d: dict[str, Any], key: str, default: str, choices: tuple[str, ...], where: str) -> str:
    v = d.get(key, default)
    if v not in choices:
        raise InvalidParameter(f"{where}.{key} = {v!r} is not one of: {', '.join(choices)}")
    return str(v)


def _line(d: Any, where: str) -> TextLine:
    d = _check_keys(d, {"text", "size", "weight", "color", "caption"}, where)
    text = d.get("text", "")
    if not isinstance(text, str):
        raise InvalidParameter(f"{where}.text: expected a string, got {text!r}")
    try:
        parse_template(text)
    except InvalidParameter as exc:
        raise InvalidParameter(f"{where}.text: {exc.reason}") from None
    return TextLine(
        text=text,
        size=_num(d, "size", 0.02, 0.002, 0.25, where),
        weight=_choice(d, "weight", "regular", ("regular", "bold"), where),
        color=parse_color(d.get("color", "#141414"), f"{where}.color"),
        caption=bool(d.get("caption", False)),
    )


def _item(d: Any, where: str) -> Item:
    d = _check_keys(d, {"type", "lines", "align", "line_gap", "height", "width", "max_width",
                        "color", "tint", "when"}, where)
    kind = _choice(d, "type", "", ("text", "logo", "separator"), where)
    lines = d.get("lines", [])
    if kind == "text":
        if not isinstance(lines, list) or not lines:
            raise InvalidParameter(f"{where}.lines: a text item needs a list of lines")
    elif lines:
        raise InvalidParameter(f"{where}.lines: only text items have lines")
    tint = d.get("tint")
    return Item(
        type=kind,
        lines=tuple(_line(x, f"{where}.lines[{i}]") for i, x in enumerate(lines)),
        align=_choice(d, "align", "left", ("left", "center", "right"), where),
        line_gap=_num(d, "line_gap", 0.45, 0.0, 3.0, where),
        height=_num(d, "height", 0.045 if kind == "logo" else 0.05, 0.002, 0.5, where),
        width=_num(d, "width", 0.0012, 0.0002, 0.05, where),
        max_width=_num(d, "max_width", 0.3, 0.01, 2.0, where),
        color=parse_color(d.get("color", "#d6d6d6"), f"{where}.color"),
        tint=None if tint is None else parse_color(tint, f"{where}.tint"),
        when=_choice(d, "when", "always", ("always", "logo", "no-logo"), where),
    )


def parse_layout(data: dict[str, Any], source: str, name: str | None = None) -> Layout:
    """A :class:`Layout` from a parsed TOML dict; errors name ``source`` and the key."""
    d = _check_keys(data, {"name", "description", "background", "margin", "zone", "left", "center",
                           "right"}, "layout")
    margin = _check_keys(d.get("margin", {}), {"top", "right", "bottom", "left"}, "margin")
    zone = _check_keys(d.get("zone", {}), {"side", "padding", "gap"}, "zone")
    groups = {}
    for g in ("left", "center", "right"):
        items = d.get(g, [])
        if not isinstance(items, list):
            raise InvalidParameter(f"{g}: expected an array of tables ([[{g}]])")
        groups[g] = tuple(_item(x, f"{g}[{i}]") for i, x in enumerate(items))
    lay = Layout(
        name=str(d.get("name", name or Path(source).stem)),
        description=str(d.get("description", "")),
        background=parse_color(d.get("background", "#ffffff"), "background"),
        margin_top=_num(margin, "top", 0.0, 0.0, 2.0, "margin"),
        margin_right=_num(margin, "right", 0.0, 0.0, 2.0, "margin"),
        margin_bottom=_num(margin, "bottom", 0.0, 0.0, 2.0, "margin"),
        margin_left=_num(margin, "left", 0.0, 0.0, 2.0, "margin"),
        side=_choice(zone, "side", "bottom", ("bottom", "top"), "zone"),
        padding=_num(zone, "padding", 0.045, 0.0, 1.0, "zone"),
        gap=_num(zone, "gap", 0.022, 0.0, 1.0, "zone"),
        source=source,
        **groups,
    )
    zone_size = lay.margin_bottom if lay.side == "bottom" else lay.margin_top
    if any(groups.values()) and zone_size <= 0:
        raise InvalidParameter(f"zone.side = {lay.side!r} but margin.{lay.side} is 0: no room for the text")
    return lay


def _parse(data: dict[str, Any], p: Path) -> Layout:
    try:
        return parse_layout(data, str(p), name=p.stem)
    except RawluxError as exc:
        raise InvalidParameter(exc.reason, p) from None


def load_layout_file(path: str | os.PathLike[str]) -> Layout:
    """Parse one layout TOML file (read and cached by :mod:`rawlux.core.datafiles`). Missing
    file -> MissingInput; bad content -> InvalidParameter naming the file and the key."""
    return datafiles.load_file(datafiles.LAYOUTS, path, _parse)


def layout_files() -> Registry[Path]:
    """Registry of layout name -> file (user folders override built-ins)."""
    return datafiles.files(datafiles.LAYOUTS)


def list_layouts() -> list[str]:
    """Names of every available layout (built-in, ``$RAWLUX_LAYOUTS_DIR``, user folder)."""
    return datafiles.names(datafiles.LAYOUTS)


def load_layout(layout: "str | os.PathLike[str] | Layout") -> Layout:
    """Resolve a layout name, a path to a ``.toml`` file, or pass a :class:`Layout` through.

    Unknown name -> InvalidParameter listing the valid names; missing file -> MissingInput.
    """
    if isinstance(layout, Layout):
        return layout
    if not isinstance(layout, (str, os.PathLike)) or not str(layout).strip():
        raise InvalidParameter(f"frame layout must be a name or a .toml path, got {layout!r}")
    return datafiles.load(datafiles.LAYOUTS, layout, _parse)
