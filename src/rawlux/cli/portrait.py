"""``rawlux portrait``: subject mask + depth + lens bokeh on a raw or a photo (work: :mod:`rawlux.app.portrait`).

The portrait options are generated from :class:`rawlux.app.portrait.PortraitOptions` (a params
dataclass whose module loads no pixel code); everything else is imported inside the command.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer

from rawlux.cli.common import run_guarded
from rawlux.core.limits import terminal_safe


def parse_focus(text: str | None) -> tuple[float, float] | None:
    """``"X,Y"`` as fractions of width/height (0..1) -> tuple; None passes through."""
    if text is None:
        return None
    from rawlux.core.errors import InvalidParameter

    parts = text.replace(" ", "").split(",")
    try:
        x, y = (float(v) for v in parts)
    except ValueError:
        raise InvalidParameter(f"--focus {text!r} must be X,Y fractions of the frame, e.g. 0.5,0.4") from None
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise InvalidParameter(f"--focus {text!r}: X and Y must be in [0, 1]")
    return x, y


def _note(msg: str) -> None:
    typer.echo(f"rawlux: {terminal_safe(msg)}", err=True)


def run_portrait(src: Path, dst: Path, *, focus: str | None = None, depth: Path | None = None,
                 save_mask: Path | None = None, save_depth: Path | None = None,
                 mask_file: Path | None = None, quality: int = 92, verbose: bool = True,
                 recipe: Path | None = None, save_recipe: Path | None = None,
                 **options: object) -> None:
    """Parse the CLI values and call :func:`rawlux.app.portrait.portrait_file` (``options``:
    the fields of :class:`~rawlux.app.portrait.PortraitOptions` given; over ``recipe``'s)."""
    from rawlux.app.portrait import portrait_file
    from rawlux.app.recipe import command_recipe

    values = dict(options)
    if focus is not None:
        values["focus"] = parse_focus(focus)
    opts, rec = command_recipe("portrait", values, recipe, save=save_recipe)
    portrait_file(src, dst, opts, depth=depth, mask=mask_file, save_mask=save_mask,
                  save_depth=save_depth, quality=quality, note=_note if verbose else None,
                  recipe=rec)


def register(app: typer.Typer) -> None:
    from rawlux.app.portrait import PortraitOptions  # params only: no OpenCV at start-up
    from rawlux.cli.options import given_options, option_values, typer_options, with_options

    generated = [f.name for f in fields(PortraitOptions) if f.name != "focus"]

    def portrait(
        ctx: typer.Context,
        input: Path = typer.Argument(..., help="raw file or photo (JPEG/HEIC/PNG/TIFF)"),
        output: Path = typer.Option(..., "-o", "--output", help="output photo (.jpg .png .tif .heic ...)"),
        focus: str | None = typer.Option(None, "--focus", help="X,Y focal point as fractions 0..1"),
        depth: Path | None = typer.Option(None, "--depth", help="depth picture (see --depth-white)"),
        save_mask: Path | None = typer.Option(None, "--save-mask", help="write the subject mask"),
        save_depth: Path | None = typer.Option(None, "--save-depth", help="write the depth used"),
        mask_file: Path | None = typer.Option(None, "--mask", help="use this subject mask (grey)"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        recipe: Optional[Path] = typer.Option(
            None, "--recipe", rich_help_panel="Recipe",
            help="portrait and develop parameters from this recipe; flags given override it"),
        save_recipe: Optional[Path] = typer.Option(
            None, "--save-recipe", rich_help_panel="Recipe",
            help="write every parameter used (portrait + develop stages) to this .toml/.json"),
        **options: Any,
    ) -> None:
        """Portrait mode: blur the background like a 35/50/75/90 mm lens."""
        values = option_values(options, given_options(ctx, generated))
        run_guarded(lambda: run_portrait(
            input, output, focus=focus, depth=depth, save_mask=save_mask, save_depth=save_depth,
            mask_file=mask_file, quality=quality, recipe=recipe, save_recipe=save_recipe,
            **values), context=str(input))

    # lens, aperture, framing, subject, look, --original, depth-white: from PortraitOptions
    app.command(name="portrait")(with_options(portrait, typer_options(
        PortraitOptions, only=generated, panel="Portrait"), before="quality"))
