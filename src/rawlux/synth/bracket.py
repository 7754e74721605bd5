"""Synthetic raw exposure brackets with known radiance (for bracket-merge tests and benchmarks).

A scene of high dynamic range in linear camera RGB: a sample photograph's texture spread over
``range_ev`` stops by a smooth illumination ramp (deep shade on the left, sunlit on the right), plus
a bright "sky" band at the top. Each frame sees it at its own exposure (``ev`` stops relative to the
reference), mosaicked RGGB, with the noise model of :mod:`rawlux.synth.burst`, clipped at white,
quantised to 14-bit DN; frames may be shifted (handheld) and one may hold a moving disc (ghost).
Ground truth: ``radiance`` (H, W) normalised mosaic at the reference exposure (values above 1 are
highlights the reference clips), ``ghost_mask`` where the disc was in any non-reference frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rawlux.core.image import RawImage
from rawlux.synth.burst import _warp, add_noise, frame_raw, quantise, unprocess
from rawlux.synth.images import mosaic, sample_image


@dataclass(frozen=True)
class SyntheticBracket:
    frames: list[RawImage]
    radiance: np.ndarray  # (H, W) float32, reference-exposure normalised units (not clipped)
    ghost_mask: np.ndarray  # (H, W) bool
    ev: tuple[float, ...]
    reference: int


def make_bracket(size: tuple[int, int] = (256, 384), ev: tuple[float, ...] = (-2.0, 0.0, 2.0),
                 range_ev: float = 9.0, noise: tuple[float, float] = (2e-4, 2e-6),
                 shift: float = 0.0, ghost: bool = False, seed: int = 3,
                 image: str = "astronaut") -> SyntheticBracket:
    """A bracket of ``len(ev)`` uint16 RawImages (exposure times 1/60 s * 2**ev). The reference
    is the frame with ev 0 (or the median). ``shift``: px of random translation per frame."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    src = sample_image(image)
    src = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
    cam = unprocess(src, level=0.18)  # mean green 0.18 before the illumination
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)
    illum = 2.0 ** ((x - 0.55) * range_ev)  # shade .. sun, mid-grey at 55 % of the width
    scene = cam * illum[None, :, None]
    sky = np.zeros((h, 1, 1), np.float32)
    sky[: h // 6] = 1.0
    scene = scene * (1 - sky) + sky * (2.0 + 1.2 * cam / max(float(cam.max()), 1e-6))
    r = int(np.argsort(ev)[len(ev) // 2])
    disc = np.zeros((h, w), np.float32)
    cv2.circle(disc, (int(w * 0.4), int(h * 0.6)), max(4, h // 10), 1.0, -1)
    ghost_mask = np.zeros((h, w), bool)
    frames = []
    truth = mosaic(scene.astype(np.float32))
    for i, e in enumerate(ev):
        sc = scene
        dy = dx = 0.0
        if shift > 0 and i != r:
            dy, dx = (rng.uniform(-shift, shift) for _ in range(2))
            sc = _warp(scene, dy, dx, 0.0)
        if ghost and i != r and i == (r + 1) % len(ev):
            ghost_mask |= disc > 0
            sc = sc * (1 - disc[..., None]) + disc[..., None] * np.array([0.01, 0.06, 0.01], np.float32)
        m = mosaic(np.ascontiguousarray(sc, np.float32)) * np.float32(2.0 ** e)
        m = np.minimum(add_noise(m, *noise, rng), 1.0)
        raw = frame_raw(quantise(m), noise, index=i)
        md = replace(raw.metadata, exposure_time=(1 / 60) * 2.0 ** e, iso=100)
        frames.append(replace(raw, metadata=md, source=f"bracket frame {i} ({e:+g} EV)"))
    return SyntheticBracket(frames, truth.astype(np.float32), ghost_mask, tuple(ev), r)
