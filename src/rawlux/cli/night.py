"""``rawlux night``: align and merge a handheld raw burst into one clean raw or photo.

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import progress, run_guarded


def night_merge(frames: list[Path], output: Path, reference: int = 0, look: str | None = None,
                show_progress: bool = True, scale: float | None = None) -> Path:
    """Merge ``frames`` and write ``output`` (.dng = merged raw, else a developed photo), with a
    progress bar: :func:`rawlux.app.night.night_file`. ``scale`` (1, 1.5, 2): multi-frame
    super-resolution into linear RGB of that size instead of the merge."""
    from rawlux.app.night import NightOptions, SuperResParams, check_night, is_photo_burst, night_file
    from rawlux.develop import DevelopOptions

    opts = NightOptions(reference=reference,
                        develop=DevelopOptions(**({"look": look} if look else {})),
                        superres=None if scale is None else SuperResParams(scale=scale))
    check_night(frames, output, opts)  # before the progress bar appears
    if is_photo_burst(frames):
        return night_file(frames, output, opts)
    with progress(len(frames) + 1, "night", enabled=show_progress) as bar:
        task = bar.add_task("merging", total=len(frames) + 1)

        def tick(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message)

        return night_file(frames, output, opts, progress=tick)


def register(app: typer.Typer) -> None:
    @app.command()
    def night(
        frames: list[Path] = typer.Argument(..., help="raw frames of one handheld burst (same camera and size)"),
        output: Path = typer.Option(..., "-o", "--output", help="output: .dng (merged raw) or a photo (.jpg, .tif, ...)"),
        reference: int = typer.Option(0, "--reference", help="index of the reference frame (geometry kept)"),
        look: str | None = typer.Option(None, "--look", help="look used when developing to a photo"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
        scale: float | None = typer.Option(
            None, "--scale", help="super-resolution: 1 (demosaic-free merge), 1.5 or 2 (larger linear "
            "RGB image); falls back to the merge when the burst barely moved"),
    ) -> None:
        """Align and merge a burst of raw frames into one low-noise raw (.dng) or photo."""
        run_guarded(lambda: night_merge(frames, output, reference, look, not quiet, scale), context="night")

    @app.command()
    def superres(
        frames: list[Path] = typer.Argument(..., help="raw frames of one handheld burst (same camera and size)"),
        output: Path = typer.Option(..., "-o", "--output", help="output: .dng (LinearRaw) or a photo (.jpg, .tif, ...)"),
        scale: float = typer.Option(2.0, "--scale", help="output size / sensor size: 1, 1.5 or 2"),
        reference: int = typer.Option(0, "--reference", help="index of the reference frame (geometry kept)"),
        look: str | None = typer.Option(None, "--look", help="look used when developing to a photo"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
    ) -> None:
        """Multi-frame super-resolution of a handheld burst (= night --scale, default 2)."""
        run_guarded(lambda: night_merge(frames, output, reference, look, not quiet, scale), context="superres")
