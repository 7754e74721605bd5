"""Portrait renderer speed on 12 MP (4000 x 3000), per lens. Not a test.

Usage: ``.venv/bin/python benchmarks/portrait.py [--runs 3] [--size 4000x3000] [--mask] [--cli]``

``--cli`` (the user-facing number; the header says whether the ahead-of-time kernel module is
loaded, as in a set-up done by ``./dev``: without it each process pays numba's start-up): a 12 MP JPEG made from the chandelier portrait
(``../shared/data``) and a depth picture, then **fresh processes**, side by side: ``rawlux
portrait`` with the depth picture (focal plane from the depth map itself: no mask model),
with the depth picture and ``--focus`` (the renderer alone), without a depth
picture (mask model + depth from cues), and
a plain OpenCV composite script (read, Gaussian blur of the whole frame, blend by the depth,
write; the cheapest "portrait mode" there is). Wall, CPU (user + system) and peak RSS of each
process, from ``/usr/bin/time``; median of ``--runs`` after one warm-up run.

Times :func:`rawlux.portrait.bokeh.render_bokeh` (sRGB decode, highlight expansion, CoC, layered
render, encode) on a synthetic scene with a continuous depth map: subject at the focal plane, a
ground plane receding to a far background and a foreground object (so every layer kind runs).
``--mask`` also times the subject mask (U^2-Net-p + guided-filter refinement) on the same image.
Prints a table with the median wall time of ``--runs`` runs after one warm-up (numba JIT) and
the median CPU time (all threads): on a shared machine the CPU time is the honest upper bound of
what an otherwise idle 2-core machine needs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.35 + 0.25 * np.sin(xx / 37.0)[..., None] * np.cos(yy / 23.0)[..., None]
    rgb = np.clip(base + 0.1 * rng.random((h, w, 3), dtype=np.float32), 0, 1)
    lights = rng.integers(0, [h, w], size=(300, 2))
    rgb[lights[:, 0], lights[:, 1]] = 1.0  # clipped highlights -> discs
    disp = (0.08 + 0.5 * (yy / h) ** 2).astype(np.float32)  # ground plane
    subj = ((xx - 0.5 * w) / (0.18 * w)) ** 2 + ((yy - 0.55 * h) / (0.38 * h)) ** 2 < 1
    disp[subj] = 1.0
    fg = (xx > 0.85 * w) & (yy > 0.7 * h)
    disp[fg] = 2.0
    return np.ascontiguousarray(rgb, np.float32), disp


ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RAWLUX = str(Path(sys.executable).with_name("rawlux"))

OPENCV_COMPOSITE = r"""
import sys, cv2, numpy as np
src, depth, dst = sys.argv[1:4]
img = cv2.imread(src, cv2.IMREAD_COLOR)
d = cv2.imread(depth, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
d = cv2.resize(d, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
sigma = 0.006 * max(img.shape[:2])
blur = cv2.GaussianBlur(img, (0, 0), sigma)
a = np.clip((d - 0.6) / 0.3, 0.0, 1.0)[..., None]  # 1 = near (in focus)
out = (img * a + blur * (1.0 - a)).astype(np.uint8)
cv2.imwrite(dst, out, [cv2.IMWRITE_JPEG_QUALITY, 92])
"""


def make_inputs(work: Path, w: int, h: int) -> tuple[Path, Path]:
    """A w x h JPEG from the chandelier portrait and a near-is-white depth picture for it
    (subject from a centred ellipse, background receding upward)."""
    import cv2

    src = DATA / "portraits" / "pd_whitehouse_obama_blue_room_chandelier_2010.jpg"
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"{src}: not found (the benchmark needs ../shared/data)")
    big = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    jpg = work / "portrait_12mp.jpg"
    cv2.imwrite(str(jpg), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = 0.25 + 0.2 * (yy / h)
    subj = ((xx - 0.5 * w) / (0.3 * w)) ** 2 + ((yy - 0.62 * h) / (0.5 * h)) ** 2 < 1
    d[subj] = 1.0
    dep = work / "depth_12mp.png"
    cv2.imwrite(str(dep), (d * 255).astype(np.uint8))
    return jpg, dep


def run_with_rss(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one fresh process
    (measured by ``develop_speed.run_with_rss``, beside this script)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from develop_speed import run_with_rss as measure

    wall, rss, _, cpu = measure(cmd)
    return wall, cpu, rss


def aot_status() -> str:
    """The AOT kernel module state the ``rawlux`` processes will see (a fresh process)."""
    res = subprocess.run([sys.executable, "-m", "rawlux.core.aot", "status"], capture_output=True,
                         text=True, check=False)
    return (res.stdout.strip() or res.stderr.strip() or "?").splitlines()[-1]


def cli_table(w: int, h: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jpg, dep = make_inputs(work, w, h)
        cmds = {
            "rawlux portrait --depth (50 f/1.4)": [RAWLUX, "portrait", str(jpg), "-o",
                                                   str(work / "a.jpg"), "--lens", "50",
                                                   "--aperture", "1.4", "--depth", str(dep),
                                                   "--depth-white", "near"],
            "rawlux portrait --depth --focus (50 f/1.4)": [RAWLUX, "portrait", str(jpg), "-o",
                                                           str(work / "e.jpg"), "--lens", "50",
                                                           "--aperture", "1.4", "--depth",
                                                           str(dep), "--depth-white", "near",
                                                           "--focus", "0.5,0.6"],
            "rawlux portrait --depth (90 f/2)": [RAWLUX, "portrait", str(jpg), "-o",
                                                 str(work / "b.jpg"), "--lens", "90",
                                                 "--aperture", "2", "--depth", str(dep),
                                                 "--depth-white", "near"],
            "rawlux portrait, mask model (50 f/1.4)": [RAWLUX, "portrait", str(jpg), "-o",
                                                       str(work / "c.jpg"), "--lens", "50",
                                                       "--aperture", "1.4"],
            "OpenCV Gaussian composite script": [sys.executable, "-c", OPENCV_COMPOSITE, str(jpg),
                                                 str(dep), str(work / "d.jpg")],
        }
        rows = []
        for name, cmd in cmds.items():
            run_with_rss(cmd)  # warm-up: numba cache, page cache
            res = [run_with_rss(cmd) for _ in range(runs)]
            rows.append((name, statistics.median(r[0] for r in res), min(r[0] for r in res),
                         statistics.median(r[1] for r in res), max(r[2] for r in res)))
    print(f"portrait, fresh processes  {w}x{h} ({w * h / 1e6:.1f} MP JPEG)  "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}")
    print(f"kernels: {aot_status()} (python -m rawlux.core.aot build; RAWLUX_AOT=0 = JIT)")
    print(f"{'command':44s} {'wall med':>9s} {'wall best':>9s} {'cpu med':>8s} {'peak RSS':>9s}")
    for name, med, best, cpu, rss in rows:
        print(f"{name:44s} {med:>8.2f}s {best:>8.2f}s {cpu:>7.2f}s {rss:>6.0f} MiB")
    print(json.dumps({r[0]: {"wall": round(r[1], 2), "cpu": round(r[3], 2), "rss_mib": round(r[4])}
                      for r in rows}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--mask", action="store_true", help="also time the subject mask")
    ap.add_argument("--cli", action="store_true",
                    help="fresh rawlux portrait processes vs an OpenCV composite (wall, CPU, RSS)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.cli:
        cli_table(w, h, args.runs)
        return

    from rawlux.core.image import ColorSpace, Encoding, Image, Referred
    from rawlux.portrait.bokeh import BokehParams, render_bokeh
    from rawlux.portrait.lens import BUILTIN_LENSES, load_lens

    rgb, disp = scene(h, w)
    img = Image(rgb, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY)
    rows = []
    for name in BUILTIN_LENSES:
        lens = load_lens(name)
        params = BokehParams()
        render_bokeh(img, disp, 1.0, lens, params)  # warm-up (JIT, caches)
        times, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            render_bokeh(img, disp, 1.0, lens, params)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        k = 0.5 * (lens.focal_length / lens.default_aperture) * (0.024 / params.framing) * max(h, w) / 36
        rows.append((lens.name, f"f/{lens.default_aperture:g}", min(k, lens.max_blur * max(h, w) / 2),
                     statistics.median(times), min(times), statistics.median(cpu)))
    if args.mask:
        from rawlux.portrait.mask import subject_mask

        subject_mask(rgb)
        times, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            subject_mask(rgb)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        rows.append(("subject mask (u2netp + refine)", "-", 0.0, statistics.median(times), min(times),
                     statistics.median(cpu)))

    print(f"portrait benchmark  {w}x{h} ({w * h / 1e6:.1f} MP)  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {platform.machine()} {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.1f}, "
          f"python {platform.python_version()}")
    print("wall = elapsed seconds (shared machine: inflated by other load); cpu = CPU-seconds of all")
    print("threads, an upper bound of the wall time on 2 otherwise idle cores")
    print(f"{'lens':34s} {'aperture':>8s} {'max CoC r':>10s} {'wall med':>9s} {'wall best':>9s} {'cpu med':>8s}")
    for name, ap_, r, med, best, c in rows:
        print(f"{name:34s} {ap_:>8s} {r:>8.1f}px {med:>9.2f} {best:>9.2f} {c:>8.2f}")


if __name__ == "__main__":
    main()
