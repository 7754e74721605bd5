"""``rawlux frame``: real photos in, framed photos out with EXIF and ICC kept; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rawlux.cli.app import app
from rawlux.frame import load_layout

runner = CliRunner()


def _pil_open(path: Path):  # noqa: ANN202 - test helper
    from PIL import Image as PILImage

    if path.suffix.lower() in (".heic", ".heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
    return PILImage.open(path)


def _framed_size(layout: str, w: int, h: int) -> tuple[int, int]:
    H, W = load_layout(layout).output_size(h, w)
    return W, H


def run(*args: str):  # noqa: ANN201 - test helper
    return runner.invoke(app, ["frame", *args])


def test_list_layouts() -> None:
    res = run("--list-layouts")
    assert res.exit_code == 0
    for name in ("bar", "bar-dark", "border", "polaroid", "minimal"):
        assert name in res.output


@pytest.mark.parametrize("name, layout, ext", [
    ("IMG_4120.JPG", "bar", ".jpg"),
    ("pixel_IMG_20180725_163423_tiny.jpg", "polaroid", ".png"),
    ("samsung_galaxy_s24fe.heic", "bar-dark", ".jpg"),
    ("IMG_4120.JPG", "border", ".heic"),
])
def test_exif_icc_round_trip(shared_data: Path, tmp_path: Path, name: str, layout: str, ext: str) -> None:
    from rawlux.io.exif import read_metadata

    src = shared_data / "photos" / name
    dst = tmp_path / f"framed{ext}"
    logo = tmp_path / "logo.png"
    from PIL import Image as PILImage

    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[10:50, 10:50] = (230, 40, 40, 255)
    PILImage.fromarray(rgba, "RGBA").save(logo)
    res = run(str(src), "-o", str(dst), "--layout", layout, "--logo", str(logo))
    assert res.exit_code == 0, res.output
    from rawlux.io.photo import open_photo

    upright = open_photo(src)  # what the frame receives: EXIF orientation already applied
    with _pil_open(src) as a, _pil_open(dst) as b:
        assert b.size == _framed_size(layout, upright.width, upright.height)
        src_icc, dst_icc = a.info.get("icc_profile"), b.info.get("icc_profile")
        assert dst_icc, "output has no ICC profile"
        if src_icc:
            from PIL import ImageCms

            def desc(icc: bytes) -> str:
                import io

                return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))

            assert desc(src_icc).split()[0].lower() in desc(dst_icc).lower()
    m_src, m_dst = read_metadata(src), read_metadata(dst)
    for f in ("make", "model", "lens", "exposure_time", "f_number", "iso", "focal_length",
              "focal_length_35mm", "datetime_original"):
        a, b = getattr(m_src, f), getattr(m_dst, f)
        if isinstance(a, float):
            assert b == pytest.approx(a, rel=1e-3), f
        else:
            assert b == a, f
    assert m_dst.orientation == 1


def test_orientation_applied_before_framing(shared_data: Path, tmp_path: Path) -> None:
    """A JPEG stored sideways (EXIF orientation 6) gets its frame below the upright photo."""
    src = shared_data / "photos" / "samsung_sm-j327t1.jpg"
    dst = tmp_path / "framed.jpg"
    res = run(str(src), "-o", str(dst), "--layout", "minimal")
    assert res.exit_code == 0, res.output
    with _pil_open(src) as a, _pil_open(dst) as b:
        assert a.getexif().get(274) == 6 and a.width > a.height
        assert b.size == _framed_size("minimal", a.height, a.width)  # upright: portrait
        assert b.getexif().get(274, 1) == 1


def test_photo_region_identical_png(shared_data: Path, tmp_path: Path) -> None:
    """Lossless output: the photo region of the framed PNG equals the source pixels exactly."""
    src = shared_data / "photos" / "IMG_4120.JPG"
    dst = tmp_path / "framed.png"
    res = run(str(src), "-o", str(dst), "--layout", "border")
    assert res.exit_code == 0, res.output
    with _pil_open(src) as a, _pil_open(dst) as b:
        pa, pb = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    h, w = pa.shape[:2]
    lay = load_layout("border")
    t, r, bt, l = lay.margins_px(h, w)
    assert np.abs(pb[t : t + h, l : l + w].astype(int) - pa.astype(int)).max() <= 1


def test_raw_input(raw_dir: Path, tmp_path: Path) -> None:
    src = raw_dir / "canon_eos_6d.dng"
    dst = tmp_path / "framed.jpg"
    res = run(str(src), "-o", str(dst), "--layout", "minimal", "--text", "{camera} · {iso}")
    assert res.exit_code == 0, res.output
    with _pil_open(dst) as b:
        assert b.height > b.width * 0.5 and b.info.get("icc_profile")


def test_bad_template_is_one_clear_line(shared_data: Path, tmp_path: Path) -> None:
    dst = tmp_path / "x.jpg"
    res = run(str(shared_data / "photos" / "IMG_4120.JPG"), "-o", str(dst), "--text", "{model} {lenz}")
    assert res.exit_code == 2
    assert "{lenz}" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not dst.exists()
    res = run(str(shared_data / "photos" / "IMG_4120.JPG"), "-o", str(dst), "--text", "{date:bad}")
    assert res.exit_code == 2 and "{date:bad}" in res.output


def test_missing_logo_names_it(shared_data: Path, tmp_path: Path) -> None:
    dst = tmp_path / "x.jpg"
    logo = tmp_path / "no_such_logo.png"
    res = run(str(shared_data / "photos" / "IMG_4120.JPG"), "-o", str(dst), "--logo", str(logo))
    assert res.exit_code == 2
    assert str(logo) in res.output and "not found" in res.output
    assert not dst.exists()


def test_corrupt_logo_and_unknown_layout(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "photos" / "IMG_4120.JPG"
    bad = tmp_path / "logo.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    res = run(str(src), "-o", str(tmp_path / "x.jpg"), "--logo", str(bad))
    assert res.exit_code == 2 and str(bad) in res.output
    res = run(str(src), "-o", str(tmp_path / "x.jpg"), "--layout", "fancy")
    assert res.exit_code == 2 and "'fancy'" in res.output and "polaroid" in res.output


def test_svg_logo(tmp_path: Path) -> None:
    pytest.importorskip("cairosvg")
    from rawlux.io.logo import load_logo

    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40">'
                   '<rect x="0" y="0" width="40" height="40" fill="#ff0000"/></svg>')
    rgba = load_logo(svg)
    assert rgba.dtype == np.float32 and rgba.shape[2] == 4
    h, w = rgba.shape[:2]
    assert w == 2 * h
    assert rgba[h // 2, w // 4, 3] == 1.0 and rgba[h // 2, 3 * w // 4, 3] == 0.0  # alpha kept
    assert rgba[h // 2, w // 4, 0] == 1.0 and rgba[h // 2, w // 4, 1] == 0.0


def test_png_logo_alpha(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    from rawlux.io.logo import load_logo

    a = np.zeros((10, 20, 4), np.uint8)
    a[:, :10] = (0, 0, 255, 128)
    PILImage.fromarray(a, "RGBA").save(tmp_path / "l.png")
    rgba = load_logo(tmp_path / "l.png")
    assert rgba.shape == (10, 20, 4)
    assert rgba[0, 0, 3] == pytest.approx(128 / 255) and rgba[0, 15, 3] == 0.0
