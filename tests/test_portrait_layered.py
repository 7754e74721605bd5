"""Layered depth without a depth map (one surface, one blur) and the subject decision."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from rawlux.cli.app import app
from rawlux.core.errors import InvalidParameter
from rawlux.io.photo import open_photo
from rawlux.portrait.depth import depth_from_cues, focus_disparity
from rawlux.portrait.layered_depth import SKY_DISPARITY, estimate_layers, segment
from rawlux.portrait.mask import find_subject, saliency_scores

H, W = 240, 320
SKY, WALL, FLOOR, COAT = [0.35, 0.55, 0.9], [0.8, 0.72, 0.6], [0.45, 0.42, 0.4], [0.6, 0.1, 0.1]


def _scene(seed: int = 0, person: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Blue sky (rows < 60), a beige wall (60..150) across the frame, a grey floor below, a red
    'person' standing on the floor in front of the wall's right half (rows 90..190)."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((H, W, 3), np.float32)
    rgb[:60] = SKY
    rgb[60:150] = WALL
    rgb[150:] = FLOOR
    if person:
        rgb[90:190, 220:260] = COAT
    rgb += rng.normal(0, 0.01, rgb.shape).astype(np.float32)
    person = np.zeros((H, W), np.float32)
    person[90:190, 220:260] = 1.0
    return np.clip(rgb, 0, 1), person


def test_segments_follow_colour_regions():
    rgb, _ = _scene()
    lab = segment(rgb)
    assert lab.dtype == np.int32 and lab.shape == (H, W)
    # each flat region is one segment and regions are not merged
    for sl in (np.s_[5:55, 5:315], np.s_[65:145, 5:200], np.s_[195:235, 5:315]):
        assert len(np.unique(lab[sl])) == 1
    assert len({int(lab[30, 30]), int(lab[100, 30]), int(lab[200, 30]), int(lab[120, 240])}) == 4
    lay = estimate_layers(rgb, None)
    assert lay.sky[5:55].all() and not lay.sky[65:].any() and lay.contact is not None
    assert lay.horizon is not None and abs(lay.horizon - 60 / H) < 0.02  # the sky's lower edge


def test_wall_half_covered_by_the_matte_gets_one_disparity():
    """A door in a wall is salient and the matte also took half of the wall (softly): the whole
    wall (one surface, standing on the floor where the door does) must get the door's
    disparity; sky is far; the floor grows nearer toward the bottom."""
    rgb, _ = _scene()
    rgb[90:150, 220:260] = COAT  # a door reaching the wall's base instead of a person
    matte = np.zeros((H, W), np.float32)
    matte[60:150, 160:] = 0.6
    matte[90:150, 220:260] = 1.0
    d = depth_from_cues(rgb, matte).disparity
    wall = d[65:145, 5:315]
    assert float(np.mean(np.abs(wall - 1.0) < 0.02)) > 0.95  # misses: the door's edge ring
    assert abs(float(np.median(d[65:145, 5:155])) - 1.0) < 0.01  # the half the matte missed
    assert np.allclose(d[5:45], SKY_DISPARITY, rtol=0.05)
    col = d[155:, 40]
    assert np.all(np.diff(col) >= 0) and col[-1] > 1.2 * col[0]


def test_floor_meets_the_subject_at_its_feet_and_background_stays_behind():
    rgb, person = _scene(1)
    d = depth_from_cues(rgb, person).disparity
    fd = focus_disparity(d, mask=person)
    assert abs(fd - 1.0) < 1e-3
    feet = float(np.median(d[192:196, 200:280]))
    assert abs(feet - 1.0) < 0.1  # the floor at the contact row is as far as the person
    assert float(d[230, 240]) > 1.1  # nearer floor: in front of the focal plane
    wall = float(np.median(d[70:85, 10:100]))  # wall standing on the floor behind the person
    assert wall < 0.9 and float(d[20, 20]) < 0.05


def test_scene_without_subject_has_sky_and_floor():
    rgb, _ = _scene(2, person=False)
    d = depth_from_cues(rgb, None).disparity
    assert float(d[20, 100]) < 0.05
    col = d[155:236, 100]
    assert np.all(np.diff(col) >= -1e-4) and col[-1] > 1.5 * col[0] > 0  # floor: nearer below
    wall = d[70:145, 10:300]
    assert np.ptp(wall) < 0.02 * float(wall.mean())  # wall: one value, the floor's at its base


class _Fixed:
    name = "fixed"

    def __init__(self, pred: np.ndarray) -> None:
        self.pred = pred

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        return self.pred


def test_subject_decision_modes():
    rgb, person = _scene(3)
    clear = _Fixed(person * 0.98)
    vague = _Fixed(np.where(person > 0, 0.62, 0.3).astype(np.float32))  # like a cloud's score
    empty = _Fixed(np.zeros((H, W), np.float32))
    s = find_subject(rgb, clear)
    assert s.mask is not None and s.why == "" and s.mask.shape == (H, W)
    s = find_subject(rgb, vague)
    assert s.mask is None and "uncertain" in s.why
    assert find_subject(rgb, vague, mode="salient").mask is not None
    s = find_subject(rgb, empty)
    assert s.mask is None and "nothing stands out" in s.why
    assert find_subject(rgb, clear, mode="none").mask is None
    with pytest.raises(InvalidParameter, match="auto, salient, none"):
        find_subject(rgb, clear, mode="cloud")
    sc = saliency_scores(person * 0.98)
    assert abs(sc["area"] - person.mean()) < 1e-6 and sc["confidence"] > 0.95


def _small(path: Path, side: int = 640) -> np.ndarray:
    rgb = np.clip(open_photo(path).data, 0, 1)
    s = side / max(rgb.shape[:2])
    return cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                      interpolation=cv2.INTER_AREA)


def test_real_photos_subject_or_not(shared_data: Path):
    """The landscape's most salient thing is a cloud: no subject. Portraits: a subject."""
    land = find_subject(_small(shared_data / "photos" / "pixel_IMG_20180725_163423_tiny.jpg",
                               400))
    assert land.mask is None and land.why
    s = find_subject(_small(shared_data / "portraits" / "kodak_kodim18_woman_outdoor_foliage.png",
                            400))
    assert s.mask is not None and 0.1 < float((s.mask > 0.5).mean()) < 0.5


