"""Encoding of studio images for the browser: uint8 conversion, JPEG (with the ICC profile of
a wide-gamut preview), PNG overlays, and which files a browser shows as they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rawlux.core.errors import OutputError
from rawlux.core.image import ColorSpace

__all__ = ["to_uint8", "encode_jpeg", "encode_png", "browser_mime"]


def to_uint8(data: np.ndarray) -> np.ndarray:
    """Display-encoded float [0, 1] -> uint8 (H, W, 3), C-contiguous."""
    return np.ascontiguousarray(np.clip(data * 255.0 + 0.5, 0, 255).astype(np.uint8))


def encode_jpeg(rgb: np.ndarray, space: ColorSpace | None, quality: int = 90) -> bytes:
    """JPEG bytes of a uint8 RGB image; a Display P3 image carries its ICC profile so the
    browser shows its colours right (sRGB needs none)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OutputError("could not encode the preview as JPEG")
    data = buf.tobytes()
    if space is not None and space is not ColorSpace.SRGB:
        from rawlux.io.icc import profile_bytes
        from rawlux.io.write import jpeg_app_segments

        data = data[:2] + jpeg_app_segments(profile_bytes(space), None) + data[2:]
    return data


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB or RGBA image."""
    import cv2

    arr = rgba[..., [2, 1, 0, 3]] if rgba.shape[2] == 4 else rgba[..., ::-1]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OutputError("could not encode the overlay as PNG")
    return buf.tobytes()


def browser_mime(path: Path) -> str | None:
    """MIME type when a browser can show the file itself (JPEG, PNG, AVIF, WebP), else None."""
    from rawlux.io.safety import read_head, sniff

    return {"jpeg": "image/jpeg", "png": "image/png", "avif": "image/avif",
            "webp": "image/webp"}.get(sniff(read_head(path, 64)))
