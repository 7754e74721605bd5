""".cube parsing/writing and LUT maths: spec features, malformed files, round trips,
identity, tetrahedral == trilinear on linear functions, kernel == numpy reference, export."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rawlux.core.errors import CorruptInput, InvalidParameter, MissingInput, OutputError
from rawlux.io.cube import format_cube, parse_cube, read_cube, write_cube
from rawlux.looks.lut import (
    Lut,
    apply_3d_reference,
    apply_lut,
    apply_lut_rec2020,
    apply_lut_rec2020_reference,
    identity_lut,
    lut_from_function,
)

SPEC_3D = """# a comment line
TITLE "Spec test"
LUT_3D_SIZE 2
DOMAIN_MIN 0 0 0
DOMAIN_MAX 1 2 4

# data: red changes fastest
0 0 0
1.5 0 0   # trailing comment
0 1 0
1 1 0
0 0 1
1 0 1
0 1 1
1 1 -0.25
"""

SPEC_1D = """TITLE "one d"
LUT_1D_SIZE 3
LUT_1D_INPUT_RANGE 0.0 2.0
0 0 0
0.25 0.5 0.75
1e0 1 1
"""


def test_parse_3d_spec_features() -> None:
    lut = parse_cube(SPEC_3D, "t.cube")
    assert lut.is_3d and lut.size == 2 and lut.title == "Spec test"
    assert lut.domain_max == (1.0, 2.0, 4.0)
    assert lut.table[1, 0, 0, 0] == 1.5  # [r, g, b] indexing, red fastest in the file
    assert lut.table[0, 0, 1, 2] == 1.0
    assert lut.table[1, 1, 1, 2] == -0.25  # values outside 0..1 allowed
    assert "a comment line" in lut.comments
    # domain: input (1, 2, 4) is the last node
    np.testing.assert_allclose(apply_lut(np.array([[1.0, 2.0, 4.0]], np.float32), lut),
                               [[1.0, 1.0, -0.25]])


def test_parse_1d() -> None:
    lut = parse_cube(SPEC_1D, "t.cube")
    assert not lut.is_3d and lut.size == 3 and lut.domain_max == (2.0, 2.0, 2.0)
    out = apply_lut(np.array([[1.0, 1.0, 1.0], [0.5, 0.5, 0.5]], np.float32), lut)
    np.testing.assert_allclose(out, [[0.25, 0.5, 0.75], [0.125, 0.25, 0.375]], atol=1e-6)


@pytest.mark.parametrize("text,needle", [
    ("LUT_3D_SIZE 2\n0 0 0\n", "expected 8 table lines"),
    ("0 0 0\n", "no LUT_1D_SIZE"),
    ("LUT_3D_SIZE 1\n0 0 0\n", "line 1: LUT_3D_SIZE 1"),
    ("LUT_3D_SIZE x\n", "line 1: LUT_3D_SIZE needs one integer"),
    ("LUT_1D_SIZE 2\n0 0 0\n0 0\n", "line 3: table line needs 3 numbers"),
    ("LUT_1D_SIZE 2\n0 0 0\n0 0 abc\n", "line 3: table line has a non-numeric"),
    ("LUT_1D_SIZE 2\n0 0 0\n0 0 nan\n", "line 3: NaN"),
    ("LUT_1D_SIZE 2\nDOMAIN_MIN 0 0\n0 0 0\n1 1 1\n", "line 2: DOMAIN_MIN needs 3"),
    ("LUT_1D_SIZE 2\nDOMAIN_MIN 1 1 1\nDOMAIN_MAX 0 1 1\n0 0 0\n1 1 1\n", "DOMAIN_MIN"),
    ("LUT_1D_SIZE 2\nLUT_3D_SIZE 2\n", "line 2: both"),
    ("LUT_1D_SIZE 2\nFOO 1\n", "line 2: unknown keyword FOO"),
    ("LUT_1D_SIZE 2\n0 0 0\nTITLE \"x\"\n1 1 1\n", "line 3: keyword TITLE after"),
    ("TITLE unquoted\nLUT_1D_SIZE 2\n", "line 1: TITLE must be a quoted"),
])
def test_malformed_cube(tmp_path, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bad.cube"
    f.write_text(text)
    with pytest.raises(CorruptInput) as ei:
        read_cube(f)
    msg = str(ei.value)
    assert str(f) in msg and needle in msg and "\n" not in msg


def test_binary_and_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bin.cube"
    f.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(CorruptInput, match="binary"):
        read_cube(f)
    with pytest.raises(MissingInput):
        read_cube(tmp_path / "none.cube")
    with pytest.raises(OutputError):
        write_cube(identity_lut(3), tmp_path / "x.txt")


@pytest.mark.parametrize("dims", [1, 3])
def test_write_read_round_trip(tmp_path, dims: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    base = identity_lut(9, dims)
    lut = Lut(base.table + rng.normal(0, 0.3, base.table.shape).astype(np.float32),
              (-0.5, 0.0, 0.0), (1.0, 2.0, 1.5), "round trip", "linear-rec2020")
    p = write_cube(lut, tmp_path / "rt.cube")
    back = read_cube(p)
    assert back.title == "round trip" and back.encoding == "linear-rec2020"
    assert back.domain_min == lut.domain_min and back.domain_max == lut.domain_max
    np.testing.assert_allclose(back.table, lut.table, atol=1e-6)
    assert format_cube(back) == format_cube(lut)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, (20, 3), elements=st.floats(-0.5, 1.5, width=32)),
       st.integers(2, 17), st.sampled_from(["tetrahedral", "trilinear"]))
def test_identity_lut_is_identity(x: np.ndarray, size: int, method: str) -> None:
    lut = identity_lut(size)
    np.testing.assert_allclose(apply_lut(x, lut, method), np.clip(x, 0, 1), atol=1e-5)
    np.testing.assert_allclose(apply_lut(x, identity_lut(size, 1)), np.clip(x, 0, 1), atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (3, 3), elements=st.floats(-2, 2)),
       arrays(np.float64, (3,), elements=st.floats(-1, 1)),
       arrays(np.float32, (50, 3), elements=st.floats(0, 1, width=32)), st.integers(2, 9))
def test_tetrahedral_equals_trilinear_on_affine(m: np.ndarray, c: np.ndarray, x: np.ndarray,
                                                size: int) -> None:
    lut = lut_from_function(lambda g: g @ m.T + c, size)
    want = x.astype(np.float64) @ m.T + c
    tet = apply_lut(x, lut, "tetrahedral")
    tri = apply_lut(x, lut, "trilinear")
    np.testing.assert_allclose(tet, tri, atol=1e-4)
    np.testing.assert_allclose(tet, want, atol=1e-4)


def test_kernel_matches_reference_on_nonlinear_lut() -> None:
    rng = np.random.default_rng(1)
    lut = lut_from_function(lambda g: np.stack([g[..., 0] * g[..., 1], np.sin(3 * g[..., 2]),
                                                g[..., 0] ** 2], -1), 13)
    x = rng.random((5000, 3)).astype(np.float32)
    x[:500] = np.round(x[:500] * 12) / 12  # on nodes and ties between fractions
    for method in ("tetrahedral", "trilinear"):
        np.testing.assert_allclose(apply_lut(x, lut, method), apply_3d_reference(x, lut, method),
                                   atol=1e-5)


def test_lut_validation() -> None:
    with pytest.raises(InvalidParameter):
        Lut(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InvalidParameter):
        Lut(np.zeros((4, 3), np.float32), encoding="log")
    with pytest.raises(InvalidParameter):
        Lut(np.zeros((4, 3), np.float32), (0, 0, 0), (0, 1, 1))


def test_lut_in_stage_with_strength() -> None:
    from rawlux.core.image import ColorSpace, Image
    from rawlux.isp.look import LookParams, look

    x = np.random.default_rng(2).random((20, 30, 3)).astype(np.float32) * 0.8
    inv = lut_from_function(lambda g: 1.0 - g, 17)  # invert (in sRGB-encoded Rec.709)
    img = Image(x, ColorSpace.REC2020)
    full = look(img, LookParams(look="neutral", lut=inv)).data
    none = look(img, LookParams(look="neutral", lut=inv, lut_strength=0.0)).data
    half = look(img, LookParams(look="neutral", lut=inv, lut_strength=0.5)).data
    np.testing.assert_array_equal(none, np.clip(x, 0, 1))
    assert np.abs(full - none).mean() > 0.1
    np.testing.assert_allclose(half, 0.5 * (full + none), atol=1e-5)
    ident = apply_lut_rec2020(x * 0.5, identity_lut(33))  # in-gamut greys-ish survive identity
    grey = np.repeat(x[..., :1], 3, -1) * 0.5
    np.testing.assert_allclose(apply_lut_rec2020(grey, identity_lut(33)), grey, atol=1e-4)
    assert ident.shape == x.shape


@pytest.mark.parametrize("encoding", ["srgb-rec709", "linear-rec709", "srgb-rec2020",
                                      "linear-rec2020"])
@pytest.mark.parametrize("interpolation", ["tetrahedral", "trilinear"])
def test_fast_user_lut_matches_reference(encoding: str, interpolation: str) -> None:
    """The numba user-LUT path (fast sRGB transfer) == the exact numpy path within 2e-5, with a
    non-unit domain, outputs outside [0, 1], out-of-range inputs and strength < 1."""
    rng = np.random.default_rng(11)
    table = (rng.random((9, 9, 9, 3)) * 1.3 - 0.15).astype(np.float32)
    lut = Lut(table, domain_min=(-0.1, 0.0, 0.05), domain_max=(1.1, 1.0, 0.9), encoding=encoding,
              interpolation=interpolation)
    x = (rng.random((37, 41, 3)) * 1.4 - 0.2).astype(np.float32)
    x[0, 0] = np.nan
    for strength in (1.0, 0.4):
        got = apply_lut_rec2020(x[1:], lut, strength)
        ref = apply_lut_rec2020_reference(x[1:], lut, strength)
        np.testing.assert_allclose(got, ref, atol=2e-5)
    out = apply_lut_rec2020(x, lut)
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", ["authentic", "vibrant", "mono-hc", "soft-film", "slide", "cine"])
def test_export_reproduces_global_part(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    """neutral rendering -> sRGB -> exported .cube == look's global part, mean dE00 <= 1."""
    import dataclasses as dc

    import colour

    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.color.transfer import srgb_oetf
    from rawlux.core.image import ColorSpace
    from rawlux.looks.export import export_lut
    from rawlux.looks.registry import get_look
    from rawlux.looks.render import render_look
    from rawlux.looks.spec import AdaptSpec, GrainSpec, LocalSpec, VignetteSpec

    spec = get_look(name)
    # the global part: no local tone mapping, vignette, grain or scene adaptation
    glob = dc.replace(spec, local=LocalSpec(), vignette=VignetteSpec(), grain=GrainSpec(),
                      adapt=AdaptSpec())
    rng = np.random.default_rng(5)
    # scene colours inside [0, 1] and inside Rec.709 (what the neutral sRGB rendering can hold)
    to2020 = rgb_to_rgb(ColorSpace.SRGB, ColorSpace.REC2020)
    to709 = rgb_to_rgb(ColorSpace.REC2020, ColorSpace.SRGB)
    scene = ((rng.random((64, 64, 3)) ** 2.2).astype(np.float32) @ to2020.T).astype(np.float32)

    def to_srgb(disp: np.ndarray) -> np.ndarray:
        return srgb_oetf(np.clip(disp @ to709.T, 0, 1)).astype(np.float32)

    neutral = to_srgb(render_look(scene, "neutral"))
    want = to_srgb(render_look(scene, glob))
    path = write_cube(export_lut(spec, 33), tmp_path / f"{name}.cube")
    got = apply_lut(neutral, read_cube(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lab = lambda e: colour.XYZ_to_Lab(colour.sRGB_to_XYZ(e.astype(np.float64)))
        de = colour.delta_E(lab(want), lab(got), method="CIE 2000")
    assert de.mean() <= 1.0
    assert np.percentile(de, 99) <= 3.0
