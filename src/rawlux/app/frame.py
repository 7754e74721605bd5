"""``frame``: a photo or raw -> the same picture in an EXIF frame.

:class:`FrameOptions` is a params dataclass (``rawlux frame`` generates its flags from it); this
module imports no pixel code at import time, :func:`frame_file` does when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from rawlux.core.params import FileRef, StageParams, param

PathArg = str | PathLike[str]


def _is_file(value: Any, suffixes: tuple[str, ...]) -> bool:
    import os

    s = os.fspath(value) if isinstance(value, (str, os.PathLike)) else ""
    return bool(s) and (s.lower().endswith(suffixes) or os.sep in s)


@dataclass(frozen=True)
class FrameOptions(StageParams):
    """Options of :func:`frame_file`: layout name or .toml, logo file (PNG/SVG), caption
    template, look and colour space for a raw input, JPEG quality, TIFF/PNG bit depth. Files
    given by path (layout, logo, look) are referenced by path + sha256."""

    layout: str = param("bar", files=True,
                        doc="layout name or .toml file (path + sha256; see --list-layouts)")
    logo: FileRef | None = param(None, type=FileRef, doc="logo file: PNG with alpha or SVG")
    text: str | None = param(None, type=str,
                             doc="caption template, e.g. '{model} · {focal} · {fnumber} · "
                                 "{exposure} · {iso}'")
    look: str | None = param(None, type=str, files=True,
                             doc="look for raw inputs (default authentic)")
    color_space: str = param("srgb", choices=("srgb", "p3"),
                             doc="output colour space of raw inputs")
    quality: int = param(92, lo=1, hi=100, doc="JPEG/HEIC/AVIF quality")
    bit_depth: int | None = param(None, type=int, lo=8, hi=16, doc="8 or 16 (TIFF/PNG)")
    hdr: bool = param(False, doc="raw input: Ultra HDR output (a photo's own gain map is "
                                 "always kept)")

    def __post_init__(self) -> None:
        if _is_file(self.layout, (".toml",)) and not isinstance(self.layout, FileRef):
            object.__setattr__(self, "layout", FileRef.of(self.layout, "layout file"))
        if self.logo is not None and not isinstance(self.logo, (FileRef, dict)):
            object.__setattr__(self, "logo", FileRef.of(self.logo, "logo file"))
        if FileRef.looks_like_path(self.look) and not isinstance(self.look, FileRef):
            object.__setattr__(self, "look", FileRef.of(self.look, "look file"))
        super().__post_init__()
        if self.bit_depth is not None and self.bit_depth not in (8, 16):
            from rawlux.core.errors import InvalidParameter

            raise InvalidParameter(f"FrameOptions.bit_depth = {self.bit_depth} must be 8 or 16")


def _name(value: Any) -> Any:
    """A name, or a referenced file's path after checking its content is unchanged."""
    return value.verified_path() if isinstance(value, FileRef) else value


def layouts() -> list[tuple[str, str]]:
    """(name, description) of every layout (built-in and user folders)."""
    from rawlux.frame import list_layouts, load_layout

    return [(n, load_layout(n).description) for n in list_layouts()]


def frame_image(img: Any, layout: Any = "bar", *, logo: Any = None, text: str | None = None) -> Any:
    """:func:`rawlux.frame.apply_frame`, with ``img``'s gain map (if any) moved into the framed
    picture (:func:`rawlux.hdr.edit.framed_with_gainmap`)."""
    from rawlux.frame import apply_frame, load_layout

    lay = load_layout(layout)
    framed = apply_frame(img, lay, logo=logo, text=text)
    if (img.metadata.extra or {}).get("gainmap") is None:
        return framed
    from rawlux.hdr.edit import framed_with_gainmap  # lazy: only a photo with a map needs it

    return framed_with_gainmap(img, framed, lay.margins_px(img.height, img.width))


def frame_file(src: PathArg, dst: PathArg, options: FrameOptions = FrameOptions(), *,
               note: Callable[[str], None] | None = None, recipe: Any = None) -> Path:
    """Read ``src`` (a raw, by content, is developed with ``options.look`` over the develop
    stages of ``recipe``, a :class:`~rawlux.app.recipe.Recipe`, when given), frame it, save to
    ``dst`` (EXIF/ICC kept). Layout, caption, logo and output are checked before pixel work."""
    from rawlux.app.inputs import open_image  # pixel code: imported when the command runs
    from rawlux.app.outputs import check_outputs
    from rawlux.core.memory import reuse_freed_memory
    from rawlux.frame import load_layout, parse_template
    from rawlux.io.logo import load_logo
    from rawlux.io.write import save

    lay = load_layout(_name(options.layout))
    if options.text is not None:
        parse_template(options.text)
    logo = _name(options.logo) if options.logo is not None else None
    check_outputs([dst], inputs=[src, logo])  # the logo is an input too
    if options.hdr:
        from rawlux.hdr.render import check_hdr_outputs

        check_hdr_outputs([dst])
    logo_px = load_logo(logo) if logo is not None else None
    with reuse_freed_memory():
        img = open_image(src, look=_name(options.look), color_space=str(options.color_space),
                         note=note, recipe=recipe, hdr=options.hdr)
        framed = frame_image(img, lay, logo=logo_px, text=options.text)
        return save(framed, dst, protect=[src], quality=options.quality,
                    bit_depth=options.bit_depth)
