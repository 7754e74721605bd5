"""Read a logo for photo frames: PNG (with alpha), JPEG/WebP/TIFF, or SVG/SVGZ (via cairosvg).

Returns float32 RGBA (H, W, 4) in [0, 1], sRGB-encoded, straight (not premultiplied) alpha, at
most :data:`LOGO_MAX_SIDE` px on its long side and :data:`LOGO_OUT_PIXELS` pixels (a frame logo is ~4 % of the photo's short side).

Hostile logos are refused before the memory is spent, each with a one-line error naming the file:

* only regular files of at most :data:`LOGO_MAX_BYTES` are read (a FIFO or ``/dev/zero`` is
  refused without blocking, see :mod:`rawlux.core.limits`);
* raster logos: the header's dimensions are checked (:data:`LOGO_MAX_PIXELS`, the safety limits)
  before decoding; the decoded 8-bit image is scaled down *before* the float conversion;
* SVG: gzip (``.svgz``) is decompressed to at most :data:`SVG_MAX_BYTES`; entities/DOCTYPEs,
  references to anything but the file's own ``#id`` or an embedded ``data:`` image (local files,
  ``file:``/``http:`` images, CSS ``url()``/``@import``) are refused; ``<use>`` is expanded by
  count (linear time) and refused above :data:`SVG_MAX_NODES` elements; embedded raster images are
  checked like raster logos; the rendering size is computed here so the long side never exceeds
  :data:`LOGO_MAX_SIDE` whatever the aspect ratio.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np

from rawlux.core.errors import CorruptInput, ImageTooLarge, UnsupportedInput

SVG_HEIGHT = 1024  # px an SVG is rasterised to (a frame logo is ~4 % of the short side)
LOGO_MAX_BYTES = 32 * 1024 * 1024  # logo file size
LOGO_MAX_PIXELS = 40_000_000  # decoded raster logo (8-bit RGBA: 160 MB)
LOGO_MAX_SIDE = 8192  # px, long side of the returned logo (scaled down beyond)
LOGO_OUT_PIXELS = 4_000_000  # pixels of the returned float logo (64 MB; scaled down beyond)
SVG_MAX_BYTES = 16 * 1024 * 1024  # SVG text after gzip decompression
SVG_MAX_NODES = 100_000  # elements after expanding <use>
SVG_MAX_ASPECT = 1000.0  # long side / short side
SVG_MAX_NUMBER = 1e6  # any coordinate, length or radius (a circle of r = 1e40 stroked for minutes)
SVG_MAX_SCALE = 1e4  # product of the transform scales from the root to any element
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_SCALE = re.compile(r"(scale|matrix)\s*\(([^)]*)\)", re.IGNORECASE)
_PATH_CHARS = re.compile(r"[^MmLlHhVvCcSsQqTtAaZzEe0-9.,+\-\s]")  # cairosvg loops on others
_POINTS_CHARS = re.compile(r"[^Ee0-9.,+\-\s]")
_NOT_NUMERIC = {"id", "class", "href", "src", "font-family", "lang", "space", "version", "baseProfile"}

_XLINK = "{http://www.w3.org/1999/xlink}href"
_XLINK_NS = "{http://www.w3.org/1999/xlink}"
_SVG_NS = "{http://www.w3.org/2000/svg}"
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)


def _is_svg(p: Path, head: bytes) -> bool:
    if p.suffix.lower() in (".svg", ".svgz"):
        return True
    h = head.lstrip().lower()
    return h.startswith(b"<svg") or (h.startswith(b"<?xml") and b"<svg" in head.lower())


def _gunzip(data: bytes, p: Path) -> bytes:
    """Decompress a gzip stream to at most :data:`SVG_MAX_BYTES` (bounded: never more)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, SVG_MAX_BYTES + 1)
    except zlib.error as exc:
        raise CorruptInput(f"logo .svgz is not valid gzip data ({exc})", p) from None
    if len(out) > SVG_MAX_BYTES or d.unconsumed_tail:
        raise CorruptInput(f"logo .svgz decompresses to more than {SVG_MAX_BYTES // 2**20} MB", p)
    if out[:2] == b"\x1f\x8b":
        raise CorruptInput("logo .svgz holds another gzip stream", p)
    return out


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _check_raster_header(data: bytes, p: Path, what: str) -> None:
    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as im:
                w, h = im.size
    except Exception:  # noqa: BLE001 - cairosvg skips images it cannot read
        return
    if w * h > LOGO_MAX_PIXELS:
        raise ImageTooLarge(f"{what} is {w}x{h} px, above the {LOGO_MAX_PIXELS // 10**6} MP limit "
                            f"for logos", p)


