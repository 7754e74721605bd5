"""Scene-referred output: linear Rec.2020 values (> 1 kept, nothing clipped) round-trip through
float32 TIFF and OpenEXR with their primaries stated; the develop pipeline produces them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rawlux.core.errors import InvalidParameter, OutputError
from rawlux.core.image import ColorSpace, Encoding, Image, Metadata, Referred
from rawlux.io.write import SCENE_PRIMARIES, SCENE_WHITE, save


def scene_image(shape: tuple[int, int] = (37, 53), orientation: int = 1) -> Image:
    rng = np.random.default_rng(5)
    data = (rng.random((*shape, 3)) ** 3 * 40.0).astype(np.float32)  # up to 40: 5 stops over 1
    data[0, 0] = (1e-7, 0.0, 1234.5)
    return Image(data, ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE,
                 metadata=Metadata(make="Acme", model="Scene 1", orientation=orientation))


def test_float_tiff_round_trip_keeps_values_and_states_primaries(tmp_path: Path) -> None:
    import tifffile

    from rawlux.io.icc import identify_profile, profile_description

    img = scene_image()
    p = save(img, tmp_path / "s.tif")
    with tifffile.TiffFile(p) as t:
        page = t.pages[0]
        back = page.asarray()
        tags = page.tags
        assert page.dtype == np.float32 and page.sampleformat == 3
        white = tags["WhitePoint"].value
        prim = tags["PrimaryChromaticities"].value
        icc = tags[34675].value
    np.testing.assert_array_equal(back, img.data)  # bit-exact, values > 1 preserved
    assert back.max() > 1000 and (back > 1).mean() > 0.1
    got_white = [white[i] / white[i + 1] for i in range(0, 4, 2)]
    got_prim = [prim[i] / prim[i + 1] for i in range(0, 12, 2)]
    np.testing.assert_allclose(got_white, SCENE_WHITE, atol=1e-4)
    np.testing.assert_allclose(got_prim, np.ravel(SCENE_PRIMARIES), atol=1e-4)
    assert "2020 linear" in profile_description(bytes(icc))
    assert identify_profile(bytes(icc)) is None  # not mistaken for a display profile
    import pyexiv2

    with pyexiv2.Image(str(p)) as im:
        assert im.read_exif().get("Exif.Image.Model") == "Scene 1"


@pytest.mark.parametrize("bits,rtol", [(32, 0.0), (16, 1e-3)])
def test_exr_round_trip(tmp_path: Path, bits: int, rtol: float) -> None:
    import OpenEXR

    img = scene_image()
    p = save(img, tmp_path / "s.exr", bit_depth=bits if bits == 16 else None)
    f = OpenEXR.File(str(p))
    px = f.channels()["RGB"].pixels
    assert px.dtype == (np.float16 if bits == 16 else np.float32)
    np.testing.assert_allclose(px.astype(np.float32), img.data, rtol=rtol, atol=1e-7)
    chroma = f.header()["chromaticities"]
    np.testing.assert_allclose(chroma, [*np.ravel(SCENE_PRIMARIES), *SCENE_WHITE], atol=1e-6)


def test_scene_and_display_formats_are_not_mixed(tmp_path: Path) -> None:
    img = scene_image()
    for ext in (".jpg", ".png", ".heic"):
        with pytest.raises(OutputError, match=r"float TIFF \(\.tif\) or OpenEXR"):
            save(img, tmp_path / f"s{ext}")
    with pytest.raises(InvalidParameter, match="scene-referred tiff"):
        save(img, tmp_path / "s.tif", bit_depth=16)
    disp = Image(np.zeros((4, 4, 3), np.float32), ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY)
    with pytest.raises(OutputError, match="scene-referred"):
        save(disp, tmp_path / "d.exr")
    assert not list(tmp_path.iterdir())  # nothing written on any error


def test_cli_exr_implies_scene_referred(raw_dir: Path, tmp_path: Path) -> None:
    import OpenEXR

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    src = raw_dir / "kodak_dc50.kdc"  # small; its highlights reach 1.3
    run = [sys.executable, "-m", "rawlux_launcher", "develop", str(src)]
    ok = subprocess.run([*run, "-o", str(tmp_path / "a.exr")], env=env, capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert OpenEXR.File(str(tmp_path / "a.exr")).channels()["RGB"].pixels.max() > 1.0
    bad = subprocess.run([*run, "--scene-referred", "-o", str(tmp_path / "a.jpg")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "scene-referred output is written as float" in bad.stderr
    assert not (tmp_path / "a.jpg").exists()
