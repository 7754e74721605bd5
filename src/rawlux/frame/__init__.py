"""EXIF photo frames: layouts (TOML data), caption templates, shipped fonts, logos.

``apply_frame(img, "bar", logo=..., text=...)`` is the one entry point other commands use.
"""

from __future__ import annotations

from rawlux.frame.layout import Item, Layout, TextLine, list_layouts, load_layout
from rawlux.frame.render import apply_frame, frame_geometry
from rawlux.frame.template import field_names, format_template, parse_template

__all__ = [
    "Item",
    "Layout",
    "TextLine",
    "apply_frame",
    "field_names",
    "format_template",
    "frame_geometry",
    "list_layouts",
    "load_layout",
    "parse_template",
]
