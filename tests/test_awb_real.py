"""Auto white balance on real photographs (../shared/data/raw) and its new cues.

Ground truth per file (crop boxes found by looking at the developed image, in mosaic pixels of
the visible area; the files have orientation 1):
* Canon 550D ColorChecker: the four lightest patches of the chart's neutral row (white, N8,
  N6.5, N5), 40x40 boxes centred at x = 700, 815, 925, 1035, rows 905..945. Their mean camera
  chromaticity is the scene white (tungsten, ~2900 K); the file's as-shot white is wrong.
* Nokia N900 mosaic (GRBG): the white fur of the dog's chest and legs (rows 150..200 x 80..120
  and 240..280 x 110..140), brightest 40 % of each box, clipped sites excluded.
* Nikon D1 (no camera WB): the camera's own embedded 160x120 preview.
* Kodak DC50 (no WB, no colour matrix): the sky (rows 10..80, columns 20..240) must stay blue.
* Blackmagic CinemaDNG and Canon 6D DNG: auto must land near the file's as-shot white.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from rawlux.color.camera import as_shot_neutral, camera_profile, camera_to_xyz_d50
from rawlux.color.spaces import rgb_to_rgb64
from rawlux.core.image import CFA, ColorSpace, RawImage
from rawlux.io.raw import open_raw
from rawlux.isp import awb
from rawlux.isp.black_level import black_level

warnings.filterwarnings("ignore", module="colour")


def angle(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    c = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def box_rgb(raw: RawImage, y0: int, y1: int, x0: int, x1: int, top: float = 1.0) -> np.ndarray:
    """Mean camera RGB of the 2x2 blocks in a box (brightest ``top`` share, unclipped)."""
    d = raw.data[y0:y1, x0:x1]
    pat = np.asarray(raw.cfa_pattern)
    h, w = d.shape[0] // 2 * 2, d.shape[1] // 2 * 2
    rgb = np.zeros((h // 2, w // 2, 3))
    cnt = np.zeros(3)
    for i in range(2):
        for j in range(2):
            c = pat[(y0 + i) % 2, (x0 + j) % 2]
            rgb[..., c] += d[i:h:2, j:w:2]
            cnt[c] += 1
    px = (rgb / cnt).reshape(-1, 3)
    px = px[px.max(axis=1) < 0.45]  # well below any clipping
    lum = px.sum(axis=1)
    px = px[lum >= np.percentile(lum, 100 * (1 - top))]
    return px.mean(axis=0)


@pytest.fixture(scope="module")
def raws(raw_dir: Path) -> dict[str, RawImage]:
    return {
        "550d": black_level(open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng")),
        "n900": black_level(open_raw(raw_dir / "nokia_n900_bayer_small.png", cfa="GRBG")),
        "d1": black_level(open_raw(raw_dir / "nikon_d1.nef")),
        "kdc": black_level(open_raw(raw_dir / "kodak_dc50.kdc")),
        "bm": black_level(open_raw(raw_dir / "blackmagic_pocket4k_cinemadng.dng")),
        "6d": black_level(open_raw(raw_dir / "canon_eos_6d.dng")),
    }


def test_550d_grey_patches(raws: dict[str, RawImage]) -> None:
    raw = raws["550d"]
    patches = [box_rgb(raw, 905, 945, x - 20, x + 20) for x in (700, 815, 925, 1035)]
    truth = np.mean([p / p.sum() for p in patches], axis=0)
    # the patches agree with each other (so the boxes are on the neutral row)
    assert max(angle(p, truth) for p in patches) < 1.5
    est = awb.estimate_neutral(raw)
    # before the grey-pixel cue: 14.3 deg (grey patches rendered orange); as-shot: 14.0 deg
    assert angle(est, truth) < 4.5, f"{angle(est, truth):.2f} deg from the grey patches"
    assert angle(as_shot_neutral(raw.calibration), truth) > 10  # the file's as-shot is wrong


def test_n900_white_fur(raws: dict[str, RawImage]) -> None:
    raw = raws["n900"]
    fur = [box_rgb(raw, 150, 200, 80, 120, 0.4), box_rgb(raw, 240, 280, 110, 140, 0.4)]
    truth = np.mean([f / f.sum() for f in fur], axis=0)
    assert angle(fur[0], fur[1]) < 2.0
    est = awb.estimate_neutral(raw)
    # before: 8.4 deg (fur turned green: the sRGB stand-in matrix pulled the estimate "onto
    # the locus")
    assert angle(est, truth) < 3.0, f"{angle(est, truth):.2f} deg from the fur"
    g = truth / est  # balanced fur: no channel off by more than 5 %
    assert np.ptp(g / g.mean()) < 0.10, g


def _render_srgb(raw: RawImage, neutral: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The camera-RGB thumbnail white balanced with ``neutral`` and converted to 8-bit sRGB."""
    import cv2

    rgb, _ = awb.thumbnail(raw, 320)
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float64)
    prof = camera_profile(raw.calibration, raw.source)
    m = rgb_to_rgb64(ColorSpace.XYZ_D50, ColorSpace.SRGB) @ camera_to_xyz_d50(prof, neutral)[0]
    lin = rgb @ m.T
    lin = np.clip(lin / np.percentile(lin.max(axis=2), 99), 0, 1)
    enc = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return enc * 255.0


