"""Speed of the phone-DNG features: profile tables, gain table map, camera look, X-Trans
demosaic, lensfun correction, JPEG XL DNG decode. Prints a table (seconds, best of N).
``--chart`` instead prints the colour accuracy of a fitted dual-illuminant HueSatMap on the
synthetic ColorChecker (rawlux.synth.chart) through the whole develop path.

    python benchmarks/phone.py [--mp 12] [--repeat 3] [--chart]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "raw"


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up (JIT compile)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mp", type=float, default=12.0, help="image size in megapixels")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chart", action="store_true", help="colour accuracy table instead")
    a = ap.parse_args()
    if a.chart:
        chart_table()
        return

    from rawlux.color.dcp import apply_gain_table_map, apply_hue_sat_map, pixel_positions
    from rawlux.core.image import ColorSpace, Image, Metadata
    from rawlux.io.dcp import read_dng_profile
    from rawlux.io.dng_jxl import write_jxl_dng
    from rawlux.io.raw import open_raw
    from rawlux.isp.demosaic.generic import normalized_convolution
    from rawlux.isp.demosaic.xtrans import xtrans
    from rawlux.isp.lensfun import LensfunParams, correct, match_lens
    from rawlux.isp.profile import render_camera

    w = int(round(np.sqrt(a.mp * 1e6 * 4 / 3) / 6)) * 6
    h = int(round(w * 3 / 4 / 6)) * 6
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    px = read_dng_profile(DATA / "pixel7_hdrplus_darkframe.dng")
    six = open_raw(DATA / "canon_eos_6d.dng")
    rows: list[tuple[str, float]] = []
    rows.append((f"HueSatMap 90x30 ({px.name})", best(lambda: apply_hue_sat_map(rgb, px.hue_sat_map1), a.repeat)))
    rows.append(("LookTable 36x8x16", best(lambda: apply_hue_sat_map(rgb, px.look_table), a.repeat)))
    gtm = px.gain_table_map
    pos = pixel_positions(gtm, h, w)
    rows.append(("ProfileGainTableMap 64x48x257", best(lambda: apply_gain_table_map(rgb, gtm, *pos), a.repeat)))
    from dataclasses import replace

    img = Image(rgb, ColorSpace.REC2020, calibration=replace(six.calibration, profile=px))
    rows.append(("look camera (all of the above + tone)", best(lambda: render_camera(img), a.repeat)))
    xt = np.array([[1, 1, 0, 1, 1, 2], [1, 1, 2, 1, 1, 0], [2, 0, 1, 0, 2, 1],
                   [1, 1, 2, 1, 1, 0], [1, 1, 0, 1, 1, 2], [0, 2, 1, 2, 0, 1]])
    mosaic = np.ascontiguousarray(rgb[..., 1])
    rows.append(("X-Trans demosaic (xtrans)", best(lambda: xtrans(mosaic, xt), a.repeat)))
    rows.append(("X-Trans normalised convolution", best(lambda: normalized_convolution(mosaic, xt), a.repeat)))
    m, _ = match_lens(Metadata(make="Canon", model="Canon EOS 6D", lens="EF24-105mm f/4L IS USM",
                               focal_length=24.0, f_number=4.0))
    rows.append(("lensfun: vignetting + distortion + TCA", best(lambda: correct(rgb, m, LensfunParams(correction="lensfun")), a.repeat)))
    bayer = open_raw(DATA / "canon_550d_magiclantern_colorchart.dng").data
    with tempfile.TemporaryDirectory() as d:
        j = write_jxl_dng(Path(d) / "j.dng", bayer, black=2056, white=15000)
        u = write_jxl_dng(Path(d) / "u.dng", bayer, black=2056, white=15000, compress=False)
        rows.append((f"open JXL DNG 2 MP ({j.stat().st_size / 1e6:.1f} MB)", best(lambda: open_raw(j), a.repeat)))
        rows.append((f"open tiled uncompressed DNG 2 MP ({u.stat().st_size / 1e6:.1f} MB)", best(lambda: open_raw(u), a.repeat)))
    print(f"image {w}x{h} ({w * h / 1e6:.1f} MP), best of {a.repeat}")
    print(f"| {'operation':<48} | seconds |")
    print(f"|{'-' * 50}|---------|")
    for name, t in rows:
        print(f"| {name:<48} | {t:7.3f} |")


def chart_table() -> None:
    """Mean CIEDE2000 on the synthetic ColorChecker (camera Nikon 5100): matrices only (look
    neutral) vs + a HueSatMap pair fitted for A and D65 on the training reflectances (no
    ColorChecker spectra; look camera, no look table / tone curve)."""
    import warnings

    warnings.filterwarnings("ignore")
    import colour
    from scipy.optimize import minimize_scalar

    from rawlux.color.camera import camera_profile, camera_to_xyz_d50
    from rawlux.color.dcp import DngProfile, fit_hue_sat_map, prophoto_to_xyz
    from rawlux.color.spaces import WHITE_D50, bradford
    from rawlux.develop import develop
    from rawlux.io.dcp import apply_profile
    from rawlux.synth import chart as synth

    prof = synth.fitted_profile()
    refl = synth.training_reflectances(600)
    to_pp = np.linalg.inv(prophoto_to_xyz())
    tables = []
    for ill in ("A", "D65"):
        cam, xyz, neutral, wxyz = synth.capture(refl, synth.illuminant_spd(ill))
        m, _ = camera_to_xyz_d50(camera_profile(prof.calibration(neutral)), neutral)
        src = (cam @ m.T) @ to_pp.T
        dst = (xyz @ bradford(colour.XYZ_to_xy(wxyz), WHITE_D50).T) @ to_pp.T
        tables.append(fit_hue_sat_map(src, dst))
    dp = DngProfile(name="fitted", hue_sat_map1=tables[0], hue_sat_map2=tables[1],
                    illuminant1=17, illuminant2=21)
    wp = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    neutral_idx = list(synth.NEUTRAL_PATCHES)

    def de(img, ch) -> float:  # type: ignore[no-untyped-def]
        lin = colour.cctf_decoding(np.clip(img.data, 0, 1).astype(np.float64), function="sRGB")
        xyz = colour.RGB_to_XYZ(synth.patch_means(lin, ch.boxes), "sRGB", apply_cctf_decoding=False)

        def cost(lk: float) -> float:
            lab = colour.XYZ_to_Lab(xyz * np.exp(lk), wp)
            return float(np.sum((lab[neutral_idx, 0] - ch.lab_ref[neutral_idx, 0]) ** 2))

        k = float(np.exp(minimize_scalar(cost, bounds=(-3, 3), method="bounded").x))
        return float(colour.delta_E(colour.XYZ_to_Lab(xyz * k, wp), ch.lab_ref, method="CIE 2000").mean())

    print("| illuminant | matrices only dE00 | + fitted HueSatMap dE00 |")
    print("|---|---|---|")
    for ill in ("A", "D65", "D50", "FL2", "LED-B3"):
        ch = synth.make_chart(ill)
        a = develop(ch.raw, look="neutral", denoise=0, sharpen=0)
        b = develop(apply_profile(ch.raw, dp), look="camera", denoise=0, sharpen=0)
        print(f"| {ill} | {de(a, ch):.2f} | {de(b, ch):.2f} |")


if __name__ == "__main__":
    main()
