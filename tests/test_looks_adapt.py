"""authentic adapts its key and black point to the scene (a hazy, over-bright scene gets deep
blacks and a natural key; a dark scene is left alone), and no natural look darkens corners."""

from __future__ import annotations

import dataclasses as dc
from pathlib import Path

import numpy as np
import pytest

from rawlux.core.errors import InvalidParameter
from rawlux.looks.adapt import measure
from rawlux.looks.local import downsample_norm
from rawlux.looks.registry import get_look, look_names
from rawlux.looks.render import render_look, render_reference
from rawlux.looks.spec import AdaptSpec, parse_look

AUTHENTIC = get_look("authentic")
NO_ADAPT = dc.replace(AUTHENTIC, adapt=AdaptSpec())


def _srgb8_lum(display_linear: np.ndarray) -> np.ndarray:
    v = np.clip(display_linear.astype(np.float64), 0, 1)
    e = np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)
    return (255 * e).mean(-1)


def _scene(h: int = 180, w: int = 270, seed: int = 0) -> np.ndarray:
    """Scene-linear Rec.2020: bright sky, mid-tone ground, a dark tree line (~6 stops range)."""
    import cv2

    rng = np.random.default_rng(seed)
    col = cv2.resize(rng.random((9, 12, 3)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC).clip(0.05, 1.0)
    x = col * 0.2
    x[: h // 3] = np.array([0.8, 0.9, 1.1], np.float32)
    x[h // 2: h // 2 + h // 8] *= 0.05
    return np.ascontiguousarray(x, np.float32)


def _stats(spec, x: np.ndarray) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    lum = _srgb8_lum(render_look(x, spec))
    return float(np.percentile(lum, 1)), float(np.median(lum))


def test_haze_and_over_exposure_are_taken_back() -> None:
    x = _scene()
    hazy = (x + 0.05) * 3.0  # veiling glare + 1.6 EV too bright
    p1_off, med_off = _stats(NO_ADAPT, hazy)
    p1_on, med_on = _stats(AUTHENTIC, hazy)
    assert p1_off > 90 and med_off > 170  # washed out without adaptation
    assert p1_on < 0.35 * p1_off and p1_on < 35 and 130 < med_on < 170
    ad = measure(downsample_norm(hazy)[0], AUTHENTIC)
    assert -AUTHENTIC.adapt.key <= ad.exposure < 0 and ad.offset > 0


@pytest.mark.parametrize("gain", [2.0 ** -5, 2.0 ** -2, 1.0])
def test_dark_or_normal_scene_is_left_alone(gain: float) -> None:
    x = _scene() * np.float32(gain)
    ad = measure(downsample_norm(x)[0], AUTHENTIC)
    assert ad.exposure == 0.0 and ad.offset == 0.0  # never brightened, deep blacks kept
    np.testing.assert_array_equal(render_look(x, AUTHENTIC), render_look(x, NO_ADAPT))


def test_adaptation_never_brightens_and_is_monotone_in_haze() -> None:
    x = _scene(seed=4)
    offsets, exposures = [], []
    for haze in (0.0, 0.02, 0.05, 0.1, 0.2):
        ad = measure(downsample_norm((x + haze) * 2.0)[0], AUTHENTIC)
        offsets.append(ad.offset)
        exposures.append(ad.exposure)
    assert all(e <= 0 for e in exposures)
    assert all(a <= b + 1e-9 for a, b in zip(offsets, offsets[1:])) and offsets[-1] > 0


def test_black_chroma_restores_colour_the_haze_washed_out() -> None:
    x = _scene(seed=6)
    hazy = (x + 0.05) * 3.0
    a = AUTHENTIC.adapt

    def chroma(amount: float) -> float:
        out = render_look(hazy, dc.replace(AUTHENTIC, adapt=dc.replace(a, black_chroma=amount)))
        return float((out.max(-1) - out.min(-1)).mean())  # spread of the channels

    c0, c1 = chroma(0.0), chroma(1.0)
    assert c1 > 1.15 * c0
    grey = np.full_like(hazy, 0.3)  # neutral stays neutral whatever the chroma gain
    out = render_look(grey + hazy * 0.0, AUTHENTIC)
    assert np.ptp(out, axis=-1).max() < 2e-3


def test_adapted_kernel_matches_reference() -> None:
    hazy = (_scene(150, 200, seed=2) + 0.05) * 3.0
    assert measure(downsample_norm(hazy)[0], AUTHENTIC).offset > 0
    np.testing.assert_allclose(render_look(hazy, AUTHENTIC, 0.8),
                               render_reference(hazy, AUTHENTIC, 0.8), atol=2e-5)


@pytest.mark.parametrize("field,value", [
    ("key", 0.3), ("key_target", 0.5), ("black", 0.4), ("black_target", 0.03),
    ("black_percentile", 5.0), ("black_chroma", 0.0),
])
def test_every_adapt_option_changes_output(field: str, value: float) -> None:
    hazy = (_scene(90, 120, seed=8) + 0.05) * 3.0
    changed = dc.replace(AUTHENTIC, adapt=dc.replace(AUTHENTIC.adapt, **{field: value}))
    assert getattr(AUTHENTIC.adapt, field) != value
    a, b = render_look(hazy, changed), render_look(hazy, AUTHENTIC)
    assert np.abs(np.sqrt(a) - np.sqrt(b)).mean() > 1e-3


def test_adapt_section_is_validated(tmp_path: Path) -> None:
    spec = parse_look({"adapt": {"key": 0.5, "black": 0.3}}, tmp_path / "x.toml")
    assert spec.adapt.key == 0.5 and spec.adapt.active
    with pytest.raises(InvalidParameter, match=r"x\.toml.*adapt\.black"):
        parse_look({"adapt": {"black": 2.0}}, tmp_path / "x.toml")
    with pytest.raises(InvalidParameter, match="adapt.nope"):
        parse_look({"adapt": {"nope": 1.0}}, tmp_path / "x.toml")


# --------------------------------------------------------------------------- vignetting


def test_natural_looks_do_not_darken_corners() -> None:
    flat = np.full((90, 160, 3), 0.18, np.float32)
    for name in ("authentic", "natural", "vibrant", "vivid", "neutral"):
        out = render_look(flat, name)
        assert np.ptp(out[..., 1]) < 1e-6, name  # corners exactly as bright as the centre
    for name in look_names():
        spec = get_look(name)
        if spec.vignette.amount != 0.0:  # a creative effect only, and it says so
            assert "vignette" in spec.description, name
