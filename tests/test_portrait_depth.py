"""Depth sources: GDepth XMP (incl. extended XMP), Dynamic Depth, --depth pictures, cues."""

from __future__ import annotations

import base64
import io
import re
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
    with pytest.raises(CorruptInput, match=rf"^{re.escape(str(p))}: GDepth: depth range near=90"):
        read_embedded_depth(p)  # a bad range in the file names the file (was InvalidParameter)


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


# ---------------------------------------------------------------- HEIF with auxiliary images
# pillow-heif (libheif 1.23) cannot write depth or auxiliary images, so the tests encode the
# primary and the auxiliary picture as two ordinary HEICs with pillow-heif and assemble one
# ISO/IEC 23008-12 file from their coded data by hand: an `auxl` reference from the auxiliary
# item to the primary and an `auxC` property naming its type (the same boxes an iPhone writes).


def _boxes(b: bytes, off: int = 0, end: int | None = None):
    end = len(b) if end is None else end
    while off < end:
        size, typ = struct.unpack(">I4s", b[off:off + 8])
        size = size or end - off
        yield typ, off, size
        off += size


def _child(b: bytes, parent: tuple[int, int], name: bytes, full: bool = False) -> tuple[int, int]:
    o, s = parent
    for typ, co, cs in _boxes(b, o + 8 + (4 if full else 0), o + s):
        if typ == name:
            return co, cs
    raise KeyError(name)


def _coded_item(heic: bytes) -> tuple[list[bytes], bytes]:
    """Property boxes (ipco children, in order) and coded data of a one-item HEIC."""
    top = {t: (o, s) for t, o, s in _boxes(heic)}
    meta = top[b"meta"]
    ipco = _child(heic, _child(heic, meta, b"iprp", True), b"ipco")
    props = [heic[o:o + s] for _, o, s in _boxes(heic, ipco[0] + 8, ipco[0] + ipco[1])]
    io_, _ = _child(heic, meta, b"iloc", True)
    p = io_ + 8
    ver = heic[p]
    sizes = heic[p + 4]
    osz, lsz, bsz = sizes >> 4, sizes & 15, heic[p + 5] >> 4
    assert ver == 0 and (osz, lsz) == (4, 4) and bsz in (0, 4)
    q = p + 6 + 2  # item count (1)
    q += 2 + 2  # item id, data reference index
    base = struct.unpack(">I", heic[q:q + 4])[0] if bsz else 0
    q += bsz
    (n_ext,) = struct.unpack(">H", heic[q:q + 2])
    assert n_ext == 1
    off, length = struct.unpack(">II", heic[q + 2:q + 10])
    off += base
    return props, heic[off:off + length]


