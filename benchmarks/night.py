"""Night-mode benchmark: quality of the burst merge on synthetic handheld bursts, and speed.

Quality: for each scikit-image sample and noise level, a handheld burst of 8 frames is simulated
(:mod:`rawlux.synth.burst`: unprocessed photo, hand motion with sub-pixel shifts and rotation, one
independently moving object, lens blur, RGGB mosaic, noise variance a*x+b, 14-bit quantisation),
written as DNG files, read back with ``open_raw`` and merged. The merged raw is scored against the
clean reference mosaic (PSNR, normalised, 16 px border excluded): overall, inside the moving object
(frame 0) and along its whole path, next to (a) the reference frame alone, (b) a plain average of
the frames, (c) a perfectly aligned average (reference scene + independent noise, the bound for
plain averaging).

Speed: 8 synthetic frames of 4000x3000 (12 MP) DNGs merged from paths in a fresh process run
under ``/usr/bin/time -v`` (peak RSS), twice: the first call (page faults, thread-pool start) and a
warm second call; one warm-up process first fills numba's cache. Medians are printed, and the
best of the runs with the process CPU time of each merge (all threads), which is far less
sensitive than wall time to other work on a shared machine.

    .venv/bin/python benchmarks/night.py              # quality table + speed
    .venv/bin/python benchmarks/night.py --no-speed   # quality only
    .venv/bin/python benchmarks/night.py --quick      # 2 images x 2 levels, no speed (iterating)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
LEVELS = ("mild", "medium", "high", "extreme")


def quality(images: tuple[str, ...], levels: tuple[str, ...], n_frames: int, size: int | None) -> list[dict]:
    from rawlux.app.night import open_burst
    from rawlux.burst.merge import merge_burst
    from rawlux.synth.burst import (
        aligned_average,
        interior,
        make_burst,
        normalised,
        plain_average,
        psnr,
        write_burst,
    )

    rows = []
    merge_burst(make_burst("astronaut", 2, size=(64, 64)).frames)  # warm-up: load numba's cache
    with tempfile.TemporaryDirectory() as tmp:
        for i, img in enumerate(images):
            for j, lvl in enumerate(levels):
                b = make_burst(img, n_frames, noise=lvl, seed=100 * i + j,
                               size=None if size is None else (size, size))
                d = Path(tmp) / f"{img}_{lvl}"
                d.mkdir()
                paths = write_burst(b, d)
                t0 = time.perf_counter()
                merged = merge_burst(open_burst(paths))
                dt = time.perf_counter() - t0
                m = interior(b.clean.shape)
                masks = {"all": m, "object": b.object_mask & m, "path": b.object_path & m}
                cands = {"reference": normalised(b.frames[0].data), "plain avg": plain_average(b),
                         "aligned avg": aligned_average(b), "rawlux": merged.data}
                row = {"image": img, "level": lvl, "seconds": dt, "shape": b.clean.shape}
                for name, x in cands.items():
                    for mk, mask in masks.items():
                        row[(name, mk)] = psnr(x, b.clean, mask)
                rows.append(row)
                print(f"  {img:10s} {lvl:8s} ref {row[('reference', 'all')]:.2f}  rawlux "
                      f"{row[('rawlux', 'all')]:.2f} dB  ({dt:.2f} s)", file=sys.stderr)
    return rows


def print_quality(rows: list[dict]) -> str:
    lines = ["| image | noise | reference | plain avg | aligned avg | **rawlux** | gain | object: ref / rawlux | object path: ref / plain / rawlux |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['image']} | {r['level']} | {r[('reference', 'all')]:.2f} | {r[('plain avg', 'all')]:.2f} | "
            f"{r[('aligned avg', 'all')]:.2f} | **{r[('rawlux', 'all')]:.2f}** | "
            f"{r[('rawlux', 'all')] - r[('reference', 'all')]:+.2f} | "
            f"{r[('reference', 'object')]:.2f} / {r[('rawlux', 'object')]:.2f} | "
            f"{r[('reference', 'path')]:.2f} / {r[('plain avg', 'path')]:.2f} / {r[('rawlux', 'path')]:.2f} |"
        )
    by_level = {}
    for r in rows:
        by_level.setdefault(r["level"], []).append(r)
    lines.append("")
    lines.append("| noise | mean gain over reference (dB) | min object margin rawlux - reference (dB) |")
    lines.append("|---|---|---|")
    for lvl, rs in by_level.items():
        gain = np.mean([r[("rawlux", "all")] - r[("reference", "all")] for r in rs])
        obj = min(r[("rawlux", "object")] - r[("reference", "object")] for r in rs)
        lines.append(f"| {lvl} | {gain:+.2f} | {obj:+.2f} |")
    out = "\n".join(lines)
    print(out)
    return out


_SPEED_SCRIPT = """
import sys, time
from rawlux.app.night import merge_files
t0, c0 = time.perf_counter(), time.process_time()
m = merge_files(sys.argv[1:])
print("MERGE_SECONDS", time.perf_counter() - t0, time.process_time() - c0)
del m
t0, c0 = time.perf_counter(), time.process_time()
m = merge_files(sys.argv[1:])
print("WARM_SECONDS", time.perf_counter() - t0, time.process_time() - c0)
"""


def speed(n_frames: int = 8, size: tuple[int, int] = (3000, 4000), runs: int = 3) -> dict:
    from rawlux.synth.burst import make_burst, write_burst

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        b = make_burst("astronaut", n_frames, noise="high", size=size, seed=3)
        paths = write_burst(b, tmp)
        del b
        print(f"  generated {n_frames} frames of {size[1]}x{size[0]} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        cmd = ["/usr/bin/time", "-v", sys.executable, "-c", _SPEED_SCRIPT, *map(str, paths)]
        subprocess.run(cmd, check=True, capture_output=True)  # warm numba's cache
        walls, merges, warms, rss, cpus = [], [], [], [], []
        for _ in range(runs):
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            first = re.search(r"MERGE_SECONDS (\S+) (\S+)", res.stdout)
            warm = re.search(r"WARM_SECONDS (\S+) (\S+)", res.stdout)
            merges.append(float(first.group(1)))
            warms.append(float(warm.group(1)))
            cpus.append((float(first.group(2)), float(warm.group(2))))
            wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", res.stderr)
            walls.append(int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3)))
            rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1)))
    out = {"merge_s": float(np.median(merges)), "warm_s": float(np.median(warms)),
           "process_s": float(np.median(walls)),
           "peak_rss_gb": max(rss) / 1024**2, "frames": n_frames, "size": size,
           "cpu_first_s": min(c[0] for c in cpus), "cpu_warm_s": min(c[1] for c in cpus),
           "min_first_s": min(merges), "min_warm_s": min(warms)}
    load = os.getloadavg()[0]
    print(f"\n8x12MP speed ({n_frames} frames {size[1]}x{size[0]}, median of {runs}, load average {load:.1f}): "
          f"merge from DNG paths {out['warm_s']:.2f} s warm / {out['merge_s']:.2f} s first call in a fresh "
          f"process; whole process (two merges) {out['process_s']:.2f} s; peak RSS {out['peak_rss_gb']:.2f} GB\n"
          f"  best of {runs}: {out['min_warm_s']:.2f} s warm / {out['min_first_s']:.2f} s first; CPU (user+sys, "
          f"all threads, min) {out['cpu_warm_s']:.2f} s warm / {out['cpu_first_s']:.2f} s first")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--size", type=int, default=None, help="resize the samples to SIZE x SIZE")
    ap.add_argument("--quick", action="store_true", help="astronaut + rocket, mild + extreme, no speed")
    args = ap.parse_args()
    if args.quick:
        args.images, args.levels, args.no_speed = "astronaut,rocket", "mild,extreme", True
    print(f"rawlux night benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if not args.no_quality:
        rows = quality(tuple(args.images.split(",")), tuple(args.levels.split(",")), args.frames, args.size)
        print_quality(rows)
    if not args.no_speed:
        speed(args.frames)


if __name__ == "__main__":
    main()
