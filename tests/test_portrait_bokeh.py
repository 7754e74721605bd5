"""Bokeh renderer on synthetic scenes with known depth (issue 5)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.portrait.bokeh import (
    BokehParams,
    aperture_kernel,
    coc_scale,
    render_bokeh,
    render_linear,
    signed_coc,
)
from rawlux.portrait.lens import BUILTIN_LENSES, LensParams, load_lens

H, W = 200, 300
FAR, NEAR = 0.1, 1.0  # disparities: background, subject (focal plane)


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear RGB with a high-frequency background and a textured subject disc in focus."""
    rng = np.random.default_rng(seed)
    bg = rng.random((H, W, 3), dtype=np.float32) * 0.6 + 0.1
    yy, xx = np.mgrid[0:H, 0:W]
    subj = ((xx - 150) ** 2 + (yy - 110) ** 2) < 45**2
    tex = (0.3 + 0.2 * np.sin(xx / 2.0) * np.cos(yy / 3.0)).astype(np.float32)
    rgb = bg.copy()
    rgb[subj] = np.stack([tex, tex * 0.9, tex * 0.8], axis=2)[subj]
    disp = np.where(subj, NEAR, FAR).astype(np.float32)
    return rgb, disp, subj


def _render(rgb: np.ndarray, disp: np.ndarray, lens: LensParams, n: float, framing: float = 0.4):
    coc = signed_coc(disp, NEAR, lens, n, framing, max(rgb.shape[:2]))
    return render_linear(rgb, coc, lens)


def _hf_energy(img: np.ndarray, region: np.ndarray) -> float:
    g = img.mean(axis=2)
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=1)
    return float(np.mean(lap[region] ** 2))


def _background_region(subj: np.ndarray, margin: int = 30) -> np.ndarray:
    far_from_subject = cv2.dilate(subj.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) == 0
    border = np.zeros_like(subj)
    border[margin:-margin, margin:-margin] = True
    return far_from_subject & border


PLAIN = LensParams(blades=7, roundness=0.0, edge_softness=0.02, max_blur=0.25)


def test_background_energy_falls_as_aperture_opens():
    rgb, disp, subj = _scene()
    region = _background_region(subj)
    stops = [11.0, 8.0, 5.6, 4.0, 2.8, 2.0, 1.4]
    energy = [_hf_energy(_render(rgb, disp, PLAIN, n), region) for n in stops]
    assert all(b < a for a, b in zip(energy, energy[1:])), energy
    assert energy[-1] < 0.1 * _hf_energy(rgb, region)


def test_background_energy_falls_as_focal_length_grows():
    rgb, disp, subj = _scene(1)
    region = _background_region(subj)
    focals = [24.0, 35.0, 50.0, 75.0, 90.0, 135.0]
    energy = []
    for f in focals:
        lens = LensParams(focal_length=f, blades=9, roundness=0.5, max_blur=0.25)
        energy.append(_hf_energy(_render(rgb, disp, lens, 2.8, framing=0.8), region))
    assert all(b < a for a, b in zip(energy, energy[1:])), energy


def test_builtin_lenses_blur_more_with_focal_length():
    rgb, disp, subj = _scene(2)
    region = _background_region(subj)
    energy = [_hf_energy(_render(rgb, disp, load_lens(n), 2.8, framing=0.5), region)
              for n in BUILTIN_LENSES]
    assert all(b < a for a, b in zip(energy, energy[1:])), energy


