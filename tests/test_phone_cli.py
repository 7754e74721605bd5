"""CLI: --profile FILE.dcp with --look camera, --lens-correction modes, info rows (issue 17)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RAWLUX = [sys.executable, "-m", "rawlux_launcher"]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAWLUX_DEBUG"}
    env["COLUMNS"] = "250"
    return subprocess.run([*RAWLUX, *args], capture_output=True, text=True, env=env, timeout=300)


def test_profile_camera_look_and_lens_modes(tmp_path: Path, raw_dir: Path) -> None:
    from PIL import Image

    from rawlux.io.dcp import write_dcp
    from rawlux.io.raw import open_raw

    six = open_raw(raw_dir / "canon_eos_6d.dng")
    dcp = write_dcp(tmp_path / "adobe_standard_6d.dcp", six.calibration.profile, six.calibration,
                    "Canon EOS 6D")
    src = raw_dir / "canon_550d_magiclantern_colorchart.dng"
    a, b = tmp_path / "neutral.png", tmp_path / "camera.png"
    r = _run("develop", str(src), "--look", "neutral", "--lens-correction", "off", "-o", str(a))
    assert r.returncode == 0, r.stderr
    r = _run("develop", str(src), "--profile", str(dcp), "--look", "camera",
             "--lens-correction", "lensfun", "-o", str(b))
    assert r.returncode == 0, r.stderr
    x = np.asarray(Image.open(a), np.float64)
    y = np.asarray(Image.open(b), np.float64)
    assert x.shape == y.shape and np.abs(x - y).mean() > 0.5  # another profile, another picture


def test_info_rows(raw_dir: Path) -> None:
    r = _run("info", str(raw_dir / "iphone12pro_proraw_metadata_only.dng"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Apple Embedded Color Profile" in out and "ToneCurve 257 points" in out
    assert "gain table map" in out and "8x6 tables of 257 points" in out
    assert "semanticskymatte" in out
    r = _run("info", str(raw_dir / "canon_eos_6d.dng"))
    assert "Adobe Standard" in r.stdout and "auto uses lensfun" in r.stdout
