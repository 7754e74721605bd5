"""``rawlux hdr``: merge an exposure bracket (raw frames, or developed JPEGs) into one photo,
a merged raw (.dng) or scene-referred float (.exr) (work: :mod:`rawlux.app.hdr`).

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import run_guarded


def register(app: typer.Typer) -> None:
    @app.command()
    def hdr(
        frames: list[Path] = typer.Argument(..., help="bracket frames: raws (same camera) or developed JPEGs"),
        output: Path = typer.Option(..., "-o", "--output",
                                    help="photo (.jpg ...), .dng (raw frames: merged raw) or .exr (scene-referred)"),
        look: Optional[str] = typer.Option(None, "--look", help="look of the finished photo"),
        color_space: str = typer.Option("srgb", "--color-space", help="srgb | p3"),
        ultra: bool = typer.Option(False, "--hdr", help="Ultra HDR JPEG: the photo plus a gain map"),
        headroom: Optional[float] = typer.Option(None, "--headroom", min=0.0, max=6.0,
                                                 help="with --hdr: stops over SDR white (default: "
                                                      "what the scene needs, at most 3)"),
        transfer: str = typer.Option("pq", "--transfer",
                                     help="with --hdr and .avif/.heic: pq | hlg (10-bit BT.2100)"),
        exposures: Optional[Path] = typer.Option(None, "--exposures",
                                                 help="developed frames without EXIF: a file of "
                                                      "'FILENAME SECONDS' lines"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
    ) -> None:
        """Merge an exposure bracket into one high-dynamic-range photo or raw."""

        def run() -> None:
            from rawlux.app.hdr import HdrOptions, hdr_file

            opts = HdrOptions(look=look, color_space=color_space, hdr=ultra, headroom=headroom,
                              transfer=transfer, exposures=exposures)
            hdr_file(frames, output, opts, quality=quality)

        run_guarded(run, context="hdr")
