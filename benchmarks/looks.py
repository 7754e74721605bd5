"""Look speed: time per look on a 12 MP image against the neutral develop time.

    python benchmarks/looks.py [--runs 3] [--stat median|min] [--megapixels 12] [--stage-only] [RAW]

Develops the raw (default: a generated 12 MP sample from ``rawlux.synth.sample``) once per
look with ``rawlux.develop`` (in-process, code warm) and, separately, times the look stage
alone on the same scene-linear input. Prints one table (median, or minimum, of ``--runs``);
asserts nothing. The goal is that any look adds at most 30 % to the neutral develop time.
Build the AOT kernels first (``python -m rawlux.core.aot build``): the header says whether
they are loaded (a stale build silently falls back to JIT-compiled kernels).

Columns: ``stage`` = the look stage alone; ``+stage`` = its extra time over the neutral stage
(which only clips); ``ip cpu`` = the look stage rendering in place (``render_look(...,
out=data)``, CPU); ``dev`` = whole in-process develop (no save); ``added`` = extra develop time
over the neutral develop, in % (wall and CPU summed over threads — CPU is the robust one on a
shared machine). ``--stage-only`` skips the develops.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import datetime, timezone

STAT = statistics.median


def _median_time(fn, runs: int, prepare=None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median (or :data:`STAT`) wall time and CPU time (all threads) of ``runs`` calls, seconds;
    ``prepare()`` runs untimed before each call."""
    wall, cpu = [], []
    for _ in range(runs):
        if prepare is not None:
            prepare()
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return STAT(wall), STAT(cpu)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", nargs="?", help="raw file (default: generated sample)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stat", choices=("median", "min"), default="median")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--stage-only", action="store_true", help="time the look stage only")
    args = ap.parse_args(argv)
    global STAT
    STAT = min if args.stat == "min" else statistics.median

    import numpy as np

    from rawlux.core.jit import aot_status
    from rawlux.develop import develop
    from rawlux.isp.look import LookParams, look
    from rawlux.looks.registry import look_names
    from rawlux.looks.render import render_look
    from rawlux.app.looks import look_input

    if args.raw:
        from rawlux.io.raw import open_raw

        raw = open_raw(args.raw)
        name = os.path.basename(args.raw)
    else:
        from rawlux.synth.sample import make_sample

        w = round((args.megapixels * 1e6 * 4 / 3) ** 0.5)
        w -= w % 2
        h = round(w * 3 / 4)
        h -= h % 2
        raw = make_sample(w, h)
        name = f"synthetic sample {w}x{h}"
    scene = look_input(raw)
    mp = scene.height * scene.width / 1e6
    names = look_names()
    for n in names:  # warm up: numba compile/cache load, look baking
        look(scene.with_data(scene.data[:64, :64]), LookParams(look=n))
    stage_only = args.stage_only
    if not stage_only:
        develop(raw, look="neutral")
    base = (1.0, 1.0) if stage_only else _median_time(lambda: develop(raw, look="neutral"),
                                                       args.runs)
    neutral_stage = _median_time(lambda: look(scene, LookParams(look="neutral")), args.runs)
    print(f"# rawlux looks benchmark — {name}, {mp:.1f} MP, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.stat} of {args.runs} runs, load average {os.getloadavg()[0]:.1f}, "
          f"AOT kernels: {aot_status()[1]}")
    print("# wall = elapsed ms, cpu = CPU ms summed over threads (robust on a shared machine);")
    print("# +stage = look stage minus the neutral stage; added = extra develop time over neutral")
    scratch = np.empty_like(scene.data)

    def refill() -> None:
        np.copyto(scratch, scene.data)

    print(f"{'look':<10} {'stage wall':>10} {'stage cpu':>9} {'+stage wall':>11} {'+stage cpu':>10}"
          f" {'ip cpu':>6}"
          + ("" if stage_only else f" {'dev wall':>8} {'dev cpu':>7} {'added wall':>10} "
             f"{'added cpu':>9}"))
    for n in names:
        sw, sc = _median_time(lambda n=n: look(scene, LookParams(look=n)), args.runs)
        _, ic = _median_time(lambda n=n: render_look(scratch, n, out=scratch), args.runs, refill)
        line = (f"{n:<10} {sw * 1e3:>10.0f} {sc * 1e3:>9.0f} {(sw - neutral_stage[0]) * 1e3:>11.0f} "
                f"{(sc - neutral_stage[1]) * 1e3:>10.0f} {ic * 1e3:>6.0f}")
        if not stage_only:
            dw, dc = base if n == "neutral" else _median_time(lambda n=n: develop(raw, look=n),
                                                              args.runs)
            line += (f" {dw * 1e3:>8.0f} {dc * 1e3:>7.0f} {100 * (dw / base[0] - 1):>9.0f}% "
                     f"{100 * (dc / base[1] - 1):>8.0f}%")
        print(line, flush=True)


if __name__ == "__main__":
    main()
