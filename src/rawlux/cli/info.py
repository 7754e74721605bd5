"""``rawlux info``: print what was read from a raw file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import run_guarded


def register(app: typer.Typer) -> None:
    @app.command()
    def info(
        path: Path = typer.Argument(..., help="raw file"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
        cfa: Optional[str] = typer.Option(None, "--cfa", help="CFA of a bare mosaic PNG/TIFF"),
    ) -> None:
        """Show camera, CFA, levels, colour matrices, neutral, noise profile, opcodes, crop."""

        def run() -> None:
            import warnings

            from rawlux.io.raw import EmptyRawWarning, describe, open_raw

            if path.suffix.lower() == ".dcp":  # a DNG camera profile, not a raw
                from rawlux.io.dcp import describe_dcp

                rows = describe_dcp(path)
            else:
                with warnings.catch_warnings():  # shown as the "warning" row of the table
                    warnings.simplefilter("ignore", EmptyRawWarning)
                    raw = open_raw(path, **({"cfa": cfa} if cfa else {}))
                rows = describe(raw)
                from rawlux.isp.lensfun import describe_lens

                rows.append(("lens correction", describe_lens(raw)))
            if as_json:
                typer.echo(json.dumps(dict(rows), indent=2))
                return
            from rich.console import Console
            from rich.table import Table

            table = Table(title=str(path), show_header=False, box=None)
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column()
            for key, value in rows:
                table.add_row(key, value)
            Console().print(table)

        run_guarded(run, context=str(path))
