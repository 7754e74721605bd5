"""``rawlux night``: merged-raw DNG round trip, developed photo, clean one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rawpy

from rawlux.app.night import open_burst
from rawlux.burst.merge import merge_burst
from rawlux.core.image import Metadata
from rawlux.io.raw import open_raw
from rawlux.synth.burst import BLACK, WHITE, interior, make_burst, normalised, psnr, write_burst

RAWLUX = [sys.executable, "-m", "rawlux_launcher"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """A real ``rawlux`` process (console output and exit code as a user sees them)."""
    env = {k: v for k, v in os.environ.items() if k != "RAWLUX_DEBUG"}
    return subprocess.run([*RAWLUX, *args], check=False, capture_output=True, text=True, env=env, timeout=300)


def invoke(*args: str):
    """The same command in-process (fast): result has exit_code, stdout, stderr."""
    from typer.testing import CliRunner

    from rawlux.cli.app import app

    res = CliRunner().invoke(app, list(args))
    res.returncode = res.exit_code
    return res


@pytest.fixture(scope="module")
def burst():
    return make_burst("chelsea", 4, noise="high", size=(192, 256), seed=2)


@pytest.fixture(scope="module")
def frames(tmp_path_factory, burst) -> list[Path]:
    return write_burst(burst, tmp_path_factory.mktemp("burst"))


def test_night_dng_round_trip(tmp_path, burst, frames):
    out = tmp_path / "merged.dng"
    res = run_cli("night", *map(str, frames), "-o", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    raw = open_raw(out)
    ref = open_raw(frames[0])
    assert raw.data.shape == ref.data.shape and raw.cfa is ref.cfa
    np.testing.assert_array_equal(raw.black, ref.black)
    assert raw.white == ref.white == WHITE
    np.testing.assert_allclose(raw.calibration.color_matrix1, ref.calibration.color_matrix1, atol=1e-4)
    np.testing.assert_allclose(raw.calibration.as_shot_neutral, ref.calibration.as_shot_neutral, atol=1e-4)
    assert (raw.metadata.make, raw.metadata.model) == (ref.metadata.make, ref.metadata.model)
    assert raw.noise_profile.pairs[0, 0] < 0.6 * ref.noise_profile.pairs[0, 0]
    # pixels: what the library merges, quantised to the reference's DN levels
    lib = merge_burst(open_burst(frames))
    dn = np.clip(np.rint(lib.data * (WHITE - BLACK) + BLACK), 0, WHITE)
    assert np.abs(raw.data.astype(np.float64) - dn).max() <= 1
    m = interior(burst.clean.shape)
    assert psnr(normalised(raw.data), burst.clean, m) > psnr(normalised(ref.data), burst.clean, m) + 3
    with rawpy.imread(str(out)) as rp:
        assert rp.raw_image_visible.shape == ref.data.shape
        assert rp.raw_pattern.tolist() == [[0, 1], [3, 2]]  # RGGB as LibRaw numbers it
        assert rp.white_level == WHITE and list(rp.black_level_per_channel) == [BLACK] * 4
        np.testing.assert_array_equal(rp.raw_image_visible, raw.data)
        assert rp.postprocess().shape[:2] == ref.data.shape
    # and rawlux develops it like any raw
    res = invoke("develop", str(out), "-o", str(tmp_path / "dev.png"))
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "dev.png").stat().st_size > 1000


def test_night_develops_to_a_photo(tmp_path, frames):
    out = tmp_path / "merged.png"
    res = invoke("night", *map(str, frames[:2]), "-o", str(out), "--quiet", "--reference", "1")
    assert res.returncode == 0, res.stderr
    from PIL import Image as PILImage

    with PILImage.open(out) as im:
        assert im.size == (256, 192) or im.size[0] > 100  # default crop may trim a border
        arr = np.asarray(im)
    assert arr.std() > 5  # a real picture, not a flat field


def _assert_clean_error(res, needle: str, out: Path) -> None:
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert needle in lines[0] and "Traceback" not in res.stderr
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*"))  # no temporary leftovers


def test_night_mismatched_camera_writes_nothing(tmp_path, burst, frames):
    other = replace(burst, frames=[replace(burst.frames[1], metadata=Metadata(make="Other", model="X"))])
    odd = write_burst(other, tmp_path, stem="other")[0]
    out = tmp_path / "out.dng"
    res = invoke("night", str(frames[0]), str(odd), "-o", str(out), "--quiet")
    _assert_clean_error(res, f"{odd}: camera 'Other X' differs", out)
    assert res.returncode == 2


def test_night_mismatched_size_writes_nothing(tmp_path, burst, frames):
    small = replace(burst, frames=[burst.frames[1].with_data(np.ascontiguousarray(burst.frames[1].data[:-2]))])
    odd = write_burst(small, tmp_path, stem="small")[0]
    out = tmp_path / "out.jpg"
    res = invoke("night", str(frames[0]), str(odd), "-o", str(out), "--quiet")
    _assert_clean_error(res, f"{odd}: frame size 256x190 differs", out)


def test_night_unreadable_frame_writes_nothing(tmp_path, frames):
    junk = tmp_path / "junk.dng"
    junk.write_bytes(os.urandom(2000))
    out = tmp_path / "out.dng"
    res = invoke("night", str(frames[0]), str(junk), "-o", str(out), "--quiet")
    _assert_clean_error(res, str(junk), out)


def test_night_refuses_to_overwrite_an_input(frames):
    before = frames[1].read_bytes()
    res = invoke("night", *map(str, frames[:2]), "-o", str(frames[1]), "--quiet")
    assert res.returncode != 0 and "input" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert frames[1].read_bytes() == before


def test_night_recipe_records_reference_merge_and_look(tmp_path, frames):
    """--save-recipe writes night + merge + develop sections; --recipe replays them exactly."""
    from rawlux.app.recipe import load_recipe

    out, rec = tmp_path / "a.png", tmp_path / "n.toml"
    res = invoke("night", *map(str, frames[:2]), "-o", str(out), "--quiet", "--reference", "1",
                 "--look", "neutral", "--save-recipe", str(rec))
    assert res.returncode == 0, res.stderr
    r = load_recipe(rec)
    assert r.command("night").reference == 1 and r.command("night_merge") is not None
    assert r["look"].look == "neutral"
    again = tmp_path / "b.png"
    res = invoke("night", *map(str, frames[:2]), "-o", str(again), "--quiet", "--recipe", str(rec))
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == again.read_bytes()
