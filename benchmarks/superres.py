"""Super-resolution benchmark: quality on synthetic handheld bursts with ground truth, and speed.

Quality: for each scikit-image sample and noise level, 8 frames are simulated by
:func:`rawlux.synth.srburst.make_sr_burst` (scene on a 2x finer grid, random hand motion with
sub-pixel shifts and rotation, one independently moving textured disc, lens blur, pixel-area
integration, RGGB mosaic, noise variance a*x+b, 14-bit DN). Each output scale is scored against the
frame-0 scene at that scale (linear camera RGB; PSNR and SSIM, SSIM on a gamma-encoded copy; a
border of 12 sensor px excluded) for:

* (a) frame 0 demosaicked (RCD) and bicubic-upscaled,
* (b) the night merge (:func:`rawlux.burst.merge.merge_burst`) demosaicked (RCD) and bicubic-upscaled,
* rawlux super-resolution (:func:`rawlux.burst.superres.super_resolve`),

overall and inside the moving object (frame 0's disc; no ghost = object PSNR >= (a)'s).

Speed: 8 synthetic 4000x3000 (12 MP) DNGs super-resolved from paths in a fresh process under
``/usr/bin/time -v`` (peak RSS) at 2x and 1x, after a warm-up process that fills numba's cache;
and the throughput (output megapixels per second) on a smaller burst measured in-process.

    .venv/bin/python benchmarks/superres.py              # quality table + speed
    .venv/bin/python benchmarks/superres.py --no-speed   # quality only
    .venv/bin/python benchmarks/superres.py --quick      # 2 images x 2 levels, no speed
    .venv/bin/python benchmarks/superres.py --no-quality --no-speed --real /tmp/crops  # real burst
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
import warnings

import numpy as np

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
LEVELS = ("mild", "medium", "high")
SCALES = (2.0, 1.5, 1.0)


def _ssim(x: np.ndarray, truth: np.ndarray, border: int) -> float:
    from skimage.metrics import structural_similarity

    peak = float(np.percentile(truth, 99.5))
    enc = lambda v: np.clip(v / peak, 0, 1) ** (1 / 2.2)  # noqa: E731
    b = slice(border, -border)
    return float(structural_similarity(enc(x[b, b]), enc(truth[b, b]), channel_axis=2, data_range=1.0))


def evaluate(image: str, level: str, seed: int, size: int, n_frames: int,
             scales: tuple[float, ...]) -> list[dict]:
    """Rows (one per scale) of PSNR/SSIM for (a), (b) and rawlux on one simulated burst."""
    import cv2

    from rawlux.burst.merge import merge_burst
    from rawlux.burst.superres import SuperResParams, super_resolve
    from rawlux.isp.demosaic import demosaic_mosaic
    from rawlux.synth.burst import normalised
    from rawlux.synth.images import psnr
    from rawlux.synth.srburst import make_sr_burst

    b = make_sr_burst(image, n_frames, noise=level, size=(size, size), seed=seed)
    pattern = b.frames[0].cfa_pattern
    f0 = demosaic_mosaic(normalised(b.frames[0].data), pattern, "rcd")
    merged = demosaic_mosaic(np.ascontiguousarray(merge_burst(b.frames).data), pattern, "rcd")
    rows = []
    for s in scales:
        gt = b.truth[s]
        h, w = gt.shape[:2]
        up = lambda x: x if x.shape[:2] == (h, w) else cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC)  # noqa: E731
        border = int(round(12 * s))
        mask = np.zeros((h, w), bool)
        mask[border:-border, border:-border] = True
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sr = super_resolve(b.frames, params=SuperResParams(scale=s)).data
        dt = time.perf_counter() - t0
        row = {"image": image, "level": level, "scale": s, "seconds": dt, "fallback": bool(caught)}
        for name, x in (("a", up(f0)), ("b", up(merged)), ("sr", sr)):
            row[name] = psnr(x, gt, mask)
            row[name + "_obj"] = psnr(x, gt, mask & b.object[s])
            row[name + "_bg"] = psnr(x, gt, mask & ~b.object[s])
            row[name + "_ssim"] = _ssim(x, gt, border)
        rows.append(row)
        print(f"  {image:10s} {level:7s} x{s:g}: a {row['a']:.2f} b {row['b']:.2f} rawlux {row['sr']:.2f} dB "
              f"({dt:.2f} s)", file=sys.stderr)
    return rows


def print_quality(rows: list[dict]) -> None:
    print("| image | noise | scale | (a) frame0 RCD+bicubic | (b) merge+RCD+bicubic | **rawlux SR** | vs (a) | vs (b) "
          "| SSIM a / b / SR | object PSNR a / SR | outside object a / b / SR |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['image']} | {r['level']} | {r['scale']:g}x | {r['a']:.2f} | {r['b']:.2f} | **{r['sr']:.2f}** | "
              f"{r['sr'] - r['a']:+.2f} | {r['sr'] - r['b']:+.2f} | {r['a_ssim']:.4f} / {r['b_ssim']:.4f} / "
              f"{r['sr_ssim']:.4f} | {r['a_obj']:.2f} / {r['sr_obj']:.2f} | "
              f"{r['a_bg']:.2f} / {r['b_bg']:.2f} / {r['sr_bg']:.2f} |")
    print()
    print("| noise | scale | mean gain vs (a) dB | mean gain vs (b) dB | min object margin SR - (a) dB "
          "| outside the object: gain vs (a) / vs (b) |")
    print("|---|---|---|---|---|---|")
    keys = sorted({(r["level"], r["scale"]) for r in rows}, key=lambda k: (LEVELS.index(k[0]) if k[0] in LEVELS else 9, -k[1]))
    for lvl, s in keys:
        rs = [r for r in rows if r["level"] == lvl and r["scale"] == s]
        print(f"| {lvl} | {s:g}x | {np.mean([r['sr'] - r['a'] for r in rs]):+.2f} | "
              f"{np.mean([r['sr'] - r['b'] for r in rs]):+.2f} | {min(r['sr_obj'] - r['a_obj'] for r in rs):+.2f} | "
              f"{np.mean([r['sr_bg'] - r['a_bg'] for r in rs]):+.2f} / {np.mean([r['sr_bg'] - r['b_bg'] for r in rs]):+.2f} |")


_SPEED_SCRIPT = """
import sys, time, warnings
from rawlux.app.night import open_burst
from rawlux.burst.superres import SuperResParams, super_resolve
warnings.simplefilter("ignore")
s = float(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
m = super_resolve(open_burst(sys.argv[2:]), params=SuperResParams(scale=s))
print("SR_SECONDS", time.perf_counter() - t0, time.process_time() - c0, m.data.shape)
"""


def _time_v(cmd: list[str]) -> tuple[str, float, float]:
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], check=True, capture_output=True, text=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", res.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1)) / 1024**2
    return res.stdout, seconds, rss


def speed(n_frames: int = 8, size: tuple[int, int] = (3000, 4000), scales: tuple[float, ...] = (2.0, 1.0)) -> None:
    from rawlux.burst.superres import SuperResParams, super_resolve
    from rawlux.synth.burst import make_burst, write_burst

    small = make_burst("astronaut", n_frames, noise="mild", size=(512, 512), seed=5, moving_object=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in scales:
            super_resolve(small.frames, params=SuperResParams(scale=s))  # compile / load the cache
            t0, c0 = time.perf_counter(), time.process_time()
            out = super_resolve(small.frames, params=SuperResParams(scale=s))
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            mp = out.data.shape[0] * out.data.shape[1] / 1e6
            print(f"throughput {n_frames} x 512x512 -> {s:g}x: {dt:.2f} s wall, {mp / dt:.2f} output MP/s "
                  f"({n_frames * 0.262 / dt:.2f} input MP/s); CPU {cpu:.2f} s = {cpu / mp:.2f} CPU s per output MP; "
                  f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        b = make_burst("astronaut", n_frames, noise="mild", size=size, seed=3)
        paths = [str(p) for p in write_burst(b, tmp)]
        del b
        for s in scales:
            cmd = [sys.executable, "-c", _SPEED_SCRIPT, str(s), *paths]
            out, wall, rss = _time_v(cmd)
            m = re.search(r"SR_SECONDS (\S+) (\S+)", out)
            print(f"8x12MP -> {s:g}x: super_resolve {float(m.group(1)):.2f} s (CPU {float(m.group(2)):.2f} s), "
                  f"whole process {wall:.2f} s, peak RSS {rss:.2f} GB, load average {os.getloadavg()[0]:.1f}")


REAL_BURST = "../shared/data/bursts/hdrplus_0006_20160722_115157_431_jpeg"
#: 100 % crops of the 2x result (x, y, size in output px): granite cliff, bark and leaves, branches on sky
CROPS = {"cliff": (900, 1250, 360), "bark": (1560, 1000, 360), "branches": (500, 900, 360)}


def real(out_dir: str) -> None:
    """The real developed burst (JPEG path), 2x: PNG crops of frame 0 bicubic | rawlux side by side."""
    import glob
    from pathlib import Path

    import cv2

    from rawlux.burst.superres_rgb import super_resolve_rgb
    from rawlux.io.photo import open_photo
    from rawlux.synth.images import srgb_to_linear

    paths = sorted(glob.glob(str(Path(REAL_BURST) / "frame-*.jpg")))
    frames = [srgb_to_linear(np.clip(open_photo(p).data, 0, 1)).astype(np.float32) for p in paths]
    t0 = time.perf_counter()
    out, info = super_resolve_rgb(frames)
    print(f"real burst: {len(frames)} x {frames[0].shape[1]}x{frames[0].shape[0]} -> {out.shape[1]}x{out.shape[0]} "
          f"in {time.perf_counter() - t0:.1f} s; mean robustness per frame "
          f"{', '.join(f'{r:.2f}' for r in info['robustness'])}")
    enc = lambda x: (np.clip(np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0), 1 / 2.4) - 0.055),  # noqa: E731
                             0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1]
    bic = enc(cv2.resize(frames[0], (out.shape[1], out.shape[0]), interpolation=cv2.INTER_CUBIC))
    sr = enc(out)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for name, (x, y, n) in CROPS.items():
        sep = np.full((n, 6, 3), 255, np.uint8)
        cv2.imwrite(str(Path(out_dir) / f"real_{name}.png"),
                    np.concatenate([bic[y : y + n, x : x + n], sep, sr[y : y + n, x : x + n]], 1))
    print(f"crops (left frame 0 bicubic, right rawlux 2x) in {out_dir}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=256, help="sensor size of the quality bursts (px)")
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--scales", default=",".join(f"{s:g}" for s in SCALES))
    ap.add_argument("--quick", action="store_true", help="astronaut + rocket, mild + high, no speed")
    ap.add_argument("--real", metavar="DIR", help="also run the real JPEG burst and write 100 %% crops to DIR")
    args = ap.parse_args()
    if args.quick:
        args.images, args.levels, args.no_speed = "astronaut,rocket", "mild,high", True
    print(f"rawlux super-resolution benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if not args.no_quality:
        scales = tuple(float(s) for s in args.scales.split(","))
        rows = []
        for i, img in enumerate(args.images.split(",")):
            for j, lvl in enumerate(args.levels.split(",")):
                rows += evaluate(img, lvl, 10 * i + j, args.size, args.frames, scales)
        print_quality(rows)
    if args.real:
        real(args.real)
    if not args.no_speed:
        speed(args.frames)


if __name__ == "__main__":
    main()
