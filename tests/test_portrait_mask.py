"""Subject mask: bundled model, guided-filter refinement, missing-model errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rawlux.core.errors import MissingModel
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.portrait import mask as mask_mod
from rawlux.portrait.mask import (
    SegmentationModel,
    U2NetpModel,
    guided_filter,
    model_path,
    subject_mask,
)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1.0, float((a | b).sum()))


def test_model_ships_with_licence():
    p = model_path()
    assert p.is_file() and p.stat().st_size > 4_000_000
    lic = p.parent / "LICENSE-u2netp.txt"
    assert lic.is_file() and "MIT License" in lic.read_text()


def test_bundled_model_finds_salient_subject(shared_data: Path):
    """One run on a small real photo and one on a synthetic 'subject on a plain background'."""
    h, w = 240, 180
    yy, xx = np.mgrid[0:h, 0:w]
    body = (((xx - 90) / 45.0) ** 2 + ((yy - 150) / 90.0) ** 2) < 1
    head = ((xx - 90) ** 2 + (yy - 60) ** 2) < 30**2
    truth = body | head
    rgb = np.full((h, w, 3), [0.55, 0.65, 0.75], np.float32)
    rgb[truth] = [0.75, 0.35, 0.25]
    model = U2NetpModel()
    assert isinstance(model, SegmentationModel)
    m = subject_mask(rgb, model)
    assert m.shape == (h, w) and m.dtype == np.float32
    assert 0.0 <= float(m.min()) and float(m.max()) <= 1.0
    assert _iou(m > 0.5, truth) > 0.8


def test_subject_mask_accepts_images_and_custom_models():
    class Box:
        name = "box"

        def predict(self, rgb: np.ndarray) -> np.ndarray:
            out = np.zeros((50, 40), np.float32)  # any resolution, same aspect
            out[10:40, 10:30] = 1.0
            return out

    data = np.full((100, 80, 3), 0.4, np.float32)
    img = Image(data, ColorSpace.REC2020, Encoding.LINEAR, Referred.DISPLAY)
    m = subject_mask(img, Box(), refine=False)
    assert m.shape == (100, 80)
    assert m[50, 40] > 0.9 and m[5, 5] < 0.1


def test_guided_filter_snaps_soft_mask_to_edges():
    h, w = 80, 120
    guide = np.zeros((h, w, 3), np.float32)
    guide[:, 60:] = 1.0
    guide += np.random.default_rng(0).normal(0, 0.01, guide.shape).astype(np.float32)
    truth = np.zeros((h, w), np.float32)
    truth[:, 60:] = 1.0
    soft = cv2.GaussianBlur(truth, (0, 0), 6.0)
    def jump(m: np.ndarray) -> tuple[float, float]:  # biggest step along rows, and where
        d = np.diff(m, axis=1)
        return float(d.max(axis=1).mean()), float(d.argmax(axis=1).mean())

    for g in (np.clip(guide, 0, 1), np.clip(guide[..., 0], 0, 1)):
        refined = guided_filter(g, soft, 8, 1e-3)
        step, where = jump(refined)
        assert step > 4 * jump(soft)[0]  # the soft ramp became an edge ...
        assert abs(where - 59) <= 0.5  # ... exactly where the guide has it


def test_missing_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    missing = tmp_path / "nothing.onnx"
    with pytest.raises(MissingModel) as ei:
        U2NetpModel(missing)
    msg = str(ei.value)
    assert str(missing) in msg and "not installed" in msg and "\n" not in msg
    assert ei.value.exit_code == 5
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(MissingModel):
        U2NetpModel(bad)
    monkeypatch.setenv(mask_mod.MODEL_ENV, str(missing))
    with pytest.raises(MissingModel):
        subject_mask(np.zeros((32, 32, 3), np.float32))


def test_portrait_without_depth_needs_a_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No depth + no model + no mask -> MissingModel, not a crash; a given mask works."""
    from rawlux.portrait.render import portrait

    monkeypatch.setenv(mask_mod.MODEL_ENV, str(tmp_path / "gone.onnx"))
    img = Image(np.full((60, 80, 3), 0.5, np.float32), ColorSpace.SRGB, Encoding.SRGB,
                Referred.DISPLAY)
    with pytest.raises(MissingModel):
        portrait(img, lens="35")
    m = np.zeros((60, 80), np.float32)
    m[20:50, 30:50] = 1
    res = portrait(img, lens="35", mask=m)
    assert res.image.data.shape == img.data.shape and res.depth.source == "cues"
