"""Core contract: params validation/recipes, registries, pipeline chain checks, black level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import ContractError, CorruptInput, InvalidParameter
from rawlux.core.image import CFA, ColorSpace, Image, RawImage
from rawlux.core.params import StageParams, param
from rawlux.core.registry import Registry
from rawlux.isp.black_level import (BlackLevelParams, _normalise_mosaic, _normalise_reference,
                                    black_level)
from rawlux.core.pipeline import RAW_DN, RAW_NORM, CAMERA_LINEAR, Contract, Pipeline, Stage, StageDef


@dataclass(frozen=True)
class _P(StageParams):
    gain: float = param(1.0, lo=0.0, hi=4.0, unit="x", doc="gain")
    mode: str = param("a", choices=("a", "b"), doc="mode")


def test_params_bounds_and_choices() -> None:
    assert _P(gain=2.0).gain == 2.0
    with pytest.raises(InvalidParameter, match=r"_P.gain = 5.0 is outside \[0.0, 4.0\] x"):
        _P(gain=5.0)
    with pytest.raises(InvalidParameter, match="not one of: a, b"):
        _P(mode="c")
    with pytest.raises(InvalidParameter, match="finite"):
        _P(gain=float("nan"))


@given(st.floats(0.0, 4.0), st.sampled_from(["a", "b"]))
def test_params_recipe_round_trip(gain: float, mode: str) -> None:
    p = _P(gain=gain, mode=mode)
    assert _P.from_dict(p.to_dict()) == p


def test_params_recipe_rejects_unknown_and_future() -> None:
    with pytest.raises(InvalidParameter, match="no parameter.*bogus"):
        _P.from_dict({"bogus": 1})
    with pytest.raises(InvalidParameter, match="newer"):
        _P.from_dict({"_version": 99})
    assert [f["name"] for f in _P.schema()] == ["gain", "mode"]


def test_registry_lists_valid_names() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("one", 1)
    reg.register("Two")(2)
    assert reg.get("TWO") == 2 and "one" in reg and len(reg) == 2
    with pytest.raises(InvalidParameter, match="unknown widget 'three'; valid: one, two"):
        reg.get("three")


def test_cfa_patterns_and_shift() -> None:
    for cfa in (CFA.RGGB, CFA.BGGR, CFA.GRBG, CFA.GBRG):
        assert CFA.from_pattern(cfa.pattern()) is cfa
        assert cfa.shifted(2, 2) is cfa
    assert CFA.RGGB.shifted(0, 1) is CFA.GRBG
    assert CFA.RGGB.shifted(1, 0) is CFA.GBRG
    assert CFA.RGGB.shifted(1, 1) is CFA.BGGR


def test_image_contract_rejects_bad_arrays() -> None:
    with pytest.raises(ContractError, match="float32"):
        Image(np.zeros((2, 2, 3), np.float64), ColorSpace.SRGB)
    with pytest.raises(ContractError, match=r"\(H, W, 3\)"):
        Image(np.zeros((2, 2), np.float32), ColorSpace.SRGB)
    with pytest.raises(ContractError, match="uint16 or float32"):
        RawImage(np.zeros((2, 2), np.int32), CFA.RGGB, np.zeros((2, 2)), 1.0)
    with pytest.raises(ContractError, match="does not fit CFA"):
        RawImage(np.zeros((2, 2, 3), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1.0)


def _identity(img, params):  # noqa: ANN001
    return img


def test_pipeline_checks_chain_at_build_time() -> None:
    a = StageDef("a", _identity, _P, takes=RAW_DN, gives=RAW_NORM)
    b = StageDef("b", _identity, _P, takes=CAMERA_LINEAR, gives=CAMERA_LINEAR)
    with pytest.raises(ContractError, match="stage b takes Image.*but a gives RawImage"):
        Pipeline([Stage(a, _P()), Stage(b, _P())])
    c = StageDef("c", _identity, _P, takes=RAW_NORM, gives=RAW_NORM)
    p = Pipeline([Stage(a, _P()), Stage(c, _P(gain=2.0))])
    assert p.names() == ["a", "c"]
    rebuilt = Pipeline.from_recipe(p.recipe(), {"a": a, "c": c})
    assert rebuilt.recipe() == p.recipe()
    assert p.replace_params("c", gain=3.0).stages[1].params.gain == 3.0
    # at run time the identity stage "a" breaks its own promise (gives uint16, not float32)
    raw = RawImage(np.zeros((4, 4), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1023.0)
    with pytest.raises(ContractError, match="output of a: expected dtype float32"):
        p.run(raw)


def _raw(data: np.ndarray, black: np.ndarray, white: float, cfa: CFA = CFA.RGGB) -> RawImage:
    return RawImage(np.ascontiguousarray(data), cfa, black.astype(np.float32), white)


def test_black_level_per_site_and_not_clipped() -> None:
    rng = np.random.default_rng(0)
    black = np.array([[64, 66], [65, 63.5]], np.float32)
    data = rng.integers(0, 1024, (6, 8)).astype(np.uint16)
    out = black_level(_raw(data, black, 1023.0))
    assert out.data.dtype == np.float32 and out.white == 1.0 and not out.black.any()
    expect = (data[1, 0] - 65.0) / (1023.0 - 65.0)
    assert out.data[1, 0] == pytest.approx(expect, rel=1e-6)
    assert out.data.min() < 0  # noise below black is kept
    assert out.data.max() <= 1.0 + 1e-6


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**31))
def test_black_level_kernel_equals_reference(h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 65535, (h, w)).astype(np.uint16)
    black = rng.uniform(0, 1000, (2, 2)).astype(np.float32)
    scale = (1.0 / (60000 - black)).astype(np.float32)
    np.testing.assert_allclose(_normalise_mosaic(data, black, scale),
                               _normalise_reference(data, black, scale), rtol=1e-6, atol=1e-7)


def test_black_level_linear_and_bad_levels() -> None:
    data = np.full((2, 3, 3), 600, np.uint16)
    out = black_level(_raw(data, np.array([100, 200, 300], np.float32), 1100.0, CFA.LINEAR))
    np.testing.assert_allclose(out.data[0, 0], [0.5, 400 / 900, 300 / 800], rtol=1e-6)
    with pytest.raises(CorruptInput, match="not below white"):
        black_level(_raw(np.zeros((2, 2), np.uint16), np.full((2, 2), 5000.0), 4095.0))
    assert BlackLevelParams().apply_opcodes1
