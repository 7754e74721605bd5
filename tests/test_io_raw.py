"""open_raw on every real file: pixels, levels, CFA and tags cross-checked with tifffile/rawpy/README."""

from __future__ import annotations

import numpy as np
import pytest
import rawpy
import tifffile

from rawlux.core.errors import InvalidParameter, UnsupportedInput
from rawlux.core.image import CFA, GainMap, RawImage, WarpRectilinear
from rawlux.io.dng import illuminant_name, opcode_name
from rawlux.io.raw import _open_libraw, describe, open_raw

RAW_FILES = [
    "pixel7_hdrplus_darkframe.dng",
    "blackmagic_pocket4k_cinemadng.dng",
    "canon_550d_magiclantern_colorchart.dng",
    "nikon_d1.nef",
    "kodak_dc50.kdc",
    "iphone12pro_proraw_metadata_only.dng",
    "canon_eos_6d.dng",
]


def _dng_tags(path) -> dict[int, object]:
    """IFD0 tags overlaid by the raw IFD's, read straight with tifffile (independent of rawlux)."""
    with tifffile.TiffFile(path) as tf:
        p0 = tf.pages[0]
        tags = {t.code: t.value for t in p0.tags.values()}
        for sub in p0.pages or []:
            if sub.tags.get(254) is not None and sub.tags[254].value == 0:
                tags.update({t.code: t.value for t in sub.tags.values()})
    return tags


