"""Read depth maps carried by photos, or given as a separate picture.

* Google **GDepth** XMP (Camera "Lens Blur", many Android phones): ``GDepth:Format``
  (RangeInverse | RangeLinear), ``Near``, ``Far``, ``Mime`` and base64 ``Data`` — usually in the
  *extended* XMP (``xmpNote:HasExtendedXMP`` GUID, APP1 chunks reassembled by offset). GFocus
  gives the focal point; GImage carries the unblurred original.
* Android **Dynamic Depth** 1.0: ``Container:Directory`` items (Mime, Length, Padding) appended
  after the primary JPEG; the ``Depth:DepthMap`` (Format, Near, Far, DepthURI) says which is the
  depth image. Best effort (no real sample was available for testing).
* Apple / HEIF auxiliary **depth or disparity** images through pillow-heif (``depth_images`` or
  ``aux`` URNs containing depth/disparity).
* ``--depth FILE``: a grey picture, dark = near by default (:func:`read_depth_image`).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from rawlux.core.errors import CorruptInput, MissingInput, UnsupportedInput
from rawlux.core.depth import DepthMap, decode_range, disparity_from_image

XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_SIG = b"http://ns.adobe.com/xmp/extension/\x00"
NS_GDEPTH = "http://ns.google.com/photos/1.0/depthmap/"
NS_GFOCUS = "http://ns.google.com/photos/1.0/focus/"
NS_GIMAGE = "http://ns.google.com/photos/1.0/image/"
NS_DD_DEPTH = "http://ns.google.com/photos/dd/1.0/depthmap/"
NS_DD_ITEM = "http://ns.google.com/photos/dd/1.0/item/"
MAX_FILE = 512 * 1024 * 1024


@dataclass(frozen=True)
class JpegXmp:
    """The standard XMP packet and the reassembled extended XMP of a JPEG (str, may be empty)."""

    main: str
    extended: str


def _read(path: str | PathLike[str], what: str = "file") -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE` (a FIFO or device is refused)."""
    from rawlux.core.limits import read_capped_bytes

    return read_capped_bytes(path, MAX_FILE, what)


def jpeg_xmp(data: bytes, path: str | PathLike[str] | None = None) -> JpegXmp:
    """Walk JPEG markers up to SOS and collect XMP (standard + extended, by GUID and offset)."""
    if data[:2] != b"\xff\xd8":
        return JpegXmp("", "")
    main = ""
    chunks: dict[bytes, dict[int, bytes]] = {}
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise CorruptInput(f"bad JPEG marker at byte {i}", path)
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xDA, 0xD9):
            break
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2 or i + 2 + length > n:
            raise CorruptInput(f"truncated JPEG segment at byte {i}", path)
        seg = data[i + 4:i + 2 + length]
        if marker == 0xE1:
            if seg.startswith(XMP_SIG) and not main:
                main = seg[len(XMP_SIG):].decode("utf-8", "replace")
            elif seg.startswith(EXT_SIG) and len(seg) >= len(EXT_SIG) + 40:
                body = seg[len(EXT_SIG):]
                guid = body[:32]
                _total, offset = struct.unpack(">II", body[32:40])
                chunks.setdefault(guid, {})[offset] = body[40:]
        i += 2 + length
    extended = ""
    if chunks:
        want = _attr(main, "http://ns.adobe.com/xmp/note/", "HasExtendedXMP")
        guid = want.encode("ascii", "ignore") if want else None
        parts = chunks.get(guid) if guid in chunks else next(iter(chunks.values()))
        extended = b"".join(parts[k] for k in sorted(parts)).decode("utf-8", "replace")
    return JpegXmp(main, extended)


def _prefixes(xmp: str, ns: str) -> list[str]:
    """Prefixes bound to namespace ``ns`` (one linear regex pass, declaration order)."""
    return re.findall(r'xmlns:([\w.-]+)\s*=\s*["\']' + re.escape(ns) + r'["\']', xmp) or []


