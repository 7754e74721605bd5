"""Synthetic handheld raw bursts with known ground truth (for night-mode tests and benchmarks).

A real photograph (a scikit-image sample, sRGB) is "unprocessed" to linear camera RGB: inverse
sRGB transfer, sRGB -> XYZ (D65), XYZ -> camera through a ColorMatrix, and divided by nothing
further (a D65-white surface gives the camera neutral). Each frame then moves the scene as a hand
would (a random walk of sub-pixel translations and small rotations about the centre, cubic
resampling), pastes one independently moving textured disc, blurs by a lens PSF (Gaussian,
default sigma 0.7 px), mosaics it (RGGB), adds
signal-dependent Gaussian noise with variance ``a * x + b`` (x normalised) and quantises to 14-bit
DN with a black level. Frames are uint16 :class:`RawImage` objects carrying ColorMatrix1 (D65),
AsShotNeutral and a NoiseProfile ``(a, b)``; :func:`write_burst` stores them as DNG files.

Ground truth: ``clean`` is frame 0's noise-free normalised mosaic (the reference the merge keeps),
``object_mask`` marks the moving disc in frame 0 and ``object_path`` everywhere the disc goes.
OpenCV and scikit-image are imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import CFA, ColorCalibration, Metadata, NoiseProfile, RawImage
from rawlux.synth.images import mosaic as mosaic_rggb
from rawlux.synth.images import psnr, sample_image, srgb_to_linear  # noqa: F401 - psnr re-exported
from rawlux.io.dng import write_dng

#: normalised noise model (shot a, read b) per named ISO level, variance = a * x + b
NOISE_LEVELS: dict[str, tuple[float, float]] = {
    "mild": (2e-4, 2e-6),
    "medium": (1e-3, 2e-5),
    "high": (4e-3, 2e-4),
    "extreme": (1.2e-2, 1e-3),
}
ISO_OF_LEVEL = {"mild": 400, "medium": 1600, "high": 6400, "extreme": 25600}

#: XYZ (D65) -> camera matrix of a typical APS-C sensor (DNG ColorMatrix convention)
COLOR_MATRIX = np.array([[0.6941, -0.1164, -0.0857], [-0.3825, 1.1597, 0.2534], [-0.0416, 0.1540, 0.6039]])
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
BLACK = 512
WHITE = 16383
MAKE, MODEL = "rawlux", "synthetic burst"


@dataclass(frozen=True)
class SyntheticBurst:
    """Frames (uint16 RawImage, frame 0 = reference) and ground truth (float32 normalised)."""

    frames: list[RawImage]
    clean: np.ndarray  # (H, W) clean normalised mosaic of frame 0
    object_mask: np.ndarray  # (H, W) bool, moving object in frame 0
    object_path: np.ndarray  # (H, W) bool, anywhere the object is in any frame
    shifts: np.ndarray  # (N, 2) camera translation (dy, dx) in raw px applied to each frame's scene
    rotations: np.ndarray  # (N,) degrees
    noise: tuple[float, float]
    extra: dict = field(default_factory=dict)


def camera_neutral(color_matrix: np.ndarray = COLOR_MATRIX) -> np.ndarray:
    """Camera response to the D65 white (Y = 1), scaled so green is 1 (the AsShotNeutral)."""
    n = color_matrix @ (_SRGB_TO_XYZ @ np.ones(3))
    return n / n[1]


def unprocess(rgb: np.ndarray, color_matrix: np.ndarray = COLOR_MATRIX, level: float = 0.18) -> np.ndarray:
    """sRGB image (uint8 or float [0, 1]) -> float32 linear camera RGB, mean green ~ ``level``."""
    x = np.asarray(rgb)
    x = x / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)
    lin = srgb_to_linear(np.clip(x, 0, 1))
    cam = lin @ (color_matrix @ _SRGB_TO_XYZ).T
    cam = cam / camera_neutral(color_matrix)[1]
    cam = np.maximum(cam, 0.0)
    cam *= level / max(float(cam[..., 1].mean()), 1e-6)
    return cam.astype(np.float32)


def _warp(img: np.ndarray, dy: float, dx: float, rot: float) -> np.ndarray:
    """Scene moved by (dy, dx) px and rotated ``rot`` degrees about the centre (cubic)."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), rot, 1.0)
    m[0, 2] += dx
    m[1, 2] += dy
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def add_noise(clean: np.ndarray, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """clean + N(0, a*x + b), float32 normalised."""
    var = np.maximum(a * np.maximum(clean, 0) + b, 0).astype(np.float32)
    return (clean + np.sqrt(var) * rng.standard_normal(clean.shape, dtype=np.float32)).astype(np.float32)


def quantise(x: np.ndarray) -> np.ndarray:
    """Normalised float -> uint16 DN with black :data:`BLACK`, white :data:`WHITE`."""
    return np.clip(np.rint(x * (WHITE - BLACK) + BLACK), 0, WHITE).astype(np.uint16)


def normalised(dn: np.ndarray) -> np.ndarray:
    return ((dn.astype(np.float32) - BLACK) / (WHITE - BLACK)).astype(np.float32)


def frame_raw(dn: np.ndarray, noise: tuple[float, float], index: int = 0) -> RawImage:
    """A uint16 RGGB RawImage with the synthetic camera's calibration and noise profile."""
    a, b = noise
    iso = next((ISO_OF_LEVEL[k] for k, v in NOISE_LEVELS.items() if v == tuple(noise)), None)
    cal = ColorCalibration(color_matrix1=COLOR_MATRIX.copy(), illuminant1=21,
                           as_shot_neutral=camera_neutral(), source="dng")
    md = Metadata(make=MAKE, model=MODEL, iso=iso, exposure_time=1 / 15)
    return RawImage(data=np.ascontiguousarray(dn), cfa=CFA.RGGB, black=np.full((2, 2), float(BLACK)),
                    white=float(WHITE), calibration=cal, noise_profile=NoiseProfile(np.array([[a, b]])),
                    metadata=md, source=f"synthetic frame {index}")


def make_burst(
    image: np.ndarray | str = "astronaut",
    n_frames: int = 8,
    *,
    noise: str | tuple[float, float] = "high",
    size: tuple[int, int] | None = None,
    shift_step: float = 2.0,
    rotation_step: float = 0.15,
    moving_object: bool = True,
    object_speed: float = 6.0,
    level: float = 0.12,
    psf_sigma: float = 0.7,
    seed: int = 0,
) -> SyntheticBurst:
    """Simulate a handheld burst of ``n_frames`` raws of a photo (see module docstring).

    ``size`` (H, W) even raw size (the photo is resized); ``shift_step`` raw px and
    ``rotation_step`` degrees are the std of the hand's random walk per frame; the object moves
    ``object_speed`` raw px per frame in a fixed random direction. ``noise`` names a level of
    :data:`NOISE_LEVELS` or gives ``(a, b)``. ``level`` is the mean green of the scene (normalised;
    the clean mosaic is clipped at 1, the sensor's saturation). ``psf_sigma`` (raw px) is the lens blur applied to
    each frame before mosaicking (Gaussian; a phone lens at f/1.8 is about 0.5-0.8 px; 0 = none).
    """
    import cv2

    rng = np.random.default_rng(seed)
    if isinstance(noise, str):
        if noise not in NOISE_LEVELS:
            raise InvalidParameter(f"unknown noise level {noise!r}; valid: {', '.join(NOISE_LEVELS)}")
        noise = NOISE_LEVELS[noise]
    src = sample_image(image) if isinstance(image, str) else np.asarray(image)
    if size is not None:
        h, w = size
        src = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA if h < src.shape[0] else cv2.INTER_CUBIC)
    h, w = src.shape[0] // 2 * 2, src.shape[1] // 2 * 2
    scene = unprocess(src[:h, :w], level=level)

    shifts = np.zeros((n_frames, 2))
    rots = np.zeros(n_frames)
    for k in range(1, n_frames):
        shifts[k] = shifts[k - 1] + rng.normal(0, shift_step, 2)
        rots[k] = rots[k - 1] + rng.normal(0, rotation_step)

    r = max(6, int(0.09 * min(h, w)))
    tex_src = sample_image("coffee")
    grow = max(1.0, (2 * r + 2) / min(tex_src.shape[:2]))
    if grow > 1.0:
        tex_src = cv2.resize(tex_src, None, fx=grow, fy=grow, interpolation=cv2.INTER_CUBIC)
    tex_src = unprocess(tex_src, level=level * 1.5)
    ty, tx = rng.integers(0, tex_src.shape[0] - 2 * r), rng.integers(0, tex_src.shape[1] - 2 * r)
    tex = tex_src[ty : ty + 2 * r, tx : tx + 2 * r]
    yy, xx = np.mgrid[-r:r, -r:r]
    disc = (yy + 0.5) ** 2 + (xx + 0.5) ** 2 <= r * r
    ang = rng.uniform(0, 2 * np.pi)
    vel = object_speed * np.array([np.sin(ang), np.cos(ang)])
    start = np.array([h / 2.0, w / 2.0]) - vel * (n_frames - 1) / 2 + rng.uniform(-0.15, 0.15, 2) * [h, w]

    a, b = noise
    frames, clean0, mask0 = [], None, None
    path = np.zeros((h, w), bool)
    for k in range(n_frames):
        img = _warp(scene, shifts[k, 0], shifts[k, 1], rots[k]) if k else scene.copy()
        mask = np.zeros((h, w), bool)
        if moving_object:
            cy, cx = np.rint(start + vel * k).astype(int)
            y0, x0 = cy - r, cx - r
            ys, xs = slice(max(y0, 0), min(y0 + 2 * r, h)), slice(max(x0, 0), min(x0 + 2 * r, w))
            sub = (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))
            m = disc[sub]
            img[ys, xs][m] = tex[sub][m]
            mask[ys, xs] = m
            path |= mask
        if psf_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), psf_sigma, borderType=cv2.BORDER_REFLECT_101)
        clean = np.ascontiguousarray(np.minimum(mosaic_rggb(img), 1.0))  # sensor saturation
        if k == 0:
            clean0, mask0 = clean, mask
        dn = quantise(add_noise(clean, a, b, rng))
        frames.append(frame_raw(dn, noise, k))
    return SyntheticBurst(frames=frames, clean=clean0, object_mask=mask0, object_path=path,
                          shifts=shifts, rotations=rots, noise=(a, b))


