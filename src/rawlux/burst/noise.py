"""Noise model of a normalised raw: variance = scale * x + offset (DNG NoiseProfile convention).

:func:`noise_model` returns the file's NoiseProfile when it has a usable one, else
:func:`estimate_noise` fits the model to the frame itself: each Bayer plane is high-passed with
Immerkaer's 3x3 kernel (which cancels locally linear signal), and in 16x16 blocks the noise sigma is
taken from the median absolute response; blocks are binned by their mean level, the lower quartile
of each bin (flat blocks; texture only adds variance) gives the noise variance at that level, and a
non-negative least-squares line through those points is the model.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.image import NoiseProfile, RawImage
from rawlux.core.jit import njit, run_bands
from rawlux.isp.denoise import binned_noise_points

#: Immerkaer (1996) noise-estimation kernel; its response to white noise has variance 36 sigma^2.
_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_BLOCK = 16


@njit(cache=True, nogil=True)
def _split(m, out, r0, r1):  # pragma: no cover - compiled
    w = out.shape[2]
    for i in range(r0, r1):
        for j in range(w):
            out[0, i, j] = m[2 * i, 2 * j]
            out[1, i, j] = m[2 * i, 2 * j + 1]
            out[2, i, j] = m[2 * i + 1, 2 * j]
            out[3, i, j] = m[2 * i + 1, 2 * j + 1]


def bayer_planes(mosaic: np.ndarray) -> np.ndarray:
    """(4, H//2, W//2) float32 planes of a Bayer mosaic in order (0,0), (0,1), (1,0), (1,1)."""
    out = np.empty((4, mosaic.shape[0] // 2, mosaic.shape[1] // 2), np.float32)
    run_bands(_split, out.shape[1], np.ascontiguousarray(mosaic, dtype=np.float32), out)
    return out


def planes_to_mosaic(planes: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The inverse of :func:`bayer_planes`: a copy of mosaic ``ref`` (H, W) with its sites set
    from ``planes`` (4, H//2, W//2); an odd last row/column keeps ``ref``'s samples."""
    out = ref.copy()
    out[0 : 2 * planes.shape[1] : 2, 0 : 2 * planes.shape[2] : 2] = planes[0]
    out[0 : 2 * planes.shape[1] : 2, 1 : 2 * planes.shape[2] : 2] = planes[1]
    out[1 : 2 * planes.shape[1] : 2, 0 : 2 * planes.shape[2] : 2] = planes[2]
    out[1 : 2 * planes.shape[1] : 2, 1 : 2 * planes.shape[2] : 2] = planes[3]
    return out


def _plane_stats(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-block mean level and robust noise variance of one plane."""
    import cv2

    hp = cv2.filter2D(plane, cv2.CV_32F, _KERNEL, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    core = plane[1:-1, 1:-1]
    by, bx = hp.shape[0] // _BLOCK, hp.shape[1] // _BLOCK
    if by == 0 or bx == 0:
        return np.empty(0, np.float32), np.empty(0, np.float32)
    blk = hp[: by * _BLOCK, : bx * _BLOCK].reshape(by, _BLOCK, bx, _BLOCK).transpose(0, 2, 1, 3)
    mean = core[: by * _BLOCK, : bx * _BLOCK].reshape(by, _BLOCK, bx, _BLOCK).mean(axis=(1, 3))
    mad = np.median(np.abs(blk.reshape(by, bx, -1)), axis=2)
    sigma = mad / 0.6745 / 6.0
    return mean.ravel(), (sigma**2).ravel()


def estimate_noise(raw: RawImage) -> NoiseProfile:
    """Fit variance = S * x + O (x normalised) to a normalised float32 Bayer RawImage."""
    if raw.data.dtype != np.float32 or not raw.cfa.is_bayer:
        raise ContractError(
            f"noise estimation needs a normalised float32 Bayer raw, got {raw.data.dtype} {raw.cfa.value}"
        )
    means, vars_ = [], []
    for p in bayer_planes(raw.data):
        m, v = _plane_stats(p)
        means.append(m)
        vars_.append(v)
    m = np.concatenate(means)
    v = np.concatenate(vars_)
    ok = np.isfinite(m) & np.isfinite(v) & (m < 0.9)
    m, v = m[ok], v[ok]
    if m.size < 4:
        return NoiseProfile(np.array([[0.0, float(np.median(v)) if v.size else 1e-6]]))
    # lower quartile of chi-square-like estimates: ~0.93 of the mean for 16x16 blocks
    xs, y, counts = binned_noise_points(m, v, 16, 0.25, 0.93)
    x = np.maximum(xs, 0.0)
    w = np.sqrt(counts) / np.maximum(y, 1e-12)  # relative error weighting
    from scipy.optimize import nnls

    a = np.stack([x, np.ones_like(x)], 1) * w[:, None]
    (s, o), _ = nnls(a, y * w)
    if o <= 0:
        o = max(float(y.min()) * 0.1, 1e-10)
    return NoiseProfile(np.array([[float(s), float(o)]]))


def noise_model(raw: RawImage) -> NoiseProfile:
    """The raw's NoiseProfile when present and sane (positive variance), else an estimate."""
    prof = raw.noise_profile
    if prof is not None:
        pairs = np.asarray(prof.pairs, np.float64)
        if pairs.ndim == 2 and pairs.shape[1] == 2 and np.all(np.isfinite(pairs)) \
                and np.all(pairs >= 0) and np.all(pairs.sum(1) > 0):
            return NoiseProfile(pairs)
    return estimate_noise(raw)


def plane_channels(raw: RawImage) -> list[int]:
    """Colour channel (0=R, 1=G, 2=B) of each of the four Bayer planes of :func:`bayer_planes`."""
    p = np.asarray(raw.cfa_pattern)
    return [int(p[0, 0]), int(p[0, 1]), int(p[1, 0]), int(p[1, 1])]


def plane_pairs(profile: NoiseProfile, channels: list[int]) -> np.ndarray:
    """(4, 2) float32 (scale, offset) per Bayer plane."""
    pairs = np.asarray(profile.pairs, np.float64)
    return np.array([pairs[min(c, len(pairs) - 1)] for c in channels], np.float32)
