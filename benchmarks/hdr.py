"""HDR speed: a 3 x 12 MP raw bracket merged and written as Ultra HDR JPEG, beside OpenCV.

    python benchmarks/hdr.py [--runs 3] [--size 3000x4000]

Generates a synthetic handheld raw bracket (``rawlux.synth.bracket``: -2/0/+2 EV, 1 px shake, 14-bit
DNGs) and times, as whole processes (what a user waits for; peak resident memory from
``/usr/bin/time``):

* ``rawlux hdr A B C -o out.jpg --hdr`` (merge + develop + gain map + Ultra HDR write),
* ``rawlux hdr A B C -o out.dng`` (merge + DNG write),
* ``rawlux develop B -o out.jpg --hdr`` (one frame with a gain map: the cost of the map),
* OpenCV on the same frames developed to 8-bit JPEGs by rawlux: ``CalibrateDebevec`` +
  ``MergeDebevec`` (a radiance map, no tone mapping) and ``MergeMertens`` (exposure fusion).

Then the in-process stage split of the rawlux run (merge / develop with gain map / save). Prints
tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from develop_speed import RAWLUX, run_with_rss  # noqa: E402

PY = sys.executable

OPENCV_SCRIPT = """
import sys, cv2, numpy as np
mode, out, times = sys.argv[1], sys.argv[2], [float(t) for t in sys.argv[3].split(',')]
ims = [cv2.imread(p) for p in sys.argv[4:]]
if mode == 'debevec':
    t = np.array(times, np.float32)
    resp = cv2.createCalibrateDebevec().process(ims, t)
    hdr = cv2.createMergeDebevec().process(ims, t, resp)
    cv2.imwrite(out, hdr)
else:
    fused = cv2.createMergeMertens().process(ims)
    cv2.imwrite(out, np.clip(fused * 255, 0, 255).astype(np.uint8))
"""

STAGES_SCRIPT = """
import sys, time, json
import rawlux
from rawlux.hdr.merge import merge_brackets
paths, out = sys.argv[2:], sys.argv[1]
def job():
    t = [time.perf_counter()]
    m = merge_brackets(rawlux.open_burst(paths)); t.append(time.perf_counter())
    img = rawlux.develop(m, hdr=True); t.append(time.perf_counter())  # float raw: plan after black_level
    rawlux.save(img, out); t.append(time.perf_counter())
    return [b - a for a, b in zip(t, t[1:])]
job()
print(json.dumps(job()))
"""


def make_frames(work: Path, size: tuple[int, int]) -> tuple[list[Path], list[float]]:
    from rawlux.io.dng import write_dng
    from rawlux.synth.bracket import make_bracket

    br = make_bracket(size=size, shift=1.0, ghost=True)
    paths, times = [], []
    for i, f in enumerate(br.frames):
        p = work / f"bracket_{i}.dng"
        write_dng(f, p)
        paths.append(p)
        times.append(float(f.metadata.exposure_time))
    return paths, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", default="3000x4000", help="HxW of each frame")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="rawlux-hdr-bench-") as tmp:
        work = Path(tmp)
        paths, times = make_frames(work, (h, w))
        jpgs = []
        for p in paths:  # 8-bit developed frames for OpenCV
            j = work / (p.stem + ".jpg")
            subprocess.run([RAWLUX, "develop", str(p), "-o", str(j), "--look", "neutral"], check=True,
                           capture_output=True)
            jpgs.append(str(j))
        sp = [str(p) for p in paths]
        cmds = {
            "rawlux hdr -> Ultra HDR JPEG": [RAWLUX, "hdr", *sp, "-o", str(work / "o.jpg"), "--hdr"],
            "rawlux hdr -> DNG": [RAWLUX, "hdr", *sp, "-o", str(work / "o.dng")],
            "rawlux develop 1 frame --hdr": [RAWLUX, "develop", sp[1], "-o", str(work / "d.jpg"), "--hdr"],
            "rawlux develop 1 frame": [RAWLUX, "develop", sp[1], "-o", str(work / "d0.jpg")],
            "OpenCV CalibrateDebevec+MergeDebevec": [PY, "-c", OPENCV_SCRIPT, "debevec", str(work / "cv.hdr"),
                                                     ",".join(map(str, times)), *jpgs],
            "OpenCV MergeMertens": [PY, "-c", OPENCV_SCRIPT, "mertens", str(work / "cv.jpg"),
                                    ",".join(map(str, times)), *jpgs],
        }
        for c in cmds.values():  # warm-up: JIT caches, page cache
            run_with_rss(c)
        print(f"\n3 x {w}x{h} raw bracket (-2/0/+2 EV), median of {args.runs} runs, whole process\n")
        print(f"| {'command':40s} | wall s | CPU s | peak RSS MiB |")
        print(f"|{'-' * 42}|--------|-------|--------------|")
        for name, c in cmds.items():
            res = [run_with_rss(c) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in res)
            cpu = statistics.median(r[3] for r in res)
            rss = max(r[1] for r in res)
            print(f"| {name:40s} | {wall:6.2f} | {cpu:5.2f} | {rss:12.0f} |")
        out = subprocess.run([PY, "-c", STAGES_SCRIPT, str(work / "s.jpg"), *sp], capture_output=True,
                             text=True, check=True).stdout
        merge, dev, save = json.loads(out.strip().splitlines()[-1])
        print(f"\nin process (warm): merge {merge:.2f} s, develop + gain map {dev:.2f} s, "
              f"Ultra HDR write {save:.2f} s")


if __name__ == "__main__":
    main()
