"""Handheld multi-frame super-resolution (Wronski et al. 2019; IPOL 2023, Lafenetre et al.).

The hand's natural shake moves every frame of a burst by a different sub-pixel amount, so the
frames together sample the scene on a denser grid than one Bayer mosaic. Instead of demosaicking
one frame, every output pixel is estimated by kernel regression straight from the raw samples of
all frames:

1. Alignment: the night mode's coarse-to-fine tile alignment (:func:`rawlux.burst.align.align`:
   pyramid block matching, quadratic + Lucas-Kanade sub-pixel refinement on the 2x2-binned grey
   image, robust global similarity snap) gives each frame a per-tile motion field, then refined
   at the raw-sample level (:func:`refine_raw`: Lucas-Kanade on the full-resolution greens of the
   frame and the reference), interpolated bilinearly to every sample.
2. Kernels (:func:`kernel_covariance`): on the reference's grey image, the local structure tensor
   of the noise-normalised gradients (eigenvalues l1 >= l2) gives an anisotropic Gaussian per Bayer
   block: across an edge narrower than ``detail`` by up to ``shrink``, along it wider by up to
   ``stretch`` (anisotropy ``sqrt((l1 - l2) / (l1 + l2))``), and in flat areas (gradient below
   ``flat`` noise sigmas) wider by ``denoise`` for noise reduction.
3. Robustness (:func:`robustness`): each frame is resampled onto the reference grid
   (:func:`rawlux.burst.resample.warp_bayer`) and compared per Bayer block: the 3x3 local mean
   colour difference ``d`` against the expected spread ``sigma^2`` (noise of the two means from the
   NoiseProfile, plus ``texture`` x the reference's local variance, where aliasing legitimately
   differs) gives the ratio ``d^2 / sigma^2`` (about 1 where only noise differs), averaged over the
   channels and a 3x3 box, and ``R = clip(s exp(-max(ratio - margin, 0)) - t, 0, 1)``, then a 5x5
   local minimum: moving objects and misaligned tiles get no weight, so they do not ghost. Where
   the other frames' weights sum to less than ``single_frames``, only the reference saw the
   scene; there the result blends towards the reference demosaicked (RCD) and bicubic-upscaled.
4. Accumulation (:func:`rawlux.burst.superres_kernels.merge_rows`, numba, bands of output rows
   on all cores): for each output pixel and frame, the 3x3 raw samples nearest to where the pixel
   lands in that frame add ``R * k * value`` to their channel (green, and the colour differences
   R-G / B-G at red/blue sites), sums kept in registers; green is the local linear fit, the
   others the ratio of sums. Frames are opened, aligned and freed one at a time; what is kept per
   frame is its samples (4 B per raw pixel), field and robustness (1 B per raw pixel): the output
   is written once, band by band (12 B per output pixel), no accumulator images.

Where the burst has too little motion to sample new positions (fewer than ``min_motion`` of the
tiles of the alternate frames land off the reference's colour lattice by a quarter pixel or more:
a tripod, or a single frame), the super-resolution cannot gain resolution and
:func:`super_resolve` falls back to the night merge (:func:`rawlux.burst.merge.merge_burst`),
demosaicked (RCD) and, for ``scale > 1``, bicubically upscaled, with a warning saying so.

Output: a float32 normalised :class:`RawImage` with ``CFA.LINEAR`` (camera RGB, not white
balanced) of ``round(scale * H) x round(scale * W)``, the reference's calibration and metadata:
it develops through the normal stages from demosaic onwards, or is written as a LinearRaw DNG.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from rawlux.burst.align import (
    AlignParams,
    _subpixel,
    align,
    gradients,
    grey_image,
    pyramid,
    resample_field,
    tile_grid,
)
from rawlux.burst.merge import (
    Progress,
    _check_frame,
    _check_reference,
    _grey,
    _name,
    _normalise,
    merge_burst,
)
from rawlux.burst.noise import bayer_planes, noise_model, plane_channels, plane_pairs
from rawlux.burst.resample import green_cd, warp_bayer, wb_gains
from rawlux.burst.superres_kernels import merge_rows, tile_costs
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import CFA, Crop, NoiseProfile, RawImage
from rawlux.core.jit import run_bands
from rawlux.core.params import StageParams, param



SCALES = (1.0, 1.5, 2.0)
#: :func:`verify_global`: a tile off the global fit takes the fit only where the fit's mean squared
#: difference there is below ``LOCK`` x the median of the tiles on the fit (noise and aliasing) or
#: below ``REL`` x the tile's variance (the fit explains its texture: not a moving object), and
#: where the tile's own displacement does worse than ``BAD`` x that median (its own match is poor)
LOCK = 30.0
REL = 0.3
BAD = 1.3
MIN_INLIERS = 0.15


@dataclass(frozen=True)
class SuperResParams(StageParams):
    """Super-resolution parameters. Kernel sizes are in raw (sensor) pixels."""

    scale: float = param(2.0, lo=1.0, hi=2.0, unit="x", doc="output size / sensor size: 1, 1.5 or 2")
    detail: float = param(0.2, lo=0.1, hi=3.0, unit="raw px", doc="kernel sigma in detailed areas")
    denoise: float = param(4.0, lo=1.0, hi=6.0, doc="kernel widening in flat areas (x detail)")
    stretch: float = param(2.5, lo=1.0, hi=8.0, doc="kernel widening along edges (x detail)")
    shrink: float = param(1.0, lo=1.0, hi=4.0, doc="kernel narrowing across edges (x detail)")
    flat: float = param(1.5, lo=0.0, hi=20.0, unit="noise sigma", doc="gradient below which an area is flat")
    robust_s: float = param(2.0, lo=0.5, hi=20.0, doc="robustness gain s in clip(s exp(-excess) - t)")
    robust_margin: float = param(1.0, lo=0.0, hi=10.0, doc="noise-normalised difference (1 = noise "
                                 "alone on average) tolerated before a frame loses weight")
    robust_t: float = param(0.12, lo=0.0, hi=1.0, doc="robustness threshold t")
    texture: float = param(0.05, lo=0.0, hi=10.0, doc="local variance of the reference added to the "
                           "expected frame difference (aliasing tolerance)")
    min_motion: float = param(0.2, lo=0.0, hi=1.0, doc="share of tiles with new sub-pixel sample "
                              "positions below which the night merge is used instead")
    tile: int = param(8, lo=8, hi=32, unit="px", doc="alignment tile size (Bayer-plane px; 8 "
                      "follows moving objects more closely than the merge's 16)")
    align_levels: int = param(4, lo=1, hi=6, doc="alignment pyramid levels")
    align_radius: int = param(4, lo=1, hi=16, unit="px", doc="search radius per coarse pyramid level")
    lk_iterations: int = param(1, lo=0, hi=10, doc="Lucas-Kanade sub-pixel refinement steps (binned grey)")
    colour_difference: bool = param(True, doc="regress green and the colour differences R-G, B-G "
                                    "(each frame's green at its red/blue sites) instead of R, G, B")
    chroma: float = param(0.3, lo=0.05, hi=1.0, doc="exponent factor of the colour-difference "
                          "kernels (< 1: wider than green's; they are smooth)")
    linear_fit: float = param(0.005, lo=0.0, hi=10.0, unit="raw px^2", doc="green by a local linear "
                              "fit, slopes damped by this ridge (0 = plain weighted mean)")
    single_frames: float = param(4.0, lo=0.0, hi=8.0, doc="where the other frames' robustness sums "
                                 "to less than this (moving objects), blend towards the reference "
                                 "demosaicked (RCD) and bicubic-upscaled (0 = off)")
    detail_noise: float = param(0.065, lo=0.0, hi=0.5, doc="kernel growth with the noise: detail x "
                                "(a / 1e-3) ^ this, a the noise profile's signal-dependent variance "
                                "per unit signal (narrower at low noise, scaled by scale - 1; 0 = fixed)")
    raw_refine: int = param(2, lo=0, hi=10, doc="Lucas-Kanade steps at the raw-sample level (0 = off)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if float(self.scale) not in SCALES:
            raise InvalidParameter(f"SuperResParams.scale must be 1, 1.5 or 2, got {self.scale}")

    def align_params(self) -> AlignParams:
        return AlignParams(tile=self.tile, levels=self.align_levels, radius=self.align_radius,
                           lk_iterations=self.lk_iterations)


# ---------------------------------------------------------------------------------- kernels


def kernel_covariance(grey: np.ndarray, noise_var: np.ndarray, p: SuperResParams) -> np.ndarray:
    """(h, w, 3) float32 coefficients ``(a, b, c)`` of the kernel exponent
    ``a dx^2 + 2 b dx dy + c dy^2`` (raw px, already halved) per pixel of the reference's grey
    image ``grey`` (Bayer-plane grid); ``noise_var`` (same shape) its noise variance."""
    import cv2

    gy, gx = gradients(grey)
    inv = 1.0 / np.sqrt(np.maximum(noise_var, 1e-12)).astype(np.float32)
    gx = gx * inv
    gy = gy * inv
    sm = lambda a: cv2.GaussianBlur(a, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT_101)  # noqa: E731
    ixx, ixy, iyy = sm(gx * gx), sm(gx * gy), sm(gy * gy)
    tr = ixx + iyy
    root = np.sqrt((ixx - iyy) ** 2 + 4 * ixy * ixy)
    l1 = 0.5 * (tr + root)
    l2 = np.maximum(0.5 * (tr - root), 0.0)
    aniso = np.sqrt(np.clip((l1 - l2) / np.maximum(l1 + l2, 1e-12), 0.0, 1.0))
    # gradient direction e1 = (ex, ey); along the edge e2 = (-ey, ex)
    ex = ixy
    ey = l1 - ixx
    norm = np.sqrt(ex * ex + ey * ey)
    horiz = ixx >= iyy
    ex = np.where(norm > 1e-12, ex / np.maximum(norm, 1e-12), np.where(horiz, 1.0, 0.0))
    ey = np.where(norm > 1e-12, ey / np.maximum(norm, 1e-12), np.where(horiz, 0.0, 1.0))
    # flat-area weight: 1 below ``flat`` noise sigmas of gradient per grey px, 0 above twice that
    g = np.sqrt(l1)
    dflat = np.clip(2.0 - g / max(p.flat, 1e-6), 0.0, 1.0) if p.flat > 0 else np.zeros_like(g)
    k_across = 1.0 + aniso * (1.0 / p.shrink - 1.0)
    k_along = 1.0 + aniso * (p.stretch - 1.0)
    s1 = p.detail * ((1 - dflat) * k_across + dflat * p.denoise)
    s2 = p.detail * ((1 - dflat) * k_along + dflat * p.denoise)
    i1 = 0.5 / (s1 * s1)
    i2 = 0.5 / (s2 * s2)
    out = np.empty(grey.shape + (3,), np.float32)
    out[..., 0] = i1 * ex * ex + i2 * ey * ey
    out[..., 1] = (i1 - i2) * ex * ey
    out[..., 2] = i1 * ey * ey + i2 * ex * ex
    return out


def _rgb_blocks(planes: np.ndarray, channels: list[int]) -> np.ndarray:
    """(3, h, w) R, G (mean of the two greens), B of four Bayer planes."""
    out = np.zeros((3,) + planes.shape[1:], np.float32)
    cnt = [0, 0, 0]
    for k, c in enumerate(channels):
        out[c] += planes[k]
        cnt[c] += 1
    for c in range(3):
        out[c] /= max(cnt[c], 1)
    return out


def robustness(ref_rgb: np.ndarray, alt_rgb: np.ndarray, ref_var: np.ndarray, pairs: np.ndarray,
               p: SuperResParams) -> np.ndarray:
    """(h, w) float32 robustness in [0, 1] of an aligned frame per Bayer block.

    ``ref_rgb``/``alt_rgb`` (3, h, w) block colours of the reference and the frame resampled onto
    it; ``ref_var`` (3, h, w) local 3x3 variance of the reference; ``pairs`` (3, 2) noise model
    (scale, offset) of one block colour sample."""
    import cv2

    ratio = np.zeros(ref_rgb.shape[1:], np.float32)
    for c in range(3):
        mr = cv2.blur(ref_rgb[c], (3, 3), borderType=cv2.BORDER_REFLECT_101)
        ma = cv2.blur(alt_rgb[c], (3, 3), borderType=cv2.BORDER_REFLECT_101)
        nvar = np.maximum(pairs[c, 0] * np.maximum(mr, 0.0) + pairs[c, 1], 1e-12) * (2.0 / 9.0)
        ratio += (mr - ma) ** 2 / (nvar + p.texture * ref_var[c])
    # mean over the channels and a 3x3 box: ~1 where only noise differs (chi-square / dof)
    ratio = cv2.blur(ratio * np.float32(1.0 / 3.0), (3, 3), borderType=cv2.BORDER_REFLECT_101)
    r = np.clip(p.robust_s * np.exp(-np.maximum(ratio - p.robust_margin, 0.0)) - p.robust_t, 0.0, 1.0).astype(np.float32)
    return cv2.erode(r, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REFLECT_101)


def _local_var(rgb: np.ndarray) -> np.ndarray:
    import cv2

    out = np.empty_like(rgb)
    for c in range(3):
        m = cv2.blur(rgb[c], (3, 3), borderType=cv2.BORDER_REFLECT_101)
        out[c] = np.maximum(cv2.blur(rgb[c] * rgb[c], (3, 3), borderType=cv2.BORDER_REFLECT_101) - m * m, 0)
    return out


def sampling_gain(disp: np.ndarray) -> float:
    """Share of tiles whose motion (plane px) puts the frame's samples at least a quarter raw
    pixel off the reference's colour lattice (period 2 raw px) in y or x: new sample positions."""
    ph = np.mod(2.0 * disp, 2.0)
    off = np.minimum(ph, 2.0 - ph)
    return float(np.mean(off.max(axis=-1) >= 0.25))