def _rat(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v[0::2] / v[1::2]


@pytest.fixture(scope="module")
def raws(raw_dir) -> dict[str, RawImage]:
    return {name: open_raw(raw_dir / name) for name in RAW_FILES}


@pytest.mark.parametrize("name", RAW_FILES)
def test_every_raw_opens_with_owned_contiguous_data(raws, name):
    r = raws[name]
    assert r.data.dtype == np.uint16 and r.data.flags.c_contiguous and r.data.flags.owndata
    assert r.data.base is None  # a real copy, not a view into LibRaw memory
    assert float(np.max(r.black)) < r.white <= 65535
    assert r.source.endswith(name)
    if r.cfa.is_bayer:
        assert r.data.ndim == 2 and r.black.shape == (2, 2)
        assert np.array_equal(r.cfa_pattern, r.cfa.pattern())
    else:
        assert r.cfa is CFA.LINEAR and r.data.shape[2] == 3 and r.black.shape == (3,)
    assert r.calibration.color_matrix1 is not None and r.calibration.color_matrix1.shape == (3, 3)
    rows = dict(describe(r))
    assert rows["CFA"].startswith(r.cfa.value) and str(r.width) in rows["size"]


@pytest.mark.parametrize("name", [n for n in RAW_FILES if n.endswith(".dng")])
def test_dng_tags_match_tifffile(raws, raw_dir, name):
    r, t = raws[name], _dng_tags(raw_dir / name)
    cal = r.calibration
    assert cal.source == "dng"
    for code, got in ((50721, cal.color_matrix1), (50722, cal.color_matrix2), (50964, cal.forward_matrix1),
                      (50965, cal.forward_matrix2), (50723, cal.camera_calibration1)):  # fmt: skip
        if code in t:
            np.testing.assert_allclose(got, _rat(t[code]).reshape(3, 3), rtol=1e-12)
        else:
            assert got is None
    if 50728 in t:
        np.testing.assert_allclose(cal.as_shot_neutral, _rat(t[50728]), rtol=1e-12)
    assert cal.illuminant1 == t.get(50778, 0) and cal.illuminant2 == t.get(50779, 0)
    be = _rat(t[50730]) if 50730 in t and t[50730][1] else [0.0]
    assert r.baseline_exposure == pytest.approx(float(be[0]))
    if 51041 in t:
        np.testing.assert_array_equal(r.noise_profile.pairs.ravel(), np.asarray(t[51041]))
    else:
        assert r.noise_profile is None
    assert r.metadata.orientation == t.get(274, 1)
    if r.cfa.is_bayer:
        assert bytes(t[33422]) == bytes(
            r.cfa_pattern.astype(np.uint8).ravel()
        )  # ActiveArea offsets are even
    if 50720 in t:
        size = t[50720]
        w, h = (size[0] / size[1], size[2] / size[3]) if len(size) == 4 else size
        assert (r.crop.width, r.crop.height) == (w, h)


def test_pixel7(raws, raw_dir):
    r = raws["pixel7_hdrplus_darkframe.dng"]
    assert r.cfa is CFA.RGGB and r.data.shape == (382, 510) and r.white == 16368
    # BlackLevel is fractional per site: 262286/256 ... (README: black 1024 per channel)
    np.testing.assert_allclose(
        r.black, [[262286 / 256, 262331 / 256], [262088 / 256, 262126 / 256]]
    )
    assert np.all(np.abs(r.black - 1024) < 1.5)
    assert [opcode_name(o) for o in r.opcodes2] == ["GainMap"] * 4 and all(
        isinstance(o, GainMap) for o in r.opcodes2
    )
    assert len(r.opcodes3) == 1 and isinstance(r.opcodes3[0], WarpRectilinear) and r.opcodes1 == ()
    assert r.noise_profile.pairs.shape == (3, 2)
    assert r.calibration.forward_matrix1 is not None and r.calibration.forward_matrix2 is not None
    assert (r.crop.top, r.crop.left, r.crop.height, r.crop.width) == (8, 8, 366, 494)
    assert r.baseline_exposure == pytest.approx(2.67)
    # dark frame: every site's median sits on its own black level
    for (dy, dx), b in np.ndenumerate(r.black):
        assert abs(np.median(r.data[dy::2, dx::2]) - b) < 3
    md = r.metadata
    assert (md.make, md.model, md.iso, md.f_number, md.orientation) == (
        "Google",
        "Pixel 7",
        744,
        1.9,
        8,
    )
    assert md.exposure_time == pytest.approx(1 / 16, rel=0.04)
    # pixel data equals tifffile's independent lossless-JPEG decode of the raw IFD
    with tifffile.TiffFile(raw_dir / "pixel7_hdrplus_darkframe.dng") as tf:
        ref = tf.pages[0].pages[0].asarray()
    assert np.array_equal(r.data, ref)


def test_canon_550d(raws):
    r = raws["canon_550d_magiclantern_colorchart.dng"]
    assert r.cfa is CFA.RGGB and r.data.shape == (1156, 1734)  # visible area only
    assert np.all(r.black == 2056) and r.white == 15000
    assert r.calibration.color_matrix2 is None and r.calibration.illuminant1 == 0
    assert r.metadata.make == "Canon" and r.metadata.model == "Canon EOS Kiss X4"
    # the ColorChecker scene is properly exposed: well above black, below white
    assert 2056 < np.median(r.data) < 15000


def test_canon_550d_matches_libraw_visible_area(raws, raw_dir):
    with rawpy.imread(str(raw_dir / "canon_550d_magiclantern_colorchart.dng")) as rp:
        ref = rp.raw_image_visible.copy()
    assert np.array_equal(raws["canon_550d_magiclantern_colorchart.dng"].data, ref)


def test_nikon_d1(raws):
    r = raws["nikon_d1.nef"]
    assert r.cfa is CFA.BGGR and r.data.shape == (1324, 2012)
    assert not r.black.any() and r.white == 4095 and r.data.max() <= 4095
    cal = r.calibration
    assert cal.source == "libraw" and cal.illuminant1 == 21 and cal.color_matrix2 is None
    np.testing.assert_allclose(cal.color_matrix1[0], [0.7637, -0.2199, -0.0974], atol=1e-4)
    assert cal.as_shot_neutral is None  # LibRaw reports no camera WB
    md = r.metadata
    assert md.make == "NIKON CORPORATION" and md.model == "NIKON D1" and md.iso == 200
    assert md.exposure_time == pytest.approx(1 / 250) and md.f_number == pytest.approx(7.6)
    assert md.datetime_original.year == 2000


def test_kodak_dc50(raws):
    r = raws["kodak_dc50.kdc"]
    assert r.cfa is CFA.GRBG and r.data.shape == (512, 768) and r.white == 16383
    assert r.calibration.as_shot_neutral is None
    assert "Kodak" in (r.metadata.make or "")
    # no LibRaw matrix for this camera: ColorMatrix fitted to the embedded preview, whose white
    # (D65) is a near-equal camera neutral (KDC data are close to balanced); not the sRGB stand-in
    assert r.calibration.source == "preview"
    d65 = np.array([0.95047, 1.0, 1.08883])
    cam = r.calibration.color_matrix1 @ d65
    np.testing.assert_allclose(cam / cam.max(), [1, 1, 1], atol=0.05)
    from rawlux.io.raw import _XYZ_TO_SRGB

    assert np.abs(r.calibration.color_matrix1 / np.abs(r.calibration.color_matrix1).max()
                  - _XYZ_TO_SRGB / np.abs(_XYZ_TO_SRGB).max()).max() > 0.1


def test_blackmagic(raws):
    r = raws["blackmagic_pocket4k_cinemadng.dng"]
    assert r.cfa is CFA.RGGB and r.data.shape == (2176, 4128)
    assert np.all(r.black == 512) and r.white == 65535
    assert r.baseline_exposure == pytest.approx(2.65412)
    assert (r.crop.left, r.crop.top, r.crop.width, r.crop.height) == (16, 8, 4096, 2160)
    assert r.metadata.model == "Blackmagic Pocket Cinema Camera 4K"  # from UniqueCameraModel
    # LinearizationTable applied (12-bit codes -> 16-bit linear): values reach far beyond 4095
    assert r.data.max() > 4095


def test_linear_dngs(raws):
    six = raws["canon_eos_6d.dng"]
    assert six.cfa is CFA.LINEAR and six.data.shape == (816, 1224, 3)
    # lossy DNG: LibRaw applied OpcodeList2's MapPolynomial (8-bit codes -> 16-bit linear) already
    assert six.opcodes2 == () and six.white == 65535 and six.data.max() > 255
    assert six.metadata.lens == "EF24-105mm f/4L IS USM" and six.metadata.iso == 1000
    ip = raws["iphone12pro_proraw_metadata_only.dng"]
    assert ip.cfa is CFA.LINEAR and ip.data.shape == (3024, 4032, 3) and not ip.data.any()
    assert ip.metadata.orientation == 6 and ip.metadata.gps is not None
    np.testing.assert_allclose(
        ip.calibration.as_shot_neutral, [482083360 / 2**30, 1.0, 580753536 / 2**30]
    )
    assert ip.noise_profile.pairs.shape == (1, 2)


def test_describe_names_illuminants_and_opcodes(raws):
    rows = dict(describe(raws["pixel7_hdrplus_darkframe.dng"]))
    assert "Standard light A (17)" in rows["ColorMatrix1"] and "D65 (21)" in rows["ColorMatrix2"]
    assert rows["OpcodeList2"] == "GainMap x4" and rows["OpcodeList3"] == "WarpRectilinear"
    assert (
        rows["default crop"] == "494 x 366 at (8, 8)"
        and rows["orientation"] == "8 (display rotated 90 CCW)"
    )
    assert "ISO 744" in rows["exif"] and rows["camera"] == "Google Pixel 7"
    assert rows["baseline exposure"] == "+2.67 EV"
    assert illuminant_name(23) == "D50 (23)"


def test_xtrans_path_libraw_demosaic(raw_dir):
    """The X-Trans code path (LibRaw demosaic to LINEAR), forced on a Bayer file."""
    path = raw_dir / "kodak_dc50.kdc"
    mosaic = open_raw(path)
    lin = _open_libraw(path, "tiff", force_linear=True)
    assert lin.cfa is CFA.LINEAR and lin.data.shape == (512, 768, 3) and lin.data.dtype == np.uint16
    assert not lin.black.any() and lin.white == 65535 and lin.data.flags.owndata
    # unit WB, gamma 1, raw colour: channel means = mosaic site means scaled by 65535 / white
    scale = 65535 / mosaic.white
    masks = mosaic.channel_masks()
    for c in range(3):
        want = mosaic.data[masks[c]].mean() * scale
        assert lin.data[..., c].mean() == pytest.approx(want, rel=0.03)
    assert lin.calibration.color_matrix1 is not None


def test_bare_mosaic_png(raw_dir):
    r = open_raw(raw_dir / "nokia_n900_bayer_small.png", cfa="grbg")
    assert r.cfa is CFA.GRBG and r.data.dtype == np.uint16 and r.data.max() == 1053
    assert not r.black.any() and r.white == 2047  # smallest bit depth holding max 1053 (11 bits)
    assert r.calibration.color_matrix1 is None and r.calibration.source == "none"
    r2 = open_raw(raw_dir / "nokia_n900_bayer_small.png", cfa="GRBG", black=64, white=1023)
    assert np.all(r2.black == 64) and r2.white == 1023 and np.array_equal(r2.data, r.data)


def test_bare_mosaic_tiff(tmp_path):
    rng = np.random.default_rng(0)
    mos = rng.integers(0, 4096, (40, 60), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "m.tif", mos)
    with pytest.raises(UnsupportedInput, match="--cfa"):
        open_raw(tmp_path / "m.tif")
    r = open_raw(tmp_path / "m.tif", cfa="BGGR")
    assert r.cfa is CFA.BGGR and np.array_equal(r.data, mos) and r.white == 4095
    rgb = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    with pytest.raises(UnsupportedInput, match="TIFF"):
        open_raw(tmp_path / "rgb.tif", cfa="RGGB")


def test_cfa_override_and_bad_params(raw_dir):
    path = raw_dir / "nikon_d1.nef"
    assert open_raw(path, cfa="RGGB").cfa is CFA.RGGB
    with pytest.raises(InvalidParameter, match="cfa"):
        open_raw(path, cfa="XYZW")
    with pytest.raises(InvalidParameter, match="black"):
        open_raw(path, black=5000, white=4000)
    with pytest.raises(InvalidParameter, match="white"):
        open_raw(path, white=1e9)
