"""Hostile inputs beyond the DNG path (logos, depth maps, photos, looks/layouts/TOML, .cube,
templates, XMP, EXIF, terminal injection): builders for the regression files in
``tests/data/hostile/`` and the command each must fail (or pass) with.

Every file is generated here from scratch (never a copy of a camera file) by
``python tests/hostile/make_hostile.py``. :data:`CASES` maps a file name to an
:class:`InputCase`: the bytes, the ``rawlux`` arguments (``{file}`` = the regression file,
``{photo}`` = the small synthetic photo ``photo_64x48.jpg``, ``{out}`` = an output path), the
expected exit code and a regex the one stderr line must match (or, for ``exit=0``, a warning regex
or None). ``tests/test_hostile_inputs.py`` runs each through the CLI.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# ------------------------------------------------------------------------------------- builders


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_zero(width: int, height: int, bit_depth: int = 1, colour: int = 0) -> bytes:
    """A valid all-zero PNG of ``width`` x ``height`` (1-bit grey by default: a few KB for a
    169 MP image), compressed row by row so the builder itself stays small."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = b"\x00" + bytes((width * channels * bit_depth + 7) // 8)
    c = zlib.compressobj(9)
    body = b"".join(c.compress(row) for _ in range(height)) + c.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def photo_jpeg(width: int = 64, height: int = 48, exif: bytes | None = None) -> bytes:
    """A small synthetic JPEG (colour ramps) with optional EXIF."""
    from PIL import Image

    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1),
                    np.full_like(xx, 128)], axis=2).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90, **({"exif": exif} if exif else {}))
    return buf.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 16 x 16 JPEG whose SOF0 header is patched to claim ``width`` x ``height`` (a photo
    bomb: the header is all a reader sees before it allocates)."""
    b = bytearray(photo_jpeg(16, 16))
    i = b.index(b"\xff\xc0")
    struct.pack_into(">HH", b, i + 5, height, width)
    return bytes(b)


def exif_description_as_rational() -> bytes:
    """EXIF whose ImageDescription (ASCII) is stored as a RATIONAL: Pillow reads it, then cannot
    write it back (``'IFDRational' object has no attribute 'encode'``)."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 270, 5, 1, 26) + struct.pack("<I", 0)
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<II", 1, 3)


def avif_bad_exif() -> bytes:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    rgb = np.full((32, 48, 3), (90, 140, 200), np.uint8)
    Image.fromarray(rgb).save(buf, "AVIF", quality=80, exif=exif_description_as_rational())
    return buf.getvalue()


SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def svg_use_bomb(levels: int = 8, fan: int = 10) -> bytes:
    """``fan ** levels`` rectangles through nested ``<use>`` (10^8 in 2 KB)."""
    s = [f'<svg {SVG_NS} width="100" height="40"><defs><rect id="a0" width="1" height="1"/>']
    for i in range(1, levels + 1):
        s.append(f'<g id="a{i}">' + f'<use xlink:href="#a{i - 1}"/>' * fan + "</g>")
    s.append(f'</defs><use xlink:href="#a{levels}"/></svg>')
    return "".join(s).encode()


