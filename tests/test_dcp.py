"""DNG camera profiles: parsing (.dcp and DNG), spec maths vs the fast kernels, illuminant
blending, colour accuracy of a fitted hue/sat map, and the ``camera`` look on real DNGs."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rawlux.color.dcp import (
    DngProfile,
    HueSatMap,
    apply_hue_sat_map,
    apply_hue_sat_map_reference,
    blend_hue_sat_map,
    fit_hue_sat_map,
    hsv_to_rgb_reference,
    prophoto_to_xyz,
    rgb_to_hsv_reference,
    rgb_tone,
    rgb_tone_reference,
    tone_lut,
)
from rawlux.core.errors import CorruptInput, UnsupportedInput
from rawlux.core.image import ColorCalibration
from rawlux.io.dcp import build_dcp, read_dcp, read_dng_profile


def _random_table(h: int, s: int, v: int, seed: int = 0) -> HueSatMap:
    rng = np.random.default_rng(seed)
    t = np.empty((v, h, s, 3), np.float32)
    t[..., 0] = rng.uniform(-20, 20, (v, h, s))
    t[..., 1] = rng.uniform(0.7, 1.4, (v, h, s))
    t[..., 2] = rng.uniform(0.8, 1.2, (v, h, s))
    return HueSatMap(t)


def _colours(n: int = 20000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1.2, (n, 3)).astype(np.float32)
    x[:50] = x[:50, :1]  # greys
    x[50:60] = 0.0
    return x


# ------------------------------------------------------------------------------ HSV and tables


def test_hsv_round_trip_is_exact() -> None:
    x = _colours(5000).astype(np.float64)
    h, s, v = rgb_to_hsv_reference(x)
    assert h.min() >= 0 and h.max() < 6 and s.max() <= 1
    np.testing.assert_allclose(hsv_to_rgb_reference(h, s, v), x, atol=1e-12)


def test_identity_table_changes_nothing() -> None:
    t = np.zeros((1, 12, 5, 3), np.float32)
    t[..., 1:] = 1.0
    x = _colours()
    np.testing.assert_allclose(apply_hue_sat_map(x, HueSatMap(t)), x, atol=2e-6)
    np.testing.assert_allclose(apply_hue_sat_map_reference(x, HueSatMap(t)), x, atol=1e-12)


@pytest.mark.parametrize("dims,enc", [((90, 30, 1), 0), ((36, 8, 16), 0), ((36, 8, 16), 1), ((6, 2, 2), 1)])
def test_fast_hue_sat_map_equals_reference(dims: tuple[int, int, int], enc: int) -> None:
    table = _random_table(*dims, seed=sum(dims))
    x = _colours()
    fast = apply_hue_sat_map(x, table, enc)
    ref = apply_hue_sat_map_reference(x, table, enc)
    np.testing.assert_allclose(fast, ref, rtol=2e-5, atol=2e-6)
    assert np.abs(fast - x).max() > 0.05  # the table really acts


def test_hue_shift_and_scales_act_as_the_spec_says() -> None:
    t = np.zeros((1, 6, 2, 3), np.float32)
    t[..., 0], t[..., 1], t[..., 2] = 60.0, 0.5, 2.0  # +60 degrees = +1 hexcone sector
    x = np.array([[0.8, 0.2, 0.2]], np.float32)  # red, s = 0.75, v = 0.8
    out = apply_hue_sat_map_reference(x, HueSatMap(t))
    h, s, v = rgb_to_hsv_reference(out)
    assert h[0] == pytest.approx(1.0) and s[0] == pytest.approx(0.375) and v[0] == pytest.approx(1.6)


def test_tone_curve_fast_equals_reference_and_keeps_hue() -> None:
    curve = np.array([[0, 0], [0.25, 0.18], [0.5, 0.55], [0.75, 0.85], [1, 1]], np.float64)
    lut = tone_lut(curve)
    assert lut[0] == 0 and lut[-1] == pytest.approx(1.0) and np.all(np.diff(lut) >= 0)
    x = np.clip(_colours(), 0, 1)
    fast = rgb_tone(x, lut)
    np.testing.assert_allclose(fast, rgb_tone_reference(x, lut), atol=2e-6)
    h0, _, _ = rgb_to_hsv_reference(x.astype(np.float64))
    h1, _, _ = rgb_to_hsv_reference(fast.astype(np.float64))
    d = np.abs((h1 - h0 + 3) % 6 - 3)
    assert np.percentile(d, 99) < 1e-4  # RGB tone keeps the hexcone hue


def test_hue_sat_maps_blend_by_white_balance_like_the_matrices() -> None:
    a, b = _random_table(8, 4, 1, 1), _random_table(8, 4, 1, 2)
    p = DngProfile(hue_sat_map1=a, hue_sat_map2=b, illuminant1=17, illuminant2=21)
    t_a, t_d65 = 2856.0, 6504.0
    assert blend_hue_sat_map(p, 2000.0, t_a, t_d65) is a  # clamped beyond illuminant 1
    assert blend_hue_sat_map(p, 9000.0, t_a, t_d65) is b
    mid = 2.0 / (1 / t_a + 1 / t_d65)  # halfway in inverse CCT
    m = blend_hue_sat_map(p, mid, t_a, t_d65)
    np.testing.assert_allclose(m.data, 0.5 * (a.data + b.data), atol=1e-5)


# ------------------------------------------------------------------------------ parsing


def _profile_and_cal() -> tuple[DngProfile, ColorCalibration]:
    cal = ColorCalibration(
        color_matrix1=np.array([[0.9, -0.3, -0.1], [-0.4, 1.2, 0.2], [-0.05, 0.15, 0.6]]),
        color_matrix2=np.array([[0.7, -0.2, -0.05], [-0.45, 1.25, 0.2], [-0.1, 0.2, 0.55]]),
        forward_matrix1=np.array([[0.6, 0.25, 0.1], [0.25, 0.8, -0.05], [0.02, -0.1, 0.9]]),
        forward_matrix2=np.array([[0.62, 0.22, 0.12], [0.27, 0.78, -0.05], [0.03, -0.12, 0.92]]),
        illuminant1=17, illuminant2=21, source="dcp",
    )
    prof = DngProfile(
        name="Test Profile", hue_sat_map1=_random_table(90, 30, 1, 3),
        hue_sat_map2=_random_table(90, 30, 1, 4), look_table=_random_table(36, 8, 16, 5),
        look_encoding=1, tone_curve=np.array([[0, 0], [0.5, 0.6], [1, 1]]),
        baseline_exposure_offset=0.35, default_black_render=1, illuminant1=17, illuminant2=21,
    )
    return prof, cal


def test_dcp_file_round_trip(tmp_path: Path) -> None:
    prof, cal = _profile_and_cal()
    f = tmp_path / "x.dcp"
    f.write_bytes(build_dcp(prof, cal, "Test Camera"))
    assert f.read_bytes()[:4] == b"IIRC"
    got, gcal = read_dcp(f)
    assert got.name == "Test Profile" and got.source == str(f)
    for a, b in ((got.hue_sat_map1, prof.hue_sat_map1), (got.hue_sat_map2, prof.hue_sat_map2),
                 (got.look_table, prof.look_table)):
        np.testing.assert_array_equal(a.data, b.data)  # float32 stored exactly
    assert got.look_encoding == 1 and got.default_black_render == 1
    assert got.baseline_exposure_offset == pytest.approx(0.35)
    np.testing.assert_allclose(got.tone_curve, prof.tone_curve)
    np.testing.assert_allclose(gcal.color_matrix2, cal.color_matrix2, atol=1e-4)
    np.testing.assert_allclose(gcal.forward_matrix1, cal.forward_matrix1, atol=1e-4)
    assert (gcal.illuminant1, gcal.illuminant2) == (17, 21)


def test_dcp_errors_name_file_and_reason(tmp_path: Path) -> None:
    prof, cal = _profile_and_cal()
    good = build_dcp(prof, cal)
    f = tmp_path / "bad.dcp"
    f.write_bytes(good[:400])  # truncated: tag data beyond the end
    with pytest.raises(CorruptInput, match="beyond the end"):
        read_dcp(f)
    f.write_bytes(b"II*\x00" + b"\x00" * 4 + b"xx")
    with pytest.raises(CorruptInput) as e:
        read_dcp(f)
    assert "bad.dcp" in str(e.value)
    bad = replace(prof, hue_sat_map2=None, hue_sat_map1=HueSatMap(np.zeros((1, 4, 2, 3), np.float32)))
    blob = bytearray(build_dcp(bad, cal))
    # corrupt the dims (4, 2, 1) -> (4, 3, 1): data no longer matches
    i = blob.find(np.array([4, 2, 1], "<u4").tobytes())
    blob[i + 4] = 3
    f.write_bytes(bytes(blob))
    with pytest.raises(CorruptInput, match="ProfileHueSatMapData1 has 24 values"):
        read_dcp(f)


def test_missing_profile_file(tmp_path: Path) -> None:
    from rawlux.core.errors import MissingInput

    with pytest.raises(MissingInput, match="nope.dcp: camera profile not found"):
        read_dcp(tmp_path / "nope.dcp")


def test_triple_illuminant_profile_is_refused(tmp_path: Path) -> None:
    from rawlux.color.dcp import profile_from_tags

    with pytest.raises(UnsupportedInput, match="triple-illuminant"):
        profile_from_tags({52537: [1.0] * 9}.get, "x.dng")


# ------------------------------------------------------------------------------ colour accuracy


def _chart_data():  # type: ignore[no-untyped-def]
    """Camera RGB (white balanced under D50) and true XYZ (D50) of the ColorChecker and of
    seeded random smooth reflectances, through the Nikon 5100 sensitivities of colour-science."""
    import colour

    shape = colour.SpectralShape(400, 700, 10)
    cam = colour.MSDS_CAMERA_SENSITIVITIES["Nikon 5100 (NPL)"].copy().align(shape)
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(shape)
    ill = colour.SDS_ILLUMINANTS["D50"].copy().align(shape)
    cc = colour.SDS_COLOURCHECKERS["BabelColor Average"]
    refl = [sd.copy().align(shape).values for sd in cc.values()]
    rng = np.random.default_rng(7)
    wl = shape.wavelengths
    for _ in range(300):  # smooth random spectra: sums of a few Gaussian bumps
        r = np.full(wl.size, rng.uniform(0.03, 0.2))
        for _ in range(rng.integers(1, 4)):
            r += rng.uniform(0.1, 0.7) * np.exp(-0.5 * ((wl - rng.uniform(400, 700)) / rng.uniform(20, 80)) ** 2)
        refl.append(np.clip(r, 0.01, 0.98))
    refl = np.array(refl)
    e = ill.values
    cam_rgb = (refl * e) @ cam.values
    xyz = (refl * e) @ cmfs.values
    white_cam = e @ cam.values
    white_xyz = e @ cmfs.values
    return cam_rgb / white_cam, xyz / white_xyz[1], white_xyz / white_xyz[1]


def test_fitted_hue_sat_map_beats_matrix_only_on_charts() -> None:
    import colour

    cam, xyz, wxyz = _chart_data()
    train = np.r_[0:174]  # ColorChecker + 150 random spectra
    test = np.r_[174:324]
    m = np.linalg.lstsq(cam[train], xyz[train], rcond=None)[0].T  # best 3x3 (ForwardMatrix role)
    to_pp = np.linalg.inv(prophoto_to_xyz())
    src = (cam @ m.T) @ to_pp.T
    dst = xyz @ to_pp.T
    table = fit_hue_sat_map(src[train], dst[train])
    out = apply_hue_sat_map(src.astype(np.float32), table).astype(np.float64)
    white = colour.XYZ_to_xy(wxyz)

    def de(rgb: np.ndarray, idx: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lab = colour.XYZ_to_Lab(rgb[idx] @ prophoto_to_xyz().T, white)
            ref = colour.XYZ_to_Lab(xyz[idx], white)
            return float(np.mean(colour.delta_E(lab, ref, method="CIE 2000")))

    cc = np.arange(24)
    before_cc, after_cc = de(src, cc), de(out, cc)
    before_t, after_t = de(src, test), de(out, test)
    print(f"ColorChecker mean dE00 matrix {before_cc:.2f} -> +HueSatMap {after_cc:.2f}; "
          f"held-out spectra {before_t:.2f} -> {after_t:.2f}")
    assert after_cc < 0.8 * before_cc
    assert after_t < before_t  # also on colours the fit never saw


# ------------------------------------------------------------------------------ real DNGs


def test_real_dngs_carry_their_profiles(raw_dir: Path) -> None:
    px = read_dng_profile(raw_dir / "pixel7_hdrplus_darkframe.dng")
    assert px is not None and px.name == "Google Embedded Camera Profile"
    assert px.hue_sat_map1.dims == (90, 30, 1) and px.hue_sat_map2 is not None
    assert px.look_table.dims == (36, 8, 16) and px.tone_curve.shape == (257, 2)
    assert px.default_black_render == 1
    six = read_dng_profile(raw_dir / "canon_eos_6d.dng")
    assert six.name == "Adobe Standard" and six.tone_curve is None and six.look_table is not None
    bm = read_dng_profile(raw_dir / "blackmagic_pocket4k_cinemadng.dng")  # a name, no tables
    assert bm.name.startswith("Blackmagic Pocket Cinema Camera 4K") and not bm.has_tables
    assert read_dng_profile(raw_dir / "canon_550d_magiclantern_colorchart.dng") is None
    # spec: entries at zero saturation keep the value (value scale 1)
    assert np.allclose(six.look_table.data[:, :, 0, 2], 1.0)


def test_camera_look_differs_from_neutral_and_neutral_ignores_tables(raw_dir: Path) -> None:
    from rawlux.core.image import ColorSpace, Image
    from rawlux.isp.look import LookParams, look
    from rawlux.io.raw import open_raw

    raw = open_raw(raw_dir / "canon_eos_6d.dng")
    assert raw.calibration.profile is not None
    rng = np.random.default_rng(3)
    data = rng.uniform(0, 0.9, (40, 50, 3)).astype(np.float32)
    img = Image(data, ColorSpace.REC2020, calibration=raw.calibration, source=raw.source)
    neutral = look(img, LookParams(look="neutral")).data
    bare = look(replace(img, calibration=replace(raw.calibration, profile=None)), LookParams(look="neutral")).data
    np.testing.assert_array_equal(neutral, bare)  # neutral: matrices only
    cam = look(img, LookParams(look="camera")).data
    assert 0 <= cam.min() and cam.max() <= 1
    assert np.abs(cam - neutral).mean() > 0.005
    half = look(img, LookParams(look="camera", strength=0.5)).data
    np.testing.assert_allclose(half, 0.5 * (cam + neutral), atol=1e-5)


def test_dng_with_broken_profile_tables_still_opens(tmp_path: Path) -> None:
    from rawlux.io.dng import InputWarning
    from rawlux.io.dng_jxl import write_jxl_dng
    from rawlux.io.raw import open_raw

    good = [(50936, 2, 0, "Embedded"), (50937, 4, 3, (4, 2, 1)),
            (50938, 11, 24, tuple([0.0, 1.0, 1.0] * 8))]
    f = write_jxl_dng(tmp_path / "ok.dng", np.full((32, 48), 900, np.uint16), compress=False,
                      extratags=good)
    prof = open_raw(f).calibration.profile
    assert prof.name == "Embedded" and prof.hue_sat_map1.dims == (4, 2, 1)
    bad = good[:2] + [(50938, 11, 21, tuple([0.0] * 21))]  # 21 values for a 4x2x1 table
    f2 = write_jxl_dng(tmp_path / "bad.dng", np.full((32, 48), 900, np.uint16), compress=False,
                       extratags=bad)
    with pytest.warns(InputWarning, match="profile tables ignored: ProfileHueSatMapData1 has 21"):
        raw = open_raw(f2)
    assert raw.calibration.profile is None


def test_encoding_does_not_apply_to_2_5d_tables() -> None:
    t = _random_table(12, 5, 1, 9)
    x = _colours(3000)
    np.testing.assert_array_equal(apply_hue_sat_map(x, t, 1), apply_hue_sat_map(x, t, 0))
    t3 = _random_table(12, 5, 4, 9)
    assert np.abs(apply_hue_sat_map(x, t3, 1) - apply_hue_sat_map(x, t3, 0)).max() > 1e-3


def test_hsv_matches_colour_science() -> None:
    import colour

    x = _colours(4000).astype(np.float64)
    x = x[x.max(axis=1) > 0]
    h, s, v = rgb_to_hsv_reference(x)
    ref = colour.RGB_to_HSV(x)  # hexcone HSV, hue in [0, 1)
    grey = s == 0
    np.testing.assert_allclose(h[~grey] / 6.0, ref[~grey, 0] % 1.0, atol=1e-9)
    np.testing.assert_allclose(s, ref[:, 1], atol=1e-12)
    np.testing.assert_allclose(v, ref[:, 2], atol=1e-12)


def test_mutated_dcp_files_fail_cleanly(tmp_path: Path) -> None:
    """Byte flips and truncations of a valid .dcp: a profile or a one-line typed error."""
    from rawlux.core.errors import RawluxError

    prof, cal = _profile_and_cal()
    blob = build_dcp(replace(prof, hue_sat_map1=_random_table(8, 4, 1, 1),
                             hue_sat_map2=None, look_table=_random_table(6, 3, 2, 2)), cal)
    rng = np.random.default_rng(11)
    f = tmp_path / "m.dcp"
    outcomes = {"ok": 0, "error": 0}
    for k in range(150):
        b = bytearray(blob)
        if k % 5 == 0:
            b = b[: int(rng.integers(8, len(b)))]
        else:
            for _ in range(int(rng.integers(1, 6))):
                i = int(rng.integers(0, min(len(b), 8 + 12 * 20)))  # header and IFD entries
                b[i] = int(rng.integers(0, 256))
        f.write_bytes(bytes(b))
        try:
            read_dcp(f)
            outcomes["ok"] += 1
        except RawluxError as e:
            assert "\n" not in str(e) and str(e).startswith(str(f)), str(e)
            outcomes["error"] += 1
    print(outcomes)
    assert outcomes["error"] > 20 and outcomes["ok"] > 5


def test_dcp_written_from_a_real_dng_and_described(tmp_path: Path, raw_dir: Path) -> None:
    from rawlux.io.dcp import describe_dcp, write_dcp
    from rawlux.io.raw import open_raw

    six = open_raw(raw_dir / "canon_eos_6d.dng")
    f = write_dcp(tmp_path / "6d.dcp", six.calibration.profile, six.calibration, "Canon EOS 6D")
    rows = dict(describe_dcp(f))
    assert rows["camera profile"] == "Adobe Standard"
    assert rows["copyright"] == "Copyright 2012 Adobe Systems, Inc."
    assert rows["ColorMatrix1"].endswith("[Standard light A (17)]")
    assert rows["profile tables"].startswith("HueSatMap 90x30x1 x2, LookTable 36x8x16")
    got, _ = read_dcp(f)
    np.testing.assert_array_equal(got.look_table.data, six.calibration.profile.look_table.data)


def test_profile_option_is_a_recipe_file_reference(tmp_path: Path, raw_dir: Path) -> None:
    from rawlux.app.develop import check_develop
    from rawlux.app.recipe import Recipe, load_recipe, save_recipe
    from rawlux.core.errors import InvalidParameter, MissingInput
    from rawlux.io.dcp import write_dcp
    from rawlux.io.raw import open_raw

    six = open_raw(raw_dir / "canon_eos_6d.dng")
    dcp = write_dcp(tmp_path / "6d.dcp", six.calibration.profile, six.calibration, "Canon EOS 6D")
    rec = Recipe.default().with_options(profile=str(dcp), look="camera")
    ref = rec["profile"].dcp
    assert ref.path == str(dcp.resolve()) and len(ref.sha256) == 64
    back = load_recipe(save_recipe(rec, tmp_path / "r.toml"))
    assert back == rec and back.hash() == rec.hash()
    raw = open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng")
    out = rec.pipeline(raw=raw).stages[0].definition.fn(raw, rec["profile"])
    np.testing.assert_allclose(out.calibration.color_matrix1, six.calibration.color_matrix1, atol=1e-4)
    assert out.data is raw.data  # only the calibration changes
    dcp.write_bytes(dcp.read_bytes() + b"\0\0")  # content changed since the recipe was saved
    with pytest.raises(InvalidParameter, match="content changed"):
        check_develop([tmp_path / "o.jpg"], recipe=back)
    with pytest.raises(MissingInput, match="file not found"):
        Recipe.default().with_options(profile=str(tmp_path / "none.dcp"))
