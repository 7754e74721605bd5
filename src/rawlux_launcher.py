"""Console entry point of ``rawlux``: process-wide settings around the typer app.

* Before numpy loads: the ``rawlux`` package imports numpy as soon as it is imported, and
  numpy's OpenBLAS starts its worker threads when it loads; idle, they spin for about 0.1 s of
  CPU. rawlux kernels bring their own threads and only do small matrix products with BLAS, so
  the command runs BLAS on the calling thread (measured: 40 ms off a 0.5 s ``rawlux develop``).
  A value already in the environment wins.
* After the command: its outputs are written (atomically) and flushed, so the interpreter's
  teardown (garbage-collecting every module, ~40 ms after a develop) is skipped. Exit handlers
  still run (``atexit``: thread pools, temporary files); the exit status is the command's.
  An unexpected exception leaves the normal way, with its traceback.
"""

from __future__ import annotations

import os
import sys


def _status(code: object) -> int:
    """``SystemExit.code`` as a process exit status (``sys.exit`` semantics)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main() -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from rawlux.cli.app import main as app_main

    try:
        app_main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    status = _status(code)
    import atexit

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # not CPython: leave the ordinary way
        sys.exit(status)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe (``rawlux looks list | head``)
            pass
    os._exit(status)


if __name__ == "__main__":
    main()
