"""``rawlux develop``: raw file(s) -> photo(s)."""

from __future__ import annotations

from pathlib import Path
from dataclasses import fields
from typing import Any, Optional

import typer

from rawlux.cli.common import error_line, progress, resolve_outputs, run_guarded


def _develop_one(src: Path, dst: Path, inputs: list[Path], recipe: object, save_kw: dict,
                 raw_kw: dict, frame: str | None, sidecar: bool) -> None:
    from rawlux.cli.common import load_raw
    from rawlux.develop import develop, reuse_freed_memory
    from rawlux.io.write import save

    with reuse_freed_memory():  # one allocator scope for read + develop + save (docs/architecture.md)
        raw = load_raw(src, **raw_kw)  # the shared photo-or-raw decision; refuses empty pixels
        img = develop(raw, recipe=recipe)
        if frame:
            from rawlux.frame import apply_frame

            img = apply_frame(img, frame)
        save(img, dst, protect=inputs, **save_kw)
    if sidecar:
        from rawlux.app.recipe import save_recipe, sidecar_path

        save_recipe(recipe, sidecar_path(dst))  # type: ignore[arg-type]


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

        def prepare() -> tuple[list[Path], object, dict, dict]:
            from rawlux.app.recipe import Recipe, load_recipe, save_recipe as write_recipe

            outs = resolve_outputs(inputs, output, out_dir, fmt)
            values = option_values(options, given_options(ctx, option_names))
            if any(o.suffix.lower() == ".exr" for o in outs) and "scene_referred" not in values:
                values["scene_referred"] = True  # an .exr output implies scene-referred
            base = load_recipe(recipe) if recipe is not None else Recipe.default()
            rec = base.with_options(**values)  # validated once, before any work
            if rec["output"].scene_referred:
                from rawlux.core.errors import OutputError

                bad = [o for o in outs if o.suffix.lower() not in (".tif", ".tiff", ".exr")]
                if bad:
                    raise OutputError("scene-referred output is written as float .tif or .exr",
                                      bad[0])
                if frame:
                    raise OutputError("--frame needs display-referred output, not scene-referred",
                                      outs[0])
            if sidecar or save_recipe is not None:
                rec.check_saveable(save_recipe or outs[0])
            if save_recipe is not None:
                write_recipe(rec, save_recipe)
            raw_kw = {k: v for k, v in (("cfa", cfa), ("black", black), ("white", white)) if v is not None}
            return outs, rec, raw_kw, {"quality": quality, "bit_depth": bit_depth}

        outs, rec, raw_kw, save_kw = run_guarded(prepare)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        if len(inputs) == 1:
            run_guarded(lambda: _develop_one(inputs[0], outs[0], inputs, rec, save_kw, raw_kw,
                                             frame, sidecar), context=str(inputs[0]))
            return
        failures = 0
        with progress(len(inputs), "develop") as bar:
            task = bar.add_task("develop", total=len(inputs))
            for src, dst in zip(inputs, outs):
                try:
                    run_guarded(lambda: _develop_one(src, dst, inputs, rec, save_kw, raw_kw,
                                                     frame, sidecar), context=str(src))
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
