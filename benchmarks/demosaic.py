"""Demosaic benchmark: PSNR on mosaicked scikit-image samples and 12 MP timing.

Usage: ``python benchmarks/demosaic.py [--repeat N] [--no-12mp]``

Each sample is decoded from sRGB to linear [0, 1], mosaicked with an RGGB Bayer pattern and
demosaicked by every method; PSNR (dB, peak 1.0) is computed on linear RGB with an 8-pixel
border excluded. Timing: median wall time of ``--repeat`` runs on a 4000x3000 mosaic, after a
warm-up call (numba compilation excluded), with the number of numba threads printed.
Prints only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from rawlux.synth.images import linear_sample as linear_image
from rawlux.synth.images import mosaic
from rawlux.synth.images import psnr as _psnr

IMAGES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "retina",
    "colorwheel",
)


def psnr(a: np.ndarray, b: np.ndarray, border: int = 8) -> float:
    return _psnr(a, b, border=border)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-12mp", action="store_true", help="skip the 12 MP timing")
    args = ap.parse_args()

    import numba

    from rawlux.isp.demosaic import DEMOSAIC

    methods = ["bilinear", "menon2007", "rcd"]
    methods += [m for m in DEMOSAIC.names() if m not in methods and not m.endswith("_reference")]
    pattern = np.array([[0, 1], [1, 2]])
    print(f"rawlux demosaic benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
          f"numba threads={numba.get_num_threads()}")  # fmt: skip
    for m in methods:  # warm-up (compile) outside the timings
        DEMOSAIC.get(m)(mosaic(linear_image("astronaut")[:64, :64], pattern), pattern)

    print("\nPSNR (dB, linear RGB, RGGB, 8 px border excluded)")
    print(f"{'image':<22}" + "".join(f"{m:>12}" for m in methods))
    table: dict[str, list[float]] = {m: [] for m in methods}
    times: dict[str, float] = {m: 0.0 for m in methods}
    for name in IMAGES:
        img = linear_image(name)
        cfa = mosaic(img, pattern)
        label = f"{name[:12]} {img.shape[1]}x{img.shape[0]}"
        row = f"{label:<22}"
        for m in methods:
            t = time.perf_counter()
            out = DEMOSAIC.get(m)(cfa, pattern)
            times[m] += time.perf_counter() - t
            table[m].append(psnr(out, img))
            row += f"{table[m][-1]:>12.2f}"
        print(row)
    print(f"{'mean':<22}" + "".join(f"{np.mean(table[m]):>12.2f}" for m in methods))
    print(f"{'time (all images, s)':<22}" + "".join(f"{times[m]:>12.3f}" for m in methods))

    if not args.no_12mp:
        rng = np.random.default_rng(0)
        big = rng.random((3000, 4000), dtype=np.float32)
        print(f"\n12 MP (4000x3000) timing, median of {args.repeat} (wall ms / process CPU ms)")
        for m in methods:
            if m == "menon2007":
                reps = 1
            else:
                reps = args.repeat
            wall, cpu = [], []
            for _ in range(reps):
                t, c = time.perf_counter(), time.process_time()
                DEMOSAIC.get(m)(big, pattern)
                wall.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            print(f"  {m:<12} wall {np.median(wall) * 1e3:8.0f} ms   cpu {np.median(cpu) * 1e3:8.0f} ms"
                  + ("   (1 run)" if reps == 1 else ""))  # fmt: skip

        stage_timings(args.repeat)


def stage_timings(repeat: int) -> None:
    """12 MP timings of the other stages this module's owner wrote (synthetic inputs)."""
    from rawlux.core.image import CFA, ColorSpace, Crop, GainMap, Image, RawImage, WarpRectilinear
    from rawlux.isp.geometry import geometry
    from rawlux.isp.highlights import highlights
    from rawlux.isp.lens_shading import lens_shading

    h, w = 3000, 4000
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gains = np.array([2.0, 1.0, 1.6], np.float32)
    lum = 0.3 + 1.5 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (600.0**2))
    tile = np.tile(CFA.RGGB.pattern(), (h // 2, w // 2))
    mosaic_ = np.ascontiguousarray(np.minimum(lum, 1.0) * gains[tile], dtype=np.float32)
    maps = tuple(
        GainMap(
            opcode_id=9, top=dy, left=dx, bottom=h, right=w, row_pitch=2, col_pitch=2,
            spacing_v=1 / 28, spacing_h=1 / 39,
            gains=(1 + 0.3 * np.random.default_rng(dy * 2 + dx).random((29, 40, 1))).astype(np.float32),
        )
        for dy in (0, 1)
        for dx in (0, 1)
    )  # fmt: skip
    raw = RawImage(
        mosaic_, CFA.RGGB, np.zeros((2, 2), np.float32), 1.0, wb_gains=gains, opcodes2=maps
    )
    clipped = float(np.mean(mosaic_ >= gains[tile] * 0.97))
    warp = WarpRectilinear(
        opcode_id=1, coefficients=np.array([[0.992, 9.3e-4, -1.3e-5, 6.7e-8, 0, 0]])
    )
    rgb = Image(
        np.random.default_rng(0).random((h, w, 3), dtype=np.float32), ColorSpace.CAMERA,
        opcodes3=(warp,), crop=Crop(8, 8, h - 16, w - 16),
    )  # fmt: skip
    cases = [
        ("lens_shading (4 GainMaps)", lens_shading, raw),
        (f"highlights ({clipped:.0%} sites clipped)", highlights, raw),
        ("geometry (warp + crop)", geometry, rgb),
    ]
    print(f"\n12 MP stage timings, median of {repeat} (wall ms / process CPU ms)")
    for name, fn, arg in cases:
        fn(arg)  # warm-up
        wall, cpu = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            fn(arg)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        print(
            f"  {name:<32} wall {np.median(wall) * 1e3:8.0f} ms   cpu {np.median(cpu) * 1e3:8.0f} ms"
        )


if __name__ == "__main__":
    main()
