"""Structure-aware fuzzing of the non-DNG parsers (tests/hostile/inputfuzz.py: .cube, look and
layout TOML, templates, SVG logos, GDepth XMP), fixed seeds, under an address-space limit: every
mutant is read (and applied to a tiny image) or refused with a typed one-line error naming the
file; nothing escapes, nothing is slow. Long runs: ``python benchmarks/fuzz.py --inputs --seconds 300``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.hostile is imported from the checkout root
    sys.path.insert(0, str(ROOT))

from tests.hostile import inputfuzz  # noqa: E402
from tests.test_hostile_inputs import _bounded  # noqa: E402

COUNT = {"cube": 50, "look": 40, "layout": 50, "template": 60, "svg": 40, "xmp": 50, "recipe": 60}


@pytest.mark.parametrize("target", sorted(inputfuzz.TARGETS))
def test_fuzz_target(target, tmp_path):
    with _bounded(3 * 2**30, 120):
        # no timing here (a shared machine): the alarm is the hang guard; benchmarks/fuzz.py
        # reports SLOW mutants
        outcomes, n = inputfuzz.run_target(target, tmp_path, seed=1, count=COUNT[target],
                                           slow_s=None)
    assert n == COUNT[target]
    bugs = {k: v for k, v in outcomes.items() if k.startswith(inputfuzz.BUG_PREFIXES)}
    assert not bugs, (target, dict(outcomes))
    # the mutants exercise both sides: some still parse, most are refused with a reason
    assert outcomes["ok"] >= 2 and sum(v for k, v in outcomes.items() if k != "ok") >= n // 6, outcomes


def test_mutants_are_deterministic_and_seeds_valid(tmp_path):
    for target, t in inputfuzz.TARGETS.items():
        a = [b for _, b in inputfuzz.mutants(target, 5, 10)]
        assert a == [b for _, b in inputfuzz.mutants(target, 5, 10)] and len(set(a)) >= 8, target
        for i, seed in enumerate(t.seeds()):
            p = tmp_path / f"{target}{i}{t.suffix}"
            p.write_bytes(seed)
            assert inputfuzz.run_one(target, p) == "ok", (target, i)
