"""Contact sheet: every look applied to one photo, tiled with labels.

:func:`look_input` develops a raw once to the look stage's input (scene-linear Rec.2020) or
linearises an ordinary photo; :func:`render_sheet` applies each look to a thumbnail of it and
tiles the sRGB results with their names (Pillow ImageDraw, the frame engine's shipped font when
present, else Pillow's default font). Pixels only: the CLI reads and writes the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rawlux.color.spaces import rgb_to_rgb
from rawlux.color.transfer import srgb_eotf
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, Referred

FONT_DIR = Path(__file__).resolve().parents[1] / "frame" / "fonts"
BACKGROUND = (24, 24, 24)
LABEL_COLOR = (235, 235, 235)


def photo_scene(img: Image) -> Image:
    """A display-encoded photo (e.g. from ``rawlux.io.photo.open_photo``) linearised to
    scene-linear Rec.2020 (the look stage's input)."""
    data = img.data
    if img.encoding is Encoding.SRGB:
        data = srgb_eotf(np.clip(data, 0.0, 1.0)).astype(np.float32)
    if img.space is not ColorSpace.REC2020:
        data = data @ rgb_to_rgb(img.space, ColorSpace.REC2020).T
    return img.with_data(np.maximum(data, 0.0), space=ColorSpace.REC2020,
                         encoding=Encoding.LINEAR, referred=Referred.SCENE)


def thumbnail(img: Image, long_side: int) -> Image:
    """Area-downscaled copy whose long side is at most ``long_side`` pixels."""
    import cv2

    h, w = img.height, img.width
    f = long_side / max(h, w)
    if f >= 1.0:
        return img
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return img.with_data(cv2.resize(img.data, size, interpolation=cv2.INTER_AREA))


def _font(px: int) -> Any:
    from PIL import ImageFont

    for name in ("Inter-Regular.otf", "DejaVuSans.ttf"):
        f = FONT_DIR / name
        if f.is_file():
            try:
                return ImageFont.truetype(str(f), px)
            except OSError:
                continue
    try:
        return ImageFont.load_default(px)
    except TypeError:  # old Pillow
        return ImageFont.load_default()


def compose(tiles: Sequence[tuple[str, np.ndarray]], columns: int | None = None,
            gap: int = 12, label_px: int | None = None) -> np.ndarray:
    """Tile (label, uint8 (h, w, 3)) thumbnails on a dark background; labels under each tile.

    Tiles may differ in size (cells take the largest). Returns uint8 (H, W, 3)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    if not tiles:
        raise InvalidParameter("a contact sheet needs at least one tile")
    n = len(tiles)
    cols = columns or int(np.ceil(np.sqrt(n * 4 / 3)))
    rows = int(np.ceil(n / cols))
    th = max(t.shape[0] for _, t in tiles)
    tw = max(t.shape[1] for _, t in tiles)
    lp = label_px or max(12, th // 14)
    font = _font(lp)
    cell_h = th + lp + gap
    sheet = PILImage.new("RGB", (cols * (tw + gap) + gap, rows * (cell_h + gap) + gap), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for k, (label, tile) in enumerate(tiles):
        r, c = divmod(k, cols)
        x0 = gap + c * (tw + gap)
        y0 = gap + r * (cell_h + gap)
        h, w = tile.shape[:2]
        sheet.paste(PILImage.fromarray(np.ascontiguousarray(tile, np.uint8)),
                    (x0 + (tw - w) // 2, y0 + (th - h) // 2))
        tw_text = draw.textlength(label, font=font)
        draw.text((x0 + (tw - tw_text) / 2, y0 + th + gap // 3), label, fill=LABEL_COLOR,
                  font=font)
    return np.asarray(sheet)


def ordered(names: list[str]) -> list[str]:
    """Look names in contact-sheet order (the basic looks first)."""
    first = ["neutral", "authentic", "vibrant", "natural", "vivid", "mono", "mono-hc", "sepia",
             "blue"]
    return [n for n in first if n in names] + [n for n in names if n not in first]
