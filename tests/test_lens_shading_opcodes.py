"""Lens shading: DNG GainMap geometry per spec, FixVignetteRadial, Pixel 7 maps, stage."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import ContractError, UnsupportedInput
from rawlux.core.image import CFA, FixVignetteRadial, GainMap, RawImage, UnknownOpcode
from rawlux.isp.lens_shading import (
    LensShadingParams,
    UnsupportedOpcodeWarning,
    apply_opcodes,
    gain_map_values,
    lens_shading,
    vignette_gain,
)


def gm(gains: np.ndarray, **kw) -> GainMap:
    g = np.asarray(gains, np.float32)
    if g.ndim == 2:
        g = g[..., None]
    return GainMap(opcode_id=9, gains=g, **kw)


@pytest.fixture(scope="module")
def pixel7(raw_dir):
    from rawlux.io.raw import open_raw

    return open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")


def test_pixel7_gain_maps_brighten_corners(pixel7: RawImage) -> None:
    maps = [op for op in pixel7.opcodes2 if isinstance(op, GainMap)]
    assert len(maps) == 4
    assert {(op.top % 2, op.left % 2) for op in maps} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert all(op.row_pitch == 2 and op.col_pitch == 2 for op in maps)
    g = apply_opcodes(np.ones(pixel7.data.shape, np.float32), pixel7.opcodes2, pixel7.cfa_pattern)
    h, w = g.shape
    assert g.min() >= 1.0 and np.isfinite(g).all()
    # the red map (site 0,0) is the strongly shading one: corners brighter than the centre;
    # the three others are nearly flat (~1.045..1.050) in this downscaled HDR+ file
    red = g[0::2, 0::2]
    sh, sw = red.shape
    centre = red[sh // 2 - 4 : sh // 2 + 4, sw // 2 - 4 : sw // 2 + 4].mean()
    corners = [red[:6, :6].mean(), red[:6, -6:].mean(), red[-6:, :6].mean(), red[-6:, -6:].mean()]
    assert min(corners) > centre + 0.01
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        assert 1.04 < g[dy::2, dx::2].min() and g[dy::2, dx::2].max() < 1.055
    # every site is touched exactly once: the gain plane equals the product of the four maps
    for op in maps:
        rs, cs, vals = gain_map_values(op, h, w)
        np.testing.assert_allclose(g[rs, cs], vals[..., 0], rtol=1e-6)


def test_flat_field_divided_by_map_then_corrected_is_flat(pixel7: RawImage) -> None:
    shape = pixel7.data.shape
    gain = apply_opcodes(np.ones(shape, np.float32), pixel7.opcodes2)
    vignetted = (np.full(shape, 0.4, np.float32) / gain).astype(np.float32)
    assert vignetted.std() > 1e-3  # the map really shades
    corrected = lens_shading(pixel7.with_data(vignetted))
    np.testing.assert_allclose(corrected.data, 0.4, rtol=1e-5)


def test_gain_map_bilinear_interpolation_and_clamping() -> None:
    h, w = 40, 60
    # 2x2 map on [0, 1]: gain(v, h) = 1 + 2 v + 1 h exactly (bilinear of a bilinear function)
    op = gm([[1.0, 2.0], [3.0, 4.0]], bottom=h, right=w, spacing_v=1.0, spacing_h=1.0)
    out = apply_opcodes(np.ones((h, w), np.float32), [op])
    v = (np.arange(h) + 0.5) / h
    u = (np.arange(w) + 0.5) / w
    np.testing.assert_allclose(out, 1 + 2 * v[:, None] + u[None, :], rtol=1e-5)
    # origin/spacing: samples at v = 0.25 and 0.75; outside them the edge value is held
    op2 = gm([[1.0], [3.0]], bottom=h, right=w, origin_v=0.25, spacing_v=0.5)
    out2 = apply_opcodes(np.ones((h, w), np.float32), [op2])[:, 0]
    expect = np.clip(1.0 + 2.0 * (v - 0.25) / 0.5, 1.0, 3.0)
    np.testing.assert_allclose(out2, expect, rtol=1e-5)


def test_gain_map_area_pitch_and_planes_select_pixels() -> None:
    data = np.ones((20, 30, 3), np.float32)
    op = gm(
        np.full((3, 3, 1), 2.0),
        top=3,
        left=4,
        bottom=15,
        right=25,
        row_pitch=3,
        col_pitch=2,
        plane=1,
        planes=2,
    )
    out = apply_opcodes(data, [op])
    touched = np.zeros((20, 30, 3), bool)
    touched[3:15:3, 4:25:2, 1:3] = True
    np.testing.assert_array_equal(out[touched], 2.0)
    np.testing.assert_array_equal(out[~touched], 1.0)
    # map planes fewer than planes: the last map plane serves the rest
    two = np.stack([np.full((2, 2), 2.0), np.full((2, 2), 3.0)], axis=2)
    out3 = apply_opcodes(data, [gm(two, bottom=20, right=30, plane=0, planes=3)])
    np.testing.assert_allclose(out3.reshape(-1, 3).mean(axis=0), [2.0, 3.0, 3.0])
    # an area beyond the image is clipped to it
    big = apply_opcodes(
        np.ones((10, 10), np.float32), [gm([[5.0]], top=8, left=8, bottom=100, right=100)]
    )
    assert big[8:, 8:].min() == 5.0 and big[:8].max() == 1.0


@settings(max_examples=40, deadline=None)
@given(
    top=st.integers(0, 12), left=st.integers(0, 12), hh=st.integers(1, 20), ww=st.integers(1, 20),
    rp=st.integers(1, 4), cp=st.integers(1, 4), nv=st.integers(1, 5), nh=st.integers(1, 5),
    ov=st.floats(-0.5, 0.9), oh=st.floats(-0.5, 0.9), sv=st.floats(0.05, 1.0), sh=st.floats(0.05, 1.0),
    gain=st.floats(0.25, 4.0),
)  # fmt: skip
def test_gain_map_properties(top, left, hh, ww, rp, cp, nv, nh, ov, oh, sv, sh, gain) -> None:
    """Only the selected sites change; a constant map multiplies them by exactly that constant."""
    data = np.random.default_rng(top * 31 + left).random((24, 26), dtype=np.float32) + 0.1
    op = gm(np.full((nv, nh, 1), gain), top=top, left=left, bottom=top + hh, right=left + ww,
            row_pitch=rp, col_pitch=cp, origin_v=ov, origin_h=oh, spacing_v=sv, spacing_h=sh)  # fmt: skip
    out = apply_opcodes(data, [op])
    sel = np.zeros(data.shape, bool)
    sel[top : top + hh : rp, left : left + ww : cp] = True
    np.testing.assert_allclose(out[sel], data[sel] * np.float32(gain), rtol=1e-5)
    np.testing.assert_array_equal(out[~sel], data[~sel])
    ident = apply_opcodes(data, [replace(op, gains=np.ones((nv, nh, 1), np.float32))])
    np.testing.assert_allclose(ident, data, rtol=1e-6)


def test_fix_vignette_radial() -> None:
    k = (0.3, 0.1, 0.0, 0.0, 0.05)
    op = FixVignetteRadial(opcode_id=3, k=k, center=(0.5, 0.5))
    h, w = 41, 61
    g = apply_opcodes(np.ones((h, w), np.float32), [op])
    np.testing.assert_allclose(g, vignette_gain(op, h, w), rtol=1e-5)
    # centre (30.5, 20.5) px: the nearest pixel is ~0.7 px away -> gain ~1
    assert g[20, 30] == pytest.approx(1.0, abs=1e-3)
    # pixel (0, 0) is as far from the centre as the farthest corner (61, 41): r = 1
    assert g[0, 0] == pytest.approx(1 + sum(k), rel=1e-5)
    assert np.all(np.diff(g[20, 31:]) > 0)  # gain grows with radius (x = 30, 31 are equidistant)
    rgb = apply_opcodes(np.ones((h, w, 3), np.float32), [op])
    np.testing.assert_allclose(rgb[..., 2], g, rtol=1e-6)


def test_unknown_and_special_opcodes() -> None:
    data = np.ones((8, 8), np.float32)
    unknown = UnknownOpcode(opcode_id=4, name="FixBadPixelsConstant", payload=b"\0" * 8)
    with pytest.warns(UnsupportedOpcodeWarning, match="FixBadPixelsConstant"):
        out = apply_opcodes(data, [unknown])
    np.testing.assert_array_equal(out, data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_opcodes(data, [replace(unknown, optional=True)])
        preview = gm([[9.0]], bottom=8, right=8, preview_only=True)
        np.testing.assert_array_equal(apply_opcodes(data, [preview]), data)
    with pytest.raises(UnsupportedInput, match="FixBadPixelsConstant"):
        apply_opcodes(data, [unknown], skip_unknown=False)
    with pytest.raises(ContractError, match="float32"):
        apply_opcodes(data.astype(np.float64), [])


def test_stage_disabled_and_pure(pixel7: RawImage) -> None:
    raw = pixel7.with_data(np.full(pixel7.data.shape, 0.5, np.float32))
    before = raw.data.copy()
    out = lens_shading(raw)
    np.testing.assert_array_equal(raw.data, before)  # input untouched
    assert out.data.mean() > 0.5
    assert lens_shading(raw, LensShadingParams(enabled=False)) is raw
    with pytest.raises(ContractError, match="float32"):
        lens_shading(pixel7)
    plain = RawImage(np.ones((4, 4), np.float32), CFA.RGGB, np.zeros((2, 2)), 1.0)
    assert lens_shading(plain) is plain
