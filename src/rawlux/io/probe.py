"""Photo or raw? One decision, by file content, shared by every command.

:func:`input_kind` looks at magic bytes and, for TIFF containers, at the image directories
(no pixels read): a TIFF-based file is a raw when it has a DNGVersion tag, when any of its
directories (SubIFDs included) stores CFA (32803) or LinearRaw (34892) data, or when it is a
Canon CR2. That is how a NEF or KDC (a TIFF whose first directory is a 160-px RGB thumbnail and
whose SubIFD holds the mosaic) is told from an ordinary TIFF photo. The file extension is never
consulted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from rawlux.core.errors import CorruptInput, UnsupportedInput
from rawlux.io.safety import FORMAT_NAMES, check_readable, read_head, sniff
from rawlux.io.dng import quiet_tifffile

Kind = Literal["raw", "photo"]

#: sniffed kinds that are display photos (TIFF is decided by its directories)
PHOTO_KINDS = ("jpeg", "png", "heif", "avif", "webp")
#: sniffed kinds that are neither photos nor raws
FOREIGN_KINDS = ("gif", "jxl", "bmp", "pdf", "zip", "gzip", "text")
#: TIFF photometric interpretations that only raw files use
RAW_PHOTOMETRIC = (32803, 34892)  # CFA, LinearRaw
DNG_VERSION = 50706
MAX_DIRECTORIES = 8  # top-level IFDs looked at (a multi-page TIFF stack is not walked to the end)


def tiff_is_raw(path: str | os.PathLike[str], head: bytes | None = None) -> bool:
    """True when a TIFF-structured file holds raw sensor data (see module docstring)."""
    import tifffile

    p = Path(path)
    head = head if head is not None else read_head(p, 16)
    if head[8:10] == b"CR":  # Canon CR2: "CR" + version after the TIFF header
        return True
    try:
        with quiet_tifffile(), tifffile.TiffFile(str(p)) as tf:
            if not tf.pages:
                raise CorruptInput("TIFF structure has no readable image directory", p)
            first = tf.pages[0]
            if DNG_VERSION in first.tags:
                return True
            for n, page in enumerate(tf.pages):
                if n == MAX_DIRECTORIES:  # raws keep the mosaic in the first few directories
                    break
                for ifd in [page, *(page.pages or [])]:
                    tag = ifd.tags.get(262)  # PhotometricInterpretation
                    if tag is not None and int(tag.value) in RAW_PHOTOMETRIC:
                        return True
    except CorruptInput:
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises many types on damaged data
        raise CorruptInput(f"unreadable TIFF structure ({type(e).__name__}: {e})", p) from None
    return False


def input_kind(path: str | os.PathLike[str], *, cfa: str | None = None) -> Kind:
    """``"raw"`` or ``"photo"`` for ``path``, decided from its content (never its extension).

    * JPEG, PNG, HEIF/HEIC, AVIF, WebP: photo (a greyscale PNG/TIFF is a bare Bayer mosaic,
      i.e. a raw, only when ``cfa`` is given);
    * TIFF: raw when it carries DNG/CFA/LinearRaw directories or is a CR2, else photo;
    * anything else not recognised (CR3, RAF, ORF, RW2, CRW, X3F...): raw, for LibRaw to read.

    Raises :class:`MissingInput`, :class:`CorruptInput` (empty or damaged) or
    :class:`UnsupportedInput` (GIF, PDF, ZIP, text...) with a one-line message naming the file.
    """
    p = check_readable(path)
    head = read_head(p, 64)
    kind = sniff(head)
    if kind == "empty":
        raise CorruptInput("file is empty", p)
    if kind in FOREIGN_KINDS:
        raise UnsupportedInput(f"is {FORMAT_NAMES[kind]}, neither a photo nor a raw file", p)
    if kind == "png":
        return "raw" if cfa else "photo"
    if kind in PHOTO_KINDS:
        return "photo"
    if kind in ("tiff", "bigtiff"):
        if tiff_is_raw(p, head):
            return "raw"
        return "raw" if cfa else "photo"
    return "raw"


__all__ = ["input_kind", "tiff_is_raw", "Kind"]
