"""X-Trans: a synthetic 6x6-CFA DNG read through our path and demosaiced by
:mod:`rawlux.isp.demosaic.xtrans` (numba = reference), PSNR against the ground truth compared
with the normalised-convolution fallback and with LibRaw's own X-Trans demosaic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rawlux.isp.demosaic.generic import normalized_convolution
from rawlux.isp.demosaic.xtrans import xtrans, xtrans_reference

XT = np.array([[1, 1, 0, 1, 1, 2], [1, 1, 2, 1, 1, 0], [2, 0, 1, 0, 2, 1],
               [1, 1, 2, 1, 1, 0], [1, 1, 0, 1, 1, 2], [0, 2, 1, 2, 0, 1]])


def _truth(shared_data: Path, name: str) -> np.ndarray:
    from PIL import Image as PI

    im = np.asarray(PI.open(shared_data / "portraits" / name).convert("RGB")).astype(np.float64) / 255
    return np.where(im <= 0.04045, im / 12.92, ((im + 0.055) / 1.055) ** 2.4)  # linear light


def _mosaic(lin: np.ndarray, pat: np.ndarray = XT) -> np.ndarray:
    h, w = lin.shape[:2]
    tile = np.tile(pat, (h // 6 + 1, w // 6 + 1))[:h, :w]
    return np.ascontiguousarray(np.take_along_axis(lin, tile[..., None], 2)[..., 0], np.float32)


def _psnr(a: np.ndarray, b: np.ndarray, border: int = 8) -> float:
    a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return float(10 * np.log10(1 / np.mean((np.clip(a, 0, 1) - b) ** 2)))


def test_fast_equals_reference() -> None:
    rng = np.random.default_rng(0)
    m = rng.uniform(0, 1, (31, 43)).astype(np.float32)  # odd sizes, borders everywhere
    np.testing.assert_allclose(xtrans(m, XT), xtrans_reference(m, XT), atol=2e-6)
    rolled = np.roll(XT, (2, 3), (0, 1))  # another phase of the tile
    np.testing.assert_allclose(xtrans(m, rolled), xtrans_reference(m, rolled), atol=2e-6)


def test_flat_colour_is_exact_and_measured_sites_kept() -> None:
    lin = np.broadcast_to(np.array([0.3, 0.5, 0.2]), (36, 48, 3))
    m = _mosaic(lin)
    out = xtrans(m, XT)
    np.testing.assert_allclose(out, lin, atol=1e-6)
    rng = np.random.default_rng(1)
    m2 = rng.uniform(0, 1, (36, 48)).astype(np.float32)
    o2 = xtrans(m2, XT)
    tile = np.tile(XT, (6, 8))
    assert np.array_equal(np.take_along_axis(o2, tile[..., None], 2)[..., 0], m2)


def test_synthetic_xtrans_dng_through_our_path(tmp_path: Path, shared_data: Path) -> None:
    from rawlux.core.image import CFA
    from rawlux.develop import develop
    from rawlux.io.dng_jxl import write_jxl_dng
    from rawlux.io.raw import open_raw

    lin = _truth(shared_data, "kodak_kodim15_girl_face_paint.png")[:240, :360]
    d16 = np.round(_mosaic(lin).astype(np.float64) * 60000 + 1000).astype(np.uint16)
    f = write_jxl_dng(tmp_path / "xt.dng", d16, cfa=XT, black=1000, white=61000,
                      as_shot_neutral=(1, 1, 1), compress=False)
    raw = open_raw(f)
    assert raw.cfa is CFA.XTRANS and np.array_equal(raw.cfa_pattern, XT)
    assert np.array_equal(raw.data, d16) and raw.black.shape == (6, 6)
    img = develop(raw, look="neutral", denoise=0.0, sharpen=0.0)
    assert img.data.shape == (240, 360, 3) and np.isfinite(img.data).all()
    # and the JXL-compressed variant decodes to the same mosaic
    fj = write_jxl_dng(tmp_path / "xtj.dng", d16, cfa=XT, black=1000, white=61000)
    assert np.array_equal(open_raw(fj).data, d16)


def test_libraw_path_gives_the_same_xtrans_mosaic(tmp_path: Path, shared_data: Path) -> None:
    """The LibRaw route's X-Trans mosaic option (for RAFs) on the synthetic DNG: same mosaic, tile
    and levels as the DNG route."""
    from rawlux.core.image import CFA
    from rawlux.io.dng_jxl import write_jxl_dng
    from rawlux.io.raw import _open_libraw, open_raw

    lin = _truth(shared_data, "kodak_kodim18_woman_outdoor_foliage.png")[:120, :180]
    rolled = np.roll(XT, (1, 4), (0, 1))
    d16 = np.round(_mosaic(lin, rolled).astype(np.float64) * 60000 + 1000).astype(np.uint16)
    f = write_jxl_dng(tmp_path / "x.dng", d16, cfa=rolled, black=1000, white=61000,
                      compress=False, tile=0)  # strips (LibRaw misreads tiles wider than the image)
    via_libraw = _open_libraw(f, "tiff", xtrans_mosaic=True)
    via_dng = open_raw(f)
    assert via_libraw.cfa is CFA.XTRANS and np.array_equal(via_libraw.cfa_pattern, rolled)
    assert np.array_equal(via_libraw.data, via_dng.data)
    assert np.allclose(via_libraw.black, 1000) and via_libraw.black.shape == (6, 6)


@pytest.mark.parametrize("name", ["kodak_kodim15_girl_face_paint.png",
                                  "kodak_kodim18_woman_outdoor_foliage.png"])
def test_psnr_vs_fallback_and_libraw(tmp_path: Path, shared_data: Path, name: str) -> None:
    import rawpy

    from rawlux.io.dng_jxl import write_jxl_dng

    lin = _truth(shared_data, name)
    m = _mosaic(lin)
    ours = _psnr(xtrans(m, XT), lin)
    nc = _psnr(normalized_convolution(m, XT), lin)
    d16 = np.round(m.astype(np.float64) * 60000 + 1000).astype(np.uint16)
    f = write_jxl_dng(tmp_path / "x.dng", d16, cfa=XT, black=1000, white=61000,
                      as_shot_neutral=(1, 1, 1), compress=False)
    with rawpy.imread(str(f)) as rp:
        o = rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD,  # 3-pass Markesteijn
                           output_color=rawpy.ColorSpace.raw, gamma=(1, 1), no_auto_bright=True,
                           output_bps=16, user_wb=[1, 1, 1, 1], user_black=1000, user_sat=61000)
    o = o.astype(np.float64) / 65535
    core = (slice(8, -8), slice(8, -8))
    gain = (o[core] * lin[core]).sum((0, 1)) / (o[core] ** 2).sum((0, 1))  # LibRaw's own scaling
    libraw = _psnr(o * gain, lin)
    print(f"{name}: PSNR ours {ours:.2f} dB, normalised convolution {nc:.2f} dB, "
          f"LibRaw Markesteijn {libraw:.2f} dB")
    assert ours > nc + 1.0
    assert ours > libraw - 0.5  # level with 3-pass Markesteijn (kodim15 +0.4, kodim18 +1.5 dB)
