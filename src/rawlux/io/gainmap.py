"""Gain-map JPEG byte layout: write Ultra HDR (hdrgm XMP + GContainer, ISO 21496-1, MPF) and read
the gain maps of inputs (Google Ultra HDR / Adobe hdrgm XMP, ISO 21496-1 APP2, Apple HDRGainMap).

Written file (what libultrahdr and Android/Chrome/Photoshop read)::

    primary JPEG:  SOI APP0(JFIF) APP1(Exif) APP2(ICC) APP1(XMP: hdrgm:Version + Container:Directory)
                   APP2(ISO 21496-1 version block) APP2(MPF: 2 entries) ... image ... EOI
    gain map JPEG: SOI APP1(XMP: hdrgm:* values) APP2(ISO 21496-1 metadata) ... image ... EOI

MPF offsets are relative to the MPF header of the primary (CIPA DC-007); the gain map follows the
primary directly. Apple's HDRGainMap (MPF auxiliary image, ``apdi``/``HDRGainMap`` XMP) is read
as a 1-channel map with Apple's headroom.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from rawlux.core.errors import CorruptInput, OutputError
from rawlux.core.gainmap import GainMap, GainMapMetadata

ISO_NS = b"urn:iso:std:iso:ts:21496:-1\0"
XMP_NS = b"http://ns.adobe.com/xap/1.0/\0"
MPF_NS = b"MPF\0"
HDRGM = "http://ns.adobe.com/hdr-gain-map/1.0/"
MAP_QUALITY = 90  # gain map JPEG quality (Pixel phones use ~85-95)


# ------------------------------------------------------------------------------ JPEG segments


@dataclass(frozen=True)
class Segment:
    marker: int  # 0xE0..0xEF, 0xDB, ...
    start: int  # offset of the 0xFF byte
    payload: bytes


def jpeg_segments(data: bytes, start: int = 0) -> list[Segment]:
    """Marker segments of the JPEG at ``data[start:]`` up to (not including) its first SOS."""
    if data[start:start + 2] != b"\xff\xd8":
        raise CorruptInput(f"no JPEG start marker at byte {start}")
    out: list[Segment] = []
    i = start + 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise CorruptInput(f"JPEG marker expected at byte {i}")
        m = data[i + 1]
        if m == 0xFF:  # fill byte
            i += 1
            continue
        if m in (0xD8, 0x01) or 0xD0 <= m <= 0xD7:
            i += 2
            continue
        if m in (0xDA, 0xD9):
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if length < 2 or i + 2 + length > n:
            raise CorruptInput(f"JPEG segment at byte {i} runs past the end of the file")
        out.append(Segment(m, i, bytes(data[i + 4:i + 2 + length])))
        i += 2 + length
    return out


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise OutputError(f"JPEG APP{marker - 0xE0} payload of {len(payload)} bytes is too large")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _header_end(jpeg: bytes) -> int:
    """Offset just after the leading run of APPn segments (where new APP segments go)."""
    end = 2
    for s in jpeg_segments(jpeg):
        if not 0xE0 <= s.marker <= 0xEF:
            break
        end = s.start + 4 + len(s.payload)
    return end


# ------------------------------------------------------------------------------------- XMP


def _fmt(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") if v != 0 else "0"


def _xmp(body_attrs: str, body: str = "") -> bytes:
    xml = ('<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="rawlux">\n'
           ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
           f'  <rdf:Description rdf:about=""{body_attrs}'
           + (f">\n{body}  </rdf:Description>\n" if body else "/>\n")
           + " </rdf:RDF>\n</x:xmpmeta>")
    return XMP_NS + xml.encode("utf-8")


def xmp_primary(map_length: int) -> bytes:
    """APP1 payload of the primary image: hdrgm:Version and the GContainer directory."""
    attrs = (f'\n    xmlns:hdrgm="{HDRGM}"'
             '\n    xmlns:Container="http://ns.google.com/photos/1.0/container/"'
             '\n    xmlns:Item="http://ns.google.com/photos/1.0/container/item/"'
             '\n   hdrgm:Version="1.0"')
    body = ('   <Container:Directory>\n    <rdf:Seq>\n'
            '     <rdf:li rdf:parseType="Resource">\n'
            '      <Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/>\n'
            '     </rdf:li>\n'
            '     <rdf:li rdf:parseType="Resource">\n'
            f'      <Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" Item:Length="{map_length}"/>\n'
            '     </rdf:li>\n    </rdf:Seq>\n   </Container:Directory>\n')
    return _xmp(attrs, body)


def xmp_gainmap(meta: GainMapMetadata) -> bytes:
    """APP1 payload of the gain map image: every hdrgm value (per-channel values as rdf:Seq)."""
    attrs = (f'\n    xmlns:hdrgm="{HDRGM}"\n   hdrgm:Version="1.0"'
             f'\n   hdrgm:HDRCapacityMin="{_fmt(meta.capacity_min)}"'
             f'\n   hdrgm:HDRCapacityMax="{_fmt(meta.capacity_max)}"'
             f'\n   hdrgm:BaseRenditionIsHDR="{"True" if meta.base_is_hdr else "False"}"')
    body = ""
    for key, name in (("gain_min", "GainMapMin"), ("gain_max", "GainMapMax"), ("gamma", "Gamma"),
                      ("offset_sdr", "OffsetSDR"), ("offset_hdr", "OffsetHDR")):
        vals = getattr(meta, key)
        if len(vals) == 1:
            attrs += f'\n   hdrgm:{name}="{_fmt(vals[0])}"'
        else:
            lis = "".join(f"      <rdf:li>{_fmt(v)}</rdf:li>\n" for v in vals)
            body += f"   <hdrgm:{name}>\n    <rdf:Seq>\n{lis}    </rdf:Seq>\n   </hdrgm:{name}>\n"
    return _xmp(attrs, body)


def _xmp_value(xml: str, ns_prefix: str, name: str) -> list[float] | None:
    """A value written as attribute ``prefix:name="v"`` or element (plain or rdf:Seq)."""
    m = re.search(rf'\b{ns_prefix}:{name}\s*=\s*"([^"]*)"', xml)
    if m:
        return [float(m.group(1))]
    m = re.search(rf"<{ns_prefix}:{name}>(.*?)</{ns_prefix}:{name}>", xml, re.S)
    if not m:
        return None
    lis = re.findall(r"<rdf:li>\s*([^<]*?)\s*</rdf:li>", m.group(1))
    return [float(v) for v in lis] if lis else [float(m.group(1).strip())]


def _prefix(xml: str, ns: str) -> str | None:
    m = re.search(rf'xmlns:(\w+)\s*=\s*"{re.escape(ns)}"', xml)
    return m.group(1) if m else None


def parse_hdrgm_xmp(xml: str) -> GainMapMetadata | None:
    """Gain-map metadata from an hdrgm XMP packet (None if it holds no GainMapMax)."""
    p = _prefix(xml, HDRGM)
    if p is None:
        return None
    gmax = _xmp_value(xml, p, "GainMapMax")
    if gmax is None:
        return None
    n = len(gmax)

    def get(name: str, default: float) -> tuple[float, ...]:
        v = _xmp_value(xml, p, name)
        v = [default] if v is None else v
        return tuple(v * n if len(v) == 1 else v[:n])

    cap_min = _xmp_value(xml, p, "HDRCapacityMin") or [0.0]
    cap_max = _xmp_value(xml, p, "HDRCapacityMax") or [max(gmax)]
    base_hdr = re.search(rf'{p}:BaseRenditionIsHDR\s*=\s*"(\w+)"', xml)
    return GainMapMetadata(
        gain_min=get("GainMapMin", 0.0), gain_max=tuple(gmax), gamma=get("Gamma", 1.0),
        offset_sdr=get("OffsetSDR", 1 / 64), offset_hdr=get("OffsetHDR", 1 / 64),
        capacity_min=cap_min[0], capacity_max=cap_max[0],
        base_is_hdr=bool(base_hdr and base_hdr.group(1).lower() == "true"))


# ----------------------------------------------------------------------------- ISO 21496-1


def _frac(v: float, signed: bool = True) -> tuple[int, int]:
    f = Fraction(v).limit_denominator(1 << 20)
    n, d = f.numerator, f.denominator
    lim = (1 << 31) - 1 if signed else (1 << 32) - 1
    while abs(n) > lim:  # very large magnitude: coarser denominator
        d = max(1, d // 2)
        n = round(v * d)
    return n, d


def iso_version_block() -> bytes:
    """APP2 payload of the primary: the ISO 21496-1 namespace and versions only."""
    return ISO_NS + struct.pack(">HH", 0, 0)


def iso_metadata(meta: GainMapMetadata) -> bytes:
    """APP2 payload of the gain map image: the full ISO 21496-1 binary metadata (big-endian
    rationals, no common denominator)."""
    flags = (0x80 if meta.channels == 3 else 0) | (0x40 if meta.use_base_colour_space else 0)
    base_h, alt_h = ((meta.capacity_min, meta.capacity_max) if not meta.base_is_hdr
                     else (meta.capacity_max, meta.capacity_min))
    out = bytearray(ISO_NS + struct.pack(">HHB", 0, 0, flags))
    for v in (base_h, alt_h):
        n, d = _frac(max(v, 0.0), signed=False)
        out += struct.pack(">II", n, d)
    for c in range(meta.channels):
        for v, signed in ((meta.gain_min[c], True), (meta.gain_max[c], True),
                          (meta.gamma[c], False), (meta.offset_sdr[c], True),
                          (meta.offset_hdr[c], True)):
            n, d = _frac(v, signed)
            out += struct.pack(">iI" if signed else ">II", n, d)
    return bytes(out)


def parse_iso_metadata(payload: bytes) -> GainMapMetadata | None:
    """ISO 21496-1 metadata (after the namespace); None for a version-only block."""
    if len(payload) < 5:
        return None
    min_version, _writer, flags = struct.unpack(">HHB", payload[:5])
    if min_version != 0:
        raise CorruptInput(f"ISO 21496-1 gain map metadata version {min_version} is not supported")
    pos = 5
    n = 3 if flags & 0x80 else 1

    def rat(signed: bool) -> float:
        nonlocal pos
        if pos + 8 > len(payload):
            raise CorruptInput("ISO 21496-1 gain map metadata is truncated")
        num, den = struct.unpack(">iI" if signed else ">II", payload[pos:pos + 8])
        pos += 8
        if den == 0:
            raise CorruptInput("ISO 21496-1 gain map metadata has a zero denominator")
        return num / den

    if flags & 0x08:  # common denominator (draft form)
        raise CorruptInput("ISO 21496-1 metadata with a common denominator is not supported")
    base_h, alt_h = rat(False), rat(False)
    vals: dict[str, list[float]] = {k: [] for k in ("min", "max", "gamma", "os", "oh")}
    for _ in range(n):
        vals["min"].append(rat(True))
        vals["max"].append(rat(True))
        vals["gamma"].append(rat(False))
        vals["os"].append(rat(True))
        vals["oh"].append(rat(True))
    base_hdr = base_h > alt_h
    return GainMapMetadata(
        gain_min=tuple(vals["min"]), gain_max=tuple(vals["max"]), gamma=tuple(vals["gamma"]),
        offset_sdr=tuple(vals["oh"] if base_hdr else vals["os"]),
        offset_hdr=tuple(vals["os"] if base_hdr else vals["oh"]),
        capacity_min=min(base_h, alt_h), capacity_max=max(base_h, alt_h),
        base_is_hdr=base_hdr, use_base_colour_space=bool(flags & 0x40))


# ------------------------------------------------------------------------------------- MPF


def mpf_payload(primary_size: int, map_size: int, map_offset: int) -> bytes:
    """APP2 ``MPF`` payload (big-endian) listing the primary and the gain map image."""
    entries = struct.pack(">IIIHH", 0x030000, primary_size, 0, 0, 0)
    entries += struct.pack(">IIIHH", 0, map_size, map_offset, 0, 0)
    n_tags = 3
    ifd_len = 2 + 12 * n_tags + 4
    data_off = 8 + ifd_len
    ifd = struct.pack(">H", n_tags)
    ifd += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")
    ifd += struct.pack(">HHII", 0xB001, 4, 1, 2)
    ifd += struct.pack(">HHII", 0xB002, 7, len(entries), data_off)
    ifd += struct.pack(">I", 0)
    return MPF_NS + b"MM\0\x2a" + struct.pack(">I", 8) + ifd + entries


def parse_mpf(payload: bytes) -> list[tuple[int, int, int]]:
    """(attribute, size, offset) of each MP entry; offsets relative to the MPF header."""
    t = payload[4:]
    if t[:4] == b"MM\0\x2a":
        e = ">"
    elif t[:4] == b"II\x2a\0":
        e = "<"
    else:
        raise CorruptInput("MPF segment has no TIFF header")
    (ifd,) = struct.unpack(e + "I", t[4:8])
    if ifd + 2 > len(t):
        raise CorruptInput("MPF index IFD lies outside its segment")
    (count,) = struct.unpack(e + "H", t[ifd:ifd + 2])
    out: list[tuple[int, int, int]] = []
    for k in range(min(count, 64)):
        p = ifd + 2 + 12 * k
        if p + 12 > len(t):
            break
        tag, _typ, cnt, val = struct.unpack(e + "HHII", t[p:p + 12])
        if tag == 0xB002:
            for j in range(min(cnt // 16, 16)):
                q = val + 16 * j
                if q + 16 > len(t):
                    raise CorruptInput("MPF entry list runs past its segment")
                attr, size, off, _a, _b = struct.unpack(e + "IIIHH", t[q:q + 16])
                out.append((attr, size, off))
    return out


# ------------------------------------------------------------------------------------ write


def _encode_map(gm: GainMap, quality: int) -> bytes:
    import cv2

    d = gm.data if gm.data.ndim == 2 else np.ascontiguousarray(gm.data[..., ::-1])
    ok, buf = cv2.imencode(".jpg", d, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                       cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                       cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
    if not ok:
        raise OutputError("OpenCV could not encode the gain map JPEG")
    return buf.tobytes()


def assemble_ultrahdr(primary: bytes, gm: GainMap, map_quality: int = MAP_QUALITY) -> bytes:
    """An Ultra HDR JPEG from an encoded primary JPEG (its EXIF/ICC kept) and a gain map."""
    mapj = _encode_map(gm, map_quality)
    at = _header_end(mapj)
    mapj = (mapj[:at] + _segment(0xE1, xmp_gainmap(gm.meta)) + _segment(0xE2, iso_metadata(gm.meta))
            + mapj[at:])
    head_end = _header_end(primary)
    xmp = _segment(0xE1, xmp_primary(len(mapj)))
    iso = _segment(0xE2, iso_version_block())
    mpf_len = len(_segment(0xE2, mpf_payload(0, 0, 0)))
    total = len(primary) + len(xmp) + len(iso) + mpf_len
    mpf_header = head_end + len(xmp) + len(iso) + 4 + len(MPF_NS)  # TIFF header offset
    mpf = _segment(0xE2, mpf_payload(total, len(mapj), total - mpf_header))
    return primary[:head_end] + xmp + iso + mpf + primary[head_end:] + mapj


# ------------------------------------------------------------------------------------- read


@dataclass(frozen=True)
class InputGainMap:
    """A gain map found in an input file: the map, the form it was stored in, where."""

    gainmap: GainMap
    kind: str  # "ultrahdr" (hdrgm XMP), "iso" (ISO 21496-1 only), "apple"
    details: dict[str, Any] = field(default_factory=dict)


def _xmp_text(segs: list[Segment]) -> str:
    return "".join(s.payload[len(XMP_NS):].decode("utf-8", "replace")
                   for s in segs if s.marker == 0xE1 and s.payload.startswith(XMP_NS))


def _secondary_images(data: bytes, segs: list[Segment]) -> list[int]:
    """Start offsets of the images after the primary (MPF first, else scan for SOI markers)."""
    starts: list[int] = []
    for s in segs:
        if s.marker == 0xE2 and s.payload.startswith(MPF_NS):
            base = s.start + 4 + len(MPF_NS)
            for k, (_attr, size, off) in enumerate(parse_mpf(s.payload)):
                if k == 0 or size == 0:
                    continue
                p = base + off
                if 0 < p < len(data) and data[p:p + 2] == b"\xff\xd8":
                    starts.append(p)
    return starts


def _decode_map(data: bytes, start: int) -> np.ndarray:
    import cv2

    arr = np.frombuffer(data, np.uint8, offset=start)
    img = cv2.imdecode(arr, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CorruptInput(f"gain map image at byte {start} does not decode")
    if img.ndim == 3:
        img = img[..., :3][..., ::-1]
        if np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]):
            img = img[..., 0]
    return np.ascontiguousarray(img, np.uint8)


def apple_headroom(*xmp: str) -> float:
    """Apple's HDR headroom (a linear ratio >= 1) from ``HDRGainMap:HDRGainMapHeadroom`` in any of
    the XMP texts; 2**1.6 when absent (older captures keep it only in maker notes)."""
    text = "".join(xmp)
    m = re.search(r'HDRGainMapHeadroom\s*=\s*"([^"]+)"', text) or \
        re.search(r"<\w+:HDRGainMapHeadroom>([^<]+)<", text)
    try:
        head = float(m.group(1)) if m else 2.0 ** 1.6
    except ValueError:
        head = 2.0 ** 1.6
    return head if math.isfinite(head) and head > 1.0 else 2.0 ** 1.6


def apple_to_gainmap(pix: np.ndarray, headroom: float) -> GainMap:
    """Apple's map (1 channel, sRGB-encoded linear weight ``g``: HDR = SDR * (1 + (H - 1) g))
    re-expressed as an ISO log2 map with offsets 0 (min 0, max log2 H, gamma 1)."""
    from rawlux.color.transfer import srgb_eotf

    if pix.ndim == 3:
        pix = pix[..., 1]
    g = srgb_eotf(pix.astype(np.float32) / 255.0)
    stops = math.log2(headroom)
    L = np.log2(1.0 + (headroom - 1.0) * np.clip(g, 0.0, 1.0))
    q = np.rint(np.clip(L / stops, 0.0, 1.0) * 255.0).astype(np.uint8)
    meta = GainMapMetadata(gain_min=(0.0,), gain_max=(round(stops, 6),), gamma=(1.0,),
                           offset_sdr=(0.0,), offset_hdr=(0.0,), capacity_min=0.0,
                           capacity_max=round(stops, 6))
    return GainMap(np.ascontiguousarray(q), meta)


def read_jpeg_gainmap(data: bytes) -> InputGainMap | None:
    """The gain map of a JPEG (Ultra HDR / Adobe hdrgm XMP, ISO 21496-1, Apple), or None."""
    segs = jpeg_segments(data)
    primary_xmp = _xmp_text(segs)
    for start in _secondary_images(data, segs):
        msegs = jpeg_segments(data, start)
        map_xmp = _xmp_text(msegs)
        meta = None
        kind = ""
        iso = [s for s in msegs if s.marker == 0xE2 and s.payload.startswith(ISO_NS)]
        if "hdrgm" in map_xmp:
            meta, kind = parse_hdrgm_xmp(map_xmp), "ultrahdr"
        if meta is None and iso:
            meta, kind = parse_iso_metadata(iso[0].payload[len(ISO_NS):]), "iso"
        if meta is None and ("HDRGainMap" in map_xmp or "apdi" in map_xmp):
            head = apple_headroom(map_xmp, primary_xmp)
            return InputGainMap(apple_to_gainmap(_decode_map(data, start), head), "apple",
                                {"offset": start, "headroom_ratio": head})
        if meta is None:
            continue
        pix = _decode_map(data, start)
        if pix.ndim == 3 and meta.channels == 1:
            pix = np.ascontiguousarray(pix[..., 1])
        if pix.ndim == 2 and meta.channels == 3:
            pix = np.ascontiguousarray(np.repeat(pix[..., None], 3, axis=2))
        return InputGainMap(GainMap(pix, meta), kind,
                            {"offset": start, "iso": bool(iso), "xmp": "hdrgm" in map_xmp})
    return None


def gainmap_for_output(img: Any, fmt: str, path: Any) -> GainMap | None:
    """The gain map ``img`` carries if ``fmt`` can hold it and it fits the image, else None with
    a warning (the photo itself is still written)."""
    import warnings

    gm = (img.metadata.extra or {}).get("gainmap")
    if not isinstance(gm, GainMap):
        return None
    hdr_avif = fmt in ("avif", "heif") and "hdr_transfer" in (img.metadata.extra or {})  # --hdr
    if fmt != "jpeg" and not hdr_avif:
        warnings.warn(f"{path}: {fmt.upper()} output is written as the SDR photo without its gain "
                      "map; .jpg keeps it (Ultra HDR), --hdr makes .avif/.heic PQ/HLG", stacklevel=3)
        return None
    mh, mw = gm.data.shape[:2]
    if abs(mh / mw - img.height / img.width) > 2.0 / min(mh, mw):
        warnings.warn(f"{path}: the gain map ({mw}x{mh}) no longer fits the edited photo "
                      f"({img.width}x{img.height}); written without it", stacklevel=3)
        return None
    return gm


def write_ultrahdr(primary: bytes, f: Any, gm: GainMap) -> None:
    """Write the encoded primary JPEG (the normal rawlux JPEG writer's bytes: EXIF + ICC) with
    ``gm`` as an Ultra HDR JPEG to the binary file ``f``."""
    f.write(assemble_ultrahdr(primary, gm))


APPLE_AUX = "urn:com:apple:photo:2020:aux:hdrgainmap"


def read_heif_gainmap(pil: Any, file_bytes: bytes) -> InputGainMap | None:
    """Apple's HDR gain map of a HEIC opened with pillow-heif (an auxiliary image), or None."""
    aux = (getattr(pil, "info", {}) or {}).get("aux") or {}
    ids = aux.get(APPLE_AUX)
    if not ids:
        return None
    heif = getattr(pil, "_heif_file", None) or getattr(pil, "heif_file", None)
    try:
        if heif is None:
            import io as _io

            import pillow_heif

            heif = pillow_heif.open_heif(_io.BytesIO(file_bytes))[0]
        img = heif.get_aux_image(ids[0])
        pix = np.asarray(img.to_pillow() if hasattr(img, "to_pillow") else img)
    except Exception as e:  # noqa: BLE001 - a broken aux image never blocks the photo
        raise CorruptInput(f"Apple HDR gain map does not decode: {' '.join(str(e).split())}") from None
    m = re.search(rb'HDRGainMapHeadroom\s*=\s*"([^"]+)"', file_bytes) or \
        re.search(rb"<\w+:HDRGainMapHeadroom>([^<]+)<", file_bytes)
    head = apple_headroom(f'HDRGainMapHeadroom="{m.group(1).decode(errors="replace")}"' if m else "")
    return InputGainMap(apple_to_gainmap(np.ascontiguousarray(pix, np.uint8), head), "apple",
                        {"headroom_ratio": head, "container": "heif"})


def read_gainmap(path: Any, kind: str | None = None) -> InputGainMap | None:
    """The gain map of a photo file (JPEG: Ultra HDR / Adobe / ISO / Apple; HEIC: Apple), or None."""
    from pathlib import Path

    data = Path(path).read_bytes()
    if data[:2] == b"\xff\xd8":
        return read_jpeg_gainmap(data)
    if kind in (None, "heif") and data[4:8] == b"ftyp":
        import io as _io

        try:
            import pillow_heif

            heif = pillow_heif.open_heif(_io.BytesIO(data))
        except Exception:  # noqa: BLE001 - not a HEIF pillow-heif reads: no map
            return None
        prim = heif.primary_image if hasattr(heif, "primary_image") else heif[0]
        if (prim.info.get("aux") or {}).get(APPLE_AUX):
            class _P:  # the primary image and its file, as read_heif_gainmap expects
                info = prim.info
                heif_file = prim
            return read_heif_gainmap(_P(), data)
    return None


def describe_gainmap(found: InputGainMap | None) -> list[tuple[str, str]]:
    """Rows for ``rawlux info``: the form, size and metadata of a gain map."""
    if found is None:
        return [("gain map", "none")]
    gm = found.gainmap
    m = gm.meta
    h, w = gm.data.shape[:2]

    def fmt(v: tuple[float, ...]) -> str:
        return ", ".join(f"{x:.4g}" for x in v)

    names = {"ultrahdr": "Ultra HDR / Adobe hdrgm XMP" + (" + ISO 21496-1" if found.details.get("iso") else ""),
             "iso": "ISO 21496-1", "apple": "Apple HDRGainMap"}
    rows = [("gain map", f"{names.get(found.kind, found.kind)}, {w}x{h}, {m.channels} channel(s)"),
            ("gain min/max (stops)", f"{fmt(m.gain_min)} / {fmt(m.gain_max)}"),
            ("gamma", fmt(m.gamma)),
            ("offsets sdr/hdr", f"{fmt(m.offset_sdr)} / {fmt(m.offset_hdr)}"),
            ("HDR capacity (stops)", f"{m.capacity_min:.4g} .. {m.capacity_max:.4g}"),
            ("base rendition", "HDR" if m.base_is_hdr else "SDR")]
    if "headroom_ratio" in found.details:
        rows.append(("Apple headroom", f"{found.details['headroom_ratio']:.4g}x"))
    return rows


def describe_photo(path: Any) -> list[tuple[str, str]]:
    """``rawlux info`` rows of a photo: format, size, then its gain map (see :func:`describe_gainmap`)."""
    from pathlib import Path

    from PIL import Image as PILImage

    from rawlux.io.safety import FORMAT_NAMES, check_readable, read_head, sniff

    p = check_readable(path)
    kind = sniff(read_head(p, 64))
    rows = [("format", FORMAT_NAMES.get(kind, kind))]
    try:
        if kind == "heif":
            import pillow_heif

            pillow_heif.register_heif_opener()
        with PILImage.open(p) as im:
            rows.append(("size", f"{im.size[0]}x{im.size[1]}"))
    except Exception:  # noqa: BLE001 - the size row is informative only
        pass
    try:
        found = read_gainmap(Path(p), kind)
        tmap = read_tmap_metadata(Path(p).read_bytes()) if found is None and kind in ("avif", "heif") else None
    except CorruptInput as e:
        return rows + [("gain map", f"unreadable: {e.reason}")]
    except (IndexError, ValueError, struct.error) as e:  # malformed boxes or segments
        return rows + [("gain map", f"unreadable: {type(e).__name__}")]
    if tmap is not None:
        m = tmap
        f = lambda v: ", ".join(f"{x:.4g}" for x in v)  # noqa: E731
        return rows + [("gain map", f"AVIF/HEIF tmap item (ISO 21496-1), {m.channels} channel(s); "
                                    "map pixels not decodable with the installed libraries"),
                       ("gain min/max (stops)", f"{f(m.gain_min)} / {f(m.gain_max)}"),
                       ("gamma", f(m.gamma)),
                       ("offsets base/alternate", f"{f(m.offset_sdr)} / {f(m.offset_hdr)}"),
                       ("HDR capacity (stops)", f"{m.capacity_min:.4g} .. {m.capacity_max:.4g}"),
                       ("base rendition", "HDR" if m.base_is_hdr else "SDR")]
    return rows + describe_gainmap(found)


#: nclx code points (ITU-T H.273) of the BT.2100 outputs
NCLX = {"pq": 16, "hlg": 18}


def write_bt2100(f: Any, img: Any, gm: GainMap, quality: int, fmt: str = "avif",
                 exif: bytes | None = None) -> None:
    """A 10-bit BT.2020 PQ (or HLG: ``img.metadata.extra['hdr_transfer']``) AVIF (libavif via
    imagecodecs) or HEIC (libheif via pillow-heif) of the HDR rendition of ``img``
    (display-encoded SDR) and its gain map; EXIF kept in HEIC."""
    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.color.transfer import srgb_decode_fast
    from rawlux.core.image import ColorSpace
    from rawlux.color.bt2100 import encode_bt2100
    from rawlux.core.gainmap import apply_gainmap

    transfer = (img.metadata.extra or {}).get("hdr_transfer", "pq")
    sdr = srgb_decode_fast(np.ascontiguousarray(img.data, np.float32))
    hdr = apply_gainmap(sdr, gm)
    del sdr
    m = rgb_to_rgb(img.space, ColorSpace.REC2020)
    h, w = hdr.shape[:2]
    hdr = (hdr.reshape(-1, 3) @ m.T).reshape(h, w, 3)
    code = encode_bt2100(hdr, transfer)
    del hdr
    if fmt == "avif":
        import imagecodecs

        f.write(imagecodecs.avif_encode(code, int(quality), bitspersample=10, primaries=9,
                                        transfer=NCLX[transfer], matrix=9))
        return
    import pillow_heif

    data = np.ascontiguousarray(code << np.uint16(6))  # 10 significant bits, MSB-aligned
    hf = pillow_heif.from_bytes(mode="RGB;16", size=(w, h), data=data.tobytes())
    nclx = {"color_primaries": 9, "transfer_characteristics": NCLX[transfer],
            "matrix_coefficients": 9, "full_range_flag": 1}
    kw: dict[str, Any] = {}
    if exif:
        kw["exif"] = exif[6:] if exif.startswith(b"Exif\0\0") else exif
    hf.save(f, format="HEIF", quality=int(quality), nclx_profile=nclx, **kw)


# --------------------------------------------------------------------------- AVIF / HEIF tmap


def _boxes(buf: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISOBMFF boxes in ``buf[start:end]``."""
    out = []
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[i:i + 8])
        hdr = 8
        if size == 1:
            if i + 16 > end:
                break
            size = struct.unpack(">Q", buf[i + 8:i + 16])[0]
            hdr = 16
        elif size == 0:
            size = end - i
        if size < hdr or i + size > end:
            break
        out.append((kind, i + hdr, i + size))
        i += size
    return out


def _uint(buf: bytes, pos: int, n: int) -> tuple[int, int]:
    return (int.from_bytes(buf[pos:pos + n], "big") if n else 0), pos + n


def read_tmap_metadata(data: bytes) -> GainMapMetadata | None:
    """ISO 21496-1 metadata of an AVIF/HEIF ``tmap`` (tone-map derived) item, or None. Only the
    metadata: the installed decoders (libavif via imagecodecs, libheif via pillow-heif) do not
    expose the gain map image item."""
    top = _boxes(data, 0, len(data))
    meta = next(((s, e) for k, s, e in top if k == b"meta"), None)
    if meta is None:
        return None
    inner = _boxes(data, meta[0] + 4, meta[1])  # meta is a full box
    tmap_id = None
    for k, s, e in inner:
        if k == b"iinf":
            ver = data[s]
            pos = s + 4 + (2 if ver == 0 else 4)
            for kk, ss, ee in _boxes(data, pos, e):
                if kk != b"infe" or data[ss] < 2:
                    continue
                v = data[ss]
                iid, p = _uint(data, ss + 4, 2 if v == 2 else 4)
                if data[p + 2:p + 6] == b"tmap":
                    tmap_id = iid
    if tmap_id is None:
        return None
    for k, s, e in inner:
        if k != b"iloc":
            continue
        ver = data[s]
        p = s + 4
        a, b = data[p], data[p + 1]
        off_sz, len_sz, base_sz, idx_sz = a >> 4, a & 15, b >> 4, (b & 15) if ver in (1, 2) else 0
        p += 2
        count, p = _uint(data, p, 2 if ver < 2 else 4)
        for _ in range(min(count, 4096)):
            iid, p = _uint(data, p, 2 if ver < 2 else 4)
            method = 0
            if ver in (1, 2):
                method, p = _uint(data, p, 2)
                method &= 15
            p += 2  # data_reference_index
            base, p = _uint(data, p, base_sz)
            n_ext, p = _uint(data, p, 2)
            exts = []
            for _ in range(min(n_ext, 256)):
                if idx_sz:
                    _, p = _uint(data, p, idx_sz)
                o, p = _uint(data, p, off_sz)
                ln, p = _uint(data, p, len_sz)
                exts.append((base + o, ln))
            if iid == tmap_id and method == 0 and exts:
                o, ln = exts[0]
                payload = data[o:o + ln]
                if len(payload) < 6 or payload[0] != 0:
                    raise CorruptInput("AVIF tmap item has an unknown version")
                return parse_iso_metadata(payload[1:])
    return None
