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


def _is_photo(path: Path) -> bool:
    from rawlux.io.photo import PHOTO_EXTENSIONS

    return path.suffix.lower() in PHOTO_EXTENSIONS


def _photo_burst(frames: list[Path], output: Path, reference: int, scale: float | None) -> Path:
    """A burst of developed photos (JPEG path): super-resolution to a photo."""
    from rawlux.core.errors import InvalidParameter, OutputError

    if scale is None:
        raise InvalidParameter("developed photos (JPEG, PNG, ...) are merged by super-resolution: "
                               "add --scale 1, 1.5 or 2 (or use rawlux superres)")
    if output.suffix.lower() == ".dng":
        raise OutputError("a burst of developed photos cannot become a raw; write a photo (.jpg, .tif, ...)",
                          output)
    _validate(frames, output, reference)
    from rawlux.burst.superres import SuperResParams
    from rawlux.burst.superres_rgb import super_resolve_photos
    from rawlux.io.photo import open_photo
    from rawlux.io.write import save

    img = super_resolve_photos([open_photo(f) for f in frames], reference,
                               params=SuperResParams(scale=scale, detail=0.15))
    return save(img, output, protect=frames)


def night_merge(frames: list[Path], output: Path, reference: int = 0, look: str | None = None,
                show_progress: bool = True, scale: float | None = None) -> Path:
    """Merge ``frames`` and write ``output`` (.dng = merged raw, else a developed photo).
    ``scale`` (1, 1.5, 2): multi-frame super-resolution into linear RGB of that size instead."""
    from rawlux.burst.merge import merge_burst, to_dn

    if scale is not None:
        from rawlux.burst.superres import SuperResParams

        sr_params = SuperResParams(scale=scale)  # checks the value before any pixel work
    if frames and all(_is_photo(f) for f in frames):
        return _photo_burst(frames, output, reference, scale)
    _validate(frames, output, reference)
    with progress(len(frames) + 1, "night", enabled=show_progress) as bar:
        task = bar.add_task("merging", total=len(frames) + 1)

        def tick(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message)

        if scale is None:
            merged = merge_burst(frames, reference, progress=tick)
        else:
            from rawlux.burst.superres import super_resolve

            merged = super_resolve(frames, reference, params=sr_params, progress=tick)
    if output.suffix.lower() == ".dng":
        from rawlux.io.dng import write_dng

        levels = merged.metadata.extra.get("dn_levels")
        black, white = levels if levels is not None else (None, None)
        if scale is not None:  # LinearRaw: black 0 (darktable and RawTherapee ignore a pedestal there)
            black, white = 0.0, 65535.0
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
