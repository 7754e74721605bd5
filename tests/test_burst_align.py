"""Alignment (rawlux.burst.align) and merge machinery: known shifts, rotation, tiling identities."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.burst.align import (
    AlignParams,
    align,
    gradients,
    grey_image,
    pyramid,
    snap_to_global,
    tile_grid,
)
from rawlux.burst.merge import _gather, _gather_band, _overlap_add, raised_cosine
from rawlux.synth.burst import make_burst, normalised


def _true_field(burst, k: int, grid: tuple[int, int], tile: int) -> np.ndarray:
    """Displacement (raw px) of the merge-grid tile centres for frame k: ref(x) = frame_k(M x)."""
    h, w = burst.clean.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), burst.rotations[k], 1.0)
    m[0, 2] += burst.shifts[k, 1]
    m[1, 2] += burst.shifts[k, 0]
    ny, nx = grid
    s = tile // 2
    cy = (np.arange(ny) * s - s + tile / 2.0) * 2 - 0.5  # grey px centre -> raw px
    cx = (np.arange(nx) * s - s + tile / 2.0) * 2 - 0.5
    x, y = np.meshgrid(cx, cy)
    return np.stack([m[1, 0] * x + m[1, 1] * y + m[1, 2] - y, m[0, 0] * x + m[0, 1] * y + m[0, 2] - x], -1)


@pytest.fixture(scope="module")
def handheld():
    return make_burst("astronaut", 5, noise="mild", size=(384, 384), shift_step=3.0, rotation_step=0.2,
                      moving_object=False, seed=4)


def test_alignment_recovers_shifts_and_rotation_within_quarter_pixel(handheld):
    p = AlignParams()
    ref = pyramid(grey_image(normalised(handheld.frames[0].data)), p.levels)
    grid = tile_grid(ref[0].shape, p.tile)
    assert np.abs(handheld.shifts).max() > 2.0  # the hand really moved (several raw pixels)
    for k in range(1, len(handheld.frames)):
        field = align(ref, pyramid(grey_image(normalised(handheld.frames[k].data)), p.levels), p) * 2
        truth = _true_field(handheld, k, grid, p.tile)
        err = np.abs(field - truth)[3:-3, 3:-3]  # tiles whose content stays inside the frame
        assert np.median(err) <= 0.25, (k, np.median(err, axis=(0, 1)))
        assert np.percentile(err, 75) <= 0.5


def test_alignment_is_better_than_integer_and_follows_large_translation():
    b = make_burst("astronaut", 2, noise="mild", size=(256, 256), shift_step=9.0, rotation_step=0.0,
                   moving_object=False, seed=11)
    p = AlignParams()
    ref = pyramid(grey_image(normalised(b.frames[0].data)), p.levels)
    alt = pyramid(grey_image(normalised(b.frames[1].data)), p.levels)
    field = align(ref, alt, p)[2:-2, 2:-2] * 2
    truth = b.shifts[1]
    assert np.abs(truth).max() > 6
    err = np.median(np.abs(field - truth), axis=(0, 1))
    assert np.all(err <= 0.25), err
    coarse = align(ref, alt, AlignParams(lk_iterations=0))[2:-2, 2:-2] * 2
    assert np.median(np.abs(coarse - truth)) < 0.5  # quadratic fit alone is already sub-pixel


def test_gradients_of_a_ramp():
    y, x = np.mgrid[0:20, 0:30].astype(np.float32)
    gy, gx = gradients(3 * y + 2 * x)
    assert np.allclose(gy[1:-1, 1:-1], 3) and np.allclose(gx[1:-1, 1:-1], 2)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(9, 70), w=st.integers(9, 70), tile=st.sampled_from([8, 16, 32]), seed=st.integers(0, 99))
def test_raised_cosine_tiles_overlap_add_to_identity(h, w, tile, seed):
    plane = np.random.default_rng(seed).random((h, w), dtype=np.float32)
    ny, nx = tile_grid((h, w), tile)
    tiles = _gather(plane, np.zeros((ny, nx, 2), np.int32), tile, tile // 2, tile // 2, raised_cosine(tile))
    back = _overlap_add(tiles, h, w, tile // 2, tile // 2)
    np.testing.assert_allclose(back, plane, atol=2e-6)


def test_gather_shifts_by_integer_displacement():
    plane = np.arange(40 * 40, dtype=np.float32).reshape(40, 40)
    ny, nx = tile_grid(plane.shape, 8)
    disp = np.zeros((ny, nx, 2), np.int32)
    disp[..., 0], disp[..., 1] = 2, -3
    ones = np.ones((8, 8), np.float32)
    t = _gather(plane, disp, 8, 4, 4, ones)
    assert t[3, 3, 0, 0] == plane[3 * 4 - 4 + 2, 3 * 4 - 4 - 3]


def test_gather_band_matches_gather_per_frame_and_band():
    rng = np.random.default_rng(5)
    stack = rng.random((3, 50, 70), dtype=np.float32)
    t = 16
    ny, nx = tile_grid(stack.shape[1:], t)
    disp = rng.integers(-5, 6, (3, ny, nx, 2)).astype(np.int32)  # some tiles clamp at the edges
    window = raised_cosine(t)
    i0, nb = 1, ny - 2
    out = np.empty((3, nb, nx, t, t), np.float32)
    _gather_band(stack, disp, i0, t, t // 2, t // 2, window, out)
    for f in range(3):
        whole = _gather(stack[f], disp[f], t, t // 2, t // 2, window)
        np.testing.assert_array_equal(out[f], whole[i0 : i0 + nb])


def test_snap_to_global_keeps_independent_motion():
    rng = np.random.default_rng(0)
    ny, nx, t = 12, 16, 16
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64) * t + (t - 1) / 2.0
    a = np.deg2rad(0.3)
    gx = np.cos(a) * xx - np.sin(a) * yy + 1.7 - xx
    gy = np.sin(a) * xx + np.cos(a) * yy - 0.8 - yy
    model = np.stack([gy, gx], -1).astype(np.float32)
    field = model + rng.normal(0, 0.15, model.shape).astype(np.float32)
    field[2:5, 3:6] += np.float32(4.0)  # an object moving on its own
    out = snap_to_global(field, t, 0.75)
    np.testing.assert_array_equal(out[2:5, 3:6], field[2:5, 3:6])
    assert np.abs(out - model)[6:, 8:].max() < 0.05
