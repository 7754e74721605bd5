"""Hostile and broken inputs: typed one-line errors naming the file, size checked before decoding,
inputs never modified."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np
import pytest
import rawpy

from rawlux.core.errors import (
    CorruptInput,
    ImageTooLarge,
    MissingInput,
    RawluxError,
    UnsupportedInput,
)
from rawlux.io import dng as dngmod
from rawlux.io.dng import TAG, _IFD, encode_tiff, write_dng
from rawlux.io.raw import open_raw


def _check(err: RawluxError, path) -> None:
    msg = str(err)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    assert err.exit_code != 0


def _expect(cls, path, match=None, **kw):
    with pytest.raises(cls, match=match) as ei:
        open_raw(path, **kw)
    _check(ei.value, path)
    return ei.value


def test_missing_file_and_directory(tmp_path):
    _expect(MissingInput, tmp_path / "nope.dng", "does not exist")
    _expect(MissingInput, tmp_path, "not a regular file")


def test_empty_random_and_text(tmp_path):
    (tmp_path / "e.dng").write_bytes(b"")
    _expect(CorruptInput, tmp_path / "e.dng", "empty")
    rnd = np.random.default_rng(7).integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    for ext in ("dng", "nef", "cr3", "raw"):
        (tmp_path / f"r.{ext}").write_bytes(rnd)
        _expect(CorruptInput, tmp_path / f"r.{ext}", "not a raw file")
    (tmp_path / "t.dng").write_text("just some text\n" * 10)
    _expect(UnsupportedInput, tmp_path / "t.dng", "text file")


@pytest.mark.parametrize("photo, what", [("IMG_4120.JPG", "JPEG"), ("iphone_7.heic", "HEIF")])
def test_photo_renamed_dng(shared_data, tmp_path, photo, what):
    bad = tmp_path / "photo.dng"
    bad.write_bytes((shared_data / "photos" / photo).read_bytes())
    _expect(UnsupportedInput, bad, f"looks like a {what}")


def test_png_without_cfa_says_pass_cfa(raw_dir):
    _expect(UnsupportedInput, raw_dir / "nokia_n900_bayer_small.png", "--cfa")


@pytest.mark.parametrize(
    "name", ["pixel7_hdrplus_darkframe.dng", "blackmagic_pocket4k_cinemadng.dng", "nikon_d1.nef", "kodak_dc50.kdc",
             "canon_550d_magiclantern_colorchart.dng"],
)  # fmt: skip
@pytest.mark.parametrize("keep", [0.5, 0.01])
def test_truncated(raw_dir, tmp_path, name, keep):
    blob = (raw_dir / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(blob[: int(len(blob) * keep)])
    _expect(CorruptInput, cut, "truncated|damaged|unreadable|no readable")


def _tiny_dng(width: int, height: int, pixels: bytes = b"\x00" * 64) -> bytes:
    """A DNG header declaring ``width`` x ``height`` with hardly any data behind it."""
    ifd = _IFD()
    ifd.add(TAG["NewSubfileType"], 4, [0])
    ifd.add(TAG["ImageWidth"], 4, [width])
    ifd.add(TAG["ImageLength"], 4, [height])
    ifd.add(TAG["BitsPerSample"], 3, [16])
    ifd.add(TAG["Compression"], 3, [1])
    ifd.add(TAG["PhotometricInterpretation"], 3, [32803])
    ifd.add(TAG["SamplesPerPixel"], 3, [1])
    ifd.add(TAG["RowsPerStrip"], 4, [height])
    ifd.add(TAG["CFARepeatPatternDim"], 3, [2, 2])
    ifd.add(TAG["CFAPattern"], 1, bytes([0, 1, 1, 2]))
    ifd.add(TAG["DNGVersion"], 1, bytes([1, 4, 0, 0]))
    ifd.add(TAG["ColorMatrix1"], 10, np.eye(3).ravel())
    blob = encode_tiff(ifd, pixels)
    return blob


@pytest.mark.parametrize("w, h", [(100_000, 10), (10, 70_000), (20_000, 20_000)])
def test_absurd_dimensions_rejected_before_decoding(tmp_path, monkeypatch, w, h):
    path = tmp_path / "huge.dng"
    path.write_bytes(_tiny_dng(w, h))

    def no_decode(*a, **k):
        raise AssertionError("LibRaw must not be reached for an oversized image")

    monkeypatch.setattr(rawpy, "imread", no_decode)
    err = _expect(ImageTooLarge, path, "limit")
    assert f"{w}x{h}" in str(err)


def test_absurd_png_mosaic_rejected(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 70_000, 70_000, 16, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    (tmp_path / "big.png").write_bytes(png)
    _expect(ImageTooLarge, tmp_path / "big.png", "limit", cfa="RGGB")


def _written(tmp_path, raw_dir, **cal_changes):
    raw = open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng")
    raw = dataclasses.replace(raw, calibration=dataclasses.replace(raw.calibration, **cal_changes))
    out = tmp_path / "m.dng"
    write_dng(raw, out)
    return out


def test_zero_colour_matrix(tmp_path, raw_dir):
    _expect(
        CorruptInput,
        _written(tmp_path, raw_dir, color_matrix1=np.zeros((3, 3))),
        "ColorMatrix1 is all zeros",
    )


def test_singular_colour_matrices(tmp_path, raw_dir):
    sing = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.1, 0.2, 0.5]])
    _expect(
        CorruptInput, _written(tmp_path, raw_dir, color_matrix1=sing), "ColorMatrix1 is singular"
    )
    p = _written(tmp_path, raw_dir, forward_matrix2=np.ones((3, 3)), color_matrix2=np.eye(3))
    _expect(CorruptInput, p, "ForwardMatrix2 is singular")


def test_bad_neutral(tmp_path, raw_dir):
    _expect(
        CorruptInput,
        _written(tmp_path, raw_dir, as_shot_neutral=np.array([0.5, 0.0, 0.7])),
        "AsShotNeutral",
    )


def test_corrupt_opcode_list_is_named(tmp_path, raw_dir, monkeypatch):
    raw = open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")
    out = tmp_path / "o.dng"
    write_dng(raw, out)
    blob = bytearray(out.read_bytes())
    good = dngmod.serialize_opcode_list(raw.opcodes2)
    i = bytes(blob).find(good)
    assert i > 0
    blob[i + 3] = 200  # opcode count 4 -> 200
    out.write_bytes(bytes(blob))
    _expect(CorruptInput, out, "OpcodeList2")


def test_metadata_only_file_opens_with_warning(raw_dir):
    r = open_raw(raw_dir / "iphone12pro_proraw_metadata_only.dng")
    assert "stripped" in r.metadata.extra["warning"]


def test_inputs_are_never_modified(raw_dir):
    for name in ("pixel7_hdrplus_darkframe.dng", "nikon_d1.nef", "canon_eos_6d.dng"):
        path = raw_dir / name
        before = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns)
        open_raw(path)
        assert (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns) == before
