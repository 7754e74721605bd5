"""``rawlux looks``: list looks, export a look as a .cube LUT, render a contact sheet.

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import run_guarded
from rawlux.core.limits import terminal_safe

RAW_HINT = "raw file (DNG, NEF, ...) or a photo (JPEG, PNG, HEIC, ...)"


def register(app: typer.Typer) -> None:
    looks_app = typer.Typer(help="Looks and styles: list, export as .cube, contact sheet.",
                            no_args_is_help=True)
    app.add_typer(looks_app, name="looks")

    @looks_app.command("list")
    def list_() -> None:
        """List every look (built-in and from RAWLUX_LOOKS_DIR) with its description."""

        def run() -> None:
            from rawlux.app.looks import list_looks

            looks = list_looks()
            width = max(len(x.name) for x in looks)
            for x in looks:
                src = "" if x.source is None else f"  [{x.source}]"
                typer.echo(terminal_safe(f"{x.name:<{width}}  {x.description}{src}"))

        run_guarded(run)

    @looks_app.command("export")
    def export(
        name: str = typer.Argument(..., help="look name or look .toml file"),
        output: Path = typer.Option(..., "-o", "--output", help="output .cube file"),
        size: int = typer.Option(33, "--size", help="3D LUT size (33 or 65)"),
    ) -> None:
        """Export a look's global colour part as a 3D .cube LUT (sRGB-encoded Rec.709 in/out),
        to apply to the neutral rendering in Lightroom, Resolve or Photoshop."""

        def run() -> None:
            from rawlux.app.looks import export_look_file

            path = export_look_file(name, output, size)
            typer.echo(f"wrote {path}")

        run_guarded(run, context=name)

    @looks_app.command("sheet")
    def sheet(
        photo: Path = typer.Argument(..., help=RAW_HINT),
        output: Path = typer.Option(..., "-o", "--output", help="output image (.jpg, .png, ...)"),
        tile: int = typer.Option(480, "--tile", min=64, max=2048, help="thumbnail long side, px"),
        looks: str | None = typer.Option(None, "--looks", help="comma-separated subset"),
        columns: int | None = typer.Option(None, "--columns", min=1, max=16,
                                              help="tiles per row (default: about 4:3 sheet)"),
        wb: str = typer.Option("as-shot", "--wb", help="as-shot | auto | KELVIN[,TINT]"),
        exposure: float = typer.Option(0.0, "--exposure", help="exposure compensation, EV"),
        quality: int = typer.Option(90, "--quality", min=1, max=100),
    ) -> None:
        """Develop PHOTO once and tile every look on it, labelled, into one image."""

        def run() -> None:
            from rawlux.app.looks import SheetOptions, sheet_file

            names = tuple(n.strip() for n in looks.split(",")) if looks else None
            path = sheet_file(photo, output, SheetOptions(tile=tile, looks=names, columns=columns,
                                                          wb=wb, exposure=exposure,
                                                          quality=quality))
            typer.echo(f"wrote {path}")

        run_guarded(run, context=str(photo))
