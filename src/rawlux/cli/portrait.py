"""``rawlux portrait``: subject mask + depth + lens bokeh on a raw or a photo (work: :mod:`rawlux.app.portrait`).

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import run_guarded


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
    typer.echo(f"rawlux: {msg}", err=True)


def run_portrait(src: Path, dst: Path, *, focus: str | None = None, depth: Path | None = None,
                 save_mask: Path | None = None, save_depth: Path | None = None,
                 mask_file: Path | None = None, quality: int = 92, verbose: bool = True,
                 **options: object) -> None:
    """Parse the CLI values and call :func:`rawlux.app.portrait.portrait_file` (``options``:
    the fields of :class:`~rawlux.app.portrait.PortraitOptions`)."""
    from rawlux.app.portrait import PortraitOptions, portrait_file

    opts = PortraitOptions(focus=parse_focus(focus), **options)  # type: ignore[arg-type]
    portrait_file(src, dst, opts, depth=depth, mask=mask_file, save_mask=save_mask,
                  save_depth=save_depth, quality=quality, note=_note if verbose else None)


def register(app: typer.Typer) -> None:
    @app.command()
    def portrait(
        input: Path = typer.Argument(..., help="raw file or photo (JPEG/HEIC/PNG/TIFF)"),
        output: Path = typer.Option(..., "-o", "--output", help="output photo (.jpg .png .tif .heic ...)"),
        lens: str = typer.Option("50", "--lens", help="35 | 50 | 75 | 90 or a lens .toml file"),
        aperture: float = typer.Option(0.0, "--aperture", help="f-number (default: the lens' own)"),
        focus: str | None = typer.Option(None, "--focus", help="X,Y focal point as fractions 0..1"),
        depth: Path | None = typer.Option(None, "--depth", help="depth picture (see --depth-white)"),
        depth_white: str = typer.Option("far", "--depth-white",
                                        help="what white means in --depth: far (Google) | near"),
        look: str | None = typer.Option(None, "--look", help="look for raw input"),
        save_mask: Path | None = typer.Option(None, "--save-mask", help="write the subject mask"),
        save_depth: Path | None = typer.Option(None, "--save-depth", help="write the depth used"),
        mask_file: Path | None = typer.Option(None, "--mask", help="use this subject mask (grey)"),
        framing: float | None = typer.Option(None, "--framing",
                                             help="scene height at the focal plane, metres "
                                                  "(default 1; 10 for a scene without a subject)"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        original: bool = typer.Option(True, "--original/--no-original",
                                      help="render from a Lens Blur file's unblurred original"),
        subject: str = typer.Option("auto", "--subject",
                                    help="auto (a clear subject or none) | salient (always the "
                                         "most salient region) | none (scene depth only)"),
    ) -> None:
        """Portrait mode: blur the background like a 35/50/75/90 mm lens."""
        run_guarded(lambda: run_portrait(
            input, output, lens=lens, aperture=aperture, focus=focus, depth=depth, look=look,
            save_mask=save_mask, save_depth=save_depth, mask_file=mask_file, framing=framing,
            quality=quality, use_original=original, depth_white=depth_white,
            subject=subject), context=str(input))
