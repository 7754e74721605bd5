"""Focal plane from a depth map alone, and the subject decision made by ``portrait()`` itself
(the CLI only prints its note)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.io.depth import read_embedded_depth
from rawlux.io.photo import open_photo
from rawlux.portrait.depth import DepthMap, nearest_region_disparity
from rawlux.portrait.render import portrait

H, W = 120, 160


class _NoModel:
    """A segmentation model that must not be run."""

    name = "forbidden"

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        raise AssertionError("the subject model ran although it was not needed")


class _Fixed:
    name = "fixed"

    def __init__(self, pred: np.ndarray) -> None:
        self.pred = pred
        self.calls = 0

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.pred


def _depth_scene() -> np.ndarray:
    """Floor receding from 0.2 (row 60) to 0.5 at a person's feet (row 100) and 0.79 at the
    bottom row, wall at 0.2 above; the person at 0.5 stands in the middle (rows 30..100,
    cols 65..95). The floor in front is nearer than the person."""
    yy = np.mgrid[0:H, 0:W][0].astype(np.float32)
    d = np.where(yy < 60, 0.2, 0.2 + 0.3 * (yy - 60) / 40).astype(np.float32)
    d[30:100, 65:95] = 0.5
    return d


def _img(seed: int = 0) -> Image:
    """Sky (rows < 40), a textured wall, a grey floor (rows >= 90), a red person (cols 65..95)."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((H, W, 3), np.float32)
    rgb[:40] = (0.35, 0.55, 0.9)
    rgb[40:90] = (0.8, 0.72, 0.6)
    rgb[90:] = (0.45, 0.42, 0.4)
    rgb[40:90:4] *= 0.7  # wall texture (what a blur removes)
    rgb[30:100, 65:95] = (0.6, 0.1, 0.1)
    rgb += rng.normal(0, 0.01, rgb.shape).astype(np.float32)
    rgb = np.clip(rgb, 0, 1)
    return Image(rgb, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY)


def test_nearest_region_skips_the_floor_in_front_and_finds_the_person():
    d = _depth_scene()
    assert abs(nearest_region_disparity(d) - 0.5) < 0.02
    # a nearer central object wins over the person behind it
    d2 = d.copy()
    d2[40:70, 20:50] = 0.7
    assert abs(nearest_region_disparity(d2) - 0.7) < 0.02
    # too small to be a subject (0.5 % of the frame): not taken
    d3 = d.copy()
    d3[45:51, 40:48] = 3.0
    assert abs(nearest_region_disparity(d3) - 0.5) < 0.02
    # nothing stands out (a tilted flat wall): the frame centre's disparity
    flat = np.tile(np.linspace(0.3, 0.6, W, dtype=np.float32), (H, 1))
    assert abs(nearest_region_disparity(flat) - 0.45) < 0.03


def test_depth_without_focus_does_not_run_the_model():
    d = _depth_scene()
    res = portrait(_img(), lens="50", aperture=2.0, depth=DepthMap(d, "file"), model=_NoModel())
    assert abs(res.focus_disparity - 0.5) < 0.02 and res.mask is None and res.note == ""
    # GFocus recorded in the file wins (the point is on the floor, 0.2 of the height from the
    # bottom)
    gd = DepthMap(d, "gdepth", focus=(0.2, 0.8))
    res = portrait(_img(), lens="50", depth=gd, model=_NoModel())
    assert abs(res.focus_disparity - float(d[96, 32])) < 0.02
    # asked for the matte (--save-mask): then the model runs
    m = _Fixed(np.zeros((H, W), np.float32))
    res = portrait(_img(), lens="50", depth=DepthMap(d, "file"), model=m, need_mask=True)
    assert m.calls == 1 and res.mask is not None and abs(res.focus_disparity - 0.5) < 0.02


def test_real_depth_files_focus_on_their_subject(shared_data: Path):
    """Lens Blur files carry GFocus; without it the depth map's own near central region must
    give nearly the same plane (the hut's focal point is recorded too)."""
    for name in ("android_gdepth.jpg", "motorola_xt912_gdepth.jpg"):
        dm = read_embedded_depth(shared_data / "depth" / name)
        assert dm is not None and dm.focus is not None
        x, y = dm.focus
        h, w = dm.disparity.shape
        at_focus = float(np.median(dm.disparity[int(y * h) - 2:int(y * h) + 3,
                                                int(x * w) - 2:int(x * w) + 3]))
        own = nearest_region_disparity(dm.disparity)
        assert abs(own / at_focus - 1.0) < 0.15, (name, own, at_focus)


def test_library_makes_the_subject_decision():
    img = _img(2)
    person = np.zeros((H, W), np.float32)
    person[30:100, 65:95] = 1.0
    clear = _Fixed(person * 0.98)
    res = portrait(img, lens="50", model=clear)
    assert res.note == "" and float((res.mask > 0.5).mean()) > 0.5 * person.mean()
    vague = _Fixed(np.where(person > 0, 0.62, 0.3).astype(np.float32))
    res = portrait(img, lens="50", model=vague)
    assert "uncertain" in res.note and res.mask is not None and res.mask.max() == 0
    # scene framing (10 m): a much smaller blur than with a subject framed at 1 m
    diff_scene = float(np.abs(res.image.data - img.data).mean())
    res_s = portrait(img, lens="50", model=vague, subject="salient")
    assert res_s.note == "" and res_s.mask.max() > 0.5
    res_f = portrait(img, lens="50", model=vague, framing=1.0)
    assert float(np.abs(res_f.image.data - img.data).mean()) > diff_scene
    res_n = portrait(img, lens="50", model=_NoModel(), subject="none")
    assert res_n.note == "--subject none" and res_n.mask.max() == 0
    with pytest.raises(InvalidParameter, match="auto, salient, none"):
        portrait(img, model=clear, subject="cloud")
