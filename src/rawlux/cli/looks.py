"""``rawlux looks``: list looks, export a look as a .cube LUT, render a contact sheet."""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import run_guarded
from rawlux.core.limits import terminal_safe

RAW_HINT = "raw file (DNG, NEF, ...) or a photo (JPEG, PNG, HEIC, ...)"


def _is_photo(path: Path) -> bool:
    from rawlux.io.probe import input_kind

    return input_kind(path) == "photo"  # by content: the decision every command shares


def register(app: typer.Typer) -> None:
    looks_app = typer.Typer(help="Looks and styles: list, export as .cube, contact sheet.",
                            no_args_is_help=True)
    app.add_typer(looks_app, name="looks")

    @looks_app.command("list")
    def list_() -> None:
        """List every look (built-in and from RAWLUX_LOOKS_DIR) with its description."""

        def run() -> None:
            from rawlux.looks.registry import get_look, look_names

            names = look_names()
            width = max(len(n) for n in names)
            for n in names:
                spec = get_look(n)
                src = "" if spec.source is None or "rawlux/looks/data" in spec.source.replace(
                    "\\", "/") else f"  [{spec.source}]"
                typer.echo(terminal_safe(f"{n:<{width}}  {spec.description}{src}"))

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
            from rawlux.core.errors import InvalidParameter
            from rawlux.io.cube import write_cube
            from rawlux.looks.export import export_lut
            from rawlux.looks.registry import get_look

            from rawlux.io.safety import check_outputs

            if size not in (17, 33, 65):
                raise InvalidParameter(f"--size must be 17, 33 or 65, got {size}")
            check_outputs([output], [name] if name.lower().endswith(".toml") else [])
            path = write_cube(export_lut(get_look(name), size), output)
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
            from rawlux.io.safety import check_outputs
            from rawlux.io.write import save
            from rawlux.looks.sheet import look_input, render_sheet

            check_outputs([output], [photo])
            if _is_photo(photo):
                from rawlux.io.photo import open_photo

                src = open_photo(photo)
                scene = look_input(src)
            else:
                from rawlux.cli.common import load_raw

                scene = look_input(load_raw(photo), wb=wb, exposure=exposure)
            names = [n.strip() for n in looks.split(",")] if looks else None
            if names:
                from rawlux.looks.registry import get_look

                for n in names:
                    get_look(n)  # validate before work
            img = render_sheet(scene, names, tile=tile, columns=columns)
            path = save(img, output, quality=quality, protect=[photo])
            typer.echo(f"wrote {path}")

        run_guarded(run, context=str(photo))
