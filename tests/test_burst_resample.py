"""Sub-pixel resampling of Bayer frames (rawlux.burst.resample): identity, ramps, smooth scenes."""

from __future__ import annotations

import numpy as np
import pytest

from rawlux.burst.align import tile_grid
from rawlux.burst.noise import bayer_planes
from rawlux.burst.resample import green_cd, warp_bayer
from rawlux.synth.images import mosaic

RGGB = np.array([[0, 1], [1, 2]])
GBRG = np.array([[1, 2], [0, 1]])


def _scene(h: int, w: int, dy: float = 0.0, dx: float = 0.0) -> np.ndarray:
    """Smooth colour scene (H, W, 3) in [0.1, 0.9] sampled at raw positions (y + dy, x + dx)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = y + dy, x + dx
    g = 0.5 + 0.3 * np.sin(x / 5.0 + 0.3) * np.cos(y / 7.0)
    r = g * (1.1 + 0.2 * np.sin(y / 11.0))
    b = g * (0.8 + 0.1 * np.cos(x / 13.0))
    return np.clip(np.stack([r, g, b], -1), 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize("pattern", [RGGB, GBRG])
def test_green_and_colour_differences_are_exact_on_linear_ramps(pattern):
    h, w = 40, 54
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([0.2 + 0.004 * y + 0.003 * x, 0.3 + 0.002 * y + 0.005 * x, 0.1 + 0.001 * x], -1)
    gains = np.array([2.0, 1.0, 1.5], np.float32)
    g, cd = green_cd(mosaic(rgb, pattern), pattern, gains)
    # the Laplacian and the neighbour means are exact for linear signals (away from the reflected border)
    np.testing.assert_allclose(g[2:-2, 2:-2], rgb[2:-2, 2:-2, 1], atol=1e-5)
    for a in range(2):
        for b in range(2):
            ch = pattern[a, b]
            if ch != 1:
                want = gains[ch] * rgb[a::2, b::2, ch] - rgb[a::2, b::2, 1]
                np.testing.assert_allclose(cd[0 if ch == 0 else 1][1:-1, 1:-1], want[1:-1, 1:-1], atol=1e-5)


@pytest.mark.parametrize("pattern", [RGGB, GBRG])
def test_zero_motion_returns_the_frames_own_samples(pattern):
    m = np.random.default_rng(0).random((46, 62), dtype=np.float32)
    gains = np.array([1.8, 1.0, 1.4], np.float32)
    g, cd = green_cd(m, pattern, gains)
    ny, nx = tile_grid((23, 31), 16)
    out = warp_bayer(g, cd, pattern, gains, np.zeros((ny, nx, 2), np.float32), 16)
    np.testing.assert_allclose(out, bayer_planes(m), atol=1e-6)


@pytest.mark.parametrize(("dy", "dx"), [(0.3, -0.65), (-1.7, 2.25)])
def test_subpixel_motion_resamples_a_smooth_scene(dy, dx):
    """The frame sees the scene moved by (2 dy, 2 dx) raw px: resampled at the reference's sites it
    matches the reference far better than the frame's own samples do."""
    h, w = 96, 128
    ref = mosaic(_scene(h, w), RGGB)
    alt = mosaic(_scene(h, w, -2 * dy, -2 * dx), RGGB)  # alt(p + 2d) = ref(p)
    gains = np.array([1.3, 1.0, 1.6], np.float32)
    g, cd = green_cd(alt, RGGB, gains)
    ny, nx = tile_grid((h // 2, w // 2), 16)
    disp = np.empty((ny, nx, 2), np.float32)
    disp[..., 0], disp[..., 1] = dy, dx
    out = warp_bayer(g, cd, RGGB, gains, disp, 16)
    want = bayer_planes(ref)
    inner = (slice(None), slice(4, -4), slice(4, -4))
    err = np.abs(out - want)[inner]
    assert err.mean() < 2e-3 and err.max() < 0.02, (err.mean(), err.max())  # scene range 0.1..0.9
    assert np.abs(bayer_planes(alt) - want)[inner].mean() > 10 * err.mean()


def test_output_buffers_are_reused_and_shapes_checked():
    m = np.random.default_rng(1).random((20, 30), dtype=np.float32)
    g_buf, cd_buf = np.empty((20, 30), np.float32), np.empty((2, 10, 15), np.float32)
    g, cd = green_cd(m, RGGB, np.ones(3, np.float32), g_buf, cd_buf)
    assert g is g_buf and cd is cd_buf
    out_buf = np.empty((4, 10, 15), np.float32)
    out = warp_bayer(g, cd, RGGB, np.ones(3, np.float32), np.zeros((2, 3, 2), np.float32), 16, out_buf)
    assert out is out_buf
    from rawlux.core.errors import ContractError

    with pytest.raises(ContractError):
        warp_bayer(g, cd[:, :-1], RGGB, np.ones(3, np.float32), np.zeros((2, 3, 2), np.float32), 16)
