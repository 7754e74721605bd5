"""Auto white balance on spectrally rendered scenes: better than the classic baselines."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import CFA, ColorCalibration, RawImage
from rawlux.isp import awb

warnings.filterwarnings("ignore", module="colour")
chart = pytest.importorskip("rawlux.synth.chart")

ILLS = ("D65", "A", "FL2", "LED-B3", "BB2500", "BB8000")


@pytest.fixture(scope="module")
def errors() -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {
        "rawlux": [], "gray world": [], "gray edge": [], "shades of gray": [], "white patch": []
    }  # fmt: skip
    for ill in ILLS:
        for seed in range(4):
            raw, truth = chart.spectral_scene(ill, seed=1000 + seed, size=(192, 256))
            out["rawlux"].append(chart.angular_error(awb.estimate_neutral(raw), truth))
            rgb, valid = awb.thumbnail(raw)
            for name, est in (
                ("gray world", awb.gray_world(rgb, valid)),
                ("gray edge", awb.gray_edge(rgb, valid, 1, 6.0, 1.0)),
                ("shades of gray", awb.gray_edge(rgb, valid, 0, 6.0, 0.0)),
                ("white patch", awb.white_patch(rgb, valid)),
            ):
                out[name].append(chart.angular_error(est, truth))
    return {k: np.asarray(v) for k, v in out.items()}


def test_awb_accuracy(errors: dict[str, np.ndarray]) -> None:
    # these random scenes have strongly biased colour statistics (hard for every statistical
    # estimator); benchmarks/color_accuracy.py reports the full tables on more scenes
    e = errors["rawlux"]
    assert np.median(e) < 6.5, f"median angular error {np.median(e):.2f} deg"
    for name in ("gray world", "gray edge", "shades of gray", "white patch"):
        assert e.mean() < errors[name].mean(), (
            f"{name}: {errors[name].mean():.2f} <= {e.mean():.2f}"
        )


def test_neutral_scene_is_exact_enough() -> None:
    """A grey world scene with edges: every estimator should be near perfect."""
    rng = np.random.default_rng(3)
    truth = np.array([0.45, 1.0, 0.7])
    refl = rng.uniform(0.05, 0.9, (24, 32)).repeat(8, 0).repeat(8, 1)
    rgb = refl[..., None] * truth
    idx = np.tile(CFA.RGGB.pattern(), (96, 128))
    mos = np.take_along_axis(rgb, idx[..., None].astype(np.intp), 2)[..., 0].astype(np.float32)
    raw = RawImage(np.ascontiguousarray(mos), CFA.RGGB, np.zeros((2, 2), np.float32), 1.0)
    est = awb.estimate_neutral(raw, awb.AwbParams(locus_pull=0.0, max_abs_duv=0.05))
    assert chart.angular_error(est, truth) < 1.0


def test_clipped_pixels_are_ignored() -> None:
    raw, truth = chart.spectral_scene("A", seed=5, size=(128, 192))
    d = raw.data.copy()
    d[:40, :60] = 1.0  # a blown-out (white) region
    clipped = raw.with_data(d)
    _rgb, valid = awb.thumbnail(clipped)
    assert not valid[: 40 * valid.shape[0] // 128 - 1, : 60 * valid.shape[1] // 192 - 1].any()
    assert chart.angular_error(awb.estimate_neutral(clipped), truth) < 8.0


def test_linear_and_no_profile() -> None:
    rgb = np.random.default_rng(0).uniform(0.05, 0.8, (64, 64, 3)).astype(np.float32) * np.array(
        [0.5, 1, 0.8], np.float32
    )
    raw = RawImage(np.ascontiguousarray(rgb), CFA.LINEAR, np.zeros(3, np.float32), 1.0,
                   calibration=ColorCalibration(source="none"))  # fmt: skip
    n = awb.estimate_neutral(raw)
    assert n.shape == (3,) and abs(n.max() - 1) < 1e-9 and np.all(n > 0)


def test_every_option_changes_the_estimate() -> None:
    raw, _ = chart.spectral_scene("FL2", seed=9, size=(128, 192))
    base = awb.estimate_neutral(raw)
    for kw in (
        {"order": 2},
        {"minkowski_p": 1.0},
        {"w_bright": 0.0},
        {"w_gray": 0.0},
        {"locus_pull": 1.0},
        {"w_grey_px": 0.0},
        {"plausibility_duv": 0.05},
    ):
        assert not np.allclose(awb.estimate_neutral(raw, awb.AwbParams(**kw)), base, atol=1e-6), kw


def test_errors() -> None:
    with pytest.raises(ContractError, match="float32"):
        awb.estimate_neutral(
            RawImage(np.zeros((8, 8), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1023.0)
        )
    with pytest.raises(InvalidParameter):
        awb.AwbParams(order=3)
    raw, _ = chart.spectral_scene("D65", seed=1, size=(64, 64))
    with pytest.raises(InvalidParameter, match="w_edge"):
        awb.estimate_neutral(raw, awb.AwbParams(w_edge=0.0, w_bright=0.0, w_gray=0.0))


def test_xtrans_thumbnail_channels() -> None:
    pat = np.array([[1, 1, 0, 1, 1, 2], [1, 1, 2, 1, 1, 0], [2, 0, 1, 0, 2, 1],
                    [1, 1, 2, 1, 1, 0], [1, 1, 0, 1, 1, 2], [0, 2, 1, 2, 0, 1]])  # fmt: skip
    truth = np.array([0.6, 1.0, 0.4], np.float32)
    tile = np.tile(pat, (20, 20))
    d = np.ascontiguousarray(truth[tile] * 0.5, dtype=np.float32)
    raw = RawImage(d, CFA.XTRANS, np.zeros((6, 6), np.float32), 1.0, cfa_pattern=pat)
    rgb, valid = awb.thumbnail(raw)
    assert valid.all()
    np.testing.assert_allclose(
        rgb.reshape(-1, 3), np.broadcast_to(truth * 0.5, (rgb.size // 3, 3)), rtol=1e-5
    )
