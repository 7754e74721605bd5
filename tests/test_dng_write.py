"""write_dng: round trips through open_raw and LibRaw, quantisation, atomic writes, tag helpers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
import rawpy
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import InvalidParameter, OutputError
from rawlux.core.image import (
    CFA,
    GPS,
    ColorCalibration,
    Crop,
    GainMap,
    Metadata,
    NoiseProfile,
    RawImage,
    WarpRectilinear,
)
from rawlux.io.dng import _frac, serialize_opcode_list, write_dng
from rawlux.io.raw import open_raw

META_FIELDS = (
    "make", "model", "lens", "f_number", "iso", "focal_length", "focal_length_35mm",
    "datetime_original", "orientation", "artist", "copyright",
)  # fmt: skip


def assert_same_fields(x: object, y: object, name: str) -> None:
    """Dataclasses (a camera profile and its tables) compared field by field; arrays and floats
    to float32 precision (a BaselineExposureOffset rational: 1e-4)."""
    if dataclasses.is_dataclass(x) and dataclasses.is_dataclass(y):
        for f in dataclasses.fields(x):
            assert_same_fields(getattr(x, f.name), getattr(y, f.name), f"{name}.{f.name}")
    elif isinstance(x, (np.ndarray, float)) or isinstance(y, (np.ndarray, float)):
        assert x is not None and y is not None, name
        np.testing.assert_allclose(np.asarray(y, np.float64), np.asarray(x, np.float64),
                                   rtol=1e-6, atol=1e-4, err_msg=name)
    else:
        assert x == y, name


def assert_same_raw(a: RawImage, b: RawImage, *, data: bool = True) -> None:
    assert a.cfa is b.cfa
    if data:
        assert a.data.dtype == b.data.dtype and np.array_equal(a.data, b.data)
    np.testing.assert_allclose(b.black, a.black, rtol=0, atol=1e-6)
    assert b.white == a.white
    for f in dataclasses.fields(ColorCalibration):
        if f.name == "source":
            continue
        x, y = getattr(a.calibration, f.name), getattr(b.calibration, f.name)
        if f.name == "profile":  # DNG camera profile tables and gain table map
            assert_same_fields(x, y, f.name)
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, f.name
            np.testing.assert_allclose(y, x, rtol=1e-7, atol=1e-9, err_msg=f.name)
        else:
            assert x == y, f.name
    assert b.baseline_exposure == pytest.approx(a.baseline_exposure, abs=1e-8)
    if a.noise_profile is None:
        assert b.noise_profile is None
    else:
        np.testing.assert_array_equal(b.noise_profile.pairs, a.noise_profile.pairs)
    for n in (1, 2, 3):
        assert serialize_opcode_list(getattr(b, f"opcodes{n}")) == serialize_opcode_list(
            getattr(a, f"opcodes{n}")
        )
    assert b.crop == a.crop
    for f in META_FIELDS:
        assert getattr(b.metadata, f) == getattr(a.metadata, f), f
    if a.metadata.exposure_time:
        assert b.metadata.exposure_time == pytest.approx(a.metadata.exposure_time, rel=1e-6)


@pytest.mark.parametrize(
    "name",
    [
        "pixel7_hdrplus_darkframe.dng",
        "canon_550d_magiclantern_colorchart.dng",
        "nikon_d1.nef",
        "kodak_dc50.kdc",
    ],
)
def test_bayer_round_trip(raw_dir, tmp_path, name):
    src = open_raw(raw_dir / name)
    out = tmp_path / "out.dng"
    write_dng(src, out)
    back = open_raw(out)
    assert_same_raw(src, back)
    assert [p.name for p in tmp_path.iterdir()] == ["out.dng"]  # no temp files left


def test_linear_round_trip(raw_dir, tmp_path):
    src = open_raw(raw_dir / "canon_eos_6d.dng")
    out = tmp_path / "lin.dng"
    write_dng(src, out)
    back = open_raw(out)
    assert back.cfa is CFA.LINEAR and back.data.shape == src.data.shape
    assert_same_raw(src, back)
    with tifffile.TiffFile(out) as tf:
        assert tf.pages[0].photometric == 34892 and tf.pages[0].samplesperpixel == 3
    with rawpy.imread(str(out)) as rp:
        rgb = rp.postprocess(no_auto_bright=True, use_camera_wb=True)
    assert rgb.shape == (816, 1224, 3) and 5 < rgb.mean() < 250


def test_libraw_renders_written_dng_like_the_original(raw_dir, tmp_path):
    """Same pixels + same tags -> LibRaw must render the written DNG like the source DNG."""
    path = raw_dir / "canon_550d_magiclantern_colorchart.dng"
    out = tmp_path / "c.dng"
    write_dng(open_raw(path), out)
    kw = dict(use_camera_wb=True, no_auto_bright=True, output_bps=8, user_flip=0)
    with rawpy.imread(str(path)) as rp:
        ref = rp.postprocess(**kw).astype(np.float32)
    with rawpy.imread(str(out)) as rp:
        assert rp.raw_pattern.tolist() == [[0, 1], [3, 2]]
        assert rp.white_level == 15000 and list(rp.black_level_per_channel) == [2056] * 4
        got = rp.postprocess(**kw).astype(np.float32)
    assert got.shape == ref.shape
    assert np.abs(got - ref).mean() < 1.0


def test_written_tags_read_by_tifffile(raw_dir, tmp_path):
    src = open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")
    out = tmp_path / "p.dng"
    write_dng(src, out)
    with tifffile.TiffFile(out) as tf:
        t = {x.code: x.value for x in tf.pages[0].tags.values()}
        exif = tf.pages[0].tags["ExifTag"].value
    assert bytes(t[50706]) == b"\x01\x04\x00\x00"
    assert tuple(t[33421]) == (2, 2) and bytes(t[33422]) == b"\x00\x01\x01\x02"
    assert t[50717] == 16368 and tuple(t[50713]) == (2, 2)
    assert t[274] == 8 and t[271] == "Google" and t[272] == "Pixel 7"
    assert exif["ISOSpeedRatings"] == 744 and exif["DateTimeOriginal"] == "2024:07:04 21:45:43"
    assert exif["FNumber"][0] / exif["FNumber"][1] == pytest.approx(1.9)


def _float_raw(h=32, w=48, seed=0) -> RawImage:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.05, 1.1, (h, w)).astype(np.float32)
    return RawImage(
        data=x,
        cfa=CFA.GRBG,
        black=np.zeros((2, 2)),
        white=1.0,
        calibration=ColorCalibration(
            color_matrix1=np.array([[0.9, -0.3, -0.1], [-0.4, 1.3, 0.1], [-0.05, 0.2, 0.6]]),
            color_matrix2=np.array([[0.7, -0.2, -0.05], [-0.4, 1.2, 0.15], [-0.1, 0.2, 0.55]]),
            forward_matrix1=np.array([[0.6, 0.3, 0.05], [0.25, 0.8, -0.05], [0.0, -0.1, 0.9]]),
            illuminant1=17,
            illuminant2=21,
            as_shot_neutral=np.array([0.5, 1.0, 0.6]),
        ),
        noise_profile=NoiseProfile(np.array([[1e-4, 1e-6]])),
        baseline_exposure=-0.5,
        opcodes2=(
            GainMap(opcode_id=9, bottom=h, right=w, gains=np.full((2, 2, 1), 1.25, np.float32)),
        ),
        opcodes3=(WarpRectilinear(opcode_id=1, coefficients=np.array([[1.0, 0.01, 0, 0, 0, 0]])),),
        crop=Crop(1, 2, 28, 40),
        metadata=Metadata(
            make="Rawlux",
            model="Sim 1",
            exposure_time=1 / 50,
            f_number=2.8,
            iso=400,
            focal_length=5.5,
            datetime_original=dt.datetime(2024, 1, 2, 3, 4, 5),
            gps=GPS(48.8566, 2.3522, 35.0),
            orientation=6,
        ),
    )


def test_float_raw_is_quantised_into_given_levels(tmp_path):
    raw = _float_raw()
    out = tmp_path / "f.dng"
    write_dng(raw, out, black=64, white=1023)
    back = open_raw(out)
    assert back.data.dtype == np.uint16 and back.white == 1023.0
    np.testing.assert_array_equal(back.black, np.full((2, 2), 64.0))
    expected = np.clip(64 + raw.data.astype(np.float64) * (1023 - 64), 0, 1023)
    assert np.abs(back.data - expected).max() <= 0.5 + 1e-3
    # normalising again recovers the float data to half a DN (except where clipped at white)
    renorm = (back.data - 64.0) / (1023 - 64)
    ok = raw.data <= 1.0
    assert np.abs(renorm - raw.data)[ok].max() <= 0.5 / 959 + 1e-7
    assert back.data[raw.data > 1.0].max() == 1023
    assert back.metadata.gps.latitude == pytest.approx(48.8566, abs=1e-5)
    assert back.metadata.gps.longitude == pytest.approx(2.3522, abs=1e-5)
    assert back.metadata.gps.altitude == pytest.approx(35.0)
    assert_same_raw(
        dataclasses.replace(raw, black=np.full((2, 2), 64.0), white=1023.0), back, data=False
    )
    with rawpy.imread(str(out)) as rp:
        assert rp.postprocess().shape[:2] in ((32, 48), (48, 32))


def test_float_raw_default_levels(tmp_path):
    raw = _float_raw(seed=3)
    write_dng(raw, tmp_path / "d.dng")
    back = open_raw(tmp_path / "d.dng")
    assert back.white == 65535.0 and not back.black.any()
    assert np.abs(back.data / 65535.0 - np.clip(raw.data, 0, 1)).max() <= 0.5 / 65535 + 1e-7


def test_tiny_dng_libraw_refuses_still_opens(tmp_path):
    """LibRaw rejects images under 22 px a side; open_raw decodes those with tifffile."""
    raw = _float_raw(h=8, w=12, seed=5)
    raw = dataclasses.replace(raw, crop=Crop(0, 0, 8, 12), opcodes2=())
    write_dng(raw, tmp_path / "t.dng", black=10, white=4000)
    with pytest.raises(rawpy.LibRawFileUnsupportedError):
        rawpy.imread(str(tmp_path / "t.dng"))
    back = open_raw(tmp_path / "t.dng")
    assert back.cfa is CFA.GRBG and back.white == 4000.0
    assert (
        np.abs(back.data - np.clip(10 + raw.data.astype(np.float64) * 3990, 0, 4000)).max()
        <= 0.5 + 1e-3
    )


def test_white_balanced_float_raw_is_written_camera_native(tmp_path):
    raw = _float_raw(seed=2)
    gains = np.array([2.0, 1.0, 1.5], np.float32)
    balanced = raw.with_data(raw.data * gains[np.tile(raw.cfa_pattern, (16, 24))], wb_gains=gains)
    write_dng(raw, tmp_path / "a.dng", white=4095)
    write_dng(balanced, tmp_path / "b.dng", white=4095)
    a, b = open_raw(tmp_path / "a.dng"), open_raw(tmp_path / "b.dng")
    assert np.abs(a.data.astype(int) - b.data.astype(int)).max() <= 1


def test_float_linear_raw(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.uniform(0, 1, (30, 40, 3)).astype(np.float32)
    raw = RawImage(data=data, cfa=CFA.LINEAR, black=np.zeros(3), white=1.0,
                   calibration=ColorCalibration(color_matrix1=np.eye(3) * 0.8 + 0.05, illuminant1=21))  # fmt: skip
    write_dng(raw, tmp_path / "l.dng", white=4095)
    back = open_raw(tmp_path / "l.dng")
    assert back.cfa is CFA.LINEAR and back.white == 4095.0
    assert (
        np.abs(back.data - data.astype(np.float64) * 4095).max() <= 0.5 + 1e-3
    )  # float32 rounding


def test_bad_levels_and_paths(tmp_path):
    raw = _float_raw()
    with pytest.raises(InvalidParameter, match="black"):
        write_dng(raw, tmp_path / "a.dng", black=2000, white=1000)
    with pytest.raises(OutputError, match="extension"):
        write_dng(raw, tmp_path / "a.tif")
    with pytest.raises(OutputError, match="directory"):
        write_dng(raw, tmp_path / "nope" / "a.dng")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path, monkeypatch):
    raw = _float_raw()
    out = tmp_path / "keep.dng"
    out.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="No space left"):
        write_dng(raw, out)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.dng"]


def test_non_finite_matrix_is_refused(tmp_path):
    raw = _float_raw()
    bad = dataclasses.replace(raw.calibration, color_matrix2=np.full((3, 3), np.nan))
    with pytest.raises(InvalidParameter, match="non-finite"):
        write_dng(dataclasses.replace(raw, calibration=bad), tmp_path / "x.dng")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=300, deadline=None)
@given(st.floats(-1000, 1000, allow_nan=False), st.booleans())
def test_rational_encoding_is_close(x, signed):
    if not signed:
        x = abs(x)
    n, d = _frac(x, signed)
    assert 0 < d < (2**31 if signed else 2**32) and abs(n) < (2**31 if signed else 2**32)
    assert abs(n / d - x) <= 1e-9 * max(1.0, abs(x)) + 1e-9


matrix = st.lists(st.floats(-3, 3, allow_nan=False), min_size=9, max_size=9).map(
    lambda v: np.array(v).reshape(3, 3)
)


@settings(max_examples=25, deadline=None)
@given(matrix, st.floats(-4, 4), st.lists(st.floats(0.05, 4), min_size=3, max_size=3),
       st.lists(st.floats(1e-7, 1e-2), min_size=2, max_size=2))  # fmt: skip
def test_tags_round_trip_property(tmp_path_factory, m, be, neutral, noise):
    if abs(np.linalg.det(m)) < 1e-3:
        m = m + np.eye(3) * 2
    raw = dataclasses.replace(
        _float_raw(),
        calibration=ColorCalibration(
            color_matrix1=m, illuminant1=21, as_shot_neutral=np.array(neutral)
        ),
        baseline_exposure=be,
        noise_profile=NoiseProfile(np.array([noise])),
    )
    out = Path(tmp_path_factory.mktemp("prop")) / "p.dng"
    write_dng(raw, out)
    back = open_raw(out)
    np.testing.assert_allclose(back.calibration.color_matrix1, m, atol=1e-8)
    np.testing.assert_allclose(back.calibration.as_shot_neutral, neutral, rtol=1e-8)
    assert back.baseline_exposure == pytest.approx(be, abs=1e-8)
    np.testing.assert_array_equal(back.noise_profile.pairs, [noise])
