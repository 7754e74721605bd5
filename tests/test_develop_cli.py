"""End to end: every real raw develops; the develop CLI handles many files and bad input cleanly."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import rawlux
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace, Encoding

RAWLUX = [sys.executable, "-m", "rawlux_launcher"]

REAL_RAWS = {
    # name: (extra open_raw kwargs, expected output size (w, h) or None to skip the size check)
    "pixel7_hdrplus_darkframe.dng": ({}, None),
    "blackmagic_pocket4k_cinemadng.dng": ({}, None),
    "canon_550d_magiclantern_colorchart.dng": ({}, None),
    "nikon_d1.nef": ({}, None),
    "kodak_dc50.kdc": ({}, None),
    "nokia_n900_bayer_small.png": ({"cfa": "GRBG", "white": 1023}, None),
    "iphone12pro_proraw_metadata_only.dng": ({}, None),
    "canon_eos_6d.dng": ({}, None),
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("RAWLUX_DEBUG", None)
    return subprocess.run([*RAWLUX, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_every_shared_raw_is_listed(raw_dir: Path) -> None:
    assert sorted(p.name for p in raw_dir.iterdir() if p.is_file() and p.suffix != ".md") == sorted(
        REAL_RAWS
    )


@pytest.mark.parametrize("name", sorted(REAL_RAWS))
def test_every_real_raw_develops(raw_dir: Path, tmp_path: Path, name: str) -> None:
    src = raw_dir / name
    before = _digest(src)
    kwargs, _ = REAL_RAWS[name]
    raw = rawlux.open_raw(src, **kwargs)
    img = rawlux.develop(raw, look="neutral")
    assert img.space is ColorSpace.SRGB and img.encoding is Encoding.SRGB
    assert img.data.dtype == np.float32 and np.isfinite(img.data).all()
    assert 0.0 <= img.data.min() and img.data.max() <= 1.0
    crop = raw.crop
    h, w = (crop.height, crop.width) if crop else (raw.height, raw.width)
    if raw.metadata.orientation in (5, 6, 7, 8):
        h, w = w, h
    assert abs(img.height - h) <= 2 and abs(img.width - w) <= 2
    if "metadata_only" not in name and "darkframe" not in name:
        # a real scene: not flat, not clipped to one value
        assert img.data.std() > 0.03
        assert 0.05 < img.data.mean() < 0.95
    out = rawlux.save(img, tmp_path / "out.jpg")
    with PILImage.open(out) as im:
        assert im.size == (img.width, img.height)
        assert im.info.get("icc_profile")
    assert _digest(src) == before  # input untouched


def test_cli_develop_sample_and_exif(tmp_path: Path, raw_dir: Path) -> None:
    src = raw_dir / "canon_550d_magiclantern_colorchart.dng"
    out = tmp_path / "chart.jpg"
    res = run_cli("develop", str(src), "-o", str(out), "--look", "neutral", "--quality", "90")
    assert res.returncode == 0, res.stderr
    with PILImage.open(out) as im:
        exif = im.getexif()
        assert im.format == "JPEG"
        assert "Canon" in str(exif.get(0x010F, ""))  # Make


def test_cli_many_inputs_out_dir(tmp_path: Path, raw_dir: Path) -> None:
    srcs = [raw_dir / "kodak_dc50.kdc", raw_dir / "canon_eos_6d.dng"]
    res = run_cli("develop", *map(str, srcs), "--out-dir", str(tmp_path / "o"), "--format", "png",
                  "--look", "neutral")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["canon_eos_6d.png", "kodak_dc50.png"]


def _assert_clean_failure(res: subprocess.CompletedProcess, name: str, out_dir: Path,
                          listing_before: set[str]) -> None:
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert name in lines[0]
    assert "Traceback" not in res.stderr
    assert {p.name for p in out_dir.iterdir()} == listing_before  # no output, no temp file


def _bad_inputs(tmp: Path, raw_dir: Path) -> dict[str, Path]:
    good = (raw_dir / "canon_550d_magiclantern_colorchart.dng").read_bytes()
    cases = {}
    (tmp / "truncated.dng").write_bytes(good[: len(good) // 3])
    cases["truncated"] = tmp / "truncated.dng"
    (tmp / "random.dng").write_bytes(np.random.default_rng(1).bytes(200_000))
    cases["random"] = tmp / "random.dng"
    jpg = tmp / "photo.dng"
    PILImage.new("RGB", (64, 48), (200, 100, 50)).save(jpg, format="JPEG")
    cases["wrong-extension"] = jpg
    (tmp / "empty.nef").write_bytes(b"")
    cases["empty"] = tmp / "empty.nef"
    cases["missing"] = tmp / "does_not_exist.cr2"
    return cases


@pytest.mark.parametrize("case", ["truncated", "random", "wrong-extension", "empty", "missing"])
def test_cli_bad_input_is_one_clean_line(tmp_path: Path, raw_dir: Path, case: str) -> None:
    src = _bad_inputs(tmp_path, raw_dir)[case]
    before = src.read_bytes() if src.exists() else None
    listing = {p.name for p in tmp_path.iterdir()}
    res = run_cli("develop", str(src), "-o", str(tmp_path / "out.jpg"))
    _assert_clean_failure(res, src.name, tmp_path, listing)
    assert not (tmp_path / "out.jpg").exists()
    if before is not None:
        assert src.read_bytes() == before


def test_cli_refuses_to_overwrite_input(tmp_path: Path, raw_dir: Path) -> None:
    src = tmp_path / "in.dng"
    src.write_bytes((raw_dir / "canon_550d_magiclantern_colorchart.dng").read_bytes())
    before = _digest(src)
    res = run_cli("develop", str(src), "-o", str(src))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "in.dng" in res.stderr
    assert _digest(src) == before


def test_cli_bad_options(tmp_path: Path, raw_dir: Path) -> None:
    src = raw_dir / "kodak_dc50.kdc"
    for args, needle in (
        (["--wb", "warm"], "warm"),
        (["--look", "no-such-look"], "no-such-look"),
        (["--color-space", "cmyk"], "cmyk"),
    ):
        res = run_cli("develop", str(src), "-o", str(tmp_path / "x.jpg"), *args)
        assert res.returncode != 0 and needle in res.stderr and "Traceback" not in res.stderr
        assert not (tmp_path / "x.jpg").exists()
    res = run_cli("develop", str(src), "-o", str(tmp_path / "x.bmpx"))
    assert res.returncode != 0 and "bmpx" in res.stderr
    assert not list(tmp_path.iterdir())


def test_develop_api_validates_options() -> None:
    with pytest.raises(InvalidParameter, match="unknown option"):
        rawlux.develop("x.dng", looks="neutral")
    with pytest.raises(InvalidParameter, match="strength"):
        rawlux.develop("x.dng", strength=2.0)


def test_cli_info(raw_dir: Path) -> None:
    res = run_cli("info", str(raw_dir / "pixel7_hdrplus_darkframe.dng"), "--json")
    assert res.returncode == 0, res.stderr
    assert "GainMap" in res.stdout and "WarpRectilinear" in res.stdout and "RGGB" in res.stdout


def test_cli_carries_exif_gps_and_applies_orientation(tmp_path: Path) -> None:
    import datetime as dt
    from dataclasses import replace

    from rawlux.core.image import GPS, Metadata
    from rawlux.io.dng import write_dng
    from rawlux.io.exif import read_metadata
    from rawlux.synth.chart import make_chart

    import pillow_heif

    pillow_heif.register_heif_opener()
    chart = make_chart("D65", patch=16, gap=4)
    meta = Metadata(make="Acme", model="Phone X", lens="Acme 24mm f/1.8", exposure_time=1 / 120,
                    f_number=1.8, iso=400.0, focal_length=6.0, focal_length_35mm=24.0,
                    datetime_original=dt.datetime(2026, 5, 1, 18, 30, 5),
                    gps=GPS(48.8584, 2.2945, 35.0), orientation=6)
    src = tmp_path / "in.dng"
    write_dng(replace(chart.raw, metadata=meta), src)
    raw = rawlux.open_raw(src)
    for ext in (".jpg", ".tif", ".heic"):
        out = tmp_path / f"out{ext}"
        res = run_cli("develop", str(src), "-o", str(out), "--look", "neutral")
        assert res.returncode == 0, res.stderr
        got = read_metadata(out)
        assert (got.make, got.model, got.lens) == (meta.make, meta.model, meta.lens), ext
        assert got.exposure_time == pytest.approx(1 / 120, rel=1e-3)
        assert (got.f_number, got.iso, got.focal_length) == pytest.approx((1.8, 400.0, 6.0))
        assert got.datetime_original == meta.datetime_original
        assert got.gps is not None, ext
        assert (got.gps.latitude, got.gps.longitude) == pytest.approx((48.8584, 2.2945), abs=1e-4)
        assert got.orientation == 1  # orientation 6 was applied to the pixels ...
        with PILImage.open(out) as im:  # ... so the stored image is rotated (portrait)
            assert im.size == (raw.crop.height, raw.crop.width)


def test_cli_p3_embeds_display_p3_profile(tmp_path: Path, raw_dir: Path) -> None:
    from rawlux.io.icc import identify_profile

    src = raw_dir / "canon_550d_magiclantern_colorchart.dng"
    outs = {}
    for space in ("srgb", "p3"):
        outs[space] = tmp_path / f"{space}.png"
        res = run_cli("develop", str(src), "-o", str(outs[space]), "--color-space", space)
        assert res.returncode == 0, res.stderr
    with PILImage.open(outs["srgb"]) as a, PILImage.open(outs["p3"]) as b:
        assert identify_profile(a.info["icc_profile"]) is ColorSpace.SRGB
        assert identify_profile(b.info["icc_profile"]) is ColorSpace.DISPLAY_P3
        # same scene, different encodings: P3 values of saturated colours are less extreme
        assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean() > 1.0


def test_console_entry_keeps_exit_status_and_output(tmp_path: Path) -> None:
    """The ``rawlux`` entry point skips interpreter teardown after a command: its stdout must
    still arrive whole and its exit status must be the command's."""
    ok = run_cli("looks", "list")
    assert ok.returncode == 0 and "authentic" in ok.stdout and "vibrant" in ok.stdout
    usage = run_cli("develop")
    assert usage.returncode == 2 and "Missing argument" in usage.stderr + usage.stdout
    missing = run_cli("develop", str(tmp_path / "none.dng"), "-o", str(tmp_path / "x.jpg"))
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1
    assert "file does not exist" in missing.stderr and not (tmp_path / "x.jpg").exists()
