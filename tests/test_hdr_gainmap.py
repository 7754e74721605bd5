"""Gain-map maths and the Ultra HDR JPEG byte layout, checked with independent readers
(libultrahdr via imagecodecs, exiftool) and on real gain-map JPEGs."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from rawlux.color.transfer import srgb_eotf, srgb_oetf
from rawlux.core.errors import CorruptInput
from rawlux.core.gainmap import GainMapMetadata
from rawlux.hdr.gainmap import (GainMapParams, apply_gainmap, downsample, encode_gainmap,
                                hdr_rendition, shoulder)
from rawlux.io.gainmap import (assemble_ultrahdr, iso_metadata, jpeg_segments, parse_hdrgm_xmp,
                               parse_iso_metadata, read_jpeg_gainmap, xmp_gainmap, ISO_NS)

imagecodecs = pytest.importorskip("imagecodecs")


def _scene(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(sdr linear, hdr linear): an exposure ramp 1/8 .. 8 with a red top half; SDR = Reinhard."""
    x = np.linspace(0, 1, w, dtype=np.float32)
    hdr = np.repeat(np.repeat((2 ** (x * 6 - 3))[None, :, None], h, 0), 3, 2).astype(np.float32)
    hdr[: h // 2, :, 1:] *= 0.4
    y = hdr @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    sdr = hdr * (1.0 / (1.0 + y))[..., None]
    return np.clip(sdr, 0, 1).astype(np.float32), hdr


def _stops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.log2((a + 1e-3) / (b + 1e-3)))


@pytest.mark.parametrize("channels", ["1", "3"])
def test_encode_apply_round_trip(channels: str) -> None:
    sdr, hdr = _scene()
    gm = encode_gainmap(sdr, hdr, GainMapParams(channels=channels))
    assert gm.meta.channels == int(channels)
    back = apply_gainmap(sdr, gm)
    yb = back @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    yh = hdr @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert np.percentile(_stops(yb, yh), 99) < 0.03  # 8-bit quantisation of a <= 4 stop range
    if channels == "3":  # colour restored per channel
        assert np.percentile(_stops(back, hdr), 99) < 0.03
    # a display with no headroom shows the SDR base; half the capacity shows half the stops
    assert np.allclose(apply_gainmap(sdr, gm, display_headroom=0.0), sdr, atol=1e-5)
    half = apply_gainmap(sdr, gm, display_headroom=gm.meta.capacity_max / 2)
    assert np.all(half[..., 1] <= back[..., 1] + 1e-4) and np.all(half[..., 1] >= sdr[..., 1] - 1e-4)


def test_auto_channels_follow_colour() -> None:
    sdr, hdr = _scene()
    assert encode_gainmap(sdr, hdr).meta.channels == 3  # SDR desaturates the red highlights
    grey = np.repeat(hdr[..., 1:2], 3, 2)
    ys = grey[..., :1] / (1 + grey[..., :1])
    assert encode_gainmap(np.repeat(ys, 3, 2), grey).meta.channels == 1


