"""Frame rendering: photo + margins + antialiased text, logo and separators -> a larger Image.

Works on display-encoded images (``Encoding.SRGB``, float32 [0, 1]) in the image's own space
(sRGB or Display P3; layout and logo colours are sRGB and are converted). The photo is copied
into the canvas untouched, so its region is bit-identical to the input; only margin pixels are
drawn. Text is rendered by Pillow/FreeType (Inter, with DejaVu Sans as per-character fallback
for glyphs Inter lacks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, Metadata
from rawlux.frame.layout import Item, Layout, load_layout
from rawlux.frame.template import format_template
from rawlux.color.spaces import rgb_to_rgb
from rawlux.color.transfer import srgb_eotf, srgb_oetf
from rawlux.frame.template import parse_template

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONTS = {
    "regular": ("Inter-Regular.otf", "DejaVuSans.ttf"),
    "bold": ("Inter-Bold.otf", "DejaVuSans-Bold.ttf"),
}
ENV_FALLBACK = "RAWLUX_FRAME_FONTS"  # extra fallback font files (os.pathsep-separated), e.g. CJK

_MISSING_PROBE = "\U0010fffd"  # a private-use code point no shipped font maps

# ---------------------------------------------------------------------------------------- fonts


def _font_chain(weight: str) -> tuple[str, ...]:
    extra = tuple(x for x in os.environ.get(ENV_FALLBACK, "").split(os.pathsep) if x.strip())
    return tuple(str(FONT_DIR / f) for f in FONTS[weight]) + extra


@lru_cache(maxsize=64)
def _font(path: str, px: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path, size=max(1, int(px)))
    except OSError:
        raise InvalidParameter(f"cannot load font file {path}") from None


@lru_cache(maxsize=64)
def _notdef(path: str) -> tuple[tuple[int, ...], bytes]:
    f = _font(path, 24)
    m = f.getmask(_MISSING_PROBE)
    return tuple(m.getbbox() or ()), bytes(m)


@lru_cache(maxsize=8192)
def _has_glyph(path: str, ch: str) -> bool:
    """True when ``path`` maps ``ch`` (rendering differs from the .notdef box)."""
    if ch.isspace():
        return True
    f = _font(path, 24)
    m = f.getmask(ch)
    return (tuple(m.getbbox() or ()), bytes(m)) != _notdef(path)


def _runs(text: str, weight: str) -> list[tuple[str, str]]:
    """Split ``text`` into (font path, substring) runs: each character in the first font of the
    chain that has it (combining marks stay with their base character)."""
    import unicodedata

    chain = _font_chain(weight)
    runs: list[tuple[str, str]] = []
    for ch in text:
        if runs and (ch.isspace() or unicodedata.combining(ch)):
            path = runs[-1][0]
        else:
            path = next((p for p in chain if _has_glyph(p, ch)), chain[0])
        if runs and runs[-1][0] == path:
            runs[-1] = (path, runs[-1][1] + ch)
        else:
            runs.append((path, ch))
    return runs


@dataclass(frozen=True)
class _Text:
    """A measured line: text, weight, pixel size, width, cap height and sRGB colour."""

    text: str
    weight: str
    px: int
    width: int
    cap: int
    color: tuple[float, float, float]


def _measure(text: str, weight: str, px: int, color: tuple[float, float, float]) -> _Text:
    width = sum(_font(p, px).getlength(s) for p, s in _runs(text, weight))
    primary = _font(_font_chain(weight)[0], px)
    top = primary.getbbox("H", anchor="ls")[1]
    return _Text(text, weight, px, int(np.ceil(width)), int(round(-top)), color)


# ---------------------------------------------------------------------------------- compositing


def _blend(zone: np.ndarray, alpha: np.ndarray, x: int, y: int, color: np.ndarray) -> None:
    """``zone[y:, x:] = lerp(zone, color, alpha)`` for an (h, w) alpha in [0, 1] or an
    (h, w, 3) colour patch when ``color`` has that shape; clipped to the zone."""
    h, w = alpha.shape[:2]
    zh, zw = zone.shape[:2]
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, zh), min(x + w, zw)
    if y0 >= y1 or x0 >= x1:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    c = color if color.ndim == 1 else color[y0 - y : y1 - y, x0 - x : x1 - x]
    region = zone[y0:y1, x0:x1]
    a3 = a[..., None] if a.ndim == 2 else a
    region += (c - region) * a3


def _draw_text(zone: np.ndarray, t: _Text, x: int, baseline: int, color: np.ndarray) -> None:
    from PIL import Image as PILImage
    from PIL import ImageDraw

    pen = float(x)
    for path, s in _runs(t.text, t.weight):
        font = _font(path, t.px)
        l, tp, r, b = font.getbbox(s, anchor="ls")
        if r > l and b > tp:
            x0 = int(round(pen)) + l
            mask = PILImage.new("L", (r - l, b - tp), 0)
            ImageDraw.Draw(mask).text((-l, -tp), s, font=font, fill=255, anchor="ls")
            alpha = np.asarray(mask, dtype=np.float32) * np.float32(1.0 / 255.0)
            _blend(zone, alpha, x0, baseline + tp, color)
        pen += font.getlength(s)


def _to_space(rgb: np.ndarray, space: ColorSpace) -> np.ndarray:
    """sRGB-encoded colours (..., 3) -> the same colours encoded in ``space`` (sRGB transfer)."""
    rgb = np.asarray(rgb, dtype=np.float32)
    if space in (ColorSpace.SRGB, ColorSpace.CAMERA):
        return rgb
    m = rgb_to_rgb(ColorSpace.SRGB, space).astype(np.float32)
    lin = np.asarray(srgb_eotf(rgb), dtype=np.float32) @ m.T
    return np.clip(np.asarray(srgb_oetf(np.clip(lin, 0.0, 1.0)), dtype=np.float32), 0.0, 1.0)


def _logo_rgba(logo: Any) -> np.ndarray:
    """A logo (Image, or ndarray (h,w) / (h,w,3) / (h,w,4) uint8, uint16 or float [0,1]) ->
    float32 RGBA [0, 1], sRGB-encoded (an :class:`Image` keeps its own space)."""
    if isinstance(logo, Image):
        a = logo.data
    else:
        a = np.asarray(logo)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ContractError(f"logo must be (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    elif np.issubdtype(a.dtype, np.floating):
        f = np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0)
    else:
        raise ContractError(f"logo dtype must be uint8, uint16 or float, got {a.dtype}")
    if f.shape[2] == 3:
        f = np.concatenate([f, np.ones(f.shape[:2] + (1,), np.float32)], axis=2)
    return np.ascontiguousarray(f)


def _resize_logo(rgba: np.ndarray, h: int, w: int) -> np.ndarray:
    """Resize premultiplied (no dark fringes), then un-premultiply."""
    import cv2

    pm = rgba.copy()
    pm[..., :3] *= pm[..., 3:4]
    interp = cv2.INTER_AREA if h < rgba.shape[0] else cv2.INTER_CUBIC
    out = np.clip(cv2.resize(pm, (w, h), interpolation=interp), 0.0, 1.0)
    a = out[..., 3:4]
    out[..., :3] = np.where(a > 1e-6, out[..., :3] / np.maximum(a, 1e-6), 0.0)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------------------- layout


@dataclass
class _Placed:
    """A measured item: its width/height in px and what to draw."""

    item: Item
    width: int
    height: int
    lines: list[_Text]
    logo: np.ndarray | None = None
    gaps: list[int] | None = None


def _measure_item(it: Item, md: Metadata, short: int, scale: float, logo: np.ndarray | None
                  ) -> _Placed | None:
    s = short * scale
    if it.type == "text":
        lines: list[_Text] = []
        for ln in it.lines:
            txt = format_template(ln.text, md)
            if txt:
                lines.append(_measure(txt, ln.weight, max(4, int(round(ln.size * s))), ln.color))
        if not lines:
            return None
        gaps = [int(round(it.line_gap * ln.px)) for ln in lines[1:]]
        height = lines[0].cap + sum(g + ln.cap for g, ln in zip(gaps, lines[1:]))
        return _Placed(it, max(t.width for t in lines), height, lines, gaps=gaps)
    if it.type == "logo":
        if logo is None:
            return None
        lh, lw = logo.shape[:2]
        h = max(1, int(round(it.height * s)))
        w = max(1, int(round(h * lw / lh)))
        wmax = max(1, int(round(it.max_width * s)))
        if w > wmax:
            w, h = wmax, max(1, int(round(wmax * lh / lw)))
        return _Placed(it, w, h, [], logo=_resize_logo(logo, h, w))
    w = max(1, int(round(it.width * s)))
    return _Placed(it, w, max(1, int(round(it.height * s))), [])


def _group(items: tuple[Item, ...], md: Metadata, short: int, scale: float,
           logo: np.ndarray | None) -> list[_Placed]:
    has_logo = logo is not None
    out = []
    for it in items:
        if it.when == "logo" and not has_logo or it.when == "no-logo" and has_logo:
            continue
        p = _measure_item(it, md, short, scale, logo)
        if p is not None:
            out.append(p)
    # separators only between two visible non-separator items
    kept: list[_Placed] = []
    for p in out:
        if p.item.type == "separator" and (not kept or kept[-1].item.type == "separator"):
            continue
        kept.append(p)
    while kept and kept[-1].item.type == "separator":
        kept.pop()
    return kept


def _group_width(g: list[_Placed], gap: int) -> int:
    return sum(p.width for p in g) + gap * max(0, len(g) - 1)


def _layout_zone(lay: Layout, md: Metadata, short: int, canvas_w: int, logo: np.ndarray | None
                 ) -> tuple[list[tuple[_Placed, int]], float]:
    """Place every item: list of (placed item, x) and the scale used (<1 when text had to shrink
    to fit the width)."""
    scale = 1.0
    for _ in range(4):
        groups = {g: _group(getattr(lay, g), md, short, scale, logo)
                  for g in ("left", "center", "right")}
        gap = int(round(lay.gap * short * scale))
        pad = int(round(lay.padding * short))
        avail = canvas_w - 2 * pad
        wl, wc, wr = (_group_width(groups[g], gap) for g in ("left", "center", "right"))
        if wc:  # centre group must clear both sides
            need = wc + 2 * (max(wl, wr) + (gap * 2 if max(wl, wr) else 0))
        else:
            need = wl + wr + (gap * 3 if wl and wr else 0)
        if need <= avail or need == 0:
            break
        scale *= max(0.2, avail / need) * 0.99
    placed: list[tuple[_Placed, int]] = []
    x = pad
    for p in groups["left"]:
        placed.append((p, x))
        x += p.width + gap
    x = (canvas_w - wc) // 2
    for p in groups["center"]:
        placed.append((p, x))
        x += p.width + gap
    x = canvas_w - pad - wr
    for p in groups["right"]:
        placed.append((p, x))
        x += p.width + gap
    return placed, scale


def _draw_zone(zone: np.ndarray, placed: list[tuple[_Placed, int]], space: ColorSpace) -> None:
    zh = zone.shape[0]
    cy = zh / 2.0
    for p, x in placed:
        top = int(round(cy - p.height / 2.0))
        it = p.item
        if it.type == "text":
            baseline = top + p.lines[0].cap
            for i, t in enumerate(p.lines):
                if i:
                    baseline += p.gaps[i - 1] + t.cap
                if it.align == "left":
                    lx = x
                elif it.align == "right":
                    lx = x + p.width - t.width
                else:
                    lx = x + (p.width - t.width) // 2
                _draw_text(zone, t, lx, baseline, _to_space(np.array(t.color), space))
        elif it.type == "separator":
            alpha = np.ones((p.height, p.width), np.float32)
            _blend(zone, alpha, x, top, _to_space(np.array(it.color), space))
        else:
            logo = p.logo
            rgb = logo[..., :3] if it.tint is None else np.broadcast_to(
                np.array(it.tint, np.float32), logo.shape[:2] + (3,))
            _blend(zone, logo[..., 3], x, top, _to_space(rgb, space))


# -------------------------------------------------------------------------------- orientation


def _orient(data: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to (H, W, C) pixels so they display upright."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops.get(int(orientation), ops[1])(data))


# ------------------------------------------------------------------------------------- public


def frame_geometry(layout: "str | os.PathLike[str] | Layout", height: int, width: int
                   ) -> tuple[int, int, int, int]:
    """(out_height, out_width, photo_top, photo_left) of the framed image for an upright
    ``height`` x ``width`` photo."""
    lay = load_layout(layout)
    t, r, b, l = lay.margins_px(height, width)
    return height + t + b, width + l + r, t, l


#: Peak bytes per canvas pixel: the float32 RGB canvas plus the quantised output and encoder.
FRAME_BYTES_PER_PIXEL = 24
MAX_CANVAS_SIDE = 65535  # px: JPEG, PNG and the safety limits stop here


def _check_canvas(H: int, W: int, lay: Layout) -> None:
    """Refuse a framed canvas beyond the side limit or the memory budget (a layout with 2.0
    margins makes a canvas 25x the photo) before allocating it; the error names the layout."""
    from rawlux.core.errors import ImageTooLarge
    from rawlux.core.limits import check_bytes

    where = lay.source or f"layout {lay.name}"
    if max(H, W) > MAX_CANVAS_SIDE:
        raise ImageTooLarge(f"the framed canvas would be {W}x{H} px, above {MAX_CANVAS_SIDE} px per "
                            f"side (margins of layout {lay.name!r})", where)
    check_bytes(H * W * FRAME_BYTES_PER_PIXEL, f"the framed canvas of {W}x{H} px (layout {lay.name!r})",
                where)


def apply_frame(
    img: Image,
    layout: "str | os.PathLike[str] | Layout" = "bar",
    *,
    logo: "Image | np.ndarray | None" = None,
    text: str | None = None,
) -> Image:
    """Put ``img`` in an EXIF frame: margins, caption text from its metadata, optional logo.

    ``img``: display-encoded (``Encoding.SRGB``) float32 [0, 1] in its own space (sRGB or P3);
    if its ``metadata.orientation`` is not 1 the pixels are first turned upright (then 1).
    ``layout``: a layout name, a ``.toml`` path or a :class:`Layout`. ``logo``: RGBA/RGB pixels
    (uint8/uint16 or float [0, 1], sRGB). ``text``: a template replacing the caption line.
    Returns a larger Image (same space, encoding, metadata) whose photo region equals the input
    pixels exactly; the photo keeps its full resolution.
    """
    if not isinstance(img, Image):
        raise ContractError(f"apply_frame needs an Image, got {type(img).__name__}")
    if img.encoding != Encoding.SRGB:
        raise ContractError(
            f"apply_frame needs a display-encoded image (Encoding.SRGB), got {img.encoding.value}")
    lay = load_layout(layout)
    if text is not None:
        parse_template(text)
        lay = lay.with_text(text)
    data = img.data
    md = img.metadata
    if md.orientation not in (None, 1):
        data = _orient(data, md.orientation)
        md = replace(md, orientation=1)
    h, w = data.shape[:2]
    short = min(h, w)
    t, r, b, l = lay.margins_px(h, w)
    H, W = h + t + b, w + l + r
    _check_canvas(H, W, lay)
    bg = _to_space(np.array(lay.background, np.float32), img.space)
    canvas = np.empty((H, W, 3), np.float32)
    canvas[:t] = bg  # background only in the margins; the photo is copied once, untouched
    canvas[t + h :] = bg
    canvas[t : t + h, :l] = bg
    canvas[t : t + h, l + w :] = bg
    canvas[t : t + h, l : l + w] = data
    rgba = _logo_rgba(logo) if logo is not None else None
    if rgba is not None and not any(it.type == "logo" for it in lay.left + lay.center + lay.right):
        import warnings

        warnings.warn(f"layout {lay.name!r} has no place for a logo; the logo is not drawn",
                      stacklevel=2)
    if any((lay.left, lay.center, lay.right)):
        zone = canvas[t + h :] if lay.side == "bottom" else canvas[:t]
        if zone.shape[0] > 0:
            placed, _ = _layout_zone(lay, md, short, W, rgba)
            _draw_zone(zone, placed, img.space)
    np.clip(canvas[: t], 0.0, 1.0, out=canvas[: t])
    np.clip(canvas[t + h :], 0.0, 1.0, out=canvas[t + h :])
    return img.with_data(canvas, metadata=md, crop=None, opcodes3=())
