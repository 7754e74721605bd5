"""Burst merge (rawlux.merge_burst): PSNR gain, no ghosts, noise model, checks, passthrough."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

import rawlux
from rawlux.app.night import open_burst
from rawlux.burst.merge import MergeParams, merge_burst
from rawlux.burst.noise import estimate_noise, noise_model
from rawlux.core.errors import BurstMismatch, CorruptInput, InvalidParameter
from rawlux.core.pipeline import RAW_NORM, Contract
from rawlux.develop import DevelopOptions, build_pipeline, develop
from rawlux.core.image import CFA, Metadata
from rawlux.isp.black_level import black_level
from rawlux.synth.burst import (
    NOISE_LEVELS,
    interior,
    make_burst,
    normalised,
    plain_average,
    psnr,
    write_burst,
)

GAIN_DB = 5.0  # stated margin: 8 frames, "high" noise, 256x256 (benchmark reaches +8 dB on larger images)


@pytest.fixture(scope="module")
def burst():
    return make_burst("astronaut", 8, noise="high", size=(256, 256), seed=0)


@pytest.fixture(scope="module")
def merged(burst):
    return merge_burst(burst.frames)


def test_merged_psnr_beats_reference_frame(burst, merged):
    m = interior(burst.clean.shape)
    ref = psnr(normalised(burst.frames[0].data), burst.clean, m)
    assert psnr(merged.data, burst.clean, m) >= ref + GAIN_DB


def test_moving_object_is_not_ghosted(burst, merged):
    m = interior(burst.clean.shape)
    ref = normalised(burst.frames[0].data)
    for mask in (burst.object_mask & m, burst.object_path & m):
        assert mask.sum() > 500
        # no worse than the reference frame alone, where a plain average ghosts badly
        assert psnr(merged.data, burst.clean, mask) >= psnr(ref, burst.clean, mask)
        assert psnr(plain_average(burst), burst.clean, mask) < psnr(ref, burst.clean, mask) - 5


def test_result_keeps_reference_geometry_and_metadata(burst, merged):
    ref = burst.frames[0]
    assert merged.data.dtype == np.float32 and merged.data.shape == ref.data.shape
    assert merged.cfa is ref.cfa and np.array_equal(merged.cfa_pattern, ref.cfa_pattern)
    assert merged.white == 1.0 and np.all(merged.black == 0)
    assert merged.metadata.make == ref.metadata.make and merged.metadata.model == ref.metadata.model
    np.testing.assert_array_equal(merged.calibration.color_matrix1, ref.calibration.color_matrix1)
    assert merged.metadata.extra["burst_frames"] == 8


def test_noise_profile_is_updated_to_merged_noise(burst, merged):
    m = interior(burst.clean.shape)
    before = np.asarray(burst.frames[0].noise_profile.pairs)
    after = np.asarray(merged.noise_profile.pairs)
    ratio = float(after[0, 0] / before[0, 0])
    assert 1 / 8 <= ratio < 0.5
    # the declared variance is the right order for the actual residual (flat-ish areas dominate)
    resid = float(np.mean((merged.data - burst.clean)[m] ** 2))
    declared = float(np.mean(after[0, 0] * np.clip(burst.clean[m], 0, None) + after[0, 1]))
    assert declared / 4 < resid < declared * 4


@pytest.mark.parametrize("level", ["mild", "high", "extreme"])
def test_noise_estimate_matches_truth(level):
    b = make_burst("astronaut", 1, noise=level, size=(384, 384), seed=1)
    est = estimate_noise(black_level(b.frames[0]))
    a, c = NOISE_LEVELS[level]
    for x in (0.05, 0.2):
        true, got = a * x + c, est.pairs[0, 0] * x + est.pairs[0, 1]
        assert abs(got / true - 1) < 0.35, (level, x, got, true)


def test_merge_without_noise_profile_estimates_it(burst):
    frames = [replace(f, noise_profile=None) for f in burst.frames]
    assert noise_model(black_level(frames[0])) is not None
    out = merge_burst(frames)
    m = interior(burst.clean.shape)
    ref = psnr(normalised(burst.frames[0].data), burst.clean, m)
    assert psnr(out.data, burst.clean, m) >= ref + GAIN_DB - 1


def test_paths_and_objects_give_the_same_result(tmp_path, burst, merged):
    paths = write_burst(replace(burst, frames=burst.frames[:3]), tmp_path)
    a = merge_burst(open_burst(paths))
    b = rawlux.merge_burst(burst.frames[:3])
    np.testing.assert_allclose(a.data, b.data, atol=1e-6)


def test_reference_index_selects_geometry(burst):
    out = merge_burst(burst.frames[:4], reference=2, params=MergeParams(spatial_strength=0))
    # nearest to frame 2's own (noisy) content, far from frame 0's
    f0, f2 = normalised(burst.frames[0].data), normalised(burst.frames[2].data)
    assert np.mean((out.data - f2) ** 2) < np.mean((out.data - f0) ** 2) / 2
    assert out.metadata.extra["burst_reference"] == 2


def test_options_change_the_output(burst):
    frames = burst.frames[:3]
    base = merge_burst(frames).data
    for change in ({"spatial_strength": 0.0}, {"temporal_strength": 1.0}, {"subpixel": False},
                   {"tile": 8}, {"tile_rejection": 0.0}, {"global_snap": 0.0}):
        assert not np.allclose(merge_burst(frames, params=MergeParams(**change)).data, base), change


def test_single_frame_passes_through_with_warning(burst):
    with pytest.warns(UserWarning, match="single frame"):
        out = merge_burst([burst.frames[0]])
    np.testing.assert_array_equal(out.data, black_level(burst.frames[0]).data)


def test_progress_is_reported(burst):
    calls = []
    merge_burst(burst.frames[:3], progress=lambda d, t, m: calls.append((d, t)))
    assert calls[-1] == (4, 4) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_mismatched_size_names_the_frame(burst):
    bad = burst.frames[1].with_data(np.ascontiguousarray(burst.frames[1].data[:, :-2]), source="small.dng")
    with pytest.raises(BurstMismatch, match=r"small\.dng: frame size 254x256 differs"):
        merge_burst([burst.frames[0], bad])


def test_mismatched_cfa_names_the_frame(burst):
    bad = replace(burst.frames[1], cfa=CFA.BGGR, cfa_pattern=None, source="bggr.dng")
    with pytest.raises(BurstMismatch, match=r"bggr\.dng: CFA BGGR differs"):
        merge_burst([burst.frames[0], bad])


def test_mismatched_camera_names_the_frame(burst):
    bad = replace(burst.frames[1], metadata=Metadata(make="Other", model="Cam"), source="other.dng")
    with pytest.raises(BurstMismatch, match=r"other\.dng: camera 'Other Cam' differs"):
        merge_burst([burst.frames[0], bad])


def test_unreadable_frame_names_the_file(tmp_path, burst):
    junk = tmp_path / "junk.dng"
    junk.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    good = write_burst(replace(burst, frames=burst.frames[:1]), tmp_path)
    with pytest.raises(CorruptInput) as err:
        merge_burst(open_burst([good[0], junk]))
    assert "junk.dng" in str(err.value) and "\n" not in str(err.value)


def test_bad_arguments(burst):
    with pytest.raises(InvalidParameter):
        merge_burst([])
    with pytest.raises(InvalidParameter):
        merge_burst(burst.frames[:2], reference=5)
    with pytest.raises(InvalidParameter):
        merge_burst(burst.frames[:2], params=MergeParams(tile=12))


def test_merged_burst_enters_the_isp_as_float(burst, merged):
    """The merged raw is float32 normalised (negatives kept, nothing quantised) and the develop
    plan takes it after black_level; paths are not frames (opening files is app's job)."""
    assert merged.data.dtype == np.float32 and float(merged.data.min()) < 0
    assert "dn_levels" not in merged.metadata.extra
    assert Contract.of(merged) == RAW_NORM
    plan = build_pipeline(DevelopOptions()).plan(Contract.of(merged))
    assert plan.names()[0] == "lens_shading"
    img = develop(merged)
    assert img.data.shape[:2] == merged.data.shape and np.isfinite(img.data).all()
    with pytest.raises(InvalidParameter, match="burst frame 0 must be a RawImage, got str"):
        merge_burst(["a.dng", "b.dng"])


def test_no_warning_for_a_real_burst(burst):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        merge_burst(burst.frames[:2])


def test_merge_kernel_matches_numpy_reference():
    from rawlux.burst.merge import _merge_band, merge_reference

    rng = np.random.default_rng(3)
    shape = (3, 4, 16, 9)

    def spec():
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)

    f0 = spec()
    fz = np.stack([spec(), spec(), spec()])
    fz[0, 0] = f0[0]  # identical tiles: nothing rejected
    fz[0, 1] *= 8  # gross mismatch: rejected
    fz[2] = f0 + 0.1 * fz[2]  # a close frame: merged
    sig2 = rng.uniform(0.5, 2, (3, 4)).astype(np.float32)
    want_acc = np.zeros(shape, np.complex128)
    want_sa = np.zeros(shape)
    want_sb = np.zeros(shape)
    for z in fz:  # the band kernel merges its frames one after the other
        contrib, a = merge_reference(f0, z.copy(), sig2, 4.0, 2.0)
        want_acc += contrib
        want_sa += a
        want_sb += (1 - a) ** 2
    acc = np.zeros(shape, np.complex64)
    sa = np.zeros(shape, np.float32)
    sb = np.zeros(shape, np.float32)
    _merge_band(f0, fz, sig2, np.float32(4.0), np.float32(2.0), acc, sa, sb)
    np.testing.assert_allclose(acc, want_acc, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sa, want_sa, atol=1e-5)
    np.testing.assert_allclose(sb, want_sb, atol=1e-5)
    _, a0 = merge_reference(f0, fz[0].copy(), sig2, 4.0, 2.0)
    assert np.all(a0[0] == 0)
    assert a0[1].mean() > 0.9


