"""``frame``: a photo or raw -> the same picture in an EXIF frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from rawlux.app.inputs import open_image
from rawlux.app.outputs import check_outputs
from rawlux.core.memory import reuse_freed_memory
from rawlux.frame import apply_frame, list_layouts, load_layout, parse_template
from rawlux.io.logo import load_logo
from rawlux.io.write import save

PathArg = str | PathLike[str]


@dataclass(frozen=True)
class FrameOptions:
    """Options of :func:`frame_file`: layout name or .toml, logo file (PNG/SVG), caption
    template, look and colour space for a raw input, JPEG quality, TIFF/PNG bit depth."""

    layout: str = "bar"
    logo: PathArg | None = None
    text: str | None = None
    look: str | None = None
    color_space: str = "srgb"
    quality: int = 92
    bit_depth: int | None = None


def layouts() -> list[tuple[str, str]]:
    """(name, description) of every layout (built-in and user folders)."""
    return [(n, load_layout(n).description) for n in list_layouts()]


def frame_file(src: PathArg, dst: PathArg, options: FrameOptions = FrameOptions(), *,
               note: Callable[[str], None] | None = None) -> Path:
    """Read ``src`` (a raw, by content, is developed with ``options.look``), frame it, save to
    ``dst`` (EXIF/ICC kept). Layout, caption, logo and output are checked before pixel work."""
    lay = load_layout(options.layout)
    if options.text is not None:
        parse_template(options.text)
    check_outputs([dst], inputs=[src])
    logo_px = load_logo(options.logo) if options.logo is not None else None
    with reuse_freed_memory():
        img = open_image(src, look=options.look, color_space=options.color_space, note=note)
        framed = apply_frame(img, lay, logo=logo_px, text=options.text)
        return save(framed, dst, protect=[src], quality=options.quality,
                    bit_depth=options.bit_depth)
