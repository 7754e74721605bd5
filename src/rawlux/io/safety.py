"""Input safety checks shared by the readers: existence, format sniffing, dimension limits.

Every check raises a typed :mod:`rawlux.core.errors` error with a one-line message naming the file.
Dimension limits are checked from headers *before* any pixel buffer is allocated.
"""

from __future__ import annotations

import os
from pathlib import Path

from rawlux.core.errors import ImageTooLarge, MissingInput

MAX_SIDE = 65535  # pixels per side
MAX_PIXELS = 250_000_000  # 250 MP


def check_readable(path: str | os.PathLike[str]) -> Path:
    """The path as :class:`Path` if it names a readable, non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise MissingInput("file does not exist", p)
    if not p.is_file():
        raise MissingInput("not a regular file", p)
    if not os.access(p, os.R_OK):
        raise MissingInput("file is not readable (permission denied)", p)
    return p


def check_dimensions(
    width: int, height: int, path: str | os.PathLike[str] | None, what: str = "image"
) -> None:
    """Raise :class:`ImageTooLarge` when ``width`` x ``height`` is above the safety limits."""
    w, h = int(width), int(height)
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ImageTooLarge(
            f"{what} is {w}x{h} px, above the limit of {MAX_SIDE} px per side", path
        )
    if w * h > MAX_PIXELS:
        raise ImageTooLarge(
            f"{what} is {w}x{h} px = {w * h / 1e6:.0f} MP, above the limit of {MAX_PIXELS // 1_000_000} MP",
            path,
        )


def sniff(head: bytes) -> str:
    """A short format name from the first bytes of a file.

    Returns one of ``"tiff"``, ``"bigtiff"``, ``"jpeg"``, ``"png"``, ``"gif"``, ``"heif"``, ``"avif"``,
    ``"webp"``, ``"jxl"``, ``"bmp"``, ``"pdf"``, ``"zip"``, ``"gzip"``, ``"text"``, ``"empty"`` or
    ``"unknown"`` (which may still be a raw format LibRaw knows, e.g. CR3, RAF, CRW, KDC).
    """
    if not head:
        return "empty"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "bigtiff"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx"):
            return "heif"
        return "unknown"  # e.g. Canon CR3 ("crx ") is ISO-BMFF too
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"\xff\x0a" or head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "jxl"
    if head[:2] == b"BM":
        return "bmp"
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    try:
        txt = head.decode("utf-8")
        if all(c.isprintable() or c in "\r\n\t" for c in txt):
            return "text"
    except UnicodeDecodeError:
        pass
    return "unknown"


FORMAT_NAMES = {
    "jpeg": "a JPEG image",
    "png": "a PNG image",
    "gif": "a GIF image",
    "heif": "a HEIF/HEIC image",
    "avif": "an AVIF image",
    "webp": "a WebP image",
    "jxl": "a JPEG XL image",
    "bmp": "a BMP image",
    "pdf": "a PDF document",
    "zip": "a ZIP archive",
    "gzip": "a gzip archive",
    "text": "a text file",
    "tiff": "a TIFF image",
    "bigtiff": "a BigTIFF image",
}


def read_head(path: Path, n: int = 64) -> bytes:
    """The first ``n`` bytes of ``path``."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise MissingInput(f"cannot read file ({e.strerror or e})", path) from None
