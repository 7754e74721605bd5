"""Where the in-focus subject meets the blur: no isolated sharp pixels, no matte spikes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.io.photo import open_photo
from rawlux.portrait.bokeh import BokehParams, render_bokeh
from rawlux.portrait.lens import load_lens
from rawlux.portrait.mask import isolated_sharp
from rawlux.portrait.render import portrait

CHANDELIER = "portraits/pd_whitehouse_obama_blue_room_chandelier_2010.jpg"


def _scene(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Textured disc (subject) with an 'ear' lobe over a textured background, composited by a
    soft matte 8 px wide; returns (rgb, true alpha, a network-like matte: the lobe, fully
    subject, (redder) is only partly believed, 0.3-1 varying per pixel, as on a real ear)."""
    rng = np.random.default_rng(seed)
    h, w = 320, 360
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    head = (100.0 - np.hypot(xx - 180, yy - 170)) / 8.0 + 0.5
    ear = (34.0 - np.hypot(xx - 85, yy - 175)) / 4.0 + 0.5
    alpha = np.clip(np.maximum(head, ear), 0.0, 1.0)

    def texture(c: list[float]) -> np.ndarray:
        n = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.0)
        return np.clip(np.float32(c) * (0.7 + 0.6 * n[..., None]), 0, 1)

    skin = np.where((ear > head)[..., None], texture([0.9, 0.3, 0.3]), texture([0.8, 0.5, 0.35]))
    rgb = alpha[..., None] * skin + (1 - alpha[..., None]) * texture([0.55, 0.6, 0.7])
    noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.7)
    noise /= noise.std()
    lobe = (ear > 0.5) & (head < 0.5)
    doubt = np.clip(0.6 + 0.25 * noise, 0.3, 1.0)
    matte = np.where(lobe, np.minimum(alpha, doubt), alpha).astype(np.float32)
    return rgb.astype(np.float32), alpha.astype(np.float32), matte


def _image(rgb: np.ndarray) -> Image:
    return Image(np.ascontiguousarray(rgb, np.float32), ColorSpace.SRGB, Encoding.SRGB,
                 Referred.DISPLAY)


def test_soft_matte_edge_has_no_isolated_sharp_pixels():
    """Layered depth puts a soft matte m at disparity m + (1 - m) * background: per-pixel CoC
    switching (no matte given to the renderer) bites the lobe; compositing by the matte does
    not, keeps the subject exact and still blurs the background."""
    rgb, alpha, matte = _scene()
    disp = (matte + (1.0 - matte) * 0.25).astype(np.float32)
    p = BokehParams(aperture=1.4, framing=0.3)
    out = render_bokeh(_image(rgb), disp, 1.0, load_lens("50"), p, matte=matte).data
    switched = render_bokeh(_image(rgb), disp, 1.0, load_lens("50"), p).data
    assert isolated_sharp(rgb, switched, alpha) > 8.0  # the old composite: a bitten lobe
    assert isolated_sharp(rgb, out, alpha) < 1.0
    core = matte >= 1.0
    assert np.abs(out[core] - rgb[core]).max() < 1e-5  # sRGB round trip only
    far = cv2.erode((alpha == 0.0).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    lap = lambda x: np.abs(cv2.Laplacian(x.mean(-1), cv2.CV_32F))[far].mean()  # noqa: E731
    assert lap(out) < 0.3 * lap(rgb)
    # a subject not on the focal plane is not held sharp by its matte
    away = render_bokeh(_image(rgb), disp, 0.25, load_lens("50"), p, matte=matte).data
    assert np.abs(away[core] - rgb[core]).mean() > 0.01


def test_isolated_sharp_counts_a_bitten_edge():
    """The measure itself: sharp specks left in a blurred ring count, a clean edge does not."""
    rgb, alpha, _ = _scene()
    blurred = cv2.GaussianBlur(rgb, (0, 0), 6.0)
    clean = alpha[..., None] * rgb + (1 - alpha[..., None]) * blurred
    specks = clean.copy()
    ring = (alpha < 0.1) & (cv2.dilate((alpha > 0).astype(np.uint8), np.ones((15, 15))) > 0)
    ys, xs = np.nonzero(ring)
    pick = np.random.default_rng(0).choice(len(ys), len(ys) // 12, replace=False)
    specks[ys[pick], xs[pick]] = rgb[ys[pick], xs[pick]]
    assert isolated_sharp(rgb, clean, alpha) < 2.0
    assert isolated_sharp(rgb, specks, alpha) > 10.0


def test_chandelier_ear_and_cheek_edges_are_clean(shared_data):
    path = shared_data / CHANDELIER
    if not path.exists():
        pytest.skip("chandelier portrait not present")
    img = open_photo(path)
    res = portrait(img, lens="50", aperture=1.4)
    rgb = np.clip(img.data, 0, 1)
    assert isolated_sharp(rgb, res.image.data, res.mask) < 4.0  # per-pixel CoC switch: 10.1
    # the matte has no spikes in the chandelier beside the head: matte above 0.5 where the
    # network saw (almost) nothing
    m = res.mask
    inside = (m >= 0.5).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
    big = int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) + 1
    stray = (lab != big) & (lab > 0)
    assert stray.sum() < 2e-4 * m.size