def test_d1_matches_its_embedded_preview(raws: dict[str, RawImage]) -> None:
    raw = raws["d1"]
    cue = raw.metadata.extra["wb_preview"]
    preview = awb._preview_array(cue).astype(np.float64)
    rows = np.where(preview.mean(axis=(1, 2)) > 6)[0]  # letterboxed preview
    preview = preview[rows[0] : rows[-1] + 1]
    size = (preview.shape[1], preview.shape[0])
    ours = _render_srgb(raw, awb.estimate_neutral(raw), size)
    d_ours = float((ours[..., 2] - ours[..., 0]).mean())
    d_prev = float((preview[..., 2] - preview[..., 0]).mean())
    # before: mean B-R of the render was ~33 levels above the preview's (blue-violet cast)
    assert abs(d_ours - d_prev) < 8.0, (d_ours, d_prev)
    g_ours = float((ours[..., 1] - (ours[..., 0] + ours[..., 2]) / 2).mean())
    g_prev = float((preview[..., 1] - (preview[..., 0] + preview[..., 2]) / 2).mean())
    assert abs(g_ours - g_prev) < 8.0, (g_ours, g_prev)


def test_kdc_sky_stays_blue(raws: dict[str, RawImage]) -> None:
    raw = raws["kdc"]
    est = awb.estimate_neutral(raw)
    sky = box_rgb(raw, 10, 80, 20, 240) / est
    assert sky[2] > 1.12 * sky[0] and sky[2] > sky[1], sky


@pytest.mark.parametrize("name, limit", [("bm", 5.0), ("6d", 3.0)])
def test_auto_near_as_shot(raws: dict[str, RawImage], name: str, limit: float) -> None:
    raw = raws[name]
    est = awb.estimate_neutral(raw)
    assert angle(est, as_shot_neutral(raw.calibration)) < limit


def test_io_cues(raws: dict[str, RawImage]) -> None:
    d1 = raws["d1"].metadata.extra
    h, w, data = d1["wb_preview"]
    assert (h, w) == (120, 160) and len(data) == h * w * 3
    day = np.asarray(d1["wb_daylight_neutral"])
    assert day.shape == (3,) and abs(day.max() - 1) < 1e-9 and np.all(day > 0)
    # a file with an as-shot white carries no preview cue (auto would just copy as-shot)
    assert "wb_preview" not in raws["550d"].metadata.extra
    assert "wb_preview" not in raws["n900"].metadata.extra


# ----------------------------------------------------------------- synthetic ground truth