def test_subpixel_resampling_wins_at_low_noise():
    """At low noise the residual of whole-plane-pixel alignment exceeds the noise and the robust
    merge rejects the frames; resampling each frame at its sub-pixel motion keeps them."""
    b = make_burst("chelsea", 8, noise="mild", size=(256, 256), seed=2)
    m = interior(b.clean.shape)
    ref = psnr(normalised(b.frames[0].data), b.clean, m)
    sub = psnr(merge_burst(b.frames).data, b.clean, m)
    whole = psnr(merge_burst(b.frames, params=MergeParams(subpixel=False)).data, b.clean, m)
    assert sub >= ref + 5.0
    assert sub >= whole + 0.5


def test_groups_of_frames_give_the_same_merge(burst, monkeypatch):
    """Frames are merged in groups (GROUP at a time, band by band): the group size only changes
    memory and speed, not the result."""
    import rawlux.burst.merge as merge_mod

    whole = merge_burst(burst.frames[:6]).data
    monkeypatch.setattr(merge_mod, "GROUP", 2)
    monkeypatch.setattr(merge_mod, "BAND_BYTES", 1)  # one tile row per band
    grouped = merge_burst(burst.frames[:6]).data
    np.testing.assert_allclose(grouped, whole, atol=1e-6)
    assert not np.allclose(whole, normalised(burst.frames[0].data), atol=1e-3)


def test_odd_sized_frames_keep_the_reference_edge(burst):
    frames = [f.with_data(np.ascontiguousarray(f.data[:-1, :-3])) for f in burst.frames[:4]]
    out = merge_burst(frames)
    ref = black_level(frames[0]).data
    assert out.data.shape == ref.shape == (255, 253)
    np.testing.assert_array_equal(out.data[-1], ref[-1])  # the odd last row is the reference's
    np.testing.assert_array_equal(out.data[:, -1], ref[:, -1])
    m = interior(burst.clean.shape)[:-1, :-3]
    assert psnr(out.data, burst.clean[:-1, :-3], m) > psnr(ref, burst.clean[:-1, :-3], m) + 3
