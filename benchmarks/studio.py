"""Studio responsiveness: how long the page waits after a change.

For a generated 12 MP DNG (``rawlux.synth.sample``) and the real raws in ../shared/data/raw it
prints, per kind of change, the median time of :meth:`rawlux.studio.engine.Engine.preview` plus
the JPEG encoding the server adds (what the page waits for), after the first open of the photo
(the first open decodes the raw and is listed separately). Targets (issue 15): preview update
<= 0.5 s for a 12 MP raw, contact sheet of every look <= 3 s.

    python benchmarks/studio.py [RAW ...] [--runs 5] [--mp 12.2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = ROOT.parent / "shared" / "data" / "raw"
OUT = ROOT / "benchmarks" / "out"
PY = sys.executable

# (label, options of run i): every run is a real change, never a cache hit
LOOKS = ["vivid", "mono", "natural", "sepia", "cine", "slide", "blue", "neutral", "soft-film",
         "mono-hc", "vibrant", "authentic"]
CHANGES = [
    ("look", lambda i: {"look": LOOKS[i % len(LOOKS)]}),
    ("strength", lambda i: {"strength": 0.3 + 0.05 * i}),
    ("exposure", lambda i: {"exposure": -0.5 + 0.1 * i}),
    ("white balance (Kelvin)", lambda i: {"wb": f"{4000 + 150 * i},0"}),
    ("highlights", lambda i: {"highlights": ("clip", "none", "reconstruct")[i % 3]}),
    ("denoise", lambda i: {"denoise": 0.1 + 0.07 * i}),
    ("sharpen", lambda i: {"sharpen": 0.1 + 0.07 * i}),
]


CPU: list[float] = []


def _ms(fn) -> float:
    """Wall milliseconds of ``fn()``; its CPU milliseconds (all threads) go to ``CPU``."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    CPU.append((time.process_time() - c) * 1000.0)
    return (time.perf_counter() - t) * 1000.0


def _median(times: list[float]) -> tuple[float, float]:
    """Median wall and CPU ms of the last ``len(times)`` runs (the warm-up dropped)."""
    return statistics.median(times[1:]), statistics.median(CPU[-len(times) + 1:])


def bench(path: Path, runs: int, long_side: int) -> list[tuple[str, float, float]]:
    from rawlux.studio.engine import Engine, encode_jpeg

    e = Engine(preview_long_side=long_side)
    first = _ms(lambda: e.preview(path, {}))
    rows = [("first open + preview (decode, normalise, bin)", first, CPU[-1])]

    def shown(opts: dict) -> None:
        r = e.preview(path, opts)
        encode_jpeg(r.rgb, r.space, 90)

    for label, change in CHANGES:
        times = []
        for i in range(runs + 1):  # first is a warm-up (kernel compile when not built ahead)
            if label == "highlights":  # three values only: forget the images they made
                e.sessions.get(path).cache.clear()
            times.append(_ms(lambda: shown(change(i))))
        rows.append((f"preview update: {label}", *_median(times)))
    sheet = [_ms(lambda: e.contact_sheet(path, {"exposure": 0.1 * k})) for k in range(runs + 1)]
    rows.append(("contact sheet, every look (after a change)", *_median(sheet)))
    full = _ms(lambda: e.full(path, {}))
    rows.append(("full resolution render", full, CPU[-1]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raws", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mp", type=float, default=12.2, help="megapixels of the generated sample")
    ap.add_argument("--long-side", type=int, default=0,
                    help="preview long side (default: the studio's)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    raws = list(args.raws)
    if not raws:
        OUT.mkdir(parents=True, exist_ok=True)
        sample = OUT / f"sample_{args.mp:g}mp.dng"
        if not sample.exists():
            subprocess.run([PY, "-m", "rawlux.synth.sample", str(sample), "--megapixels",
                            str(args.mp)], check=True)
        raws = [sample] + [SHARED_RAW / n for n in ("blackmagic_pocket4k_cinemadng.dng",
                                                    "canon_550d_magiclantern_colorchart.dng",
                                                    "nikon_d1.nef")]
    from rawlux.core.jit import aot_status
    from rawlux.studio.engine import PREVIEW_LONG_SIDE

    long_side = args.long_side or PREVIEW_LONG_SIDE
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# studio responsiveness — preview long side {long_side} px, median of "
          f"{args.runs} after a warm-up; {os.cpu_count()} cores, load average {load:.1f}; "
          f"rawlux AOT kernels: {aot_status()[1]}\n")
    for src in raws:
        import rawpy

        with rawpy.imread(str(src)) as r:
            mp = r.sizes.width * r.sizes.height / 1e6
        print(f"## {src.name} ({mp:.1f} MP)")
        print(f"| {'what':48s} | {'wall ms':>7s} | {'CPU ms':>7s} |")
        print(f"|{'-' * 50}|{'-' * 9}|{'-' * 9}|")
        for name, ms, cpu in bench(src, args.runs, long_side):
            print(f"| {name:48s} | {ms:7.0f} | {cpu:7.0f} |")
        print()


if __name__ == "__main__":
    main()
