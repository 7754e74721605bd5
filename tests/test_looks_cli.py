"""`rawlux looks list | export | sheet` and the contact sheet composition."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from rawlux.cli.app import app

runner = CliRunner()


def test_looks_list() -> None:
    res = runner.invoke(app, ["looks", "list"])
    assert res.exit_code == 0
    for name in ("neutral", "authentic", "vibrant", "mono-hc", "sepia", "blue"):
        assert name in res.output


def test_export_and_reimport(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rawlux.io.cube import read_cube

    out = tmp_path / "vivid.cube"
    res = runner.invoke(app, ["looks", "export", "vivid", "-o", str(out), "--size", "17"])
    assert res.exit_code == 0, res.output
    lut = read_cube(out)
    assert lut.is_3d and lut.size == 17 and lut.encoding == "srgb-rec709"
    assert "vivid" in lut.title
    # a look is not the identity: mid-grey gets the look's curve, black stays black-ish
    assert np.abs(lut.table - np.linspace(0, 1, 17)[:, None, None, None]).max() > 0.02


def test_export_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = runner.invoke(app, ["looks", "export", "nope", "-o", str(tmp_path / "x.cube")])
    assert res.exit_code == 2
    assert "unknown look 'nope'" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["looks", "export", "vivid", "-o", str(tmp_path / "x.cube"),
                              "--size", "7"])
    assert res.exit_code == 2
    assert not (tmp_path / "x.cube").exists()


def test_compose_tiles_and_labels() -> None:
    from rawlux.looks.sheet import compose

    tiles = [(f"look{i}", np.full((40, 60, 3), 40 * i, np.uint8)) for i in range(5)]
    sheet = compose(tiles, columns=3, gap=10, label_px=12)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    assert sheet.shape[1] == 3 * (60 + 10) + 10
    assert sheet[10 + 20, 10 + 70 + 30].tolist() == [40, 40, 40]  # second tile's centre
    label_band = sheet[10 + 40: 10 + 40 + 16, 10: 70]
    assert label_band.max() > 150  # text drawn under the first tile


@pytest.mark.parametrize("name", ["canon_eos_6d.dng"])
def test_sheet_from_raw(raw_dir, tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    out = tmp_path / "sheet.png"
    res = runner.invoke(app, ["looks", "sheet", str(raw_dir / name), "-o", str(out), "--tile",
                              "160", "--looks", "neutral,authentic,vibrant,mono", "--columns", "2"])
    assert res.exit_code == 0, res.output
    arr = np.asarray(Image.open(out).convert("RGB")).astype(int)
    gap = 12
    tw = (arr.shape[1] - gap) // 2 - gap  # 2 x 2 grid of cells
    cell_h = (arr.shape[0] - gap) // 2 - gap
    th = cell_h - 12 - gap  # label height 12 px for small tiles
    assert tw == 160 or th == 160
    y0, x0 = gap + cell_h + gap, gap + tw + gap  # bottom-right cell: mono
    mono = arr[y0 + 4: y0 + th - 4, x0 + 4: x0 + tw - 4]
    vib = arr[gap + cell_h + gap + 4: gap + cell_h + gap + th - 4, gap + 4: gap + tw - 4]
    assert mono.std() > 10  # a real picture, not background
    assert (mono.max(-1) - mono.min(-1)).max() <= 2  # monochrome tile is grey (lossless PNG)
    assert (vib.max(-1) - vib.min(-1)).mean() > 5  # the colour tile has colour


def test_sheet_from_photo(shared_data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "sheet.jpg"
    src = shared_data / "photos" / "IMG_4120.JPG"
    res = runner.invoke(app, ["looks", "sheet", str(src), "-o", str(out), "--tile", "120"])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 10_000


def test_sheet_bad_look_and_missing(tmp_path, shared_data) -> None:  # type: ignore[no-untyped-def]
    src = shared_data / "photos" / "IMG_4120.JPG"
    res = runner.invoke(app, ["looks", "sheet", str(src), "-o", str(tmp_path / "s.jpg"),
                              "--looks", "vivid,nope"])
    assert res.exit_code == 2 and "nope" in res.output
    res = runner.invoke(app, ["looks", "sheet", str(tmp_path / "none.dng"), "-o",
                              str(tmp_path / "s.jpg")])
    assert res.exit_code != 0 and not (tmp_path / "s.jpg").exists()