def test_real_wall_is_not_split(shared_data: Path):
    """Samsung photo: the portal is salient, the wall it sits in is one surface. Before, the
    wall's left half was background (blurred) and its right half subject (sharp)."""
    rgb = _small(shared_data / "photos" / "samsung_sm-j327t1.jpg", 512)
    s = find_subject(rgb, mode="salient")
    d = depth_from_cues(rgb, s.mask).disparity
    fd = focus_disparity(d, mask=s.mask)
    h, w = d.shape
    wall = d[round(0.42 * h):round(0.55 * h), round(0.03 * w):round(0.3 * w)]  # left of portal
    assert float(np.mean(np.abs(wall / fd - 1.0) < 0.02)) > 0.9
    ground = d[round(0.8 * h):, :]
    assert float(np.median(ground)) > 1.3 * fd  # cobbles in front of the wall
    assert float(np.median(d[: round(0.1 * h)])) < 0.1 * fd  # sky


def test_cli_says_when_there_is_no_subject(shared_data: Path, tmp_path: Path):
    src = tmp_path / "land.png"
    PILImage.fromarray((_small(shared_data / "photos" / "pixel_IMG_20180725_163423_tiny.jpg",
                               400) * 255).astype(np.uint8)).save(src)
    out, mask = tmp_path / "out.png", tmp_path / "mask.png"
    r = CliRunner().invoke(app, ["portrait", str(src), "-o", str(out), "--save-mask", str(mask)])
    assert r.exit_code == 0, r.output
    assert "no person or clear subject found" in r.output and "frame centre" in r.output
    assert np.asarray(PILImage.open(mask)).max() == 0
    r = CliRunner().invoke(app, ["portrait", str(src), "-o", str(out), "--subject", "cloud"])
    assert r.exit_code != 0 and "--subject" in r.output
    assert all(f"'{choice}'" in r.output for choice in ("auto", "salient", "none"))  # valid choices named
