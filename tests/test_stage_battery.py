"""Per-stage battery over ``stage_definitions()`` x each stage's ``schema()``.

For every develop stage and every parameter: a changed value changes the stage's output on a
small synthetic raw that exercises it (or the parameter is listed in :data:`NO_EFFECT` with the
reason), out-of-bounds values raise a one-line :class:`InvalidParameter` naming the parameter,
NaN/inf input pixels raise a clear error or come out finite, the caller's input is never
modified, and the fused pipeline equals the plain one. The inputs are the real intermediate
images of a 96x64 synthetic raw with every DNG feature the stages read (OpcodeList1/2/3,
default crop, EXIF orientation, clipped highlights, saturated colours).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from rawlux.app.recipe import Recipe, schema
from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.image import (CFA, ColorCalibration, Crop, FixVignetteRadial, GainMap, Metadata,
                               NoiseProfile, RawImage, WarpRectilinear)
from rawlux.core.params import FileRef, StageParams
from rawlux.develop import stage_definitions
from rawlux.core.pipeline import Pipeline, Stage

DEFS = stage_definitions()
SCHEMA = schema()["stages"]
CASES = [(s, f["name"]) for s, st in SCHEMA.items() for f in st["fields"]]

#: Parameters that only act together with another setting: the context the variation runs in.
CONTEXT: dict[tuple[str, str], dict[str, Any]] = {
    ("white_balance", "kelvin"): {"mode": "kelvin"},
    ("white_balance", "tint"): {"mode": "kelvin"},
    ("look", "lut_strength"): {"lut": "LUT"},
    ("output", "compress_threshold"): {"gamut_map": "compress"},
    ("geometry", "interpolation"): {"apply_warp": True},
    # lensfun corrects only when resolved to "lensfun" (auto/dng/off pass the image through)
    ("lensfun", "correction"): {"correction": "lensfun"},
    ("lensfun", "distortion"): {"correction": "lensfun"},
    ("lensfun", "tca"): {"correction": "lensfun"},
    ("lensfun", "vignetting"): {"correction": "lensfun"},
    ("lensfun", "distance"): {"correction": "lensfun"},
}

#: Parameters that act only on a particular input: how to make it from the battery's inputs.
def _plateau(inputs: dict[str, Any]) -> Any:
    """The highlights input of a sensor saturating at 94 % of its declared white level."""
    img = inputs["highlights"]
    h, w = img.data.shape
    sat = np.tile((np.float32(0.94) * img.wb_gains.astype(np.float32))[img.cfa_pattern],
                  (h // 2, w // 2))
    return img.with_data(np.ascontiguousarray(np.minimum(img.data * np.float32(0.94), sat)))


def _scene_look(inputs: dict[str, Any]) -> Any:
    """The output stage's input when the look passes scene-referred values on."""
    return DEFS["look"].fn(inputs["look"], replace(Recipe.default()["look"], scene_referred=True))


def _lensfun_input(inputs: dict[str, Any]) -> Any:
    """The lensfun input as if shot with a camera and lens in the lensfun database."""
    md = replace(inputs["lensfun"].metadata, make="Canon", model="Canon EOS 6D",
                 lens="EF24-105mm f/4L IS USM", focal_length=24.0, f_number=4.0)
    return replace(inputs["lensfun"], metadata=md)


INPUT_FOR: dict[tuple[str, str], Any] = {("highlights", "detect_saturation"): _plateau,
                                         **{("lensfun", f): _lensfun_input for f in
                                            ("correction", "distortion", "tca", "vignetting",
                                             "distance")}}
#: ... and where the changed value needs another input than the default (a coupled setting).
ALT_INPUT_FOR: dict[tuple[str, str], Any] = {("output", "scene_referred"): _scene_look}

#: Parameters documented as not changing the output for the battery's input, and why.
NO_EFFECT: dict[tuple[str, str], str] = {
    ("output", f): "the stage's pixels are the SDR photo either way; the gain map is attached by "
                   "rawlux.app.run.run_pipeline (tests/test_hdr_develop.py)"
    for f in ("hdr", "headroom", "transfer")
}


