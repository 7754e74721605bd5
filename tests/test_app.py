"""rawlux.app: plain-Python command functions (paths + options in, results out), output checks
before work, one raw-or-photo decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rawlux.app.develop import check_develop, develop_file, develop_image
from rawlux.app.frame import FrameOptions, frame_file
from rawlux.app.inputs import open_any
from rawlux.app.outputs import check_outputs
from rawlux.core.errors import InvalidParameter, OutputError, UnsupportedInput
from rawlux.core.image import Image, RawImage
from rawlux.develop import DevelopOptions
from rawlux.io.photo import open_photo


def test_check_outputs_names_the_bad_output(tmp_path: Path) -> None:
    src = tmp_path / "in.jpg"
    src.write_bytes(b"x")
    ok = tmp_path / "a.png"
    assert check_outputs([ok, None], inputs=[src]) == [ok]
    cases = [([tmp_path / "a.bmp"], "unknown output extension '.bmp'"),
             ([tmp_path / "no" / "a.jpg"], "output directory does not exist"),
             ([src], "refusing to overwrite an input file"),
             ([tmp_path], "unknown output extension")]
    for outs, msg in cases:
        with pytest.raises(OutputError, match=msg) as err:
            check_outputs(outs, inputs=[src])
        assert str(outs[0]) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(OutputError, match="two outputs would be written to this same file"):
        check_outputs([ok, tmp_path / "." / "a.png"])


def test_develop_checks_every_output_before_work(tmp_path: Path) -> None:
    opts = DevelopOptions()
    assert check_develop([tmp_path / "a.exr"], opts)["output"].scene_referred  # .exr implies scene
    with pytest.raises(OutputError, match="scene-referred output is written as float"):
        check_develop([tmp_path / "a.exr", tmp_path / "b.jpg"], opts)
    with pytest.raises(OutputError, match="--frame needs display-referred"):
        check_develop([tmp_path / "a.tif"], DevelopOptions(scene_referred=True), frame="bar")
    with pytest.raises(InvalidParameter):
        check_develop([tmp_path / "a.jpg"], DevelopOptions(wb="warm"))
    # a missing input is not opened when the output is bad: the output error comes first
    with pytest.raises(OutputError):
        develop_file(tmp_path / "missing.dng", tmp_path / "x.bmp", opts)
    assert not list(tmp_path.iterdir())


def test_develop_file_and_image_agree_on_a_real_raw(raw_dir: Path, tmp_path: Path) -> None:
    src = raw_dir / "nokia_n900_bayer_small.png"
    img = develop_image(src, DevelopOptions(look="neutral"), cfa="RGGB")
    out = develop_file(src, tmp_path / "n900.png", DevelopOptions(look="neutral"), cfa="RGGB",
                       bit_depth=16)
    back = open_photo(out).data
    assert back.shape == img.data.shape
    assert float(np.abs(back - img.data).max()) < 1.0 / 4000  # 16-bit quantisation only


def test_open_any_decides_by_content(raw_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    assert isinstance(open_any(raw_dir / "canon_eos_6d.dng"), RawImage)
    disguised = tmp_path / "photo.dng"  # a JPEG named like a raw is still a photo
    disguised.write_bytes((shared_data / "photos" / "iphone6.jpg").read_bytes())
    assert isinstance(open_any(disguised), Image)
    with pytest.raises(UnsupportedInput, match="is a JPEG image, not a raw file"):
        develop_image(disguised)


def test_frame_file_plain_python(shared_data: Path, tmp_path: Path) -> None:
    notes: list[str] = []
    out = frame_file(shared_data / "photos" / "iphone6.jpg", tmp_path / "f.jpg",
                     FrameOptions(layout="border", look="vivid"), note=notes.append)
    assert out.is_file() and notes == ["--look applies to raw input only; the photo keeps its rendering"]
