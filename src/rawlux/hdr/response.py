"""Developed (JPEG) brackets: camera response recovery (Debevec & Malik 1997) and radiance merge.

A developed photo's pixel value ``Z`` relates to scene exposure by an unknown monotonic response
``f``: ``Z = f(E t)``. With ``g = ln f^-1``, every pixel ``i`` of frame ``j`` gives
``g(Z_ij) = ln E_i + ln t_j``. :func:`recover_response` solves for ``g`` (256 values per channel)
and the ``ln E_i`` of a set of sample pixels by weighted linear least squares with a second-
difference smoothness term (``smooth``), fixing ``g(128) = 0``. :func:`merge_developed` then
averages ``g(Z) - ln t`` over the frames with a hat weight (far from 0 and 255) that also fades
to 0 over the near-black values a JPEG only holds as noise (:func:`merge_weight`), one weight per
pixel for all three channels (the least-exposed-well channel's: no colour speckles), after aligning
each frame to the reference (global translation by phase correlation on the linearised images)
and dropping, per pixel (feathered), frames that fall more than ``ghost`` stops outside the
reference's 3x3 range where both are well exposed (moving objects come from the reference; a
pixel of misregistration at an edge is not motion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rawlux.core.errors import BurstMismatch, InvalidParameter
from rawlux.core.params import StageParams, param


WELL_EXPOSED = 0.3  # hat weight (8-bit 38..217) above which a frame is trusted in the ghost test
FALLBACK_WEIGHT = 1e-3  # per-channel hat weight (x t / t_max) under the shared per-pixel weight
DARK_LO, DARK_HI = 3.0, 24.0  # 8-bit values: merge weight 0 at and below DARK_LO, full hat from DARK_HI


@dataclass(frozen=True)
class ResponseParams(StageParams):
    """Camera-response recovery and merge of developed brackets."""

    smooth: float = param(200.0, lo=0.0, hi=10000.0, doc="smoothness weight of the response curve")
    samples: int = param(300, lo=50, hi=5000, doc="sample pixels for the response fit")
    ghost: float = param(1.0, lo=0.1, hi=20.0, unit="EV",
                         doc="disagreement with the reference (stops) that marks a moving object")
    align: bool = param(True, doc="align frames to the reference (global translation)")


def hat(z: np.ndarray) -> np.ndarray:
    """Debevec-Malik weight of 8-bit values: 0 at 0 and 255, 1 in the middle."""
    z = np.asarray(z, np.float32)
    return np.minimum(z, 255.0 - z) / 127.5


def merge_weight(z: np.ndarray) -> np.ndarray:
    """Merge weight of 8-bit values: :func:`hat` times a smoothstep that is 0 up to ``DARK_LO`` and
    1 from ``DARK_HI``. Near black a developed JPEG holds quantisation and compression noise
    (values 0/1/2 alternate by 8x8 block): ``g(1) - ln t`` of a short frame says nothing about
    the radiance (it can be 50x off), yet the plain hat gives it weight and pulls the mean of
    the well-exposed frames up, block by block."""
    z = np.asarray(z, np.float32)
    s = np.clip((z - DARK_LO) / (DARK_HI - DARK_LO), 0.0, 1.0)
    return hat(z) * s * s * (3.0 - 2.0 * s)


def _check(images: Sequence[np.ndarray], times: Sequence[float]) -> None:
    if len(images) < 2:
        raise InvalidParameter(f"a bracket merge needs at least two frames, got {len(images)}")
    if len(times) != len(images):
        raise InvalidParameter(f"{len(images)} frames but {len(times)} exposure times")
    shape = images[0].shape
    for k, im in enumerate(images):
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise InvalidParameter(f"frame {k}: developed brackets must be 8-bit RGB, got "
                                   f"{im.dtype} {im.shape}")
        if im.shape != shape:
            raise BurstMismatch(f"frame {k} is {im.shape[1]}x{im.shape[0]}, frame 0 is "
                                f"{shape[1]}x{shape[0]}")
    for t in times:
        if not (math.isfinite(t) and t > 0):
            raise InvalidParameter(f"exposure time {t} s is not a positive number")
    ts = sorted(times)
    for a, b in zip(ts, ts[1:]):
        if math.log2(b / a) < 0.25:
            raise InvalidParameter(f"exposure times {a:g} s and {b:g} s are the same; a bracket "
                                   "needs different exposures")


def _sample_positions(images: Sequence[np.ndarray], n: int, seed: int = 0) -> np.ndarray:
    """Flat pixel indices spread over the reference's brightness range (smooth areas)."""
    import cv2

    ref = images[len(images) // 2]
    grey = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
    blur = cv2.blur(grey, (5, 5)).astype(np.int16)
    flat = np.abs(grey.astype(np.int16) - blur) <= 3
    rng = np.random.default_rng(seed)
    idx = []
    per = max(1, n // 32)
    vals = grey.ravel()
    ok = flat.ravel()
    for lo in range(0, 256, 8):
        cand = np.flatnonzero(ok & (vals >= lo) & (vals < lo + 8))
        if cand.size:
            idx.append(rng.choice(cand, min(per, cand.size), replace=False))
    out = np.concatenate(idx) if idx else np.zeros(0, np.int64)
    if out.size < 16:
        out = rng.choice(vals.size, min(n, vals.size), replace=False)
    return out


def recover_response(images: Sequence[np.ndarray], times: Sequence[float],
                     params: ResponseParams = ResponseParams()) -> np.ndarray:
    """``g`` (256, 3) float32: natural log of exposure for each 8-bit value, per channel."""
    _check(images, times)
    pos = _sample_positions(images, params.samples)
    n_p, n_f = pos.size, len(images)
    lnt = np.log(np.asarray(times, np.float64))
    g = np.zeros((256, 3), np.float32)
    for c in range(3):
        z = np.stack([im[..., c].ravel()[pos] for im in images], axis=1).astype(np.int64)  # (P, F)
        w = hat(z).astype(np.float64) + 1e-3
        rows = n_p * n_f + 1 + 254
        a = np.zeros((rows, 256 + n_p))
        b = np.zeros(rows)
        r = np.arange(n_p * n_f)
        a[r, z.ravel()] = w.ravel()
        a[r, 256 + np.repeat(np.arange(n_p), n_f)] = -w.ravel()
        b[r] = (w * lnt[None, :]).ravel()
        k = n_p * n_f
        a[k, 128] = 1.0
        k += 1
        zz = np.arange(1, 255)
        ws = params.smooth * hat(zz).astype(np.float64)
        a[k + zz - 1, zz - 1] = ws
        a[k + zz - 1, zz] = -2 * ws
        a[k + zz - 1, zz + 1] = ws
        ata = a.T @ a  # normal equations: (256 + P)^2, solved directly (lstsq's SVD is ~100x slower)
        ata[np.diag_indices_from(ata)] += 1e-9
        x = np.linalg.solve(ata, a.T @ b)
        gc = x[:256]
        g[:, c] = np.maximum.accumulate(gc).astype(np.float32)  # a response is monotonic
    # channels share one exposure scale: align their values at mid grey
    g -= (g[128] - g[128].mean())[None, :]
    return g


def _lut(im: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per-channel 256-entry float32 table applied to an 8-bit RGB image (OpenCV LUT)."""
    import cv2

    t = np.ascontiguousarray(np.broadcast_to(table.reshape(256, -1), (256, 3)), np.float32)
    return cv2.LUT(im, t.reshape(1, 256, 3))


def _linear_grey(im: np.ndarray, g: np.ndarray, t: float) -> np.ndarray:
    return _lut(im, np.exp(g) / t).mean(axis=2)


def _shift(ref: np.ndarray, alt: np.ndarray) -> tuple[float, float]:
    """Global (dy, dx) moving ``alt`` onto ``ref`` (phase correlation on log images)."""
    import cv2

    a = np.log(np.maximum(ref, 1e-6)).astype(np.float32)
    b = np.log(np.maximum(alt, 1e-6)).astype(np.float32)
    win = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(b - b.mean(), a - a.mean(), win)
    return float(dy), float(dx)


def merge_developed(images: Sequence[np.ndarray], times: Sequence[float],
                    params: ResponseParams = ResponseParams(),
                    response: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Radiance map (H, W, 3) float32, linear, in units where the reference frame's mid-grey
    response (value 128) is ``exp(g(128)) / t_ref``... normalised so the reference exposure's
    linear values are returned (``E * t_ref``). Returns (radiance, response g, info)."""
    import cv2

    _check(images, times)
    g = recover_response(images, times, params) if response is None else response
    n = len(images)
    order = np.argsort(times)
    r = int(order[n // 2])
    t_ref = float(times[r])
    wt = merge_weight(np.arange(256)).astype(np.float32)
    hat_lut = hat(np.arange(256)).astype(np.float32)
    log_ref = _lut(images[r], g / np.float32(math.log(2)) - np.float32(math.log2(t_ref)))
    # the ghost test measures how far a frame falls outside the reference's 3x3 range: an edge
    # misregistered by a pixel (or JPEG ringing beside it) is not a moving object
    k3 = np.ones((3, 3), np.uint8)
    ref_lo, ref_hi = cv2.erode(log_ref, k3), cv2.dilate(log_ref, k3)
    ref_ok = _lut(images[r], wt).min(axis=2) > WELL_EXPOSED
    acc = np.zeros(images[0].shape, np.float32)
    wsum = np.zeros(images[0].shape, np.float32)
    shifts = []
    fallback = None
    for j in range(n):
        im = images[j]
        if j != r and params.align:
            dy, dx = _shift(_linear_grey(images[r], g, t_ref), _linear_grey(im, g, times[j]))
            if abs(dy) > 0.25 or abs(dx) > 0.25:
                m = np.float32([[1, 0, -dx], [0, 1, -dy]])
                im = cv2.warpAffine(im, m, (im.shape[1], im.shape[0]), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            shifts.append((round(dy, 2), round(dx, 2)))
        lin = _lut(im, np.exp(g) / np.float32(times[j]))
        # one weight per pixel (no colour shift), plus a tiny per-channel hat favouring long
        # frames that only counts where no frame has all three channels usable (saturated colour)
        w = _lut(im, wt).min(axis=2, keepdims=True) + _lut(im, hat_lut * np.float32(
            FALLBACK_WEIGHT * times[j] / max(times)))
        if j != r:  # moving objects: disagreeing with a well-exposed reference
            logj = _lut(im, g / np.float32(math.log(2)) - np.float32(math.log2(times[j])))
            d = cv2.blur(np.maximum(logj - ref_hi, ref_lo - logj).max(axis=2).clip(0.0), (5, 5))
            bad = ref_ok & (w[..., 0] > WELL_EXPOSED) & (d > params.ghost)
            if bad.any():  # feathered: the reference takes over smoothly around a moving object
                soft = cv2.dilate(bad.astype(np.float32), np.ones((5, 5), np.uint8))
                soft = cv2.blur(soft, (9, 9))
                w *= (1.0 - np.clip(soft * 1.5, 0.0, 1.0))[..., None]
        acc += w * lin
        wsum += w
        # where no frame is usable: black in the longest frame -> its value (the smallest upper
        # bound), else the brightest estimate (a clipped frame's value: the largest lower bound)
        fallback = lin if fallback is None else np.maximum(fallback, lin)
        if j == int(order[-1]):
            longest_dark, longest_lin = im < 128, lin
    fallback = np.where(longest_dark, longest_lin, fallback)
    out = np.where(wsum > 1e-6, acc / np.maximum(wsum, 1e-12), fallback) * np.float32(t_ref)
    info = {"reference": r, "shifts": shifts, "times": [float(t) for t in times]}
    return out.astype(np.float32), g, info
