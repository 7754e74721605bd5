"""Raw noise reduction (isp.denoise) and capture sharpening (isp.sharpen): measured properties
on synthetic scenes with ground truth and on real raws."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import CFA, ColorSpace, Image, RawImage
from rawlux.isp.demosaic import DEMOSAIC
from rawlux.isp.denoise import DenoiseParams, denoise, estimate_noise, noise_model
from rawlux.isp.sharpen import LUMA, SharpenParams, sharpen
from rawlux.synth.images import linear_sample, psnr, srgb_to_linear  # noqa: F401
from rawlux.synth.noisy import noisy_raw


def _encode(lin: np.ndarray) -> np.ndarray:
    x = np.clip(lin, 0.0, 1.0).astype(np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    """A 256x256 textured crop of the astronaut sample in linear light (face, flag, suit)."""
    img = linear_sample("astronaut")[40:296, 120:376]
    return np.ascontiguousarray(img * np.float32(0.8))


def _develop(raw: RawImage) -> np.ndarray:
    return DEMOSAIC.get("rcd")(raw.data, np.asarray(raw.cfa_pattern))


def _psnr(x: np.ndarray, truth: np.ndarray) -> float:
    return psnr(_encode(x), _encode(truth), border=8)


@pytest.mark.parametrize("scale,min_gain", [(3.2e-3, 1.0), (8e-4, 0.5)])
def test_denoise_raises_psnr_at_high_noise(scene: np.ndarray, scale: float, min_gain: float) -> None:
    raw = noisy_raw(scene, scale, scale / 40, seed=3)
    off = _psnr(_develop(raw), scene)
    on = _psnr(_develop(denoise(raw)), scene)
    assert on - off > min_gain, (off, on)


def test_denoise_does_not_hurt_clean_captures(scene: np.ndarray) -> None:
    raw = noisy_raw(scene, 2e-5, 5e-7, seed=4)
    off = _psnr(_develop(raw), scene)
    on = _psnr(_develop(denoise(raw)), scene)
    assert on > off - 0.15, (off, on)


@pytest.mark.parametrize("cfa", [CFA.RGGB, CFA.BGGR, CFA.GRBG, CFA.GBRG])
def test_every_bayer_layout_is_denoised(scene: np.ndarray, cfa: CFA) -> None:
    raw = noisy_raw(scene, 1.6e-3, 4e-5, seed=5)
    # the same scene under another layout: re-mosaic the noisy WB'd planes at shifted sites
    dy, dx = {CFA.RGGB: (0, 0), CFA.GRBG: (0, 1), CFA.GBRG: (1, 0), CFA.BGGR: (1, 1)}[cfa]
    data = np.ascontiguousarray(raw.data[dy : dy + 240, dx : dx + 240])
    truth = scene[dy : dy + 240, dx : dx + 240]
    r = raw.with_data(data, cfa=cfa, cfa_pattern=cfa.pattern())
    assert _psnr(_develop(denoise(r)), truth) - _psnr(_develop(r), truth) > 0.8


def test_chroma_noise_removed_on_flat_patch() -> None:
    flat = np.full((128, 128, 3), 0.05, np.float32)  # dark grey: the shadow case
    raw = noisy_raw(flat, 1e-3, 2e-5, seed=6)
    off = _develop(raw)[16:-16, 16:-16].astype(np.float64)
    on = _develop(denoise(raw))[16:-16, 16:-16].astype(np.float64)

    def chroma_sd(x: np.ndarray, b: int = 1) -> float:
        h, w, _ = x.shape
        x = x[: h // b * b, : w // b * b].reshape(h // b, b, w // b, b, 3).mean((1, 3))
        return float(np.std(x[..., 0] - x[..., 1]) + np.std(x[..., 2] - x[..., 1]))

    def luma_sd(x: np.ndarray) -> float:
        return float(np.std(x @ np.array(LUMA)))

    # pixel level (partly demosaicked luma noise) and blotch level (8x8 means)
    assert chroma_sd(on) < 0.45 * chroma_sd(off)
    assert chroma_sd(on, 8) < 0.45 * chroma_sd(off, 8)
    assert luma_sd(on) < 0.9 * luma_sd(off)  # luma: reduced, gently
    assert luma_sd(on) > 0.2 * luma_sd(off)
    assert np.abs(on.mean((0, 1)) - 0.05).max() < 0.002  # no colour cast, no bias


def test_noise_estimate_recovers_the_model() -> None:
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.random((16, 16, 3)), np.ones((32, 32, 1))).astype(np.float32) * 0.6 + 0.02
    raw = noisy_raw(smooth, 4e-4, 1e-5, seed=7, profile=False)
    est = estimate_noise(raw)
    model, source = noise_model(raw.with_data(raw.data, noise_profile=noisy_raw(smooth, 4e-4, 1e-5).noise_profile))
    assert source == "profile"
    for c in range(3):
        # variance at mid grey (0.3) within 25 % of the truth, both in WB'd units
        want = model[c, 0] * 0.3 + model[c, 1]
        got = est[c, 0] * 0.3 + est[c, 1]
        assert abs(got / want - 1) < 0.25, (c, est, model)


def test_noise_estimate_agrees_with_a_real_noise_profile(raw_dir) -> None:
    """Pixel 7 DNG: its NoiseProfile vs the estimate from its (near-black) pixels."""
    from rawlux.develop import DevelopOptions, build_pipeline
    from rawlux.io.raw import open_raw

    img = open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")
    for s in build_pipeline(DevelopOptions()).stages:
        if s.name == "denoise":
            break
        img = s(img)
    prof, source = noise_model(img)
    est = estimate_noise(img)
    assert source == "profile"
    # read-noise floor per channel: same order (lens-shading gains raise the measured noise)
    ratio = est[:, 1] / prof[:, 1]
    assert np.all((ratio > 0.6) & (ratio < 2.5)), ratio


def test_each_denoise_option_changes_the_output(scene: np.ndarray) -> None:
    raw = noisy_raw(scene, 8e-4, 2e-5, seed=8)
    base = denoise(raw).data
    for kw in ({"strength": 0.9}, {"luma": 0.0}, {"chroma": 0.3}):
        assert np.abs(denoise(raw, DenoiseParams(**kw)).data - base).max() > 1e-3, kw
    assert denoise(raw, DenoiseParams(strength=0.0)) is raw
    from rawlux.isp.denoise import denoise_inplace

    copy = raw.with_data(raw.data.copy())
    assert np.array_equal(denoise_inplace(copy).data, base) and np.array_equal(copy.data, base)


def test_denoise_keeps_odd_edges_and_linear_raws(scene: np.ndarray) -> None:
    raw = noisy_raw(scene, 8e-4, 2e-5, seed=9)
    odd = raw.with_data(np.ascontiguousarray(raw.data[:101, :77]))
    out = denoise(odd).data
    assert out.shape == (101, 77) and np.all(np.isfinite(out))
    assert np.array_equal(out[-1], odd.data[-1]) and np.array_equal(out[:, -1], odd.data[:, -1])
    # LINEAR (already demosaicked) raw: chroma noise reduced too
    lin = _develop(raw)
    lraw = RawImage(np.ascontiguousarray(lin), CFA.LINEAR, np.zeros(3, np.float32), 1.0,
                    wb_gains=raw.wb_gains, noise_profile=raw.noise_profile)
    den = denoise(lraw).data
    assert den.shape == lin.shape
    assert _psnr(den, scene) > _psnr(lin, scene) + 0.3


@pytest.mark.parametrize("cfa", [CFA.RGGB, CFA.GBRG])
def test_denoise_kernels_equal_numpy_reference(scene: np.ndarray, cfa: CFA) -> None:
    from rawlux.isp.denoise import denoise_reference

    raw = noisy_raw(scene, 8e-4, 2e-5, seed=10)
    odd = raw.with_data(np.ascontiguousarray(raw.data[:123, :149]), cfa=cfa, cfa_pattern=cfa.pattern())
    for p in (DenoiseParams(), DenoiseParams(strength=1.0, luma=1.0, chroma=0.4)):
        got, want = denoise(odd, p).data, denoise_reference(odd, p)
        assert np.abs(got - want).max() < 2e-5, np.abs(got - want).max()


def test_denoise_rejects_undecoded_raw() -> None:
    raw = RawImage(np.zeros((8, 8), np.uint16), CFA.RGGB, np.zeros((2, 2), np.float32), 1.0)
    with pytest.raises(ContractError, match="float32"):
        denoise(raw)
    with pytest.raises(InvalidParameter):
        DenoiseParams(strength=1.5)


# ------------------------------------------------------------------------------ sharpen


def _edge_image(blur: float = 1.2) -> np.ndarray:
    """Slanted dark/bright edge (linear 0.04 | 0.5), blurred by a Gaussian of ``blur`` px."""
    import cv2

    yy, xx = np.mgrid[0:96, 0:96].astype(np.float32)
    step = np.where(xx - 48 + 0.1 * (yy - 48) > 0, 0.5, 0.04).astype(np.float32)
    step = cv2.GaussianBlur(step, (0, 0), blur)
    return np.ascontiguousarray(np.repeat(step[..., None], 3, axis=2))


def _rise(profile: np.ndarray, lo: float, hi: float) -> float:
    """10-90 % rise distance (px, sub-pixel) of a rising edge profile between plateaus lo, hi."""
    n = (profile - lo) / (hi - lo)

    def cross(t: float) -> float:
        i = int(np.argmax(n > t))
        return i - 1 + (t - n[i - 1]) / (n[i] - n[i - 1])

    return cross(0.9) - cross(0.1)


def test_sharpen_raises_acutance_with_bounded_overshoot() -> None:
    src = _edge_image(0.8)  # about the softness of demosaicking + a good lens
    lo, hi = np.sqrt(0.04), np.sqrt(0.5)  # plateaus in the sharpening domain sqrt(Y)
    before = _rise(np.sqrt(src[48, :, 1]), lo, hi)
    rises = []
    for amount in (0.5, 1.0):
        p = SharpenParams(amount=amount)
        out = sharpen(Image(src, ColorSpace.REC2020), p).data
        rises.append(_rise(np.sqrt(out[48, :, 1]), lo, hi))
        # halo bound: never beyond the plateaus by more than overshoot x their range
        u = np.sqrt(out[..., 1])
        margin = p.overshoot * (hi - lo) + 1e-4
        assert u.max() <= hi + margin and u.min() >= lo - margin
        assert np.abs(out[:, :20] - src[:, :20]).max() < 1e-5  # flat areas untouched
        assert np.allclose(out[..., 0], out[..., 1]) and np.allclose(out[..., 2], out[..., 1])  # grey stays grey
    assert rises[0] < 0.85 * before and rises[1] < rises[0], (before, rises)


def test_sharpen_each_option_changes_output_and_zero_is_off() -> None:
    rng = np.random.default_rng(1)
    src = _edge_image() * (1 + 0.02 * rng.standard_normal((96, 96, 1)).astype(np.float32))
    img = Image(np.ascontiguousarray(src, np.float32), ColorSpace.REC2020)
    base = sharpen(img).data
    for kw in ({"amount": 1.0}, {"overshoot": 0.5}, {"threshold": 0.05}):
        assert np.abs(sharpen(img, SharpenParams(**kw)).data - base).max() > 1e-4, kw
    assert sharpen(img, SharpenParams(amount=0.0)) is img
    from rawlux.isp.sharpen import sharpen_inplace

    copy = Image(img.data.copy(), ColorSpace.REC2020)
    assert np.array_equal(sharpen_inplace(copy).data, base) and np.array_equal(copy.data, base)
    with pytest.raises(ContractError, match="Rec.2020"):
        sharpen(Image(img.data, ColorSpace.CAMERA))


def test_sharpen_kernel_equals_numpy_reference(scene: np.ndarray) -> None:
    from rawlux.isp.sharpen import sharpen_data, sharpen_reference

    data = np.ascontiguousarray(scene[:77, :93])  # odd sizes: edge rows/columns
    for p in (SharpenParams(), SharpenParams(amount=1.0, overshoot=0.0, threshold=0.0)):
        got, want = sharpen_data(data, p), sharpen_reference(data, p)
        assert np.abs(got - want).max() < 2e-5 * max(1.0, float(want.max()))


def test_sharpen_keeps_noise_floor(scene: np.ndarray) -> None:
    """Detail below the threshold (noise) is not amplified: a flat noisy patch barely changes."""
    rng = np.random.default_rng(2)
    flat = (0.2 + 0.2 * 0.004 * rng.standard_normal((64, 64, 1))).astype(np.float32)
    flat = np.ascontiguousarray(np.repeat(flat, 3, axis=2))
    out = sharpen(Image(flat, ColorSpace.REC2020)).data
    assert np.std(out[..., 1]) < 1.3 * np.std(flat[..., 1])


# ------------------------------------------------------------------------------ develop


def test_develop_real_550d_chroma_noise_and_options(raw_dir) -> None:
    """Canon 550D chart, vibrant look (lifts the shadows): colour noise on the dark chart body is
    at least halved by the default; --denoise 0 --sharpen 0 is the old output."""
    import rawlux
    from rawlux.io.raw import open_raw

    raw = open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        off = rawlux.develop(raw, look="vibrant", denoise=0, sharpen=0).data.astype(np.float64)
        on = rawlux.develop(raw, look="vibrant").data.astype(np.float64)
        only_sharp = rawlux.develop(raw, look="vibrant", denoise=0).data
    w = (slice(470, 494), slice(800, 848))  # flat part of the chart's black body

    def chroma_sd(x: np.ndarray) -> float:
        b = x[w]
        return float(np.std(b[..., 0] - b[..., 1]) + np.std(b[..., 2] - b[..., 1]))

    assert chroma_sd(on) < 0.6 * chroma_sd(off)
    assert np.abs(on[w].mean((0, 1)) - off[w].mean((0, 1))).max() < 0.03  # same tone, no new cast
    assert np.abs(only_sharp - off).max() > 0.02 and np.abs(only_sharp - on).max() > 0.02
    with pytest.raises(InvalidParameter):
        rawlux.develop(raw, denoise=2.0)


def test_cli_flags(raw_dir, tmp_path) -> None:
    """--denoise/--sharpen reach the pipeline (0 0 differs from the default) and are bounded."""
    import os
    import subprocess
    import sys

    from PIL import Image as PILImage

    src = raw_dir / "kodak_dc50.kdc"
    run = [sys.executable, "-m", "rawlux_launcher", "develop", str(src)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for name, extra in (("def.png", []), ("off.png", ["--denoise", "0", "--sharpen", "0"])):
        proc = subprocess.run([*run, "-o", str(tmp_path / name), *extra], capture_output=True,
                              text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
    a = np.asarray(PILImage.open(tmp_path / "def.png"), np.int32)
    b = np.asarray(PILImage.open(tmp_path / "off.png"), np.int32)
    assert a.shape == b.shape and np.abs(a - b).mean() > 0.3
    bad = subprocess.run([*run, "-o", str(tmp_path / "x.png"), "--denoise", "1.5"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "denoise" in (bad.stderr + bad.stdout)


def test_unknown_noise_leaves_the_data_alone() -> None:
    """Regression (fuzzing: a linear DNG whose WhiteLevel is far below its data): with no
    profile and no block inside the normalised range the noise is unknown; denoising blind
    produced NaN, now the stage returns its input."""
    from rawlux.core.image import CFA, RawImage
    from rawlux.isp.denoise import denoise, noise_model

    rng = np.random.default_rng(0)
    data = (800 + 3000 * rng.random((48, 64, 3))).astype(np.float32)
    raw = RawImage(data=data, cfa=CFA.LINEAR, black=np.zeros(3), white=1.0,
                   wb_gains=np.array([1.1, 1.0, 2.1], np.float32))
    assert noise_model(raw) == (None, "unknown")
    out = denoise(raw)
    assert np.array_equal(out.data, data) and np.isfinite(out.data).all()


def test_absurd_noise_profile_falls_back_to_the_estimate() -> None:
    """Regression (fuzzing: NoiseProfile O = 1e308 became inf in the float32 kernels and the
    mosaic NaN): a profile with a variance above the whole signal range is not used."""
    from rawlux.core.image import CFA, NoiseProfile, RawImage
    from rawlux.isp.denoise import denoise, noise_model

    rng = np.random.default_rng(1)
    data = np.clip(0.3 + rng.normal(0, 0.01, (256, 384)), 0, 1).astype(np.float32)
    raw = RawImage(data=data, cfa=CFA.RGGB, black=np.zeros((2, 2)), white=1.0,
                   noise_profile=NoiseProfile(np.array([[2e-4, 1e308]])),
                   wb_gains=np.array([2.0, 1.0, 1.4], np.float32))
    assert noise_model(raw)[1] == "estimate"
    assert np.isfinite(denoise(raw).data).all()
