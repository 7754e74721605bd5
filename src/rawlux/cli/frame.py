"""``rawlux frame``: put a photo (raw, JPEG, HEIC, PNG, TIFF) in an EXIF frame.

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import run_guarded


def _note(msg: str) -> None:
    typer.echo(f"rawlux: {msg}", err=True)


def frame_file(src: Path, dst: Path, *, layout: str = "bar", logo: Optional[Path] = None,
               text: Optional[str] = None, look: Optional[str] = None, color_space: str = "srgb",
               quality: int = 92, bit_depth: Optional[int] = None) -> Path:
    """The old keyword form of :func:`rawlux.app.frame.frame_file` (kept for callers of the
    CLI module); new code calls the app function with :class:`~rawlux.app.frame.FrameOptions`."""
    from rawlux.app.frame import FrameOptions
    from rawlux.app.frame import frame_file as app_frame_file

    opts = FrameOptions(layout=layout, logo=logo, text=text, look=look, color_space=color_space,
                        quality=quality, bit_depth=bit_depth)
    return app_frame_file(src, dst, opts, note=_note)


def _list_layouts(value: bool) -> None:
    if not value:
        return

    def show() -> None:
        from rawlux.app.frame import layouts

        for name, description in layouts():
            typer.echo(f"{name:12s} {description}")

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
        def run() -> None:
            from rawlux.app.frame import FrameOptions, frame_file

            opts = FrameOptions(layout=layout, logo=logo, text=text, look=look,
                                color_space=color_space, quality=quality, bit_depth=bit_depth)
            frame_file(src, output, opts, note=_note)

        run_guarded(run, context=str(src))
