"""Real raws side by side: rawlux looks vs darktable-cli and rawtherapee-cli (montages + a table).

For every real raw in ``../shared/data/raw`` (or the files given), develops it with rawlux
(neutral, authentic, vibrant) and with each peer that is installed and reads the file (default
settings of each), then writes for each raw one montage of full-frame thumbnails and one of 100 %
crops (``benchmarks/out/real_raws/<raw>__full.png`` and ``__crop.png``) and prints a table of
what a photographer would check first: clipped pixels, tonal spread, colour cast of the whole
frame and wall time. Look at the montages; the numbers only say where to look.

    python benchmarks/real_raws.py [RAW ...] [--crop X,Y] [--side 640]

Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = ROOT.parent / "shared" / "data" / "raw"
OUT = ROOT / "benchmarks" / "out" / "real_raws"
LOOKS = ("neutral", "authentic", "vibrant")

#: open_raw options for files that need them (bare mosaics), and files with no pixels.
OPEN_OPTIONS = {"nokia_n900_bayer_small.png": {"cfa": "GRBG", "white": 1023}}
NO_PIXELS = {"iphone12pro_proraw_metadata_only.dng"}
#: Files the peers would read as ordinary pictures rather than raws (bare mosaics).
NOT_FOR_PEERS = {"nokia_n900_bayer_small.png"}
#: Centre (fractions of width, height) of the 100 % crop per file: where the file is hardest
#: (clipped light, chart patches, fine detail); the centre otherwise.
CROP_AT = {
    "canon_eos_6d.dng": (0.60, 0.70),
    "blackmagic_pocket4k_cinemadng.dng": (0.62, 0.74),
    "canon_550d_magiclantern_colorchart.dng": (0.50, 0.50),
    "nikon_d1.nef": (0.50, 0.45),
}


def develop_rawlux(src: Path, look: str) -> tuple[np.ndarray, float]:
    import rawlux

    t0 = time.perf_counter()
    raw = rawlux.open_raw(src, **OPEN_OPTIONS.get(src.name, {}))
    img = rawlux.develop(raw, look=look)
    dt = time.perf_counter() - t0
    return np.round(np.clip(img.data, 0, 1) * 255).astype(np.uint8), dt


def develop_peer(tool: str, src: Path, work: Path) -> tuple[np.ndarray | None, float, str]:
    """(uint8 RGB or None, wall s, reason when it failed) of one peer at default settings."""
    from PIL import Image as PILImage

    out = work / f"{tool}.tif"
    if tool == "darktable-cli":
        cmd = ["darktable-cli", str(src), str(out), "--core", "--configdir",
               str(work / "dtconf"), "--library", ":memory:",
               "--conf", "plugins/imageio/format/tiff/bpp=8"]
    else:
        cmd = ["rawtherapee-cli", "-Y", "-t", "-b8", "-o", str(out), "-c", str(src)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None, 300.0, "timed out"
    dt = time.perf_counter() - t0
    if proc.returncode != 0 or not out.is_file():
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return None, dt, (last[-1] if last else f"exit {proc.returncode}")[:80]
    return np.asarray(PILImage.open(out).convert("RGB")), dt, ""


def stats(rgb: np.ndarray) -> dict[str, float]:
    """Clip %, luminance percentiles (0-255) and mean chroma cast (a*, b*) of an sRGB image."""
    import cv2

    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    luma = lab[..., 0] * (100.0 / 255.0)
    return {
        "clip%": 100.0 * float((rgb >= 254).any(axis=-1).mean()),
        "L p1": float(np.percentile(luma, 1)),
        "L p50": float(np.percentile(luma, 50)),
        "L p99": float(np.percentile(luma, 99)),
        "a*": float(lab[..., 1].mean() - 128.0),
        "b*": float(lab[..., 2].mean() - 128.0),
    }


def thumb(rgb: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    f = min(1.0, side / max(h, w))
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))),
                      interpolation=cv2.INTER_AREA)


def crop(rgb: np.ndarray, at: tuple[float, float], size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    cx, cy = int(at[0] * w), int(at[1] * h)
    x0 = min(max(0, cx - size // 2), max(0, w - size))
    y0 = min(max(0, cy - size // 2), max(0, h - size))
    return rgb[y0:y0 + size, x0:x0 + size]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raws", nargs="*", type=Path)
    ap.add_argument("--side", type=int, default=640, help="long side of the full-frame tiles")
    ap.add_argument("--crop-size", type=int, default=360, help="side of the 100 %% crops")
    args = ap.parse_args()
    from PIL import Image as PILImage

    from rawlux.looks.sheet import compose

    raws = args.raws or sorted(p for p in SHARED_RAW.iterdir()
                               if p.is_file() and p.suffix != ".md" and p.name not in NO_PIXELS)
    peers = [t for t in ("darktable-cli", "rawtherapee-cli") if shutil.which(t)]
    OUT.mkdir(parents=True, exist_ok=True)
    cols = ("clip%", "L p1", "L p50", "L p99", "a*", "b*")
    print("# real raws side by side (sRGB 8-bit outputs; L*, a*, b* from OpenCV Lab, D65)")
    print(f"| {'file':38s} | {'renderer':18s} | " + " | ".join(f"{c:>6s}" for c in cols)
          + " | wall s |")
    print("|" + "|".join("-" * (n + 2) for n in (38, 18, *([6] * len(cols)), 6)) + "|")
    for src in raws:
        renders: list[tuple[str, np.ndarray | None, float, str]] = []
        for look in LOOKS:
            try:
                rgb, dt = develop_rawlux(src, look)
                renders.append((f"rawlux {look}", rgb, dt, ""))
            except Exception as exc:  # a benchmark reports, it does not stop
                renders.append((f"rawlux {look}", None, 0.0, str(exc)[:80]))
        with tempfile.TemporaryDirectory() as tmp:
            for tool in ([] if src.name in NOT_FOR_PEERS else peers):
                rgb, dt, why = develop_peer(tool, src, Path(tmp))
                renders.append((tool.removesuffix("-cli"), rgb, dt, why))
        for name, rgb, dt, why in renders:
            if rgb is None:
                print(f"| {src.name:38s} | {name:18s} | failed: {why}")
                continue
            s = stats(rgb)
            print(f"| {src.name:38s} | {name:18s} | "
                  + " | ".join(f"{s[c]:6.1f}" for c in cols) + f" | {dt:6.2f} |")
        ok = [(n, r) for n, r, _, _ in renders if r is not None]
        at = CROP_AT.get(src.name, (0.5, 0.5))
        full = compose([(n, thumb(r, args.side)) for n, r in ok], columns=3)
        crops = compose([(n, crop(r, at, args.crop_size)) for n, r in ok], columns=len(ok))
        PILImage.fromarray(full).save(OUT / f"{src.stem}__full.png")
        PILImage.fromarray(crops).save(OUT / f"{src.stem}__crop.png")
    print(f"\nmontages in {OUT.relative_to(ROOT)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