@pytest.mark.parametrize("name", BUILTIN_LENSES)
def test_in_focus_subject_kept(name):
    rgb, disp, subj = _scene(3)
    out = _render(rgb, disp, load_lens(name), 1.4)
    inner = cv2.erode(subj.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    mse = float(np.mean((out[inner] - rgb[inner]) ** 2))
    psnr = 10 * math.log10(1.0 / max(mse, 1e-12))
    assert psnr >= 35.0, psnr
    # and the background did change a lot
    region = _background_region(subj)
    assert float(np.mean(np.abs(out[region] - rgb[region]))) > 0.05


def _point_light(lens: LensParams, n: float, at: tuple[int, int] = (150, 200),
                 shape: tuple[int, int] = (300, 400)) -> tuple[np.ndarray, float]:
    h, w = shape
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[at] = 1000.0
    disp = np.full((h, w), 0.0, np.float32)  # at infinity
    disp[0, 0] = NEAR  # keep something in focus
    coc = signed_coc(disp, NEAR, lens, n, 0.3, max(h, w))
    expected_d = 2 * coc_scale(lens, n, 0.3, max(h, w))
    return render_linear(rgb, coc, lens)[..., 1], expected_d


@pytest.mark.parametrize("blades,n", [(6, 2.0), (5, 2.5), (8, 1.7)])
def test_point_light_renders_polygon_of_expected_size(blades, n):
    lens = LensParams(blades=blades, roundness=0.0, edge_softness=0.0, edge_brightness=0.0,
                      rotation=7.0, max_blur=0.25)
    img, expected_d = _point_light(lens, n)
    assert 15 < expected_d < 60
    # light is conserved
    assert abs(float(img.sum()) - 1000.0) < 5.0
    # size: intensity-weighted second moment -> diameter of the equal-area disc
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    wsum = float(img.sum())
    cy, cx = float((img * yy).sum() / wsum), float((img * xx).sum() / wsum)
    m2 = float((img * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / wsum)
    d_moment = 2 * math.sqrt(2 * m2)
    assert abs(d_moment - expected_d) <= 0.10 * expected_d, (d_moment, expected_d)
    # shape: the half-maximum outline is a polygon with `blades` corners
    binary = (img > 0.5 * img.max()).astype(np.uint8)
    d_area = 2 * math.sqrt(binary.sum() / math.pi)
    assert abs(d_area - expected_d) <= 0.15 * expected_d, (d_area, expected_d)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(c, 0.035 * cv2.arcLength(c, True), True)
    assert len(approx) == blades


def test_kernel_equal_area_and_sides():
    for blades in (5, 6, 7, 9):
        lens = LensParams(blades=blades, roundness=0.0, edge_softness=0.0)
        k = aperture_kernel(30.0, lens)
        area = float((k > 0.5 * k.max()).sum())
        assert abs(area - math.pi * 30**2) < 0.03 * math.pi * 30**2
        assert abs(float(k.sum()) - 1.0) < 1e-4


def test_creamy_profile_brighter_centre_and_rim_for_busy():
    creamy = aperture_kernel(20.0, LensParams(blades=0, edge_brightness=-0.6, edge_softness=0.3))
    busy = aperture_kernel(20.0, LensParams(blades=0, edge_brightness=0.6, edge_softness=0.0))
    c = creamy.shape[0] // 2
    assert creamy[c, c] > 1.5 * creamy[c, c + 17]
    b = busy.shape[0] // 2
    assert busy[b, b + 17] > 1.5 * busy[b, b]


def test_swirly_lens_stretches_corner_discs_tangentially():
    lens = load_lens("50")
    img, _ = _point_light(lens, 1.4, at=(40, 60))
    win = img[: 140, : 180]
    yy, xx = np.mgrid[0:win.shape[0], 0:win.shape[1]]
    wsum = float(win.sum())
    cy, cx = (win * yy).sum() / wsum, (win * xx).sum() / wsum
    cov = np.array([[(win * (xx - cx) ** 2).sum(), (win * (xx - cx) * (yy - cy)).sum()],
                    [(win * (xx - cx) * (yy - cy)).sum(), (win * (yy - cy) ** 2).sum()]]) / wsum
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    radial = np.array([60 - 199.5, 40 - 149.5])
    radial /= np.linalg.norm(radial)
    assert evals[1] > 1.3 * evals[0]  # elongated (cat eye + swirl)
    assert abs(float(major @ radial)) < 0.5  # ... across the radius, i.e. tangentially
    # while a centred point light stays round
    centre, _ = _point_light(lens, 1.4)
    binary = (centre > 0.5 * centre.max()).astype(np.uint8)
    ys, xs = np.nonzero(binary)
    assert abs((ys.max() - ys.min()) - (xs.max() - xs.min())) <= 3


def _halo_scene(with_subject: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = 200, 260
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = (0.05 + 0.04 * (np.sin(xx / 1.5) > 0)).astype(np.float32)
    rgb = np.repeat(stripes[..., None], 3, axis=2).copy()
    subj = ((xx - 130) ** 2 + (yy - 100) ** 2) < 40**2
    disp = np.full((h, w), FAR, np.float32)
    if with_subject:
        rgb[subj] = 1.0  # bright subject on a dark textured background
        disp[subj] = NEAR
    return rgb, disp, subj


def _halo_metric(out: np.ndarray, ref: np.ndarray, subj: np.ndarray, width: int) -> float:
    """Mean |out - background-only render| in a ring just outside the subject edge, relative
    to the subject/background contrast (~0.93): light bleeding or a sharp fringe both count."""
    outer = cv2.dilate(subj.astype(np.uint8), np.ones((2 * width + 1,) * 2, np.uint8)).astype(bool)
    inner = cv2.dilate(subj.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ring = outer & ~inner
    return float(np.mean(np.abs(out[ring] - ref[ring]).mean(axis=-1))) / 0.93


def test_halo_at_mask_edge_is_bounded():
    lens = LensParams(blades=9, roundness=0.6, edge_softness=0.05, max_blur=0.25)
    rgb, disp, subj = _halo_scene(True)
    rgb_bg, disp_bg, _ = _halo_scene(False)
    n, framing = 1.8, 0.3
    out = _render(rgb, disp, lens, n, framing)
    ref = _render(rgb_bg, disp_bg, lens, n, framing)
    r = int(coc_scale(lens, n, framing, 260))
    assert r >= 8
    halo = _halo_metric(out, ref, subj, r)
    assert halo < 0.02, halo
    # the metric does catch a naive renderer: one blur of everything, subject pasted back
    naive = cv2.filter2D(rgb, -1, aperture_kernel(r * 0.9, lens))
    naive[subj] = rgb[subj]
    assert _halo_metric(naive, ref, subj, r) > 5 * max(halo, 0.005)
    # and the background right at the edge is blurred, not a sharp fringe
    ring = cv2.dilate(subj.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~cv2.dilate(
        subj.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert float(np.std(out[ring][:, 0])) < 0.5 * float(np.std(rgb_bg[ring][:, 0]))


def test_foreground_blurs_over_subject():
    h, w = 120, 160
    rgb = np.full((h, w, 3), 0.2, np.float32)
    disp = np.full((h, w), NEAR, np.float32)
    rgb[:, 70:80] = 1.0  # a near post in front of the focal plane
    disp[:, 70:80] = 3.0
    lens = LensParams(blades=0, max_blur=0.25)
    out = _render(rgb, disp, lens, 1.4, framing=0.3)
    # the post spreads over the in-focus plane on both sides
    assert out[60, 66, 0] > 0.3 and out[60, 84, 0] > 0.3
    assert abs(float(out.mean()) - float(rgb.mean())) < 0.02  # light roughly conserved


def test_render_bokeh_keeps_encoding_and_metadata():
    rgb, disp, _ = _scene(4)
    enc = np.clip(rgb, 0, 1) ** (1 / 2.2)
    img = Image(np.ascontiguousarray(enc, np.float32), ColorSpace.SRGB, Encoding.SRGB,
                Referred.DISPLAY)
    out = render_bokeh(img, disp[::2, ::2], NEAR, load_lens("75"), BokehParams(framing=0.4))
    assert out.data.shape == img.data.shape and out.data.dtype == np.float32
    assert out.encoding is Encoding.SRGB and out.space is ColorSpace.SRGB
    assert 0.0 <= float(out.data.min()) and float(out.data.max()) <= 1.0


def test_highlights_bloom_into_bright_discs():
    h, w = 120, 160
    data = np.full((h, w, 3), 0.2, np.float32)
    data[60, 80] = 1.0  # clipped display highlight
    img = Image(data, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY)
    disp = np.full((h, w), FAR, np.float32)
    lens = LensParams(blades=0, max_blur=0.25)
    boosted = render_bokeh(img, disp, NEAR, lens, BokehParams(aperture=1.4, framing=0.3))
    flat = render_bokeh(img, disp, NEAR, lens, BokehParams(aperture=1.4, framing=0.3,
                                                            highlight_boost=1.0))
    assert boosted.data[60, 80, 0] > flat.data[60, 80, 0] + 0.01


def test_every_lens_renders_differently():
    rgb, disp, _ = _scene(5)
    outs = [_render(rgb, disp, load_lens(n), 2.0) for n in BUILTIN_LENSES]
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert float(np.mean(np.abs(outs[i] - outs[j]))) > 1e-3


def test_bad_inputs():
    rgb, disp, _ = _scene()
    with pytest.raises(ContractError):
        render_linear(rgb[..., :2].copy(), disp, PLAIN)
    with pytest.raises(ContractError):
        render_linear(rgb, disp[:10], PLAIN)
    with pytest.raises(InvalidParameter):
        signed_coc(disp, 0.0, PLAIN, 2.0, 1.0, 300)
    with pytest.raises(InvalidParameter):
        BokehParams(aperture=100.0)
    with pytest.raises(InvalidParameter):
        aperture_kernel(float("nan"), PLAIN)
    # NaN disparity does not poison the image
    d = disp.copy()
    d[5:10, 5:10] = np.nan
    out = render_linear(rgb, signed_coc(d, NEAR, PLAIN, 2.0, 0.4, 300), PLAIN)
    assert np.isfinite(out).all()


def test_soft_focus_glow_blooms_highlights_keeps_light():
    from dataclasses import replace

    h, w = 120, 160
    rgb = np.full((h, w, 3), 0.05, np.float32)
    rgb[55:65, 75:85] = 1.0  # in-focus highlight
    disp = np.full((h, w), NEAR, np.float32)
    soft = load_lens("90")
    sharp_lens = replace(soft, glow=0.0)
    a = _render(rgb, disp, soft, 2.0)
    b = _render(rgb, disp, sharp_lens, 2.0)
    np.testing.assert_allclose(b, rgb, atol=1e-6)  # all in focus, no glow: untouched
    ring = a[55:65, 85:88, 0]  # just beside the highlight (sigma ~2 px here)
    assert float(ring.mean()) > 0.05 + 0.02  # halo
    assert abs(float(a.sum()) - float(rgb.sum())) < 1e-3 * float(rgb.sum())  # light conserved
    assert float(a[60, 80, 0]) < 1.0  # some of it left the highlight
    # midtones stay crisp
    assert float(np.abs(a[5:30, 5:40] - rgb[5:30, 5:40]).max()) < 1e-4


def test_highlight_knee_round_trips_and_rolls_off():
    from rawlux.portrait.bokeh import HighlightKnee

    knee = HighlightKnee(0.7)
    x = np.linspace(0.0, 1.0, 1001)
    np.testing.assert_allclose(knee.compress(knee.expand(x)), x, atol=1e-9)
    assert float(knee.expand(np.float64(1.0))) > 1.5  # clipped light is expanded ...
    big = knee.compress(np.array([2.0, 10.0, 1e4]))
    assert np.all(np.diff(big) >= 0)  # ... and summed light rolls off, never far above 1
    assert float(big.max()) <= 0.7 + 0.3 / knee.umax + 1e-9
    np.testing.assert_array_equal(knee.expand(x[x <= 0.7]), x[x <= 0.7])  # identity below


def test_display_highlights_in_focus_stay_put():
    """A clipped, in-focus highlight (a specular on a face) is not expanded: only what gets
    blurred blooms."""
    h, w = 120, 160
    data = np.full((h, w, 3), 0.5, np.float32)
    data[40:44, 60:64] = 1.0  # in-focus specular
    data[90, 130] = 1.0  # background point light
    disp = np.full((h, w), FAR, np.float32)
    disp[20:70, 40:90] = NEAR
    img = Image(data, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY)
    out = render_bokeh(img, disp, NEAR, LensParams(blades=0, max_blur=0.25),
                       BokehParams(aperture=1.4, framing=0.3)).data
    inner = np.zeros((h, w), bool)
    inner[22:68, 42:88] = True
    assert float(np.abs(out[inner] - data[inner]).max()) < 2e-4
    assert float(out[86:95, 126:135].mean()) > 0.5 + 0.02  # the blurred light blooms


def test_signed_coc_kernel_matches_numpy_formula():
    rng = np.random.default_rng(7)
    d = (rng.random((64, 80)) * 2.0).astype(np.float32)
    d[3, 4] = np.nan
    for lens in (PLAIN, load_lens("35"), load_lens("75")):
        got = signed_coc(d, 0.8, lens, 2.0, 0.5, 80)
        rel = 1.0 - np.nan_to_num(d, nan=0.8).astype(np.float64) / 0.8
        mag = np.minimum(np.abs(rel) ** lens.falloff * coc_scale(lens, 2.0, 0.5, 80),
                         lens.max_blur * 80 * 0.5)
        np.testing.assert_allclose(got, np.copysign(mag, rel), rtol=1e-5, atol=1e-5)
