"""Detail benchmark: raw noise reduction vs none vs OpenCV non-local means, on synthetic noise.

    python benchmarks/detail.py [--images astronaut,coffee,chelsea] [--no-speed]

Each scikit-image sample (decoded to linear light, the truth) becomes a noisy white-balanced
Bayer raw (:func:`rawlux.synth.noisy.noisy_raw`, gains R 2.0 / B 1.5, variance ``S x + O``
with ``O = S / 40``) at several noise levels, then is demosaicked (RCD):

* ``off``      no noise reduction;
* ``rawlux``   :mod:`rawlux.isp.denoise` at the default strength before demosaic (model from
               the raw's NoiseProfile), and ``rawlux est`` with the model estimated from the image;
* ``cv2 NLM``  ``cv2.fastNlMeansDenoisingColored`` on the 8-bit sRGB result of ``off``, with the
               best of h in {3, 5, 8, 12, 18} for each image (an oracle choice, in its favour).

PSNR (dB) and SSIM are computed on sRGB-encoded [0, 1] images (8 px border excluded) against the
truth. A 12 MP timing of the denoise and sharpen stages follows (CPU ms, one thread, and wall ms).
Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

LEVELS = (("ISO 100", 2e-5), ("ISO 800", 2e-4), ("ISO 3200", 8e-4), ("ISO 12800", 3.2e-3))


def encode(lin: np.ndarray) -> np.ndarray:
    x = np.clip(lin, 0.0, 1.0).astype(np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def develop_mosaic(raw, denoise_strength: float | None) -> np.ndarray:
    from rawlux.isp.demosaic import DEMOSAIC
    from rawlux.isp.denoise import DenoiseParams, denoise

    if denoise_strength:
        raw = denoise(raw, DenoiseParams(strength=denoise_strength))
    return DEMOSAIC.get("rcd")(raw.data, np.asarray(raw.cfa_pattern))


def scores(x: np.ndarray, truth: np.ndarray, b: int = 8) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    from rawlux.synth.images import psnr

    xs, ts = encode(x), encode(truth)
    ssim = structural_similarity(xs[b:-b, b:-b], ts[b:-b, b:-b], channel_axis=2, data_range=1.0)
    return psnr(xs, ts, border=b), float(ssim)


def nlm(x: np.ndarray, truth: np.ndarray) -> tuple[float, float, int]:
    import cv2

    from rawlux.synth.images import srgb_to_linear

    bgr8 = np.rint(encode(x)[..., ::-1] * 255).astype(np.uint8)
    best = (-1.0, 0.0, 0)
    for h in (3, 5, 8, 12, 18):
        den = cv2.fastNlMeansDenoisingColored(bgr8, None, h, h, 7, 21)
        lin = srgb_to_linear(den[..., ::-1] / 255.0)
        p, s = scores(lin, truth)
        if p > best[0]:
            best = (p, s, h)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="astronaut,coffee,chelsea")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    from rawlux.synth.images import linear_sample
    from rawlux.synth.noisy import noisy_raw

    print(f"rawlux detail benchmark  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("PSNR dB / SSIM on sRGB-encoded images vs the clean truth (mean over images)")
    print(f"{'level':<10}{'S':>9}   {'off':>13}{'rawlux':>15}{'rawlux est':>15}{'cv2 NLM':>15}  NLM h")
    for label, s in LEVELS:
        acc: dict[str, list[tuple[float, float]]] = {k: [] for k in ("off", "rawlux", "est", "nlm")}
        hs = []
        for name in args.images.split(","):
            truth = linear_sample(name)
            truth = truth[: truth.shape[0] // 2 * 2, : truth.shape[1] // 2 * 2] * np.float32(0.8)
            raw = noisy_raw(truth, s, s / 40, seed=1)
            off = develop_mosaic(raw, None)
            acc["off"].append(scores(off, truth))
            acc["rawlux"].append(scores(develop_mosaic(raw, 0.5), truth))
            acc["est"].append(scores(develop_mosaic(raw.with_data(raw.data, noise_profile=None), 0.5), truth))
            p, ss, h = nlm(off, truth)
            acc["nlm"].append((p, ss))
            hs.append(h)
        cells = "".join(f"{np.mean([a[0] for a in v]):>8.2f}/{np.mean([a[1] for a in v]):.3f}"
                        for v in acc.values())
        print(f"{label:<10}{s:>9.1e}   {cells}  {','.join(map(str, hs))}")
    if not args.no_speed:
        speed()


def speed() -> None:
    import os

    from rawlux.core.image import ColorSpace, Image
    from rawlux.isp.denoise import denoise
    from rawlux.isp.sharpen import sharpen
    from rawlux.synth.noisy import noisy_raw

    rng = np.random.default_rng(0)
    scene = (rng.random((3000, 4000, 3), dtype=np.float32) * 0.3 + 0.1)
    raw = noisy_raw(scene, 2e-4, 5e-6)
    img = Image(np.ascontiguousarray(scene), ColorSpace.REC2020)
    print(f"\n12 MP stage time (threads={os.environ.get('RAWLUX_THREADS', 'all')}): best of 5")
    for name, fn in (("denoise", lambda: denoise(raw)), ("sharpen", lambda: sharpen(img))):
        fn()
        cpu, wall = [], []
        for _ in range(5):
            c, t = time.process_time(), time.perf_counter()
            fn()
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - t)
        print(f"{name:<10} wall {min(wall) * 1e3:7.1f} ms   process CPU {min(cpu) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
