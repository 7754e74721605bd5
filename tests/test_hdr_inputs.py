"""Gain maps of input photos: read (Ultra HDR, Adobe, Apple JPEG/HEIC), shown by ``rawlux info``,
kept through ``rawlux frame`` (the map moves with the photo; margins get no gain)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from rawlux.core.gainmap import GainMap, GainMapMetadata
from rawlux.hdr.edit import frame_gainmap, warp_gainmap
from rawlux.hdr.gainmap import gain_stops
from rawlux.hdr.render import gainmap_of
from rawlux.io.gainmap import read_gainmap, read_jpeg_gainmap
from rawlux.io.photo import open_photo

imagecodecs = pytest.importorskip("imagecodecs")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rawlux_launcher", *args], capture_output=True,
                          text=True, timeout=300)


def test_open_photo_keeps_the_gain_map(shared_data: Path) -> None:
    img = open_photo(shared_data / "ultrahdr" / "libavif_seine_sdr_gainmap_srgb.jpg")
    gm = gainmap_of(img)
    assert gm is not None and gm.meta.channels == 3 and gm.data.shape == (300, 400, 3)
    assert gainmap_of(open_photo(shared_data / "photos" / "IMG_4120.JPG")) is None


def test_apple_heic_gain_map(shared_data: Path) -> None:
    found = read_gainmap(shared_data / "photos" / "iphone_15_pro.heic")
    assert found is not None and found.kind == "apple"
    assert found.details["headroom_ratio"] == pytest.approx(3.847906)
    assert found.gainmap.data.shape == (2016, 1512)
    stops = gain_stops(found.gainmap)
    assert 0.0 <= stops.min() and stops.max() <= np.log2(3.847906) + 1e-6
    assert read_gainmap(shared_data / "photos" / "iphone_7.heic") is None


def test_warp_moves_the_map_and_margins_get_no_gain() -> None:
    meta = GainMapMetadata((0.0,), (2.0,), (1.0,), (0.0,), (0.0,), 0.0, 2.0)
    data = np.zeros((25, 50), np.uint8)
    data[10:15, 20:30] = 255  # a 2-stop highlight block in the map
    gm = GainMap(data, meta)
    out = frame_gainmap(gm, (100, 200), (180, 260), top=40, left=30)
    s = gain_stops(out)[..., 0]
    assert s.shape == (45, 65)
    assert np.abs(s[:8]).max() < 1e-6 and np.abs(s[-5:]).max() < 1e-6  # margins: 0 stops
    # the highlight block (base px y 40..60, x 80..120) lands at y 80..100, x 110..150
    assert s[22, 32] == pytest.approx(2.0, abs=0.02) and s[10, 10] == pytest.approx(0.0, abs=1e-6)
    half = warp_gainmap(gm, (100, 200), (50, 100), scale=0.5)
    assert gain_stops(half).shape[:2] == (13, 25)


def test_frame_cli_keeps_ultrahdr(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ultrahdr" / "libavif_seine_sdr_gainmap_srgb.jpg"
    out = tmp_path / "framed.jpg"
    r = _cli("frame", str(src), "-o", str(out))
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    found = read_jpeg_gainmap(data)
    assert found is not None and found.kind == "ultrahdr" and found.gainmap.meta.channels == 3
    assert imagecodecs.ultrahdr_check(data)
    hdr = imagecodecs.ultrahdr_decode(data).astype(np.float32)[..., :3]
    base = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255
    w, h = PILImage.open(src).size
    H, W = base.shape[:2]
    assert (W, H) != (w, h)
    # the bottom caption bar: HDR == SDR (no gain); the photo's bright sky: gain restored
    from rawlux.color.transfer import srgb_eotf

    bar = (slice(H - 8, H - 2), slice(4, W - 4))
    assert np.abs(np.log2((hdr[bar] + 0.02) / (srgb_eotf(base[bar]) + 0.02))).max() < 0.1
    assert float(np.max(hdr)) > 1.5  # the photo keeps headroom over SDR white


def test_info_shows_gain_maps(shared_data: Path) -> None:
    r = _cli("info", str(shared_data / "ultrahdr" / "ccby4_pixel6pro_ultrahdr_01_parking_clouds.jpg"),
             "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows["gain map"].startswith("Ultra HDR") and "1020x768" in rows["gain map"]
    assert "2.657" in rows["gain min/max (stops)"]
    r = _cli("info", str(shared_data / "photos" / "iphone6.jpg"), "--json")
    assert json.loads(r.stdout)["gain map"] == "none"


def test_portrait_cli_keeps_ultrahdr_and_blurs_the_map(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ultrahdr" / "libavif_seine_sdr_gainmap_srgb.jpg"
    out = tmp_path / "portrait.jpg"
    r = _cli("portrait", str(src), "-o", str(out), "--subject", "none", "--focus", "0.5,0.9",
             "--aperture", "1.4", "--lens", "90")
    assert r.returncode == 0, r.stderr
    found = read_jpeg_gainmap(out.read_bytes())
    assert found is not None and imagecodecs.ultrahdr_check(out.read_bytes())
    before = gain_stops(read_jpeg_gainmap(src.read_bytes()).gainmap)
    after = gain_stops(found.gainmap)
    assert after.shape == before.shape

    # the HDR rendition of the result (libultrahdr) keeps the light of the input's HDR rendition
    # where the lens blurs (bokeh moves light, it does not remove it) ...
    sdr_in = np.asarray(PILImage.open(src).convert("RGB"), np.float32) / 255
    sdr_out = np.asarray(PILImage.open(out).convert("RGB"), np.float32) / 255
    from rawlux.color.transfer import srgb_eotf
    from rawlux.hdr.gainmap import apply_gainmap

    h_in = apply_gainmap(srgb_eotf(sdr_in).astype(np.float32), read_jpeg_gainmap(src.read_bytes()).gainmap)
    h_out = imagecodecs.ultrahdr_decode(out.read_bytes()).astype(np.float32)[..., :3]
    top = (slice(0, 120), slice(None))
    assert abs(float(h_out[top].mean()) / float(h_in[top].mean()) - 1.0) < 0.1
    assert float(h_out[top].mean()) > 1.2 * float(srgb_eotf(sdr_out)[top].mean())  # still HDR
    # ... and the focused bottom keeps its gains
    assert np.median(np.abs(after[-30:] - before[-30:])) < 0.15


def test_broken_gain_maps_never_block_the_photo(shared_data: Path, tmp_path: Path) -> None:
    import warnings

    data = (shared_data / "ultrahdr" / "libavif_seine_sdr_gainmap_srgb.jpg").read_bytes()
    found = read_jpeg_gainmap(data)
    start = found.details["offset"]
    cases = {
        "cut_map.jpg": data[:start + 200],  # gain map image truncated
        "bad_mpf.jpg": data.replace(b"MPF\0", b"MPF\0\xff\xff", 1)[:len(data)],  # garbled MPF
        "bad_iso.jpg": data[:start] + data[start:].replace(b"hdrgm:GainMapMax", b"hdrgm:GainMapMaz"),
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = open_photo(p)
        assert img.width == 400 and img.height == 300, name


def test_avif_tmap_metadata_matches_the_jpeg_twin(shared_data: Path) -> None:
    from rawlux.io.gainmap import read_tmap_metadata

    d = shared_data / "ultrahdr"
    jpeg = read_jpeg_gainmap((d / "libavif_seine_sdr_gainmap_srgb.jpg").read_bytes()).gainmap.meta
    sdr = read_tmap_metadata((d / "libavif_seine_sdr_gainmap_srgb.avif").read_bytes())
    hdr = read_tmap_metadata((d / "libavif_seine_hdr_gainmap_srgb.avif").read_bytes())
    assert sdr is not None and not sdr.base_is_hdr and hdr is not None and hdr.base_is_hdr
    for f in ("gain_min", "gain_max", "gamma", "offset_sdr", "offset_hdr"):
        assert np.allclose(getattr(sdr, f), getattr(jpeg, f), atol=1e-5), f
    assert sdr.capacity_max == pytest.approx(jpeg.capacity_max, abs=1e-5)
    assert read_tmap_metadata((shared_data / "photos" / "iphone_7.heic").read_bytes()) is None
    r = _cli("info", str(d / "libavif_seine_sdr_gainmap_srgb.avif"), "--json")
    assert r.returncode == 0 and "tmap" in json.loads(r.stdout)["gain map"]