def _attr(xmp: str, ns: str, name: str) -> str | None:
    """Value of property ``name`` in namespace ``ns`` (attribute form first, then element form).

    Linear in the packet whatever the number of prefixes (a packet binding 20,000 prefixes to
    the namespace took 14-20 s with one search per prefix): the property is found once by name
    with any prefix (matches start only at a name boundary) and its prefix looked up in a set.
    """
    pres = set(_prefixes(xmp, ns))
    if not pres:
        return None
    for m in re.finditer(rf'(?<![\w.-])([\w.-]+):{name}\s*=\s*"([^"]*)"', xmp):
        if m.group(1) in pres:
            return m.group(2)
    for m in re.finditer(rf"<([\w.-]+):{name}>([^<]*)</([\w.-]+):{name}>", xmp):
        if m.group(1) in pres and m.group(3) == m.group(1):
            return m.group(2)
    return None


def _decode_picture(payload: bytes, what: str, path: str | PathLike[str] | None) -> np.ndarray:
    """PNG/JPEG/TIFF bytes -> float32 (h, w) grey in [0, 1] (16-bit kept)."""
    from PIL import Image as PILImage

    from rawlux.core.errors import RawluxError
    from rawlux.io.safety import check_dimensions, check_memory

    try:
        with warnings.catch_warnings():  # the size is checked below, before decoding
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            im = PILImage.open(io.BytesIO(payload))
        with im:
            check_dimensions(im.width, im.height, path, what)
            check_memory(im.width, im.height, path, what)  # the pixel budget covers depth maps
            im.load()
            arr = np.asarray(im)
    except RawluxError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a corrupt payload
        raise CorruptInput(f"{what} cannot be decoded ({type(exc).__name__})", path) from None
    if np.issubdtype(arr.dtype, np.floating):
        scale = 1.0
    elif arr.dtype == np.uint8 or arr.dtype == bool:
        scale = 255.0 if arr.dtype == np.uint8 else 1.0
    elif arr.dtype == np.uint16 or arr.max() > 255:
        scale = 65535.0
    else:
        scale = 255.0
    v = arr.astype(np.float32) / np.float32(scale)
    if v.ndim == 3:
        v = v[..., :3].mean(axis=2) if v.shape[2] >= 3 else v[..., 0]
    return np.ascontiguousarray(np.clip(v, 0.0, 1.0), dtype=np.float32)


def _float(v: str | None, what: str, path: str | PathLike[str] | None) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CorruptInput(f"{what} = {v!r} is not a number", path) from None


def _decode_range(values: np.ndarray, fmt: str, near: float, far: float, what: str,
                  path: str | PathLike[str] | None) -> np.ndarray:
    """:func:`decode_range` whose refusals (format, near/far) name the file and the XMP field."""
    from rawlux.core.errors import InvalidParameter

    try:
        return decode_range(values, fmt, near, far)
    except InvalidParameter as exc:
        raise CorruptInput(f"{what}: {exc.reason}", path) from None


def _gdepth(x: JpegXmp, path: str | PathLike[str] | None) -> DepthMap | None:
    both = x.main + "\n" + x.extended
    data = _attr(x.extended, NS_GDEPTH, "Data") or _attr(x.main, NS_GDEPTH, "Data")
    if not data:
        return None
    fmt = _attr(both, NS_GDEPTH, "Format") or "RangeInverse"
    near = _float(_attr(both, NS_GDEPTH, "Near"), "GDepth:Near", path)
    far = _float(_attr(both, NS_GDEPTH, "Far"), "GDepth:Far", path)
    try:
        payload = base64.b64decode("".join(data.split()), validate=False)
    except (binascii.Error, ValueError):
        raise CorruptInput("GDepth:Data is not valid base64", path) from None
    values = _decode_picture(payload, "GDepth depth image", path)
    disp = _decode_range(values, fmt, near, far, "GDepth", path)
    fx = _attr(both, NS_GFOCUS, "FocalPointX")
    fy = _attr(both, NS_GFOCUS, "FocalPointY")
    focus = None
    if fx is not None and fy is not None:
        try:
            focus = (float(fx), float(fy))
        except ValueError:
            focus = None
    return DepthMap(disp, "gdepth", near, far, focus)


