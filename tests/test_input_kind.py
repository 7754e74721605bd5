"""One photo-or-raw decision by content (``io.probe.input_kind``), shared by develop/frame/portrait,
and refusal of raws without image data."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from rawlux.cli.app import app
from rawlux.app.inputs import load_raw, open_image
from rawlux.core.errors import CorruptInput, UnsupportedInput
from rawlux.io.probe import input_kind
from rawlux.io.raw import EmptyRawWarning, empty_pixels_reason, open_raw

runner = CliRunner()
DATA_EXT = (".jpg", ".jpeg", ".png", ".heic", ".avif", ".dng", ".nef", ".kdc", ".tif")


def _expected(rel: Path) -> str:
    if rel.parts[0] == "raw" and rel.suffix.lower() != ".png":
        return "raw"
    return "photo"  # the bare Bayer PNG is a raw only when a CFA is given


def test_every_real_file(shared_data: Path) -> None:
    files = [p for p in sorted(shared_data.rglob("*")) if p.is_file() and p.suffix.lower() in DATA_EXT]
    assert len(files) >= 50
    got = {str(p.relative_to(shared_data)): input_kind(p) for p in files}
    want = {str(p.relative_to(shared_data)): _expected(p.relative_to(shared_data)) for p in files}
    assert got == want
    assert sum(v == "raw" for v in got.values()) == 7
    assert input_kind(shared_data / "raw" / "nokia_n900_bayer_small.png", cfa="GRBG") == "raw"


def test_content_not_extension(shared_data: Path, tmp_path: Path) -> None:
    nef_as_jpg = tmp_path / "nikon.jpg"
    shutil.copy(shared_data / "raw" / "nikon_d1.nef", nef_as_jpg)
    kdc_as_tif = tmp_path / "kodak.tif"
    shutil.copy(shared_data / "raw" / "kodak_dc50.kdc", kdc_as_tif)
    jpg_as_nef = tmp_path / "photo.nef"
    shutil.copy(shared_data / "photos" / "IMG_4120.JPG", jpg_as_nef)
    heic_as_dng = tmp_path / "photo.dng"
    shutil.copy(shared_data / "photos" / "iphone_7.heic", heic_as_dng)
    import tifffile

    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    assert input_kind(nef_as_jpg) == "raw" and input_kind(kdc_as_tif) == "raw"
    assert input_kind(jpg_as_nef) == "photo" and input_kind(heic_as_dng) == "photo"
    assert input_kind(tmp_path / "rgb.tif") == "photo"


def test_errors(tmp_path: Path) -> None:
    (tmp_path / "e.nef").write_bytes(b"")
    (tmp_path / "t.jpg").write_text("hello, this is text\n")
    with pytest.raises(CorruptInput, match="empty"):
        input_kind(tmp_path / "e.nef")
    with pytest.raises(UnsupportedInput, match="text file"):
        input_kind(tmp_path / "t.jpg")


def test_empty_pixels_refused(raw_dir: Path) -> None:
    meta_only = raw_dir / "iphone12pro_proraw_metadata_only.dng"
    with pytest.warns(EmptyRawWarning, match="stripped"):  # library users are told too
        stripped = open_raw(meta_only)
    assert "metadata only" in empty_pixels_reason(stripped)
    with pytest.raises(CorruptInput, match="no image to develop"):
        load_raw(meta_only)
    raw = open_raw(raw_dir / "kodak_dc50.kdc")
    assert empty_pixels_reason(raw) is None
    assert empty_pixels_reason(replace(raw, data=np.zeros_like(raw.data))) == "every pixel is zero"
    at_black = replace(raw, data=np.full_like(raw.data, 12), black=np.full((2, 2), 12.0))
    assert "black level" in empty_pixels_reason(at_black)
    dark = open_raw(raw_dir / "pixel7_hdrplus_darkframe.dng")  # noise around black: a real frame
    assert empty_pixels_reason(dark) is None


def test_cli_refuses_empty_and_photo(raw_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    for cmd in ("develop", "frame"):
        res = runner.invoke(app, [cmd, str(raw_dir / "iphone12pro_proraw_metadata_only.dng"),
                                  "-o", str(tmp_path / "o.jpg")])
        assert res.exit_code == 2 and "no image to develop" in res.output
        assert len(res.output.strip().splitlines()) == 1
        assert not (tmp_path / "o.jpg").exists()
    res = runner.invoke(app, ["develop", str(shared_data / "photos" / "IMG_4120.JPG"), "-o",
                              str(tmp_path / "o.jpg")])
    assert res.exit_code == 2 and "not a raw file" in res.output


@pytest.mark.parametrize("name", ["nikon_d1.nef", "kodak_dc50.kdc"])
def test_frame_develops_raws(raw_dir: Path, tmp_path: Path, name: str) -> None:
    from rawlux.frame import apply_frame

    src = raw_dir / name
    out = tmp_path / "framed.png"
    res = runner.invoke(app, ["frame", str(src), "-o", str(out), "--look", "vibrant", "--layout", "border"])
    assert res.exit_code == 0, res.output
    developed = open_image(src, look="vibrant")
    assert min(developed.width, developed.height) > 400  # the mosaic, not the 160-px thumbnail
    expect = apply_frame(developed, "border")
    with PILImage.open(out) as im:
        assert im.size == (expect.width, expect.height)
        framed = np.asarray(im.convert("RGB"), np.float32) / 255
    # --look is honoured: the framed pixels are the vibrant develop, not the neutral one
    neutral = apply_frame(open_image(src, look="neutral"), "border").data
    err_vibrant = np.abs(framed - expect.data).mean()
    err_neutral = np.abs(framed - neutral).mean()
    assert err_vibrant < 0.01 < err_neutral