def svgz_bomb(megabytes: int = 64) -> bytes:
    """A gzip-compressed SVG that inflates to ``megabytes`` MB (whitespace)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [c.compress(f'<svg {SVG_NS} width="10" height="10">'.encode())]
    block = b" " * (1 << 20)
    out += [c.compress(block) for _ in range(megabytes)]
    out += [c.compress(b'<rect width="10" height="10"/></svg>'), c.flush()]
    return b"".join(out)


def svg(body: str, width: str = "100", height: str = "40", head: str = "") -> bytes:
    return f'{head}<svg {SVG_NS} width="{width}" height="{height}">{body}</svg>'.encode()


def gdepth_many_prefixes(n: int = 5000) -> bytes:
    """A JPEG whose extended XMP binds ``n`` prefixes to the GDepth namespace (parsing was
    quadratic: 20,000 took 14-20 s, 100,000 over 60 s), with a real 8 x 6 depth map."""
    import base64

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.tile(np.arange(0, 240, 30, dtype=np.uint8), (6, 1))).save(buf, "PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    ns = "http://ns.google.com/photos/1.0/depthmap/"
    decl = " ".join(f'xmlns:g{i}="{ns}"' for i in range(n))
    ext = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
           f'rdf-syntax-ns#"><rdf:Description {decl} g{n - 1}:Format="RangeInverse" g{n - 1}:Near="1"'
           f' g{n - 1}:Far="10" g{n - 1}:Mime="image/png" g{n - 1}:Data="{data}"/></rdf:RDF>'
           f"</x:xmpmeta>").encode()
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    main = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
            f'rdf-syntax-ns#"><rdf:Description xmlns:xmpNote="http://ns.adobe.com/xmp/note/" '
            f'xmpNote:HasExtendedXMP="{guid.decode()}"/></rdf:RDF></x:xmpmeta>').encode()

    def app1(payload: bytes) -> bytes:
        return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload

    segs = app1(b"http://ns.adobe.com/xap/1.0/\x00" + main)
    for off in range(0, len(ext), 65000):
        segs += app1(b"http://ns.adobe.com/xmp/extension/\x00" + guid
                     + struct.pack(">II", len(ext), off) + ext[off:off + 65000])
    j = photo_jpeg(48, 36)
    return j[:2] + segs + j[2:]


def toml_deep(depth: int = 5000) -> bytes:
    return (b'name = "deep"\nx = ' + b"[" * depth + b"]" * depth + b"\n")


def layout_toml(name: str, margin: float, text: str = "{model}") -> bytes:
    return (f'name = "{name}"\nbackground = "#ffffff"\n'
            f"margin = {{ top = {margin}, right = {margin}, bottom = {margin}, left = {margin} }}\n"
            f'[zone]\nside = "bottom"\n[[left]]\ntype = "text"\n'
            f"lines = [ {{ text = '{text}', size = 0.02 }} ]\n").encode()


def cube(size_line: str, extra: str = "") -> bytes:
    return f'TITLE "t"\n{extra}{size_line}\n0 0 0\n1 1 1\n'.encode()


def dng_with_make(make: str) -> bytes:
    """A small synthetic DNG whose Make/Model hold terminal escapes and rich markup."""
    import dataclasses

    from rawlux.io.dng import build_dng
    from tests.hostile import dngfuzz as fz

    raw = fz._seed_raw("bayer")
    md = dataclasses.replace(raw.metadata, make=make, model="[bold red]X[/bold red] \x1b[2J")
    return build_dng(dataclasses.replace(raw, metadata=md))


def nef_like(width: int, height: int, data_bytes: int = 4096) -> bytes:
    """A minimal Nikon-like TIFF raw that LibRaw opens (Make "NIKON CORPORATION", Model "NIKON
    D1", one uncompressed 12-bit CFA strip of ``data_bytes``) whose header claims ``width`` x
    ``height``: LibRaw reports the claimed size before unpacking, rawlux must refuse it first."""
    make, model = b"NIKON CORPORATION\0", b"NIKON D1\0"
    n = 14
    off = 8 + 2 + n * 12 + 4
    make_off = off
    model_off = off + len(make)
    data_off = model_off + len(model)
    entries = [(254, 4, 1, 0), (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 12),
               (259, 3, 1, 1), (262, 3, 1, 32803), (271, 2, len(make), make_off),
               (272, 2, len(model), model_off), (273, 4, 1, data_off), (277, 3, 1, 1),
               (278, 4, 1, height), (279, 4, 1, data_bytes), (33421, 3, 2, 2 | (2 << 16)),
               (33422, 1, 4, 0x02010100)]
    b = bytearray(b"II*\0" + struct.pack("<IH", 8, n))
    for e in sorted(entries):
        b += struct.pack("<HHII", *e)
    return bytes(b + struct.pack("<I", 0) + make + model + b"\x10" * data_bytes)


# ---------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class InputCase:
    """One regression file: how it is built, the command, and what must happen."""

    build: Callable[[], bytes]
    args: tuple[str, ...]
    exit: int  # expected exit code (0: runs, with the warning ``message`` when not None)
    message: str | None  # regex on the single stderr line (or the warning line)
    what: str
    env: dict[str, str] = field(default_factory=dict)


PHOTO = "photo_64x48.jpg"
FRAME = ("frame", "{photo}", "-o", "{out}.jpg")

CASES: dict[str, InputCase] = {
    PHOTO: InputCase(photo_jpeg, ("frame", "{file}", "-o", "{out}.jpg"), 0, None,
                     "the small synthetic photo the other cases frame"),
    "logo_png_13000x13000.png": InputCase(
        lambda: png_zero(13000, 13000), (*FRAME, "--logo", "{file}"), 2,
        r"logo is 13000x13000 px = 169 MP, above the 40 MP limit for logos",
        "1-bit all-zero PNG logo of 169 MP (was: 11 GB, converted to float at full size)"),
    "logo_gzip_bomb.svgz": InputCase(
        svgz_bomb, (*FRAME, "--logo", "{file}"), 2, r"logo \.svgz decompresses to more than 16 MB",
        "64 KB .svgz that inflates to 64 MB (the issue's 1.5 MB one: 4.7 GB)"),
    "logo_use_bomb.svg": InputCase(
        svg_use_bomb, (*FRAME, "--logo", "{file}"), 2,
        r"logo SVG expands to more than 100000 elements through <use>",
        "10^8 rectangles through 8 levels of nested <use> (was: over 60 s)"),
    "logo_aspect_30000.svg": InputCase(
        lambda: svg('<rect width="30000" height="1"/>', "30000", "1"), (*FRAME, "--logo", "{file}"), 2,
        r"logo SVG is 30000 x 1: an aspect ratio above 1000:1", "SVG logo 30000:1"),
    "logo_aspect_30.svg": InputCase(
        lambda: svg('<rect width="3000" height="100" fill="#c02020"/>', "3000", "100"),
        (*FRAME, "--logo", "{file}"), 0, None,
        "SVG logo 30:1 (was: 2.1 GB): rendered at most 8192 px wide and 4 MP"),
    "logo_circle_r_1e40.svg": InputCase(
        lambda: svg('<circle cx="80" cy="20" r="' + "9" * 40 + '" stroke="black" stroke-width="3"/>'),
        (*FRAME, "--logo", "{file}"), 2, r"logo SVG <circle> r has a value of 1e\+40, beyond 1e\+06",
        "fuzzer find: a stroked circle of radius 1e40 (cairo ran for minutes, 1.7 GB)"),
    "logo_path_bidi_char.svg": InputCase(
        lambda: svg('<path d="\u202eM0 0 L10 10 Z" stroke="black"/>'), (*FRAME, "--logo", "{file}"), 2,
        r"logo SVG <path> d has the invalid character '\\u202e'",
        "fuzzer find: path data starting with U+202E (cairosvg's path parser never returned)"),
    "logo_file_image.svg": InputCase(
        lambda: svg('<image xlink:href="file:///etc/passwd" width="10" height="10"/>'),
        (*FRAME, "--logo", "{file}"), 2,
        r"logo SVG <image> references 'file:///etc/passwd': external files and URLs are not read",
        "SVG logo that embeds a local file through <image>"),
    "logo_css_import.svg": InputCase(
        lambda: svg('<style>@import url("file:///etc/passwd");</style><rect width="5" height="5"/>'),
        (*FRAME, "--logo", "{file}"), 2, r"logo SVG <style> uses @import",
        "SVG logo whose style sheet imports a local file"),
    "logo_external_entity.svg": InputCase(
        lambda: svg("<text>&x;</text>", head='<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM '
                                            '"file:///etc/passwd">]>'),
        (*FRAME, "--logo", "{file}"), 2, r"logo SVG declares entities",
        "SVG logo with an external entity"),
    "depth_png_13000x13000.png": InputCase(
        lambda: png_zero(13000, 13000), ("portrait", "{photo}", "-o", "{out}.jpg", "--depth", "{file}"),
        2, r"depth image is 13000x13000 px = 169 MP, needs about .* above the memory budget of 50 MP",
        "169 MP depth PNG (was: 2.8 GB; depth maps were not checked against the pixel limit)",
        {"RAWLUX_MAX_MEGAPIXELS": "50"}),
    "photo_claims_13000x13500.jpg": InputCase(
        lambda: jpeg_claiming(13000, 13500), ("frame", "{file}", "-o", "{out}.jpg"), 2,
        r"photo is 13000x13500 px = 176 MP, needs about .* above the memory budget of 50 MP",
        "JPEG header claiming 176 MP (was: 4.8 GB through frame; no pixel budget on photos)",
        {"RAWLUX_MAX_MEGAPIXELS": "50"}),
    "gdepth_5000_prefixes.jpg": InputCase(
        gdepth_many_prefixes, ("portrait", "{file}", "-o", "{out}.jpg", "--aperture", "2.8"), 0, None,
        "GDepth XMP binding 5000 prefixes (parsing was quadratic in them)"),
    "look_nesting_5000.toml": InputCase(
        toml_deep, ("develop", "{raw}", "-o", "{out}.jpg", "--look", "{file}"), 2,
        r"look file nests 5000 levels deep at line 2, above the limit of 16",
        "look TOML nested 5000 arrays deep (was: RecursionError blaming the photo)"),
    "layout_nesting_5000.toml": InputCase(
        toml_deep, (*FRAME, "--layout", "{file}"), 2,
        r"layout file nests 5000 levels deep at line 2", "layout TOML nested 5000 arrays deep"),
    "layout_margins_2.toml": InputCase(
        lambda: layout_toml("huge", 2.0), ("frame", "{big}", "-o", "{out}.jpg", "--layout", "{file}"), 2,
        r"the framed canvas of 2100x2000 px \(layout 'huge'\) needs about 0\.101 GB, above the memory "
        r"budget of 0\.032 GB", "layout with 2.0 margins: a canvas 25x the photo (no limit before)",
        {"RAWLUX_MAX_MEGAPIXELS": "0.5"}),
    "layout_template_width.toml": InputCase(
        lambda: layout_toml("wide", 0.1, "{make:x>1000000}"), (*FRAME, "--layout", "{file}"), 2,
        r"left\[0\]\.lines\[0\]\.text: template .* has width or precision 1000000, above 200",
        "layout whose caption pads to 10^6 characters (was: 43 s per line)"),
    "cube_nonascii_digit.cube": InputCase(
        lambda: cube("LUT_3D_SIZE 3\u00b2"), ("develop", "{raw}", "-o", "{out}.jpg", "--lut", "{file}"),
        2, r"line 2: LUT_3D_SIZE needs one integer", "LUT_3D_SIZE with a superscript digit "
        "(was: internal error ValueError)"),
    "cube_value_1e39.cube": InputCase(
        lambda: b'TITLE "t"\nLUT_1D_SIZE 2\n0 0 0\n1e39 1 1\n',
        ("develop", "{raw}", "-o", "{out}.jpg", "--lut", "{file}"), 2,
        r"table or domain values beyond \+-1e30", "fuzzer find: a table value beyond float32 "
        "(was: an error that did not name the file)"),
    "cube_escape_keyword.cube": InputCase(
        lambda: cube("LUT_3D_SIZE 2", "EVIL\x1b]0;PWNED\x07\x1b[2J 1\n"),
        ("develop", "{raw}", "-o", "{out}.jpg", "--lut", "{file}"), 2,
        r"line 2: unknown keyword EVIL\\x1b\]0;PWNED\\x07\\x1b\[2J$",
        "keyword holding ESC ]0;...BEL ESC[2J (retitled and cleared the terminal)"),
    "avif_bad_exif.avif": InputCase(
        avif_bad_exif, ("frame", "{file}", "-o", "{out}.avif"), 0,
        r"the source's EXIF cannot be re-written \(AttributeError",
        "AVIF with ImageDescription stored as RATIONAL (was: internal error)"),
    "dng_make_escape.dng": InputCase(
        lambda: dng_with_make("Evil\x1b]0;pwned\x07\x1b[2J"), ("info", "{file}"), 0, None,
        "camera make/model with terminal escapes and rich markup (rawlux info echoed them raw)"),
    "nef_claims_4000x3000.nef": InputCase(
        lambda: nef_like(4000, 3000), ("develop", "{file}", "-o", "{out}.jpg"), 2,
        r"raw_width 4000 x raw_height 3000 cannot be held by a 4305 byte file",
        "script-made NEF-like TIFF (LibRaw opens it) claiming 12 MP in 4 KB: refused before unpack"),
    "nef_claims_2000x1500.nef": InputCase(
        lambda: nef_like(2000, 1500), ("develop", "{file}", "-o", "{out}.jpg"), 2,
        r"raw image is 2000x1500 px = 3 MP, needs about .* above the memory budget of 1 MP",
        "NEF-like TIFF claiming 3 MP (plausible for its size) above a 1 MP budget",
        {"RAWLUX_MAX_MEGAPIXELS": "1"}),
    "nef_claims_20000x15000.nef": InputCase(
        lambda: nef_like(20000, 15000), ("develop", "{file}", "-o", "{out}.jpg"), 2,
        r"raw image is 20000x15000 px = 300 MP, above the limit of 250 MP",
        "NEF-like TIFF claiming 300 MP (LibRaw would allocate 600 MB at unpack)"),
}

#: Inputs that are not files in the repository (made at run time): (args, exit, regex).
SPECIAL: dict[str, tuple[tuple[str, ...], int, str]] = {
    "fifo_logo": ((*FRAME, "--logo", "{fifo}"), 2, r"logo file is a FIFO; only regular files are read"),
    "dev_zero_layout": ((*FRAME, "--layout", "/dev/zero"), 2,
                        r"^rawlux: error: /dev/zero: layout file is a device; only regular files"),
    "dev_zero_look": (("develop", "{raw}", "-o", "{out}.jpg", "--look", "/dev/zero"), 2,
                      r"^rawlux: error: /dev/zero: look file is a device"),
    "template_width": ((*FRAME, "--text", "{make:x>1000000}"), 2, r"has width or precision 1000000"),
    "template_precision": ((*FRAME, "--text", "{exposure:.999999999f}"), 2,
                           r"has width or precision 999999999"),
}


def build(name: str) -> bytes:
    return CASES[name].build()


