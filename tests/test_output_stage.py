"""Output stage: matrices, gamut mapping properties, orientation geometry, contracts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.color.spaces import rgb_to_xyz
from rawlux.color.transfer import srgb_eotf, srgb_oetf
from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, Metadata, Referred
from rawlux.isp.output import (
    STAGE,
    OutputParams,
    apply_orientation,
    convert_display,
    convert_display_reference,
    output,
)
from rawlux.core.pipeline import Contract

colour = pytest.importorskip("colour")


def rec2020(data: np.ndarray, orientation: int = 1) -> Image:
    return Image(
        np.ascontiguousarray(data, dtype=np.float32),
        ColorSpace.REC2020,
        Encoding.LINEAR,
        Referred.DISPLAY,
        metadata=Metadata(orientation=orientation),
    )


def to_xy(rgb_lin: np.ndarray, space: ColorSpace) -> np.ndarray:
    xyz = rgb_lin @ rgb_to_xyz(space).T
    return xyz[..., :2] / xyz.sum(-1, keepdims=True)


def test_in_gamut_colours_match_colour_science() -> None:
    """Low-saturation colours (untouched by either gamut map) equal colour-science's conversion."""
    rng = np.random.default_rng(0)
    grey = 0.15 + 0.7 * rng.random((500, 1))
    lin = np.clip(grey + 0.08 * (rng.random((500, 3)) - 0.5), 0, 1).reshape(20, 25, 3)
    for name, space, cs in (("srgb", ColorSpace.SRGB, "sRGB"), ("p3", ColorSpace.DISPLAY_P3, "Display P3")):
        ref = colour.RGB_to_RGB(lin, "ITU-R BT.2020", cs, chromatic_adaptation_transform=None)
        ref_enc = colour.cctf_encoding(np.clip(ref, 0, 1), "sRGB")
        for gm in ("clip", "compress"):
            out = output(rec2020(lin), OutputParams(color_space=name, gamut_map=gm))
            assert out.space is space and out.encoding is Encoding.SRGB and out.referred is Referred.DISPLAY
            assert np.abs(out.data - ref_enc).max() < 5e-4, (name, gm)


def test_kernel_equals_numpy_reference() -> None:
    rng = np.random.default_rng(1)
    d = rng.random((37, 53, 3)).astype(np.float32)
    d[0, 0] = [np.nan, 2.0, -1.0]
    d[0, 1] = [1.0, 0.0, 0.0]
    img = rec2020(d)
    for space in (ColorSpace.SRGB, ColorSpace.DISPLAY_P3):
        for gm in ("clip", "compress"):
            for o in (1, 6, 7):
                a = convert_display(img, space, gamut_map=gm, orientation=o)
                b = convert_display_reference(img, space, gamut_map=gm, orientation=o)
                assert a.shape == b.shape
                assert np.abs(a - b).max() < 2e-4, (space, gm, o)


def test_compress_is_in_gamut_hue_and_luminance_preserving() -> None:
    """Saturated Rec.2020 colours: compress keeps luminance Y and the xy hue line; clip does not."""
    rng = np.random.default_rng(2)
    d = rng.random((4000, 3)) ** 3  # many saturated colours
    y = d @ rgb_to_xyz(ColorSpace.REC2020)[1]
    d = d[(y > 0.02) & (y < 0.9)][:2000].reshape(40, 50, 3)
    src_xy = to_xy(d, ColorSpace.REC2020)
    src_y = d @ rgb_to_xyz(ColorSpace.REC2020)[1]
    white = np.array([0.3127, 0.3290])
    res = {}
    for gm in ("clip", "compress"):
        enc = output(rec2020(d), OutputParams(gamut_map=gm)).data.astype(np.float64)
        assert enc.min() >= 0.0 and enc.max() <= 1.0
        lin = srgb_eotf(enc)
        out_y = lin @ rgb_to_xyz(ColorSpace.SRGB)[1]
        out_xy = to_xy(lin, ColorSpace.SRGB)
        a = np.arctan2(*(src_xy - white).transpose(2, 0, 1)[::-1])
        b = np.arctan2(*(out_xy - white).transpose(2, 0, 1)[::-1])
        hue_err = np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)
        res[gm] = (np.abs(out_y - src_y).max(), np.degrees(hue_err).max())
    assert res["compress"][0] < 2e-3  # luminance kept
    assert res["compress"][1] < 0.5  # hue angle around D65 kept (degrees)
    assert res["clip"][1] > 5 * res["compress"][1]  # clip shifts hue


def test_compress_leaves_low_saturation_alone_and_is_smooth() -> None:
    # A ramp of Rec.2020 red mixtures from grey to the primary: output chroma grows monotonically
    # (no flat clipped plateau) and pale colours are unchanged vs clip.
    t = np.linspace(0, 1, 201)
    grey = np.full(3, 0.3)
    ramp = (grey[None] * (1 - t[:, None]) + np.array([0.9, 0.05, 0.05])[None] * t[:, None])[None]
    comp = srgb_eotf(output(rec2020(ramp), OutputParams()).data[0].astype(np.float64))
    clip = srgb_eotf(output(rec2020(ramp), OutputParams(gamut_map="clip")).data[0].astype(np.float64))
    chroma = comp[:, 0] - comp[:, 1]
    assert np.all(np.diff(chroma) > 0)
    assert np.abs(comp[:40] - clip[:40]).max() < 1e-4
    assert np.abs(np.diff(clip[:, 1])).min() == 0.0  # clip has a flat (clipped) run in green


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), st.sampled_from(["srgb", "p3"]))
def test_compress_output_in_range_property(rgb: list[float], cs: str) -> None:
    out = output(rec2020(np.array(rgb).reshape(1, 1, 3)), OutputParams(color_space=cs)).data
    assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0


