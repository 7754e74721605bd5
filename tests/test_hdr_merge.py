"""Raw exposure-bracket merge on synthetic brackets with known radiance: error in stops, PSNR
against the best single frame, the ghost region scored separately, and the bad-input errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rawlux.core.errors import BurstMismatch, InvalidParameter
from rawlux.hdr.merge import BracketParams, merge_brackets
from rawlux.isp.black_level import black_level
from rawlux.synth.bracket import make_bracket

RANGE = 0.9 * 4.0  # the -2 EV frame clips at ~0.95 * 4 reference units: the bracket's range


def _radiance(merged) -> np.ndarray:
    return merged.data * np.float32(2.0 ** merged.metadata.extra["bracket"]["scale_ev"])


def _stops(est: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.abs(np.log2(np.maximum(est[mask], 1e-6) / truth[mask]))


def _psnr_log(est: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """PSNR of log2 radiance over ``mask`` (peak = the bracket's range in stops): fair to both
    the shadows and the highlights of a high-range scene."""
    d = np.log2(np.maximum(est[mask], 1e-4)) - np.log2(truth[mask])
    return float(10 * np.log10(12.0 ** 2 / np.mean(d * d)))


@pytest.fixture(scope="module")
def still():
    return make_bracket()


def _valid(br, margin: int = 16) -> np.ndarray:
    m = np.zeros(br.radiance.shape, bool)
    m[margin:-margin, margin:-margin] = True
    return m & (br.radiance > 0.01) & (br.radiance < RANGE)


def test_static_bracket_recovers_radiance(still) -> None:
    merged = merge_brackets(still.frames, BracketParams(align=False))
    est = _radiance(merged)
    valid = _valid(still)
    err = _stops(est, still.radiance, valid)
    assert np.median(err) < 0.05 and np.percentile(err, 95) < 0.25
    assert merged.baseline_exposure == pytest.approx(merged.metadata.extra["bracket"]["scale_ev"])
    assert float(merged.data.max()) <= 1.5  # scaled into the normal raw range
    ref = black_level(still.frames[still.reference]).data
    best = max(_psnr_log(np.maximum(black_level(f).data, 1e-4) * np.float32(2.0 ** -e), still.radiance, valid)
               for f, e in zip(still.frames, still.ev))
    ours = _psnr_log(est, still.radiance, valid)
    assert ours > best + 6.0, (ours, best)  # far better than any single exposure
    hi = valid & (still.radiance > 1.2)  # highlights the reference clips
    assert np.median(_stops(est, still.radiance, hi)) < 0.05
    assert np.median(_stops(np.maximum(ref, 1e-6), still.radiance, hi)) > 0.3


def test_handheld_bracket_with_a_moving_object() -> None:
    br = make_bracket(shift=1.5, ghost=True)
    valid = _valid(br) & ~br.ghost_mask
    merged = merge_brackets(br.frames)
    est = _radiance(merged)
    assert np.median(_stops(est, br.radiance, valid)) < 0.06
    ghost = br.ghost_mask & _valid(br, 16)
    g = _stops(est, br.radiance, ghost)
    assert np.median(g) < 0.15  # the moving disc comes from the reference: no ghost
    naive = _radiance(merge_brackets(br.frames, BracketParams(ghost=100.0)))
    assert np.median(_stops(naive, br.radiance, ghost)) > 2 * np.median(g)


def test_bad_brackets() -> None:
    br = make_bracket(size=(64, 96))
    f = br.frames
    with pytest.raises(InvalidParameter, match="at least two frames"):
        merge_brackets(f[:1])
    same = replace(f[2], metadata=replace(f[2].metadata, exposure_time=f[0].metadata.exposure_time))
    with pytest.raises(InvalidParameter, match="same exposure"):
        merge_brackets([f[0], same])
    small = replace(f[1], data=np.ascontiguousarray(f[1].data[:48]))
    with pytest.raises(BurstMismatch, match="frame size"):
        merge_brackets([f[0], small])
    other = replace(f[1], metadata=replace(f[1].metadata, model="other camera"))
    with pytest.raises(BurstMismatch, match="camera"):
        merge_brackets([f[0], other])
    from rawlux.core.image import CFA

    rolled = replace(f[1], cfa=CFA.GRBG, cfa_pattern=CFA.GRBG.pattern)
    with pytest.raises(BurstMismatch, match="CFA"):
        merge_brackets([f[0], rolled])
    no_time = replace(f[1], metadata=replace(f[1].metadata, exposure_time=None))
    with pytest.raises(InvalidParameter, match="no exposure time"):
        merge_brackets([f[0], no_time])


def test_hdr_cli_raw_bracket(tmp_path) -> None:
    import subprocess
    import sys

    from rawlux.io.dng import write_dng
    from rawlux.io.raw import open_raw

    br = make_bracket(size=(128, 192))
    paths = []
    for i, f in enumerate(br.frames):
        p = tmp_path / f"b{i}.dng"
        write_dng(f, p)
        paths.append(str(p))
    run = lambda *a: subprocess.run([sys.executable, "-m", "rawlux_launcher", "hdr", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    r = run(*paths, "-o", str(tmp_path / "m.dng"))
    assert r.returncode == 0, r.stderr
    m = open_raw(tmp_path / "m.dng")
    assert m.baseline_exposure == pytest.approx(2.0, abs=0.1)  # the scale of the merged range
    assert m.metadata.exposure_time == pytest.approx(1 / 60)  # the reference's
    r = run(*paths, "-o", str(tmp_path / "m.jpg"), "--hdr")
    assert r.returncode == 0, r.stderr
    from rawlux.io.gainmap import read_jpeg_gainmap

    assert read_jpeg_gainmap((tmp_path / "m.jpg").read_bytes()) is not None
    r = run(paths[0], paths[0], "-o", str(tmp_path / "same.jpg"))
    assert r.returncode != 0 and "same exposure" in r.stderr


def test_hdrplus_short_burst_plus_long_frame() -> None:
    """HDR+ with bracketing: three short frames (-2 EV) merged as a burst, then with the long
    frame as a bracket. The highlights only the short frames hold come out less noisy than from
    one short frame, and the radiance is right."""
    from rawlux.hdr.merge import exposure_groups, merge_exposures

    br = make_bracket(size=(192, 256), ev=(-2.0, -2.0, -2.0, 0.0), noise=(2e-3, 2e-5))
    assert exposure_groups(br.frames) == [[0, 1, 2], [3]]
    p = BracketParams(align=False)
    many = _radiance(merge_exposures(br.frames, p))
    one = _radiance(merge_exposures([br.frames[0], br.frames[3]], p))
    m = np.zeros(br.radiance.shape, bool)
    m[16:-16, 16:-16] = True
    hi = m & (br.radiance > 1.2) & (br.radiance < RANGE)  # only the short frames see these
    assert hi.sum() > 500
    err_many = np.sqrt(np.mean((many[hi] - br.radiance[hi]) ** 2))
    err_one = np.sqrt(np.mean((one[hi] - br.radiance[hi]) ** 2))
    assert err_many < 0.8 * err_one, (err_many, err_one)
    assert np.median(_stops(many, br.radiance, hi)) < 0.05
    with pytest.raises(InvalidParameter, match="same exposure"):
        merge_exposures(br.frames[:3], p)
