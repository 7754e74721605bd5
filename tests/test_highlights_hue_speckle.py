"""Highlights (issue 11): reconstruction never invents a hue its unclipped neighbourhood lacks,
leaves no isolated speckles (no more than ``clip``), and beats ``clip`` where the scene is
recoverable. Synthetic scenes with ground truth and the real 6D DNG (blue LED glow)."""

from __future__ import annotations

import numpy as np
import pytest

from rawlux.core.image import CFA, RawImage
from rawlux.isp.demosaic import bilinear
from rawlux.isp.highlights import HighlightParams, highlights

GAINS = np.array([2.0, 1.0, 1.5], np.float32)  # daylight-like WB: green clips first
H, W = 128, 160
CLIP = HighlightParams(method="clip")


# ----------------------------------------------------------------------------------- helpers


def opponent_hue(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue angle (degrees) in the opponent plane of white-balanced linear RGB, and chroma
    relative to the brightest channel (0 = grey, ~1 = a primary)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    o1 = (r - g) / np.sqrt(2.0)
    o2 = (r + g - 2.0 * b) / np.sqrt(6.0)
    return np.degrees(np.arctan2(o2, o1)), np.hypot(o1, o2) / np.maximum(rgb.max(axis=-1), 1e-6)


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)


def hue_outside_fraction(rgb: np.ndarray, clipped: np.ndarray, min_chroma: float = 0.1,
                         tol: float = 0.04) -> float:
    """Fraction of the coloured (chroma > ``min_chroma``) clipped pixels whose colour is more
    than ``tol`` (chroma units) away from every hue of the unclipped ring around the clips
    (its 1-99 % hue range): the chroma that no desaturation of the neighbourhood explains.
    Near-white pixels may have any hue angle; a coloured one must match."""
    hue, chroma = opponent_hue(rgb)
    ring = dilate(clipped, 7) & ~dilate(clipped, 1) & (chroma > min_chroma)
    sel = clipped & (chroma > min_chroma)
    assert ring.sum() > 50 and sel.sum() > 50
    centre = np.degrees(np.angle(np.exp(1j * np.radians(hue[ring])).mean()))
    rel = (hue - centre + 180.0) % 360.0 - 180.0
    lo, hi = np.percentile(rel[ring], [1, 99])
    excess = np.maximum(np.maximum(lo - rel, rel - hi), 0.0)[sel]
    off = chroma[sel] * np.sin(np.radians(np.minimum(excess, 90.0)))
    return float((off > tol).mean())


def speckles(rgb: np.ndarray, k: float = 0.2) -> np.ndarray:
    """Pixels that differ in some channel from all 8 neighbours by more than ``k`` times the
    brightest value of their 3x3 neighbourhood: isolated dots."""
    import cv2

    img = np.ascontiguousarray(rgb, np.float32)
    h, w, _ = img.shape
    lmax = cv2.dilate(img.max(axis=2), np.ones((3, 3), np.uint8))
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
    dmin = np.full(img.shape, np.inf, np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                dmin = np.minimum(dmin, np.abs(img - p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]))
    return dmin.max(axis=2) > k * lmax


