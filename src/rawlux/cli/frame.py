"""``rawlux frame``: put a photo (raw, JPEG, HEIC, PNG, TIFF) in an EXIF frame."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import open_image, run_guarded


def _note(msg: str) -> None:
    typer.echo(f"rawlux: {msg}", err=True)


def frame_file(src: Path, dst: Path, *, layout: str = "bar", logo: Optional[Path] = None,
               text: Optional[str] = None, look: Optional[str] = None, color_space: str = "srgb",
               quality: int = 92, bit_depth: Optional[int] = None, hdr: bool = False) -> Path:
    """Read ``src`` (a raw by content is developed with ``look``), frame it, save to ``dst``
    (EXIF/ICC kept)."""
    from rawlux.frame import apply_frame, load_layout, parse_template
    from rawlux.io.write import save

    lay = load_layout(layout)  # validate cheap things before any pixel work
    if text is not None:
        parse_template(text)
    logo_px = None
    if logo is not None:
        from rawlux.io.logo import load_logo

        logo_px = load_logo(logo)
    from rawlux.io.probe import input_kind

    if hdr and input_kind(src) != "photo":  # raw: the look's photo + a gain map, one develop
        from rawlux.cli.common import load_raw
        from rawlux.develop import DEFAULT_LOOK, develop
        from rawlux.hdr.render import HdrParams, check_hdr_outputs

        check_hdr_outputs([dst])
        img = develop(load_raw(src), look=look or DEFAULT_LOOK, color_space=color_space,
                      hdr=HdrParams())
    else:
        img = open_image(src, look=look, color_space=color_space, note=_note)
    framed = apply_frame(img, lay, logo=logo_px, text=text)
    from rawlux.hdr.edit import framed_with_gainmap

    framed = framed_with_gainmap(img, framed, lay.margins_px(img.height, img.width))
    return save(framed, dst, protect=[src], quality=quality, bit_depth=bit_depth)


def _list_layouts(value: bool) -> None:
    if not value:
        return

    def show() -> None:
        from rawlux.frame import list_layouts, load_layout

        for name in list_layouts():
            lay = load_layout(name)
            typer.echo(f"{name:12s} {lay.description}")

    run_guarded(show)
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    @app.command()
    def frame(
        src: Path = typer.Argument(..., metavar="IN", help="photo or raw: JPEG, HEIC, PNG, TIFF, DNG, CR2..."),
        output: Path = typer.Option(..., "-o", "--output", help="output file (.jpg .png .tif .heic .avif)"),
        layout: str = typer.Option("bar", "--layout", help="layout name or .toml file (see --list-layouts)"),
        logo: Optional[Path] = typer.Option(None, "--logo", help="logo file: PNG with alpha or SVG"),
        text: Optional[str] = typer.Option(
            None, "--text", help="caption template, e.g. '{model} · {focal} · {fnumber} · {exposure} · {iso}'"),
        look: Optional[str] = typer.Option(None, "--look", help="look for raw inputs"),
        color_space: str = typer.Option("srgb", "--color-space", help="srgb | p3 (raw inputs)"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        bit_depth: Optional[int] = typer.Option(None, "--bit-depth", help="8 or 16 (TIFF/PNG)"),
        list_layouts: bool = typer.Option(False, "--list-layouts", is_eager=True, callback=_list_layouts,
                                          help="list the available layouts and exit"),
        hdr: bool = typer.Option(False, "--hdr", help="raw input: Ultra HDR JPEG output (a photo's "
                                 "own gain map is always kept)"),
    ) -> None:
        """Add an EXIF frame (camera, lens, exposure, date; optional logo) around a photo."""
        run_guarded(lambda: frame_file(src, output, layout=layout, logo=logo, text=text, look=look,
                                       color_space=color_space, quality=quality, bit_depth=bit_depth,
                                       hdr=hdr),
                    context=str(src))
