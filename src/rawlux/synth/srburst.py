"""Synthetic handheld raw bursts with ground truth at a higher resolution (super-resolution tests).

Like :func:`rawlux.synth.burst.make_burst`, but the scene lives on a grid ``HR = 2`` times finer
than the sensor: each frame moves the high-resolution scene as a hand would (random walk of
sub-pixel translations and small rotations, cubic resampling), pastes one independently moving
textured disc, blurs by the lens PSF (Gaussian, ``psf_sigma`` sensor px), integrates it over the
sensor's pixels (area downsampling by 2: a pixel sees its whole footprint, so the frames alias as
a real sensor does), mosaics (RGGB), adds signal-dependent noise ``a * x + b`` and quantises to
14-bit DN. The grids share pixel centres in the OpenCV convention: sensor pixel ``i`` covers fine
pixels ``2i, 2i + 1``; a scale-``s`` image pixel ``Y`` sits at sensor coordinate ``(Y + 0.5)/s - 0.5``.

Ground truth (float32 linear camera RGB, normalised like the frames): ``truth[s]`` = frame 0's
optically blurred scene at scale ``s`` (1 = the clean sensor RGB, 2 = the fine grid, 1.5 = the
fine grid area-resampled), ``object[s]`` the moving disc's mask in frame 0 at that scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import RawImage
from rawlux.synth.burst import NOISE_LEVELS, _warp, add_noise, frame_raw, quantise, unprocess
from rawlux.synth.images import mosaic as mosaic_rggb
from rawlux.synth.images import sample_image

#: fine-grid factor of the simulated scene (sensor px -> scene px)
HR = 2


@dataclass(frozen=True)
class SRBurst:
    """Frames (uint16 RawImage, frame 0 = reference) and ground truth per output scale."""

    frames: list[RawImage]
    truth: dict[float, np.ndarray]  # scale -> (round(s H), round(s W), 3) float32 camera RGB
    object: dict[float, np.ndarray]  # scale -> bool mask of the moving disc in frame 0
    shifts: np.ndarray  # (N, 2) hand translation in sensor px
    rotations: np.ndarray  # (N,) degrees about the centre
    noise: tuple[float, float]


def _area(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def make_sr_burst(
    image: str | np.ndarray = "astronaut",
    n_frames: int = 8,
    *,
    noise: str | tuple[float, float] = "mild",
    size: tuple[int, int] = (192, 192),
    shift_step: float = 1.5,
    rotation_step: float = 0.1,
    moving_object: bool = True,
    object_speed: float = 5.0,
    level: float = 0.18,
    psf_sigma: float = 0.45,
    scales: tuple[float, ...] = (1.0, 1.5, 2.0),
    seed: int = 0,
) -> SRBurst:
    """Simulate a handheld burst of ``size`` (H, W even, sensor px) frames (module docstring).

    ``shift_step`` sensor px / ``rotation_step`` degrees: std of the hand's random walk per frame;
    the disc moves ``object_speed`` sensor px per frame. ``noise`` names a level of
    :data:`rawlux.synth.burst.NOISE_LEVELS` or gives ``(a, b)``.
    """
    import cv2

    rng = np.random.default_rng(seed)
    if isinstance(noise, str):
        if noise not in NOISE_LEVELS:
            raise InvalidParameter(f"unknown noise level {noise!r}; valid: {', '.join(NOISE_LEVELS)}")
        noise = NOISE_LEVELS[noise]
    h, w = size[0] // 2 * 2, size[1] // 2 * 2
    H, W = HR * h, HR * w
    src = sample_image(image) if isinstance(image, str) else np.asarray(image)
    src = cv2.resize(src, (W, H), interpolation=cv2.INTER_AREA if H < src.shape[0] else cv2.INTER_CUBIC)
    scene = unprocess(src, level=level)

    shifts = np.zeros((n_frames, 2))
    rots = np.zeros(n_frames)
    for k in range(1, n_frames):
        shifts[k] = shifts[k - 1] + rng.normal(0, shift_step, 2)
        rots[k] = rots[k - 1] + rng.normal(0, rotation_step)

    r = max(8, int(0.09 * min(H, W)))
    tex = unprocess(cv2.resize(sample_image("coffee"), (4 * r, 4 * r), interpolation=cv2.INTER_AREA),
                    level=level * 1.3)[r : 3 * r, r : 3 * r]
    yy, xx = np.mgrid[-r:r, -r:r]
    disc = (yy + 0.5) ** 2 + (xx + 0.5) ** 2 <= r * r
    ang = rng.uniform(0, 2 * np.pi)
    vel = HR * object_speed * np.array([np.sin(ang), np.cos(ang)])
    start = np.array([H / 2.0, W / 2.0]) - vel * (n_frames - 1) / 2 + rng.uniform(-0.1, 0.1, 2) * [H, W]

    a, b = noise
    frames: list[RawImage] = []
    truth: dict[float, np.ndarray] = {}
    obj: dict[float, np.ndarray] = {}
    for k in range(n_frames):
        img = _warp(scene, HR * shifts[k, 0], HR * shifts[k, 1], rots[k]) if k else scene.copy()
        mask = np.zeros((H, W), np.float32)
        if moving_object:
            cy, cx = np.rint(start + vel * k).astype(int)
            y0, x0 = cy - r, cx - r
            ys, xs = slice(max(y0, 0), min(y0 + 2 * r, H)), slice(max(x0, 0), min(x0 + 2 * r, W))
            sub = (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))
            m = disc[sub]
            img[ys, xs][m] = tex[sub][m]
            mask[ys, xs] = m
        if psf_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), HR * psf_sigma, borderType=cv2.BORDER_REFLECT_101)
        img = np.minimum(img, 1.0)  # sensor saturation
        low = _area(img, (h, w))
        if k == 0:
            for s in scales:
                shape = (int(round(s * h)), int(round(s * w)))
                truth[s] = np.ascontiguousarray(img if shape == (H, W) else _area(img, shape), np.float32)
                obj[s] = (mask if shape == (H, W) else _area(mask, shape)) > 0.5
        dn = quantise(add_noise(np.ascontiguousarray(mosaic_rggb(low)), a, b, rng))
        frames.append(frame_raw(dn, noise, k))
    return SRBurst(frames=frames, truth=truth, object=obj, shifts=shifts, rotations=rots, noise=(a, b))
