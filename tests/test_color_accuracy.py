"""Colour accuracy of the whole develop path on simulated ColorChecker captures (issue 2).

For each illuminant: spectral ColorChecker capture (camera "Nikon 5100 (NPL)") -> DNG with fitted
dual-illuminant ColorMatrix/ForwardMatrix -> develop (look neutral, WB as-shot) -> 16-bit TIFF ->
decode sRGB -> CIELAB (D65) -> mean CIEDE2000 vs the reference (illuminant colours adapted to D65
by Bradford) after one exposure scalar fitted on the six neutral patches.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

warnings.filterwarnings("ignore", module="colour")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

from rawlux.synth import chart as synth

MAX_MEAN_DE00 = 1.5


def develop_chart(path: Path, out: Path) -> np.ndarray:
    """``rawlux.develop`` (look neutral, WB as-shot, sRGB) -> 16-bit TIFF -> linear sRGB float64."""
    import tifffile

    from rawlux.develop import develop
    from rawlux.io.write import save

    save(develop(path, look="neutral", wb="as-shot"), out)
    enc = tifffile.imread(out).astype(np.float64) / 65535.0
    return colour.cctf_decoding(enc, function="sRGB")


def delta_e_after_exposure(
    lin_srgb_patches: np.ndarray, lab_ref: np.ndarray
) -> tuple[np.ndarray, float]:
    """CIEDE2000 per patch after one exposure scalar fitted (L* least squares) on the neutrals."""
    from scipy.optimize import minimize_scalar

    xyz = colour.RGB_to_XYZ(lin_srgb_patches, "sRGB", apply_cctf_decoding=False)
    wp = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    neutral = list(synth.NEUTRAL_PATCHES)

    def cost(logk: float) -> float:
        lab = colour.XYZ_to_Lab(xyz * np.exp(logk), wp)
        return float(np.sum((lab[neutral, 0] - lab_ref[neutral, 0]) ** 2))

    k = float(np.exp(minimize_scalar(cost, bounds=(-3, 3), method="bounded").x))
    lab = colour.XYZ_to_Lab(xyz * k, wp)
    return colour.delta_E(lab, lab_ref, method="CIE 2000"), k


@pytest.mark.parametrize("illuminant", synth.ILLUMINANTS)
def test_colorchecker_delta_e(illuminant: str, tmp_path: Path) -> None:
    ch = synth.make_chart(illuminant, noise=0.0005)
    dng = synth.write_chart_dng(ch, tmp_path / f"chart_{illuminant}.dng")
    lin = develop_chart(dng, tmp_path / "out.tif")
    assert lin.shape[:2] == ch.raw.data.shape
    de, k = delta_e_after_exposure(synth.patch_means(lin, ch.boxes), ch.lab_ref)
    print(f"{illuminant}: mean dE00 {de.mean():.2f}, max {de.max():.2f}, exposure x{k:.3f}")
    assert 0.5 < k < 2.0, (
        f"exposure scalar {k:.3f} is far from 1: levels or BaselineExposure are off"
    )
    assert de.mean() <= MAX_MEAN_DE00, f"{illuminant}: mean dE00 {de.mean():.2f}"
    # neutrals must be neutral: white balance + matrix consistency
    assert de[list(synth.NEUTRAL_PATCHES)].max() < 1.5


def test_colour_matrix_path_without_forward_matrix(tmp_path: Path) -> None:
    ch = synth.make_chart("FL2", forward_matrix=False)
    dng = synth.write_chart_dng(ch, tmp_path / "chart_cm.dng")
    lin = develop_chart(dng, tmp_path / "out.tif")
    de, _ = delta_e_after_exposure(synth.patch_means(lin, ch.boxes), ch.lab_ref)
    assert de.mean() <= MAX_MEAN_DE00, f"ColorMatrix path: mean dE00 {de.mean():.2f}"


def test_wrong_white_balance_is_detected(tmp_path: Path) -> None:
    """The metric can fail: an A capture developed with a D65 white is far off."""
    from rawlux.core.image import ColorCalibration

    ch = synth.make_chart("A")
    bad_neutral = synth.make_chart("D65").neutral
    cal = ch.raw.calibration
    raw = ch.raw.with_data(
        ch.raw.data,
        calibration=ColorCalibration(**{**cal.__dict__, "as_shot_neutral": bad_neutral}),
    )
    dng = synth.write_chart_dng(
        synth.SyntheticChart(raw, ch.names, ch.boxes, ch.lab_ref, bad_neutral, "A"),
        tmp_path / "bad.dng",
    )
    lin = develop_chart(dng, tmp_path / "out.tif")
    de, _ = delta_e_after_exposure(synth.patch_means(lin, ch.boxes), ch.lab_ref)
    assert de.mean() > 5.0


def test_chart_reference_is_sane() -> None:
    ch = synth.make_chart("D65")
    # ColorChecker white under D65 is close to L* 96 and neutral; dark skin is reddish brown
    assert 90 < ch.lab_ref[18, 0] < 98 and np.hypot(*ch.lab_ref[18, 1:]) < 3
    assert ch.lab_ref[0, 1] > 5 and ch.lab_ref[0, 2] > 5
    assert ch.raw.data.dtype == np.uint16 and ch.raw.data.max() <= 16383
    np.testing.assert_allclose(ch.raw.calibration.as_shot_neutral, ch.neutral)


def test_illuminant_names() -> None:
    from rawlux.core.errors import InvalidParameter

    bb = synth.illuminant_spd("BB2500")
    assert bb.max() == 1.0 and bb[-1] > bb[0]  # a warm blackbody rises towards the red
    d = synth.illuminant_spd("D6504")
    np.testing.assert_allclose(d, synth.illuminant_spd("D65"), atol=0.02)
    for bad in ("BBx", "Q", "D1", "BB90000"):
        with pytest.raises(InvalidParameter, match="illuminant"):
            synth.illuminant_spd(bad)