def _scene(truth: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A camera-RGB image: grey shapes on a coloured background, lit by ``truth``, and the
    surfaces' reflectance (balanced RGB)."""
    rng = np.random.default_rng(seed)
    # grass-like background with some colour in its texture, as real grass or foliage has (a
    # luminance-only texture on a coloured surface has equal log-contrast in R, G, B and would
    # pass as grey)
    refl = np.array([0.15, 0.35, 0.08]) * rng.uniform(0.9, 1.1, (96, 128, 3))
    for _ in range(6):
        y, x = rng.integers(0, 80), rng.integers(0, 110)
        refl[y : y + 14, x : x + 14] = rng.uniform(0.05, 0.7, 3)
    for _ in range(5):  # small grey cards with a dark grey frame (like chart patches)
        y, x = rng.integers(0, 82), rng.integers(0, 114)
        refl[y : y + 14, x : x + 14] = 0.03
        refl[y + 2 : y + 12, x + 2 : x + 12] = rng.uniform(0.2, 0.8)
    return (refl * truth).astype(np.float32), refl


def test_grey_pixels_find_the_grey_objects() -> None:
    truth = np.array([0.55, 1.0, 0.45])
    rgb, _ = _scene(truth)
    valid = np.ones(rgb.shape[:2], bool)
    gp, n = awb.grey_pixels(rgb, valid)
    assert n >= 8 and angle(gp, truth) < 1.5
    # grey-world is dragged to the green background
    assert angle(awb.gray_world(rgb, valid), truth) > 8
    assert awb.grey_pixels(np.full((4, 4, 3), 0.5, np.float32), np.ones((4, 4), bool)) == (None, 0)


def _srgb_u8(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    enc = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(enc * 255).astype(np.uint8)


def test_preview_neutral_recovers_the_camera_balance() -> None:
    truth = np.array([0.5, 1.0, 0.7])
    rgb, refl = _scene(truth, seed=2)
    valid = np.ones(rgb.shape[:2], bool)
    small = refl.reshape(48, 2, 64, 2, 3).mean(axis=(1, 3))
    prev = _srgb_u8(0.9 * small / small.max())  # camera-rendered preview (identity matrix)
    prev = np.concatenate([np.zeros((5, 64, 3), np.uint8), prev, np.zeros((5, 64, 3), np.uint8)])
    n = awb.preview_neutral(rgb, valid, prev)
    assert n is not None and angle(n, truth) < 1.0
    noise = np.random.default_rng(1).integers(0, 255, prev.shape).astype(np.uint8)
    assert awb.preview_neutral(rgb, valid, noise) is None  # a preview of something else
    # the preview wins over the pixel statistics (green background) in the full estimator
    p = awb.AwbParams(w_grey_px=0.0)
    with_prev = angle(awb.estimate_neutral_rgb(rgb, valid, None, p, preview=prev), truth)
    without = angle(awb.estimate_neutral_rgb(rgb, valid, None, p), truth)
    assert with_prev < 1.5 and with_prev < without - 1.0, (with_prev, without)


def test_preview_cue_only_without_as_shot(raws: dict[str, RawImage]) -> None:
    raw = raws["d1"]
    with_prev = awb.estimate_neutral(raw)
    no_prev = awb.estimate_neutral(raw, awb.AwbParams(w_preview=0.0))
    assert angle(with_prev, no_prev) > 1.0  # the cue is used on the D1
    from dataclasses import replace

    shot = replace(raw, calibration=replace(raw.calibration, as_shot_neutral=np.ones(3)))
    np.testing.assert_allclose(awb.estimate_neutral(shot), no_prev)  # ... but not with as-shot
    assert awb.has_matrix(raw)
    assert not awb.has_matrix(raws["kdc"]) and not awb.has_matrix(raws["n900"])
    assert raws["kdc"].cfa is CFA.GRBG


def test_as_shot_falls_back_to_the_preview_led_auto(raws: dict[str, RawImage]) -> None:
    from rawlux.isp.white_balance import NoAsShotWhite, WhiteBalanceParams, find_neutral

    raw = raws["d1"]
    with pytest.warns(NoAsShotWhite, match="embedded preview"):
        n = find_neutral(raw, WhiteBalanceParams())
    np.testing.assert_allclose(n, awb.estimate_neutral(raw))
    with pytest.warns(NoAsShotWhite, match="using auto$"):
        find_neutral(raws["n900"], WhiteBalanceParams())


def test_daylight_prior_option() -> None:
    rgb, _ = _scene(np.array([0.55, 1.0, 0.45]), seed=4)
    valid = np.ones(rgb.shape[:2], bool)
    prior = np.array([0.4, 1.0, 0.9])
    base = awb.estimate_neutral_rgb(rgb, valid, None, awb.AwbParams(), prior=prior)
    pulled = awb.estimate_neutral_rgb(rgb, valid, None, awb.AwbParams(w_prior=5.0), prior=prior)
    assert angle(pulled, prior) < angle(base, prior) - 1.0


def test_d1_pixels_alone_overrule_its_matrix(raws: dict[str, RawImage]) -> None:
    """The D1's raw values are pre-scaled by the camera, so its matrix puts the real white far
    off the locus; grey pixels and grey world agree on it and overrule the locus."""
    from rawlux.color.camera import camera_profile as profile_of

    raw = raws["d1"]
    rgb, valid = awb.thumbnail(raw)
    preview = awb._preview_array(raw.metadata.extra["wb_preview"])
    cam_white = awb.preview_neutral(rgb, valid, preview, profile_of(raw.calibration))
    alone = awb.estimate_neutral(raw, awb.AwbParams(w_preview=0.0))
    assert angle(alone, cam_white) < 5.0  # before: 15.4 deg (blue-violet)
    locus = awb.estimate_neutral(raw, awb.AwbParams(w_preview=0.0, agree_deg=0.0))
    assert angle(locus, cam_white) > 10.0