def _check_ref(ref: str, p: Path, where: str, depth: int) -> None:
    """Allow only ``#id`` and ``data:`` references; check embedded images."""
    r = ref.strip()
    if not r or r.startswith("#"):
        return
    if not r.lower().startswith("data:"):
        shown = ascii(r[:60])
        raise UnsupportedInput(f"logo SVG {where} references {shown}: external files and URLs are "
                               f"not read (embed images as data: URLs)", p)
    head, _, payload = r.partition(",")
    try:
        blob = (base64.b64decode(payload, validate=False) if head.lower().endswith(";base64")
                else unquote_to_bytes(payload))
    except (binascii.Error, ValueError):
        return  # cairosvg cannot decode it either
    if b"<svg" in blob[:4096].lower() or blob[:2] == b"\x1f\x8b":
        if depth >= 2:
            raise UnsupportedInput("logo SVG nests SVG images more than 2 deep", p)
        _svg_size(_check_svg(blob if blob[:2] != b"\x1f\x8b" else _gunzip(blob, p), p, depth + 1))
    else:
        _check_raster_header(blob, p, f"an image embedded in the logo SVG ({where})")


def _check_svg(data: bytes, p: Path, depth: int = 0) -> Any:
    """Parse ``data`` safely and refuse external references and ``<use>`` bombs; the root."""
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import fromstring
    except ImportError:  # pragma: no cover - a dependency of cairosvg
        raise UnsupportedInput("SVG logos need defusedxml (pip install defusedxml); use a PNG", p)
    from xml.etree.ElementTree import ParseError

    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsupportedInput(f"logo SVG declares entities ({type(exc).__name__}); they are not "
                               f"allowed", p) from None
    except (ParseError, ValueError) as exc:
        raise CorruptInput(f"logo SVG is not well-formed XML ({' '.join(str(exc).split())[:120]})",
                           p) from None
    if _local(root.tag) != "svg":
        raise CorruptInput(f"logo file is XML but its root is <{ascii(_local(root.tag))[1:-1][:40]}>, "
                           f"not <svg>", p)
    elems = list(root.iter())
    if len(elems) > SVG_MAX_NODES:
        raise CorruptInput(f"logo SVG has {len(elems)} elements, above the limit of {SVG_MAX_NODES}", p)
    ids: dict[str, Any] = {}
    for e in elems:
        i = e.get("id")
        if i is not None:
            ids.setdefault(i, e)
        tag = _local(e.tag)
        for key, val in e.attrib.items():
            k = _local(key) if key.startswith("{") else key
            if k in ("href", "src") or key == _XLINK:
                _check_ref(val, p, f"<{ascii(tag)[1:-1][:20]}>", depth)
            elif "url(" in val.lower():
                for m in _CSS_URL.finditer(val):
                    _check_ref(m.group(1), p, f"{ascii(k)[1:-1][:20]}=url()", depth)
        if tag == "style" and e.text:
            if "@import" in e.text.lower():
                raise UnsupportedInput("logo SVG <style> uses @import: external files are not read", p)
            for m in _CSS_URL.finditer(e.text):
                _check_ref(m.group(1), p, "<style> url()", depth)
    _check_use_expansion(root, ids, p)
    _check_numbers(root, p)
    return root


def _numbers(text: str) -> list[float]:
    out = []
    for m in _NUMBER.finditer(text):
        try:
            out.append(abs(float(m.group())))
        except (ValueError, OverflowError):  # pragma: no cover - the regex gives floats
            out.append(float("inf"))
    return out


