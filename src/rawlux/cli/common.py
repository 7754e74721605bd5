"""CLI plumbing shared by every command: error guard, progress, option parsing.

The CLI touches no pixels: it turns arguments into parameters and calls the library.
"""

from __future__ import annotations

import os
import sys
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


def run_guarded(fn: Callable[[], T], *, context: str | None = None) -> T:
    """Run ``fn``; on a :class:`RawluxError` print its one line and exit with its code.

    Any other exception is reported as one line too (set ``RAWLUX_DEBUG=1`` for the traceback).
    """
    from rawlux.core.errors import RawluxError

    from rawlux.io.safety import handle_sigterm

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
    """Map inputs to output paths: ``-o`` for one input, or ``--out-dir`` with ``--format``."""
    from rawlux.core.errors import InvalidParameter
    from rawlux.io.safety import check_extension_name, check_outputs

    inputs = list(inputs)
    if output is not None and out_dir is not None:
        raise InvalidParameter("give either -o/--output or --out-dir, not both")
    if output is not None:
        if len(inputs) != 1:
            raise InvalidParameter(f"-o/--output takes one input, got {len(inputs)}; use --out-dir")
        return check_outputs([output], inputs)
    if out_dir is None:
        raise InvalidParameter("no output: give -o OUT or --out-dir DIR")
    ext = check_extension_name(fmt)
    outs = [out_dir / f"{p.stem}.{ext}" for p in inputs]
    seen: dict[Path, Path] = {}
    for src, dst in zip(inputs, outs):
        if dst in seen:
            raise InvalidParameter(f"{src} and {seen[dst]} would both write {dst}")
        seen[dst] = src
    return check_outputs(outs, inputs, out_dir=out_dir)


# ------------------------------------------------------------------ one photo-or-raw decision


def load_raw(path: Path, **raw_kw: Any) -> Any:
    """Open a raw for developing: refuse a photo (decided by :func:`rawlux.io.probe.input_kind`,
    the same decision every command uses) and a raw without image data (all pixels zero, e.g. a
    metadata-only DNG) with a one-line error."""
    from rawlux.core.errors import CorruptInput, UnsupportedInput
    from rawlux.io.probe import input_kind
    from rawlux.io.raw import EmptyRawWarning, empty_pixels_reason, open_raw
    from rawlux.io.safety import FORMAT_NAMES, read_head, sniff

    if input_kind(path, cfa=raw_kw.get("cfa")) == "photo":
        kind = sniff(read_head(path))
        hint = ("; for a bare Bayer mosaic pass --cfa RGGB|BGGR|GRBG|GBRG" if kind in ("png", "tiff")
                else "; developed photos go to `rawlux frame` or `rawlux portrait`")
        raise UnsupportedInput(f"is {FORMAT_NAMES.get(kind, 'a photo')}, not a raw file{hint}", path)
    with warnings.catch_warnings():  # the error below says it once
        warnings.simplefilter("ignore", EmptyRawWarning)
        raw = open_raw(path, **raw_kw)
    reason = empty_pixels_reason(raw)
    if reason:
        raise CorruptInput(f"no image to develop: {reason}", path)
    return raw


def open_image(path: Path, *, look: str | None = None, color_space: str = "srgb",
               note: Callable[[str], None] | None = None) -> Any:
    """A display-encoded Image from any input: a photo is decoded as it is, a raw (by content,
    see :func:`rawlux.io.probe.input_kind`) is developed with ``look`` (default: the develop
    default) into ``color_space``. ``note`` receives a message when ``look`` cannot apply."""
    from rawlux.io.probe import input_kind

    if input_kind(path) == "photo":
        from rawlux.io.photo import open_photo

        if look and note is not None:
            note("--look applies to raw input only; the photo keeps its rendering")
        return open_photo(path)
    from rawlux.develop import DEFAULT_LOOK, develop

    return develop(load_raw(path), look=look or DEFAULT_LOOK, color_space=color_space)
