"""Frame layouts: geometry from the layout file, photo region untouched, ink where text goes."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rawlux.core.errors import ContractError, InvalidParameter, MissingInput
from rawlux.core.image import ColorSpace, Encoding, Image, Metadata, Referred
from rawlux.frame import apply_frame, list_layouts, load_layout
from rawlux.frame.layout import BUILTIN_DIR

LAYOUTS = ["bar", "bar-dark", "border", "polaroid", "minimal"]
SHAPES = {"landscape": (400, 600), "portrait": (600, 400), "square": (480, 480)}

MD = Metadata(
    make="FUJIFILM", model="X100VI", lens="FUJINON 23mm F2", exposure_time=1 / 250, f_number=2.0,
    iso=160.0, focal_length=23.0, focal_length_35mm=35.0,
    datetime_original=dt.datetime(2024, 6, 1, 18, 30),
)


def photo(h: int, w: int, md: Metadata = MD, space: ColorSpace = ColorSpace.SRGB,
          seed: int = 0) -> Image:
    rng = np.random.default_rng(seed)
    data = rng.random((h, w, 3), dtype=np.float32)
    return Image(data, space, Encoding.SRGB, Referred.DISPLAY, metadata=md)


def expected_geometry(layout: str, h: int, w: int) -> tuple[int, int, int, int]:
    """(out_h, out_w, top, left) read straight from the layout TOML (not from the code)."""
    with open(BUILTIN_DIR / f"{layout}.toml", "rb") as f:
        m = tomllib.load(f).get("margin", {})
    short = min(h, w)
    t, r, b, l = (int(round(m.get(k, 0.0) * short)) for k in ("top", "right", "bottom", "left"))
    return h + t + b, w + l + r, t, l


def ink(region: np.ndarray, bg: np.ndarray, thr: float = 0.15) -> np.ndarray:
    """Boolean mask of pixels that differ from the background by more than ``thr``."""
    return np.abs(region - bg).max(axis=2) > thr


def test_builtin_layouts_are_listed() -> None:
    assert set(LAYOUTS) <= set(list_layouts())


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_geometry_identity_and_ink(layout: str, shape: str) -> None:
    h, w = SHAPES[shape]
    img = photo(h, w)
    logo = np.zeros((40, 120, 4), np.uint8)
    logo[..., 0] = 200
    logo[5:35, 10:110, 3] = 255
    has_slot = layout in ("bar", "bar-dark", "polaroid")
    out = apply_frame(img, layout, logo=logo if has_slot else None)
    H, W, t, l = expected_geometry(layout, h, w)
    assert out.data.shape == (H, W, 3)
    assert out.data.dtype == np.float32
    # the photo keeps its full resolution and is bit-identical
    assert np.array_equal(out.data[t : t + h, l : l + w], img.data)
    assert out.space == img.space and out.encoding == Encoding.SRGB and out.metadata == img.metadata
    # the text zone (below the photo) carries ink; everything in the margins is in [0, 1]
    bg = out.data[-1, 0]
    zone = out.data[t + h :]
    assert zone.shape[0] > 0
    assert ink(zone, bg).sum() > 50, "text region is empty"
    assert out.data.min() >= 0.0 and out.data.max() <= 1.0
    # nothing is drawn over the top/left/right margins except background
    if t:
        assert not ink(out.data[:t], bg).any()
    if l:
        assert not ink(out.data[t : t + h, :l], bg).any()


@pytest.mark.parametrize("layout", ["bar", "bar-dark"])
def test_bar_has_text_on_both_sides_and_logo(layout: str) -> None:
    h, w = 400, 600
    img = photo(h, w)
    logo = np.zeros((50, 50, 4), np.float32)
    logo[..., 2] = 1.0  # pure blue disc
    yy, xx = np.mgrid[:50, :50]
    logo[..., 3] = ((yy - 25) ** 2 + (xx - 25) ** 2 < 400).astype(np.float32)
    out = apply_frame(img, layout, logo=logo)
    zone = out.data[h:]
    bg = zone[-1, 0]
    m = ink(zone, bg)
    cols = np.flatnonzero(m.any(axis=0))
    assert cols.min() < w * 0.25 and cols.max() > w * 0.75  # left and right groups
    blue = (zone[..., 2] > 0.8) & (zone[..., 0] < 0.3) & (zone[..., 1] < 0.3)
    assert blue.sum() > 30  # the logo is there, in colour
    bx = np.flatnonzero(blue.any(axis=0))
    assert bx.min() > w / 2  # at the right
    no_logo = apply_frame(img, layout)
    assert not ((no_logo.data[h:, :, 2] > 0.8) & (no_logo.data[h:, :, 0] < 0.3)).any()


def test_layouts_scale_with_resolution() -> None:
    """The same layout at 2x resolution puts the ink at the same relative place."""

    def ink_box(scale: int) -> np.ndarray:
        h, w = 300 * scale, 450 * scale
        out = apply_frame(photo(h, w), "bar")
        zone = out.data[h:]
        m = ink(zone, zone[-1, 0])
        ys, xs = np.nonzero(m)
        return np.array([ys.min() / zone.shape[0], ys.max() / zone.shape[0], xs.min() / w, xs.max() / w])

    a, b = ink_box(1), ink_box(2)
    assert np.allclose(a, b, atol=0.04), (a, b)


def test_long_text_shrinks_to_fit_portrait() -> None:
    md = replace(MD, model="A Very Long Camera Model Name Mark IV Limited Edition",
                 lens="An Extraordinarily Long Zoom Lens Name 24-105mm F4 L IS USM II")
    h, w = 600, 400
    out = apply_frame(photo(h, w, md), "bar")
    zone = out.data[h:]
    m = ink(zone, zone[-1, 0], 0.05)
    cols = np.flatnonzero(m.any(axis=0))
    pad = round(0.045 * w)
    assert cols.min() >= pad - 2 and cols.max() <= w - pad + 2
    # the left and right groups do not touch: an empty run of columns between them
    empty = ~m.any(axis=0)[cols.min() : cols.max()]
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, empty.astype(int), 0])))[::2]
    assert runs.size and runs.max() >= 5


def test_missing_exif_gives_clean_frame() -> None:
    img = photo(300, 450, Metadata())
    for layout in LAYOUTS:
        out = apply_frame(img, layout)
        H, W, t, l = expected_geometry(layout, 300, 450)
        assert out.data.shape == (H, W, 3)
        assert np.array_equal(out.data[t : t + 300, l : l + 450], img.data)
    # only the ISO known: the bar shows just that
    only_iso = apply_frame(photo(300, 450, Metadata(iso=100.0)), "bar").data[300:]
    assert ink(only_iso, only_iso[-1, 0]).sum() > 10


def test_odd_values_and_unicode_models_render() -> None:
    odd = Metadata(model="Лейка Q3 Ελληνικά Ωmega", lens="Noct-Nikkor 58mm f/0.95 Ø",
                   exposure_time=1 / 8000, f_number=0.95, iso=102400.0, focal_length=58.0)
    long_exp = replace(odd, exposure_time=30.0)
    for md in (odd, long_exp):
        out = apply_frame(photo(400, 600, md), "bar")
        zone = out.data[400:]
        m = ink(zone, zone[-1, 0])
        assert m[:, :300].sum() > 100 and m[:, 300:].sum() > 100


def test_fallback_font_renders_glyphs_inter_lacks() -> None:
    """Armenian/Hebrew are not in Inter: the DejaVu fallback draws them (not .notdef boxes)."""
    from rawlux.frame.render import _runs

    runs = _runs("Canon Ճ שלום", "regular")
    fonts = [Path(p).name for p, _ in runs]
    assert fonts[0].startswith("Inter") and any(f.startswith("DejaVu") for f in fonts)
    a = apply_frame(photo(300, 450, Metadata(model="Ճշմարիտ")), "minimal").data[300:]
    b = apply_frame(photo(300, 450, Metadata(model="Մշմարիտ")), "minimal").data[300:]
    assert not np.array_equal(a, b)  # different glyphs, not the same missing-glyph box


def test_text_override_replaces_caption() -> None:
    img = photo(400, 600)
    a = apply_frame(img, "minimal")
    b = apply_frame(img, "minimal", text="{iso}")
    c = apply_frame(img, "minimal", text="{iso:d}")
    assert not np.array_equal(a.data, b.data) and not np.array_equal(b.data, c.data)
    wa = ink(a.data[400:], a.data[-1, 0]).any(axis=0).sum()
    wb = ink(b.data[400:], b.data[-1, 0]).any(axis=0).sum()
    assert wb < wa / 3  # "ISO 160" is much shorter than the full caption
    with pytest.raises(InvalidParameter, match=r"\{lenz\}"):
        apply_frame(img, "bar", text="{model} {lenz}")


def test_p3_background_and_text_colours_converted() -> None:
    dark = replace(photo(200, 300), space=ColorSpace.DISPLAY_P3)
    out = apply_frame(dark, "bar-dark")
    bg = out.data[-1, 0]
    assert np.allclose(bg, 0x11 / 255, atol=2e-3)  # neutral colours are the same in P3
    polar = apply_frame(replace(photo(200, 300), space=ColorSpace.DISPLAY_P3), "polaroid")
    srgb = apply_frame(photo(200, 300), "polaroid")
    # the warm off-white background is re-encoded for P3 (less saturated numbers)
    assert not np.allclose(polar.data[0, 0], srgb.data[0, 0], atol=1e-4)
    assert np.ptp(polar.data[0, 0]) < np.ptp(srgb.data[0, 0])


def test_orientation_is_applied_before_framing() -> None:
    img = photo(300, 450)
    rotated = replace(img, metadata=replace(MD, orientation=6))
    out = apply_frame(rotated, "bar")
    upright = np.rot90(img.data, -1)
    h, w = upright.shape[:2]
    assert out.data.shape[1] == w and out.metadata.orientation == 1
    assert np.array_equal(out.data[:h], upright)


def test_user_layout_dir_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = """
name = "slim"
description = "top strip"
background = "#202020"
margin = { top = 0.1, right = 0.01, bottom = 0.01, left = 0.01 }
[zone]
side = "top"
[[left]]
type = "text"
lines = [ { text = "{model} · {iso}", size = 0.06, color = "#ffcc00" } ]
"""
    f = tmp_path / "slim.toml"
    f.write_text(text)
    monkeypatch.setenv("RAWLUX_LAYOUTS_DIR", str(tmp_path))
    assert "slim" in list_layouts()
    img = photo(200, 300)
    out = apply_frame(img, "slim")
    t, s = round(0.1 * 200), round(0.01 * 200)
    assert out.data.shape == (200 + t + s, 300 + 2 * s, 3)
    assert np.array_equal(out.data[t : t + 200, s : s + 300], img.data)
    top = out.data[:t]
    yellow = (top[..., 0] > 0.8) & (top[..., 1] > 0.6) & (top[..., 2] < 0.3)
    assert yellow.sum() > 10
    assert np.array_equal(apply_frame(img, f).data, out.data)  # by path too
    assert np.array_equal(apply_frame(img, str(f)).data, out.data)


@pytest.mark.parametrize("body, named", [
    ('name = "x"\nmargin = { bottom = 0.1 }\ncolour = "#fff"', "colour"),
    ('name = "x"\nmargin = { bottom = 5.0 }', "margin.bottom"),
    ('name = "x"\nbackground = "white"', "background"),
    ('name = "x"\nmargin = { bottom = 0.1 }\n[[left]]\ntype = "txt"', "left[0].type"),
    ('name = "x"\nmargin = { bottom = 0.1 }\n[[left]]\ntype = "text"\nlines = [{ text = "{nope}" }]',
     "{nope}"),
    ('name = "x"\n[[left]]\ntype = "text"\nlines = [{ text = "{iso}" }]', "margin.bottom is 0"),
    ('name = = "x"', "TOML"),
])
def test_bad_layout_file_names_file_and_key(tmp_path: Path, body: str, named: str) -> None:
    f = tmp_path / "broken.toml"
    f.write_text(body)
    with pytest.raises(InvalidParameter) as info:
        load_layout(f)
    msg = str(info.value)
    assert str(f) in msg and named in msg and "\n" not in msg


def test_unknown_layout_and_missing_file() -> None:
    with pytest.raises(InvalidParameter, match="valid: .*bar.*polaroid"):
        load_layout("nosuchlayout")
    with pytest.raises(MissingInput, match="nope.toml"):
        load_layout("/tmp/definitely/nope.toml")


def test_input_contract() -> None:
    lin = replace(photo(100, 150), encoding=Encoding.LINEAR)
    with pytest.raises(ContractError, match="SRGB|srgb"):
        apply_frame(lin, "bar")
    with pytest.raises(ContractError, match="logo"):
        apply_frame(photo(100, 150), "bar", logo=np.zeros((4, 4, 2), np.uint8))


def test_logo_in_polaroid_and_warning_without_slot() -> None:
    img = photo(300, 300)
    logo = np.zeros((20, 20, 4), np.float32)
    logo[..., 1] = 1.0
    logo[..., 3] = 1.0
    out = apply_frame(img, "polaroid", logo=logo)
    green = (out.data[..., 1] > 0.9) & (out.data[..., 0] < 0.1) & (out.data[..., 2] < 0.1)
    green[: 300 + round(0.065 * 300)] = False  # only look below the photo
    assert green.sum() > 50
    with pytest.warns(UserWarning, match="no place for a logo"):
        apply_frame(img, "minimal", logo=logo)


def test_frame_stage_params_and_contract() -> None:
    from rawlux.frame.stage import STAGE, FrameParams

    img = photo(200, 300)
    out = STAGE.fn(img, FrameParams(layout="border", text="{iso}"))
    assert np.array_equal(out.data, apply_frame(img, "border", text="{iso}").data)
    STAGE.takes.check(img, "frame")
    STAGE.gives_for(FrameParams()).check(out, "frame")
    with pytest.raises(InvalidParameter, match="nosuch"):
        FrameParams(layout="nosuch")
    with pytest.raises(InvalidParameter, match=r"\{bad\}"):
        FrameParams(text="{bad}")
    assert {f["name"] for f in FrameParams.schema()} == {"layout", "text"}
