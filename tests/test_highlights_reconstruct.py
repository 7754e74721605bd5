"""Highlights: synthetic overexposed scenes (white and coloured light, gradients through
saturation) must come out without magenta, continuous at the clip boundary; real file check."""

from __future__ import annotations

import numpy as np
import pytest

from rawlux.core.errors import ContractError
from rawlux.core.image import CFA, RawImage
from rawlux.isp.demosaic import bilinear
from rawlux.isp.highlights import STAGE, HighlightParams, highlights, push_pull

GAINS = np.array([2.1, 1.0, 1.6], np.float32)  # daylight-like WB: green clips first
H, W = 160, 220


def capture(scene: np.ndarray, cfa: CFA = CFA.RGGB, gains: np.ndarray = GAINS) -> RawImage:
    """Scene (white-balanced linear RGB) -> sensor (neutral = 1/gains) clipped at 1 -> WB mosaic."""
    raw_rgb = np.minimum(scene / gains, 1.0)
    h, w, _ = scene.shape
    tile = np.tile(cfa.pattern(), (h // 2 + 1, w // 2 + 1))[:h, :w].astype(np.int64)
    m = np.take_along_axis(raw_rgb, tile[..., None], 2)[..., 0] * gains[tile]
    return RawImage(
        np.ascontiguousarray(m, np.float32), cfa, np.zeros((2, 2), np.float32), 1.0, wb_gains=gains
    )


def blob(color, peak: float = 4.0, base: float = 0.15) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    lum = base + peak * np.exp(-((yy - H / 2) ** 2 + (xx - W / 2) ** 2) / (2 * 22.0**2))
    return (lum[..., None] * np.asarray(color, np.float32)).astype(np.float32)


def magenta_fraction(rgb: np.ndarray, region: np.ndarray) -> float:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mag = (np.minimum(r, b) - g) > 0.05 * rgb.max(axis=2)
    return float(mag[region].mean())


def clipped_region(scene: np.ndarray, gains: np.ndarray = GAINS) -> np.ndarray:
    return (scene / gains).max(axis=2) >= 1.0


@pytest.mark.parametrize("cfa", [CFA.RGGB, CFA.GBRG])
@pytest.mark.parametrize(
    "color", [(1.0, 1.0, 1.0), (1.0, 0.55, 0.25), (0.35, 0.6, 1.0), (1.0, 0.15, 0.1)]
)
def test_no_magenta_in_clipped_light_sources(color, cfa: CFA) -> None:
    scene = blob(color)
    region = clipped_region(scene)
    assert region.sum() > 500
    raw = capture(scene, cfa)
    out = highlights(raw)
    rgb = bilinear(out.data, cfa.pattern())
    assert magenta_fraction(rgb, region) < 0.002
    assert (
        magenta_fraction(
            bilinear(highlights(raw, HighlightParams(method="clip")).data, cfa.pattern()), region
        )
        < 0.002
    )
    if color == (1.0, 1.0, 1.0):
        # untreated white highlights are magenta: the check above can fail
        assert magenta_fraction(bilinear(raw.data, cfa.pattern()), region) > 0.5
        centre = rgb[H // 2, W // 2]
        assert centre.min() > 0.95 * centre.max()  # blown core is neutral
        assert centre.min() > 1.5  # and brighter than the clip level (range recovered)


def test_reconstruction_recovers_hue_where_one_channel_clips() -> None:
    """Orange light: where only red is clipped, the red/green ratio is recovered."""
    scene = blob((1.0, 0.3, 0.15), peak=3.0)
    raw_rgb = scene / GAINS
    one = (raw_rgb[..., 0] >= 1.0) & (raw_rgb[..., 1] < 0.97) & (raw_rgb[..., 2] < 0.97)
    assert one.sum() > 200
    ours = bilinear(highlights(capture(scene)).data, CFA.RGGB.pattern())
    none = bilinear(capture(scene).data, CFA.RGGB.pattern())
    true_ratio = scene[..., 0] / scene[..., 1]
    err_ours = np.abs(ours[..., 0] / ours[..., 1] - true_ratio)[one].mean()
    err_none = np.abs(none[..., 0] / none[..., 1] - true_ratio)[one].mean()
    assert err_ours < 0.5 * err_none and err_ours < 0.15


def test_gradient_through_saturation_is_continuous_and_monotone() -> None:
    """A horizontal ramp of white light from 0.2x to 3x saturation: output green must rise
    smoothly across the clip boundary (no step, no dip)."""
    ramp = np.linspace(0.2, 3.0, W, dtype=np.float32)
    scene = np.broadcast_to(ramp[None, :, None], (H, W, 3)).copy()
    out = bilinear(highlights(capture(scene)).data, CFA.RGGB.pattern())
    prof = out[H // 2 - 10 : H // 2 + 10, 4:-4].mean(axis=0)  # (W-8, 3)
    luma = prof.mean(axis=1)
    assert np.all(np.diff(luma) > -1e-3)  # monotone
    steps = np.abs(np.diff(luma))
    assert steps.max() < 4 * np.median(steps) + 1e-3  # no jump at the boundary
    # and neutral everywhere (scene is white)
    assert np.abs(prof[:, 0] - prof[:, 1]).max() < 0.1 * prof.max()


def test_unclipped_sites_untouched_and_fast_paths() -> None:
    scene = blob((1.0, 1.0, 1.0))
    raw = capture(scene)
    out = highlights(raw)
    thr = GAINS * 0.97
    tile = np.tile(CFA.RGGB.pattern(), (H // 2, W // 2))
    unclipped = raw.data < thr[tile]
    np.testing.assert_array_equal(out.data[unclipped], raw.data[unclipped])
    assert np.all(out.data >= raw.data)
    dark = capture(blob((1.0, 1.0, 1.0), peak=0.3))
    assert highlights(dark) is dark
    assert highlights(raw, HighlightParams(method="none")) is raw
    clipped = highlights(raw, HighlightParams(method="clip"))
    assert clipped.data.max() <= GAINS.min() * 0.97 + 1e-6
    assert STAGE.name == "highlights"


def test_linear_raw_and_errors() -> None:
    scene = blob((1.0, 1.0, 1.0))
    sensor = np.minimum(scene / GAINS, 1.0) * GAINS
    raw = RawImage(
        np.ascontiguousarray(sensor, np.float32),
        CFA.LINEAR,
        np.zeros(3, np.float32),
        1.0,
        wb_gains=GAINS,
    )
    out = highlights(raw)
    assert magenta_fraction(out.data, clipped_region(scene)) < 0.002
    with pytest.raises(ContractError, match="float32"):
        highlights(RawImage(np.zeros((4, 4), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1023.0))
    bad = raw.with_data(raw.data, wb_gains=np.array([1.0, -1.0, 1.0], np.float32))
    with pytest.raises(ContractError, match="wb_gains"):
        highlights(bad)


def test_push_pull_fills_holes_and_keeps_samples() -> None:
    rng = np.random.default_rng(0)
    vals = rng.random((37, 53, 3), dtype=np.float32)
    w = (rng.random((37, 53, 3)) > 0.7).astype(np.float32)
    out = push_pull(vals, w)
    np.testing.assert_allclose(out[w > 0], vals[w > 0], rtol=1e-5)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    const = push_pull(
        np.full((20, 20, 3), 2.5, np.float32),
        np.pad(np.ones((4, 4, 3), np.float32), ((8, 8), (8, 8), (0, 0))),
    )
    np.testing.assert_allclose(const, 2.5, rtol=1e-5)
    empty = push_pull(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32), default=1.0)
    np.testing.assert_allclose(empty, 1.0)


def test_real_file_clipped_highlights_not_magenta(raw_dir) -> None:
    from rawlux.io.raw import open_raw
    from rawlux.isp.black_level import black_level
    from rawlux.isp.demosaic import demosaic
    from rawlux.isp.white_balance import white_balance

    raw = white_balance(black_level(open_raw(raw_dir / "blackmagic_pocket4k_cinemadng.dng")))
    p = HighlightParams()
    thr = raw.wb_gains * p.clip_threshold
    # clipped superpixels (any site of the 2x2 block clipped)
    h2, w2 = raw.height // 2, raw.width // 2
    blocks = raw.data[: 2 * h2, : 2 * w2].reshape(h2, 2, w2, 2)
    tile = np.asarray(raw.cfa_pattern)
    clipped = np.zeros((h2, w2), bool)
    for dy in range(2):
        for dx in range(2):
            clipped |= blocks[:, dy, :, dx] >= thr[tile[dy, dx]]
    assert clipped.sum() > 100  # the daylight scene does clip (speculars)
    before = demosaic(raw).data[0 : 2 * h2 : 2, 0 : 2 * w2 : 2]
    after = demosaic(highlights(raw, p)).data[0 : 2 * h2 : 2, 0 : 2 * w2 : 2]
    assert magenta_fraction(before, clipped) > 0.3
    # 11 of 535 blocks, all on edges inside a 2x2 block (one green site at 1.0, its twin at
    # 0.4-0.8) where RCD mixes in neighbouring blue/red: excess 6-12 % of the brightest channel
    assert magenta_fraction(after, clipped) < 0.025
