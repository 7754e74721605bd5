"""Structure-aware fuzzing of the DNG path (tests/hostile/dngfuzz.py), fixed seeds: every mutant
either develops and saves or raises a typed one-line error naming the file; nothing else escapes, memory
stays bounded; a few failing mutants through the real CLI give one stderr line, exit != 0, no
traceback and no output file. Long runs: ``python benchmarks/fuzz.py --seconds 600``."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from rawlux.io import safety

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.hostile is imported from the checkout root
    sys.path.insert(0, str(ROOT))

from tests.hostile import dngfuzz  # noqa: E402

RAWLUX = [sys.executable, "-m", "rawlux_launcher"]


@contextmanager
def _address_space_headroom(extra_bytes: int) -> Iterator[None]:
    """Soft RLIMIT_AS = current size + ``extra_bytes`` inside the block: a mutant that slips past
    the checks and allocates gigabytes fails with MemoryError (reported) instead of taking the
    machine down."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vsz = int(f.read().split()[0]) * resource.getpagesize()
    lim = vsz + extra_bytes
    if hard != resource.RLIM_INFINITY:
        lim = min(lim, hard)
    resource.setrlimit(resource.RLIMIT_AS, (lim, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _outcomes(tmp_path: Path, seed: int, count: int) -> tuple[Counter, dict[str, bytes]]:
    with _address_space_headroom(3 * 2**30):
        return _run_mutants(tmp_path, seed, count)


def _run_mutants(tmp_path: Path, seed: int, count: int) -> tuple[Counter, dict[str, bytes]]:
    path = tmp_path / "m.dng"
    outcomes: Counter = Counter()
    failing: dict[str, bytes] = {}
    for i, (name, blob, what) in enumerate(dngfuzz.mutants(seed, count)):
        path.write_bytes(blob)
        out = dngfuzz.run_one(path, dngfuzz.OPTIONS[i % len(dngfuzz.OPTIONS)],
                              tmp_path / f"out.{dngfuzz.SAVE_AS[i % len(dngfuzz.SAVE_AS)]}")
        outcomes[out] += 1
        assert not out.startswith(dngfuzz.BUG_PREFIXES), f"{name} [{'; '.join(what)}]: {out}"
        if out != "ok" and len(failing) < 3 and not out.startswith("ImageTooLarge"):
            failing[name] = blob
    return outcomes, failing


def test_seeds_are_valid_and_develop(tmp_path):
    for name, blob in dngfuzz.seeds().items():
        (tmp_path / f"{name}.dng").write_bytes(blob)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a seed must not need any leniency
            assert dngfuzz.run_one(tmp_path / f"{name}.dng") == "ok"


@pytest.mark.parametrize("seed", [1, 2])
def test_fuzz_mutants_in_process(tmp_path, monkeypatch, seed):
    monkeypatch.setenv(safety.ENV_MAX_MEGAPIXELS, "64")
    rss0 = dngfuzz.peak_rss_mb()
    outcomes, _ = _outcomes(tmp_path, seed, 180)
    # the mutants exercise both sides: many still develop, many are refused with a reason
    assert outcomes["ok"] >= 30 and outcomes["CorruptInput"] >= 30, outcomes
    assert dngfuzz.peak_rss_mb() - rss0 < 1500, "a mutant made the process grow by > 1.5 GB"


def test_fuzz_mutants_through_the_cli(tmp_path):
    _, failing = _outcomes(tmp_path, 7, 60)
    assert len(failing) == 3
    env = {k: v for k, v in os.environ.items() if k != "RAWLUX_DEBUG"}
    hostile = Path(__file__).parent / "data" / "hostile"
    inputs = [hostile / "memory_bomb_65535x3814.dng", hostile / "bits_per_sample_65535.dng"]
    for name, blob in failing.items():
        (tmp_path / f"{name}.dng").write_bytes(blob)
        inputs.append(tmp_path / f"{name}.dng")
    for src in inputs:
        out = tmp_path / "out" / f"{src.stem}.jpg"
        out.parent.mkdir(exist_ok=True)
        res = subprocess.run([*RAWLUX, "develop", str(src), "-o", str(out)], capture_output=True,
                             text=True, env=env, timeout=120)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert res.returncode != 0 and res.returncode != 70, res.stderr  # 70 = internal error
        assert len(lines) == 1 and lines[0].startswith(f"rawlux: error: {src}: "), res.stderr
        assert "Traceback" not in res.stderr and "internal error" not in res.stderr
        assert not any(out.parent.iterdir()), "no output (or temp) file may be left"


def test_mutators_change_what_they_claim():
    base = dngfuzz.seeds()["bayer"]
    e = dngfuzz.find(base, 256)
    assert (e.typ, e.count) == (4, 1)
    b = dngfuzz.set_entry(base, 256, typ=12, count=3)
    e2 = dngfuzz.find(b, 256)
    assert (e2.typ, e2.count) == (12, 3) and len(b) == len(base)
    assert dngfuzz.set_values(base, 256, "<I", 7) != base
    # the same seed gives the same mutants (the suite is deterministic)
    first = [blob for _, blob, _ in dngfuzz.mutants(3, 20)]
    assert first == [blob for _, blob, _ in dngfuzz.mutants(3, 20)]
    assert len(set(first)) == 20
