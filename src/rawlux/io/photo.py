"""Read ordinary photos (JPEG, PNG, TIFF, HEIC/HEIF, AVIF, WebP) into a display-encoded Image.

:func:`open_photo` returns float32 [0, 1] pixels, ``Encoding.SRGB``, display-referred, in
``ColorSpace.SRGB`` or ``DISPLAY_P3`` (from the embedded ICC profile: profiles equivalent to
sRGB / Display P3 are recognised by what they do, other RGB/CMYK/grey profiles are converted to
sRGB with LittleCMS). The EXIF orientation is applied to the pixels (``metadata.orientation`` is
then 1). The source's ICC and EXIF bytes stay in ``metadata.extra["icc"]`` /
``["exif_bytes"]`` (with ``["icc_space"]`` naming the space when that ICC describes the pixels)
so :func:`rawlux.io.write.save` can carry them into derived outputs.

16-bit PNG and TIFF keep their precision (OpenCV / tifffile decode them); alpha is dropped.
Dimensions are checked from the header before any pixels are decoded.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import struct
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rawlux.core.errors import (
    CorruptInput,
    ImageTooLarge,
    RawluxError,
    UnsupportedInput,
)
from rawlux.core.image import GPS, ColorSpace, Encoding, Image, Metadata, Referred
from rawlux.core.plausible import clean_metadata
from rawlux.io.safety import (FORMAT_NAMES, check_dimensions, check_memory, check_readable, read_head,
                              sniff)
from rawlux.core.orientation import apply_orientation
from rawlux.io.exif import read_metadata
from rawlux.io.icc import identify_profile, profile_bytes

PHOTO_KINDS = ("jpeg", "png", "tiff", "heif", "avif", "webp")
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic", ".heif", ".avif", ".webp")
DNG_VERSION_TAG = 50706


# ------------------------------------------------------------------------------ EXIF helpers


def normalise_exif_bytes(b: bytes | None) -> bytes | None:
    """EXIF as ``b"Exif\\0\\0"`` + TIFF structure (HEIF stores it without the prefix)."""
    if not b:
        return None
    b = bytes(b)
    if b.startswith(b"Exif\0\0"):
        return b
    if b[:4] in (b"II*\0", b"MM\0*"):
        return b"Exif\0\0" + b
    return None


def _num(v: Any) -> float | None:
    try:
        if isinstance(v, (tuple, list)):
            v = v[0]
        f = float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if np.isfinite(f) else None


def _text(v: Any) -> str | None:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if v is None:
        return None
    s = str(v).strip("\0 ").strip()
    return s or None


def _dms_to_deg(v: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in v)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    deg = d + m / 60.0 + s / 3600.0
    r = _text(ref) or ""
    return -deg if r.upper() in ("S", "W") else deg


def metadata_from_exif(exif_bytes: bytes | None) -> Metadata:
    """Basic :class:`Metadata` parsed from EXIF bytes with Pillow (fallback reader)."""
    from PIL import Image as PILImage

    ex = PILImage.Exif()
    if exif_bytes:
        try:
            ex.load(exif_bytes)
        except Exception:  # noqa: BLE001 - broken EXIF: no metadata rather than no photo
            return Metadata()
    e = ex.get_ifd(0x8769)
    g = ex.get_ifd(0x8825)
    dto = None
    s = _text(e.get(0x9003)) or _text(ex.get(0x0132))
    if s:
        try:
            dto = _dt.datetime.strptime(s[:19], "%Y:%m:%d %H:%M:%S")
            off = _text(e.get(0x9011))
            if off and len(off) >= 6 and off[0] in "+-":
                sign = 1 if off[0] == "+" else -1
                delta = _dt.timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
                dto = dto.replace(tzinfo=_dt.timezone(sign * delta))
        except ValueError:
            dto = None
    gps = None
    if 2 in g and 4 in g:
        lat, lon = _dms_to_deg(g[2], g.get(1)), _dms_to_deg(g[4], g.get(3))
        if lat is not None and lon is not None:
            alt = _num(g.get(6))
            if alt is not None and g.get(5) in (1, b"\x01"):
                alt = -alt
            gps = GPS(lat, lon, alt)
    orient = ex.get(0x0112, 1)
    try:
        orient = int(orient)
    except (TypeError, ValueError):
        orient = 1
    return clean_metadata(Metadata(
        make=_text(ex.get(0x010F)),
        model=_text(ex.get(0x0110)),
        lens=_text(e.get(0xA434)),
        exposure_time=_num(e.get(0x829A)),
        f_number=_num(e.get(0x829D)),
        iso=_num(e.get(0x8827)),
        focal_length=_num(e.get(0x920A)),
        focal_length_35mm=_num(e.get(0xA405)),
        datetime_original=dto,
        gps=gps,
        orientation=orient if orient in range(1, 9) else 1,
        software=_text(ex.get(0x0131)),
        artist=_text(ex.get(0x013B)),
        copyright=_text(ex.get(0x8298)),
    ))


def _read_metadata(path: Path, exif_bytes: bytes | None) -> Metadata:
    """Metadata via :func:`rawlux.io.exif.read_metadata`, else Pillow's EXIF parse."""
    try:
        meta = read_metadata(path)
    except (RawluxError, OSError, ValueError):
        return metadata_from_exif(exif_bytes)
    return meta if isinstance(meta, Metadata) else metadata_from_exif(exif_bytes)