def _dynamic_depth(data: bytes, x: JpegXmp, path: str | PathLike[str] | None) -> DepthMap | None:
    xmp = x.main + "\n" + x.extended
    if not _prefixes(xmp, NS_DD_ITEM):
        return None
    pre = _prefixes(xmp, NS_DD_ITEM)[0]
    items = []
    for m in re.finditer(r"<[\w.-]+:Item\b([^<>]*)/?>", xmp):
        attrs = m.group(1)

        def get(name: str, attrs: str = attrs) -> str | None:
            mm = re.search(rf'{re.escape(pre)}:{name}\s*=\s*"([^"]*)"', attrs)
            return mm.group(1) if mm else None

        items.append({"mime": get("Mime") or "", "length": int(get("Length") or 0),
                      "padding": int(get("Padding") or 0), "uri": get("DataURI") or "",
                      "semantic": get("Semantic") or ""})
    if len(items) < 2:
        return None
    fmt = _attr(xmp, NS_DD_DEPTH, "Format") or "RangeInverse"
    near = _float(_attr(xmp, NS_DD_DEPTH, "Near"), "DepthMap:Near", path)
    far = _float(_attr(xmp, NS_DD_DEPTH, "Far"), "DepthMap:Far", path)
    uri = _attr(xmp, NS_DD_DEPTH, "DepthURI")
    tail = sum(it["length"] + it["padding"] for it in items[1:])
    if tail <= 0 or tail > len(data):
        raise CorruptInput("Dynamic Depth item lengths do not fit the file", path)
    pos = len(data) - tail
    for it in items[1:]:
        chunk = data[pos:pos + it["length"]]
        pos += it["length"] + it["padding"]
        if (uri and it["uri"] == uri) or (not uri and "depth" in it["semantic"].lower()):
            values = _decode_picture(chunk, "Dynamic Depth image", path)
            return DepthMap(_decode_range(values, fmt, near, far, "DepthMap", path), "dynamic-depth",
                            near, far)
    return None


def _check_aux_size(obj: object, what: str, path: str | PathLike[str]) -> None:
    """The pixel budget for a HEIF auxiliary image, from its header size before decoding."""
    from rawlux.io.safety import check_dimensions, check_memory

    size = getattr(obj, "size", None)
    if isinstance(size, tuple) and len(size) == 2:
        check_dimensions(int(size[0]), int(size[1]), path, what)
        check_memory(int(size[0]), int(size[1]), path, what)


def _heif_depth(path: str | PathLike[str]) -> DepthMap | None:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - optional
        return None
    try:
        hf = pillow_heif.open_heif(str(path), convert_hdr_to_8bit=False)
    except Exception:  # noqa: BLE001 - not a HEIF: no HEIF depth
        return None
    img = hf[0] if len(hf) else None
    if img is None:
        return None
    depth_list = img.info.get("depth_images") or []
    if depth_list:
        d = depth_list[0]
        _check_aux_size(d, "HEIF depth image", path)
        arr = np.asarray(d.to_pillow() if hasattr(d, "to_pillow") else d)
        v = arr.astype(np.float32)
        v = v / (65535.0 if arr.dtype == np.uint16 else 255.0)
        return DepthMap(disparity_from_image(v, near_is_white=False), "heic-depth")
    for urn, ids in (img.info.get("aux") or {}).items():
        low = urn.lower()
        if ("depth" in low or "disparity" in low) and ids:
            aux = img.get_aux_image(ids[0])
            _check_aux_size(aux, "HEIF depth image", path)
            arr = np.asarray(aux.to_pillow() if hasattr(aux, "to_pillow") else aux)
            if arr.ndim == 3:
                arr = arr[..., 0]
            v = arr.astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
            if "disparity" in low:  # Apple disparity: bright = near
                return DepthMap(disparity_from_image(v, near_is_white=True), "heic-disparity")
            return DepthMap(disparity_from_image(v, near_is_white=False), "heic-depth")
    return None


def read_embedded_matte(path: str | PathLike[str]) -> np.ndarray | None:
    """Apple's portrait effects / segmentation matte of a HEIC (auxiliary image whose URN names
    a ``portraiteffectsmatte`` or ``hairsegmentationmatte``...), float32 (h, w) in [0, 1] at its
    own resolution, or None. Untested on a real file (no such sample was available)."""
    data = _read(path)
    if data[4:12] not in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return None
    try:
        import pillow_heif

        hf = pillow_heif.open_heif(str(path))
    except Exception:  # noqa: BLE001 - unreadable HEIF: no matte
        return None
    if not len(hf):
        return None
    aux = hf[0].info.get("aux") or {}
    for urn, ids in aux.items():
        if "portraiteffectsmatte" in urn.lower() and ids:
            im = hf[0].get_aux_image(ids[0])
            _check_aux_size(im, "HEIF portrait matte", path)
            arr = np.asarray(im.to_pillow() if hasattr(im, "to_pillow") else im)
            if arr.ndim == 3:
                arr = arr[..., 0]
            scale = 65535.0 if arr.dtype == np.uint16 else 255.0
            return np.ascontiguousarray(arr.astype(np.float32) / np.float32(scale))
    return None