def _check_numbers(root: Any, p: Path) -> None:
    """Refuse coordinates/lengths beyond :data:`SVG_MAX_NUMBER` and transform scales whose
    product along the tree exceeds :data:`SVG_MAX_SCALE` (cairo's work grows with the size of
    what it strokes in device space, not with the file size)."""
    stack = [(root, 1.0)]
    while stack:
        e, scale = stack.pop()
        tag = e.tag if isinstance(e.tag, str) else ""
        if tag.startswith("{") and not tag.startswith(_SVG_NS):  # editor metadata (Inkscape...)
            continue  # cairosvg does not draw it
        for key, val in e.attrib.items():
            if key.startswith("{") and not key.startswith(_XLINK_NS):
                continue  # sodipodi:/inkscape: attributes are not drawn either
            k = _local(key) if key.startswith("{") else key
            if k in _NOT_NUMERIC or val.lstrip().lower().startswith("data:"):
                continue
            bad = (_PATH_CHARS.search(val) if k == "d" else
                   _POINTS_CHARS.search(val) if k == "points" else None)
            if bad:
                raise CorruptInput(f"logo SVG <{ascii(_local(e.tag))[1:-1][:20]}> {k} has the "
                                   f"invalid character {ascii(bad.group())}", p)
            nums = _numbers(val)
            big = max(nums, default=0.0)
            if big > SVG_MAX_NUMBER:
                raise CorruptInput(f"logo SVG <{ascii(_local(e.tag))[1:-1][:20]}> "
                                   f"{ascii(k)[1:-1][:20]} has a value of {big:.3g}, beyond "
                                   f"{SVG_MAX_NUMBER:g}", p)
            if k in ("transform", "patternTransform", "gradientTransform"):
                for m in _SCALE.finditer(val):
                    args = _numbers(m.group(2))
                    args = args[:4] if m.group(1).lower() == "matrix" else args[:2]
                    scale *= max(max(args, default=1.0), 1.0)
                if scale > SVG_MAX_SCALE:
                    raise CorruptInput(f"logo SVG scales its content by {scale:.3g} through nested "
                                       f"transforms, above {SVG_MAX_SCALE:g}", p)
        stack.extend((c, scale) for c in e)


def _check_use_expansion(root: Any, ids: dict[str, Any], p: Path) -> None:
    """Count the elements cairosvg draws once every ``<use>`` is expanded (memoised, linear in
    the file) and refuse more than :data:`SVG_MAX_NODES` or a reference cycle."""
    cost: dict[int, int] = {}
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    cap = SVG_MAX_NODES + 1
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        e, done = stack.pop()
        k = id(e)
        target = None
        if _local(e.tag) in ("use", "tref"):
            ref = (e.get(_XLINK) or e.get("href") or "").strip()
            target = ids.get(ref[1:]) if ref.startswith("#") else None
        deps = list(e) + ([target] if target is not None else [])
        if not done:
            if state.get(k) == 2:
                continue
            if state.get(k) == 1:
                raise CorruptInput("logo SVG has a <use> reference cycle", p)
            state[k] = 1
            stack.append((e, True))
            for c in deps:
                if state.get(id(c)) == 1:
                    raise CorruptInput("logo SVG has a <use> reference cycle", p)
                if state.get(id(c)) != 2:
                    stack.append((c, False))
            continue
        n = 1 + sum(cost[id(c)] for c in deps)
        cost[k] = min(n, cap)
        state[k] = 2
    if cost[id(root)] > SVG_MAX_NODES:
        raise CorruptInput(f"logo SVG expands to more than {SVG_MAX_NODES} elements through <use> "
                           f"(a <use> bomb)", p)


def _svg_size(root: Any) -> tuple[float, float]:
    """The SVG's natural (width, height) in px: its width/height attributes (units converted as
    cairosvg does), a missing or percentage one completed from the viewBox's aspect ratio."""
    from cairosvg.helpers import size

    fake = SimpleNamespace(dpi=96, font_size=16.0, context_width=0, context_height=0)

    def length(key: str) -> float | None:
        v = (root.get(key) or "").strip()
        if not v or v.endswith("%"):
            return None
        try:
            x = float(size(fake, v, 0))
        except (ValueError, TypeError, IndexError, ZeroDivisionError):
            return None
        return x if np.isfinite(x) and x > 0 else None

    w, h = length("width"), length("height")
    try:
        vb = [float(x) for x in re.split(r"[\s,]+", (root.get("viewBox") or "").strip())]
        vw, vh = (vb[2], vb[3]) if len(vb) == 4 and vb[2] > 0 and vb[3] > 0 else (None, None)
    except ValueError:
        vw = vh = None
    if w and h:
        return w, h
    if vw and vh:
        if w:
            return w, w * vh / vw
        if h:
            return h * vw / vh, h
        return vw, vh
    return w or 0.0, h or 0.0