def _ultrahdr_bytes(sdr: np.ndarray, hdr: np.ndarray, channels: str, exif: bytes | None = None,
                    icc: bytes | None = None) -> tuple[bytes, object]:
    from rawlux.io.gainmap import write_ultrahdr
    from rawlux.io.write import _write_jpeg

    gm = encode_gainmap(downsample(sdr, sdr.shape[0] // 4, sdr.shape[1] // 4),
                        downsample(hdr, hdr.shape[0] // 4, hdr.shape[1] // 4),
                        GainMapParams(channels=channels))
    bgr = np.ascontiguousarray(np.rint(srgb_oetf(sdr) * 255).astype(np.uint8)[..., ::-1])
    primary, buf = io.BytesIO(), io.BytesIO()
    _write_jpeg("jpeg", bgr, primary, 95, icc, exif)
    write_ultrahdr(primary.getvalue(), buf, gm)
    return buf.getvalue(), gm


@pytest.mark.parametrize("channels", ["1", "3"])
def test_ultrahdr_jpeg_decodes_with_libultrahdr(channels: str) -> None:
    sdr, hdr = _scene(192, 256)
    data, gm = _ultrahdr_bytes(sdr, hdr, channels)
    assert imagecodecs.ultrahdr_check(data)
    dec = imagecodecs.ultrahdr_decode(data).astype(np.float32)[..., :3]
    ref = apply_gainmap(srgb_eotf(np.rint(srgb_oetf(sdr) * 255) / 255).astype(np.float32), gm)
    y = np.array([0.2126, 0.7152, 0.0722], np.float32)
    inner = (slice(8, -8), slice(8, -8))
    # libultrahdr's HDR rendition == the one our maths defines, and == the target HDR
    assert np.median(_stops(dec[inner] @ y, ref[inner] @ y)) < 0.05
    assert np.percentile(_stops(dec[inner] @ y, hdr[inner] @ y), 95) < 0.15
    # SDR decode of the same file is the base image
    sdr8 = imagecodecs.ultrahdr_decode(data, dtype=np.uint8)[..., :3].astype(int)
    base = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB")).astype(int)
    assert np.abs(sdr8 - base).mean() < 2.0


def test_metadata_round_trip_xmp_and_iso() -> None:
    sdr, hdr = _scene()
    gm = encode_gainmap(sdr, hdr, GainMapParams(channels="3", gamma=1.5))
    assert parse_hdrgm_xmp(xmp_gainmap(gm.meta).decode()) == gm.meta
    iso = iso_metadata(gm.meta)
    assert iso.startswith(ISO_NS)
    back = parse_iso_metadata(iso[len(ISO_NS):])
    for f in ("gain_min", "gain_max", "gamma", "offset_sdr", "offset_hdr"):
        assert np.allclose(getattr(back, f), getattr(gm.meta, f), atol=1e-6), f
    assert back.capacity_max == pytest.approx(gm.meta.capacity_max, abs=1e-6)
    with pytest.raises(CorruptInput):
        parse_iso_metadata(iso[len(ISO_NS):][:20])


def test_file_layout_keeps_exif_icc_and_has_every_block() -> None:
    from rawlux.io.icc import profile_bytes
    from rawlux.core.image import ColorSpace

    icc = profile_bytes(ColorSpace.DISPLAY_P3)
    exif = PILImage.Exif()
    exif[0x010F] = "rawlux-test-make"
    sdr, hdr = _scene()
    data, gm = _ultrahdr_bytes(sdr, hdr, "1", exif=exif.tobytes(), icc=icc)
    segs = jpeg_segments(data)
    kinds = [s.payload[:12] for s in segs if 0xE0 <= s.marker <= 0xEF]
    assert any(k.startswith(b"Exif") for k in kinds) and any(k.startswith(b"ICC_PROFILE") for k in kinds)
    assert any(k.startswith(b"MPF\0") for k in kinds)
    assert any(s.payload.startswith(ISO_NS) for s in segs)
    xmp = b"".join(s.payload for s in segs if s.payload.startswith(b"http://ns.adobe.com/xap"))
    assert b'hdrgm:Version="1.0"' in xmp and b'Item:Semantic="GainMap"' in xmp
    pil = PILImage.open(io.BytesIO(data))
    assert pil.info["icc_profile"] == icc and pil.getexif()[0x010F] == "rawlux-test-make"
    found = read_jpeg_gainmap(data)
    assert found is not None and found.kind == "ultrahdr" and found.details["iso"]
    assert found.gainmap.meta == gm.meta
    assert np.abs(found.gainmap.data.astype(int) - gm.data).max() <= 3


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_exiftool_reads_hdrgm_and_mpf(tmp_path: Path) -> None:
    sdr, hdr = _scene()
    data, gm = _ultrahdr_bytes(sdr, hdr, "1")
    p = tmp_path / "u.jpg"
    p.write_bytes(data)
    out = subprocess.run(["exiftool", "-s", "-XMP-hdrgm:Version", "-MPF:NumberOfImages",
                          "-MPImageLength", str(p)], capture_output=True, text=True).stdout
    assert "1.0" in out and "NumberOfImages                  : 2" in out
    mp = subprocess.run(["exiftool", "-b", "-MPImage2", str(p)], capture_output=True).stdout
    inner = subprocess.run(["exiftool", "-s", "-XMP-hdrgm:GainMapMax", "-"], input=mp,
                           capture_output=True).stdout.decode()
    assert f"{gm.meta.gain_max[0]:g}"[:4] in inner


def test_reads_libultrahdr_iso_only_files() -> None:
    """libultrahdr 1.4 writes ISO 21496-1 only: our reader and decoder agree with it."""
    x = np.linspace(0, 1, 96, dtype=np.float32)
    h = np.ones((64, 96, 4), np.float16)
    h[..., :3] = (2 ** (x * 5 - 2))[None, :, None]
    data = imagecodecs.ultrahdr_encode(h)
    found = read_jpeg_gainmap(data)
    assert found is not None and found.kind == "iso"
    base = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255
    ours = apply_gainmap(srgb_eotf(base).astype(np.float32), found.gainmap)
    theirs = imagecodecs.ultrahdr_decode(data).astype(np.float32)[..., :3]
    y = np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert np.median(_stops(ours @ y, theirs @ y)) < 0.1


def test_real_gainmap_jpegs(shared_data: Path) -> None:
    d = shared_data / "ultrahdr"
    pixel = read_jpeg_gainmap((d / "ccby4_pixel6pro_ultrahdr_01_parking_clouds.jpg").read_bytes())
    assert pixel.kind == "ultrahdr" and pixel.gainmap.data.shape == (768, 1020)
    assert pixel.gainmap.meta.gain_max[0] == pytest.approx(2.656715)
    seine = read_jpeg_gainmap((d / "libavif_seine_sdr_gainmap_srgb.jpg").read_bytes())
    assert seine.gainmap.meta.channels == 3 and seine.gainmap.data.shape == (300, 400, 3)
    assert seine.gainmap.meta.gamma == pytest.approx((0.953784, 0.941095, 0.919422))
    paris = read_jpeg_gainmap((d / "libavif_paris_exif_xmp_gainmap_littleendian.jpg").read_bytes())
    assert paris is not None and paris.gainmap.data.shape[:2] == (384, 512)
    for name in ("libavif_apple_gainmap_new.jpg", "libavif_apple_gainmap_old.jpg"):
        apple = read_jpeg_gainmap((d / name).read_bytes())
        assert apple is not None and apple.kind == "apple", name
        assert apple.gainmap.data.shape[:2] == (256, 192)


def test_hdr_rendition_keeps_midtones_and_restores_highlights() -> None:
    k = np.arange(-4, 4, dtype=np.float32)  # stops around mid grey 0.18
    scene = np.repeat((0.18 * 2 ** k)[None, :, None], 3, 2).repeat(8, 0)
    sdr = np.clip(scene / (1 + scene), 0, 1) * 1.4  # a look: brighter midtones, rolled-off top
    sdr = np.clip(sdr, 0, 1).astype(np.float32)
    out, head = hdr_rendition(scene.astype(np.float32), sdr, None)
    assert 0.5 < head <= 3.0
    assert np.allclose(out[:, :4], sdr[:, :4], atol=1e-6)  # midtones keep the look exactly
    ratio = out[0, 6:, 1] / out[0, 5, 1]  # highlights follow the scene's radiance
    assert np.all(np.abs(np.log2(ratio) - (k[6:] - k[5])) < 0.5)
    assert shoulder(np.array([100.0], np.float32), 4.0)[0] < 4.0
    out3, head3 = hdr_rendition(scene.astype(np.float32), sdr, 1.0)
    assert head3 == 1.0 and out3.max() < 2.0 + 1e-5


@pytest.mark.parametrize("shape", [(203, 301), (64, 96), (5, 7), (3, 3)])
def test_block_mean_is_the_exact_block_average(shape: tuple[int, int]) -> None:
    from rawlux.hdr.gainmap import block_mean

    a = np.random.default_rng(1).random((*shape, 3), dtype=np.float32)
    b = block_mean(a, 4, band=8)  # several bands, partial edge blocks
    ref = np.array([[a[i * 4:i * 4 + 4, j * 4:j * 4 + 4].reshape(-1, 3).mean(0)
                     for j in range(b.shape[1])] for i in range(b.shape[0])])
    assert np.allclose(b, ref, atol=1e-6)
    assert np.allclose(block_mean(a, 4, transform=srgb_eotf), block_mean(srgb_eotf(a), 4), atol=1e-6)
