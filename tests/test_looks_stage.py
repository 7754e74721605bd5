"""The look stage: neutral is colorimetric, looks move in their intended directions, mono is
grey, skin is protected, local tone mapping has no halos, look files are validated."""

from __future__ import annotations

import dataclasses as dc
import warnings

import numpy as np
import pytest

from rawlux.core.errors import ContractError, InvalidParameter, MissingInput
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.isp.look import STAGE, LookParams, look
from rawlux.looks.registry import get_look, look_names
from rawlux.looks.render import render_look, render_neutral, render_reference
from rawlux.looks.spec import LocalSpec

LUMA = np.array([0.2627, 0.6780, 0.0593])
REQUIRED = {"neutral", "authentic", "vibrant", "natural", "vivid", "mono", "mono-hc", "sepia",
            "blue"}


def _img(data: np.ndarray) -> Image:
    return Image(np.ascontiguousarray(data, np.float32), ColorSpace.REC2020)


def _scene(h: int = 240, w: int = 360, seed: int = 0) -> np.ndarray:
    """A synthetic high-contrast outdoor-like scene, scene-linear Rec.2020 (>= 0).

    Bright sky on top (~3-4 stops above grey), colourful mid-tone ground with smooth texture,
    and a deep shadow region (~5 stops below grey)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.random((12, 18, 3)).astype(np.float32)
    col = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0.02, 1.0)
    tex = cv2.resize(rng.random((60, 90)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_LINEAR)
    refl = col * (0.6 + 0.8 * tex[..., None])
    light = np.full((h, w), 0.25, np.float32)
    light[:, w * 2 // 3:] = 0.012  # shadow
    img = refl * light[..., None]
    img[: h // 4] = np.array([2.2, 2.8, 3.6], np.float32) * (0.9 + 0.2 * tex[: h // 4, :, None])
    return np.ascontiguousarray(img, np.float32)


def _srgb_lab(display_2020: np.ndarray) -> np.ndarray:
    import colour

    from rawlux.color.spaces import rgb_to_xyz

    xyz = display_2020.astype(np.float64) @ rgb_to_xyz(ColorSpace.REC2020).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return colour.XYZ_to_Lab(xyz)


# ------------------------------------------------------------------------------- contract


def test_registry_has_required_looks_and_film_styles() -> None:
    names = set(look_names())
    assert REQUIRED <= names
    assert len(names - REQUIRED) >= 2  # at least two film-inspired styles of our own
    for n in names:
        assert get_look(n).description


def test_neutral_is_colorimetric_below_the_shoulder() -> None:
    x = _scene()
    out = look(_img(x), LookParams(look="neutral"))
    assert out.referred is Referred.DISPLAY and out.space is ColorSpace.REC2020
    assert out.encoding is Encoding.LINEAR
    np.testing.assert_array_equal(out.data, render_neutral(x))
    low = x.max(-1) <= 0.5  # below any knee: colorimetric, untouched
    np.testing.assert_array_equal(out.data[low], x[low])
    assert (out.data >= 1.0).any(-1).mean() < 1e-3  # the bright sky rolls off, no hard clip
    assert LookParams().look == "neutral"


def test_contract_enforced() -> None:
    bad = Image(np.zeros((4, 4, 3), np.float32), ColorSpace.SRGB)
    with pytest.raises(ContractError):
        look(bad, LookParams())
    assert STAGE.name == "look"
    assert STAGE.takes.referred is Referred.SCENE
    assert STAGE.gives_for(LookParams()).referred is Referred.DISPLAY
    assert STAGE.gives_for(LookParams(scene_referred=True)).referred is Referred.SCENE


def test_params_validated() -> None:
    with pytest.raises(InvalidParameter):
        LookParams(strength=1.5)
    with pytest.raises(InvalidParameter):
        LookParams(lut="not a lut")
    with pytest.raises(InvalidParameter, match="unknown look 'nope'.*authentic"):
        look(_img(_scene(16, 16)), LookParams(look="nope"))


@pytest.mark.parametrize("name", sorted(REQUIRED - {"neutral"}) + ["soft-film", "slide", "cine"])
def test_every_look_bounded_and_differs_from_neutral(name: str) -> None:
    x = _scene(120, 180)
    x[0, 0] = np.nan
    x[0, 1] = np.inf
    out = look(_img(x), LookParams(look=name)).data
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out.min() >= 0.0 and out.max() <= 1.0
    neutral = np.clip(np.nan_to_num(x, posinf=1.0), 0, 1)
    assert np.abs(out - neutral).mean() > 0.01


def test_strength_blends_with_neutral() -> None:
    x = _scene(60, 90)
    full = render_look(x, "vivid", 1.0)
    half = render_look(x, "vivid", 0.5)
    zero = look(_img(x), LookParams(look="vivid", strength=0.0)).data
    np.testing.assert_array_equal(zero, render_neutral(x))
    np.testing.assert_allclose(half, 0.5 * (full + zero), atol=1e-5)


@pytest.mark.parametrize("name", ["authentic", "vibrant", "mono-hc", "cine"])
def test_kernel_matches_numpy_reference(name: str) -> None:
    spec = get_look(name)
    spec = dc.replace(spec, grain=dc.replace(spec.grain, amount=0.0))
    x = _scene(150, 200, seed=3)
    np.testing.assert_allclose(render_look(x, spec, 0.8), render_reference(x, spec, 0.8),
                               atol=2e-5)


# --------------------------------------------------------------------- intended directions


def test_monochrome_looks_are_grey() -> None:
    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.color.transfer import srgb_oetf

    x = _scene()
    for name in ("mono", "mono-hc"):
        out = render_look(x, name) @ rgb_to_rgb(ColorSpace.REC2020, ColorSpace.SRGB).T
        enc = np.round(srgb_oetf(np.clip(out, 0, 1)) * 255)
        assert (enc.max(-1) - enc.min(-1)).max() <= 1, name


def test_toned_monochrome_tints() -> None:
    x = _scene()
    sepia, blue = render_look(x, "sepia"), render_look(x, "blue")
    mid = (sepia.mean(-1) > 0.05) & (sepia.mean(-1) < 0.8)
    assert (sepia[..., 0] - sepia[..., 2])[mid].mean() > 0.01  # warm
    assert (blue[..., 2] - blue[..., 0])[mid].mean() > 0.01  # cool


def test_vibrant_vs_authentic() -> None:
    x = _scene()
    lab_v = _srgb_lab(render_look(x, "vibrant"))
    lab_a = _srgb_lab(render_look(x, "authentic"))
    chroma = lambda lab: np.hypot(lab[..., 1], lab[..., 2]).mean()
    assert chroma(lab_v) > chroma(lab_a) * 1.1
    assert lab_v[..., 0].mean() > lab_a[..., 0].mean() + 2.0
    assert np.percentile(lab_a[..., 0], 5) < np.percentile(lab_v[..., 0], 5) - 2.0


def test_mono_hc_has_more_contrast() -> None:
    from rawlux.color.transfer import srgb_oetf

    x = _scene()
    hc, mono = (srgb_oetf(render_look(x, n) @ LUMA) for n in ("mono-hc", "mono"))
    assert np.std(hc) > 1.05 * np.std(mono)  # RMS contrast of the encoded grey, whole frame
    ground = (slice(x.shape[0] // 4, None), slice(0, x.shape[1] * 2 // 3))
    assert np.std(hc[ground]) > 1.25 * np.std(mono[ground])  # and in the lit mid-tones


def _colorchecker_rec2020() -> np.ndarray:
    import colour

    from rawlux.color.spaces import rgb_to_xyz

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sds = colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"]
        cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
        ill = colour.SDS_ILLUMINANTS["D65"]
        xyz = np.array([colour.sd_to_XYZ(sd, cmfs, ill) for sd in sds.values()]) / 100.0
    return xyz @ np.linalg.inv(rgb_to_xyz(ColorSpace.REC2020)).T


def test_skin_protection_on_colorchecker() -> None:
    rgb = _colorchecker_rec2020()
    p = 24
    img = np.full((6 * p, 8 * p, 3), 0.18, np.float32)  # chart on a mid-grey surround
    centres = []
    for k in range(24):
        r, c = divmod(k, 6)
        img[p + r * p + 3: p + (r + 1) * p - 3, p + c * p + 3: p + (c + 1) * p - 3] = rgb[k]
        centres.append((p + r * p + p // 2, p + c * p + p // 2))

    def chroma(name: str) -> np.ndarray:
        lab = _srgb_lab(render_look(img, name))
        return np.array([np.hypot(*lab[y, x, 1:]) for y, x in centres])

    gain = chroma("vibrant") / chroma("neutral") - 1.0
    skin, others = gain[:2], gain[2:18]  # patches 1-2 are dark/light skin; 19-24 are neutrals
    assert others.mean() > 0.15
    assert skin.max() <= 0.5 * others.mean()
    # without protection the skin would gain much more
    spec = get_look("vibrant")
    unprotected = dc.replace(spec, color=dc.replace(spec.color, skin_protection=0.0))
    lab_u = _srgb_lab(render_look(img, unprotected))
    c_u = np.array([np.hypot(*lab_u[y, x, 1:]) for y, x in centres[:2]])
    assert (c_u / chroma("neutral")[:2] - 1.0).mean() > skin.mean() + 0.1


# -------------------------------------------------------------------- local tone mapping


def _halo(spec, h: int = 900, w: int = 1200, e: int = 333) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    img = np.full((h, w, 3), 0.02, np.float32)
    img[:e] = (3.0, 3.4, 4.0)  # bright sky above a dark foreground, edge off the low-res grid
    y = (render_look(img, spec) @ LUMA.astype(np.float32))[:, w // 4: 3 * w // 4].mean(1)
    hi, lo = np.median(y[: e // 2]), np.median(y[e + (h - e) // 2:])
    over = max(np.abs(y[: e - 1] - hi).max(), np.abs(y[e + 1:] - lo).max()) / (hi - lo)
    return float(over), float(hi), float(lo)


@pytest.mark.parametrize("name,size", [("vibrant", (900, 1200, 333)), ("natural", (900, 1200, 333)),
                                       ("vivid", (900, 1200, 333)),
                                       ("vibrant", (1920, 2560, 701))])  # k = 5: sparse guide rows
def test_local_tone_mapping_no_halo(name: str, size: tuple[int, int, int]) -> None:
    over, hi, lo = _halo(get_look(name), *size)
    assert over <= 0.02
    assert hi > lo


def test_local_tone_mapping_lifts_shadows_and_holds_sky() -> None:
    base = get_look("vibrant")
    off = dc.replace(base, local=LocalSpec())
    strong = dc.replace(base, local=LocalSpec(shadows=0.6, highlights=0.4))
    _, hi_off, lo_off = _halo(off)
    over, hi_on, lo_on = _halo(strong)
    assert lo_on > 1.5 * lo_off  # shadows lifted
    assert hi_on < hi_off  # bright sky brought down
    assert over <= 0.02


# ----------------------------------------------------------------------------- look files


def test_user_look_file_and_dir(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "warm.toml"
    f.write_text('name = "warm-test"\ndescription = "d"\n[tone]\ncontrast = 1.2\n'
                 '[split]\nhighlights_amount = 0.03\n')
    spec = get_look(str(f))
    assert spec.name == "warm-test" and spec.tone.contrast == 1.2
    out = look(_img(_scene(40, 60)), LookParams(look=str(f))).data
    assert out.max() <= 1.0
    monkeypatch.setenv("RAWLUX_LOOKS_DIR", str(tmp_path))
    assert "warm-test" in look_names()


@pytest.mark.parametrize("text,needle", [
    ("[tone]\ncontrast = 9.0\n", "tone.contrast"),
    ("[tone]\ncontrats = 1.0\n", "tone.contrats"),
    ("[color]\nsaturation = 'high'\n", "color.saturation"),
    ("[mono]\nmix = [1, 2]\n", "mono.mix"),
    ("[[hue]]\nhue = 10\nwidth = 1000\n", "hue[0].width"),
    ("[bogus]\nx = 1\n", "bogus"),
    ("[tone\ncontrast = 1\n", "malformed TOML"),
])
def test_malformed_look_file_names_file_and_key(tmp_path, text: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(InvalidParameter) as ei:
        get_look(str(f))
    assert str(f) in str(ei.value) and needle in str(ei.value)
    assert "\n" not in str(ei.value)


def test_missing_look_file() -> None:
    with pytest.raises(MissingInput):
        get_look("/nonexistent/dir/x.toml")


# ------------------------------------------------------------------ options and integration


@pytest.mark.parametrize("section,field,value", [
    ("tone", "exposure", 0.5), ("tone", "contrast", 1.4), ("tone", "toe", 0.5),
    ("tone", "black", 0.03), ("tone", "white", 4.0), ("tone", "grey", 0.25),
    ("local", "shadows", 0.5), ("local", "highlights", 0.5), ("local", "detail", 0.5),
    ("color", "saturation", 1.4), ("color", "vibrance", 0.6), ("color", "shadow_saturation", 2.0),
    ("color", "highlight_desaturation", 1.0), ("split", "shadows_amount", 0.05),
    ("split", "highlights_amount", 0.05), ("vignette", "amount", -1.0),
    ("grain", "amount", 0.1), ("mono", "enabled", True),
])
def test_every_look_option_changes_output(section: str, field: str, value: object) -> None:
    x = _scene(90, 120, seed=4)
    spec = get_look("natural")
    changed = dc.replace(spec, **{section: dc.replace(getattr(spec, section), **{field: value})})
    a, b = render_look(x, changed), render_look(x, spec)
    assert np.abs(np.sqrt(a) - np.sqrt(b)).mean() > 1e-3  # compared perceptually (sqrt-encoded)


def test_grain_is_deterministic_and_luminance_only() -> None:
    x = _scene(100, 140)
    a, b = render_look(x, "mono-hc"), render_look(x, "mono-hc")
    np.testing.assert_array_equal(a, b)
    spec = get_look("soft-film")
    nograin = dc.replace(spec, grain=dc.replace(spec.grain, amount=0.0))
    g, n = render_look(x, spec), render_look(x, nograin)
    ratio = g / np.maximum(n, 1e-4)
    ok = (n > 0.05).all(-1) & (g < 0.999).all(-1)
    assert np.ptp(ratio[ok], axis=-1).max() < 1e-3  # one factor for all three channels
    assert np.abs(g - n).mean() > 1e-3


def test_develop_with_looks(raw_dir) -> None:  # type: ignore[no-untyped-def]
    from rawlux.develop import develop
    from rawlux.io.raw import open_raw

    raw = open_raw(raw_dir / "canon_eos_6d.dng")
    neutral = develop(raw, look="neutral").data
    vib = develop(raw, look="vibrant").data
    half = develop(raw, look="vibrant", strength=0.0).data
    assert vib.shape == neutral.shape and vib.min() >= 0 and vib.max() <= 1
    np.testing.assert_allclose(half, neutral, atol=1e-6)
    assert np.abs(vib - neutral).mean() > 0.01
