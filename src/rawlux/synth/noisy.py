"""Noisy raw captures of a known clean scene, for denoise benchmarks and tests.

:func:`noisy_raw` turns a white-balanced linear RGB scene (the truth) into the normalised,
white-balanced float32 Bayer :class:`~rawlux.core.image.RawImage` a camera would give at the
``white_balance`` stage: the scene is divided by the WB gains (sensor signal), mosaicked, given
Gaussian noise of variance ``S * x + O`` per site (the DNG NoiseProfile model, which the raw
carries), and multiplied by the gains again.
"""

from __future__ import annotations

import numpy as np

from rawlux.core.image import CFA, NoiseProfile, RawImage
from rawlux.synth.images import RGGB, mosaic

#: Typical white-balance gains (R, G, B) of a daylight capture; blue and red are noisier.
GAINS = (2.0, 1.0, 1.5)


def noisy_raw(scene: np.ndarray, scale: float, offset: float, seed: int = 0,
              gains: tuple[float, float, float] = GAINS, profile: bool = True) -> RawImage:
    """Bayer RGGB RawImage (float32, WB applied, ``wb_gains`` set) of linear RGB ``scene``
    (H, W even) with noise variance ``scale * x + offset`` in sensor units; ``profile`` says
    whether the raw carries that model as its NoiseProfile."""
    g = np.asarray(gains, np.float32)
    sensor = mosaic(np.ascontiguousarray(scene / g, np.float32), RGGB)
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(scale * np.clip(sensor, 0, None) + offset).astype(np.float32)
    noisy = sensor + rng.standard_normal(sensor.shape, dtype=np.float32) * sigma
    wb = mosaic(np.broadcast_to(g, scene.shape).astype(np.float32), RGGB)
    return RawImage(
        data=np.ascontiguousarray(noisy * wb, np.float32), cfa=CFA.RGGB,
        black=np.zeros((2, 2), np.float32), white=1.0, wb_gains=g.copy(),
        noise_profile=NoiseProfile(np.array([[scale, offset]] * 3)) if profile else None,
    )
