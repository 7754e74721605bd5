"""``rawlux frame``: put a photo (raw, JPEG, HEIC, PNG, TIFF) in an EXIF frame.

The frame options are generated from :class:`rawlux.app.frame.FrameOptions` (a params dataclass
whose module loads no pixel code); everything else is imported inside the command.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer

from rawlux.cli.common import run_guarded
from rawlux.core.limits import terminal_safe


def _note(msg: str) -> None:
    typer.echo(f"rawlux: {terminal_safe(msg)}", err=True)


def _list_layouts(value: bool) -> None:
    if not value:
        return

    def show() -> None:
        from rawlux.app.frame import layouts

        for name, description in layouts():
            typer.echo(terminal_safe(f"{name:12s} {description}"))

    run_guarded(show)
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    from rawlux.app.frame import FrameOptions  # params only: no pixel code at start-up
    from rawlux.cli.options import given_options, option_values, typer_options, with_options

    names = [f.name for f in fields(FrameOptions)]

    def frame(
        ctx: typer.Context,
        src: Path = typer.Argument(..., metavar="IN", help="photo or raw: JPEG, HEIC, PNG, TIFF, DNG, CR2..."),
        output: Path = typer.Option(..., "-o", "--output", help="output file (.jpg .png .tif .heic .avif)"),
        list_layouts: bool = typer.Option(False, "--list-layouts", is_eager=True, callback=_list_layouts,
                                          help="list the available layouts and exit"),
        recipe: Optional[Path] = typer.Option(
            None, "--recipe", rich_help_panel="Recipe",
            help="frame and develop parameters from this recipe; flags given override it"),
        save_recipe: Optional[Path] = typer.Option(
            None, "--save-recipe", rich_help_panel="Recipe",
            help="write every parameter used (frame + develop stages) to this .toml/.json"),
        **options: Any,
    ) -> None:
        """Add an EXIF frame (camera, lens, exposure, date; optional logo) around a photo."""
        values = option_values(options, given_options(ctx, names))

        def run() -> None:
            from rawlux.app.frame import frame_file
            from rawlux.app.recipe import command_recipe

            opts, rec = command_recipe("frame", values, recipe, save=save_recipe)
            frame_file(src, output, opts, note=_note, recipe=rec)

        run_guarded(run, context=str(src))

    # layout, logo, text, look, colour space, quality, bit depth: from FrameOptions
    app.command(name="frame")(with_options(frame, typer_options(FrameOptions), before="list_layouts"))
