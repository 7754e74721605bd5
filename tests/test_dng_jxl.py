"""DNG 1.7 JPEG XL raws (Compression 52546, tiled): real raw data written as lossless JXL tiles
decodes bit-exactly through open_raw, develops like the uncompressed file, and damaged tiles
fail with a one-line CorruptInput."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rawlux.core.errors import CorruptInput
from rawlux.io.dng_jxl import COMPRESSION_JXL, write_jxl_dng
from rawlux.io.raw import open_raw


@pytest.fixture(scope="module")
def bayer(raw_dir: Path) -> np.ndarray:
    raw = open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng")
    return np.ascontiguousarray(raw.data[100:100 + 400, 300:300 + 610])  # real CFA data


def _compression(p: Path) -> int:
    import tifffile

    with tifffile.TiffFile(p) as tf:
        pg = tf.pages[0]
        assert pg.is_tiled
        return int(pg.compression)


def test_bayer_jxl_tiles_decode_bit_exact(tmp_path: Path, bayer: np.ndarray) -> None:
    f = write_jxl_dng(tmp_path / "b.dng", bayer, black=2056, white=15000, tile=128)
    assert _compression(f) == COMPRESSION_JXL
    assert f.stat().st_size < 0.8 * bayer.nbytes  # really compressed
    raw = open_raw(f)
    np.testing.assert_array_equal(raw.data, bayer)  # 610 px: partial edge tiles too
    assert raw.cfa.value == "RGGB" and raw.white == 15000 and float(raw.black.max()) == 2056


def test_12_bit_and_other_cfa(tmp_path: Path, bayer: np.ndarray) -> None:
    d12 = (bayer >> 2).astype(np.uint16)  # < 4096
    f = write_jxl_dng(tmp_path / "b12.dng", d12, cfa="GBRG", white=4095, bits=12, tile=256)
    raw = open_raw(f)
    np.testing.assert_array_equal(raw.data, d12)
    assert raw.cfa.value == "GBRG"


def test_linear_raw_jxl_decodes_bit_exact(tmp_path: Path, raw_dir: Path) -> None:
    lin = open_raw(raw_dir / "canon_eos_6d.dng")
    data = np.ascontiguousarray(lin.data[:300, :420])
    f = write_jxl_dng(tmp_path / "l.dng", data, white=lin.white, tile=160)
    raw = open_raw(f)
    assert raw.cfa.value == "LINEAR"
    np.testing.assert_array_equal(raw.data, data)


def test_jxl_develops_like_the_uncompressed_file(tmp_path: Path, bayer: np.ndarray) -> None:
    from rawlux.develop import develop

    a = write_jxl_dng(tmp_path / "jxl.dng", bayer, black=2056, white=15000)
    b = write_jxl_dng(tmp_path / "plain.dng", bayer, black=2056, white=15000, compress=False)
    assert _compression(b) == 1
    opts = dict(look="neutral", denoise=0.0, sharpen=0.0)
    np.testing.assert_array_equal(develop(a, **opts).data, develop(b, **opts).data)


def test_damaged_tile_is_a_corrupt_input(tmp_path: Path, bayer: np.ndarray) -> None:
    import tifffile

    f = write_jxl_dng(tmp_path / "bad.dng", bayer, black=2056, white=15000, tile=128)
    with tifffile.TiffFile(f) as tf:
        off, n = tf.pages[0].dataoffsets[3], tf.pages[0].databytecounts[3]
    blob = bytearray(f.read_bytes())
    blob[off + 8 : off + n] = b"\xff" * (n - 8)
    f.write_bytes(bytes(blob))
    with pytest.raises(CorruptInput) as e:
        open_raw(f)
    msg = str(e.value)
    assert "bad.dng" in msg and "\n" not in msg


def test_lossy_jxl_decodes_close_and_info_says_jxl(tmp_path: Path, bayer: np.ndarray) -> None:
    from rawlux.io.dcp import dng_extras

    f = write_jxl_dng(tmp_path / "lossy.dng", bayer, black=2056, white=15000, distance=0.5)
    raw = open_raw(f)
    err = raw.data.astype(np.float64) - bayer
    psnr = 10 * np.log10((15000 - 2056) ** 2 / np.mean(err**2))
    assert 35 < psnr < 200 and np.abs(err).max() > 0  # lossy, but close
    assert dict(dng_extras(f))["raw compression"] == "JPEG XL (DNG 1.7), 256x256 tiles, distance 0.5"
    g = write_jxl_dng(tmp_path / "ll.dng", bayer, black=2056, white=15000)
    assert dict(dng_extras(g))["raw compression"].endswith("lossless")


def test_uncompressed_tile_wider_than_the_image_reads_right(tmp_path: Path, bayer: np.ndarray) -> None:
    """LibRaw misplaces the rows of an uncompressed tile wider than the image: tifffile reads it."""
    small = np.ascontiguousarray(bayer[:120, :180])
    f = write_jxl_dng(tmp_path / "wide.dng", small, black=2056, white=15000, compress=False, tile=256)
    np.testing.assert_array_equal(open_raw(f).data, small)
