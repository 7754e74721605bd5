"""The neutral look keeps what the raw holds: colorimetric below a knee, a monotone highlight
shoulder above it (no hard clip). Real-file checks: tests/test_looks_real.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rawlux.core.image import ColorSpace, Image
from rawlux.isp.look import LookParams, look
from rawlux.looks.render import (
    NEUTRAL_MAX_WHITE,
    neutral_reference,
    neutral_white,
    render_look,
    render_neutral,
)
from rawlux.looks.tone import SHOULDER_MIN_KNEE, shoulder_curve, shoulder_knee, shoulder_table

WHITES = [1.01, 1.3, 2.0, 8.0, 40.0, NEUTRAL_MAX_WHITE]


@pytest.mark.parametrize("white", WHITES)
def test_shoulder_identity_below_knee_monotone_and_ends_at_white(white: float) -> None:
    knee = shoulder_knee(white)
    assert SHOULDER_MIN_KNEE <= knee < 1.0
    x = np.linspace(0.0, 1.5 * white, 200_001)
    f = shoulder_curve(x, knee, white)
    below = x <= knee
    np.testing.assert_array_equal(f[below], x[below])  # colorimetric below the knee
    inside = x <= white
    assert (np.diff(f[inside]) > 0).all()  # strictly increasing up to white
    assert f.max() == 1.0 and (f[x >= white] == 1.0).all() and (f[x < white] < 1.0).all()
    assert shoulder_curve(np.array([white]), knee, white)[0] == pytest.approx(1.0, abs=1e-12)
    # C1 at the knee: slope 1 on both sides
    h = 1e-6 * knee
    slope = (shoulder_curve(np.array([knee + h]), knee, white)[0] - knee) / h
    assert slope == pytest.approx(1.0, abs=1e-3)
    # the kernel's table samples f(x) / x
    xs = np.linspace(knee, white, len(shoulder_table(knee, white)))
    np.testing.assert_allclose(shoulder_table(knee, white) * xs, shoulder_curve(xs, knee, white),
                               rtol=1e-6)


def test_knee_falls_with_headroom() -> None:
    knees = [shoulder_knee(w) for w in (1.0, 1.1, 2.0, 4.0, 16.0, 1e4)]
    assert knees[0] == 1.0 and all(a > b for a, b in zip(knees[:3], knees[1:4]))
    assert knees[-1] == SHOULDER_MIN_KNEE


def _bright_scene(h: int = 97, w: int = 131, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((h, w, 3)).astype(np.float32) * 0.6
    x[: h // 3] *= 12.0  # a bright sky, 4 stops above white
    x[h // 2, : w // 2] = np.array([0.1, 0.2, 0.3], np.float32) * np.linspace(0, 40, w // 2)[:, None]
    return np.ascontiguousarray(x)


def test_render_neutral_matches_reference_keeps_hue_and_does_not_clip() -> None:
    x = _bright_scene()
    out = render_neutral(x)
    ref = neutral_reference(x)
    np.testing.assert_allclose(out, ref, atol=1e-5)  # table interpolation < 1 16-bit code
    white = neutral_white(x)
    knee = shoulder_knee(white)
    n = x.max(-1)
    low = n <= knee
    np.testing.assert_array_equal(out[low], x[low])  # identity below the knee
    # above the knee: the max channel follows the shoulder, nothing reaches 1 below white
    mid = (n > knee) & (n < white) & (x.min(-1) > 1e-3)
    np.testing.assert_allclose(out[mid].max(-1), shoulder_curve(n[mid], knee, white), atol=1e-5)
    assert out[mid].max() < 1.0
    # just above the knee: one factor on all three channels (chromaticity kept)
    low_shoulder = mid & (out.max(-1) < knee + 0.2 * (1 - knee))
    assert low_shoulder.sum() > 20
    scale = (out[low_shoulder].max(-1) / n[low_shoulder])[:, None]
    assert np.abs(out[low_shoulder] - x[low_shoulder] * scale).max() < 2e-3
    # higher up: same hue order, saturation only ever reduced (path to white)
    order_in = np.argsort(x[mid], axis=-1, kind="stable")
    sat_in = 1 - x[mid].min(-1) / x[mid].max(-1)
    sat_out = 1 - out[mid].min(-1) / out[mid].max(-1)
    assert (sat_out <= sat_in + 1e-5).all()
    assert (np.take_along_axis(out[mid], order_in, -1).argsort(-1, kind="stable")
            == np.arange(3)).mean() > 0.99
    # ordering of brightness kept along the ramp
    ramp = out[x.shape[0] // 2, : x.shape[1] // 2, 2]
    assert (np.diff(ramp) >= 0).all()
    # the old neutral clipped the whole sky
    assert (np.clip(x, 0, 1) >= 1.0).any(-1).mean() > 0.2
    assert (out >= 1.0).any(-1).mean() < 0.001


def test_no_headroom_is_plain_clip_and_special_values() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((40, 50, 3)).astype(np.float32) * 0.95
    assert neutral_white(x) == 1.0
    np.testing.assert_array_equal(render_neutral(x), x)
    y = _bright_scene()
    y[3, 4] = (np.nan, 0.2, 0.3)
    y[5, 6] = (np.inf, 0.5, 0.5)
    y[7, 8] = (-1.0, 0.5, 0.5)
    o = render_neutral(y)
    assert np.isfinite(o).all() and o.min() >= 0.0 and o.max() <= 1.0
    assert o[3, 4, 0] == 0.0 and o[5, 6, 0] == 1.0 and o[7, 8, 0] == 0.0
    z = y.copy()
    assert render_neutral(z, out=z) is z
    np.testing.assert_array_equal(z, o)


def test_look_stage_neutral_and_strength_zero_use_the_shoulder() -> None:
    x = _bright_scene()
    img = Image(x, ColorSpace.REC2020)
    a = look(img, LookParams(look="neutral")).data
    b = look(img, LookParams(look="authentic", strength=0.0)).data
    np.testing.assert_array_equal(a, render_neutral(x))
    np.testing.assert_array_equal(a, b)
    half = render_look(x, "vivid", 0.5)
    full = render_look(x, "vivid", 1.0)
    np.testing.assert_allclose(half, 0.5 * (full + a), atol=1e-5)
