"""save(): every format with ICC + EXIF (read back with exiv2, an independent reader),
bit depth/precision, atomic writes, refusal paths."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyexiv2
import pytest

from rawlux.core.errors import ContractError, InvalidParameter, OutputError
from rawlux.core.image import GPS, ColorSpace, Encoding, Image, Metadata, Referred
from rawlux.io import write as W
from rawlux.io.icc import profile_bytes
from rawlux.io.write import build_exif, png_insert_chunks, quantise, save

META = Metadata(
    make="Canon",
    model="Canon EOS 6D",
    lens="EF24-105mm f/4L IS USM",
    exposure_time=1 / 250,
    f_number=8.0,
    iso=200,
    focal_length=24.0,
    focal_length_35mm=24,
    datetime_original=dt.datetime(2024, 5, 6, 7, 8, 9),
    gps=GPS(48.858370, -2.294481, 35.5),
    orientation=1,
)
EXTS = ("jpg", "png", "tif", "heic", "avif", "webp")


def display_image(space: ColorSpace = ColorSpace.SRGB, meta: Metadata = META, shape=(48, 64)) -> Image:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    data = np.stack([xx / (w - 1), yy / (h - 1), 0.5 + 0.4 * np.sin(xx / 5.0)], -1).astype(np.float32)
    return Image(data, space, Encoding.SRGB, Referred.DISPLAY, metadata=meta)


def frac(s: str) -> float:
    return float(Fraction(s))


def dms(s: str) -> float:
    d, m, sec = (frac(x) for x in s.split())
    return d + m / 60 + sec / 3600


@pytest.mark.parametrize("ext", EXTS)
@pytest.mark.parametrize("space", [ColorSpace.SRGB, ColorSpace.DISPLAY_P3])
def test_exif_and_icc_round_trip(tmp_path: Path, ext: str, space: ColorSpace) -> None:
    img = display_image(space)
    out = save(img, tmp_path / f"x.{ext}")
    assert out == (tmp_path / f"x.{ext}").resolve() and out.is_file()
    with pyexiv2.Image(str(out)) as im:
        e = im.read_exif()
        icc = im.read_icc()
    assert icc == profile_bytes(space)
    assert e["Exif.Image.Make"] == "Canon"
    assert e["Exif.Image.Model"] == "Canon EOS 6D"
    assert e["Exif.Photo.LensModel"] == "EF24-105mm f/4L IS USM"
    assert e["Exif.Photo.ExposureTime"] == "1/250"
    assert frac(e["Exif.Photo.FNumber"]) == pytest.approx(8.0)
    assert int(e["Exif.Photo.ISOSpeedRatings"]) == 200
    assert frac(e["Exif.Photo.FocalLength"]) == pytest.approx(24.0)
    assert int(e["Exif.Photo.FocalLengthIn35mmFilm"]) == 24
    assert e["Exif.Photo.DateTimeOriginal"] == "2024:05:06 07:08:09"
    # (Pillow's AVIF writer moves the orientation into the container's irot/imir boxes)
    assert int(e.get("Exif.Image.Orientation", 1 if ext == "avif" else 0)) == 1
    assert e["Exif.Image.Software"].startswith("rawlux ")
    assert int(e["Exif.Photo.ColorSpace"]) == (1 if space is ColorSpace.SRGB else 65535)
    assert e["Exif.GPSInfo.GPSLatitudeRef"] == "N" and e["Exif.GPSInfo.GPSLongitudeRef"] == "W"
    assert dms(e["Exif.GPSInfo.GPSLatitude"]) == pytest.approx(48.858370, abs=1e-6)
    assert dms(e["Exif.GPSInfo.GPSLongitude"]) == pytest.approx(2.294481, abs=1e-6)
    assert frac(e["Exif.GPSInfo.GPSAltitude"]) == pytest.approx(35.5)
    assert int(e["Exif.Photo.PixelXDimension"]) == 64 and int(e["Exif.Photo.PixelYDimension"]) == 48
    assert not any(p.name.startswith(".x.") for p in tmp_path.iterdir())  # no temp files left


@pytest.mark.parametrize("ext,bits,tol", [("tif", 16, 0.51 / 65535), ("png", 16, 0.51 / 65535), ("tif", 8, 0.51 / 255), ("png", 8, 0.51 / 255)])
def test_lossless_precision(tmp_path: Path, ext: str, bits: int, tol: float) -> None:
    import cv2
    import tifffile

    img = display_image()
    img = img.with_data(np.random.default_rng(0).random(img.data.shape, dtype=np.float32))
    p = save(img, tmp_path / f"p.{ext}", bit_depth=bits)
    if ext == "tif":
        a = tifffile.imread(p)
    else:
        a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert a.dtype == (np.uint16 if bits == 16 else np.uint8) and a.shape == img.data.shape
    err = np.abs(a.astype(np.float64) / (2**bits - 1) - img.data).max()
    assert err <= tol


def test_tiff_defaults_to_16_bit_and_keeps_icc_tag(tmp_path: Path) -> None:
    import tifffile

    p = save(display_image(ColorSpace.DISPLAY_P3), tmp_path / "a.tiff")
    with tifffile.TiffFile(p) as tf:
        page = tf.pages.first
        assert page.dtype == np.uint16 and page.shape == (48, 64, 3)
        assert bytes(page.tags[34675].value) == profile_bytes(ColorSpace.DISPLAY_P3)


def test_jpeg_quality_changes_size_and_error(tmp_path: Path) -> None:
    img = display_image(shape=(120, 160))
    img = img.with_data(np.clip(img.data + 0.1 * np.random.default_rng(1).random(img.data.shape, dtype=np.float32), 0, 1))
    lo, hi = save(img, tmp_path / "lo.jpg", quality=30), save(img, tmp_path / "hi.jpg", quality=95)
    assert lo.stat().st_size < hi.stat().st_size
    from PIL import Image as PILImage

    err = [np.abs(np.asarray(PILImage.open(p)) / 255.0 - img.data).mean() for p in (lo, hi)]
    assert err[1] < err[0]


def test_quantise_rounding_clipping_nan() -> None:
    a = np.array([[[0.0, 1.0, 0.5], [np.nan, -0.2, 1.7], [1 / 255 * 0.49, 1 / 255 * 0.51, 0.999]]], np.float32)
    q8 = quantise(a, 8)
    np.testing.assert_array_equal(q8, [[[0, 255, 128], [0, 0, 255], [0, 1, 255]]])
    q16 = quantise(a, 16)
    assert q16.dtype == np.uint16 and q16[0, 0, 1] == 65535 and q16[0, 1, 0] == 0
    with pytest.raises(InvalidParameter):
        quantise(a, 12)


def test_atomic_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fmt, arr, f, quality, icc, exif):
        f.write(b"\xff\xd8partial data")
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(W, "_write_pillow", broken)
    monkeypatch.setattr(W, "_write_jpeg", broken)  # JPEG is encoded by OpenCV (same signature)
    target = tmp_path / "out.jpg"
    with pytest.raises(OutputError) as ei:
        save(display_image(), target)
    assert str(target) in str(ei.value) and "encoder exploded" in str(ei.value)
    assert "\n" not in str(ei.value)
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temp file


def test_atomic_failure_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.jpg"
    target.write_bytes(b"previous")

    def broken(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(W, "_write_pillow", broken)
    monkeypatch.setattr(W, "_write_jpeg", broken)
    with pytest.raises(KeyboardInterrupt):
        save(display_image(), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_tiff_failure_after_pixels_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path, exif):
        raise OSError("exiv2 failed")

    monkeypatch.setattr(W, "_tiff_add_exif", broken)
    with pytest.raises(OutputError, match="exiv2 failed"):
        save(display_image(), tmp_path / "t.tif")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_protected_input(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(b"original input")
    with pytest.raises(OutputError, match="refusing to overwrite an input"):
        save(display_image(), src, protect=[src])
    # same file through another spelling and through a hard link
    with pytest.raises(OutputError):
        save(display_image(), tmp_path / "sub" / ".." / "in.jpg", protect=[str(src)])
    link = tmp_path / "link.jpg"
    os.link(src, link)
    with pytest.raises(OutputError):
        save(display_image(), link, protect=[src])
    assert src.read_bytes() == b"original input"
    save(display_image(), tmp_path / "other.jpg", protect=[src])  # a different path is fine


def test_output_errors(tmp_path: Path) -> None:
    img = display_image()
    with pytest.raises(OutputError, match=r"unknown output extension '\.bmp'; supported: .*\.jpg"):
        save(img, tmp_path / "x.bmp")
    with pytest.raises(OutputError, match="directory does not exist"):
        save(img, tmp_path / "missing" / "x.jpg")
    with pytest.raises(OutputError, match="is a directory"):
        (tmp_path / "d.jpg").mkdir()
        save(img, tmp_path / "d.jpg")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if not os.access(ro, os.W_OK):  # root ignores permissions
            with pytest.raises(OutputError, match="not writable"):
                save(img, ro / "x.jpg")
    finally:
        ro.chmod(0o755)
    with pytest.raises(InvalidParameter, match="quality"):
        save(img, tmp_path / "q.jpg", quality=0)
    with pytest.raises(InvalidParameter, match="bit depth 16"):
        save(img, tmp_path / "q.jpg", bit_depth=16)
    lin = Image(img.data, ColorSpace.REC2020, Encoding.LINEAR, Referred.DISPLAY)
    with pytest.raises(ContractError, match="display-encoded"):
        save(lin, tmp_path / "c.jpg")
    with pytest.raises(ContractError, match="srgb and p3"):
        save(replace(img, space=ColorSpace.REC2020), tmp_path / "c.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jpg", "ro"]


def test_exif_false_writes_no_exif_but_icc(tmp_path: Path) -> None:
    p = save(display_image(), tmp_path / "n.jpg", exif=False)
    with pyexiv2.Image(str(p)) as im:
        assert "Exif.Image.Make" not in im.read_exif()
        assert im.read_icc() == profile_bytes(ColorSpace.SRGB)


def test_source_exif_and_icc_carried_over(tmp_path: Path) -> None:
    """Bytes from a source photo are kept (other tags survive), our fields override, the
    orientation is the pixels' one, the thumbnail pointer is dropped."""
    base_meta = Metadata(make="Apple", model="iPhone", orientation=6, artist="Someone")
    base = build_exif(base_meta, 10, 10, ColorSpace.SRGB)
    fake_icc = bytes(profile_bytes(ColorSpace.DISPLAY_P3))  # stands in for Apple's own profile
    meta = Metadata(make="Apple", model="iPhone 15", orientation=1,
                    extra={"exif_bytes": base, "icc": fake_icc, "icc_space": "p3"})
    img = display_image(ColorSpace.DISPLAY_P3, meta)
    p = save(img, tmp_path / "c.jpg")
    with pyexiv2.Image(str(p)) as im:
        e = im.read_exif()
        assert im.read_icc() == fake_icc
    assert e["Exif.Image.Model"] == "iPhone 15" and e["Exif.Image.Artist"] == "Someone"
    assert int(e["Exif.Image.Orientation"]) == 1
    # the source ICC is not used when it describes another space than the pixels
    img2 = display_image(ColorSpace.SRGB, meta)
    with pyexiv2.Image(str(save(img2, tmp_path / "d.png"))) as im:
        assert im.read_icc() == profile_bytes(ColorSpace.SRGB)


