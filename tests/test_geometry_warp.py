"""Geometry: DNG WarpRectilinear rectifies a known distortion, GainMap on RGB, default crop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import ContractError
from rawlux.core.image import CFA, Crop, GainMap, Image, RawImage, WarpRectilinear
from rawlux.isp.geometry import (
    STAGE,
    GeometryParams,
    geometry,
    warp_rectilinear,
    warp_source_coords,
)


def dng_forward(
    coef: np.ndarray, center: tuple[float, float], h: int, w: int, x: np.ndarray, y: np.ndarray
):
    """DNG WarpRectilinear: corrected (x, y) -> uncorrected source position (independent copy)."""
    kr0, kr1, kr2, kr3, kt0, kt1 = coef
    cx, cy = center[0] * w, center[1] * h
    m = np.sqrt(max(cx, w - cx) ** 2 + max(cy, h - cy) ** 2)
    dx, dy = (x - cx) / m, (y - cy) / m
    r2 = dx * dx + dy * dy
    ratio = kr0 + kr1 * r2 + kr2 * r2**2 + kr3 * r2**3
    tx = 2 * kt0 * dx * dy + kt1 * (r2 + 2 * dx * dx)
    ty = 2 * kt1 * dx * dy + kt0 * (r2 + 2 * dy * dy)
    return cx + (dx * ratio + tx) * m, cy + (dy * ratio + ty) * m


def image(data: np.ndarray, **kw) -> Image:
    from rawlux.core.image import ColorSpace

    return Image(np.ascontiguousarray(data, np.float32), ColorSpace.CAMERA, **kw)


COEFS = np.array(
    [
        [0.97, 0.06, -0.02, 0.005, 0.002, -0.003],
        [0.98, 0.04, -0.01, 0.0, 0.002, -0.003],
        [0.99, 0.02, 0.0, 0.0, 0.002, -0.003],
    ]
)


@pytest.mark.parametrize("planes", [1, 3])
def test_warp_rectifies_a_known_distortion(planes: int) -> None:
    h, w = 150, 200
    center = (0.46, 0.54)
    coef = COEFS[:planes]
    gy, gx = np.mgrid[25 : h - 20 : 25, 25 : w - 20 : 30].astype(np.float64)
    pts_x, pts_y = gx.ravel(), gy.ravel()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    distorted = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        sx, sy = dng_forward(coef[min(c, planes - 1)], center, h, w, pts_x, pts_y)
        for x0, y0 in zip(sx, sy):
            distorted[..., c] += np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 1.6**2)).astype(
                np.float32
            )
    op = WarpRectilinear(opcode_id=1, coefficients=coef, center=center)
    for interp in ("linear", "cubic"):
        out = warp_rectilinear(distorted, op, interp)
        errs = []
        for c in range(3):
            for x0, y0 in zip(pts_x, pts_y):
                ys, xs = slice(int(y0) - 6, int(y0) + 7), slice(int(x0) - 6, int(x0) + 7)
                wgt = np.clip(out[ys, xs, c], 0, None).astype(np.float64)
                cy_ = (wgt * yy[ys, xs]).sum() / wgt.sum()
                cx_ = (wgt * xx[ys, xs]).sum() / wgt.sum()
                errs.append(np.hypot(cx_ - x0, cy_ - y0))
        assert max(errs) < 0.5, (interp, max(errs))
        # and the distortion was real: the unrectified dots are off by more than a pixel
    sx, sy = dng_forward(coef[0], center, h, w, pts_x, pts_y)
    assert np.max(np.hypot(sx - pts_x, sy - pts_y)) > 1.0


def test_source_coords_match_spec_and_identity() -> None:
    h, w = 30, 40
    op = WarpRectilinear(opcode_id=1, coefficients=COEFS[:1], center=(0.3, 0.6))
    mx, my = warp_source_coords(op, h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ex, ey = dng_forward(COEFS[0], (0.3, 0.6), h, w, xx, yy)
    np.testing.assert_allclose(mx, ex, atol=1e-3)
    np.testing.assert_allclose(my, ey, atol=1e-3)
    ident = WarpRectilinear(opcode_id=1, coefficients=np.array([[1.0, 0, 0, 0, 0, 0]]))
    data = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    np.testing.assert_allclose(warp_rectilinear(data, ident, "linear"), data, atol=1e-5)
    with pytest.raises(ContractError, match="coefficients"):
        warp_source_coords(WarpRectilinear(opcode_id=1, coefficients=np.zeros((1, 4))), h, w)


def test_crop_is_exact_and_optional() -> None:
    data = np.arange(30 * 40 * 3, dtype=np.float32).reshape(30, 40, 3)
    img = image(data, crop=Crop(top=3, left=5, height=10, width=20))
    out = geometry(img)
    np.testing.assert_array_equal(out.data, data[3:13, 5:25])
    assert out.crop is None and out.data.flags.c_contiguous
    assert geometry(img, GeometryParams(apply_crop=False)).data.shape == (30, 40, 3)
    part = geometry(image(data, crop=Crop(top=25, left=35, height=10, width=10)))
    np.testing.assert_array_equal(part.data, data[25:, 35:])
    with pytest.raises(ContractError, match="outside"):
        geometry(image(data, crop=Crop(top=40, left=0, height=5, width=5)))


def test_gain_map_in_opcode_list3_applies_to_rgb() -> None:
    data = np.ones((20, 24, 3), np.float32)
    op = GainMap(
        opcode_id=9,
        bottom=20,
        right=24,
        plane=2,
        planes=1,
        gains=np.full((1, 1, 1), 2.0, np.float32),
    )
    out = geometry(image(data, opcodes3=(op,)))
    np.testing.assert_array_equal(out.data[..., 2], 2.0)
    np.testing.assert_array_equal(out.data[..., :2], 1.0)
    assert out.opcodes3 == ()
    same = geometry(image(data, opcodes3=(op,)), GeometryParams(apply_warp=False))
    np.testing.assert_array_equal(same.data, data)


def test_pixel7_develops_through_geometry(raw_dir) -> None:
    from rawlux.io.raw import open_raw
    from rawlux.isp.black_level import black_level
    from rawlux.isp.demosaic import demosaic
    from rawlux.isp.highlights import highlights
    from rawlux.isp.lens_shading import lens_shading
    from rawlux.isp.white_balance import white_balance

    raw = open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")
    warps = [op for op in raw.opcodes3 if isinstance(op, WarpRectilinear)]
    assert len(warps) == 1
    img = demosaic(highlights(white_balance(lens_shading(black_level(raw)))))
    assert img.opcodes3 and img.crop is not None
    out = geometry(img)
    STAGE.gives_for(GeometryParams()).check(out, "test")
    assert out.data.shape == (raw.crop.height, raw.crop.width, 3)
    unwarped = geometry(img, GeometryParams(apply_warp=False))
    assert np.abs(out.data - unwarped.data).max() > 1e-4
    # the file's warp shrinks by ~1%: a corner samples from a couple of pixels inward
    mx, my = warp_source_coords(warps[0], raw.height, raw.width)
    shift = np.hypot(mx[0, 0] - 0.0, my[0, 0] - 0.0)
    assert 0.5 < shift < 6.0
    # a smooth synthetic scene survives the real warp almost unchanged in the centre
    yy, xx = np.mgrid[0 : raw.height, 0 : raw.width].astype(np.float32)
    ramp = np.stack([xx / raw.width, yy / raw.height, np.full_like(xx, 0.5)], axis=2)
    warped = geometry(image(ramp, opcodes3=raw.opcodes3), GeometryParams(apply_crop=False)).data
    c = (raw.height // 2, raw.width // 2)
    np.testing.assert_allclose(warped[c], ramp[c], atol=2e-3)
    assert np.isfinite(warped).all()


def test_geometry_rejects_raw() -> None:
    raw = RawImage(np.ones((4, 4), np.float32), CFA.RGGB, np.zeros((2, 2)), 1.0)
    with pytest.raises(ContractError, match="Image"):
        geometry(raw)  # type: ignore[arg-type]


def test_fused_warp_and_crop_equal_warp_then_crop() -> None:
    rng = np.random.default_rng(4)
    data = rng.random((60, 80, 3), dtype=np.float32)
    op = WarpRectilinear(opcode_id=1, coefficients=COEFS, center=(0.45, 0.55))
    crop = Crop(top=5, left=7, height=40, width=61)
    fused = geometry(image(data, opcodes3=(op,), crop=crop))
    full = warp_rectilinear(data, op, "cubic")
    np.testing.assert_allclose(fused.data, full[5:45, 7:68], rtol=0, atol=1e-6)
    assert fused.crop is None and fused.opcodes3 == ()
    # a GainMap after the warp: no fusion, same result as the two steps
    gmap = GainMap(
        opcode_id=9, bottom=60, right=80, planes=3, gains=np.full((1, 1, 1), 1.5, np.float32)
    )
    two = geometry(image(data, opcodes3=(op, gmap), crop=crop))
    np.testing.assert_allclose(two.data, 1.5 * full[5:45, 7:68], rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    kr=st.tuples(
        st.floats(0.8, 1.2), st.floats(-0.1, 0.1), st.floats(-0.05, 0.05), st.floats(-0.02, 0.02)
    ),
    cx=st.integers(5, 35),
    cy=st.integers(5, 25),
)
def test_radial_warp_properties(kr, cx, cy) -> None:
    """Radial-only warps fix the centre and move every pixel along its ray from the centre."""
    h, w = 30, 40
    coef = np.array([[*kr, 0.0, 0.0]])
    op = WarpRectilinear(opcode_id=1, coefficients=coef, center=(cx / w, cy / h))
    mx, my = warp_source_coords(op, h, w)
    assert np.isfinite(mx).all() and np.isfinite(my).all()
    assert mx[cy, cx] == pytest.approx(cx, abs=1e-4) and my[cy, cx] == pytest.approx(cy, abs=1e-4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cross = (xx - cx) * (my - cy) - (yy - cy) * (mx - cx)  # collinear with the centre
    assert np.abs(cross).max() < 1e-2
