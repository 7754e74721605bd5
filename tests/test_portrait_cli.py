"""``rawlux portrait`` command and lens files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from rawlux.cli.app import app
from rawlux.core.errors import InvalidParameter, MissingInput
from rawlux.portrait.lens import BUILTIN_LENSES, LensParams, builtin_lens_path, load_lens

runner = CliRunner()


def test_builtin_lenses_load_and_differ():
    lenses = [load_lens(n) for n in BUILTIN_LENSES]
    assert [lp.focal_length for lp in lenses] == [35.0, 50.0, 75.0, 90.0]
    assert lenses[1].swirl > 0 and lenses[1].cat_eye > 0  # 50 swirly
    assert lenses[2].edge_brightness < 0 and lenses[2].roundness == 1.0  # 75 creamy
    assert lenses[3].glow > 0  # 90 soft focus
    assert lenses[0].falloff < 1 and lenses[0].max_blur < lenses[2].max_blur  # 35 documentary
    assert load_lens("50mm") == lenses[1]


def test_user_lens_file(tmp_path: Path):
    p = tmp_path / "mine.toml"
    text = builtin_lens_path("75").read_text().replace("blades = 11", "blades = 5")
    p.write_text(text.replace("roundness = 1.0", "roundness = 0.0"))
    lp = load_lens(str(p))
    assert isinstance(lp, LensParams) and lp.sides == 5
    p.write_text('[aperture]\nblades = 6\nwobble = 3\n')
    with pytest.raises(InvalidParameter, match="wobble"):
        load_lens(str(p))
    p.write_text('[lens]\nfocal_length = 5000\n')
    with pytest.raises(InvalidParameter, match="focal_length"):
        load_lens(str(p))
    p.write_text('not = [valid')
    with pytest.raises(InvalidParameter):
        load_lens(str(p))
    with pytest.raises(MissingInput):
        load_lens(str(tmp_path / "absent.toml"))
    with pytest.raises(InvalidParameter, match="35, 50, 75, 90"):
        load_lens("85")


def test_cli_depth_file_and_saved_maps(shared_data: Path, tmp_path: Path):
    src = tmp_path / "hut.jpg"
    shutil.copy(shared_data / "depth" / "depthy_hut_image.jpg", src)
    out, dep = tmp_path / "out.jpg", tmp_path / "depth.png"
    r = runner.invoke(app, ["portrait", str(src), "-o", str(out), "--lens", "75",
                            "--depth", str(shared_data / "depth" / "depthy_hut_depth.jpg"),
                            "--focus", "0.2,0.8", "--save-depth", str(dep)])
    assert r.exit_code == 0, r.output
    a = np.asarray(PILImage.open(out)).astype(np.float32)
    b = np.asarray(PILImage.open(src).convert("RGB")).astype(np.float32)
    assert a.shape == b.shape
    # focused on the near bush (lower left): it stays, the far hut (upper right) blurs
    near = np.abs(a[700:900, 20:150] - b[700:900, 20:150]).mean()
    far = np.abs(a[100:300, 350:550] - b[100:300, 350:550]).mean()
    assert far > 2 * near, (near, far)
    d = np.asarray(PILImage.open(dep))
    assert d.shape[:2] == b.shape[:2]


def test_cli_real_gdepth_photo(shared_data: Path, tmp_path: Path):
    out = tmp_path / "a.jpg"
    r = runner.invoke(app, ["portrait", str(shared_data / "depth" / "android_gdepth.jpg"), "-o",
                            str(out), "--lens", "35", "--aperture", "2.8"])
    assert r.exit_code == 0, r.output
    with PILImage.open(out) as im:
        assert im.size == (768, 1024)


def test_cli_errors(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    src = tmp_path / "in.jpg"
    shutil.copy(shared_data / "photos" / "IMG_4120.JPG", src)
    r = runner.invoke(app, ["portrait", str(src), "-o", str(src)])
    assert r.exit_code == 4 and "input" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["portrait", str(src), "-o", str(tmp_path / "o.jpg"), "--lens", "85"])
    assert r.exit_code == 2 and "35, 50, 75, 90" in r.output
    r = runner.invoke(app, ["portrait", str(src), "-o", str(tmp_path / "o.jpg"), "--focus", "2,3"])
    assert r.exit_code == 2 and "--focus" in r.output
    r = runner.invoke(app, ["portrait", str(tmp_path / "nope.jpg"), "-o", str(tmp_path / "o.jpg")])
    assert r.exit_code == 2
    # no model installed and no depth: a one-line error, exit 5, no output file
    monkeypatch.setenv("RAWLUX_PORTRAIT_MODEL", str(tmp_path / "missing.onnx"))
    r = runner.invoke(app, ["portrait", str(src), "-o", str(tmp_path / "o.jpg")])
    assert r.exit_code == 5 and "segmentation model not installed" in r.output
    assert not (tmp_path / "o.jpg").exists()
