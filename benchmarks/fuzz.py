"""Long fuzzing runs: ``python benchmarks/fuzz.py --seconds 600 [--seed N]`` (the DNG path),
``python benchmarks/fuzz.py --inputs --seconds 300`` (.cube, look/layout TOML, templates, SVG logos,
GDepth XMP: ``--seconds`` per target), ``python benchmarks/fuzz.py --long`` (both, 10 min each).

The DNG run mutates small generated DNGs (``tests/hostile/dngfuzz.py``) through ``open_raw`` +
``develop`` in-process; the input run mutates seeds of each other format
(``tests/hostile/inputfuzz.py``) through its reader and what follows. Both print the mutants run
per target, the outcome classes (counts per error type) and the peak RSS, under an address-space
limit (``--max-memory-mb``). Escapes (anything but a typed one-line error naming the file) are
listed and, with ``--keep DIR``, saved for a regression file in ``tests/hostile/make_hostile.py``.
Exit status 1 when anything escaped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def run_inputs(argv: list[str]) -> int:
    from tests.hostile import inputfuzz
    from tests.hostile.dngfuzz import peak_rss_mb

    ap = argparse.ArgumentParser(description="fuzz the non-DNG parsers")
    ap.add_argument("--seconds", type=float, default=60.0, help="per target (default 60)")
    ap.add_argument("--count", type=int, default=10**9, help="at most this many mutants per target")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--targets", default=",".join(inputfuzz.TARGETS))
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--max-memory-mb", type=int, default=4096)
    a = ap.parse_args(argv)
    if a.max_memory_mb > 0:
        import resource

        lim = a.max_memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    bad = False
    rows = []
    for target in a.targets.split(","):
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory() as td:
            outcomes, n = inputfuzz.run_target(target, Path(td), a.seed, a.count, a.seconds, a.keep,
                                               a.verbose)
        bad |= any(k.startswith(inputfuzz.BUG_PREFIXES) for k in outcomes)
        rows.append((target, n, time.monotonic() - t0, peak_rss_mb(), outcomes))
    print(f"\n{'target':<10} {'mutants':>8} {'s':>7} {'peak MB':>8}  outcomes")
    for target, n, dt, rss, outcomes in rows:
        oc = ", ".join(f"{k} {v}" for k, v in outcomes.most_common())
        print(f"{target:<10} {n:>8} {dt:>7.1f} {rss:>8.0f}  {oc}")
    return 1 if bad else 0


def main() -> int:
    argv = sys.argv[1:]
    if "--long" in argv:
        argv.remove("--long")
        from tests.hostile.dngfuzz import main as dng_main

        rc = dng_main(["--seconds", "600", *argv])
        return max(rc, run_inputs(["--seconds", "600", *argv]))
    if "--inputs" in argv:
        argv.remove("--inputs")
        return run_inputs(argv)
    from tests.hostile.dngfuzz import main as dng_main

    return dng_main(argv)


if __name__ == "__main__":
    sys.exit(main())