def test_saturated_colours_srgb_vs_p3() -> None:
    """A colour outside sRGB but inside P3 is exact in P3 and mapped in sRGB."""
    p3_green = np.array([0.1, 0.8, 0.1])  # linear Display P3, outside sRGB
    m_p3_to_2020 = np.linalg.inv(rgb_to_xyz(ColorSpace.REC2020)) @ rgb_to_xyz(ColorSpace.DISPLAY_P3)
    d = (m_p3_to_2020 @ p3_green)[None, None]
    p3 = output(rec2020(d), OutputParams(color_space="p3", gamut_map="clip")).data[0, 0]
    np.testing.assert_allclose(p3, srgb_oetf(p3_green), atol=1e-4)
    srgb_clip = output(rec2020(d), OutputParams(color_space="srgb", gamut_map="clip")).data[0, 0]
    srgb_comp = output(rec2020(d), OutputParams(color_space="srgb")).data[0, 0]
    exact = np.linalg.inv(rgb_to_xyz(ColorSpace.SRGB)) @ rgb_to_xyz(ColorSpace.REC2020) @ d[0, 0]
    assert exact.min() < 0  # really outside sRGB
    assert srgb_clip.min() == 0.0  # clip: the negative channel is floored
    assert srgb_comp.min() > 0.0  # compress: desaturated toward grey instead
    assert not np.allclose(srgb_comp, srgb_clip, atol=1e-3)


def test_every_option_changes_output() -> None:
    rng = np.random.default_rng(4)
    img = rec2020(rng.random((16, 24, 3)) ** 2, orientation=6)
    base = output(img, OutputParams()).data
    assert base.shape == (24, 16, 3)
    for change in (
        {"color_space": "p3"},
        {"gamut_map": "clip"},
        {"apply_orientation": False},
        {"compress_threshold": 0.6},
    ):
        other = output(img, OutputParams(**change)).data
        assert other.shape != base.shape or np.abs(other - base).max() > 1e-3, change


def _pil_transpose(a: np.ndarray, code: int) -> np.ndarray:
    from PIL import Image as PILImage

    m = {
        2: PILImage.Transpose.FLIP_LEFT_RIGHT,
        3: PILImage.Transpose.ROTATE_180,
        4: PILImage.Transpose.FLIP_TOP_BOTTOM,
        5: PILImage.Transpose.TRANSPOSE,
        6: PILImage.Transpose.ROTATE_270,
        7: PILImage.Transpose.TRANSVERSE,
        8: PILImage.Transpose.ROTATE_90,
    }
    im = PILImage.fromarray(a)
    return np.asarray(im if code == 1 else im.transpose(m[code]))


@pytest.mark.parametrize("code", range(1, 9))
def test_orientation_geometry_all_codes(code: int) -> None:
    """Each EXIF code matches Pillow's exif_transpose mapping, in the stage and the helper."""
    rng = np.random.default_rng(code)
    a8 = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    want = _pil_transpose(a8, code)
    np.testing.assert_array_equal(apply_orientation(a8, code), want)
    # stage: sRGB-encoded sRGB input passes through unchanged except for the geometry
    img = Image(
        a8.astype(np.float32) / 255, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY,
        metadata=Metadata(orientation=code),
    )
    out = output(img, OutputParams(gamut_map="clip"))
    assert out.metadata.orientation == 1
    np.testing.assert_array_equal(np.round(out.data * 255).astype(np.uint8), want)
    kept = output(img, OutputParams(gamut_map="clip", apply_orientation=False))
    assert kept.metadata.orientation == code and kept.data.shape == a8.shape


def test_upright_marker_ends_top_left() -> None:
    # A camera rotated 90 deg CW (EXIF 6): the sky (bright top) is on the left of the stored pixels.
    stored = np.zeros((4, 6, 3), np.float32)
    stored[:, 0] = 1.0  # bright left column = the scene's top
    out = output(rec2020(stored, orientation=6), OutputParams())
    assert out.data.shape == (6, 4, 3)
    assert out.data[0].mean() > 0.99 and out.data[1:].max() < 1e-6


def test_contracts_and_errors() -> None:
    assert STAGE.takes.accepts(Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.DISPLAY))
    assert STAGE.gives_for(OutputParams(color_space="p3")).space is ColorSpace.DISPLAY_P3
    scene = Image(np.zeros((2, 2, 3), np.float32), ColorSpace.REC2020)
    with pytest.raises(ContractError, match="display-referred"):
        output(scene, OutputParams())
    cam = Image(np.zeros((2, 2, 3), np.float32), ColorSpace.CAMERA, referred=Referred.DISPLAY)
    with pytest.raises(ContractError, match="camera"):
        output(cam, OutputParams())
    with pytest.raises(InvalidParameter):
        OutputParams(color_space="adobe")
    with pytest.raises(InvalidParameter):
        OutputParams(gamut_map="squash")
    with pytest.raises(ContractError):
        apply_orientation(np.zeros((2, 2)), 9)


def test_nan_inf_and_out_of_range_input() -> None:
    d = np.array([[[np.nan, np.inf, -np.inf], [2.0, -1.0, 0.5], [0.0, 0.0, 0.0]]], np.float32)
    for gm in ("clip", "compress"):
        out = output(rec2020(d), OutputParams(gamut_map=gm)).data
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        np.testing.assert_array_equal(out[0, 2], 0.0)


def test_bogus_orientation_treated_as_upright() -> None:
    img = rec2020(np.zeros((2, 3, 3)), orientation=0)
    assert output(img, OutputParams()).data.shape == (2, 3, 3)
