"""Batch throughput: ``rawlux batch`` (1 and 2 workers) vs a darktable-cli loop and a rawpy loop.

Every tool turns the same N raws into JPEGs in a fresh output folder; the table shows wall time
and files per second of the whole command (process start-up included, as a user runs it).

    python benchmarks/batch.py [--files 40] [--megapixels 12] [--source synth|shared] [--skip-darktable]

``--source synth`` writes distinct synthetic DNGs (``rawlux.synth.sample``, 4 scenes, copied to
N files); ``shared`` copies the developable real raws of ``../shared/data/raw`` (DNG, NEF) to N
files. Peers: ``darktable-cli`` once per file (the usual shell loop) and once on the whole
folder (one process), and a Python script that loops ``rawpy.postprocess`` + Pillow save in one
process (start-up paid once, like ``rawlux batch``). Goals (issue 14): rawlux >= 3x the
darktable-cli loop, >= 1.3x the rawpy loop. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = ROOT.parent / "shared" / "data" / "raw"
PY = sys.executable
RAWLUX = [PY, "-m", "rawlux_launcher"]
SHARED = ("blackmagic_pocket4k_cinemadng.dng", "canon_550d_magiclantern_colorchart.dng",
          "nikon_d1.nef", "canon_eos_6d.dng")

RAWPY_LOOP = """
import sys, pathlib, rawpy
from PIL import Image
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for f in sorted(src.iterdir()):
    with rawpy.imread(str(f)) as r:
        rgb = r.postprocess(use_camera_wb=True, output_bps=8)
    Image.fromarray(rgb).save(dst / (f.stem + ".jpg"), quality=92)
"""


def make_inputs(folder: Path, n: int, megapixels: float, source: str) -> None:
    folder.mkdir(parents=True)
    if source == "shared":
        names = [SHARED_RAW / s for s in SHARED if (SHARED_RAW / s).is_file()]
        for i in range(n):
            src = names[i % len(names)]
            shutil.copy(src, folder / f"{i:03d}_{src.name}")
        return
    import numpy as np

    from rawlux.io.dng import write_dng
    from rawlux.synth.sample import make_sample

    w = int(round(np.sqrt(megapixels * 1e6 * 4 / 3)))
    h = int(round(w * 3 / 4))
    scenes = []
    for seed, ill in enumerate(("D65", "A", "D50", "FL2")):
        p = folder.parent / f"scene{seed}.dng"
        write_dng(make_sample(w, h, ill, seed=seed), p)
        scenes.append(p)
    for i in range(n):
        shutil.copy(scenes[i % len(scenes)], folder / f"{i:03d}.dng")
    for s in scenes:
        s.unlink()


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (children) of one command; raises on failure."""
    r0 = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    r1 = os.times()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return wall, (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--source", choices=("synth", "shared"), default="synth")
    ap.add_argument("--skip-darktable", action="store_true")
    ap.add_argument("--tmp", type=Path, default=None, help="work folder (default: a temp dir)")
    args = ap.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        work = Path(tmp)
        src = work / "in"
        t0 = time.perf_counter()
        make_inputs(src, args.files, args.megapixels, args.source)
        print(f"inputs: {args.files} x {args.source} ({args.megapixels:g} MP for synth) "
              f"in {time.perf_counter() - t0:.0f} s; {platform.processor() or platform.machine()}, "
              f"{len(os.sched_getaffinity(0))} CPUs, load {os.getloadavg()[0]:.1f}")
        # warm the numba cache / page cache once (not timed)
        timed([*RAWLUX, "batch", str(src / sorted(os.listdir(src))[0]), "--out-dir", str(work / "warm"),
               "--workers", "1", "--quiet"], env)
        rows: list[tuple[str, float, float]] = []

        def add(name: str, cmd: list[str] | None = None, fn=None) -> None:
            try:
                wall, cpu = fn() if fn else timed(cmd, env)
            except RuntimeError as e:
                print(f"  {name}: {e}")
                return
            rows.append((name, wall, cpu))
            print(f"  {name}: {wall:.1f} s")

        for w in (1, 2):
            add(f"rawlux batch --workers {w}",
                [*RAWLUX, "batch", str(src), "--out-dir", str(work / f"rl{w}"), "--workers", str(w), "--quiet"])
        out = work / "rp"
        out.mkdir()
        add("rawpy loop (one process)", [PY, "-c", RAWPY_LOOP, str(src), str(out)])
        if not args.skip_darktable and shutil.which("darktable-cli"):
            def dt_loop() -> tuple[float, float]:
                o = work / "dt"
                o.mkdir()
                wall = cpu = 0.0
                for f in sorted(src.iterdir()):
                    a, b = timed(["darktable-cli", str(f), str(o / (f.stem + ".jpg")), "--core",
                                  "--configdir", str(work / "dtconf"), "--library", ":memory:"])
                    wall, cpu = wall + a, cpu + b
                return wall, cpu

            add("darktable-cli loop (process per file)", fn=dt_loop)
            o = work / "dtf"
            o.mkdir()
            add("darktable-cli folder (one process)",
                ["darktable-cli", str(src), str(o / "$(FILE_NAME)"), "--out-ext", "jpg", "--core",
                 "--configdir", str(work / "dtconf2"), "--library", ":memory:"])

    n = args.files
    print()
    print(f"| command ({n} files) | wall s | files/s | CPU s/file |")
    print("|---|---|---|---|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.1f} | {n / wall:.2f} | {cpu / n:.2f} |")
    t = {name: wall for name, wall, _ in rows}
    best = min((w for k, w in t.items() if k.startswith("rawlux")), default=None)
    if best is not None:
        for peer, goal in (("darktable-cli loop (process per file)", 3.0), ("rawpy loop (one process)", 1.3)):
            if peer in t:
                print(f"rawlux (best) vs {peer}: {t[peer] / best:.2f}x (goal >= {goal}x)")


if __name__ == "__main__":
    main()
