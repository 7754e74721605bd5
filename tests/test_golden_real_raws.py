"""Golden renditions of the real raws: colour regressions show up as CIEDE2000 against a reference.

For every real raw in ``../shared/data/raw`` with image data and every default look, a small
reference rendition (sRGB, 8-bit PNG, area-downscaled so the long side is ``GOLDEN_SIDE``) lives
in ``tests/golden/``. The test develops the raw again, downscales it the same way and compares
in CIELAB (D65) with CIEDE2000: the mean and the 99.5th percentile must stay within tolerance.

After a deliberate change of the rendering, regenerate and look at the new references:

    RAWLUX_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_real_raws.py

(the test then writes the references and is reported as skipped), and say in the commit why.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import rawlux

GOLDEN_DIR = Path(__file__).with_name("golden")
GOLDEN_SIDE = 192
LOOKS = ("neutral", "authentic", "vibrant")
#: Tolerances in CIEDE2000: mean over the thumbnail, and its 99.5th percentile (a few pixels on
#: edges may move with sub-pixel changes; a colour or tone regression moves the mean).
MEAN_TOLERANCE = 1.0
P995_TOLERANCE = 6.0

#: Real raws with image data and the open_raw options they need (the metadata-only ProRAW DNG
#: has no pixels, so it has no rendition).
RAWS = {
    "blackmagic_pocket4k_cinemadng.dng": {},
    "canon_550d_magiclantern_colorchart.dng": {},
    "canon_eos_6d.dng": {},
    "kodak_dc50.kdc": {},
    "nikon_d1.nef": {},
    "nokia_n900_bayer_small.png": {"cfa": "GRBG", "white": 1023},
    "pixel7_hdrplus_darkframe.dng": {},
}


def golden_thumbnail(img: rawlux.Image, side: int = GOLDEN_SIDE) -> np.ndarray:
    """uint8 (h, w, 3) sRGB thumbnail, long side ``side``, area-averaged in the encoded values."""
    import cv2

    data = np.clip(img.data, 0.0, 1.0)
    h, w = data.shape[:2]
    f = side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(data, size, interpolation=cv2.INTER_AREA)
    return np.round(small * 255.0).astype(np.uint8)


def delta_e2000(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIEDE2000 per pixel between two uint8 sRGB images of equal shape."""
    import colour

    def lab(x: np.ndarray) -> np.ndarray:
        rgb = x.astype(np.float64) / 255.0
        space = colour.RGB_COLOURSPACES["sRGB"]
        xyz = colour.RGB_to_XYZ(rgb, space, apply_cctf_decoding=True)
        return colour.XYZ_to_Lab(xyz, space.whitepoint)

    return colour.difference.delta_E_CIE2000(lab(a), lab(b))


def _golden_path(raw_name: str, look: str) -> Path:
    return GOLDEN_DIR / f"{Path(raw_name).stem}__{look}.png"


@pytest.fixture(scope="module")
def opened(raw_dir: Path) -> dict[str, rawlux.RawImage]:
    return {name: rawlux.open_raw(raw_dir / name, **kw) for name, kw in RAWS.items()}


def test_every_real_raw_has_goldens(raw_dir: Path) -> None:
    """A raw added to shared/data must get references (or be listed as having no pixels)."""
    names = {p.name for p in raw_dir.iterdir() if p.is_file() and p.suffix != ".md"}
    assert names - set(RAWS) == {"iphone12pro_proraw_metadata_only.dng"}


@pytest.mark.parametrize("look", LOOKS)
@pytest.mark.parametrize("raw_name", sorted(RAWS))
def test_golden_rendition(opened: dict, raw_name: str, look: str) -> None:
    from PIL import Image as PILImage

    thumb = golden_thumbnail(rawlux.develop(opened[raw_name], look=look))
    path = _golden_path(raw_name, look)
    if os.environ.get("RAWLUX_UPDATE_GOLDEN"):
        GOLDEN_DIR.mkdir(exist_ok=True)
        PILImage.fromarray(thumb).save(path, optimize=True)
        pytest.skip(f"wrote {path.name}")
    assert path.is_file(), f"no golden rendition {path.name}: run with RAWLUX_UPDATE_GOLDEN=1"
    ref = np.asarray(PILImage.open(path).convert("RGB"))
    assert ref.shape == thumb.shape, f"{path.name}: size {thumb.shape} != golden {ref.shape}"
    de = delta_e2000(thumb, ref)
    mean, p995 = float(de.mean()), float(np.percentile(de, 99.5))
    assert mean <= MEAN_TOLERANCE and p995 <= P995_TOLERANCE, (
        f"{raw_name} [{look}]: CIEDE2000 mean {mean:.2f} (tol {MEAN_TOLERANCE}), "
        f"p99.5 {p995:.2f} (tol {P995_TOLERANCE}) against {path.name}"
    )


def test_delta_e_detects_a_cast() -> None:
    """The metric itself: identical images give 0, a 3 % warm cast on grey gives a clear ΔE."""
    rng = np.random.default_rng(1)
    a = rng.integers(20, 235, size=(32, 32, 3), dtype=np.uint8)
    assert float(delta_e2000(a, a).max()) == 0.0
    grey = np.full((8, 8, 3), 128, np.uint8)
    warm = grey.copy()
    warm[..., 0] = 136
    warm[..., 2] = 120
    assert float(delta_e2000(grey, warm).mean()) > 3.0
