"""open_photo on the real phone photos and on synthetic good and bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from rawlux.core.errors import CorruptInput, ImageTooLarge, MissingInput, UnsupportedInput
from rawlux.core.image import ColorSpace, Encoding, Image, Metadata, Referred
from rawlux.io.icc import profile_bytes
from rawlux.io.photo import metadata_from_exif, open_photo
from rawlux.io.write import build_exif, save

# name: (upright width, height, space, make, model, f-number, iso)
PHOTOS = {
    "IMG_4120.JPG": (500, 375, ColorSpace.SRGB, "Apple", "iPhone SE", 2.2, 25),
    "iphone6.jpg": (3264, 2448, ColorSpace.SRGB, "Apple", "iPhone 6", 2.2, 32),
    "samsung_sm-j327t1.jpg": (1932, 2576, ColorSpace.SRGB, "samsung", "SM-J327T1", 1.9, 40),
    "pixel_IMG_20180725_163423_tiny.jpg": (1012, 759, ColorSpace.SRGB, "Google", "Pixel", 2.0, 50),
    "iphone_15_pro.heic": (3024, 4032, ColorSpace.DISPLAY_P3, "Apple", "iPhone 15 Pro", 2.2, 400),
    "iphone14promax.heic": (3024, 4032, ColorSpace.DISPLAY_P3, "Apple", "iPhone 14 Pro Max", 2.2, 2500),
    # no irot in the container: the EXIF orientation (6) is applied by open_photo
    "iphone_7.heic": (3024, 4032, ColorSpace.DISPLAY_P3, "Apple", "iPhone 7", 1.8, 20),
    "samsung_galaxy_s24fe.heic": (1848, 4000, ColorSpace.DISPLAY_P3, "samsung", "Galaxy S24 FE", 1.8, 250),
}


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> Path:
    return shared_data / "photos"


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_real_photos(photos: Path, name: str) -> None:
    w, h, space, make, model, fnum, iso = PHOTOS[name]
    img = open_photo(photos / name)
    assert isinstance(img, Image)
    assert (img.width, img.height) == (w, h)
    assert img.data.dtype == np.float32 and img.data.flags.c_contiguous
    assert 0.0 <= img.data.min() and img.data.max() <= 1.0 and img.data.std() > 0.02
    assert img.space is space and img.encoding is Encoding.SRGB and img.referred is Referred.DISPLAY
    m = img.metadata
    assert m.make == make and m.model == model
    assert m.f_number == pytest.approx(fnum, abs=0.01) and m.iso == pytest.approx(iso)
    assert m.exposure_time and m.exposure_time > 0 and m.focal_length and m.datetime_original
    assert m.orientation == 1
    assert m.extra["exif_bytes"].startswith(b"Exif\0\0")
    assert img.source and img.source.endswith(name)


def test_iphone15_lens_and_gps(photos: Path) -> None:
    m = open_photo(photos / "iphone_15_pro.heic").metadata
    assert "iPhone 15 Pro" in (m.lens or "")
    assert m.gps is not None and m.gps.latitude == pytest.approx(52.4596, abs=1e-3)
    assert m.extra.get("icc_space") == "p3" and m.extra["icc"]


def test_exif_orientation_applied(photos: Path) -> None:
    p = photos / "samsung_sm-j327t1.jpg"
    pil = PILImage.open(p)
    assert pil.getexif()[0x0112] == 6 and pil.size == (2576, 1932)
    want = np.asarray(ImageOps.exif_transpose(pil)).astype(np.float32) / 255
    got = open_photo(p).data
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-6


def test_heic_without_container_rotation_is_turned_upright(photos: Path) -> None:
    from rawlux.io.photo import heif_has_transform

    assert heif_has_transform(photos / "iphone_15_pro.heic")
    assert not heif_has_transform(photos / "iphone_7.heic")
    d = open_photo(photos / "iphone_7.heic").data
    top, bottom = d[: d.shape[0] // 5], d[-d.shape[0] // 5 :]
    # the sky (blue, bright) is at the top once upright
    assert top[..., 2].mean() > bottom[..., 2].mean() + 0.1
    assert (top[..., 2] - top[..., 0]).mean() > 0.1


def test_same_pixels_as_pillow(photos: Path) -> None:
    p = photos / "IMG_4120.JPG"
    want = np.asarray(PILImage.open(p).convert("RGB")).astype(np.float32) / 255
    assert np.abs(open_photo(p).data - want).max() < 1e-6


def test_save_then_open_carries_source_exif_and_icc(photos: Path, tmp_path: Path) -> None:
    import pyexiv2

    src = open_photo(photos / "iphone_15_pro.heic")
    small = src.with_data(np.ascontiguousarray(src.data[::8, ::8]))
    out = save(small, tmp_path / "framed.jpg", protect=[photos / "iphone_15_pro.heic"])
    with pyexiv2.Image(str(out)) as im:
        e = im.read_exif()
        icc = im.read_icc()
    assert icc == src.metadata.extra["icc"]  # Apple's own Display P3 profile kept
    assert e["Exif.Image.Model"] == "iPhone 15 Pro"
    assert "iPhone 15 Pro" in e["Exif.Photo.LensModel"]
    assert int(e["Exif.Image.Orientation"]) == 1
    assert int(e["Exif.Photo.PixelXDimension"]) == small.width
    back = open_photo(out)
    assert back.space is ColorSpace.DISPLAY_P3 and back.metadata.model == "iPhone 15 Pro"
    assert np.abs(back.data - small.data).mean() < 0.02


def test_sixteen_bit_png_keeps_precision(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.random((20, 30, 3), dtype=np.float32)
    img = Image(data, ColorSpace.DISPLAY_P3, Encoding.SRGB, Referred.DISPLAY)
    for ext in ("png", "tif"):
        back = open_photo(save(img, tmp_path / f"a.{ext}", bit_depth=16))
        assert back.space is ColorSpace.DISPLAY_P3
        assert np.abs(back.data - data).max() <= 0.51 / 65535 + 1e-7


@pytest.mark.parametrize("code", range(1, 9))
def test_orientation_codes_on_files(tmp_path: Path, code: int) -> None:
    rng = np.random.default_rng(code)
    a = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    ex = build_exif(Metadata(orientation=code), 9, 6, ColorSpace.SRGB)
    p = tmp_path / f"o{code}.png"
    PILImage.fromarray(a).save(p, exif=ex)
    want = np.asarray(ImageOps.exif_transpose(PILImage.open(p))).astype(np.float32) / 255
    img = open_photo(p)
    assert img.metadata.orientation == 1
    np.testing.assert_array_equal(img.data, want)


def test_foreign_icc_converted_to_srgb(tmp_path: Path) -> None:
    """A P3 profile with a 1.8 gamma curve is neither sRGB nor Display P3: pixels are converted."""
    icc = bytearray(profile_bytes(ColorSpace.DISPLAY_P3))
    i = bytes(icc).index(b"para")
    icc[i + 8 : i + 10] = struct.pack(">H", 0)  # function type 0: pure gamma
    icc[i + 12 : i + 16] = struct.pack(">i", int(1.8 * 65536))
    icc[84:100] = b"\0" * 16
    v = np.array([[[200, 30, 40], [20, 180, 60], [128, 128, 128]]], np.uint8)
    p = tmp_path / "foreign.png"
    PILImage.fromarray(v).save(p, icc_profile=bytes(icc))
    img = open_photo(p)
    assert img.space is ColorSpace.SRGB
    from rawlux.color.spaces import rgb_to_rgb64
    from rawlux.color.transfer import srgb_oetf

    lin = (v / 255.0) ** 1.8 @ rgb_to_rgb64(ColorSpace.DISPLAY_P3, ColorSpace.SRGB).T
    want = srgb_oetf(np.clip(lin, 0, 1))
    assert np.abs(img.data - want).max() <= 2.5 / 255
    assert "icc_space" not in img.metadata.extra  # the original profile no longer describes the pixels


def test_grey_alpha_and_palette_modes(tmp_path: Path) -> None:
    g = np.arange(0, 256, 16, dtype=np.uint8).reshape(4, 4)
    PILImage.fromarray(g, "L").save(tmp_path / "g.png")
    img = open_photo(tmp_path / "g.png")
    assert img.data.shape == (4, 4, 3)
    np.testing.assert_allclose(img.data[..., 1], g / 255.0, atol=1e-6)
    rgba = np.dstack([np.full((3, 3, 3), 200, np.uint8), np.full((3, 3), 10, np.uint8)])
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "a.webp", lossless=True)
    assert open_photo(tmp_path / "a.webp").data == pytest.approx(200 / 255, abs=1e-6)
    PILImage.fromarray(g, "L").convert("P").save(tmp_path / "p.png")
    assert open_photo(tmp_path / "p.png").data.shape == (4, 4, 3)


def test_bad_inputs(tmp_path: Path, photos: Path, raw_dir: Path) -> None:
    with pytest.raises(MissingInput, match="does not exist"):
        open_photo(tmp_path / "nope.jpg")
    with pytest.raises(MissingInput):
        open_photo(tmp_path)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(CorruptInput, match="empty"):
        open_photo(tmp_path / "empty.jpg")
    (tmp_path / "rand.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CorruptInput, match="rand.jpg"):
        open_photo(tmp_path / "rand.jpg")
    (tmp_path / "notes.jpg").write_text("hello, this is text")
    with pytest.raises(UnsupportedInput, match="text file"):
        open_photo(tmp_path / "notes.jpg")
    data = (photos / "iphone6.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(CorruptInput, match="trunc.jpg"):
        open_photo(tmp_path / "trunc.jpg")
    heic = (photos / "iphone_7.heic").read_bytes()
    (tmp_path / "trunc.heic").write_bytes(heic[: len(heic) // 2])
    with pytest.raises(CorruptInput, match="trunc.heic"):
        open_photo(tmp_path / "trunc.heic")
    with pytest.raises(UnsupportedInput, match="raw DNG"):
        open_photo(raw_dir / "canon_eos_6d.dng")


def test_absurd_dimensions_rejected_before_decoding(tmp_path: Path) -> None:
    # A PNG whose IHDR claims 60000 x 60000 (3.6 GP) but carries almost no data.
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")
    (tmp_path / "huge.png").write_bytes(png)
    with pytest.raises(ImageTooLarge, match="huge.png"):
        open_photo(tmp_path / "huge.png")


def test_metadata_fallback_parser_reads_our_exif() -> None:
    import datetime as dt

    from rawlux.core.image import GPS

    m = Metadata(make="X", model="Y", lens="L", exposure_time=0.5, f_number=1.8, iso=100,
                 focal_length=5.4, focal_length_35mm=23, orientation=8,
                 datetime_original=dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                 gps=GPS(-33.8568, 151.2153, -4.0))
    back = metadata_from_exif(build_exif(m, 1, 1, ColorSpace.SRGB))
    assert (back.make, back.model, back.lens, back.orientation) == ("X", "Y", "L", 8)
    assert back.exposure_time == 0.5 and back.f_number == 1.8 and back.iso == 100
    assert back.focal_length == pytest.approx(5.4) and back.focal_length_35mm == 23
    assert back.datetime_original == m.datetime_original
    assert back.gps.latitude == pytest.approx(-33.8568, abs=1e-6)
    assert back.gps.longitude == pytest.approx(151.2153, abs=1e-6)
    assert back.gps.altitude == pytest.approx(-4.0)


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "heic", "avif", "webp"])
def test_save_open_round_trip_all_formats(tmp_path: Path, ext: str) -> None:
    import datetime as dt

    yy, xx = np.mgrid[0:40, 0:56]
    data = np.stack([xx / 55, yy / 39, np.full(xx.shape, 0.4)], -1).astype(np.float32)
    meta = Metadata(make="Make", model="Model", iso=800, f_number=2.8, orientation=1,
                    datetime_original=dt.datetime(2021, 2, 3, 4, 5, 6))
    img = Image(data, ColorSpace.DISPLAY_P3, Encoding.SRGB, Referred.DISPLAY, metadata=meta)
    back = open_photo(save(img, tmp_path / f"r.{ext}", quality=95))
    assert back.space is ColorSpace.DISPLAY_P3 and back.data.shape == data.shape
    assert np.abs(back.data - data).mean() < 0.01
    m = back.metadata
    assert (m.make, m.model, m.iso, m.f_number) == ("Make", "Model", 800, 2.8)
    assert m.datetime_original.replace(tzinfo=None) == dt.datetime(2021, 2, 3, 4, 5, 6)


def test_real_source_exif_survives_save(photos: Path, tmp_path: Path) -> None:
    """Every EXIF tag of a real photo survives open_photo -> save, except the old thumbnail and
    the tags that must describe the new file (software, pixel dimensions, IFD offsets)."""
    import pyexiv2

    src = photos / "iphone6.jpg"
    img = open_photo(src)
    out = save(img.with_data(np.ascontiguousarray(img.data[::4, ::4])), tmp_path / "s.jpg", protect=[src])
    with pyexiv2.Image(str(src)) as m:
        before = m.read_exif()
    with pyexiv2.Image(str(out)) as m:
        after = m.read_exif()
    lost = {k for k in before if k not in after}
    # the old thumbnail and SubjectArea (pixel coordinates in the old frame) are dropped on purpose
    assert lost and all(k.startswith("Exif.Thumbnail.") or k == "Exif.Photo.SubjectArea" for k in lost)
    changed = {k for k in before if k in after and before[k] != after[k]}
    expected = {"Exif.Image.Software", "Exif.Photo.PixelXDimension", "Exif.Photo.PixelYDimension",
                "Exif.Image.ExifTag", "Exif.Image.GPSTag", "Exif.GPSInfo.GPSTimeStamp"}
    assert changed <= expected, changed - expected
    assert int(after["Exif.Photo.PixelXDimension"]) == 816