def _svg_to_png(p: Path, data: bytes, height: int) -> bytes:
    try:
        import cairosvg
    except (ImportError, OSError):
        raise UnsupportedInput("SVG logos need cairosvg (pip install cairosvg); use a PNG", p) from None
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, p)
    if len(data) > SVG_MAX_BYTES:
        raise CorruptInput(f"logo SVG is above {SVG_MAX_BYTES // 2**20} MB", p)
    root = _check_svg(data, p)
    w, h = _svg_size(root)
    if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise CorruptInput("logo SVG has no usable width/height or viewBox", p)
    aspect = w / h
    if max(aspect, 1 / aspect) > SVG_MAX_ASPECT:
        raise CorruptInput(f"logo SVG is {w:g} x {h:g}: an aspect ratio above "
                           f"{SVG_MAX_ASPECT:g}:1", p)
    out_h = float(height)
    out_w = out_h * aspect
    scale = min(1.0, LOGO_MAX_SIDE / max(out_w, out_h), (LOGO_OUT_PIXELS / (out_w * out_h)) ** 0.5)
    out_w, out_h = max(1, round(out_w * scale)), max(1, round(out_h * scale))
    try:
        return cairosvg.svg2png(bytestring=data, output_width=out_w, output_height=out_h,
                                unsafe=False)
    except RecursionError:
        raise CorruptInput("cannot render SVG logo: it nests too deeply", p) from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a corrupt file
        raise CorruptInput(f"cannot render SVG logo: {' '.join(str(exc).split())[:200]}", p) from None


def _decode_raster(data: bytes, p: Path) -> Any:
    """Decode a raster logo to a PIL RGBA image no larger than :data:`LOGO_MAX_SIDE`, checking
    the header's size before decoding."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    from rawlux.io.safety import check_dimensions, check_memory

    try:
        with warnings.catch_warnings():  # the size is checked below, before decoding
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            im = PILImage.open(io.BytesIO(data))
        with im:
            w, h = im.size
            check_dimensions(w, h, p, "logo")
            if w * h > LOGO_MAX_PIXELS:
                raise ImageTooLarge(f"logo is {w}x{h} px = {w * h / 1e6:.0f} MP, above the "
                                    f"{LOGO_MAX_PIXELS // 10**6} MP limit for logos", p)
            check_memory(w, h, p, "logo")
            if w * h > LOGO_OUT_PIXELS and im.format == "JPEG":
                k = (LOGO_OUT_PIXELS / (w * h)) ** 0.5
                im.draft("RGB", (int(w * k) + 1, int(h * k) + 1))  # the decoder scales down
            im.load()
            rgba = im.convert("RGBA")
    except UnidentifiedImageError:
        raise CorruptInput("not a readable logo image (use PNG, JPEG, WebP, TIFF or SVG)", p) from None
    except PILImage.DecompressionBombError:
        raise ImageTooLarge("logo image is too large", p) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptInput(f"not a readable logo image: {' '.join(str(exc).split())[:200]}", p) from None
    s = min(LOGO_MAX_SIDE / max(rgba.size), (LOGO_OUT_PIXELS / (rgba.width * rgba.height)) ** 0.5)
    if s < 1:
        size = (max(1, round(rgba.width * s)), max(1, round(rgba.height * s)))
        rgba = rgba.resize(size, PILImage.Resampling.LANCZOS, reducing_gap=3.0)
    return rgba


def load_logo(path: str | os.PathLike[str], *, svg_height: int = SVG_HEIGHT) -> np.ndarray:
    """Logo file -> float32 RGBA (H, W, 4) in [0, 1] (sRGB-encoded, straight alpha).

    PNG/WebP keep their alpha; opaque formats get alpha 1. SVG is rasterised at ``svg_height`` px
    tall (less when that would make the long side exceed :data:`LOGO_MAX_SIDE`); raster logos
    larger than that are scaled down. Missing file, FIFO or device -> MissingInput; too large ->
    ImageTooLarge / CorruptInput; unreadable or unsafe -> CorruptInput / UnsupportedInput, each
    naming the file.
    """
    from rawlux.core.limits import read_capped_bytes

    p = Path(path)
    data = read_capped_bytes(p, LOGO_MAX_BYTES, "logo file")
    if not data:
        raise CorruptInput("logo file is empty", p)
    if _is_svg(p, data[:256]) or (data[:2] == b"\x1f\x8b" and p.suffix.lower() != ".png"):
        data = _svg_to_png(p, data, int(svg_height))
    rgba = _decode_raster(data, p)
    if rgba.width < 1 or rgba.height < 1:
        raise CorruptInput("logo image is empty", p)
    arr = np.asarray(rgba, dtype=np.float32) * np.float32(1.0 / 255.0)
    return np.ascontiguousarray(arr)