def heif_aux_names(path: str | PathLike[str]) -> list[str]:
    """URNs of the auxiliary images of a HEIF's primary image (for diagnostics)."""
    import pillow_heif

    hf = pillow_heif.open_heif(str(path))
    names = list((hf[0].info.get("aux") or {}).keys()) if len(hf) else []
    if len(hf) and hf[0].info.get("depth_images"):
        names.append("depth_images")
    return names


_FOCUS_MAP = {
    1: lambda x, y: (x, y), 2: lambda x, y: (1 - x, y), 3: lambda x, y: (1 - x, 1 - y),
    4: lambda x, y: (x, 1 - y), 5: lambda x, y: (y, x), 6: lambda x, y: (1 - y, x),
    7: lambda x, y: (1 - y, 1 - x), 8: lambda x, y: (y, 1 - x),
}


def _exif_orientation(data: bytes) -> int:
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            o = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF: assume upright
        return 1
    return o if o in range(1, 9) else 1


def orient_depth(depth: DepthMap, orientation: int) -> DepthMap:
    """Rotate/flip a depth map stored in sensor orientation like the photo's pixels (EXIF 1..8)."""
    from rawlux.core.orientation import apply_orientation

    if orientation == 1:
        return depth
    focus = _FOCUS_MAP[orientation](*depth.focus) if depth.focus else None
    return DepthMap(apply_orientation(depth.disparity, orientation), depth.source, depth.near,
                    depth.far, focus)


def read_embedded_depth(path: str | PathLike[str], *, oriented: bool = True) -> DepthMap | None:
    """The depth map a photo carries (GDepth, Dynamic Depth, HEIF depth/disparity) or None.

    ``oriented``: apply the photo's EXIF orientation (as :func:`rawlux.io.photo.open_photo` does
    for the pixels) so the map lines up with the decoded photo.
    """
    data = _read(path)
    out: DepthMap | None = None
    if data[:2] == b"\xff\xd8":
        x = jpeg_xmp(data, path)
        if not (x.main or x.extended):
            return None
        out = _gdepth(x, path) or _dynamic_depth(data, x, path)
        if out is not None and oriented:
            out = orient_depth(out, _exif_orientation(data))
    elif data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
        out = _heif_depth(path)  # pillow-heif decodes auxiliary images upright
    return out


def read_embedded_original(path: str | PathLike[str]) -> np.ndarray | None:
    """The unblurred original a Google Lens Blur JPEG keeps in ``GImage:Data``: float32
    (H, W, 3) sRGB-encoded [0, 1], or None."""
    data = _read(path)
    if data[:2] != b"\xff\xd8":
        return None
    x = jpeg_xmp(data, path)
    payload = _attr(x.extended, NS_GIMAGE, "Data") or _attr(x.main, NS_GIMAGE, "Data")
    if not payload:
        return None
    from PIL import Image as PILImage

    from rawlux.core.errors import RawluxError
    from rawlux.io.safety import check_dimensions, check_memory

    try:
        raw = base64.b64decode("".join(payload.split()))
        with warnings.catch_warnings():  # the size is checked below, before decoding
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            im = PILImage.open(io.BytesIO(raw))
        with im:
            check_dimensions(im.width, im.height, path, "GImage original")
            check_memory(im.width, im.height, path, "GImage original")
            arr = np.asarray(im.convert("RGB"))
    except RawluxError:
        raise
    except Exception:  # noqa: BLE001
        raise CorruptInput("GImage:Data cannot be decoded", path) from None
    return (arr.astype(np.float32) / 255.0).astype(np.float32)


def read_depth_image(path: str | PathLike[str], *, near_is_white: bool = False) -> DepthMap:
    """A depth picture given by the user (PNG/JPEG/TIFF, 8 or 16 bit, grey or RGB). Default:
    Google's convention, dark = near, bright = far; ``near_is_white`` for disparity pictures."""
    data = _read(path, "depth image")
    values = _decode_picture(data, "depth image", path)
    if values.size == 0:
        raise UnsupportedInput("depth image is empty", path)
    return DepthMap(disparity_from_image(values, near_is_white=near_is_white), "file")