def refine_raw(disp: np.ndarray, g0: np.ndarray, g0_grad: tuple[np.ndarray, np.ndarray], g: np.ndarray,
               tile: int, iterations: int, snap: float,
               prior: np.ndarray | None = None, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Refine the merge-grid field ``disp`` (plane px, tile ``tile``) at the raw-sample level:
    Lucas-Kanade on the full-resolution white-balanced greens ``g0`` (reference, gradients
    ``g0_grad``) and ``g`` (frame) of :func:`rawlux.burst.resample.green_cd`, on non-overlapping
    tiles of ``2 tile`` raw px started from the binned-grey estimate, then the robust global
    similarity snap (``snap`` raw px) and back to the merge grid. ``prior``: the previous
    frame's refined field (raw px, the hand moves little between consecutive frames): each tile
    also starts from it and keeps whichever result matches the reference's green better.
    ``cache``: a dict kept over the burst for what depends on the reference only.
    Returns the merge-grid field (plane px) and the refined non-overlapping field (raw px)."""
    t = 2 * tile
    fine0 = disp[1::2, 1::2]  # merge-grid tile 2I + 1 is centred on non-overlapping tile I
    h, w = g0.shape
    ny = max(1, -(-(h - t) // t) + 1)
    nx = max(1, -(-(w - t) // t) + 1)
    start = np.zeros((ny, nx, 2), np.float32)
    sy, sx = min(ny, fine0.shape[0]), min(nx, fine0.shape[1])
    start[:sy, :sx] = fine0[:sy, :sx]
    start[sy:, :] = start[sy - 1 : sy, :]
    start[:, sx:] = start[:, sx - 1 : sx]
    init = np.rint(2.0 * start).astype(np.int32)
    fine = _subpixel(g0, g, g0_grad[0], g0_grad[1], t, t, 0, init, iterations)
    if prior is not None and prior.shape == fine.shape:
        alt = _subpixel(g0, g, g0_grad[0], g0_grad[1], t, t, 0, np.rint(prior).astype(np.int32), iterations)
        c_alt, c_fine = _tile_costs(alt, g0, g, t), _tile_costs(fine, g0, g, t)
        better = c_alt < 0.9 * c_fine
        fine = np.where(better[..., None], alt, fine).astype(np.float32)
        costs = np.where(better, c_alt, c_fine)
    else:
        costs = None
    if snap > 0:
        fine = verify_global(fine, g0, g, t, snap, cache=cache, costs=costs)
    return resample_field(fine, t, disp.shape[:2], t) * np.float32(0.5), fine


def _tile_costs(field: np.ndarray, g0: np.ndarray, g: np.ndarray, t: int) -> np.ndarray:
    """(ny, nx) mean squared difference per ``t`` raw px tile between ``g0`` and ``g`` sampled at
    ``(y + dy, x + dx)`` with the tile's displacement ``field`` (raw px, bilinear; numba
    :func:`rawlux.burst.superres_kernels.tile_costs` in bands of tile rows, no full-size maps)."""
    out = np.empty(field.shape[:2], np.float64)
    run_bands(tile_costs, out.shape[0], np.ascontiguousarray(field, np.float32),
              np.ascontiguousarray(g0, np.float32), np.ascontiguousarray(g, np.float32), int(t), out,
              min_rows=4)
    return out


def _tile_counts(h: int, w: int, t: int, ny: int, nx: int) -> np.ndarray:
    """(ny, nx) pixel counts of the tiles of :func:`_tile_sums`."""
    cy = np.diff(np.append(np.arange(ny) * t, h))
    cx = np.diff(np.append(np.arange(nx) * t, w))
    return np.outer(cy, cx).astype(np.float64)


def _tile_sums(a: np.ndarray, t: int, ny: int, nx: int, dtype: type = np.float64) -> np.ndarray:
    """(ny, nx) float64 sums of ``a`` over the ``t`` raw px tiles of :func:`_tile_costs` (the last
    row / column of tiles takes the remainder)."""
    starts_y = np.arange(ny) * t
    starts_x = np.arange(nx) * t
    return np.add.reduceat(np.add.reduceat(a.astype(dtype, copy=False), starts_y, 0), starts_x, 1).astype(np.float64)


def verify_global(fine: np.ndarray, g0: np.ndarray, g: np.ndarray, t: int, tol: float,
                  slack: float = 1.05, cache: dict | None = None,
                  costs: np.ndarray | None = None) -> np.ndarray:
    """The hand's motion: a RANSAC similarity fit (tolerance ``tol`` raw px) of ``fine`` (raw px,
    non-overlapping ``t`` raw px tiles). Tiles within ``tol`` of the fit take it; tiles further off take it where it matches the reference's green ``g0`` about as well as
    their own displacement (mean squared difference within ``slack`` x) and well in absolute
    terms (:data:`LOCK`, :data:`REL`, :data:`BAD`): gross block-matching errors in flat or
    repetitive tiles (sky, shadows) then follow the hand's motion, while tiles on moving objects,
    which the fit cannot match, keep their own. ``costs``: :func:`_tile_costs` of ``fine`` when
    already known; ``cache``: see :func:`refine_raw`."""
    import cv2

    ny, nx = fine.shape[:2]
    if ny * nx < 6:
        return fine
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32) * t + (t - 1) / 2.0
    src = np.stack([xx.ravel(), yy.ravel()], 1)
    dst = src + fine.reshape(-1, 2)[:, ::-1]
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=tol,
                                         maxIters=500, refineIters=10)
    if m is None or inl is None or inl.sum() < max(6, MIN_INLIERS * len(src)):
        return fine
    model = np.ascontiguousarray((src @ m[:, :2].T + m[:, 2] - src)[:, ::-1].reshape(ny, nx, 2), np.float32)
    near = np.linalg.norm(fine - model, axis=2) < tol
    fine = np.where(near[..., None], model, fine).astype(np.float32)
    off = ~near
    if not off.any() or off.all():
        return fine
    cm = _tile_costs(model, g0, g, t)
    # off the fit, ``fine`` is unchanged by the snap: its known costs hold there
    co = costs if costs is not None else _tile_costs(fine, g0, g, t)
    med = float(np.median(cm[~off]))
    var = None if cache is None else cache.get(("var", t, ny, nx))
    if var is None:  # the reference's variance per tile: once per burst
        cnt = _tile_counts(g0.shape[0], g0.shape[1], t, ny, nx)
        var = _tile_sums(g0.astype(np.float64) ** 2, t, ny, nx) / cnt - (_tile_sums(g0, t, ny, nx) / cnt) ** 2
        if cache is not None:
            cache[("var", t, ny, nx)] = var
    take = off & (cm <= slack * co) & ((cm <= LOCK * med) | (cm <= REL * var)) & (co > BAD * med)
    return np.where(take[..., None], model, fine).astype(np.float32)


def cd_samples(green: np.ndarray, cd: np.ndarray, pattern: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(H, W) float32 samples of a frame for the colour-difference regression: white-balanced
    green at green sites, ``R - G`` at red sites, ``B - G`` at blue sites (from
    :func:`rawlux.burst.resample.green_cd`)."""
    h2, w2 = cd.shape[1:]
    out[...] = green
    for a in range(2):
        for b in range(2):
            ch = int(pattern[a, b])
            if ch != 1:
                out[a : 2 * h2 : 2, b : 2 * w2 : 2] = cd[0 if ch == 0 else 1]
    return out


