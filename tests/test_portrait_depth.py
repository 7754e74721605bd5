"""Depth sources: GDepth XMP (incl. extended XMP), Dynamic Depth, --depth pictures, cues."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from rawlux.core.errors import CorruptInput, InvalidParameter, MissingInput
from rawlux.io.depth import (
    EXT_SIG,
    XMP_SIG,
    jpeg_xmp,
    orient_depth,
    read_depth_image,
    read_embedded_depth,
    read_embedded_original,
)
from rawlux.portrait.depth import (
    DepthMap,
    decode_range,
    depth_from_cues,
    disparity_from_image,
    focus_disparity,
)

H, W = 96, 128


def _jpeg(rgb: np.ndarray, exif_orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    im = PILImage.fromarray(rgb)
    kw = {}
    if exif_orientation:
        ex = PILImage.Exif()
        ex[0x0112] = exif_orientation
        kw["exif"] = ex.tobytes()
    im.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


def _png(grey: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(grey).save(buf, "PNG")
    return buf.getvalue()


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def gdepth_jpeg(rgb: np.ndarray, depth_u8: np.ndarray, *, near: float, far: float,
                fmt: str = "RangeInverse", extended: bool = True, chunk: int = 150,
                focus: tuple[float, float] | None = (0.25, 0.5), orientation: int | None = None,
                shuffle: bool = True) -> bytes:
    """A JPEG carrying a GDepth depth PNG, split over out-of-order extended-XMP chunks."""
    data = base64.b64encode(_png(depth_u8)).decode()
    guid = "0123456789ABCDEF0123456789ABCDEF"
    ns = ('xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/" '
          'xmlns:GFocus="http://ns.google.com/photos/1.0/focus/" '
          'xmlns:xmpNote="http://ns.adobe.com/xmp/note/"')
    focus_attr = (f'GFocus:FocalPointX="{focus[0]}" GFocus:FocalPointY="{focus[1]}" '
                  if focus else "")
    data_attr = "" if extended else f'GDepth:Data="{data}" '
    main = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            f'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            f'rdf:about="" {ns} GDepth:Format="{fmt}" GDepth:Near="{near}" GDepth:Far="{far}" '
            f'GDepth:Mime="image/png" {focus_attr}{data_attr}'
            f'{"xmpNote:HasExtendedXMP=" + chr(34) + guid + chr(34) if extended else ""}/>'
            f'</rdf:RDF></x:xmpmeta>').encode()
    segs = [_app1(XMP_SIG + main)]
    if extended:
        ext = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
               f'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
               f'rdf:about="" xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/" '
               f'GDepth:Data="{data}"/></rdf:RDF></x:xmpmeta>').encode()
        parts = [(off, ext[off:off + chunk]) for off in range(0, len(ext), chunk)]
        assert len(parts) >= 2
        if shuffle:
            parts = parts[::-1]
        for off, part in parts:
            segs.append(_app1(EXT_SIG + guid.encode() + struct.pack(">II", len(ext), off) + part))
    jpg = _jpeg(rgb, orientation)
    # insert after SOI (and after APP0/APP1-EXIF segments is not required)
    return jpg[:2] + b"".join(segs) + jpg[2:]


def _scene_rgb(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((H, W, 3)) * 255).astype(np.uint8)


def _half_depth() -> np.ndarray:
    d = np.full((H // 2, W // 2), 255, np.uint8)  # normalised depth 1 = far
    d[:, : W // 4] = 0  # left half near
    return d


def test_gdepth_extended_xmp_found(tmp_path: Path):
    p = tmp_path / "gdepth.jpg"
    p.write_bytes(gdepth_jpeg(_scene_rgb(), _half_depth(), near=2.0, far=50.0))
    x = jpeg_xmp(p.read_bytes())
    assert "GDepth:Data" in x.extended and "GDepth:Near" in x.main
    dm = read_embedded_depth(p)
    assert dm is not None and dm.source == "gdepth"
    assert dm.near == 2.0 and dm.far == 50.0 and dm.focus == (0.25, 0.5)
    d = dm.disparity
    assert d.shape == (H // 2, W // 2)
    np.testing.assert_allclose(d[:, : W // 4 - 1], 1 / 2.0, rtol=1e-5)  # v=1 -> near
    np.testing.assert_allclose(d[:, W // 4 + 1:], 1 / 50.0, rtol=1e-5)  # v=0 -> far


def test_gdepth_in_main_xmp_and_range_linear(tmp_path: Path):
    p = tmp_path / "lin.jpg"
    p.write_bytes(gdepth_jpeg(_scene_rgb(), _half_depth(), near=1.0, far=9.0, fmt="RangeLinear",
                              extended=False))
    d = read_embedded_depth(p).disparity
    np.testing.assert_allclose(d[0, 0], 1.0, rtol=1e-5)  # v=0 -> z = near = 1
    np.testing.assert_allclose(d[0, -1], 1 / 9.0, rtol=1e-5)  # v=1 -> z = far = 9


def test_gdepth_follows_exif_orientation(tmp_path: Path):
    p = tmp_path / "rot.jpg"
    p.write_bytes(gdepth_jpeg(_scene_rgb(), _half_depth(), near=2.0, far=50.0, orientation=6))
    dm = read_embedded_depth(p)
    assert dm.disparity.shape == (W // 2, H // 2)  # rotated 90 degrees like the photo
    assert dm.disparity[0, 0] > dm.disparity[-1, 0]  # left (near) half is now on top
    assert dm.focus == pytest.approx((0.5, 0.25))
    raw = read_embedded_depth(p, oriented=False)
    assert raw.disparity.shape == (H // 2, W // 2)


def test_gdepth_is_used_by_the_cli(tmp_path: Path):
    """End to end: the embedded map drives the blur (far half blurred, near half sharp)."""
    from rawlux.cli.portrait import run_portrait

    rgb = _scene_rgb(3)
    src = tmp_path / "in.jpg"
    src.write_bytes(gdepth_jpeg(rgb, _half_depth(), near=2.0, far=50.0, focus=(0.2, 0.5)))
    out = tmp_path / "out.png"
    run_portrait(src, out, lens="75", aperture=1.4, framing=0.2, verbose=False)
    res = np.asarray(PILImage.open(out)).astype(np.float32)
    ref = np.asarray(PILImage.open(src).convert("RGB")).astype(np.float32)
    near_diff = np.abs(res[:, 4: W // 2 - 8] - ref[:, 4: W // 2 - 8]).mean()
    far_diff = np.abs(res[:, W // 2 + 8: -4] - ref[:, W // 2 + 8: -4]).mean()
    assert near_diff < 3.0 and far_diff > 20.0, (near_diff, far_diff)
    assert res.std(axis=(0, 1)).mean() > 0  # not blank


def test_dynamic_depth_container(tmp_path: Path):
    rgb = _scene_rgb(4)
    depth_png = _png(_half_depth())
    primary = _jpeg(rgb)
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
           'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
           'xmlns:Device="http://ns.google.com/photos/dd/1.0/device/" '
           'xmlns:Container="http://ns.google.com/photos/dd/1.0/container/" '
           'xmlns:Item="http://ns.google.com/photos/dd/1.0/item/" '
           'xmlns:DepthMap="http://ns.google.com/photos/dd/1.0/depthmap/">'
           '<Device:Container><Container:Directory><rdf:Seq>'
           '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" '
           'Item:Semantic="Primary" Item:Length="0"/></rdf:li>'
           f'<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/png" '
           f'Item:Semantic="Depth" Item:Length="{len(depth_png)}" Item:Padding="3" '
           'Item:DataURI="android/depthmap"/></rdf:li>'
           '</rdf:Seq></Container:Directory></Device:Container>'
           '<DepthMap:Format>RangeInverse</DepthMap:Format><DepthMap:Near>1.5</DepthMap:Near>'
           '<DepthMap:Far>30</DepthMap:Far><DepthMap:DepthURI>android/depthmap</DepthMap:DepthURI>'
           '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    blob = primary[:2] + _app1(XMP_SIG + xmp) + primary[2:] + depth_png + b"\0\0\0"
    p = tmp_path / "dd.jpg"
    p.write_bytes(blob)
    dm = read_embedded_depth(p)
    assert dm is not None and dm.source == "dynamic-depth"
    np.testing.assert_allclose(dm.disparity[0, 0], 1 / 1.5, rtol=1e-5)
    np.testing.assert_allclose(dm.disparity[0, -1], 1 / 30.0, rtol=1e-5)


def test_real_gdepth_files(shared_data: Path):
    """Google Lens Blur files: depth (PNG, RangeInverse, extended XMP), focus and original."""
    for name, near, far, shape in [("motorola_xt912_gdepth.jpg", 18.85, 633.3, (2048, 1536)),
                                   ("android_gdepth.jpg", 12.42, 390.5, (1024, 768))]:
        dm = read_embedded_depth(shared_data / "depth" / name)
        assert dm is not None and dm.source == "gdepth", name
        assert dm.near == pytest.approx(near, abs=0.01) and dm.far == pytest.approx(far, abs=0.1)
        d = dm.disparity
        assert d.shape == shape
        assert 1 / far - 1e-6 <= float(d.min()) < float(d.max()) <= 1 / near + 1e-6
        assert float(np.ptp(d)) > 0.5 * (1 / near - 1 / far) * 0.1  # a real range of depths
        assert dm.focus is not None and all(0 <= v <= 1 for v in dm.focus)
        orig = read_embedded_original(shared_data / "depth" / name)
        assert orig is not None and orig.shape[:2] == shape


def test_depth_picture_file(shared_data: Path):
    dm = read_depth_image(shared_data / "depth" / "depthy_hut_depth.jpg")
    assert dm.source == "file" and dm.disparity.shape == (1024, 580)
    assert 0.05 <= float(dm.disparity.min()) < float(dm.disparity.max()) <= 1.0
    assert read_embedded_depth(shared_data / "depth" / "depthy_hut_image.jpg") is None


def test_heic_without_depth(shared_data: Path):
    """The iPhone HEICs here carry only an HDR gain map, no depth/disparity auxiliary image."""
    from rawlux.io.depth import heif_aux_names

    p = shared_data / "photos" / "iphone_15_pro.heic"
    assert read_embedded_depth(p) is None
    assert not any("depth" in n or "disparity" in n for n in heif_aux_names(p))


def test_depth_errors(tmp_path: Path):
    with pytest.raises(MissingInput):
        read_depth_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(CorruptInput):
        read_depth_image(bad)
    p = tmp_path / "badxmp.jpg"
    blob = gdepth_jpeg(_scene_rgb(), _half_depth(), near=2.0, far=50.0)
    p.write_bytes(blob.replace(b'GDepth:Near="2.0"', b'GDepth:Near="xx."'))
    with pytest.raises(CorruptInput):
        read_embedded_depth(p)
    p.write_bytes(blob.replace(b'GDepth:Near="2.0"', b'GDepth:Near="90."'))
    with pytest.raises(InvalidParameter):
        read_embedded_depth(p)


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=0, max_size=400))
def test_jpeg_xmp_never_crashes_on_garbage(blob: bytes):
    data = b"\xff\xd8" + blob
    try:
        jpeg_xmp(data)
    except CorruptInput:
        pass


@settings(max_examples=60, deadline=None)
@given(near=st.floats(0.01, 100.0), span=st.floats(1.01, 1000.0),
       fmt=st.sampled_from(["RangeInverse", "RangeLinear"]))
def test_decode_range_properties(near: float, span: float, fmt: str):
    far = near * span
    v = np.linspace(0, 1, 33, dtype=np.float32)
    d = decode_range(v, fmt, near, far)
    np.testing.assert_allclose(1 / d.astype(np.float64)[[0, -1]], [near, far], rtol=1e-4)
    assert (np.diff(d.astype(np.float64)) <= 1e-9).all()  # disparity falls as v grows


def test_cue_depth_places_subject_in_front():
    rng = np.random.default_rng(0)
    rgb = (rng.random((120, 90, 3)) * 0.3 + 0.3).astype(np.float32)
    mask = np.zeros((120, 90), np.float32)
    mask[30:110, 25:65] = 1.0
    dm = depth_from_cues(rgb, mask)
    assert dm.source == "cues"
    d = dm.disparity
    assert np.allclose(d[mask > 0.5], 1.0)
    # one textured backdrop all round (no floor seen): behind the subject, one value
    assert float(d[mask < 0.5].max()) < 1.0
    assert float(np.ptp(d[:20])) < 0.01
    assert focus_disparity(d, mask=mask) == pytest.approx(1.0, abs=1e-3)


def test_focus_point_and_orient():
    d = np.tile(np.linspace(0.1, 1.0, 50, dtype=np.float32), (40, 1))
    assert focus_disparity(d, point=(0.0, 0.5)) < focus_disparity(d, point=(1.0, 0.5))
    with pytest.raises(InvalidParameter):
        focus_disparity(d, point=(1.5, 0.5))
    dm = DepthMap(d, "file", focus=(0.1, 0.2))
    r = orient_depth(dm, 8)
    assert r.disparity.shape == (50, 40) and r.focus == pytest.approx((0.2, 0.9))
    assert disparity_from_image(np.array([[0.0, 1.0]], np.float32))[0, 0] == 1.0
    assert disparity_from_image(np.array([[0.0, 1.0]], np.float32), near_is_white=True)[0, 1] == 1.0
