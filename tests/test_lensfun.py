"""Lensfun lens corrections: EXIF matching, distortion / TCA / vignetting on synthetic images made
with a known lensfun lens model, the --lens-correction modes, and the real Canon 6D DNG."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from rawlux.core.image import ColorSpace, Image, Metadata
from rawlux.isp.lensfun import LensfunParams, correct, lensfun_stage, match_lens

MD = Metadata(make="Canon", model="Canon EOS 6D", lens="EF24-105mm f/4L IS USM",
              focal_length=24.0, f_number=4.0)
H, W, STEP = 400, 600, 40


def _dots() -> tuple[np.ndarray, np.ndarray]:
    """Gaussian dots on a grid: (H, W, 3) float32 and their true (y, x) centres."""
    ys, xs = np.mgrid[STEP // 2 : H : STEP, STEP // 2 : W : STEP]
    centres = np.stack([ys.ravel(), xs.ravel()], 1).astype(np.float64) + 0.3
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W), np.float64)
    for cy, cx in centres:
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.8**2))
    return np.repeat(img[..., None], 3, axis=2).astype(np.float32), centres


def _centroids(plane: np.ndarray, centres: np.ndarray) -> np.ndarray:
    lab, n = ndimage.label(plane > 0.2)
    cm = np.array(ndimage.center_of_mass(plane, lab, range(1, n + 1)))
    # nearest found dot for each true centre
    d = np.linalg.norm(cm[None] - centres[:, None], axis=2)
    return cm[np.argmin(d, axis=1)]


def test_match_from_exif_and_reasons_when_not() -> None:
    m, why = match_lens(MD)
    assert m is not None and why == ""
    assert "24-105" in m.lens.model and m.focal == 24 and m.aperture == 4
    assert m.lens.calib_distortion and m.lens.calib_tca and m.lens.calib_vignetting
    m2, why2 = match_lens(Metadata(make="NIKON CORPORATION", model="NIKON D1", focal_length=20))
    assert m2 is None and "no lens" in why2  # camera found (EXIF make spelled differently)
    m3, why3 = match_lens(Metadata(make="Google", model="Pixel 7", lens="x", focal_length=6.8))
    assert m3 is None and "not in the lensfun database" in why3
    m4, why4 = match_lens(replace(MD, focal_length=None))
    assert m4 is None and "focal length" in why4


def test_distortion_is_straightened() -> None:
    m, _ = match_lens(MD)
    only = LensfunParams(correction="lensfun", tca=False, vignetting=False)
    ideal, centres = _dots()
    distorted = correct(ideal, m, only, reverse=True)  # the lens model applied to a true grid
    fixed = correct(distorted, m, only)
    before = np.linalg.norm(_centroids(distorted[..., 1], centres) - centres, axis=1)
    after = np.linalg.norm(_centroids(fixed[..., 1], centres) - centres, axis=1)
    ok = np.all((centres > 30) & (centres < [H - 30, W - 30]), axis=1)  # dots that stay whole
    print(f"distortion residual: max {before[ok].max():.2f} px -> {after[ok].max():.3f} px "
          f"(mean {before[ok].mean():.2f} -> {after[ok].mean():.3f})")
    assert before[ok].max() > 2.0  # the lens really bends the grid
    assert after[ok].max() < 0.3


def test_tca_aligns_the_channels() -> None:
    m, _ = match_lens(MD)
    only = LensfunParams(correction="lensfun", distortion=False, vignetting=False)
    ideal, centres = _dots()
    shifted = correct(ideal, m, only, reverse=True)
    fixed = correct(shifted, m, only)

    def rb(img: np.ndarray) -> float:
        return float(np.abs(_centroids(img[..., 0], centres) - _centroids(img[..., 2], centres)).sum(1).max())

    print(f"TCA red-blue misregistration: {rb(shifted):.3f} px -> {rb(fixed):.3f} px")
    assert rb(shifted) > 0.15 and rb(fixed) < 0.3 * rb(shifted)


def test_vignetting_is_flattened() -> None:
    m, _ = match_lens(MD)
    only = LensfunParams(correction="lensfun", distortion=False, tca=False)
    flat = np.full((H, W, 3), 0.4, np.float32)
    dark = correct(flat, m, only, reverse=True)
    assert dark[0, 0, 1] < 0.8 * dark[H // 2, W // 2, 1]  # a wide zoom at f/4 falls off
    fixed = correct(dark, m, only)
    np.testing.assert_allclose(fixed, flat, rtol=0.01)


def test_stage_modes_and_pass_through() -> None:
    rng = np.random.default_rng(0)
    img = Image(rng.uniform(0, 1, (60, 90, 3)).astype(np.float32), ColorSpace.CAMERA, metadata=MD)
    assert lensfun_stage(img, LensfunParams(correction="off")) is img
    on = lensfun_stage(img, LensfunParams(correction="lensfun"))
    assert on.data.shape == img.data.shape and np.abs(on.data - img.data).mean() > 1e-3
    from rawlux.core.image import WarpRectilinear

    warp = WarpRectilinear(opcode_id=1, coefficients=((1.0, 0, 0, 0, 0, 0),), center=(0.5, 0.5))
    with_ops = replace(img, opcodes3=(warp,))
    assert lensfun_stage(with_ops, LensfunParams(correction="auto")) is with_ops  # unresolved auto: DNG only
    unknown = replace(img, metadata=Metadata(make="X", model="Y", lens="Z", focal_length=5.0))
    assert lensfun_stage(unknown, LensfunParams(correction="lensfun")) is unknown


def test_develop_lens_modes(raw_dir: Path) -> None:
    from rawlux.app.recipe import Recipe
    from rawlux.develop import DevelopOptions, build_pipeline
    from rawlux.io.raw import open_raw
    from rawlux.isp.lensfun import has_lens_opcodes

    px = open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")
    six = open_raw(raw_dir / "canon_eos_6d.dng")
    assert has_lens_opcodes(px) and not has_lens_opcodes(six)
    assert DevelopOptions(lens_correction=True).lens_correction == "auto"
    assert DevelopOptions(lens_correction=False).lens_correction == "off"
    for mode, shading, warp, lf in (("dng", True, True, "dng"), ("lensfun", False, False, "lensfun"),
                                    ("off", False, False, "off"), ("auto", True, True, "dng")):
        pipe = build_pipeline(DevelopOptions(lens_correction=mode))
        p = {s.name: s.params for s in pipe.stages}
        assert (p["lens_shading"].enabled, p["geometry"].apply_warp, p["lensfun"].correction) == (shading, warp, lf)
    for raw, want in ((px, (True, "dng")), (six, (True, "lensfun"))):  # auto resolved by the raw
        p = {s.name: s.params for s in build_pipeline(DevelopOptions(), raw=raw).stages}
        assert (p["lens_shading"].enabled, p["lensfun"].correction) == want
    rec = Recipe.default().with_options(lens_correction="lensfun")  # recorded as asked
    assert Recipe.from_dict(rec.to_dict())["lensfun"].correction == "lensfun"
    assert Recipe.default()["lensfun"].correction == "auto"
    with pytest.raises(Exception, match="lens_correction|correction"):
        DevelopOptions(lens_correction="sometimes")
