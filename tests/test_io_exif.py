"""read_metadata on real phone photos (JPEG/HEIC) and raws, with and without exiv2."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawlux.core.errors import MissingInput
from rawlux.io import exif
from rawlux.io.exif import _dms, _num, read_metadata

# (file, make, model, exposure s, f-number, ISO, focal mm, 35 mm, lens substring, orientation) per README
EXPECTED = [
    (
        "iphone14promax.heic",
        "Apple",
        "iPhone 14 Pro Max",
        1 / 4,
        2.2,
        2500,
        2.22,
        24,
        "2.22mm f/2.2",
        1,
    ),
    ("iphone6.jpg", "Apple", "iPhone 6", 1 / 40, 2.2, 32, 4.15, 29, "iPhone 6 back camera", 1),
    ("samsung_galaxy_s24fe.heic", "samsung", "Galaxy S24 FE", 1 / 100, 1.8, 250, 5.4, 23, None, 6),
    ("samsung_sm-j327t1.jpg", "samsung", "SM-J327T1", None, 1.9, None, None, None, None, None),
    ("IMG_4120.JPG", "Apple", "iPhone SE", None, 2.2, 25, 4.15, 29, "iPhone SE", 1),
    ("pixel_IMG_20180725_163423_tiny.jpg", "Google", "Pixel", None, 2.0, None, None, None, None, 1),
    (
        "iphone_15_pro.heic",
        "Apple",
        "iPhone 15 Pro",
        1 / 60,
        2.2,
        400,
        2.22,
        14,
        "iPhone 15 Pro",
        1,
    ),
    ("iphone_7.heic", "Apple", "iPhone 7", 1 / 4000, 1.8, 20, 3.99, 74, "3.99mm", 6),
]


def _check(md, row):
    _, make, model, t, f, iso, focal, f35, lens, orient = row
    assert md.make == make and md.model == model
    if t is not None:
        assert md.exposure_time == pytest.approx(t, rel=1e-6)
    else:
        assert md.exposure_time and md.exposure_time > 0
    assert md.f_number == pytest.approx(f)
    if iso is not None:
        assert md.iso == iso
    if focal is not None:
        assert md.focal_length == pytest.approx(focal) and md.focal_length_35mm == f35
    if lens is not None:
        assert lens in md.lens
    if orient is not None:
        assert md.orientation == orient
    assert isinstance(md.datetime_original, dt.datetime)


@pytest.mark.parametrize("row", EXPECTED, ids=[r[0] for r in EXPECTED])
def test_phone_photos(shared_data, row):
    _check(read_metadata(shared_data / "photos" / row[0]), row)


@pytest.mark.parametrize("row", EXPECTED, ids=[r[0] for r in EXPECTED])
def test_pillow_fallback_gives_the_same(shared_data, row, monkeypatch):
    monkeypatch.setattr(exif, "_read_exiv2", lambda p: None)
    _check(read_metadata(shared_data / "photos" / row[0]), row)


def test_gps_signs_and_values(shared_data):
    g = read_metadata(shared_data / "photos" / "iphone6.jpg").gps
    # 51 deg 45' 44.67" N, 0 deg 19' 4.41" W
    assert g.latitude == pytest.approx(51 + 45 / 60 + 44.67 / 3600)
    assert g.longitude == pytest.approx(-(19 / 60 + 4.41 / 3600))
    assert g.altitude == pytest.approx(27704 / 249)


def test_raw_and_no_metadata_files(raw_dir, shared_data, tmp_path):
    md = read_metadata(raw_dir / "nikon_d1.nef")
    assert md.make == "NIKON CORPORATION" and md.iso == 200 and md.focal_length == 20
    empty = read_metadata(raw_dir / "nokia_n900_bayer_small.png")
    assert empty.make is None and empty.orientation == 1
    assert read_metadata(shared_data / "depth" / "depthy_hut_depth.jpg").make is None
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe1garbage")
    assert read_metadata(tmp_path / "junk.jpg").make is None
    with pytest.raises(MissingInput):
        read_metadata(tmp_path / "absent.jpg")


def test_heif_orientation_matches_decoded_pixels(shared_data):
    """Rotation already applied by libheif (decoded size transposed vs EXIF size) -> 1."""
    from PIL import Image
    import pillow_heif

    pillow_heif.register_heif_opener()
    for name in ("iphone14promax.heic", "iphone_7.heic"):
        md = read_metadata(shared_data / "photos" / name)
        with Image.open(shared_data / "photos" / name) as im:
            w, h = im.size
        portrait_after = (h > w) != (md.orientation in (5, 6, 7, 8))
        assert portrait_after  # both are portrait shots once the orientation is applied
    assert (
        read_metadata(shared_data / "photos" / "iphone14promax.heic").extra["exif_orientation"] == 6
    )


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_rational_strings(n, d):
    assert _num(f"{n}/{d}") == pytest.approx(n / d)


@given(st.integers(0, 89), st.integers(0, 59), st.integers(0, 5999))
def test_dms_strings(d, m, s100):
    assert _dms(f"{d}/1 {m}/1 {s100}/100") == pytest.approx(d + m / 60 + s100 / 360000)