def test_exposure_time_rationals() -> None:
    from PIL import Image as PILImage

    for t, want in ((1 / 250, (1, 250)), (1 / 3, (1, 3)), (2.5, (5, 2)), (30.0, (30, 1))):
        ex = PILImage.Exif()
        ex.load(build_exif(Metadata(exposure_time=t), 1, 1, ColorSpace.SRGB))
        r = ex.get_ifd(0x8769)[0x829A]
        assert (r.numerator, r.denominator) == want


def test_png_chunk_insertion_rejects_garbage() -> None:
    with pytest.raises(OutputError):
        png_insert_chunks(b"not a png", b"x", None)


@pytest.mark.parametrize("ext", EXTS)
def test_unapplied_orientation_is_kept_consistent(tmp_path: Path, ext: str) -> None:
    """Pixels saved with orientation 6 still display upright after a read that honours it."""
    from rawlux.io.photo import open_photo
    from rawlux.isp.output import apply_orientation

    a = np.zeros((32, 48, 3), np.float32)
    a[:, :8] = 1.0  # the scene's top is on the left of the stored pixels
    img = Image(a, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY, metadata=Metadata(orientation=6))
    back = open_photo(save(img, tmp_path / f"o.{ext}", quality=95))
    want = apply_orientation(a, 6)
    assert back.data.shape == want.shape
    assert np.abs(back.data - want).mean() < 0.05


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None)
@given(
    exposure=st.one_of(st.integers(1, 8000).map(lambda d: 1.0 / d), st.floats(0.5, 60.0)),
    fnum=st.floats(0.95, 32.0),
    iso=st.integers(25, 409600),
    focal=st.floats(1.0, 800.0),
    lat=st.floats(-89.999, 89.999),
    lon=st.floats(-179.999, 179.999),
    alt=st.one_of(st.none(), st.floats(-400.0, 9000.0)),
    orient=st.integers(1, 8),
    text=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30).map(str.strip).filter(bool),
)
def test_exif_builder_round_trip_property(exposure, fnum, iso, focal, lat, lon, alt, orient, text) -> None:
    from rawlux.io.photo import metadata_from_exif

    if abs(lat) < 1e-3 and abs(lon) < 1e-3:
        lat = 0.01  # exactly 0, 0 is what blank GPS blocks decode to: readers drop it (core.plausible)

    m = Metadata(make=text, lens=text, exposure_time=exposure, f_number=fnum, iso=iso, focal_length=focal,
                 gps=GPS(lat, lon, alt), orientation=orient)
    b = metadata_from_exif(build_exif(m, 10, 10, ColorSpace.SRGB))
    assert b.make == text and b.lens == text and b.orientation == orient
    assert b.exposure_time == pytest.approx(exposure, rel=1e-3)
    assert b.f_number == pytest.approx(fnum, abs=0.006)
    assert b.iso == min(iso, 65535)
    assert b.focal_length == pytest.approx(focal, abs=6e-4)
    assert b.gps.latitude == pytest.approx(lat, abs=1e-7) and b.gps.longitude == pytest.approx(lon, abs=1e-7)
    if alt is None:
        assert b.gps.altitude is None
    else:
        assert b.gps.altitude == pytest.approx(alt, abs=1e-3)


def test_written_file_has_normal_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    p = save(display_image(), tmp_path / "perm.jpg")
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
