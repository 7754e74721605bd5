"""``rawlux develop``: raw file(s) -> photo(s) (work: :mod:`rawlux.app.develop`).

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import error_line, progress, resolve_outputs, run_guarded


def register(app: typer.Typer) -> None:
    @app.command()
    def develop(
        inputs: list[Path] = typer.Argument(..., help="raw file(s): DNG, CR2, NEF, ARW, RAF, ..."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="output file (one input)"),
        out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="output folder (many inputs)"),
        fmt: str = typer.Option("jpg", "--format", help="extension with --out-dir: jpg tif png heic avif exr"),
        look: Optional[str] = typer.Option(None, "--look", help="look name or look file (default authentic)"),
        strength: float = typer.Option(1.0, "--strength", min=0.0, max=1.0, help="look strength 0..1"),
        lut: Optional[Path] = typer.Option(None, "--lut", help=".cube LUT applied after the look"),
        lut_strength: float = typer.Option(1.0, "--lut-strength", min=0.0, max=1.0),
        wb: str = typer.Option("as-shot", "--wb", help="as-shot | auto | KELVIN[,TINT]"),
        exposure: float = typer.Option(0.0, "--exposure", help="exposure compensation in EV"),
        color_space: str = typer.Option("srgb", "--color-space", help="srgb | p3 (ICC embedded)"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        bit_depth: Optional[int] = typer.Option(None, "--bit-depth", help="8 or 16 (TIFF/PNG)"),
        demosaic: Optional[str] = typer.Option(None, "--demosaic", help="demosaic method"),
        highlights: str = typer.Option("reconstruct", "--highlights", help="reconstruct | clip | none"),
        lens_correction: str = typer.Option(
            "auto", "--lens-correction",
            help="auto (DNG opcodes if present, else lensfun) | off | dng | lensfun"),
        no_lens_correction: bool = typer.Option(False, "--no-lens-correction",
                                                help="same as --lens-correction off"),
        scene_referred: bool = typer.Option(
            False, "--scene-referred",
            help="no look: linear Rec.2020 (D65) scene values, unclipped, as float32 .tif or "
                 ".exr (implied by an .exr output; --look, --lut, --color-space do not apply)"),
        denoise: float = typer.Option(0.5, "--denoise", min=0.0, max=1.0,
                                      help="raw noise reduction 0..1 (0 = off)"),
        sharpen: float = typer.Option(0.5, "--sharpen", min=0.0, max=1.0,
                                      help="capture sharpening 0..1 (0 = off)"),
        frame: Optional[str] = typer.Option(None, "--frame", help="add an EXIF frame (layout name)"),
        profile: Optional[Path] = typer.Option(
            None, "--profile", help="DNG camera profile (.dcp) instead of the raw's own; "
                                    "--look camera applies its tables and tone curve"),
        cfa: Optional[str] = typer.Option(None, "--cfa", help="CFA of a bare mosaic PNG/TIFF: RGGB..."),
        black: Optional[float] = typer.Option(None, "--black", help="black level DN (bare mosaic)"),
        white: Optional[float] = typer.Option(None, "--white", help="white level DN (bare mosaic)"),
    ) -> None:
        """Develop raw captures into finished photographs."""

        def prepare() -> tuple[list[Path], object, object]:
            from rawlux.app.develop import check_develop, load_lut
            from rawlux.develop import DEFAULT_LOOK, DevelopOptions

            outs = resolve_outputs(inputs, output, out_dir, fmt)
            if out_dir is not None and not out_dir.is_dir():
                out_dir.mkdir(parents=True, exist_ok=True)
            opts = DevelopOptions(look=look or DEFAULT_LOOK, strength=strength, wb=wb,
                                  exposure=exposure, color_space=color_space, demosaic=demosaic,
                                  highlights=highlights,
                                  lens_correction="off" if no_lens_correction else lens_correction,
                                  lut_strength=lut_strength, scene_referred=scene_referred,
                                  denoise=denoise, sharpen=sharpen,
                                  profile=None if profile is None else str(profile))
            opts = check_develop(outs, opts, inputs=inputs, frame=frame)  # before any work
            return outs, opts, load_lut(lut)

        outs, opts, loaded = run_guarded(prepare)
        raw_kw = {k: v for k, v in (("cfa", cfa), ("black", black), ("white", white)) if v is not None}

        def one(src: Path, dst: Path) -> None:
            from rawlux.app.develop import develop_file

            develop_file(src, dst, opts, lut=loaded, frame=frame, quality=quality,  # type: ignore[arg-type]
                         bit_depth=bit_depth, protect=inputs, **raw_kw)

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
