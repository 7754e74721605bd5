"""A generated sample raw for the demo and the speed benchmark.

The scene is rendered in the simulated camera's RGB from spectral data (``rawlux.synth.chart``):
a sky gradient with an over-exposed sun (tests highlight reconstruction), a ColorChecker
(colour), textured foliage, a zone plate (demosaic aliasing) and natural lens falloff; then it is
mosaicked (RGGB), given signal-dependent noise that matches the written DNG NoiseProfile, and
quantised with a black level. ``python -m rawlux.synth.sample OUT.dng [--megapixels 12]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from rawlux.core.image import CFA, Crop, Metadata, NoiseProfile, RawImage
from rawlux.io.dng import write_dng
from rawlux.synth.chart import capture, chart_reflectances, fitted_profile, illuminant_spd

BLACK, WHITE = 256, 4095  # 12-bit sensor
NOISE_SCALE, NOISE_OFFSET = 2.0e-4, 4.0e-6  # variance = S*x + O in normalised units (ISO ~200)


def _smooth_noise(h: int, w: int, rng: np.random.Generator, cell: int) -> np.ndarray:
    import cv2

    small = rng.random((max(2, h // cell), max(2, w // cell))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def make_sample(width: int = 1600, height: int = 1200, illuminant: str = "D65",
                seed: int = 0) -> RawImage:
    """Render the sample scene as a uint16 RGGB RawImage (even ``width``/``height`` in px)."""
    width, height = width // 2 * 2, height // 2 * 2
    rng = np.random.default_rng(seed)
    _, refl = chart_reflectances()
    cam, _, neutral, _ = capture(refl, illuminant_spd(illuminant))
    cam = cam / cam[18].max() * 0.85  # white patch at 85 % of the brightest channel
    h, w = height, width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy /= h
    xx /= w
    img = np.empty((h, w, 3), np.float32)
    horizon = 0.55
    sky = yy < horizon
    t = np.clip(yy / horizon, 0, 1)[..., None]
    img[:] = (1 - t) * cam[2] * 1.3 + t * cam[19] * 1.1  # blue sky -> hazy horizon
    ground = (~sky)[..., None]
    tex = 0.6 + 0.8 * _smooth_noise(h, w, rng, 24) * _smooth_noise(h, w, rng, 5)
    img = np.where(ground, cam[3] * tex[..., None] * 0.9, img)  # foliage
    # sun with glow, well above white (clips on every channel near the centre)
    d = np.hypot((xx - 0.78) * w, (yy - 0.18) * h) / min(h, w)
    img += (np.exp(-(d / 0.025) ** 2) * 6.0 + np.exp(-(d / 0.12) ** 2) * 0.35)[..., None] * neutral
    # ColorChecker, 6 x 4, on the left
    p = min(h, w) // 12
    top, left = int(0.30 * h), int(0.06 * w)
    for i in range(24):
        r, c = divmod(i, 6)
        y0, x0 = top + r * int(p * 1.15), left + c * int(p * 1.15)
        img[y0:y0 + p, x0:x0 + p] = cam[i]
    # zone plate (neutral), lower right
    zr = min(h, w) // 5
    cy, cx = int(0.75 * h), int(0.78 * w)
    y0, x0 = max(cy - zr, 0), max(cx - zr, 0)
    zy, zx = np.mgrid[y0:min(cy + zr, h), x0:min(cx + zr, w)].astype(np.float32)
    rr = (zy - cy) ** 2 + (zx - cx) ** 2
    zone = 0.5 + 0.45 * np.cos(np.pi * rr / (3.0 * zr))
    inside = rr < zr * zr
    img[y0:y0 + zone.shape[0], x0:x0 + zone.shape[1]][inside] = (zone[inside, None]
                                                                  * cam[19] * 1.1)
    # natural lens falloff (cos^4 law, ~0.9 EV at the corners)
    rn = np.hypot(xx - 0.5, (yy - 0.5) * h / w) / np.hypot(0.5, 0.5 * h / w)
    img *= (np.cos(np.arctan(rn * 0.75)) ** 4)[..., None]
    mosaic = np.take_along_axis(
        img, np.tile(CFA.RGGB.pattern(), (h // 2, w // 2))[..., None].astype(np.intp), axis=2
    )[..., 0]
    sigma = np.sqrt(NOISE_SCALE * np.clip(mosaic, 0, 1) + NOISE_OFFSET)
    mosaic = mosaic + rng.standard_normal(mosaic.shape, dtype=np.float32) * sigma
    dn = np.clip(np.rint(BLACK + mosaic * (WHITE - BLACK)), 0, WHITE).astype(np.uint16)
    meta = Metadata(make="rawlux", model="Synthetic Camera", lens="rawlux 26mm f/1.8",
                    exposure_time=1 / 250, f_number=1.8, iso=200.0, focal_length=6.9,
                    focal_length_35mm=26.0,
                    datetime_original=dt.datetime(2026, 11, 25, 12, 0, 0),
                    software="rawlux.synth.sample")
    return RawImage(
        data=np.ascontiguousarray(dn), cfa=CFA.RGGB,
        black=np.full((2, 2), BLACK, np.float32), white=float(WHITE),
        calibration=fitted_profile().calibration(neutral),
        noise_profile=NoiseProfile(np.array([[NOISE_SCALE, NOISE_OFFSET]] * 3)),
        crop=Crop(0, 0, h, w), metadata=meta, source="rawlux sample scene",
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="write the generated sample raw as a DNG")
    ap.add_argument("output", type=Path)
    ap.add_argument("--megapixels", type=float, default=2.0)
    ap.add_argument("--illuminant", default="D65")
    args = ap.parse_args(argv)
    w = int(round(np.sqrt(args.megapixels * 1e6 * 4 / 3)))
    h = int(round(w * 3 / 4))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_dng(make_sample(w, h, args.illuminant), args.output)
    print(f"wrote {args.output} ({w}x{h})")


if __name__ == "__main__":
    main()
