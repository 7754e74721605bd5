"""``rawlux frame``: put a photo (raw, JPEG, HEIC, PNG, TIFF) in an EXIF frame."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import open_image, run_guarded
from rawlux.core.limits import terminal_safe


def _note(msg: str) -> None:
    typer.echo(f"rawlux: {terminal_safe(msg)}", err=True)


def frame_file(src: Path, dst: Path, *, layout: str = "bar", logo: Optional[Path] = None,
               text: Optional[str] = None, look: Optional[str] = None, color_space: str = "srgb",
               quality: int = 92, bit_depth: Optional[int] = None) -> Path:
    """Read ``src`` (a raw by content is developed with ``look``), frame it, save to ``dst``
    (EXIF/ICC kept)."""
    from rawlux.frame import apply_frame, load_layout, parse_template
    from rawlux.io.write import save

    from rawlux.io.safety import check_outputs

    check_outputs([dst], [src, logo])
    lay = load_layout(layout)  # validate cheap things before any pixel work
    if text is not None:
        parse_template(text)
    logo_px = None
    if logo is not None:
        from rawlux.io.logo import load_logo

        logo_px = load_logo(logo)
    img = open_image(src, look=look, color_space=color_space, note=_note)
    framed = apply_frame(img, lay, logo=logo_px, text=text)
    return save(framed, dst, protect=[src], quality=quality, bit_depth=bit_depth)


def _list_layouts(value: bool) -> None:
    if not value:
        return

    def show() -> None:
        from rawlux.frame import list_layouts, load_layout

        for name in list_layouts():
            lay = load_layout(name)
            typer.echo(terminal_safe(f"{name:12s} {lay.description}"))

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
    ) -> None:
        """Add an EXIF frame (camera, lens, exposure, date; optional logo) around a photo."""
        run_guarded(lambda: frame_file(src, output, layout=layout, logo=logo, text=text, look=look,
                                       color_space=color_space, quality=quality, bit_depth=bit_depth),
                    context=str(src))
