"""Saturation below the declared white level: found, counted as clipped, never invented.

A raw whose white level is guessed (a bare mosaic) or declared too high keeps its blown areas a
little under that level; white balance then lifts R and B above G there and a white dog turns
lavender (the N900 sample). ``saturation_plateau`` finds the pile-up of blown sites shared by
the channels; a bright but unclipped surface must not be taken for one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rawlux
from rawlux.core.image import CFA, RawImage
from rawlux.isp.highlights import HighlightParams, highlights, saturation_plateau

RGGB = np.array([[0, 1], [1, 2]], np.int64)
GAINS = np.array([2.0, 1.0, 1.6], np.float32)


def _mosaic(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> RGGB mosaic (H, W) float32."""
    h, w, _ = rgb.shape
    ch = np.tile(RGGB, (h // 2, w // 2))
    return np.take_along_axis(rgb, ch[..., None], axis=2)[..., 0].astype(np.float32)


def _scene(well: float, rng: np.random.Generator) -> np.ndarray:
    """Pre-white-balance linear scene: a greenish-grey ramp and a white object whose core is
    brighter than the sensor's well depth ``well`` (so it saturates there, with read noise)."""
    h, w = 256, 384
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.15 + 0.2 * x / w, 0.25 + 0.3 * x / w, 0.18 + 0.2 * x / w], -1) / GAINS
    r = np.hypot(y - 128, x - 250)
    white = np.clip(1.6 - r / 60.0, 0.0, None)[..., None] * (1.0 / GAINS)  # neutral after WB
    scene = base + white
    scene = np.minimum(scene, well)  # the sensor saturates at its well depth
    return scene + rng.normal(0, 0.003, scene.shape).astype(np.float32)


def _raw(mosaic_pre_wb: np.ndarray) -> RawImage:
    """Normalised, white-balanced RawImage of a pre-white-balance mosaic."""
    h, w = mosaic_pre_wb.shape
    data = mosaic_pre_wb * np.tile(GAINS[RGGB], (h // 2, w // 2))
    return RawImage(data=np.ascontiguousarray(data, np.float32), cfa=CFA.RGGB,
                    cfa_pattern=RGGB.copy(), black=np.zeros((2, 2)), white=1.0,
                    wb_gains=GAINS.copy())


@pytest.mark.parametrize("well", [0.86, 0.93])
def test_plateau_is_found_at_the_well_depth(well: float) -> None:
    rng = np.random.default_rng(3)
    m = _mosaic(_scene(well, rng)) * np.tile(GAINS[RGGB], (128, 192))
    level = saturation_plateau(m, RGGB, GAINS)
    assert level is not None and abs(level - well) < 0.015


def test_blown_core_turns_white_not_magenta() -> None:
    """With the plateau detected the blown core is neutral after reconstruction; with the
    declared white alone it keeps the white-balance gains' tint (R/G = 2, B/G = 1.6)."""
    rng = np.random.default_rng(4)
    raw = _raw(_mosaic(_scene(0.9, rng)))
    core = np.zeros(raw.data.shape, bool)
    core[118:138, 240:260] = True
    ch = np.tile(RGGB, (128, 192))

    def ratios(out: np.ndarray) -> tuple[float, float]:
        g = out[core & (ch == 1)].mean()
        return out[core & (ch == 0)].mean() / g, out[core & (ch == 2)].mean() / g

    on = ratios(highlights(raw, HighlightParams()).data)
    off = ratios(highlights(raw, HighlightParams(detect_saturation=False)).data)
    assert max(abs(on[0] - 1), abs(on[1] - 1)) < 0.05, on
    assert off[0] > 1.5 and off[1] > 1.3, off


def test_bright_unclipped_surfaces_are_not_a_plateau() -> None:
    """A bright blue sky and a bright but smooth white object (nothing saturates): no plateau,
    so the stage leaves the data alone."""
    rng = np.random.default_rng(5)
    h, w = 256, 384
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([0.35 + 0.1 * y / h, 0.55 + 0.1 * y / h, 0.93 - 0.05 * y / h], -1)
    r = np.hypot(y - 180, x - 200)
    obj = np.clip(0.9 - r / 200.0, 0.0, None)[..., None] * np.ones(3)
    scene = np.where((r < 90)[..., None], obj, sky).astype(np.float32)
    scene = scene + rng.normal(0, 0.003, scene.shape).astype(np.float32)
    m = _mosaic(scene / GAINS) * np.tile(GAINS[RGGB], (128, 192))
    assert saturation_plateau(m, RGGB, GAINS) is None
    raw = _raw(_mosaic(scene / GAINS))
    assert np.array_equal(highlights(raw).data, raw.data)


def test_real_n900_white_fur_is_white(raw_dir: Path) -> None:
    """The N900 mosaic (10-bit, white level unknown; the sensor saturates near 0.94 of 1023):
    the dog's white fur stays neutral in the authentic look (it was lavender, chroma 8.5)."""
    import cv2

    raw = rawlux.open_raw(raw_dir / "nokia_n900_bayer_small.png", cfa="GRBG", white=1023)
    with pytest.warns(Warning):
        ref = rawlux.develop(raw, look="neutral").data
        img = rawlux.develop(raw, look="authentic").data
    lab_ref = cv2.cvtColor(np.clip(ref, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    fur = lab_ref[..., 0] > 88
    assert fur.sum() > 2000
    lab = cv2.cvtColor(np.clip(img, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    chroma = np.hypot(lab[..., 1], lab[..., 2])[fur]
    assert chroma.mean() < 5.0, f"white fur chroma {chroma.mean():.2f}"
