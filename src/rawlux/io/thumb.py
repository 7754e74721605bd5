"""Quick thumbnails for browsing: a raw's embedded preview, or a photo decoded at reduced size.

Nothing is developed here; :func:`quick_thumbnail` returns upright sRGB-ish uint8 pixels fast
(JPEG draft decoding, LibRaw's ``extract_thumb``) or ``None`` when the file has no usable preview.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from rawlux.io.safety import check_readable, read_head, sniff

__all__ = ["has_gain_map", "quick_thumbnail"]


def _pil_small(data: bytes | Path, long_side: int) -> np.ndarray | None:
    from PIL import Image as PILImage
    from PIL import ImageOps

    src = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with PILImage.open(src) as im:
        if im.format == "JPEG":
            im.draft("RGB", (long_side, long_side))
        im = ImageOps.exif_transpose(im)
        im = im.convert("RGB")
        im.thumbnail((long_side, long_side))
        return np.asarray(im, np.uint8).copy()


def quick_thumbnail(path: str | os.PathLike[str], long_side: int = 320) -> np.ndarray | None:
    """Upright uint8 (h, w, 3) thumbnail whose long side is at most ``long_side``, or None.

    Photos (JPEG, PNG, TIFF, HEIC, AVIF, WebP) are decoded at reduced size; raws give their
    embedded JPEG/bitmap preview when it is at least half of ``long_side``.
    """
    p = check_readable(path)
    kind = sniff(read_head(p, 64))
    if kind in ("jpeg", "png", "heif", "avif", "webp"):
        if kind in ("heif", "avif"):
            try:
                import pillow_heif  # noqa: F401

                pillow_heif.register_heif_opener()
                if kind == "avif" and hasattr(pillow_heif, "register_avif_opener"):
                    pillow_heif.register_avif_opener()
            except ImportError:
                return None
        try:
            return _pil_small(p, long_side)
        except (OSError, ValueError, SyntaxError):
            return None
    try:
        import rawpy
    except ImportError:
        return None
    try:
        with rawpy.imread(str(p)) as rp:
            th = rp.extract_thumb()
            orient = {0: 1, 3: 3, 5: 8, 6: 6}.get(int(getattr(rp.sizes, "flip", 0)), 1)
    except Exception:  # noqa: BLE001 - no preview, or LibRaw cannot read the file
        return None
    try:
        if th.format == rawpy.ThumbFormat.JPEG:
            small = _pil_small(bytes(th.data), long_side)
            if small is None:
                return None
            # LibRaw's JPEG previews rarely carry orientation; use the raw's flip
            if orient != 1 and small.shape[0] <= small.shape[1]:
                k = {3: 2, 6: 3, 8: 1}[orient]  # np.rot90 turns counter-clockwise
                small = np.ascontiguousarray(np.rot90(small, k))
        else:
            arr = np.asarray(th.data)
            if arr.ndim != 3 or arr.shape[2] != 3:
                return None
            import cv2

            f = long_side / max(arr.shape[:2])
            if f < 1:
                size = (max(1, round(arr.shape[1] * f)), max(1, round(arr.shape[0] * f)))
                arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
            small = np.ascontiguousarray(arr.astype(np.uint8))
    except (OSError, ValueError, SyntaxError):
        return None
    if max(small.shape[:2]) < long_side // 2:  # a postage stamp: develop one instead
        return None
    return small


def has_gain_map(path: str | os.PathLike[str]) -> bool:
    """True when a JPEG carries an Ultra HDR / Adobe gain map (hdrgm XMP) or an Apple HDR gain
    map, which Chromium shows as HDR on an HDR screen."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256 * 1024)
    except OSError:
        return False
    return head[:2] == b"\xff\xd8" and (b"hdrgm" in head or b"HDRGainMap" in head)