def _lut_ref(tmp_dir: Any) -> FileRef:
    from rawlux.io.cube import lut_ref, write_cube
    from rawlux.looks.lut import Lut

    g = np.linspace(0, 1, 5, dtype=np.float32)
    b, gg, r = np.meshgrid(g, g, g, indexing="ij")
    t = np.stack([r ** 0.8, gg, b * 0.9], axis=-1).astype(np.float32)
    return lut_ref(write_cube(Lut(np.ascontiguousarray(t)), tmp_dir / "battery.cube"))


def _dcp_ref(lut: FileRef) -> FileRef:
    """A .dcp beside the battery LUT: other colour matrices than the battery raw's."""
    from pathlib import Path

    from rawlux.color.dcp import DngProfile
    from rawlux.io.dcp import write_dcp

    p = Path(lut.path).with_name("battery.dcp")
    if not p.exists():
        cal = ColorCalibration(color_matrix1=np.array(
            [[0.8, -0.2, -0.1], [-0.3, 1.1, 0.2], [0.0, 0.1, 0.7]]), illuminant1=21)
        write_dcp(p, DngProfile(name="battery"), cal)
    return FileRef.of(p)


def battery_raw() -> RawImage:
    """96x64 RGGB raw (12-bit, black 256): sky gradient, saturated patches, textured foliage,
    a dark noisy corner, a blown warm lamp (a glow ramping through the clip level into a clipped
    core); OpcodeList1/2/3, a default crop, EXIF orientation 6, a NoiseProfile."""
    h, w = 64, 96
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (yy / h)[..., None]
    scene = (1 - t) * np.array([0.15, 0.3, 0.55], np.float32) + t * np.array([0.2, 0.35, 0.1], np.float32)
    scene = scene * (0.7 + 0.6 * rng.random((h, w, 1), dtype=np.float32))  # texture
    patches = [(0.7, 0.04, 0.03), (0.05, 0.6, 0.05), (0.03, 0.05, 0.8), (0.75, 0.7, 0.02),
               (0.7, 0.03, 0.6), (0.02, 0.6, 0.7)]
    for k, rgb in enumerate(patches):
        scene[4:14, 40 + 9 * k:48 + 9 * k] = rgb
    scene[48:, 70:] *= 0.02  # deep shadow
    r = np.hypot(yy - 0.5 * h, xx - 0.3 * w)[..., None] / 18.0
    scene += np.clip(2.5 * (1.2 - r), 0, None) * np.array([1.0, 0.75, 0.45], np.float32)  # lamp
    cfa = CFA.RGGB
    mosaic = np.take_along_axis(scene, np.tile(cfa.pattern(), (h // 2, w // 2))[..., None]
                                .astype(np.intp), axis=2)[..., 0]
    mosaic = mosaic + rng.standard_normal((h, w), dtype=np.float32) * np.sqrt(
        2e-4 * np.clip(mosaic, 0, 1) + 4e-6)
    dn = np.clip(np.rint(256 + mosaic * (4095 - 256)), 0, 4095).astype(np.uint16)
    g1 = np.array([[[1.15], [1.0]], [[0.95], [1.1]]], np.float32)
    return RawImage(
        dn, cfa, black=np.full((2, 2), 256.0, np.float32), white=4095.0,
        calibration=ColorCalibration(color_matrix1=np.array(
            [[0.9, -0.3, -0.1], [-0.4, 1.2, 0.2], [-0.05, 0.15, 0.6]]), illuminant1=21,
            as_shot_neutral=np.array([0.55, 1.0, 0.75])),
        noise_profile=NoiseProfile(np.array([[2e-4, 4e-6]] * 3)),
        opcodes1=(GainMap(opcode_id=9, bottom=h, right=w, gains=g1),),
        opcodes2=(FixVignetteRadial(opcode_id=3, k=(0.4, 0.1, 0.0, 0.0, 0.0)),),
        opcodes3=(WarpRectilinear(opcode_id=1, coefficients=np.array([[0.97, 0.05, 0, 0, 0, 0]])),),
        crop=Crop(2, 4, h - 6, w - 10),
        metadata=Metadata(make="rawlux", model="battery", orientation=6),
    )


@pytest.fixture(scope="module")
def lut(tmp_path_factory: pytest.TempPathFactory) -> FileRef:
    return _lut_ref(tmp_path_factory.mktemp("battery"))


@pytest.fixture(scope="module")
def inputs() -> dict[str, Any]:
    """The image each develop stage receives when the default recipe runs on the battery raw."""
    out: dict[str, Any] = {}
    img: Any = battery_raw()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, params in Recipe.default():
            out[name] = img
            img = DEFS[name].fn(img, params)
    return out


def _run(name: str, img: Any, params: StageParams) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DEFS[name].fn(img, params)


def _state(img: Any) -> tuple:
    fields = tuple((f.name, repr(getattr(img, f.name))) for f in dataclasses.fields(img)
                   if f.name != "data")
    return img.data.shape, fields


def _differs(a: Any, b: Any) -> bool:
    if _state(a) != _state(b):
        return True
    return not np.array_equal(a.data, b.data, equal_nan=True)


def _base(name: str, field: str, lut: FileRef) -> StageParams:
    p = Recipe.default()[name]
    ctx = {k: (lut if v == "LUT" else v) for k, v in CONTEXT.get((name, field), {}).items()}
    return replace(p, **ctx)


def _alternatives(f: dict[str, Any], current: Any, lut: FileRef) -> list[Any]:
    """Values other than ``current`` for a field: every other choice, the flipped switch, the
    farther bound of a number, a LUT for a file reference."""
    cur = getattr(current, "value", current)
    if f["type"] == "enum":
        return [c for c in f["choices"] if c != cur]
    if f["type"] == "bool":
        return [not cur]
    if f["type"] in ("int", "float"):
        return [v for v in (f["lo"], f["hi"]) if v != cur]
    if f["type"] == "file":
        ref = _dcp_ref(lut) if f["name"] == "dcp" else lut
        return [ref] if cur is None else [None]
    if f["type"] == "str" and f["name"] == "look":
        return ["vivid" if cur != "vivid" else "mono"]
    raise AssertionError(f"battery has no alternative for {f}")


def _field(name: str, field: str) -> dict[str, Any]:
    return next(f for f in SCHEMA[name]["fields"] if f["name"] == field)


@pytest.mark.parametrize("name, field", CASES, ids=[f"{s}.{f}" for s, f in CASES])
def test_every_option_changes_the_output(name: str, field: str, inputs, lut) -> None:
    if (name, field) in NO_EFFECT:
        pytest.skip(NO_EFFECT[(name, field)])
    base = _base(name, field, lut)
    img = INPUT_FOR[(name, field)](inputs) if (name, field) in INPUT_FOR else inputs[name]
    ref = _run(name, img, base)
    for alt in _alternatives(_field(name, field), getattr(base, field), lut):
        alt_img = ALT_INPUT_FOR[(name, field)](inputs) if (name, field) in ALT_INPUT_FOR else img
        out = _run(name, alt_img, replace(base, **{field: alt}))
        assert _differs(out, ref), f"{name}.{field} = {alt!r} does not change the output"
        assert np.isfinite(out.data).all(), f"{name}.{field} = {alt!r} gives NaN/inf"


@pytest.mark.parametrize("name, field", CASES, ids=[f"{s}.{f}" for s, f in CASES])
def test_out_of_bounds_is_one_line_error(name: str, field: str) -> None:
    f = _field(name, field)
    cls = DEFS[name].params_type
    bad: list[Any] = []
    if f["type"] in ("int", "float"):
        span = f["hi"] - f["lo"]
        bad = [f["lo"] - max(1, span), f["hi"] + max(1, span), float("nan"), "1"]
    elif f["type"] == "enum":
        bad = ["no-such-" + field, 3]
    elif f["type"] == "bool":
        bad = ["yes", 2]
    elif f["type"] == "file":
        bad = [3.5]
    elif f["type"] == "str":
        bad = [7]
    for v in bad:
        with pytest.raises(InvalidParameter) as info:
            cls(**{field: v})
        msg = str(info.value)
        assert "\n" not in msg and f"{cls.__name__}.{field}" in msg, msg
        if f["type"] in ("int", "float") and isinstance(v, float) and np.isfinite(v):
            assert f"[{f['lo']}, {f['hi']}]" in msg and f["unit"] in msg, msg
        if f["type"] == "enum" and isinstance(v, str):
            assert all(c in msg for c in f["choices"]), msg


#: What each float stage does with NaN/inf pixels: "refuse" (one-line error), "sanitise" (finite
#: output), or keep them local: at most N non-finite output pixels per non-finite input pixel
#: (1 = pointwise: only pixels that were non-finite; more = the stage's kernel support). In a pipeline demosaic
#: refuses them, so the stages after it only see them when called directly.
NAN_POLICY: dict[str, str | int] = {
    "lens_shading": 1, "lensfun": 1, "white_balance": 1, "highlights": 1, "denoise": "refuse",
    "demosaic": "refuse", "geometry": 16, "color_transform": 1, "sharpen": 25,
    "look": "sanitise", "output": "sanitise",
}


@pytest.mark.parametrize("name", list(DEFS))
def test_nan_and_inf_input_is_refused_or_sanitised(name: str, inputs) -> None:
    img = inputs[name]
    if img.data.dtype != np.float32:
        pytest.skip("uint16 raw DN cannot hold NaN or inf")
    policy = NAN_POLICY[name]
    data = img.data.copy()
    flat = data.reshape(-1)
    n = flat.size
    flat[n // 3] = np.nan
    flat[n // 2] = np.inf
    flat[2 * n // 3] = -np.inf
    bad = img.with_data(data)
    if policy == "refuse":
        with pytest.raises(RawluxError, match="NaN or infinite") as info:
            _run(name, bad, Recipe.default()[name])
        assert "\n" not in str(info.value)
        return
    out = _run(name, bad, Recipe.default()[name])
    nonfinite = ~np.isfinite(out.data)
    if policy == "sanitise":
        assert not nonfinite.any(), f"{name} passes NaN/inf on"
    elif policy == 1:  # per pixel (a colour matrix mixes the channels of one pixel)
        got, want = nonfinite, ~np.isfinite(data)
        if got.ndim == 3:
            got, want = got.any(axis=-1), want.any(axis=-1)
        assert not (got & ~want).any(), f"{name} moves or spreads NaN/inf"
    else:
        assert nonfinite.sum() <= int(policy) * 3, f"{name} spreads NaN/inf ({nonfinite.sum()} px)"


@pytest.mark.parametrize("name", list(DEFS))
def test_input_is_left_untouched(name: str, inputs) -> None:
    img = inputs[name]
    before = img.data.copy()
    state = _state(img)
    out = _run(name, img, Recipe.default()[name])
    assert np.array_equal(img.data, before, equal_nan=True) and _state(img) == state
    if np.may_share_memory(out.data, img.data):  # only "nothing to do": the input itself
        assert out is img or out.data is img.data


VARIANTS = [
    {},
    {"highlights": "clip"}, {"highlights": "none"},
    {"wb": "auto"}, {"wb": "3200,+20"},
    {"demosaic": "bilinear"},
    {"lens_correction": False}, {"crop": False},
    {"gamut": "clip", "color_space": "p3"},
    {"exposure": 1.5, "denoise": 0.0, "sharpen": 1.0},
    {"scene_referred": True},
    {"look": "mono", "strength": 0.5},
]


@pytest.mark.parametrize("options", VARIANTS, ids=[",".join(f"{k}={v}" for k, v in o.items()) or
                                                   "defaults" for o in VARIANTS])
def test_fused_path_equals_plain_path(options: dict, inputs) -> None:
    raw = inputs["black_level"]
    before = raw.data.copy()
    rec = Recipe.default().with_options(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = rec.pipeline(fuse=True).run(raw)
        plain = rec.pipeline(fuse=False).run(raw)
    assert _state(fused) == _state(plain)
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-5, atol=2e-6)
    assert np.array_equal(raw.data, before)


def test_every_develop_stage_is_in_the_battery() -> None:
    assert list(SCHEMA) == list(DEFS) and all(SCHEMA[n]["fields"] for n in DEFS)
    ran = Pipeline([Stage(DEFS[n], p) for n, p in Recipe.default()])
    assert ran.names() == list(DEFS)