def _out_shape(h: int, w: int, scale: float) -> tuple[int, int]:
    return int(round(scale * h)), int(round(scale * w))


# ------------------------------------------------------------------------------------- public


def super_resolve(
    frames: Sequence[RawImage],
    reference: int = 0,
    *,
    params: SuperResParams | None = None,
    progress: Progress | None = None,
) -> RawImage:
    """Merge a handheld Bayer burst into one linear RGB :class:`RawImage` (``CFA.LINEAR``,
    float32 normalised camera RGB) of ``params.scale`` times the sensor size (module docstring).

    ``frames``: RawImages (uint16 DN or float32 normalised) taken one at a time with
    ``frames[i]`` (the lazy :func:`rawlux.app.night.open_burst` keeps one raw open); ``reference``: index of the
    frame whose geometry and metadata the result keeps. ``metadata.extra`` records
    ``superres_scale``, ``superres_motion`` (share of tiles with new sample positions) and
    ``superres_fallback`` (True when the night merge was used). Raises what
    :func:`rawlux.burst.merge.merge_burst` raises.
    """
    p = params or SuperResParams()
    if p.tile not in (8, 16, 32):
        raise InvalidParameter(f"SuperResParams.tile must be 8, 16 or 32, got {p.tile}")
    n = len(frames)
    if n == 0:
        raise InvalidParameter("super_resolve needs at least one frame")
    if not -n <= reference < n:
        raise InvalidParameter(f"reference index {reference} is outside the burst of {n} frame(s)")
    reference %= n
    report = progress or (lambda done, total, msg: None)
    from rawlux.core.memory import reuse_freed_memory

    with reuse_freed_memory():
        return _super_resolve(frames, reference, p, report)


