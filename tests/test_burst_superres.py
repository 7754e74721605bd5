"""Multi-frame super-resolution (rawlux.burst.superres): quality against ground truth on synthetic
handheld bursts, no ghosting, fallback, the kernel against its numpy twin, and the CLI."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from rawlux.burst.merge import merge_burst
from rawlux.burst.superres import SuperResParams, robustness, sampling_gain, super_resolve
from rawlux.burst.superres_kernels import accumulate_reference, finish_reference, merge_rows
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import CFA
from rawlux.isp.demosaic import demosaic_mosaic
from rawlux.synth.burst import normalised
from rawlux.synth.images import psnr
from rawlux.synth.srburst import make_sr_burst


@pytest.fixture(scope="module")
def burst():
    return make_sr_burst("astronaut", 8, noise="mild", size=(160, 160), seed=1)


def _scores(b, scale: float):
    gt = b.truth[scale]
    h, w = gt.shape[:2]
    up = lambda x: x if x.shape[:2] == (h, w) else cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC)  # noqa: E731
    m = int(12 * scale)
    mask = np.zeros((h, w), bool)
    mask[m:-m, m:-m] = True
    pattern = b.frames[0].cfa_pattern
    a = up(demosaic_mosaic(normalised(b.frames[0].data), pattern, "rcd"))
    merged = up(demosaic_mosaic(np.ascontiguousarray(merge_burst(b.frames).data), pattern, "rcd"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback on a handheld burst
        out = super_resolve(b.frames, params=SuperResParams(scale=scale))
    sr = out.data
    obj = mask & b.object[scale]
    return {"a": psnr(a, gt, mask), "b": psnr(merged, gt, mask), "sr": psnr(sr, gt, mask),
            "a_obj": psnr(a, gt, obj), "sr_obj": psnr(sr, gt, obj),
            "a_bg": psnr(a, gt, mask & ~b.object[scale]), "sr_bg": psnr(sr, gt, mask & ~b.object[scale])}, out


def test_2x_beats_single_frame_and_merge_and_does_not_ghost(burst):
    s, out = _scores(burst, 2.0)
    assert out.cfa is CFA.LINEAR and out.data.shape == (320, 320, 3) and out.data.dtype == np.float32
    assert out.metadata.extra["superres_fallback"] is False
    assert s["sr"] >= s["a"] + 1.0, s
    assert s["sr"] >= s["b"] + 0.5, s
    assert s["sr_bg"] >= s["a_bg"] + 1.5, s  # outside the moving disc the frames add resolution
    assert s["sr_obj"] >= s["a_obj"] - 0.05, s  # the moving disc does not ghost


def test_1x_beats_merge(burst):
    s, out = _scores(burst, 1.0)
    assert out.data.shape == (160, 160, 3)
    assert s["sr"] >= s["b"] + 0.5, s
    assert s["sr_obj"] >= s["a_obj"] - 0.05, s


def test_static_burst_falls_back_to_the_merge_and_says_so(burst):
    frames = [burst.frames[0]] * 3
    with pytest.warns(UserWarning, match="moved too little"):
        out = super_resolve(frames, params=SuperResParams(scale=1.5))
    assert out.data.shape == (240, 240, 3)
    assert out.metadata.extra["superres_fallback"] is True
    assert np.isfinite(out.data).all()


def test_scale_must_be_one_of_the_supported_factors():
    with pytest.raises(InvalidParameter, match="1, 1.5 or 2"):
        SuperResParams(scale=1.25)


def test_sampling_gain_counts_tiles_off_the_colour_lattice():
    field = np.zeros((4, 4, 2), np.float32)
    assert sampling_gain(field) == 0.0
    field[..., 1] = 1.0  # one plane px = two raw px: the same colour lattice
    assert sampling_gain(field) == 0.0
    field[:2, :, 0] = 0.25  # half a raw px in y
    assert sampling_gain(field) == 0.5


def test_robustness_keeps_noise_and_rejects_change():
    rng = np.random.default_rng(0)
    ref = np.full((3, 64, 64), 0.2, np.float32)
    pairs = np.array([[1e-3, 1e-5]] * 3, np.float32)
    sd = np.sqrt(1e-3 * 0.2 + 1e-5)
    noisy = lambda: ref + sd * rng.standard_normal(ref.shape).astype(np.float32)  # noqa: E731
    r0, alt = noisy(), noisy()
    alt[:, 20:40, 20:40] += 0.1  # an object that moved in
    var = np.zeros_like(ref)
    r = robustness(r0, alt, var, pairs, SuperResParams())
    # noise alone keeps most of the weight (the 5x5 local minimum takes the noise's tail)
    assert r[:12].mean() > 0.6 and r[50:].mean() > 0.6 and r[:, 50:].mean() > 0.6
    assert r[22:38, 22:38].max() == 0.0


@pytest.mark.parametrize("cd,llr", [(True, True), (False, False)])
def test_kernel_matches_numpy_reference(cd, llr):
    rng = np.random.default_rng(3)
    n, h, w, scale = 3, 24, 32, 1.5
    stack = rng.random((n, h, w), dtype=np.float32)
    pattern = np.array([[0, 1], [1, 2]], np.int64)
    disps = (rng.random((n, 4, 5, 2)) * 2 - 1).astype(np.float32)
    disps[0] = 0
    icov = np.zeros((h // 2, w // 2, 3), np.float32)
    icov[..., 0] = 0.5 / 0.4**2
    icov[..., 2] = 0.5 / 0.6**2
    icov[..., 1] = 0.3 * rng.random((h // 2, w // 2)).astype(np.float32)
    robs = rng.random((n, h // 2, w // 2)).astype(np.float32)
    robs[0] = 1.0
    cw = np.array([0.3, 1.0, 0.3], np.float32)
    gains = np.array([2.0, 1.0, 1.5], np.float32)
    ho, wo = int(h * scale), int(w * scale)
    fused = np.empty((ho, wo, 3), np.float32)
    holes = merge_rows(stack, pattern, disps, 16, icov, robs, scale, cw, 0.01, gains, cd, llr, fused, 0, ho)
    num, den, mom = (np.zeros((ho, wo, k), np.float32) for k in (3, 3, 7))
    for f in range(n):
        accumulate_reference(stack[f], pattern, disps[f], 16, icov, robs[f], scale, cw, num, den, mom)
    ref = finish_reference(num, den, mom, 0.01, gains, cd, llr)
    assert holes == int(np.isnan(ref[..., 0]).sum())
    ok = np.isfinite(ref)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(fused[ok], ref[ok], rtol=1e-3, atol=1e-4)


def test_cli_superres_writes_a_linear_raw_dng(tmp_path, burst):
    from typer.testing import CliRunner

    from rawlux.cli.app import app
    from rawlux.io.dng import write_dng
    from rawlux.io.raw import open_raw

    paths = []
    for k, f in enumerate(burst.frames[:4]):
        p = tmp_path / f"f{k}.dng"
        write_dng(f, p)
        paths.append(str(p))
    out = tmp_path / "sr.dng"
    res = CliRunner().invoke(app, ["superres", *paths, "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    raw = open_raw(out)
    assert raw.cfa is CFA.LINEAR and raw.data.shape == (320, 320, 3)
    bad = CliRunner().invoke(app, ["night", *paths, "-o", str(tmp_path / "x.jpg"), "--scale", "1.2", "--quiet"])
    assert bad.exit_code == 2 and "1, 1.5 or 2" in bad.output
    assert not (tmp_path / "x.jpg").exists()


def test_rgb_path_beats_bicubic_on_developed_frames():
    """JPEG path: linear RGB frames of a scene moved by the hand, pixel-integrated and noisy;
    2x super-resolution beats frame 0 bicubic against the fine-grid truth."""
    from rawlux.burst.superres_rgb import super_resolve_rgb
    from rawlux.synth.burst import _warp, unprocess
    from rawlux.synth.images import sample_image

    rng = np.random.default_rng(4)
    hr = unprocess(cv2.resize(sample_image("astronaut"), (320, 320), interpolation=cv2.INTER_AREA))
    hr = cv2.GaussianBlur(hr, (0, 0), 0.8)
    frames, pos = [], np.zeros(2)
    for k in range(8):
        img = _warp(hr, 2 * pos[0], 2 * pos[1], 0.0) if k else hr
        low = cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA)
        frames.append((low + 0.003 * rng.standard_normal(low.shape)).astype(np.float32))
        pos += rng.normal(0, 1.2, 2)
    out, info = super_resolve_rgb(frames)
    assert out.shape == (320, 320, 3)
    bic = cv2.resize(frames[0], (320, 320), interpolation=cv2.INTER_CUBIC)
    m = np.zeros((320, 320), bool)
    m[24:-24, 24:-24] = True
    assert psnr(out, hr, m) >= psnr(bic, hr, m) + 1.0
    assert min(info["robustness"]) > 0.5


def test_cli_superres_of_developed_photos(tmp_path):
    """JPEG path through the CLI: a burst of shifted JPEGs becomes one photo of twice the size;
    night without --scale explains that photos need it."""
    from typer.testing import CliRunner

    from rawlux.cli.app import app
    from rawlux.synth.images import sample_image

    src = cv2.resize(sample_image("chelsea"), (256, 256), interpolation=cv2.INTER_AREA)
    paths = []
    for k, (dy, dx) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        small = cv2.resize(src[dy : dy + 254, dx : dx + 254], (127, 127), interpolation=cv2.INTER_AREA)
        p = tmp_path / f"p{k}.jpg"
        cv2.imwrite(str(p), small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(str(p))
    out = tmp_path / "sr.png"
    res = CliRunner().invoke(app, ["superres", *paths, "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    img = cv2.imread(str(out))
    assert img.shape == (254, 254, 3)
    ref = cv2.resize(cv2.imread(paths[0]), (254, 254), interpolation=cv2.INTER_CUBIC)
    assert np.abs(img.astype(float) - ref.astype(float)).mean() < 6.0  # same picture, same place
    bad = CliRunner().invoke(app, ["night", *paths, "-o", str(tmp_path / "n.jpg"), "--quiet"])
    assert bad.exit_code == 2 and "--scale" in bad.output


def test_other_bayer_layouts_give_the_same_quality(burst):
    """Equivariance: the burst cropped by one row is GBRG; its super-resolution is as good."""
    from dataclasses import replace

    gt = burst.truth[1.0]
    m = np.zeros(gt.shape[:2], bool)
    m[12:-12, 12:-12] = True
    rggb = super_resolve(burst.frames, params=SuperResParams(scale=1.0)).data
    frames = [replace(f, data=np.ascontiguousarray(f.data[1:-1]), cfa=CFA.GBRG, cfa_pattern=None)
              for f in burst.frames]
    gbrg = super_resolve(frames, params=SuperResParams(scale=1.0)).data
    assert gbrg.shape == (158, 160, 3)
    p_rggb = psnr(rggb[1:-1], gt[1:-1], m[1:-1])
    p_gbrg = psnr(gbrg, gt[1:-1], m[1:-1])
    assert abs(p_gbrg - p_rggb) < 0.5, (p_rggb, p_gbrg)


def test_app_night_file_super_resolves_a_lazy_burst_to_a_photo(tmp_path, burst):
    """rawlux.app.night: super_resolve takes the lazy open_burst sequence; the float result is
    developed with no quantisation step, so the photo matches developing the written LinearRaw
    DNG (16-bit quantised) within JPEG-free PNG rounding."""
    from rawlux.app.develop import develop_image
    from rawlux.app.night import NightOptions, merge_files, night_file
    from rawlux.io.dng import write_dng

    paths = []
    for k, f in enumerate(burst.frames[:4]):
        p = tmp_path / f"f{k}.dng"
        write_dng(f, p)
        paths.append(p)
    opts = NightOptions(superres=SuperResParams(scale=1.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = night_file(paths, tmp_path / "sr.png", opts)
        merged, files = merge_files(paths, opts)
    assert merged.cfa is CFA.LINEAR and merged.data.dtype == np.float32 and merged.data.shape == (240, 240, 3)
    assert sorted(files.levels) == [0, 1, 2, 3]  # every frame opened by the lazy sequence
    night_file(paths, tmp_path / "sr.dng", opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        via_dng = develop_image(tmp_path / "sr.dng", opts.develop).data
    photo = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1].astype(np.float64)
    photo /= 65535.0 if photo.max() > 255 else 255.0
    assert photo.shape == (240, 240, 3)
    assert np.abs(photo - via_dng).mean() < 2.0 / 255