def _box(typ: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + typ + payload


def _fbox(typ: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(typ, struct.pack(">I", (version << 24) | flags) + payload)


def _encode_heic(pil: PILImage.Image) -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(pil).save(buf, quality=100)
    return buf.getvalue()


def heic_with_aux(rgb: np.ndarray, aux: np.ndarray, urn: str) -> bytes:
    """A HEIC whose primary image is ``rgb`` (uint8 (H, W, 3)) with an auxiliary grey image
    ``aux`` (uint8 (h, w)) of type ``urn`` (auxC) linked to it by an ``auxl`` reference."""
    p_props, p_data = _coded_item(_encode_heic(PILImage.fromarray(rgb)))
    a_props, a_data = _coded_item(_encode_heic(PILImage.fromarray(aux, "L")))
    auxc = _fbox(b"auxC", urn.encode() + b"\0")
    props = p_props + a_props + [auxc]
    ipco = _box(b"ipco", b"".join(props))

    def assoc(item: int, idx: list[int]) -> bytes:
        out = struct.pack(">HB", item, len(idx))
        for i in idx:
            essential = props[i - 1][4:8] in (b"hvcC", b"auxC")
            out += struct.pack(">B", (0x80 if essential else 0) | i)
        return out

    n1 = len(p_props)
    ipma = _fbox(b"ipma", struct.pack(">I", 2) + assoc(1, list(range(1, n1 + 1)))
                 + assoc(2, list(range(n1 + 1, len(props) + 1))))
    iprp = _box(b"iprp", ipco + ipma)
    infe = [_fbox(b"infe", struct.pack(">HH", i, 0) + b"hvc1" + b"\0", version=2,
                  flags=(1 if i == 2 else 0)) for i in (1, 2)]
    iinf = _fbox(b"iinf", struct.pack(">H", 2) + b"".join(infe))
    iref = _fbox(b"iref", _box(b"auxl", struct.pack(">HHH", 2, 1, 1)))
    hdlr = _fbox(b"hdlr", struct.pack(">I", 0) + b"pict" + b"\0" * 12 + b"\0")
    pitm = _fbox(b"pitm", struct.pack(">H", 1))
    ftyp = _box(b"ftyp", b"heic" + struct.pack(">I", 0) + b"mif1heic")

    def iloc(base: int) -> bytes:
        body = struct.pack(">BBH", 0x44, 0x00, 2)
        body += struct.pack(">HHHII", 1, 0, 1, base, len(p_data))
        body += struct.pack(">HHHII", 2, 0, 1, base + len(p_data), len(a_data))
        return _fbox(b"iloc", body)

    def meta(base: int) -> bytes:
        return _fbox(b"meta", hdlr + pitm + iloc(base) + iinf + iref + iprp)

    base = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(base) + _box(b"mdat", p_data + a_data)


def _grey_ramp(h: int, w: int) -> np.ndarray:
    return np.tile(np.linspace(16, 240, w).astype(np.uint8), (h, 1))


def test_heic_depth_auxiliary_image(tmp_path: Path):
    """A HEIC carrying a depth auxiliary image (auxC urn:mpeg:hevc:2015:auxid:2): found as the
    file's depth, read with the documented convention (dark = near), the ramp preserved."""
    from rawlux.io.depth import heif_aux_names

    rgb = _scene_rgb(7)
    depth = _grey_ramp(48, 64)
    p = tmp_path / "depth.heic"
    p.write_bytes(heic_with_aux(rgb, depth, "urn:mpeg:hevc:2015:auxid:2"))
    import pillow_heif

    hf = pillow_heif.open_heif(str(p))
    assert hf.size == (W, H)
    assert "depth_images" in heif_aux_names(p)
    dm = read_embedded_depth(p)
    assert dm is not None and dm.source == "heic-depth" and dm.disparity.shape == (48, 64)
    want = disparity_from_image(depth.astype(np.float32) / 255.0)
    assert float(np.abs(dm.disparity - want).max()) < 0.03  # HEVC at quality 100
    assert (np.diff(dm.disparity.mean(axis=0)) < 0).mean() > 0.9  # farther to the right
    from typer.testing import CliRunner

    from rawlux.cli.app import app

    out = tmp_path / "out.png"
    r = CliRunner().invoke(app, ["portrait", str(p), "-o", str(out), "--focus", "0.1,0.5"])
    assert r.exit_code == 0, r.output
    assert "depth map embedded in depth.heic (heic-depth)" in r.output
    res = np.asarray(PILImage.open(out)).astype(np.float32)
    src = np.asarray(pillow_heif.open_heif(str(p)).to_pillow()).astype(np.float32)
    # focused at the left (near): the left stays, the far right is blurred (less detail)
    def detail(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a, axis=1)).mean())
    assert abs(detail(res[:, :16]) - detail(src[:, :16])) < 0.25 * detail(src[:, :16])
    assert detail(res[:, -32:]) < 0.6 * detail(src[:, -32:])


def test_heic_portrait_matte_and_disparity(tmp_path: Path):
    """Apple's portrait effects matte (aux URN) is read as the subject matte; an aux image whose
    URN says disparity is read bright = near; a plain HEIC has neither."""
    from rawlux.io.depth import read_embedded_matte

    rgb = _scene_rgb(8)
    matte = np.zeros((48, 64), np.uint8)
    matte[10:40, 20:44] = 255
    p = tmp_path / "matte.heic"
    p.write_bytes(heic_with_aux(rgb, matte, "urn:com:apple:photo:2018:aux:portraiteffectsmatte"))
    m = read_embedded_matte(p)
    assert m is not None and m.shape == (48, 64) and m.dtype == np.float32
    assert float(m[15:35, 25:40].mean()) > 0.95 and float(m[:, :10].mean()) < 0.05
    assert read_embedded_depth(p) is None  # a matte is not depth
    q = tmp_path / "disp.heic"
    q.write_bytes(heic_with_aux(rgb, _grey_ramp(48, 64), "urn:com:apple:photo:2020:aux:disparity"))
    dm = read_embedded_depth(q)
    assert dm is not None and dm.source == "heic-disparity"
    assert float(dm.disparity[:, -4:].mean()) > float(dm.disparity[:, :4].mean())  # bright = near
    plain = tmp_path / "plain.heic"
    plain.write_bytes(_encode_heic(PILImage.fromarray(rgb)))
    assert read_embedded_matte(plain) is None and read_embedded_depth(plain) is None
