"""Console entry point of ``rawlux``: process-wide settings that must precede numpy's import.

The ``rawlux`` package imports numpy as soon as it is imported, and numpy's OpenBLAS starts its
worker threads when it loads; idle, they spin for about 0.1 s of CPU. rawlux kernels bring their
own threads and only do small matrix products with BLAS, so the command runs BLAS on the calling
thread (measured: 40 ms off a 0.5 s ``rawlux develop``). A value already in the environment wins.
"""

from __future__ import annotations

import os


def main() -> None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from rawlux.cli.app import main as app_main

    app_main()


if __name__ == "__main__":
    main()
