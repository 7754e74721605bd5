"""Colour accuracy benchmark (prints tables, asserts nothing).

1. ColorChecker ΔE00 per illuminant: simulated captures (camera "Nikon 5100 (NPL)", fitted
   dual-illuminant DNG profile) written as DNGs, developed by rawlux (look neutral, WB as-shot,
   sRGB) and by rawpy/LibRaw ``postprocess`` (camera WB, sRGB, 16 bit, no auto-bright); both
   decoded to CIELAB D65 and compared with the reference after one exposure scalar on the
   neutral patches.
2. Auto white balance: angular error (mean / median / worst 25 %) of rawlux's estimator vs grey
   world, white patch, shades of grey and gray edge on spectrally rendered random scenes under
   many illuminants; and on real files (550D chart grey patches, N900 white fur, D1 preview).

Run: ``.venv/bin/python benchmarks/color_accuracy.py [--scenes N]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import colour

from rawlux.synth import chart as synth

WP = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
AWB_ILLUMINANTS = (
    "D50", "D65", "D75", "A", "FL2", "FL11", "LED-B3", "LED-B1", "LED-V1",
    "BB2500", "BB3500", "BB5000", "BB6500", "BB8000",
)  # fmt: skip


def delta_e(lin_srgb_patches: np.ndarray, lab_ref: np.ndarray) -> np.ndarray:
    from scipy.optimize import minimize_scalar

    xyz = colour.RGB_to_XYZ(lin_srgb_patches, "sRGB", apply_cctf_decoding=False)
    neutral = list(synth.NEUTRAL_PATCHES)

    def cost(logk: float) -> float:
        lab = colour.XYZ_to_Lab(xyz * np.exp(logk), WP)
        return float(np.sum((lab[neutral, 0] - lab_ref[neutral, 0]) ** 2))

    k = float(np.exp(minimize_scalar(cost, bounds=(-4, 4), method="bounded").x))
    return colour.delta_E(colour.XYZ_to_Lab(xyz * k, WP), lab_ref, method="CIE 2000")


def rawlux_linear(path: Path, tmp: Path) -> np.ndarray:
    from test_color_accuracy import develop_chart  # the same path the test uses

    return develop_chart(path, tmp / "rawlux.tif")


def rawpy_linear(path: Path) -> np.ndarray:
    import rawpy

    with rawpy.imread(str(path)) as r:
        rgb = r.postprocess(
            use_camera_wb=True, output_color=rawpy.ColorSpace.sRGB, output_bps=16,
            no_auto_bright=True, gamma=(1, 1),
        )  # fmt: skip
    return rgb.astype(np.float64) / 65535.0  # linear sRGB (gamma (1,1))


def colour_table() -> None:
    print("\n## ColorChecker (24 patches) CIEDE2000 after one exposure scalar — lower is better\n")
    print("| illuminant | rawlux mean | rawlux max | rawpy mean | rawpy max |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        means = {"rawlux": [], "rawpy": []}
        for ill in synth.ILLUMINANTS:
            ch = synth.make_chart(ill, noise=0.0005)
            dng = synth.write_chart_dng(ch, tmp / f"{ill}.dng")
            row = []
            for name, fn in (("rawlux", lambda p: rawlux_linear(p, tmp)), ("rawpy", rawpy_linear)):
                lin = fn(dng)
                if lin.shape[:2] != ch.raw.data.shape:  # LibRaw may trim borders: centre-align
                    dy = (ch.raw.data.shape[0] - lin.shape[0]) // 2
                    dx = (ch.raw.data.shape[1] - lin.shape[1]) // 2
                    boxes = tuple((t - dy, l - dx, h, w) for t, l, h, w in ch.boxes)
                else:
                    boxes = ch.boxes
                de = delta_e(synth.patch_means(lin, boxes), ch.lab_ref)
                means[name].append(de.mean())
                row += [f"{de.mean():.2f}", f"{de.max():.2f}"]
            print(f"| {ill} | " + " | ".join(row) + " |")
        print(
            f"| **all** | **{np.mean(means['rawlux']):.2f}** | | **{np.mean(means['rawpy']):.2f}** | |"
        )


def awb_table(scenes: int) -> None:
    from rawlux.isp import awb

    methods = {
        "rawlux auto (Minkowski p=4 + bright & achromatic pixels + grey pixels + locus)": None,
        "gray world": lambda r, v: awb.gray_world(r, v),
        "white patch (99th pct)": lambda r, v: awb.white_patch(r, v),
        "shades of gray (p=6)": lambda r, v: awb.gray_edge(r, v, 0, 6.0, 0.0),
        "gray edge (1st order, p=6, sigma=1)": lambda r, v: awb.gray_edge(r, v, 1, 6.0, 1.0),
        "gray edge (2nd order, p=6, sigma=1)": lambda r, v: awb.gray_edge(r, v, 2, 6.0, 1.0),
    }
    errs: dict[str, list[float]] = {k: [] for k in methods}
    times = []
    for ill in AWB_ILLUMINANTS:
        for seed in range(scenes):
            raw, truth = synth.spectral_scene(ill, seed=seed)
            t = time.perf_counter()
            est = awb.estimate_neutral(raw)
            times.append(time.perf_counter() - t)
            rgb, valid = awb.thumbnail(raw)
            for k, f in methods.items():
                e = est if f is None else f(rgb, valid)
                errs[k].append(synth.angular_error(e, truth))
    n = len(AWB_ILLUMINANTS) * scenes
    print(f"\n## Auto white balance angular error (degrees), {n} spectral scenes, "
          f"{len(AWB_ILLUMINANTS)} illuminants ({', '.join(AWB_ILLUMINANTS)})\n")  # fmt: skip
    print("| method | mean | median | worst 25% |")
    print("|---|---|---|---|")
    for k, v in errs.items():
        e = np.sort(np.asarray(v))
        print(
            f"| {k} | {e.mean():.2f} | {np.median(e):.2f} | {e[int(len(e) * 0.75) :].mean():.2f} |"
        )
    print(f"\nrawlux AWB time per 256x384 scene: {np.median(times) * 1000:.1f} ms (median)")


def awb_real_table() -> None:
    """Angular error (degrees) on real files against the ground truth of tests/test_awb_real.py:
    Canon 550D chart grey patches, Nokia N900 white fur, Nikon D1 camera preview balance."""
    from test_awb_real import angle, box_rgb

    from rawlux.color.camera import camera_profile
    from rawlux.io.raw import open_raw
    from rawlux.isp import awb
    from rawlux.isp.black_level import black_level

    raw_dir = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "raw"
    cases = []
    r = black_level(open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng"))
    p = [box_rgb(r, 905, 945, x - 20, x + 20) for x in (700, 815, 925, 1035)]
    cases.append(("Canon 550D chart, grey patches", r, np.mean([q / q.sum() for q in p], 0)))
    r = black_level(open_raw(raw_dir / "nokia_n900_bayer_small.png", cfa="GRBG"))
    f = [box_rgb(r, 150, 200, 80, 120, 0.4), box_rgb(r, 240, 280, 110, 140, 0.4)]
    cases.append(("Nokia N900, white fur", r, np.mean([q / q.sum() for q in f], 0)))
    r = black_level(open_raw(raw_dir / "nikon_d1.nef"))
    rgb, valid = awb.thumbnail(r)
    prev = awb._preview_array(r.metadata.extra.get("wb_preview"))
    truth = awb.preview_neutral(rgb, valid, prev, camera_profile(r.calibration, r.source))
    cases.append(("Nikon D1, embedded preview's balance", r, truth))
    methods = {
        "rawlux auto": lambda raw, rgb, v: awb.estimate_neutral(raw),
        "rawlux auto, pixels only (no preview)": lambda raw, rgb, v: awb.estimate_neutral(
            raw, awb.AwbParams(w_preview=0.0)
        ),
        "grey pixels alone": lambda raw, rgb, v: awb.grey_pixels(rgb, v)[0],
        "gray world": lambda raw, rgb, v: awb.gray_world(rgb, v),
        "white patch (99th pct)": lambda raw, rgb, v: awb.white_patch(rgb, v),
        "shades of gray (p=6)": lambda raw, rgb, v: awb.gray_edge(rgb, v, 0, 6.0, 0.0),
    }
    print("\n## Auto white balance on real files, angular error (degrees)\n")
    print("| method | " + " | ".join(c[0] for c in cases) + " |")
    print("|---" * (len(cases) + 1) + "|")
    for name, fn in methods.items():
        row = []
        for _, raw, truth in cases:
            rgb, v = awb.thumbnail(raw)
            row.append(f"{angle(fn(raw, rgb, v), truth):.2f}")
        print(f"| {name} | " + " | ".join(row) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=12, help="random scenes per illuminant for AWB")
    args = ap.parse_args()
    print(f"# rawlux colour benchmark — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()} {platform.processor() or ''}, python {platform.python_version()}")  # fmt: skip
    colour_table()
    awb_table(args.scenes)
    awb_real_table()


if __name__ == "__main__":
    main()
