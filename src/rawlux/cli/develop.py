"""``rawlux develop``: raw file(s) -> photo(s) (work: :mod:`rawlux.app.develop`).

The development options are generated from the stage params (:mod:`rawlux.app.recipe`,
:mod:`rawlux.cli.options`); only the flags typed on the command line override a ``--recipe``.
Pixel code (``rawlux.app.develop`` and below) is imported inside the command body.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import typer

from rawlux.cli.common import error_line, progress, resolve_outputs, run_guarded


def register(app: typer.Typer) -> None:
    from rawlux.app.recipe import develop_options_class
    from rawlux.cli.options import given_options, option_values, typer_options, with_options

    option_names = [f.name for f in fields(develop_options_class())]

    def develop(
        ctx: typer.Context,
        inputs: list[Path] = typer.Argument(..., help="raw file(s): DNG, CR2, NEF, ARW, RAF, ..."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="output file (one input)"),
        out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="output folder (many inputs)"),
        fmt: str = typer.Option("jpg", "--format", help="extension with --out-dir: jpg tif png heic avif exr"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        bit_depth: Optional[int] = typer.Option(None, "--bit-depth", help="8 or 16 (TIFF/PNG)"),
        frame: Optional[str] = typer.Option(None, "--frame", help="add an EXIF frame (layout name)"),
        cfa: Optional[str] = typer.Option(None, "--cfa", help="CFA of a bare mosaic PNG/TIFF: RGGB..."),
        black: Optional[float] = typer.Option(None, "--black", help="black level DN (bare mosaic)"),
        white: Optional[float] = typer.Option(None, "--white", help="white level DN (bare mosaic)"),
        recipe: Optional[Path] = typer.Option(
            None, "--recipe", rich_help_panel="Recipe",
            help="develop with every stage parameter from this .toml/.json recipe; options given "
                 "on the command line override it"),
        save_recipe: Optional[Path] = typer.Option(
            None, "--save-recipe", rich_help_panel="Recipe",
            help="write the recipe used (every stage parameter) to this .toml/.json file"),
        sidecar: bool = typer.Option(False, "--sidecar", rich_help_panel="Recipe",
                                     help="write OUT.rawlux.toml (the recipe) beside each output"),
        **options: Any,
    ) -> None:
        """Develop raw captures into finished photographs."""
        values = option_values(options, given_options(ctx, option_names))

        def prepare() -> tuple[list[Path], object]:
            from rawlux.app.develop import check_develop

            outs = resolve_outputs(inputs, output, out_dir, fmt)
            if out_dir is not None and not out_dir.is_dir():
                out_dir.mkdir(parents=True, exist_ok=True)
            rec = check_develop(outs, values, inputs=inputs, frame=frame, recipe=recipe,
                                save_recipe=save_recipe, sidecar=sidecar,  # before any work
                                out_dir=out_dir)
            return outs, rec

        outs, rec = run_guarded(prepare)
        raw_kw = {k: v for k, v in (("cfa", cfa), ("black", black), ("white", white)) if v is not None}

        def one(src: Path, dst: Path) -> None:
            from rawlux.app.develop import develop_file

            develop_file(src, dst, rec, frame=frame, quality=quality, bit_depth=bit_depth,
                         protect=inputs, sidecar=sidecar, **raw_kw)

        if len(inputs) == 1:
            run_guarded(lambda: one(inputs[0], outs[0]), context=str(inputs[0]))
            return
        failures = 0
        with progress(len(inputs), "develop") as bar:
            task = bar.add_task("develop", total=len(inputs))
            for src, dst in zip(inputs, outs):
                try:
                    run_guarded(lambda: one(src, dst), context=str(src))
                except SystemExit as stop:
                    if stop.code == 130:  # interrupted: stop the whole batch
                        raise
                    failures += 1
                bar.advance(task)
        if failures:
            error_line(f"{failures} of {len(inputs)} file(s) failed")
            raise typer.Exit(1)

    # the development options are generated from the stage params (rawlux.app.recipe)
    app.command(name="develop")(with_options(develop, typer_options(
        develop_options_class(), panel="Development"), before="recipe"))
