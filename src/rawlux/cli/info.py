"""``rawlux info``: print what was read from a raw file.

Imports of ``rawlux.app`` and below sit inside the command bodies on purpose: ``rawlux --help``
and argument errors then load no pixel code (start-up time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import run_guarded


def register(app: typer.Typer) -> None:
    @app.command()
    def info(
        path: Path = typer.Argument(..., help="raw file, or a photo (shows its HDR gain map)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
        cfa: Optional[str] = typer.Option(None, "--cfa", help="CFA of a bare mosaic PNG/TIFF"),
    ) -> None:
        """Show camera, CFA, levels, colour matrices, neutral, noise profile, opcodes, crop."""

        def run() -> None:
            from rawlux.app.info import describe_file

            rows = describe_file(path, cfa=cfa)
            if as_json:
                typer.echo(json.dumps(dict(rows), indent=2))
                return
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text

            from rawlux.core.limits import terminal_safe

            # values come from the file: plain Text (no rich markup), control characters escaped
            table = Table(title=Text(terminal_safe(path)), show_header=False, box=None)
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column()
            for key, value in rows:
                table.add_row(Text(terminal_safe(key)), Text(terminal_safe(value)))
            Console().print(table)

        run_guarded(run, context=str(path))
