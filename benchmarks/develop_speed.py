"""Develop speed: rawlux vs rawpy/LibRaw, darktable-cli and rawtherapee-cli, side by side.

Every tool turns the same raw into a JPEG. Whole-process runs (what a user waits for at the
shell) and in-process runs (interpreter already started, code warm) are timed separately; the
table shows the median wall time of several runs and the peak resident memory of the process.

    python benchmarks/develop_speed.py [--runs 5] [--install] [RAW ...]

Without RAW arguments it generates a 12 MP sample DNG (``rawlux.synth.sample``) and also uses
the real DNG/NEF files in ``../shared/data/raw``. ``--install`` apt-installs darktable and
rawtherapee when missing (Debian packages). Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_RAW = ROOT.parent / "shared" / "data" / "raw"
OUT = ROOT / "benchmarks" / "out"
PY = sys.executable
RAWLUX = str(Path(PY).with_name("rawlux"))

RAWPY_SCRIPT = """
import sys, rawpy
from PIL import Image
with rawpy.imread(sys.argv[1]) as r:
    rgb = r.postprocess(use_camera_wb=True, output_bps=8)
Image.fromarray(rgb).save(sys.argv[2], quality=92)
"""

INPROC_SCRIPT = """
import sys, time, json
tool, src, dst, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if tool == "rawlux":
    import rawlux
    def job():
        rawlux.save(rawlux.develop(src, look=sys.argv[5]), dst, quality=92)
else:
    import rawpy
    from PIL import Image
    def job():
        with rawpy.imread(src) as r:
            rgb = r.postprocess(use_camera_wb=True, output_bps=8)
        Image.fromarray(rgb).save(dst, quality=92)
job()  # warm-up: JIT caches, imports, page cache
times = []
for _ in range(runs):
    t = time.perf_counter(); job(); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def run_with_rss(cmd: list[str]) -> tuple[float, float, str]:
    """Wall time and peak RSS (MiB) of one command via GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *cmd],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()[-300:]}")
        rss_kib = float(Path(tf.name).read_text().strip().splitlines()[-1])
    return wall, rss_kib / 1024.0, proc.stdout


def process_commands(src: Path, work: Path) -> dict[str, list[str]]:
    cmds = {
        "rawlux develop (neutral)": [RAWLUX, "develop", str(src), "-o", str(work / "rl_n.jpg"),
                                     "--look", "neutral"],
        "rawlux develop (authentic)": [RAWLUX, "develop", str(src), "-o", str(work / "rl_a.jpg")],
        "rawpy postprocess script": [PY, "-c", RAWPY_SCRIPT, str(src), str(work / "rp.jpg")],
    }
    if shutil.which("darktable-cli"):
        cmds["darktable-cli"] = ["darktable-cli", str(src), str(work / "dt.jpg"), "--core",
                                 "--configdir", str(work / "dtconf"), "--library", ":memory:"]
    if shutil.which("rawtherapee-cli"):
        cmds["rawtherapee-cli"] = ["rawtherapee-cli", "-Y", "-j92", "-o", str(work / "rt.jpg"),
                                   "-c", str(src)]
    return cmds


def bench_file(src: Path, runs: int) -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, cmd in process_commands(src, work).items():
            try:
                run_with_rss(cmd)  # warm caches (numba cache, page cache, config dirs)
                samples = [run_with_rss(cmd) for _ in range(runs)]
            except RuntimeError as exc:
                print(f"  {name}: {exc}", file=sys.stderr)
                continue
            rows.append((name, statistics.median(s[0] for s in samples),
                         max(s[1] for s in samples)))
        for tool, label, extra in (("rawlux", "rawlux.develop+save in-process (neutral)", ["neutral"]),
                                   ("rawlux", "rawlux.develop+save in-process (authentic)", ["authentic"]),
                                   ("rawpy", "rawpy postprocess+save in-process", ["-"])):
            try:
                _, rss, out = run_with_rss([PY, "-c", INPROC_SCRIPT, tool, str(src),
                                            str(work / f"ip_{tool}.jpg"), str(runs), *extra])
            except RuntimeError as exc:
                print(f"  {label}: {exc}", file=sys.stderr)
                continue
            import json

            rows.append((label, statistics.median(json.loads(out.strip().splitlines()[-1])), rss))
    return rows


def ensure_peers(install: bool) -> None:
    missing = [p for p, exe in (("darktable", "darktable-cli"), ("rawtherapee", "rawtherapee-cli"))
               if not shutil.which(exe)]
    if missing and install:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env)


def describe_machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{date.today()} · {os.cpu_count()} cores · {cpu} · Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raws", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--install", action="store_true", help="apt-install missing peers")
    ap.add_argument("--mp", type=float, default=12.2, help="megapixels of the generated sample")
    args = ap.parse_args()
    ensure_peers(args.install)
    raws = list(args.raws)
    if not raws:
        OUT.mkdir(parents=True, exist_ok=True)
        sample = OUT / f"sample_{args.mp:g}mp.dng"
        if not sample.exists():
            subprocess.run([PY, "-m", "rawlux.synth.sample", str(sample), "--megapixels",
                            str(args.mp)], check=True)
        raws = [sample] + sorted(p for p in SHARED_RAW.glob("*")
                                 if p.name in {"blackmagic_pocket4k_cinemadng.dng",
                                               "canon_550d_magiclantern_colorchart.dng",
                                               "nikon_d1.nef"})
    print(f"# develop speed — {describe_machine()}")
    print(f"# median of {args.runs} runs after one warm-up; peak RSS of the process\n")
    for src in raws:
        import rawpy

        with rawpy.imread(str(src)) as r:
            mp = r.sizes.width * r.sizes.height / 1e6
        print(f"## {src.name} ({mp:.1f} MP)")
        print(f"| {'tool':44s} | {'wall s':>7s} | {'peak MiB':>8s} |")
        print(f"|{'-' * 46}|{'-' * 9}|{'-' * 10}|")
        for name, wall, rss in bench_file(src, args.runs):
            print(f"| {name:44s} | {wall:7.2f} | {rss:8.0f} |")
        print()


if __name__ == "__main__":
    main()
