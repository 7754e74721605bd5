"""ProfileGainTableMap (DNG 1.6 tag 0xCD2D): parse and validate, apply (fast = reference), on
the real Pixel 7 and iPhone 12 Pro tables and on synthetic DNGs with known tables."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rawlux.color.dcp import (
    DngProfile,
    GainTableMap,
    apply_gain_table_map,
    gain_table_reference,
    parse_gain_table_map,
    pixel_positions,
    serialize_gain_table_map,
)
from rawlux.core.errors import CorruptInput
from rawlux.io.dcp import read_dng_profile


def _map(pv: int = 3, ph: int = 4, pn: int = 17, seed: int = 0) -> GainTableMap:
    rng = np.random.default_rng(seed)
    return GainTableMap(
        gains=rng.uniform(0.3, 3.0, (pv, ph, pn)).astype(np.float32),
        spacing_v=1.0 / max(pv - 1, 1), spacing_h=1.0 / max(ph - 1, 1), origin_v=0.0, origin_h=0.0,
        weights=np.array([0.2, 0.3, 0.1, 0.15, 0.25]),
    )


def test_round_trip_and_every_field_validated() -> None:
    m = _map()
    b = serialize_gain_table_map(m)
    assert len(b) == 64 + 4 * 3 * 4 * 17  # the spec's size formula
    got = parse_gain_table_map(b, "x.dng")
    np.testing.assert_array_equal(got.gains, m.gains)
    np.testing.assert_allclose(got.weights, m.weights, rtol=1e-7)
    assert (got.spacing_v, got.origin_h, got.points) == (m.spacing_v, 0.0, (3, 4, 17))
    big = parse_gain_table_map(serialize_gain_table_map(m, ">"), "x.dng", byteorder=">")
    np.testing.assert_array_equal(big.gains, m.gains)

    def bad(offset: int, fmt: str, value: float, match: str) -> None:
        blob = bytearray(b)
        struct.pack_into("<" + fmt, blob, offset, value)
        with pytest.raises(CorruptInput, match=match):
            parse_gain_table_map(bytes(blob), "x.dng")

    bad(0, "I", 0, "MapPointsV is 0")
    bad(4, "I", 5, "needs")  # PointsH 5: the byte count no longer fits
    bad(8, "d", float("nan"), "MapSpacingV")
    bad(16, "d", -0.5, "MapSpacingH")
    bad(24, "d", float("inf"), "MapOriginV")
    bad(40, "I", 0, "MapPointsN is 0")
    bad(44, "f", float("nan"), "MapInputWeights")
    bad(64, "f", -1.0, "gains must be finite")
    with pytest.raises(CorruptInput, match="under the 64-byte header"):
        parse_gain_table_map(b[:40], "x.dng")
    with pytest.raises(CorruptInput, match="x.dng"):
        parse_gain_table_map(b[:-4], "x.dng")


def test_v2_integer_gains_map_onto_gain_range() -> None:
    head = struct.pack("<2I4dI5f", 1, 1, 0.0, 0.0, 0.0, 0.0, 3, 1, 0, 0, 0, 0)
    ext = struct.pack("<I3f", 0, 2.0, 0.5, 4.5)
    assert len(head + ext) == 80  # the spec's v2 header size
    m = parse_gain_table_map(head + ext + bytes([0, 128, 255]), "x.dng", version=2)
    np.testing.assert_allclose(m.gains.ravel(), [0.5, 0.5 + 4 * 128 / 255, 4.5], rtol=1e-6)
    assert m.gamma == 2.0 and m.version == 2
    with pytest.raises(CorruptInput, match="Gamma"):
        parse_gain_table_map(head + struct.pack("<I3f", 0, 5.0, 0.5, 4.5) + b"\x00" * 3,
                             "x.dng", version=2)


def test_fast_equals_reference() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1.5, (37, 53, 3)).astype(np.float32)
    for m in (_map(), replace(_map(2, 2, 5, 1), gamma=2.2, origin_v=0.2, origin_h=-0.1),
              _map(1, 1, 9, 2)):
        rows, cols = pixel_positions(m, 37, 53)
        fast = apply_gain_table_map(x, m, rows, cols)
        ref = gain_table_reference(x.astype(np.float64), m, rows, cols)
        np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)


def test_known_tables_give_known_gains() -> None:
    # two tables, left gain 1, right gain 3 (constant along the table); pixel centres halfway
    g = np.stack([np.ones(5), np.full(5, 3.0)])[None].astype(np.float32)  # (1, 2, 5)
    m = GainTableMap(g, 1.0, 1.0, 0.0, 0.0, np.array([0, 1.0, 0, 0, 0]))
    x = np.full((4, 5, 3), 0.25, np.float32)
    rows, cols = pixel_positions(m, 4, 5)
    out = apply_gain_table_map(x, m, rows, cols)
    expect = 0.25 * (1 + 2 * cols)  # bilinear in relative position (0.1 .. 0.9)
    np.testing.assert_allclose(out[0, :, 1], expect, rtol=1e-6)
    # a table that depends on brightness: gain = 1 + index / N, input = G
    n = 8
    g2 = (1 + np.arange(n + 1) / n)[None, None].astype(np.float32)  # n + 1 samples, index t*N
    m2 = GainTableMap(g2[:, :, :n], 0.0, 0.0, 0.0, 0.0, np.array([0, 1.0, 0, 0, 0]))
    x2 = np.zeros((1, 4, 3), np.float32)
    x2[0, :, 1] = [0.0, 0.25, 0.5, 0.95]
    out2 = apply_gain_table_map(x2, m2, *pixel_positions(m2, 1, 4))
    np.testing.assert_allclose(out2[0, :3, 1], x2[0, :3, 1] * (1 + x2[0, :3, 1]), rtol=1e-6)
    assert out2[0, 3, 1] == pytest.approx(0.95 * g2[0, 0, n - 1])  # index 7.6: clamped to the last entry


def test_crop_and_resize_find_their_place_in_the_map() -> None:
    m = replace(_map(), frame=(100, 200, 10, 20, 60, 120))
    r_full, c_full = pixel_positions(m, 100, 200)
    assert r_full[0] == pytest.approx(0.5 / 100) and c_full[-1] == pytest.approx(199.5 / 200)
    r, c = pixel_positions(m, 60, 120)  # the default crop
    np.testing.assert_allclose(r, r_full[10:70])
    np.testing.assert_allclose(c, c_full[20:140])
    r2, c2 = pixel_positions(m, 30, 60)  # the crop at half size
    np.testing.assert_allclose(r2, (r_full[10:70:2] + r_full[11:71:2]) / 2)


def test_real_phone_tables(raw_dir: Path) -> None:
    px = read_dng_profile(raw_dir / "pixel7_hdrplus_darkframe.dng").gain_table_map
    assert px.points == (48, 64, 257) and px.version == 1
    assert px.weights.sum() == pytest.approx(1.0, abs=0.01)  # a luminance-like mix
    assert 0.9 < px.gains.min() and px.gains.max() < 1.1  # a dark frame: nearly flat tables
    ip = read_dng_profile(raw_dir / "iphone12pro_proraw_metadata_only.dng").gain_table_map
    assert ip.points == (6, 8, 257)
    assert ip.weights[3] == 0 and ip.weights.sum() == pytest.approx(0.2462, abs=1e-3)
    med = np.median(ip.gains.reshape(-1, 257), axis=0)
    assert med[0] > 2.5 and med[-1] < 0.3 and np.all(np.diff(med) < 1e-3)  # shadows up, highs down
    # applied: a scene ramp 0..4 (after BaselineExposure) is compressed into display range
    x = np.repeat(np.linspace(0, 4.0, 64, dtype=np.float32)[None, :, None], 3, axis=2)
    x = np.repeat(x, 8, axis=0)
    out = apply_gain_table_map(x, ip, *pixel_positions(ip, 8, 64))
    assert out.max() < 1.05 and out[:, 1:].min() > x[:, 1:].min()
    d = np.diff(out[4, :, 1])
    assert np.all(d > -1e-5) and np.all(d[:12] > 0)  # monotone (flat at ~0.98 above scene 1)


def test_synthetic_dng_with_gain_table_map(tmp_path: Path) -> None:
    from rawlux.core.image import ColorSpace, Image
    from rawlux.io.dng_jxl import write_jxl_dng
    from rawlux.io.raw import open_raw
    from rawlux.isp.profile import render_camera

    m = GainTableMap(np.full((2, 2, 4), 0.5, np.float32), 1.0, 1.0, 0.0, 0.0,
                     np.array([0.25, 0.5, 0.25, 0, 0]))
    blob = serialize_gain_table_map(m)
    mosaic = np.full((64, 96), 4000, np.uint16)
    f = write_jxl_dng(tmp_path / "gtm.dng", mosaic, black=0, white=65535, compress=False,
                      extratags=[(52525, 7, len(blob), blob)])
    raw = open_raw(f)
    got = raw.calibration.profile.gain_table_map
    np.testing.assert_array_equal(got.gains, m.gains)
    assert got.frame == (64, 96, 0, 0, 64, 96)
    x = np.full((64, 96, 3), 0.3, np.float32)
    img = Image(x, ColorSpace.REC2020, calibration=raw.calibration, source=str(f))
    with_map = render_camera(img)
    without = render_camera(img, gain_map=False)
    np.testing.assert_allclose(with_map, 0.5 * without, rtol=2e-3)  # gain 0.5 everywhere
    # a profile without tables renders exactly like neutral
    plain = replace(raw.calibration, profile=DngProfile())
    from rawlux.looks.render import render_neutral

    np.testing.assert_allclose(render_camera(replace(img, calibration=plain)), render_neutral(x), atol=1e-6)


def test_v2_supersedes_v1_and_half_floats() -> None:
    from rawlux.color.dcp import profile_from_tags

    head = struct.pack("<2I4dI5f", 1, 1, 0.0, 0.0, 0.0, 0.0, 2, 1, 0, 0, 0, 0)
    v2 = head + struct.pack("<I3f", 2, 1.0, 0.0, 0.0) + np.array([0.5, 2.0], "<f2").tobytes()
    v1 = serialize_gain_table_map(_map())
    prof = profile_from_tags({52525: v1, 52544: v2}.get, "x.dng")
    m = prof.gain_table_map
    assert m.version == 2 and m.points == (1, 1, 2)
    np.testing.assert_array_equal(m.gains.ravel(), [0.5, 2.0])


def test_mutated_gain_table_maps_never_break_a_develop(tmp_path: Path) -> None:
    """Random bytes in a DNG's ProfileGainTableMap: the raw still opens (bad tables are ignored
    with a warning) and develops with the camera look to finite pixels in [0, 1]."""
    import warnings

    from rawlux.develop import develop
    from rawlux.io.dng_jxl import write_jxl_dng
    from rawlux.io.raw import open_raw

    m = _map(2, 3, 5, 4)
    blob = serialize_gain_table_map(m)
    mosaic = np.random.default_rng(0).integers(600, 9000, (32, 48)).astype(np.uint16)
    f = write_jxl_dng(tmp_path / "g.dng", mosaic, black=512, white=16383, compress=False, tile=0,
                      extratags=[(52525, 7, len(blob), blob), (50940, 11, 6, (0, 0, 0.5, 0.7, 1, 1))])
    data = f.read_bytes()
    at = data.find(blob[:16])
    assert at > 0
    rng = np.random.default_rng(5)
    kept = 0
    for _ in range(40):
        b = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            i = at + int(rng.integers(0, 64 + 16))  # header and first gains
            b[i] = int(rng.integers(0, 256))
        g = tmp_path / "gm.dng"
        g.write_bytes(bytes(b))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = open_raw(g)
            out = develop(raw, look="camera", denoise=0.0, sharpen=0.0).data
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        kept += raw.calibration.profile is not None and raw.calibration.profile.gain_table_map is not None
    assert 0 < kept < 40  # some mutants stay valid, some are rejected