def _super_resolve(frames: Sequence[RawImage], reference: int, p: SuperResParams, report: Progress) -> RawImage:
    n = len(frames)
    total = n + 1
    ref = frames[reference]  # a lazy sequence opens the file here
    ref_name = _name(ref, reference)
    ref = _normalise(ref, reference)
    _check_reference(ref, ref_name)
    if n == 1:
        return _fallback(frames, reference, p, report, ref, f"{ref_name}: a single frame cannot be "
                         "super-resolved; using the night merge", 0.0)
    ap = p.align_params()
    t = p.tile
    planes0 = bayer_planes(ref.data)
    channels = plane_channels(ref)
    prof = noise_model(ref)
    ppairs = plane_pairs(prof, channels)
    rgb_pairs = np.array([ppairs[channels.index(c)] if c in channels else ppairs[0] for c in range(3)],
                         np.float32)
    rgb_pairs[1] *= 0.5  # two green samples per block
    ref_rgb = _rgb_blocks(planes0, channels)
    ref_var = _local_var(ref_rgb)
    grey0 = _grey(planes0)
    gvar = np.maximum(float(np.mean(ppairs[:, 0])) * np.maximum(grey0, 0) + float(np.mean(ppairs[:, 1])), 1e-12) / 4.0
    a_noise = max(float(np.mean(ppairs[:, 0])), 1e-7)
    grow = (a_noise / 1e-3) ** p.detail_noise
    if grow < 1.0:  # narrower kernels resolve more only on an output grid finer than the sensor's
        grow **= p.scale - 1.0
    detail = float(np.clip(p.detail * grow, 0.1, 3.0))
    icov = kernel_covariance(grey0, gvar.astype(np.float32), replace(p, detail=detail))
    ref_pyr = pyramid(grey0, ap.levels)
    ref_grad = gradients(ref_pyr[0])
    ny, nx = tile_grid(grey0.shape, t)
    pattern = np.asarray(ref.cfa_pattern, np.int64)
    gains = wb_gains(ref)
    h, w = ref.data.shape
    ho, wo = _out_shape(h, w, p.scale)
    # every frame's samples, field and robustness (52 B per raw pixel per frame at 12 MP: the
    # frames themselves are opened, used and freed one at a time)
    stack = np.empty((n, h, w), np.float32)
    disps = np.zeros((n, ny, nx, 2), np.float32)
    robs = np.ones((n,) + grey0.shape, np.float32)
    green = np.empty((h, w), np.float32)
    cd = np.empty((2, h // 2, w // 2), np.float32)
    g0, cd0 = green_cd(ref.data, pattern, gains)
    g0_grad = gradients(g0)
    if p.colour_difference:
        cd_samples(g0, cd0, pattern, stack[0])
    else:
        stack[0] = ref.data
    del cd0
    report(1, total, f"reference {Path(ref_name).name}")
    warped = np.empty((4, h // 2, w // 2), np.float32)
    gains_motion = []
    prior = None
    cache: dict = {}
    slot = 1
    for idx in range(n):
        if idx == reference:
            continue
        raw = frames[idx]
        name = _name(raw, idx)
        raw = _normalise(raw, idx)
        _check_frame(ref, raw, name, ref_name)
        disp = align(ref_pyr, pyramid(grey_image(raw.data), ap.levels), ap, ref_grad)
        green_cd(raw.data, pattern, gains, green, cd)
        if p.raw_refine:
            disp, prior = refine_raw(disp, g0, g0_grad, green, t, p.raw_refine, 0.4, prior, cache)
        gains_motion.append(sampling_gain(disp))
        warp_bayer(green, cd, pattern, gains, disp, t, warped)
        robs[slot] = robustness(ref_rgb, _rgb_blocks(warped, channels), ref_var, rgb_pairs, p)
        disps[slot] = disp
        if p.colour_difference:
            cd_samples(green, cd, pattern, stack[slot])
        else:
            stack[slot] = raw.data
        del raw
        slot += 1
        report(slot, total, f"aligned {Path(name).name}")
    del green, cd, warped, g0, g0_grad
    motion = float(np.mean(gains_motion))
    if motion < p.min_motion:
        del stack
        return _fallback(frames, reference, p, report, ref,
                         f"{ref_name}: the burst moved too little to gain resolution ({100 * motion:.0f} % "
                         f"of tiles at new sample positions, need {100 * p.min_motion:.0f} %); "
                         "using the night merge", motion)
    data = np.empty((ho, wo, 3), np.float32)
    cw = np.array([p.chroma, 1.0, p.chroma] if p.colour_difference else [1.0, 1.0, 1.0], np.float32)
    wb = gains if p.colour_difference else np.ones(3, np.float32)
    holes = sum(run_bands(merge_rows, ho, stack, pattern, disps, int(t), icov, robs, float(p.scale), cw,
                          float(p.linear_fit), np.asarray(wb, np.float32), bool(p.colour_difference),
                          bool(p.linear_fit > 0), data))
    del stack
    rsum = robs[1:].sum(axis=0)
    weight = 1.0 + float(rsum.mean())
    if holes or (p.single_frames > 0 and float(rsum.min()) < p.single_frames):
        alpha = np.clip(rsum / p.single_frames, 0.0, 1.0) if p.single_frames > 0 else np.ones_like(rsum)
        _blend_single(data, ref, alpha, p.scale)
    report(total, total, "done")
    return _linear_raw(ref, data, p.scale, prof, 1.0 / weight, motion, fallback=False)


def _rcd_up(raw: RawImage, shape: tuple[int, int]) -> np.ndarray:
    """RCD demosaic of a normalised Bayer raw, bicubic-resized to ``shape`` (H, W)."""
    import cv2

    from rawlux.isp.demosaic import demosaic_mosaic

    rgb = demosaic_mosaic(np.ascontiguousarray(raw.data, np.float32), raw.cfa_pattern, "rcd")
    if rgb.shape[:2] != shape:
        rgb = cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return rgb


def _blend_single(data: np.ndarray, ref: RawImage, alpha: np.ndarray, scale: float) -> None:
    """Where ``alpha`` (Bayer-plane grid, 1 = enough frames) is below 1, blend ``data`` towards
    the reference alone (RCD + bicubic), in place: regions only the reference sees (moving
    objects) get a good single-frame demosaic instead of a sparse kernel regression."""
    import cv2

    ho, wo = data.shape[:2]
    a = cv2.resize(cv2.blur(alpha, (3, 3)), (wo, ho), interpolation=cv2.INTER_LINEAR)
    holes = np.isnan(data[..., 1])
    a[holes] = 0.0  # no weight in some channel: the reference alone
    low = a < 0.999
    if not low.any():
        return
    fb = _rcd_up(ref, (ho, wo))
    a3 = a[low][:, None]
    data[low] = a3 * np.nan_to_num(data[low]) + (1.0 - a3) * fb[low]


def _linear_raw(ref: RawImage, data: np.ndarray, scale: float, prof: NoiseProfile, ratio: float,
                motion: float, fallback: bool) -> RawImage:
    """The reference's metadata around linear camera-RGB ``data`` of ``scale`` x its size."""
    crop = ref.crop
    if crop is not None and scale != 1.0:
        crop = Crop(int(round(crop.top * scale)), int(round(crop.left * scale)),
                    min(int(round(crop.height * scale)), data.shape[0]),
                    min(int(round(crop.width * scale)), data.shape[1]))
    md = ref.metadata
    extra = {k: v for k, v in md.extra.items() if k != "dn_levels"}
    extra.update(superres_scale=float(scale), superres_motion=motion, superres_fallback=fallback)
    # opcode lists 2/3 address sensor coordinates: kept at scale 1 only
    keep = scale == 1.0
    return RawImage(
        data=np.ascontiguousarray(data, np.float32), cfa=CFA.LINEAR, black=np.zeros(3), white=1.0,
        calibration=ref.calibration, cfa_pattern=None, baseline_exposure=ref.baseline_exposure,
        noise_profile=NoiseProfile(np.asarray(prof.pairs, np.float64) * ratio),
        opcodes1=(), opcodes2=ref.opcodes2 if keep else (), opcodes3=ref.opcodes3 if keep else (),
        crop=crop, metadata=replace(md, extra=extra), source=ref.source,
    )


def _fallback(frames: Sequence[RawImage], reference: int, p: SuperResParams, report: Progress, ref: RawImage,
              message: str, motion: float) -> RawImage:
    """Night merge, RCD demosaic and (scale > 1) bicubic upscale, with a warning."""
    warnings.warn(message, stacklevel=4)
    if len(frames) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            merged = merge_burst(frames, reference, progress=report)
        ratio = float(merged.metadata.extra.get("burst_noise_ratio", 1.0))
    else:
        merged, ratio = ref, 1.0
    rgb = _rcd_up(merged, _out_shape(merged.height, merged.width, p.scale))
    return _linear_raw(ref, rgb, p.scale, noise_model(ref), ratio, motion, fallback=True)
