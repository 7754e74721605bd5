"""``rawlux night``: align and merge a handheld raw burst into one clean raw or photo."""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import progress, run_guarded


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _validate(frames: list[Path], output: Path, reference: int) -> None:
    """Checks done before any pixel work (bad output, reference index, missing frames)."""
    from rawlux.core.errors import InvalidParameter, MissingInput, OutputError

    if not -len(frames) <= reference < len(frames):
        raise InvalidParameter(f"--reference {reference} is outside the burst of {len(frames)} frame(s)")
    ext = output.suffix.lower()
    if ext != ".dng":
        from rawlux.io.write import supported_extensions

        if ext not in supported_extensions():
            raise OutputError(
                f"unknown output extension {ext or '(none)'!r}; use .dng or one of: "
                f"{', '.join(supported_extensions())}",
                output,
            )
    for f in frames:
        if _same(f, output):
            raise OutputError("output path is one of the input frames", output)
        if not f.is_file():
            raise MissingInput("no such file", f)
    if not (output.parent if str(output.parent) else Path(".")).is_dir():
        raise OutputError("output directory does not exist", output)


def night_merge(frames: list[Path], output: Path, reference: int = 0, look: str | None = None,
                show_progress: bool = True) -> Path:
    """Merge ``frames`` and write ``output`` (.dng = merged raw, else a developed photo)."""
    from rawlux.burst.merge import merge_burst, to_dn

    from rawlux.io.safety import check_outputs

    _validate(frames, output, reference)
    check_outputs([output], frames)
    with progress(len(frames) + 1, "night", enabled=show_progress) as bar:
        task = bar.add_task("merging", total=len(frames) + 1)

        def tick(done: int, total: int, message: str) -> None:
            from rich.markup import escape

            from rawlux.core.limits import terminal_safe

            # file names in the message: no rich markup, no control characters
            bar.update(task, completed=done, total=total, description=escape(terminal_safe(message)))

        merged = merge_burst(frames, reference, progress=tick)
    if output.suffix.lower() == ".dng":
        from rawlux.io.dng import write_dng

        levels = merged.metadata.extra.get("dn_levels")
        black, white = levels if levels is not None else (None, None)
        write_dng(merged, output, black=black, white=white)
        return output
    from rawlux.develop import DEFAULT_LOOK, develop
    from rawlux.io.write import save

    img = develop(to_dn(merged), look=look or DEFAULT_LOOK)
    return save(img, output, protect=frames)


def register(app: typer.Typer) -> None:
    @app.command()
    def night(
        frames: list[Path] = typer.Argument(..., help="raw frames of one handheld burst (same camera and size)"),
        output: Path = typer.Option(..., "-o", "--output", help="output: .dng (merged raw) or a photo (.jpg, .tif, ...)"),
        reference: int = typer.Option(0, "--reference", help="index of the reference frame (geometry kept)"),
        look: str | None = typer.Option(None, "--look", help="look used when developing to a photo"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
    ) -> None:
        """Align and merge a burst of raw frames into one low-noise raw (.dng) or photo."""
        run_guarded(lambda: night_merge(frames, output, reference, look, not quiet), context="night")
