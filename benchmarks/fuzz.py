"""Long fuzzing runs of the DNG path: ``python benchmarks/fuzz.py --seconds 600 [--seed N]``.

Runs structure-aware mutants of small generated DNGs (``tests/hostile/dngfuzz.py``) through
``open_raw`` + ``develop`` in-process and prints the outcome classes (counts per error type), the
rate and the peak RSS. Escapes (anything but a typed one-line error naming the file) are listed
and, with ``--keep DIR``, saved for a regression file in ``tests/hostile/make_hostile.py``.
Exit status 1 when anything escaped.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.hostile.dngfuzz import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
