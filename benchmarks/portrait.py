"""Portrait renderer speed on 12 MP (4000 x 3000), per lens. Not a test.

Usage: ``.venv/bin/python benchmarks/portrait.py [--runs 3] [--size 4000x3000] [--mask]``

Times :func:`rawlux.portrait.bokeh.render_bokeh` (sRGB decode, highlight boost, CoC, layered
render, encode) on a synthetic scene with a continuous depth map: subject at the focal plane, a
ground plane receding to a far background and a foreground object (so every layer kind runs).
``--mask`` also times the subject mask (U^2-Net-p + guided-filter refinement) on the same image.
Prints a table with the median wall time of ``--runs`` runs after one warm-up (numba JIT) and
the median CPU time (all threads): on a shared machine the CPU time is the honest upper bound of
what an otherwise idle 2-core machine needs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--mask", action="store_true", help="also time the subject mask")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

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
