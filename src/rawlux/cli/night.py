"""``rawlux night``: align and merge a handheld raw burst into one clean raw or photo.

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import progress, run_guarded


def night_merge(frames: list[Path], output: Path, reference: int | None = 0, look: str | None = None,
                show_progress: bool = True, recipe: Path | None = None,
                save_recipe: Path | None = None, scale: float | None = None,
                hdr: bool = False) -> Path:
    """Merge ``frames`` and write ``output`` (.dng = merged raw, else a developed photo), with a
    progress bar: :func:`rawlux.app.night.night_file`. ``reference`` None: the recipe's.
    ``scale`` (1, 1.5, 2): multi-frame super-resolution into linear RGB of that size instead of
    the merge. ``hdr``: the photo carries a gain map (Ultra HDR)."""
    from rawlux.app.night import check_night, is_photo_burst, night_file, night_options

    values = {} if reference is None else {"reference": reference}
    opts, _ = night_options(values, look=look, recipe=recipe, save=save_recipe, scale=scale, hdr=hdr)
    check_night(frames, output, opts)  # before the progress bar appears
    if is_photo_burst(frames):
        return night_file(frames, output, opts)
    with progress(len(frames) + 1, "night", enabled=show_progress) as bar:
        task = bar.add_task("merging", total=len(frames) + 1)

        def tick(done: int, total: int, message: str) -> None:
            from rich.markup import escape

            from rawlux.core.limits import terminal_safe

            # file names in the message: no rich markup, no control characters
            bar.update(task, completed=done, total=total, description=escape(terminal_safe(message)))

        return night_file(frames, output, opts, progress=tick)


def register(app: typer.Typer) -> None:
    from rawlux.app.recipe import develop_options_class
    from rawlux.cli.options import field_option, given_options

    def burst_command(name: str, doc: str, output_help: str, scale_default: float | None,
                      scale_help: str) -> None:
        """Register ``name``: ``night`` and its ``superres`` alias differ only in the default
        ``--scale`` (None = the merge) and their help texts."""

        def command(
            ctx: typer.Context,
            frames: list[Path] = typer.Argument(..., help="raw frames of one handheld burst (same camera and size)"),
            output: Path = typer.Option(..., "-o", "--output", help=output_help),
            reference: int = typer.Option(0, "--reference", help="index of the reference frame (geometry kept)"),
            look: str | None = field_option(develop_options_class(), "look", default=None,
                                            help="look used when developing to a photo (default authentic)"),
            quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
            recipe: Path | None = typer.Option(
                None, "--recipe", rich_help_panel="Recipe",
                help="night, merge, super-resolution and develop parameters from this recipe; "
                     "flags given override it"),
            save_recipe: Path | None = typer.Option(
                None, "--save-recipe", rich_help_panel="Recipe",
                help="write every parameter used (night, merge, develop stages) to this .toml/.json"),
            scale: float | None = typer.Option(scale_default, "--scale", help=scale_help),
            hdr: bool = typer.Option(False, "--hdr", help="Ultra HDR JPEG: the photo plus a gain map"),
        ) -> None:
            ref = reference if "reference" in given_options(ctx, ["reference"]) or recipe is None else None
            run_guarded(lambda: night_merge(frames, output, ref, look, not quiet, recipe, save_recipe,
                                            scale, hdr),
                        context=name)

        command.__doc__ = doc
        app.command(name)(command)

    burst_command(
        "night", "Align and merge a burst of raw frames into one low-noise raw (.dng) or photo.",
        "output: .dng (merged raw) or a photo (.jpg, .tif, ...)", None,
        "super-resolution: 1 (demosaic-free merge), 1.5 or 2 (larger linear RGB image); falls "
        "back to the merge when the burst barely moved")
    burst_command(
        "superres", "Multi-frame super-resolution of a handheld burst (= night --scale, default 2).",
        "output: .dng (LinearRaw) or a photo (.jpg, .tif, ...)", 2.0,
        "output size / sensor size: 1, 1.5 or 2")
