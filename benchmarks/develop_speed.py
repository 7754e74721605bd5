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


def run_with_rss(cmd: list[str]) -> tuple[float, float, str, float]:
    """Wall time, peak RSS (MiB), stdout and CPU seconds (user + system) of one command."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tf:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name, *cmd],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()[-300:]}")
        rss_kib, user, system = map(float, Path(tf.name).read_text().strip().splitlines()[-1].split())
    return wall, rss_kib / 1024.0, proc.stdout, user + system


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
                         max(s[1] for s in samples), statistics.median(s[3] for s in samples)))
        for tool, label, extra in (("rawlux", "rawlux.develop+save in-process (neutral)", ["neutral"]),
                                   ("rawlux", "rawlux.develop+save in-process (authentic)", ["authentic"]),
                                   ("rawpy", "rawpy postprocess+save in-process", ["-"])):
            try:
                _, rss, out, _ = run_with_rss([PY, "-c", INPROC_SCRIPT, tool, str(src),
                                               str(work / f"ip_{tool}.jpg"), str(runs), *extra])
            except RuntimeError as exc:
                print(f"  {label}: {exc}", file=sys.stderr)
                continue
            import json

            rows.append((label, statistics.median(json.loads(out.strip().splitlines()[-1])), rss,
                         float("nan")))
    return rows


def ratios(rows: list[tuple[str, float, float, float]]) -> list[str]:
    """The issue's goals as ratios of median wall times (when both tools ran)."""
    t = {name: wall for name, wall, _, _ in rows}
    out = []
    for ours in ("rawlux develop (authentic)", "rawlux develop (neutral)"):
        if ours in t and "rawpy postprocess script" in t:
            out.append(f"{ours} / rawpy script = {t[ours] / t['rawpy postprocess script']:.2f} (goal <= 1)")
        if ours in t and "darktable-cli" in t:
            out.append(f"darktable-cli / {ours} = {t['darktable-cli'] / t[ours]:.1f}x (goal >= 5x)")
    a, b = "rawlux.develop+save in-process (authentic)", "rawpy postprocess+save in-process"
    if a in t and b in t:
        out.append(f"in-process: rawpy / rawlux (authentic) = {t[b] / t[a]:.1f}x (goal >= 2x)")
    return out


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
    # part of set-up, as in ./dev: ahead-of-time kernels (no-op when fresh) and bytecode
    subprocess.run([PY, "-m", "rawlux.core.aot", "build"], check=False)
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "src" / "rawlux")], check=False,
                   stdout=subprocess.DEVNULL)
    from rawlux.core.jit import aot_status
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
    print(f"# median of {args.runs} runs after one warm-up; peak RSS and CPU (user+sys) of the process")
    print(f"# rawlux AOT kernels: {aot_status()[1]}\n")
    for src in raws:
        import rawpy

        with rawpy.imread(str(src)) as r:
            mp = r.sizes.width * r.sizes.height / 1e6
        print(f"## {src.name} ({mp:.1f} MP)")
        print(f"| {'tool':44s} | {'wall s':>7s} | {'CPU s':>6s} | {'peak MiB':>8s} |")
        print(f"|{'-' * 46}|{'-' * 9}|{'-' * 8}|{'-' * 10}|")
        rows = bench_file(src, args.runs)
        for name, wall, rss, cpu in rows:
            cpu_text = "" if cpu != cpu else f"{cpu:.2f}"
            print(f"| {name:44s} | {wall:7.2f} | {cpu_text:>6s} | {rss:8.0f} |")
        for line in ratios(rows):
            print(f"- {line}")
        print()


if __name__ == "__main__":
    main()
