"""Execution fast paths of the develop pipeline are equal to the plain paths they replace:
per-site affine stage fusion, the sparse highlight reconstruction, the direct DNG pixel read,
the colour-transform matrix kernel and the allocator scope of develop()."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.image import CFA, ColorCalibration, GainMap, Metadata, RawImage
from rawlux.isp import highlights as hl
from rawlux.isp.black_level import STAGE as BL
from rawlux.isp.black_level import BlackLevelParams
from rawlux.isp.color_transform import apply_matrix, apply_matrix_reference
from rawlux.core.fused import SiteAffine, apply_site_affine, apply_site_affine_reference
from rawlux.isp.lens_shading import STAGE as LS
from rawlux.isp.lens_shading import LensShadingParams
from rawlux.core.pipeline import Pipeline, Stage
from rawlux.isp.white_balance import STAGE as WB
from rawlux.isp.white_balance import WhiteBalanceParams

CM = np.array([[0.9, -0.3, -0.1], [-0.4, 1.2, 0.2], [-0.05, 0.15, 0.6]])


def bayer_raw(h: int = 64, w: int = 96, seed: int = 0, **kw) -> RawImage:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 4096, (h, w)).astype(np.uint16)
    data[10:20, 30:50] = 4095  # a clipped patch
    args = dict(
        cfa=CFA.GRBG,
        black=np.array([[60.0, 64.0], [66.0, 62.0]]),
        white=4095.0,
        calibration=ColorCalibration(
            color_matrix1=CM, illuminant1=21, as_shot_neutral=np.array([0.5, 1.0, 0.7])
        ),
    )
    args.update(kw)
    return RawImage(data, **args)


def front(wb: WhiteBalanceParams = WhiteBalanceParams(), ls: LensShadingParams = LensShadingParams(), *, fuse: bool) -> Pipeline:
    return Pipeline(
        [Stage(BL, BlackLevelParams()), Stage(LS, ls), Stage(WB, wb)], fuse=fuse
    )


def assert_same_raw(a: RawImage, b: RawImage) -> None:
    assert a.data.dtype == b.data.dtype == np.float32 and a.data.shape == b.data.shape
    np.testing.assert_array_equal(a.data, b.data)  # same float32 steps: bit-identical
    np.testing.assert_array_equal(a.wb_gains, b.wb_gains)
    np.testing.assert_array_equal(a.black, b.black)
    assert a.white == b.white and a.cfa is b.cfa


# ------------------------------------------------------------------------------ affine fusion


@pytest.mark.parametrize(
    "wb", [WhiteBalanceParams(), WhiteBalanceParams(mode="kelvin", kelvin=3200.0, tint=12.0)]
)
def test_fused_front_equals_unfused_bayer(wb):
    raw = bayer_raw()
    fused, plain = front(wb, fuse=True), front(wb, fuse=False)
    assert fused._affine_run(0, raw)[0] == 3  # the three stages really are fused
    assert_same_raw(fused.run(raw), plain.run(raw))


def test_fused_front_equals_unfused_linear():
    rng = np.random.default_rng(1)
    raw = RawImage(
        rng.integers(0, 60000, (20, 30, 3)).astype(np.uint16), CFA.LINEAR, np.array([100.0, 110.0, 90.0]),
        65535.0, calibration=ColorCalibration(color_matrix1=CM, illuminant1=21,
                                              as_shot_neutral=np.array([0.6, 1.0, 0.8])),
    )  # fmt: skip
    assert front(fuse=True)._affine_run(0, raw)[0] == 3
    assert_same_raw(front(fuse=True).run(raw), front(fuse=False).run(raw))


def test_fusion_stops_where_a_stage_needs_the_pixels():
    raw = bayer_raw()
    # auto white balance estimates from pixels: only black level + lens shading fuse
    auto = WhiteBalanceParams(mode="auto")
    assert front(auto, fuse=True)._affine_run(0, raw)[0] == 2
    assert_same_raw(front(auto, fuse=True).run(raw), front(auto, fuse=False).run(raw))
    # a gain map (OpcodeList2) must run as itself: fusion stops before lens shading
    gm = GainMap(opcode_id=9, bottom=64, right=96, gains=np.array([[[1.3], [1.0]], [[1.0], [1.1]]], np.float32))
    shaded = replace(raw, opcodes2=(gm,))
    assert front(fuse=True)._affine_run(0, shaded)[0] == 1
    assert_same_raw(front(fuse=True).run(shaded), front(fuse=False).run(shaded))
    # no as-shot white: the stage warns and falls back to auto, fused or not
    bare = replace(raw, calibration=ColorCalibration(color_matrix1=CM, illuminant1=21))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_raw(front(fuse=True).run(bare), front(fuse=False).run(bare))


def test_fused_front_raises_like_unfused():
    from rawlux.core.errors import CorruptInput

    bad = bayer_raw(black=np.full((2, 2), 5000.0), white=4095.0)
    for fuse in (True, False):
        with pytest.raises(CorruptInput, match="not below white"):
            front(fuse=fuse).run(bad)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 9), w=st.integers(1, 11), ph=st.sampled_from([1, 2, 3]), pw=st.sampled_from([1, 2, 3]),
    steps=st.integers(0, 3), u16=st.booleans(), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_site_affine_kernel_matches_reference(h, w, ph, pw, steps, u16, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 65535, (h, w)).astype(np.uint16) if u16 else rng.normal(0, 2, (h, w)).astype(np.float32)
    aff = SiteAffine(rng.uniform(-1, 1, (steps, ph, pw)), rng.uniform(-2, 2, (steps, ph, pw)))
    got = apply_site_affine(data, aff)
    assert got.dtype == np.float32 and got.shape == data.shape
    np.testing.assert_array_equal(got, apply_site_affine_reference(data, aff))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), ta=st.sampled_from([(1, 1), (2, 2), (2, 3)]), tb=st.sampled_from([(1, 1), (2, 2), (3, 2)]))
def test_site_affine_composition(seed, ta, tb):
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 1, (12, 12)).astype(np.float32)
    a = SiteAffine.step(rng.uniform(-1, 1, ta), rng.uniform(0.5, 2, ta))
    b = SiteAffine.step(rng.uniform(-1, 1, tb), rng.uniform(0.5, 2, tb))
    two_step = apply_site_affine(apply_site_affine(data, a), b)
    np.testing.assert_array_equal(apply_site_affine(data, a.then(b)), two_step)
    ident = SiteAffine.identity(np.ones((1, 1)))
    np.testing.assert_array_equal(apply_site_affine(data, ident.then(a)), apply_site_affine(data, a))


# ------------------------------------------------------------------------ sparse highlights


def clipped_mosaic(h: int, w: int, seed: int, blobs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gains = np.array([1.9, 1.0, 1.4], np.float32)
    pat = CFA.RGGB.pattern().astype(np.int64)
    yy, xx = np.mgrid[0:h, 0:w]
    scene = 0.2 + 0.3 * rng.random((h, w))
    for _ in range(blobs):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 12)
        scene += 2.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
    tile = gains[pat]
    data = np.minimum(scene, 1.0) * np.tile(tile, (h // 2 + 1, w // 2 + 1))[:h, :w]
    thr = gains * np.float32(0.97)
    return np.ascontiguousarray(data, np.float32), pat, thr


@pytest.mark.parametrize("h,w,seed,blobs", [(64, 96, 0, 3), (120, 80, 1, 12), (66, 70, 2, 1), (65, 71, 3, 4),
                                             (480, 360, 5, 1)])
def test_sparse_highlights_equal_dense(h, w, seed, blobs):
    data, pat, thr = clipped_mosaic(h, w, seed, blobs)
    dense = hl.reconstruct_mosaic_dense(data, pat, thr, 8)
    sparse = hl.reconstruct_mosaic(data, pat, thr, 8)
    assert (dense != data).any()  # something was reconstructed
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-6)
    own = data.copy()
    assert hl.reconstruct_mosaic(own, pat, thr, 8, in_place=True) is own or h % 2 or w % 2
    np.testing.assert_array_equal(hl.reconstruct_mosaic(data.copy(), pat, thr, 8, in_place=True), sparse)


def test_sparse_highlights_no_clip_is_a_no_op():
    data, pat, thr = clipped_mosaic(64, 64, 4, 0)
    assert hl.reconstruct_mosaic(data, pat, thr, 8) is data
    raw = RawImage(data, CFA.RGGB, np.zeros((2, 2)), 1.0, wb_gains=np.array([1.9, 1.0, 1.4], np.float32))
    assert hl.highlights(raw, hl.HighlightParams()) is raw


# ---------------------------------------------------------------------------- DNG direct read


def test_direct_dng_read_equals_libraw(tmp_path: Path):
    from rawlux.io import raw as rawio
    from rawlux.io.dng import write_dng

    src = bayer_raw(48, 64, seed=5, metadata=Metadata(make="Acme", model="Test 1", iso=200.0, exposure_time=0.01))
    path = tmp_path / "direct.dng"
    write_dng(src, path)
    fast = rawio._open_dng(path)
    lib = rawio._open_dng(path, direct_read=False)
    np.testing.assert_array_equal(fast.data, src.data)
    np.testing.assert_array_equal(fast.data, lib.data)
    assert fast.data.flags.c_contiguous and fast.data.base is None
    assert fast.cfa is lib.cfa is CFA.GRBG
    np.testing.assert_array_equal(fast.black, lib.black)
    assert fast.white == lib.white and fast.crop == lib.crop
    assert fast.metadata.make == lib.metadata.make and fast.metadata.iso == lib.metadata.iso
    assert fast.metadata.exposure_time == lib.metadata.exposure_time


def test_direct_read_declines_packed_and_compressed(raw_dir: Path):
    from rawlux.io import dng
    from rawlux.io import raw as rawio

    seen = 0
    for name in ("canon_550d_magiclantern_colorchart.dng", "blackmagic_pocket4k_cinemadng.dng"):
        p = raw_dir / name
        if not p.exists():
            continue
        tags, info = dng.read_dng_tags(p)
        assert rawio._dng_pixels_direct(p, tags, info, (0, 0)) is None  # 14-bit packed / LJ92
        seen += 1
    if not seen:
        pytest.skip("no packed or compressed DNG in the shared data")


def test_direct_read_truncated_file_is_corrupt_input(tmp_path: Path):
    from rawlux.core.errors import CorruptInput
    from rawlux.io import dng
    from rawlux.io.raw import open_raw
    from rawlux.io.dng import write_dng

    path = tmp_path / "t.dng"
    write_dng(bayer_raw(48, 64), path)
    tags, info = dng.read_dng_tags(path)
    assert info["contiguous"] is not None  # this file takes the direct path
    off, n = info["contiguous"]
    cut = tmp_path / "cut.dng"
    cut.write_bytes(path.read_bytes()[: off + n // 2])
    with pytest.raises(CorruptInput, match="truncated"):
        open_raw(cut)


# --------------------------------------------------------------------------- matrix + memory


def test_apply_matrix_matches_reference_and_maps_nan_to_zero():
    rng = np.random.default_rng(2)
    d = rng.normal(0.5, 0.5, (33, 17, 3)).astype(np.float32)
    d[3, 4, 1] = np.nan
    m = np.array([[1.6, -0.4, -0.2], [-0.2, 1.3, -0.1], [0.0, -0.3, 1.3]])
    got = apply_matrix(d, m)
    ref = apply_matrix_reference(d, m)
    np.testing.assert_allclose(got, ref, atol=2e-6)
    assert got.min() >= 0 and np.isfinite(got).all() and (got[3, 4] == 0).all()
    np.testing.assert_allclose(apply_matrix(d, m, clamp_negative=False)[:3], (d[:3].astype(np.float64) @ m.T), atol=2e-6)


def test_reuse_freed_memory_is_reentrant_and_develop_unchanged(monkeypatch):
    import importlib

    dev = importlib.import_module("rawlux.develop")

    raw = bayer_raw(64, 96)
    with dev.reuse_freed_memory():
        with dev.reuse_freed_memory():
            a = dev.develop(raw, look="neutral")
    from rawlux.core import memory

    assert memory._reuse_depth == 0
    monkeypatch.setenv("RAWLUX_MALLOC", "0")
    b = dev.develop(raw, look="neutral")
    np.testing.assert_array_equal(a.data, b.data)


# --------------------------------------------------------------------- pointwise tail fusion


def tail_pipeline(*, fuse: bool, crop=None, method: str = "rcd") -> Pipeline:
    from rawlux.isp import geometry as geo
    from rawlux.isp.color_transform import STAGE as CT
    from rawlux.isp.color_transform import ColorTransformParams
    from rawlux.isp.demosaic import STAGE as DM
    from rawlux.isp.demosaic import DemosaicParams

    return Pipeline(
        [Stage(DM, DemosaicParams(method=method)), Stage(geo.STAGE, geo.GeometryParams()),
         Stage(CT, ColorTransformParams(exposure_ev=0.5))],
        fuse=fuse,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["rcd", "bilinear"])
def test_demosaic_tail_fusion_equals_unfused(method):
    from rawlux.core.image import ColorSpace, Crop

    raw = front(fuse=False).run(bayer_raw(64, 96, seed=3))
    for crop in (None, Crop(0, 0, 64, 96)):
        r = replace(raw, crop=crop)
        a, b = tail_pipeline(fuse=True, method=method).run(r), tail_pipeline(fuse=False, method=method).run(r)
        assert a.space is b.space is ColorSpace.REC2020 and a.crop is None and b.crop is None
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)
        assert a.data.min() >= 0


def test_tail_fusion_computes_only_the_default_crop():
    """A real default crop fuses too: RCD computes and writes only the window, equal to
    demosaicing the whole frame and cropping."""
    from rawlux.core.image import Crop
    from rawlux.core.fused import PixelMatrix
    from rawlux.isp.geometry import GeometryParams, geometry_pointwise

    raw = replace(front(fuse=False).run(bayer_raw(300, 96, seed=4)), crop=Crop(2, 4, 258, 88))
    fused = tail_pipeline(fuse=True)
    a, b = fused.run(raw), tail_pipeline(fuse=False).run(raw)
    assert a.data.shape == b.data.shape == (258, 88, 3) and a.crop is None and b.crop is None
    np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)
    probe = fused.stages[0].definition.fn(raw, fused.stages[0].params)
    pm = geometry_pointwise(probe, GeometryParams())
    assert isinstance(pm, PixelMatrix) and pm.window == (2, 4, 258, 88)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 150), st.integers(0, 40), st.integers(1, 150), st.integers(1, 56), st.integers(0, 3))
def test_rcd_window_equals_cropping_the_full_frame(top, left, height, width, seed):
    from rawlux.isp.demosaic import rcd

    rng = np.random.default_rng(seed)
    cfa = rng.uniform(0, 1, (300, 96)).astype(np.float32)
    pat = CFA.GRBG.pattern()
    height, width = min(height, 300 - top), min(width, 96 - left)
    full = rcd(cfa, pat, post=np.diag([1.5, 1.0, 0.7]), clamp=True)
    part = rcd(cfa, pat, post=np.diag([1.5, 1.0, 0.7]), clamp=True, window=(top, left, height, width))
    np.testing.assert_array_equal(part, full[top:top + height, left:left + width])


def test_pixel_matrix_windows_compose():
    from rawlux.core.errors import ContractError
    from rawlux.core.fused import PixelMatrix

    a = PixelMatrix.crop((2, 4, 50, 60)).then(PixelMatrix(np.diag([2.0, 1.0, 1.0])))
    b = a.then(PixelMatrix.crop((1, 1, 10, 20)))
    assert b.window == (3, 5, 10, 20) and b.matrix[0, 0] == 2.0
    with pytest.raises(ContractError, match="outside"):
        a.then(PixelMatrix.crop((45, 0, 10, 10)))


def test_pixel_matrix_composition():
    from rawlux.core.fused import PixelMatrix

    m1, m2 = np.diag([2.0, 1.0, 0.5]), np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 1.0]])
    c = PixelMatrix(m1).then(PixelMatrix(m2, True))
    np.testing.assert_allclose(c.matrix, m2 @ m1) and c.clamp_negative
    assert PixelMatrix(m1, True).then(PixelMatrix(m2)) is None  # clamp, then a matrix: not one map
    assert PixelMatrix(m1, True).then(PixelMatrix.identity(crop=None)).clamp_negative


def test_fused_run_reports_every_stage_once_in_order():
    from rawlux.develop import DevelopOptions, build_pipeline

    pipe = build_pipeline(DevelopOptions(look="neutral"))
    seen: list[str] = []
    pipe.run(bayer_raw(64, 96), on_stage=lambda name, i, n: seen.append(name))
    assert seen == pipe.names()


@pytest.mark.parametrize("quality,sub", [(92, 2), (96, 0)])
def test_opencv_jpeg_path_carries_icc_exif_and_pixels(tmp_path: Path, quality, sub):
    from PIL import Image as PILImage
    from PIL import JpegImagePlugin

    from rawlux.core.image import ColorSpace, Encoding, Image, Referred
    from rawlux.io.icc import profile_bytes
    from rawlux.io.write import quantise, save

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:96, 0:128] / 128.0
    data = np.stack([xx, yy, 0.5 + 0.2 * np.sin(6 * xx)], -1).astype(np.float32)
    data += rng.normal(0, 0.01, data.shape).astype(np.float32)
    img = Image(data, ColorSpace.DISPLAY_P3, Encoding.SRGB, Referred.DISPLAY,
                metadata=Metadata(make="Acme", model="Test 1", iso=400.0, orientation=1))  # fmt: skip
    out = save(img, tmp_path / "x.jpg", quality=quality)
    with PILImage.open(out) as im:
        assert im.format == "JPEG" and im.size == (128, 96)
        assert im.info.get("icc_profile") == profile_bytes(ColorSpace.DISPLAY_P3)
        ex = im.getexif()
        assert ex.get(0x010F) == "Acme" and ex.get(0x0110) == "Test 1"
        assert JpegImagePlugin.get_sampling(im) == sub
        got = np.asarray(im.convert("RGB"), np.float64)
    rgb8 = quantise(data, 8)
    import io

    buf = io.BytesIO()  # Pillow's encoder at the same settings: the quality bar
    PILImage.fromarray(rgb8).save(buf, "JPEG", quality=quality, subsampling="4:4:4" if sub == 0 else "4:2:0")
    pil = np.asarray(PILImage.open(buf).convert("RGB"), np.float64)
    want = rgb8.astype(np.float64)
    assert np.abs(got - want).mean() <= 1.1 * np.abs(pil - want).mean() + 0.05


# ------------------------------------------------------------------------------ in-place stages


@pytest.mark.parametrize("orientation", [1, 2, 6])
@pytest.mark.parametrize("look", ["neutral", "authentic"])
def test_in_place_stages_equal_the_plain_run_and_leave_the_input_alone(orientation, look):
    """The fused run lets highlights, look and output overwrite pipeline-owned buffers; the
    result must equal the plain run (no in-place, no fusion) and the caller's raw must not
    change. The generated scene has a sun that clips every channel (highlights do work)."""
    from rawlux.develop import DevelopOptions, build_pipeline
    from rawlux.synth.sample import make_sample

    raw = make_sample(320, 240)
    raw = replace(raw, metadata=replace(raw.metadata, orientation=orientation))
    assert int((raw.data >= raw.white).sum()) > 50  # really clipped sites
    before = raw.data.copy()
    fused = build_pipeline(DevelopOptions(look=look))
    plain = Pipeline(fused.stages, fuse=False)
    a, b = fused.run(raw), plain.run(raw)
    assert a.data.shape == b.data.shape
    np.testing.assert_allclose(a.data, b.data, rtol=0, atol=3e-6)
    np.testing.assert_array_equal(raw.data, before)


def test_in_place_is_refused_for_the_callers_own_buffer():
    """A stage that receives the caller's pixels (nothing ran before it) must not get them to
    overwrite: output on a caller-owned display image leaves that image unchanged."""
    from rawlux.core.image import ColorSpace, Encoding, Image, Referred
    from rawlux.isp.output import STAGE as OUT
    from rawlux.isp.output import OutputParams

    rng = np.random.default_rng(5)
    img = Image(rng.uniform(0, 1, (16, 24, 3)).astype(np.float32), ColorSpace.REC2020, Encoding.LINEAR,
                Referred.DISPLAY)
    before = img.data.copy()
    out = Pipeline([Stage(OUT, OutputParams())], fuse=True).run(img)
    np.testing.assert_array_equal(img.data, before)
    assert not np.shares_memory(out.data, img.data)