# ----------------------------------------------------------------------------------- decoding


def check_bmff_complete(p: Path) -> None:
    """Raise :class:`CorruptInput` when a top-level ISO-BMFF box (HEIF/AVIF) runs past the end of
    the file: libheif decodes truncated grid images silently with missing tiles."""
    size = p.stat().st_size
    off = 0
    with open(p, "rb") as f:
        while off < size:
            f.seek(off)
            head = f.read(16)
            if len(head) < 8:
                raise CorruptInput(f"truncated box header at byte {off}", p)
            n, kind = struct.unpack(">I4s", head[:8])
            if n == 1:
                if len(head) < 16:
                    raise CorruptInput(f"truncated box header at byte {off}", p)
                n = struct.unpack(">Q", head[8:16])[0]
            elif n == 0:
                return  # box extends to the end of the file
            if n < 8:
                raise CorruptInput(f"invalid box size {n} at byte {off}", p)
            if off + n > size:
                name = kind.decode("latin-1", "replace")
                raise CorruptInput(f"truncated: box {name!r} needs {off + n} bytes, file has {size}", p)
            off += n


def _boxes(buf: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in ``buf[start:end]``."""
    out = []
    off = start
    while off + 8 <= end:
        n, kind = struct.unpack(">I4s", buf[off : off + 8])
        hdr = 8
        if n == 1 and off + 16 <= end:
            n, hdr = struct.unpack(">Q", buf[off + 8 : off + 16])[0], 16
        elif n == 0:
            n = end - off
        if n < hdr or off + n > end:
            break
        out.append((kind, off + hdr, off + n))
        off += n
    return out


def heif_has_transform(p: Path) -> bool:
    """True when the HEIF/AVIF container carries a rotation (``irot`` != 0) or mirror (``imir``)
    property; libheif then applies it while decoding and the EXIF orientation is redundant.
    Files without one (e.g. iPhone 7 HEICs) rely on the EXIF orientation alone."""
    try:
        with open(p, "rb") as f:
            head = f.read(1 << 20)  # the meta box comes first in practice
    except OSError:
        return False
    for kind, a, b in _boxes(head, 0, len(head)):
        if kind != b"meta":
            continue
        for k2, a2, b2 in _boxes(head, a + 4, b):  # meta is a FullBox: skip version/flags
            if k2 != b"iprp":
                continue
            for k3, a3, b3 in _boxes(head, a2, b2):
                if k3 != b"ipco":
                    continue
                for k4, a4, b4 in _boxes(head, a3, b3):
                    if k4 == b"imir" or (k4 == b"irot" and b4 > a4 and head[a4] & 3):
                        return True
    return False


def _open_pil(p: Path, kind: str) -> Any:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if kind in ("heif", "avif"):
        check_bmff_complete(p)
    if kind == "heif":
        import pillow_heif

        pillow_heif.register_heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            return PILImage.open(p)
    except PILImage.DecompressionBombError as e:
        raise ImageTooLarge(f"declared size is above the safety limit ({e})", p) from None
    except UnidentifiedImageError:
        raise CorruptInput(f"not a readable {kind.upper()} image (bad header)", p) from None
    except (OSError, ValueError, SyntaxError, RuntimeError) as e:
        raise CorruptInput(f"cannot read {kind.upper()} header: {e}", p) from None


def _to_rgb_float(a: np.ndarray) -> np.ndarray:
    """Integer/float (H, W[, C]) -> float32 (H, W, 3) in [0, 1]; grey replicated, alpha dropped."""
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[2] in (2, 4):
        a = a[..., :-1]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] != 3:
        raise UnsupportedInput(f"{a.shape[2]} colour channels")
    if a.dtype in (np.uint8, np.uint16):
        out = a.astype(np.float32)
        np.divide(out, np.float32(np.iinfo(a.dtype).max), out=out)
    elif np.issubdtype(a.dtype, np.floating):
        out = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        np.clip(out, 0.0, 1.0, out=out)
    elif np.issubdtype(a.dtype, np.integer):
        out = np.clip(a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max), 0.0, 1.0)
    else:
        raise UnsupportedInput(f"pixel type {a.dtype}")
    return np.ascontiguousarray(out, dtype=np.float32)


def _png_is_16bit_colour(p: Path) -> bool:
    with open(p, "rb") as f:
        head = f.read(26)
    return len(head) >= 26 and head[12:16] == b"IHDR" and head[24] == 16


def _decode_cv2(p: Path) -> np.ndarray:
    import cv2

    buf = np.fromfile(p, dtype=np.uint8)
    a = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if a is None:
        raise CorruptInput("cannot decode PNG data (truncated or corrupt)", p)
    if a.ndim == 3 and a.shape[2] >= 3:
        a = a[..., [2, 1, 0]] if a.shape[2] == 3 else a[..., [2, 1, 0, 3]]
    return a


def _decode_tiff(p: Path) -> tuple[np.ndarray, bytes | None]:
    import tifffile

    try:
        with tifffile.TiffFile(p) as tf:
            page = tf.pages.first
            if DNG_VERSION_TAG in page.tags:
                raise UnsupportedInput("is a raw DNG, not a photo; develop it with open_raw/develop", p)
            shape = page.shape
            h, w = (shape[0], shape[1]) if page.planarconfig == 1 or len(shape) < 3 else (shape[1], shape[2])
            check_dimensions(w, h, p)
            check_memory(w, h, p, "photo")
            a = page.asarray()
            if page.planarconfig == 2 and a.ndim == 3:
                a = np.moveaxis(a, 0, -1)
            icc_tag = page.tags.get(34675)
            icc = bytes(icc_tag.value) if icc_tag is not None else None
            photometric = int(page.photometric)
    except RawluxError:
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises many types on corrupt files
        raise CorruptInput(f"cannot decode TIFF: {' '.join(str(e).split())}", p) from None
    if photometric not in (0, 1, 2):  # 0/1 grey, 2 RGB; YCbCr/CMYK/palette: use Pillow
        raise UnsupportedInput(f"TIFF photometric interpretation {photometric}")
    if photometric == 0 and np.issubdtype(a.dtype, np.integer):
        a = np.iinfo(a.dtype).max - a
    return np.ascontiguousarray(a), icc


def _apply_icc(pil: Any, icc: bytes, p: Path) -> Any:
    """Convert a Pillow image with a foreign ICC profile to sRGB (relative colorimetric)."""
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes(ColorSpace.SRGB)))
        mode = pil.mode if pil.mode in ("RGB", "CMYK", "L") else "RGB"
        if pil.mode != mode:
            pil = pil.convert(mode)
        return ImageCms.profileToProfile(
            pil, src, dst, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return pil.convert("RGB")  # unusable profile: treat the numbers as sRGB


def _nclx_space(info: dict[str, Any]) -> ColorSpace | None:
    nclx = info.get("nclx_profile")
    prim = None
    if isinstance(nclx, dict):
        prim = nclx.get("color_primaries")
    elif isinstance(nclx, (bytes, bytearray)) and len(nclx) >= 2:
        prim = int.from_bytes(bytes(nclx[:2]), "little")
    if prim == 12:  # SMPTE EG 432-1 (P3 D65)
        return ColorSpace.DISPLAY_P3
    return None


class _NoPIL:
    """Stand-in when Pillow cannot open a TIFF that tifffile can (size read by tifffile)."""

    mode = "RGB"

    def __init__(self, p: Path) -> None:
        import tifffile

        self.info: dict[str, Any] = {}
        try:
            with tifffile.TiffFile(p) as tf:
                page = tf.pages.first
                self.size = (int(page.imagewidth), int(page.imagelength))
        except Exception as e:  # noqa: BLE001
            raise CorruptInput(f"cannot read TIFF header: {' '.join(str(e).split())}", p) from None

    def getexif(self) -> dict[int, Any]:
        return {}

    def load(self) -> None:
        raise UnsupportedInput("TIFF with a foreign ICC profile in a layout Pillow cannot read")

    def close(self) -> None:
        pass


def _input_gainmap(p: Path, kind: str, orient: int) -> Any:
    """The photo's HDR gain map (turned upright like the pixels), or None; a gain map that does
    not decode is dropped with a warning (the photo itself is fine)."""
    if kind not in ("jpeg", "heif"):
        return None
    import warnings

    from rawlux.io.gainmap import read_gainmap

    try:
        found = read_gainmap(p, kind)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken gain map never blocks the photo itself
        reason = getattr(e, "reason", None) or " ".join(str(e).split()) or type(e).__name__
        warnings.warn(f"{p}: HDR gain map ignored ({reason})", stacklevel=3)
        return None
    if found is None:
        return None
    gm = found.gainmap
    if orient != 1:
        gm = replace(gm, data=apply_orientation(gm.data, orient))
    return gm


def open_photo(path: str | os.PathLike[str]) -> Image:
    """Decode a JPEG/PNG/TIFF/HEIC/HEIF/AVIF/WebP photo into a display-encoded float32 Image.

    Raises :class:`MissingInput`, :class:`UnsupportedInput`, :class:`CorruptInput` or
    :class:`ImageTooLarge` with a one-line message naming the file.
    """
    p = check_readable(path)
    kind = sniff(read_head(p, 64))
    if kind == "bigtiff":
        kind = "tiff"
    if kind == "empty":
        raise CorruptInput("file is empty", p)
    if kind not in PHOTO_KINDS:
        what = FORMAT_NAMES.get(kind)
        supported = ", ".join(PHOTO_EXTENSIONS)
        if what is None and p.suffix.lower() in PHOTO_EXTENSIONS:
            raise CorruptInput(f"not a valid {p.suffix[1:].upper()} file (unrecognised contents)", p)
        raise UnsupportedInput(f"{'is ' + what if what else 'unrecognised format'}; photos supported: {supported}", p)

    try:
        pil = _open_pil(p, kind)
    except CorruptInput:
        if kind != "tiff":
            raise
        pil = _NoPIL(p)  # Pillow cannot parse every TIFF (float, odd layouts): tifffile decodes
    try:
        w, h = pil.size
        check_dimensions(w, h, p)
        check_memory(w, h, p, "photo")  # the pixel budget, before decoding
        info = dict(pil.info)
        exif_bytes = normalise_exif_bytes(info.get("exif"))
        try:
            pex = pil.getexif()
            orient = int(pex.get(0x0112, 1))
            if exif_bytes is None and len(pex):
                exif_bytes = pex.tobytes()
        except Exception:  # noqa: BLE001 - broken EXIF never blocks decoding
            orient = 1
        if kind == "heif":
            # pillow-heif applies irot/imir and always reports EXIF orientation 1, keeping the
            # EXIF value in "original_orientation": honour that when the container has no transform.
            try:
                orig = int(info.get("original_orientation") or 1)
            except (TypeError, ValueError):
                orig = 1
            orient = 1 if heif_has_transform(p) else orig
        if orient not in range(1, 9):
            orient = 1
        icc = info.get("icc_profile") or None
        space: ColorSpace | None = None
        data: np.ndarray
        try:
            if kind == "tiff":
                arr, tiff_icc = _decode_tiff(p)
                icc = icc or tiff_icc
                space = identify_profile(icc) if icc else ColorSpace.SRGB
                if space is None:  # foreign profile: through LittleCMS in 8 bits
                    pil.load()
                    pil = _apply_icc(pil, icc, p)
                    data, space = _to_rgb_float(np.asarray(pil)), ColorSpace.SRGB
                else:
                    data = _to_rgb_float(arr)
            elif kind == "png" and _png_is_16bit_colour(p):
                space = identify_profile(icc) if icc else ColorSpace.SRGB
                if space is None:
                    pil.load()
                    pil = _apply_icc(pil, icc, p)
                    data, space = _to_rgb_float(np.asarray(pil)), ColorSpace.SRGB
                else:
                    data = _to_rgb_float(_decode_cv2(p))
            else:
                pil.load()
                space = identify_profile(icc) if icc else (_nclx_space(info) or ColorSpace.SRGB)
                if space is None:
                    pil = _apply_icc(pil, icc, p)
                    space = ColorSpace.SRGB
                elif pil.mode not in ("RGB", "L", "I;16", "I;16B", "I", "F", "RGBA", "LA"):
                    pil = pil.convert("RGBA" if "A" in pil.mode or pil.mode == "P" else "RGB")
                a = np.asarray(pil)
                if pil.mode in ("I", "I;16", "I;16B") and a.dtype != np.uint16:
                    a = np.clip(a, 0, 65535).astype(np.uint16)
                data = _to_rgb_float(a)
        except RawluxError as e:
            raise type(e)(e.reason, p) if e.path is None else e from None
        except MemoryError:
            raise ImageTooLarge(f"not enough memory to decode {w}x{h} px", p) from None
        except (OSError, ValueError, SyntaxError, RuntimeError, IndexError, EOFError) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise CorruptInput(f"cannot decode {kind.upper()} data: {reason}", p) from None
    finally:
        pil.close()

    if orient != 1:
        data = apply_orientation(data, orient)
    meta = _read_metadata(p, exif_bytes)
    extra = dict(meta.extra or {})
    if icc:
        extra["icc"] = bytes(icc)
        if identify_profile(icc) is space:
            extra["icc_space"] = space.value
    if exif_bytes:
        extra["exif_bytes"] = exif_bytes
    extra["source_format"] = kind
    gm = _input_gainmap(p, kind, orient)
    if gm is not None:
        extra["gainmap"] = gm  # kept through edits that support it (io/gainmap.py)
    meta = replace(meta, orientation=1, extra=extra)
    return Image(
        data=data,
        space=space,
        encoding=Encoding.SRGB,
        referred=Referred.DISPLAY,
        metadata=meta,
        source=str(p),
    )
