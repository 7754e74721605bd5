"""``rawlux batch``: whole folders, resumable and exactly once, locally or on a Dask cluster."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from rawlux.cli.common import error_line, run_guarded


class _Display:
    """Live progress (files done / total, files/s, ETA, failures) on stderr; quiet when off."""

    def __init__(self, enabled: bool, quiet: bool = False) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                            TextColumn("{task.fields[fails]}"), console=self.console,
                            disable=not enabled, transient=False)
        self.task: Any = None
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, event: str, row: Any, counts: dict[str, int]) -> None:
        if event == "start":
            self.bar.start()
            self.t0 = time.perf_counter()
            self.task = self.bar.add_task("batch", total=counts["todo"], rate="", fails="")
            return
        n = counts["done"] + counts["failed"]
        dt = time.perf_counter() - self.t0
        rate = f"{n / dt:.2f} files/s" if dt > 0 else ""
        fails = f"[red]{counts['failed']} failed" if counts["failed"] else ""
        self.bar.update(self.task, completed=n, rate=rate, fails=fails)
        if row is not None and row.status == "failed" and not self.quiet:
            from rich.markup import escape

            self.bar.console.print(f"[red]failed[/red] {escape(row.reason)}", highlight=False,
                                   soft_wrap=True)

    def stop(self) -> None:
        if self.task is not None:
            self.bar.stop()


def summary(result: Any, console: Any) -> None:
    """The final table: failures with their reason, then counts and throughput."""
    from rich.markup import escape
    from rich.table import Table

    failed = result.failed
    if failed:
        t = Table(title="failed", title_justify="left", show_lines=False)
        t.add_column("output")
        t.add_column("reason", overflow="fold")
        for r in failed:
            t.add_row(escape(r.output),
                      escape(r.reason + (" (earlier run; --retry-failed retries)" if r.earlier else "")))
        console.print(t)
    t = Table(title=escape(f"batch -> {result.out_dir}"), title_justify="left")
    for col in ("done", "skipped", "failed", "not run", "total", "seconds", "files/s", "executor"):
        t.add_column(col, justify="right")
    done = result.count("done")
    rate = f"{done / result.seconds:.2f}" if result.seconds > 0 and done else "-"
    t.add_row(str(done), str(result.count("skipped")), str(result.count("failed")),
              str(result.count("not run")), str(len(result)), f"{result.seconds:.1f}", rate,
              result.executor + (f", {result.retries} retried" if result.retries else ""))
    console.print(t)


def register(app: typer.Typer) -> None:
    @app.command()
    def batch(
        inputs: list[Path] = typer.Argument(..., help="files, folders or globs (raws and photos mixed)"),
        out_dir: Path = typer.Option(..., "--out-dir", help="output folder (mirrors the input tree; holds the ledger)"),
        recipe: Optional[Path] = typer.Option(None, "--recipe", help="rawlux recipe (.toml/.json, e.g. from develop --save-recipe): raws get all of it, photos only its frame"),
        fmt: str = typer.Option("jpg", "--format", help="jpg | heic | avif | tif | png"),
        hdr: bool = typer.Option(False, "--hdr", help="Ultra HDR output (gain map)"),
        frame: Optional[str] = typer.Option(None, "--frame", help="add an EXIF frame (layout name or .toml; default: the recipe's)"),
        cfa: Optional[str] = typer.Option(None, "--cfa", help="RGGB|BGGR|GRBG|GBRG: greyscale PNG/TIFF inputs are bare Bayer mosaics"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        bit_depth: Optional[int] = typer.Option(None, "--bit-depth", help="8 or 16 (tif/png)"),
        workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                              help="local worker processes (default: CPUs; 1 = inline)"),
        recursive: bool = typer.Option(False, "-r", "--recursive", help="descend into sub-folders"),
        force: bool = typer.Option(False, "--force", help="redo every output"),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="run only the jobs that failed before"),
        scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                                help="Dask scheduler tcp://HOST:8786 (needs the cluster extra of rawlux)"),
        bursts: bool = typer.Option(False, "--bursts", help="merge bursts of raws (night mode), one photo each"),
        burst_gap: float = typer.Option(2.0, "--burst-gap", help="max seconds between frames of a burst"),
        content_hash: bool = typer.Option(False, "--content-hash",
                                          help="identify inputs by content (sha256), not size+mtime"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress display"),
    ) -> None:
        """Develop many files into a folder: resumable, exactly once, failures recorded."""
        from rawlux.batch.plan import check_gap

        display = _Display(enabled=not quiet and sys.stderr.isatty(), quiet=quiet)

        def go() -> Any:
            from rawlux.batch import run

            check_gap(burst_gap)
            try:
                return run(inputs, out_dir, recipe=recipe, fmt=fmt, workers=workers,
                           scheduler=scheduler, recursive=recursive, force=force,
                           retry_failed=retry_failed, bursts=bursts, burst_gap=burst_gap,
                           frame=frame, hdr=hdr, cfa=cfa, quality=quality, bit_depth=bit_depth,
                           content_hash=content_hash, progress=display,
                           args=shlex.join(sys.argv[1:]))
            finally:
                display.stop()

        result = run_guarded(go, context="batch")
        summary(result, display.console)
        if not result.ok:
            error_line(f"{result.count('failed')} of {len(result)} output(s) failed")
            raise typer.Exit(1)
