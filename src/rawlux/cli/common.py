"""CLI plumbing shared by every command: error guard, progress, option parsing.

The CLI touches no pixels: it turns arguments into parameters and calls :mod:`rawlux.app`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")

EXIT_INTERNAL = 70  # EX_SOFTWARE
EXIT_INTERRUPTED = 130


def error_line(message: str) -> None:
    """Print one error line to stderr (control characters from files escaped)."""
    from rawlux.core.limits import terminal_safe

    sys.stderr.write(f"rawlux: error: {terminal_safe(message)}\n")
    sys.stderr.flush()


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    from rawlux.core.limits import terminal_safe

    sys.stderr.write(f"rawlux: warning: {terminal_safe(message)}\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an interruption: writers remove their temp files as for Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def handle_sigterm() -> None:
    """Make SIGTERM behave like SIGINT in this process (writers clean up their temp files, the
    CLI prints "interrupted" and exits 130). Only from the main thread and only when SIGTERM still
    has its default action (an embedding application's own handler is kept)."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no signals here
        pass


def run_guarded(fn: Callable[[], T], *, context: str | None = None) -> T:
    """Run ``fn``; on a :class:`RawluxError` print its one line and exit with its code.

    Any other exception is reported as one line too (set ``RAWLUX_DEBUG=1`` for the traceback).
    """
    from rawlux.core.errors import RawluxError

    warnings.showwarning = _show_warning
    handle_sigterm()  # SIGTERM like Ctrl-C: temp files removed, exit 130
    try:
        return fn()
    except RawluxError as err:
        from rawlux.core.errors import ContractError, InputError

        # a stage's data error (crop, demosaic, NaN...) names the file being processed
        named = err.path is None and context and isinstance(err, (ContractError, InputError))
        error_line(f"{context}: {err}" if named else str(err))
        raise SystemExit(err.exit_code) from None
    except KeyboardInterrupt:
        error_line("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except MemoryError:
        error_line(f"{context + ': ' if context else ''}out of memory")
        raise SystemExit(EXIT_INTERNAL) from None
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback
        if os.environ.get("RAWLUX_DEBUG"):
            raise
        where = f"{context}: " if context else ""
        error_line(f"{where}internal error: {type(exc).__name__}: {' '.join(str(exc).split())}")
        raise SystemExit(EXIT_INTERNAL) from None


def progress(total: int, description: str, enabled: bool = True) -> Any:
    """A rich progress bar (to stderr) for ``total`` steps, or a no-op when not enabled."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def resolve_outputs(inputs: Iterable[Path], output: Path | None, out_dir: Path | None,
                    fmt: str) -> list[Path]:
    """Map inputs to output paths: ``-o`` for one input, or ``--out-dir`` with ``--format`` (an
    extension only: no ``/`` or ``..``). The paths are checked by the app
    (:func:`rawlux.app.outputs.check_outputs`, with ``out_dir``) before any work."""
    from rawlux.core.errors import InvalidParameter
    from rawlux.app.outputs import check_extension_name

    inputs = list(inputs)
    if output is not None and out_dir is not None:
        raise InvalidParameter("give either -o/--output or --out-dir, not both")
    if output is not None:
        if len(inputs) != 1:
            raise InvalidParameter(f"-o/--output takes one input, got {len(inputs)}; use --out-dir")
        return [output]
    if out_dir is None:
        raise InvalidParameter("no output: give -o OUT or --out-dir DIR")
    ext = check_extension_name(fmt)
    outs = [out_dir / f"{p.stem}.{ext}" for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outs):
        if dst in seen:
            raise InvalidParameter(f"{src} and {seen[dst]} would both write {dst}")
        seen[dst] = src
    return outs
