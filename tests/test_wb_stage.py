"""White balance stage: CLI parsing, gains, per-site application, modes, fallbacks, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.color.camera import camera_profile, kelvin_to_neutral
from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import CFA, ColorCalibration, RawImage
from rawlux.core.pipeline import RAW_NORM
from rawlux.isp.white_balance import (
    STAGE,
    NoAsShotWhite,
    WhiteBalanceParams,
    apply_gains,
    gains_from_neutral,
    parse_wb,
    white_balance,
)

CM_A = np.array([[0.8180, -0.2150, -0.0860], [-0.4480, 1.2530, 0.2050], [-0.0920, 0.2150, 0.6280]])
CM_D65 = np.array(
    [[0.7280, -0.1880, -0.0700], [-0.4300, 1.1750, 0.2850], [-0.0710, 0.1640, 0.6870]]
)


def make_raw(cfa: CFA = CFA.RGGB, neutral=(0.5, 1.0, 0.7), shape=(8, 12), seed=0) -> RawImage:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    data = rng.uniform(0.0, 1.0, size=shape if cfa is not CFA.LINEAR else (*shape, 3)).astype(
        np.float32
    )
    c = ColorCalibration(
        color_matrix1=CM_A, color_matrix2=CM_D65, illuminant1=17, illuminant2=21,
        as_shot_neutral=None if neutral is None else np.asarray(neutral, float),
    )  # fmt: skip
    return RawImage(data, cfa, np.zeros((2, 2), np.float32), 1.0, calibration=c, source="t.dng")


@settings(max_examples=200, deadline=None)
@given(st.floats(1700, 50000), st.one_of(st.none(), st.floats(-150, 150)))
def test_parse_kelvin_round_trip(kelvin: float, tint: float | None) -> None:
    text = f"{kelvin!r}" if tint is None else f"{kelvin!r},{tint!r}"
    p = parse_wb(text)
    assert p.mode == "kelvin" and p.kelvin == kelvin and p.tint == (0.0 if tint is None else tint)


def test_parse_names() -> None:
    assert parse_wb("as-shot") == WhiteBalanceParams(mode="as-shot")
    assert parse_wb(" AUTO ") == WhiteBalanceParams(mode="auto")
    assert parse_wb("5500K") == WhiteBalanceParams(mode="kelvin", kelvin=5500.0)
    assert parse_wb("3200,+12").tint == 12.0


@pytest.mark.parametrize(
    "bad", ["", "daylight", "5500,", "1000", "60000", "5500,200", "5500,1,2", "nan", "inf,3"]
)
def test_parse_errors_name_the_value(bad: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        parse_wb(bad)
    assert repr(bad) in str(e.value) and "\n" not in str(e.value)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=12))
def test_parse_never_crashes_unexpectedly(text: str) -> None:
    try:
        p = parse_wb(text)
    except InvalidParameter:
        return
    assert p.mode in ("as-shot", "auto", "kelvin")


def test_params_bounds() -> None:
    with pytest.raises(InvalidParameter):
        WhiteBalanceParams(mode="kelvin", kelvin=100.0)
    with pytest.raises(InvalidParameter):
        WhiteBalanceParams(mode="sunny")
    with pytest.raises(InvalidParameter):
        WhiteBalanceParams(tint=500.0)


@settings(max_examples=100, deadline=None)
@given(st.tuples(*[st.floats(0.01, 10.0)] * 3))
def test_gains_smallest_is_one(n: tuple[float, float, float]) -> None:
    g = gains_from_neutral(np.array(n))
    assert g.dtype == np.float32
    assert abs(float(g.min()) - 1.0) < 1e-6
    prod = g.astype(np.float64) * np.array(n)
    np.testing.assert_allclose(prod / prod[0], np.ones(3), rtol=1e-6)


@pytest.mark.parametrize("cfa", [CFA.RGGB, CFA.BGGR, CFA.GRBG, CFA.GBRG])
def test_each_site_gets_its_gain(cfa: CFA) -> None:
    raw = make_raw(cfa)
    out = white_balance(raw, WhiteBalanceParams())
    g = out.wb_gains
    np.testing.assert_allclose(g, [2.0, 1.0, 1 / 0.7], rtol=1e-6)
    masks = raw.channel_masks()
    for c in range(3):
        np.testing.assert_allclose(out.data[masks[c]], raw.data[masks[c]] * g[c], rtol=1e-6)
    assert out.data.dtype == np.float32 and raw.wb_gains is None  # input untouched
    RAW_NORM.check(out, "wb")


def test_rolled_cfa_equivariance() -> None:
    raw = make_raw(CFA.RGGB, shape=(10, 10))
    shifted = raw.with_data(np.ascontiguousarray(raw.data[1:, 1:]), cfa=CFA.RGGB.shifted(1, 1))
    shifted = RawImage(shifted.data, shifted.cfa, raw.black, 1.0, calibration=raw.calibration)
    a = white_balance(raw).data[1:, 1:]
    b = white_balance(shifted).data
    np.testing.assert_array_equal(a, b)


def test_linear_raw_and_values_above_one_kept() -> None:
    raw = make_raw(CFA.LINEAR)
    out = white_balance(raw)
    np.testing.assert_allclose(out.data, raw.data * out.wb_gains[None, None, :], rtol=1e-6)
    assert out.data.max() > 1.0


def test_xtrans_pattern() -> None:
    pat = np.array([[1, 1, 0, 1, 1, 2], [1, 1, 2, 1, 1, 0], [2, 0, 1, 0, 2, 1],
                    [1, 1, 2, 1, 1, 0], [1, 1, 0, 1, 1, 2], [0, 2, 1, 2, 0, 1]])  # fmt: skip
    base = make_raw(CFA.RGGB, shape=(12, 12))
    raw = RawImage(
        base.data,
        CFA.XTRANS,
        np.zeros((6, 6), np.float32),
        1.0,
        calibration=base.calibration,
        cfa_pattern=pat,
    )
    out = white_balance(raw)
    m = raw.channel_masks()
    for c in range(3):
        np.testing.assert_allclose(out.data[m[c]], raw.data[m[c]] * out.wb_gains[c], rtol=1e-6)


def test_kelvin_mode_uses_matrices_and_changes_output() -> None:
    raw = make_raw()
    warm = white_balance(raw, parse_wb("3000"))
    cool = white_balance(raw, parse_wb("7500"))
    n = kelvin_to_neutral(camera_profile(raw.calibration), 3000.0)
    np.testing.assert_allclose(warm.wb_gains, gains_from_neutral(n), rtol=1e-6)
    # a warmer light has more red in the neutral: less red gain, more blue gain
    assert warm.wb_gains[0] / warm.wb_gains[2] < cool.wb_gains[0] / cool.wb_gains[2]
    tinted = white_balance(raw, parse_wb("3000,40"))
    # green tint: the light is greener, so green gets relatively less gain
    assert tinted.wb_gains[1] / tinted.wb_gains[0] < warm.wb_gains[1] / warm.wb_gains[0]


def test_as_shot_falls_back_to_auto_with_warning() -> None:
    raw = make_raw(neutral=None)
    with pytest.warns(NoAsShotWhite, match="auto"):
        out = white_balance(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = white_balance(raw, WhiteBalanceParams(mode="auto"))
    np.testing.assert_allclose(out.wb_gains, auto.wb_gains)


def test_contract_errors() -> None:
    raw = make_raw()
    with pytest.raises(ContractError, match="float32"):
        white_balance(RawImage(np.zeros((4, 4), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1023.0))
    done = white_balance(raw)
    with pytest.raises(ContractError, match="already"):
        white_balance(done)
    with pytest.raises(InvalidParameter):
        gains_from_neutral(np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ContractError):
        apply_gains(
            RawImage(np.zeros((4, 4), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1023.0), np.ones(3)
        )


def test_stage_definition() -> None:
    assert STAGE.name == "white_balance" and STAGE.params_type is WhiteBalanceParams
    assert STAGE.takes == RAW_NORM and STAGE.gives == RAW_NORM
