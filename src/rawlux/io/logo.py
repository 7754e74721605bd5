"""Read a logo for photo frames: PNG (with alpha), JPEG/WebP/TIFF, or SVG (via cairosvg).

Returns float32 RGBA (H, W, 4) in [0, 1], sRGB-encoded, straight (not premultiplied) alpha.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from rawlux.core.errors import CorruptInput, MissingInput, UnsupportedInput

SVG_HEIGHT = 1024  # px an SVG is rasterised to (a frame logo is ~4 % of the short side)


def _is_svg(p: Path, head: bytes) -> bool:
    if p.suffix.lower() in (".svg", ".svgz"):
        return True
    h = head.lstrip().lower()
    return h.startswith(b"<svg") or (h.startswith(b"<?xml") and b"<svg" in head.lower())


def _svg_to_png(p: Path, data: bytes, height: int) -> bytes:
    try:
        import cairosvg
    except (ImportError, OSError):
        raise UnsupportedInput("SVG logos need cairosvg (pip install cairosvg); use a PNG", p) from None
    try:
        return cairosvg.svg2png(bytestring=data, output_height=height, unsafe=False)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a corrupt file
        raise CorruptInput(f"cannot render SVG logo: {' '.join(str(exc).split())[:200]}", p) from None


def load_logo(path: str | os.PathLike[str], *, svg_height: int = SVG_HEIGHT) -> np.ndarray:
    """Logo file -> float32 RGBA (H, W, 4) in [0, 1] (sRGB-encoded, straight alpha).

    PNG/WebP keep their alpha; opaque formats get alpha 1. SVG is rasterised at ``svg_height`` px
    tall. Missing file -> MissingInput; unreadable -> CorruptInput, both naming the file.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    from rawlux.io.safety import check_dimensions

    p = Path(path)
    if not p.exists():
        raise MissingInput("logo file not found", p)
    if p.is_dir():
        raise MissingInput("logo path is a directory", p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise MissingInput(f"cannot read logo file: {exc.strerror or exc}", p) from None
    if not data:
        raise CorruptInput("logo file is empty", p)
    if _is_svg(p, data[:256]):
        data = _svg_to_png(p, data, int(svg_height))
    try:
        with PILImage.open(io.BytesIO(data)) as im:
            check_dimensions(im.width, im.height, p, "logo")
            im.load()
            rgba = im.convert("RGBA")
    except UnidentifiedImageError:
        raise CorruptInput("not a readable logo image (use PNG, JPEG, WebP, TIFF or SVG)", p) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptInput(f"not a readable logo image: {' '.join(str(exc).split())[:200]}", p) from None
    except PILImage.DecompressionBombError:
        raise CorruptInput("logo image is too large", p) from None
    arr = np.asarray(rgba, dtype=np.float32) * np.float32(1.0 / 255.0)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise CorruptInput("logo image is empty", p)
    return np.ascontiguousarray(arr)
