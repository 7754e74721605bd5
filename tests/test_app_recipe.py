"""Recipes (rawlux.app.recipe): every stage parameter saved as TOML/JSON, replayed to the same
pixels, migrated from version 1, hashed stably; ``rawlux develop --recipe/--save-recipe/--sidecar``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rawlux
from rawlux.app.recipe import (RECIPE_VERSION, Recipe, load_recipe, recipe_hash, save_recipe,
                               schema, sidecar_path)
from rawlux.core.errors import CorruptInput, InvalidParameter, OutputError
from rawlux.core.params import FileRef
from rawlux.io.cube import write_cube
from rawlux.isp.highlights import HighlightMethod
from rawlux.looks.lut import Lut


def _warm_lut(scale: float = 1.1) -> Lut:
    g = np.linspace(0, 1, 5, dtype=np.float32)
    b, gg, r = np.meshgrid(g, g, g, indexing="ij")
    t = np.stack([np.clip(r * scale, 0, 1), gg, b / scale], axis=-1)
    return Lut(np.ascontiguousarray(t))


@pytest.fixture(scope="module")
def kdc(raw_dir: Path):
    from rawlux.io.raw import open_raw

    return open_raw(raw_dir / "kodak_dc50.kdc")  # a real Bayer raw, 768x512


def invoke(*args: str):
    from typer.testing import CliRunner

    from rawlux.cli.app import app

    return CliRunner().invoke(app, list(args))


def test_round_trip_toml_and_json_and_hash(tmp_path: Path) -> None:
    rec = Recipe.default().with_options(exposure=0.7, highlights="clip", wb="4300,+12",
                                        denoise=0.2).replace("sharpen", overshoot=0.3)
    assert rec["highlights"].method is HighlightMethod.CLIP
    assert rec["white_balance"].kelvin == 4300.0 and rec["white_balance"].tint == 12.0
    for name in ("r.toml", "r.json"):
        back = load_recipe(save_recipe(rec, tmp_path / name))
        assert back == rec and back.hash() == rec.hash() == recipe_hash(rec)
    assert json.loads((tmp_path / "r.json").read_text())["rawlux_recipe"] == RECIPE_VERSION
    assert rec.hash() != Recipe.default().hash()
    assert rec.replace("sharpen", overshoot=0.31).hash() != rec.hash()
    # every stage and every field is written (a None value, e.g. no LUT, is left out)
    data = rec.to_dict()["stages"]
    for name, params in rec:
        assert set(data[name]) - {"_version"} == {f["name"] for f in params.schema()
                                                  if getattr(params, f["name"]) is not None}


def test_partial_recipe_takes_develop_defaults(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('rawlux_recipe = 2\n[stages.color_transform]\nexposure_ev = 1.5\n')
    rec = load_recipe(p)
    assert rec == Recipe.default().with_options(exposure=1.5)
    assert rec["look"].look == "authentic"  # the develop default, not the stage default


@pytest.mark.parametrize("text, cls, needle", [
    ('rawlux_recipe = 9\n', InvalidParameter, "newer"),
    ('[stages.look]\nlook = "x"\n', InvalidParameter, "not a rawlux recipe"),
    ('rawlux_recipe = 2\n[stages.bogus]\nx = 1\n', InvalidParameter, "unknown stage"),
    ('rawlux_recipe = 2\n[stages.highlights]\nmethod = "melt"\n', InvalidParameter,
     "HighlightParams.method = 'melt' is not one of: reconstruct, clip, none"),
    ('rawlux_recipe = 2\n[stages.color_transform]\nexposure_ev = 40\n', InvalidParameter,
     r"exposure_ev = 40.0 is outside \[-10.0, 10.0\] EV"),
    ('rawlux_recipe = 2\n[stages.denoise]\nstrenght = 1\n', InvalidParameter, "no parameter.*strenght"),
    ('rawlux_recipe = [\n', CorruptInput, "malformed recipe"),
    ('rawlux_recipe = 2\n[stages.output]\nscene_referred = true\n', InvalidParameter,
     "must agree"),
])
def test_bad_recipes_fail_with_one_line(tmp_path: Path, text: str, cls: type, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(cls, match=needle) as info:
        load_recipe(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)


def test_v1_recipe_migrates_to_the_same_pixels(tmp_path: Path, kdc) -> None:
    """Version 1 saved the flat develop options with mode strings and a bare LUT path."""
    lut_path = write_cube(_warm_lut(), tmp_path / "warm.cube")
    v1 = {"rawlux_recipe": 1, "options": {
        "look": "natural", "highlights": "clip", "wb": "5000,+5", "exposure": 0.5,
        "demosaic": None, "lut": str(lut_path), "lut_strength": 0.6, "gamut": "clip"}}
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    rec = load_recipe(tmp_path / "v1.json")
    assert rec["highlights"].method is HighlightMethod.CLIP and rec["look"].look == "natural"
    assert isinstance(rec["look"].lut, FileRef) and rec["look"].lut.path == str(lut_path)
    want = rawlux.develop(kdc, look="natural", highlights="clip", wb="5000,+5", exposure=0.5,
                          lut=lut_path, lut_strength=0.6, gamut="clip")
    got = rawlux.develop(kdc, recipe=rec)
    np.testing.assert_array_equal(got.data, want.data)
    # and a v1 look stage (bare LUT path string) migrates on its own too
    from rawlux.isp.look import LookParams

    old = {"_version": 1, "look": "neutral", "lut": str(lut_path)}
    assert LookParams.from_dict(old).lut == FileRef(str(lut_path), "")


def test_same_raw_same_recipe_same_pixels_through_the_cli(tmp_path: Path, raw_dir: Path) -> None:
    src = str(raw_dir / "kodak_dc50.kdc")
    lut_path = write_cube(_warm_lut(), tmp_path / "warm.cube")
    a, b, c = (tmp_path / n for n in ("a.png", "b.png", "c.png"))
    res = invoke("develop", src, "-o", str(a), "--exposure", "0.4", "--highlights", "clip",
                 "--lut", str(lut_path), "--save-recipe", str(tmp_path / "r.toml"), "--sidecar",
                 "--bit-depth", "16")
    assert res.exit_code == 0, res.output
    saved = load_recipe(tmp_path / "r.toml")
    assert load_recipe(sidecar_path(a)) == saved and sidecar_path(a).name == "a.png.rawlux.toml"
    assert saved["color_transform"].exposure_ev == 0.4 and saved["look"].lut.sha256
    res = invoke("develop", src, "-o", str(b), "--recipe", str(tmp_path / "r.toml"),
                 "--bit-depth", "16")
    assert res.exit_code == 0, res.output
    from PIL import Image as PILImage

    pa, pb = (np.asarray(PILImage.open(p)) for p in (a, b))
    np.testing.assert_array_equal(pa, pb)
    # a flag given on the command line overrides the recipe; the others keep the recipe's values
    res = invoke("develop", src, "-o", str(c), "--recipe", str(tmp_path / "r.toml"),
                 "--exposure", "-1", "--save-recipe", str(tmp_path / "r2.json"))
    assert res.exit_code == 0, res.output
    r2 = load_recipe(tmp_path / "r2.json")
    assert r2["color_transform"].exposure_ev == -1.0
    # a switch can be turned off against the recipe too
    scene = tmp_path / "scene.toml"
    save_recipe(saved.with_options(scene_referred=True, lut=None), scene)
    res = invoke("develop", src, "-o", str(tmp_path / "d.png"), "--recipe", str(scene),
                 "--no-scene-referred", "--save-recipe", str(tmp_path / "r3.toml"))
    assert res.exit_code == 0, res.output
    assert not load_recipe(tmp_path / "r3.toml")["output"].scene_referred
    assert r2.replace("color_transform", exposure_ev=0.4) == saved


def test_lut_reference_is_by_content(tmp_path: Path, kdc) -> None:
    lut_path = write_cube(_warm_lut(), tmp_path / "warm.cube")
    import importlib

    pipe = importlib.import_module("rawlux.develop").build_pipeline(None, lut_path)
    recipe = pipe.recipe()  # Pipeline.recipe() serialises a LUT (as path + hash)
    json.dumps(recipe)
    rec = Recipe.default().with_options(lut=lut_path)
    moved = tmp_path / "moved.cube"
    moved.write_bytes(lut_path.read_bytes())
    assert Recipe.default().with_options(lut=moved).hash() == rec.hash()  # path does not count
    save_recipe(rec, tmp_path / "r.toml")
    write_cube(_warm_lut(1.3), lut_path)  # the file changes after the recipe was saved
    import rawlux.io.cube as cube

    cube._RESOLVED.clear()
    with pytest.raises(InvalidParameter, match="LUT content changed") as info:
        rawlux.develop(kdc, recipe=load_recipe(tmp_path / "r.toml"))
    assert "\n" not in str(info.value)
    assert Recipe.default().with_options(lut=lut_path).hash() != rec.hash()
    # a LUT given as an object works, but cannot be saved in a recipe
    obj = Recipe.default().with_options(lut=_warm_lut())
    with pytest.raises(OutputError, match="loaded object"):
        save_recipe(obj, tmp_path / "x.toml")


def test_schema_describes_every_stage_and_option() -> None:
    s = json.loads(json.dumps(schema()))  # JSON-serialisable
    stages = s["stages"]
    assert list(stages) == [n for n, _ in Recipe.default()]
    for name, st in stages.items():
        for f in st["fields"]:
            assert f["doc"], f"{name}.{f['name']} has no doc"
            assert f["type"] in ("bool", "int", "float", "str", "enum", "file"), f
            if f["type"] in ("int", "float"):
                assert f["lo"] is not None and f["hi"] is not None, f"{name}.{f['name']}"
            if f["type"] == "enum":
                assert f["default"] in f["choices"]
    cmds = json.loads(json.dumps(schema(commands=True)["commands"]))
    assert {"night", "portrait", "frame"} <= set(cmds)
    assert any(f["name"] == "aperture" and f["unit"] == "f-number"
               for f in cmds["portrait"]["bokeh"]["fields"])
    opts = {o["name"]: o for o in s["options"]}
    assert opts["highlights"]["choices"] == ["reconstruct", "clip", "none"]
    assert opts["exposure"]["unit"] == "EV" and opts["exposure"]["lo"] == -10.0
    for o in s["options"]:
        for t in o["targets"]:
            stage, _, field = t.partition(".")
            assert stage in stages
            assert not field or field in {f["name"] for f in stages[stage]["fields"]}


def test_develop_api_errors_name_parameter_range_and_unit() -> None:
    with pytest.raises(InvalidParameter, match=r"exposure = 12.0 is outside \[-10.0, 10.0\] EV"):
        rawlux.develop("unused.dng", exposure=12)
    with pytest.raises(InvalidParameter, match="demosaic = 'fast' is not one of: .*rcd"):
        rawlux.develop("unused.dng", demosaic="fast")
    with pytest.raises(InvalidParameter, match="sharpen must be a number"):
        rawlux.develop("unused.dng", sharpen="lots")


def test_look_file_is_referenced_by_path_and_hash(tmp_path: Path, kdc) -> None:
    from rawlux.looks.registry import DATA_DIR

    src = (DATA_DIR / "vivid.toml").read_text()
    look = tmp_path / "mine.toml"
    look.write_text(src.replace('name = "vivid"', 'name = "mine"'))
    rec = Recipe.default().with_options(look=str(look))
    ref = rec["look"].look
    assert isinstance(ref, FileRef) and ref.sha256 and ref.path == str(look.resolve())
    back = load_recipe(save_recipe(rec, tmp_path / "r.toml"))
    assert back == rec
    by_name = rawlux.develop(kdc, look="vivid").data
    np.testing.assert_array_equal(rawlux.develop(kdc, recipe=back).data, by_name)
    look.write_text(src.replace('name = "vivid"', 'name = "mine"') + "\n# edited\n")
    with pytest.raises(InvalidParameter, match="content changed"):
        rawlux.develop(kdc, recipe=back)


def test_import_rawlux_stays_light() -> None:
    """DevelopOptions is derived on first use: ``import rawlux`` imports no stage module."""
    import subprocess
    import sys

    code = ("import sys, rawlux; bad = [m for m in ('rawlux.isp.highlights', 'rawlux.app.recipe', "
            "'hashlib') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    from rawlux.develop import DevelopOptions

    assert DevelopOptions().look == "authentic"


def test_command_sections_round_trip_and_replay(tmp_path: Path, shared_data: Path) -> None:
    """portrait/frame params (files by path + hash) and develop --frame live in the recipe."""
    from rawlux.app.develop import check_develop, frame_layout
    from rawlux.app.frame import FrameOptions
    from rawlux.app.portrait import PortraitOptions
    from rawlux.app.recipe import command_recipe
    from rawlux.core.datafiles import LAYOUTS, content_hash, resolve

    lay = tmp_path / "my.toml"
    lay.write_bytes(resolve(LAYOUTS, "bar").read_bytes())
    opts, rec = command_recipe("frame", {"layout": str(lay), "text": "{model}"},
                               save=tmp_path / "f.json")
    assert isinstance(opts.layout, FileRef) and opts.layout.sha256 == content_hash(lay)
    back = load_recipe(tmp_path / "f.json")
    assert back.command("frame") == opts and back.hash() == rec.hash() != Recipe.default().hash()
    # flags given later override the saved section, the rest is kept
    opts2, _ = command_recipe("frame", {"quality": 80}, tmp_path / "f.json")
    assert opts2.quality == 80 and opts2.text == "{model}" and opts2.layout == opts.layout
    lay.write_text(lay.read_text() + "\n# edited\n")
    with pytest.raises(InvalidParameter, match="content changed"):
        frame_layout(back.with_command("frame", FrameOptions(layout=opts.layout)))
    p, prec = command_recipe("portrait", {"lens": "75", "aperture": 2.8, "focus": [0.4, 0.5]})
    save_recipe(prec, tmp_path / "p.toml")
    pb = load_recipe(tmp_path / "p.toml").command("portrait")
    assert pb == p and pb.focus == (0.4, 0.5) and pb.subject == "auto"
    with pytest.raises(InvalidParameter, match="unknown command section 'bokeh'"):
        Recipe.from_dict({"rawlux_recipe": 2, "commands": {"bokeh": {}}})
    assert PortraitOptions().lens == "50"
    # develop --frame is recorded and replayed
    rec = check_develop([tmp_path / "o.jpg"], {"look": "neutral"}, frame="bar")
    assert frame_layout(rec) == "bar"
    assert frame_layout(Recipe.from_dict(rec.to_dict())) == "bar"
    with pytest.raises(OutputError, match="--frame needs display-referred"):
        check_develop([tmp_path / "o.exr"], None, recipe=rec)


def test_version_2_recipe_with_lens_correction_off_stays_off():
    """Version 2 had no lensfun stage: lens correction off was the DNG shading switched off. It
    must not turn into lensfun "auto" (which corrects raws without DNG opcodes from the database)."""
    off = Recipe.from_dict({"rawlux_recipe": 2, "stages": {"lens_shading": {"enabled": False},
                                                           "geometry": {"apply_warp": False}}})
    assert off["lensfun"] == Recipe.default().with_options(lens_correction="off")["lensfun"]
    assert not off["lens_shading"].enabled and not off["geometry"].apply_warp  # as saved
    on = Recipe.from_dict({"rawlux_recipe": 2, "stages": {"color_transform": {"exposure_ev": 1.0}}})
    assert on == Recipe.default().with_options(exposure=1.0)  # lens correction stays auto
