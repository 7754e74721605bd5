"""``looks``: list the looks, export one as a .cube LUT, render a contact sheet of a photo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from rawlux.app.inputs import open_any
from rawlux.app.outputs import check_outputs
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import Encoding, Image, RawImage, Referred
from rawlux.core.memory import reuse_freed_memory
from rawlux.core.pipeline import Pipeline
from rawlux.app.recipe import DevelopOptions, build_pipeline
from rawlux.io.cube import write_cube
from rawlux.io.write import save
from rawlux.isp.look import LookParams, look
from rawlux.isp.output import OutputParams, output
from rawlux.looks.export import export_lut
from rawlux.looks.registry import get_look, look_names
from rawlux.looks.sheet import compose, ordered, photo_scene, thumbnail

PathArg = str | PathLike[str]
LUT_SIZES = (17, 33, 65)


@dataclass(frozen=True)
class LookInfo:
    """One registered look: name, one-line description, file it came from (None = built in)."""

    name: str
    description: str
    source: str | None


def list_looks() -> list[LookInfo]:
    """Every look (built-in and from the user look folders), by name."""
    out = []
    for n in look_names():
        spec = get_look(n)
        builtin = spec.source is None or "rawlux/looks/data" in spec.source.replace("\\", "/")
        out.append(LookInfo(n, spec.description, None if builtin else spec.source))
    return out


def export_look_file(name: str, output: PathArg, size: int = 33) -> Path:
    """Write look ``name``'s global colour part as a ``size``^3 .cube (sRGB-encoded Rec.709)."""
    if size not in LUT_SIZES:
        raise InvalidParameter(f"--size must be 17, 33 or 65, got {size}")
    look_file = [name] if str(name).lower().endswith(".toml") else []  # a look file is an input
    check_outputs([output], inputs=look_file, extensions=[".cube"])
    return write_cube(export_lut(get_look(name), size), output)


def look_input(source: RawImage | Image, **options: Any) -> Image:
    """Scene-linear Rec.2020 Image: a raw developed up to (not including) the look stage (with
    the :class:`DevelopOptions` ``options``), or a display-encoded photo linearised."""
    if isinstance(source, Image):
        return photo_scene(source)
    pipe = build_pipeline(DevelopOptions(**{"look": "neutral", **options}), raw=source)
    return Pipeline(pipe.stages[: pipe.names().index("look")]).run_plan(source)


def render_sheet(scene: Image, looks: Sequence[str] | None = None, tile: int = 480,
                 color_space: str = "srgb", columns: int | None = None) -> Image:
    """Apply every look (default: all registered) to a thumbnail of ``scene`` (scene-linear
    Rec.2020) and return the labelled sheet as a display-encoded Image for ``rawlux.save``."""
    names = list(looks) if looks is not None else ordered(look_names())
    small = thumbnail(scene, tile)
    tiles = []
    shown = small
    for name in names:
        shown = output(look(small, LookParams(look=name)), OutputParams(color_space=color_space))
        tiles.append((name, np.round(np.clip(shown.data, 0, 1) * 255).astype(np.uint8)))
    sheet = compose(tiles, columns).astype(np.float32) / 255.0
    meta = replace(scene.metadata, orientation=1)
    return Image(np.ascontiguousarray(sheet), shown.space, Encoding.SRGB, Referred.DISPLAY,
                 metadata=meta)


@dataclass(frozen=True)
class SheetOptions:
    """Options of :func:`sheet_file`: thumbnail long side (px), looks (None = all), tiles per
    row (None = about 4:3), white balance and exposure (EV) for a raw, JPEG quality."""

    tile: int = 480
    looks: tuple[str, ...] | None = None
    columns: int | None = None
    wb: str = "as-shot"
    exposure: float = 0.0
    quality: int = 90


def sheet_file(photo: PathArg, output: PathArg, options: SheetOptions = SheetOptions()) -> Path:
    """Develop ``photo`` (raw, or a photo as it is) once and tile every look on it into
    ``output``. Looks and the output are checked before any pixel work."""
    check_outputs([output], inputs=[photo])
    for n in options.looks or ():
        get_look(n)
    with reuse_freed_memory():
        src = open_any(photo)
        scene = look_input(src, **({} if isinstance(src, Image) else
                                   {"wb": options.wb, "exposure": options.exposure}))
        img = render_sheet(scene, options.looks, tile=options.tile, columns=options.columns)
        return save(img, output, quality=options.quality, protect=[photo])