def aligned_average(burst: SyntheticBurst, seed: int = 1) -> np.ndarray:
    """Upper bound for plain averaging: mean of ``len(frames)`` noisy copies of the clean
    reference (perfect alignment, no motion), normalised float32."""
    rng = np.random.default_rng(seed)
    a, b = burst.noise
    acc = np.zeros(burst.clean.shape, np.float64)
    for _ in burst.frames:
        acc += normalised(quantise(add_noise(burst.clean, a, b, rng)))
    return (acc / len(burst.frames)).astype(np.float32)


def plain_average(burst: SyntheticBurst) -> np.ndarray:
    """Mean of the normalised frames without alignment."""
    acc = np.zeros(burst.clean.shape, np.float64)
    for f in burst.frames:
        acc += normalised(f.data)
    return (acc / len(burst.frames)).astype(np.float32)


def interior(shape: tuple[int, int], margin: int = 16) -> np.ndarray:
    """Bool mask excluding a ``margin``-pixel border (where the hand's motion brings in new content)."""
    m = np.zeros(shape, bool)
    m[margin:-margin, margin:-margin] = True
    return m


def write_burst(burst: SyntheticBurst, directory: str | Path, stem: str = "frame") -> list[Path]:
    """Write every frame as ``<stem>_<k>.dng`` in ``directory``; returns the paths."""
    d = Path(directory)
    out = []
    for k, f in enumerate(burst.frames):
        p = d / f"{stem}_{k:02d}.dng"
        write_dng(f, p)
        out.append(p)
    return out
