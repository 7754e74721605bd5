"""``rawlux studio``: the local web studio (browse, develop, compare looks, export)."""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import run_guarded


def register(app: typer.Typer) -> None:
    @app.command("studio")
    def studio(
        folder: Path = typer.Argument(Path("."), help="folder of raws and photos to open"),
        port: int = typer.Option(0, "--port", min=0, max=65535,
                                 help="port on 127.0.0.1 (0 = a free one)"),
        no_browser: bool = typer.Option(False, "--no-browser", help="do not open a browser"),
        preview: int = typer.Option(1280, "--preview", min=480, max=4096,
                                    help="long side of live previews, px (larger: sharper on "
                                         "high-DPI screens, slower updates)"),
    ) -> None:
        """Open FOLDER in a local web studio on 127.0.0.1: browse, develop with live previews,
        compare every look, set portrait focus and frames, export. Originals are never changed."""

        def run() -> None:
            from rawlux.core.errors import MissingInput

            if not folder.is_dir():
                raise MissingInput("not a folder", folder)
            try:
                from rawlux.studio.server import serve
            except ImportError as exc:
                from rawlux.core.errors import UnsupportedInput

                raise UnsupportedInput(
                    f"the studio needs the 'studio' extra (pip install 'rawlux[studio]'): {exc}"
                ) from None
            serve(folder, port=port, open_browser=not no_browser, preview_long_side=preview,
                  announce=lambda s: typer.echo(s, err=False))

        run_guarded(run, context=str(folder))