def mosaic(scene: np.ndarray, cfa: CFA = CFA.RGGB, gains: np.ndarray = GAINS,
           noise: float = 0.0, seed: int = 0) -> RawImage:
    """White-balanced scene -> sensor (white = 1/gains) with optional noise, clipped at 1 ->
    white-balanced float mosaic."""
    sensor = scene / gains
    if noise:
        sensor = sensor + np.random.default_rng(seed).normal(0, noise, sensor.shape)
    sensor = np.clip(sensor, 0.0, 1.0)
    h, w, _ = scene.shape
    tile = np.tile(cfa.pattern(), (h // 2 + 1, w // 2 + 1))[:h, :w].astype(np.int64)
    m = np.take_along_axis(sensor, tile[..., None], 2)[..., 0] * gains[tile]
    return RawImage(np.ascontiguousarray(m, np.float32), cfa, np.zeros((2, 2), np.float32), 1.0,
                    wb_gains=gains)


def linear(scene: np.ndarray, gains: np.ndarray = GAINS) -> RawImage:
    data = np.minimum(scene / gains, 1.0) * gains
    return RawImage(np.ascontiguousarray(data, np.float32), CFA.LINEAR, np.zeros(3, np.float32),
                    1.0, wb_gains=gains)


def light(color, peak: float, core: float = 0.0, sigma: float = 20.0,
          base: float = 0.05) -> np.ndarray:
    """A coloured light with a smooth falloff; ``core`` adds a whiter, tighter centre (a real
    source: saturated glow, blown white-ish core)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r2 = (yy - H / 2) ** 2 + (xx - W / 2) ** 2
    glow = (base + peak * np.exp(-r2 / (2 * sigma**2)))[..., None] * np.asarray(color, np.float32)
    white = (core * np.exp(-r2 / (2 * (sigma / 2.5) ** 2)))[..., None] * np.ones(3, np.float32)
    return (glow + white).astype(np.float32)


def develop_rgb(raw: RawImage) -> np.ndarray:
    return raw.data if raw.cfa is CFA.LINEAR else bilinear(raw.data, raw.cfa.pattern())


def clipped_pixels(raw: RawImage) -> np.ndarray:
    """(H, W) pixels with a clipped channel (any site of the pixel's 3x3 for mosaics)."""
    thr = np.asarray(raw.wb_gains, np.float32) * HighlightParams().clip_threshold
    if raw.cfa is CFA.LINEAR:
        return (raw.data >= thr).any(axis=2)
    h, w = raw.height, raw.width
    tile = np.tile(raw.cfa.pattern(), (h // 2 + 1, w // 2 + 1))[:h, :w]
    return dilate(raw.data >= thr[tile], 1)


# ----------------------------------------------------------------------------- (a) hue range

SCENES = {
    # name: (colour, peak, white core): clipped in one channel, in two, and with a whiter core
    "blue_1ch": ((0.12, 0.3, 1.0), 2.2, 0.0),
    "blue_2ch_core": ((0.12, 0.3, 1.0), 3.0, 1.8),
    "orange_1ch": ((1.0, 0.4, 0.12), 2.2, 0.0),
    "orange_2ch_core": ((1.0, 0.4, 0.12), 3.5, 1.5),
    "violet_core": ((0.45, 0.15, 1.0), 2.5, 1.2),
}


@pytest.mark.parametrize("kind", ["bayer", "linear"])
@pytest.mark.parametrize("name", list(SCENES))
def test_reconstructed_hue_stays_in_the_neighbourhood_range(name: str, kind: str) -> None:
    color, peak, core = SCENES[name]
    scene = light(color, peak, core)
    raw = mosaic(scene) if kind == "bayer" else linear(scene)
    clipped = clipped_pixels(raw) & ((scene / GAINS).max(axis=2) >= 1.0)
    out = develop_rgb(highlights(raw))
    # a mosaic's estimate is per 2x2 block, resampled per site, then demosaiced: a few pixels
    # where the number of clipped channels changes come out slightly off (~0.1 chroma at most)
    assert hue_outside_fraction(out, clipped) <= (0.01 if kind == "linear" else 0.05)
    assert hue_outside_fraction(out, clipped, tol=0.1) <= (0.0 if kind == "linear" else 0.005)
    # clip (the alternative) shifts these hues: the check can fail
    assert hue_outside_fraction(develop_rgb(highlights(raw, CLIP)), clipped) > 0.3
    # and the blown core is no more coloured than the ring (a gradation into white)
    _, chroma = opponent_hue(out)
    ring = dilate(clipped, 7) & ~dilate(clipped, 1)
    assert np.median(chroma[clipped]) <= np.median(chroma[ring]) + 0.05


def test_hue_check_can_fail() -> None:
    """The hue check above catches a reconstruction that extrapolates the wrong colour."""
    scene = light((0.12, 0.3, 1.0), 3.0, 1.8)
    raw = linear(scene)
    clipped = clipped_pixels(raw)
    bad = raw.data.copy()
    bad[..., 0] = np.where(clipped, bad[..., 0] * 3.0, bad[..., 0])  # invented red: magenta
    assert hue_outside_fraction(bad, clipped) > 0.2


@pytest.mark.parametrize("noise", [0.0, 0.01])
@pytest.mark.parametrize("kind", ["bayer", "linear"])
@pytest.mark.parametrize("color", [(1.0, 0.03, 0.03), (0.03, 0.05, 1.0), (0.1, 1.0, 0.1)])
def test_saturated_led_with_white_core_no_hot_spots(color, kind: str, noise: float) -> None:
    """A deep LED colour around a white-ish core: the glow's ratio extrapolated into the core
    gave 6-15x the true peak (hot patches) and single-pixel spikes; the estimate must stay
    near the truth's brightness, keep the hue and add no dots."""
    scene = light(color, 3.0, 1.0)
    raw = mosaic(scene, noise=noise) if kind == "bayer" else linear(scene)
    clipped = clipped_pixels(raw) & ((scene / GAINS).max(axis=2) >= 1.0)
    out = develop_rgb(highlights(raw))
    assert out.max() <= 2.5 * scene.max()
    assert hue_outside_fraction(out, clipped) <= 0.01
    around = dilate(clipped, 3)
    assert speckles(out)[around].sum() <= speckles(develop_rgb(highlights(raw, CLIP)))[around].sum()


# ---------------------------------------------------------------------------- (b) speckles


@pytest.mark.parametrize("cfa", [CFA.RGGB, CFA.GRBG, CFA.BGGR])
def test_no_more_speckles_than_clip_on_noisy_mosaics(cfa: CFA) -> None:
    """Noise scatters clipped sites around the clip boundary of a blue light with a white
    core (the ratio-extrapolating reconstruction left 2-4 dots on each of these)."""
    scene = light((0.2, 0.35, 1.0), 2.5, 1.5)
    raw = mosaic(scene, cfa, noise=0.05, seed=0)
    around = dilate(clipped_pixels(raw), 3)
    ours = speckles(develop_rgb(highlights(raw)))[around].sum()
    clip = speckles(develop_rgb(highlights(raw, CLIP)))[around].sum()
    assert ours <= clip


def test_smeared_clip_plateau_of_a_linear_raw_leaves_no_speckles() -> None:
    """A converter's demosaic leaves a blown channel as a plateau of values scattered just
    under the clip (0.92-1.0): every one of them must be reconstructed with its neighbours,
    not left behind as a dot at the clip level."""
    rng = np.random.default_rng(3)
    scene = light((0.12, 0.3, 1.0), 2.6, 0.0)
    raw = linear(scene)
    data = raw.data.copy()
    plateau = data[..., 2] >= GAINS[2] * 0.999
    jitter = rng.choice(np.float32([0.92, 0.94, 0.96] + [1.0] * 12), plateau.shape)
    data[..., 2] = np.where(plateau, GAINS[2] * jitter, data[..., 2])
    raw = raw.with_data(data)
    around = dilate(plateau, 3)
    out = highlights(raw).data
    assert speckles(out)[around].sum() <= speckles(highlights(raw, CLIP).data)[around].sum()
    assert speckles(out)[plateau].sum() == 0


# ---------------------------------------------------------------------- (c) recoverable scene


@pytest.mark.parametrize("kind", ["bayer", "linear"])
@pytest.mark.parametrize("color", [(1.0, 0.3, 0.15), (0.15, 0.4, 1.0), (0.5, 1.0, 0.3)])
def test_one_clipped_channel_is_recovered_better_than_clip(color, kind: str) -> None:
    scene = light(color, 2.4)
    sensor = scene / GAINS
    one = ((sensor >= 1.0).sum(axis=2) == 1) & (sensor.max(axis=2) < 2.5)
    raw = mosaic(scene) if kind == "bayer" else linear(scene)
    one &= ~dilate(~one, 2)  # away from the region's edge (bilinear demosaic mixes neighbours)
    assert one.sum() > 200

    def err(img: np.ndarray) -> float:
        return float(np.sqrt(((img - scene) ** 2).sum(axis=2))[one].mean())

    ours, clip = err(develop_rgb(highlights(raw))), err(develop_rgb(highlights(raw, CLIP)))
    assert ours < 0.5 * clip


@pytest.mark.parametrize("gain", [3.0, 4.0])
def test_overexposed_real_chart_recovered_better_than_clip(raw_dir, gain: float) -> None:
    """The 550D chart raw (real texture, noise and colours; nothing clipped) pushed ``gain``x
    and clipped at the sensor's white: the unpushed data x ``gain`` are the truth. Lamp bokeh
    and the white patches blow in 1-3 channels."""
    from rawlux.io.raw import open_raw
    from rawlux.isp.black_level import black_level
    from rawlux.isp.white_balance import white_balance

    base = black_level(open_raw(raw_dir / "canon_550d_magiclantern_colorchart.dng"))
    wb = white_balance(base)
    gains = np.asarray(wb.wb_gains, np.float32)
    h, w = base.data.shape
    tile = np.tile(np.asarray(wb.cfa_pattern), (h // 2 + 1, w // 2 + 1))[:h, :w]
    over = np.maximum(base.data, 0.0) * np.float32(gain)
    truth = develop_rgb(wb.with_data(np.ascontiguousarray(over * gains[tile], np.float32)))
    raw = wb.with_data(np.ascontiguousarray(np.minimum(over, 1.0) * gains[tile], np.float32))
    clipped = clipped_pixels(raw)
    assert clipped.sum() > 5000

    def err(img: np.ndarray) -> float:
        return float(np.sqrt(((img - truth) ** 2).sum(axis=2))[clipped].mean())

    ours, clip = develop_rgb(highlights(raw)), develop_rgb(highlights(raw, CLIP))
    assert err(ours) < 0.3 * err(clip)  # measured 0.21 (3x) and 0.22 (4x)
    # 0.4 % at 4x: the lamp's screen texture flips 2x2 blocks between one and two clipped
    # channels at the edge of its all-clipped core (lavender-grey dots, <= 0.1 chroma)
    assert hue_outside_fraction(ours, clipped) <= 0.01
    assert hue_outside_fraction(ours, clipped, tol=0.1) <= 0.005
    around = dilate(clipped, 3)
    assert speckles(ours)[around].sum() <= speckles(clip)[around].sum()


# ------------------------------------------------------------------------- real: 6D blue LED


@pytest.fixture(scope="module")
def eos6d(raw_dir):
    from rawlux.io.raw import open_raw
    from rawlux.isp.black_level import black_level
    from rawlux.isp.white_balance import white_balance

    raw = white_balance(black_level(open_raw(raw_dir / "canon_eos_6d.dng")))
    clipped = (raw.data >= raw.wb_gains * HighlightParams().clip_threshold).any(axis=2)
    assert clipped.sum() > 3000  # the LED glow behind the monitor is blown in blue
    return raw, clipped


def test_6d_led_reconstruction_keeps_the_glow_hue(eos6d) -> None:
    raw, clipped = eos6d
    ours = highlights(raw).data
    assert hue_outside_fraction(ours, clipped, min_chroma=0.15) <= 0.01
    # clip turns the violet-blue glow cyan: the check can fail on this file
    assert hue_outside_fraction(highlights(raw, CLIP).data, clipped, min_chroma=0.15) > 0.1
    # no value is extrapolated far above the clip level (hot patches)
    assert float(ours.max()) < 4.0 * float(raw.wb_gains.max())


def test_6d_led_has_fewer_speckles_than_clip(eos6d) -> None:
    """Counted on a plain rendering (camera -> Rec.2020, per-channel Reinhard, gamma): the
    old single-threshold reconstruction left ~90 dots around the LED here, clip ~55."""
    from rawlux.isp.color_transform import color_transform
    from rawlux.isp.demosaic import demosaic

    raw, clipped = eos6d
    around = dilate(clipped, 3)

    def dots(method: str) -> int:
        img = color_transform(demosaic(highlights(raw, HighlightParams(method=method)))).data
        return int(speckles((img / (1.0 + img)) ** (1 / 2.2))[around].sum())

    assert dots("reconstruct") <= dots("clip")
