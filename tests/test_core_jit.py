"""The kernel layer: lazy JIT shim, signature checks, band execution, the AOT module and its guards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core import jit
from rawlux.core.jit import ArgType, KernelArgumentError, Signature, parse_signature, run_bands

CODES = sorted(jit._SCALARS)


# ------------------------------------------------------------------------------ signatures


@st.composite
def arg_types(draw: st.DrawFn) -> ArgType:
    code = draw(st.sampled_from(CODES))
    ndim = draw(st.integers(0, 4))
    return ArgType(code, ndim, ndim > 0 and draw(st.booleans()))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), arg_types()), st.lists(arg_types(), max_size=8), st.booleans())
def test_signature_render_parse_round_trip(ret: ArgType | None, args: list[ArgType], squeeze: bool) -> None:
    sig = Signature(ret, tuple(args))
    text = sig.render()
    if squeeze:
        text = text.replace(" ", "")
    assert parse_signature(text) == sig


@pytest.mark.parametrize(
    "text",
    ["f4[:, ::1]", "void(f16)", "void(f4[::1, :])", "void(f4[:, 1:])", "void(UniTuple(f4, 3))", "(f4)", "void(f4"],
)
def test_bad_signatures_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_signature(text)


def test_arg_type_checks_dtype_rank_and_order() -> None:
    t = parse_signature("void(f4[:, ::1])").args[0]
    a = np.zeros((4, 6), np.float32)
    assert t.accepts(a)
    assert not t.accepts(a[:, ::2])  # strided: AOT code would read the wrong memory
    assert not t.accepts(a.astype(np.float64))
    assert not t.accepts(a[None])
    assert not t.accepts([[0.0]])
    assert parse_signature("void(f4[:, :])").args[0].accepts(a[:, ::2])
    i8, f8, b1 = parse_signature("void(i8, f8, b1)").args
    assert i8.accepts(3) and i8.accepts(np.int32(3)) and not i8.accepts(3.0) and not i8.accepts(True)
    assert f8.accepts(2) and f8.accepts(np.float32(2.5)) and not f8.accepts(True) and not f8.accepts("2")
    assert b1.accepts(True) and b1.accepts(np.bool_(False)) and not b1.accepts(1)


def test_kernel_rejects_mismatched_arguments_with_a_clear_message() -> None:
    from rawlux.isp.color_transform import _matrix_kernel

    src = np.zeros((8, 3), np.float64)  # float64: not a declared signature
    with pytest.raises(KernelArgumentError, match=r"_matrix_kernel called with \(float64\[2d C\]"):
        _matrix_kernel(src, np.eye(3, dtype=np.float32), True, np.zeros((8, 3), np.float32), 0, 8)


# ------------------------------------------------------------------------------ bands


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 500), st.sampled_from([1, 2, 4]), st.integers(1, 64), st.integers(1, 8))
def test_run_bands_covers_every_row_once(n_rows: int, align: int, min_rows: int, workers: int) -> None:
    seen = np.zeros(n_rows, np.int64)
    lock = threading.Lock()

    def kernel(tag: str, r0: int, r1: int) -> tuple[str, int, int]:
        with lock:
            seen[r0:r1] += 1
        return tag, r0, r1

    old = os.environ.get("RAWLUX_THREADS")
    os.environ["RAWLUX_THREADS"] = str(workers)
    try:
        out = run_bands(kernel, n_rows, "t", align=align, min_rows=min_rows)
    finally:
        if old is None:
            del os.environ["RAWLUX_THREADS"]
        else:
            os.environ["RAWLUX_THREADS"] = old
    assert (seen == 1).all()
    starts = [r0 for _, r0, _ in out]
    assert starts == sorted(starts) and starts[0] == 0 and out[-1][2] == n_rows
    assert all(r0 % align == 0 for r0 in starts)
    assert len(out) <= max(1, workers)


def test_run_bands_nested_inside_a_worker_runs_serially() -> None:
    def inner(r0: int, r1: int) -> int:
        return r1 - r0

    def outer(r0: int, r1: int) -> int:
        return sum(run_bands(inner, 1000))  # would deadlock a saturated pool if it fanned out

    assert sum(run_bands(outer, 4096)) == 1000 * len(run_bands(outer, 4096))


def test_run_bands_propagates_kernel_errors() -> None:
    def kernel(r0: int, r1: int) -> None:
        if r0 > 0:
            raise ValueError(f"band {r0}")

    if jit.threads() > 1:
        with pytest.raises(ValueError, match="band"):
            run_bands(kernel, 1000)


# ------------------------------------------------------------------------------ AOT module


def test_aot_module_is_built_and_loaded_when_expected() -> None:
    module, reason = jit.aot_status()
    if os.environ.get("RAWLUX_EXPECT_AOT") != "1":
        pytest.skip(f"AOT not required here ({reason})")
    assert module is not None, reason
    from rawlux.core.aot import AOT_MODULES, _collect

    kernels = _collect()
    assert {k.py_func.__module__ for k in kernels} == set(AOT_MODULES)
    for k in kernels:
        for i in range(len(k.signatures)):
            assert hasattr(module, k.symbol(i)), k.symbol(i)


def _manifest_copy(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    folder = jit.aot_dir()
    manifest = json.loads((folder / jit.MANIFEST_NAME).read_text())
    edit(manifest)
    (tmp_path / jit.MANIFEST_NAME).write_text(json.dumps(manifest))
    os.symlink(folder / manifest["file"], tmp_path / manifest["file"])
    return tmp_path


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda m: m["sources"].update({"rawlux.core.fused": "0" * 64}), "stale: rawlux.core.fused changed"),
        (lambda m: m["host"].update({"cpu": "another"}), "another interpreter, library version or CPU"),
        (lambda m: m["host"].update({"numpy": "0.0"}), "another interpreter, library version or CPU"),
        (lambda m: m.update({"file": "missing.so"}), "missing file"),
    ],
)
def test_aot_guard_refuses_stale_or_foreign_builds(tmp_path: Path, monkeypatch, edit, reason: str) -> None:  # type: ignore[no-untyped-def]
    if jit.aot_status()[0] is None:
        pytest.skip("no AOT build to tamper with")
    folder = _manifest_copy(tmp_path, edit)
    monkeypatch.setattr(jit, "aot_dir", lambda: folder)
    jit.aot_status.cache_clear()
    try:
        module, why = jit.aot_status()
        assert module is None and reason in why
    finally:
        monkeypatch.undo()
        jit.aot_status.cache_clear()


def test_aot_can_be_switched_off(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RAWLUX_AOT", "0")
    jit.aot_status.cache_clear()
    try:
        assert jit.aot_status() == (None, "disabled by RAWLUX_AOT")
    finally:
        monkeypatch.undo()
        jit.aot_status.cache_clear()


_DEVELOP = textwrap.dedent(
    """
    import sys, numpy as np
    from rawlux.develop import develop
    from rawlux.core.jit import aot_status
    out = {}
    for i, path in enumerate(sys.argv[2:]):
        for look in ("neutral", "authentic", "vibrant", "mono"):
            out[f"{i}-{look}"] = develop(path, look=look).data
    np.savez(sys.argv[1], **out)
    print(aot_status()[1])
    print("numba" in sys.modules, "scipy" in sys.modules)
    """
)


def _develop_in_subprocess(dst: Path, sources: list[Path], aot: bool) -> list[str]:
    env = dict(os.environ, RAWLUX_AOT="1" if aot else "0")
    res = subprocess.run([sys.executable, "-c", _DEVELOP, str(dst), *map(str, sources)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip().splitlines()


def test_aot_and_jit_develop_the_same_photos_and_aot_needs_no_numba(tmp_path: Path, raw_dir: Path) -> None:
    """Every AOT kernel on the develop path gives what its JIT twin gives, and a develop with
    the AOT module never imports numba or scipy. Inputs cover the sparse highlight path and
    local tone mapping (generated scene with blown highlights), lens-shading GainMaps and
    WarpRectilinear (Pixel 7 DNG), and a linear DNG (dense highlight path, matrix kernel)."""
    if jit.aot_status()[0] is None:
        pytest.skip("no AOT build")
    from rawlux.io.dng import write_dng
    from rawlux.synth.sample import make_sample

    scene = tmp_path / "scene.dng"
    write_dng(make_sample(640, 480), scene)
    sources = [scene] + [raw_dir / n for n in ("pixel7_hdrplus_darkframe.dng", "canon_eos_6d.dng")
                         if (raw_dir / n).exists()]
    aot_lines = _develop_in_subprocess(tmp_path / "aot.npz", sources, aot=True)
    jit_lines = _develop_in_subprocess(tmp_path / "jit.npz", sources, aot=False)
    assert aot_lines[0].startswith("loaded") and jit_lines[0] == "disabled by RAWLUX_AOT"
    assert aot_lines[1] == "False False", "a develop with the AOT module imported numba/scipy"
    assert jit_lines[1].startswith("True")
    a, j = np.load(tmp_path / "aot.npz"), np.load(tmp_path / "jit.npz")
    assert len(a.files) == 4 * len(sources)
    for key in a.files:
        assert a[key].shape == j[key].shape
        assert float(np.abs(a[key] - j[key]).max()) <= 2e-5, key
