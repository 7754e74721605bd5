"""The portrait path with the AOT kernel module: same output as the JIT, and no numba at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rawlux.core import jit

# A real portrait through the whole `rawlux portrait` command (subject mask model, layered depth,
# sRGB decode/encode), then the renderer on a synthetic scene with a subject, a ground plane
# receding behind it and a foreground object, through every built-in lens (swirl + cat eye on
# the 50, glow on the 90): every portrait kernel runs at least once.
_PORTRAIT = textwrap.dedent(
    """
    import sys, numpy as np
    from PIL import Image as PILImage
    from rawlux.cli.app import app
    from rawlux.core.jit import aot_status
    from rawlux.core.image import ColorSpace, Encoding, Image, Referred
    from rawlux.portrait.bokeh import render_bokeh
    from rawlux.portrait.lens import load_lens

    dst, src, png = sys.argv[1:4]
    app(["portrait", src, "-o", png, "--lens", "50"], standalone_mode=False)
    out = {"cli": np.asarray(PILImage.open(png))}
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.clip(0.4 + 0.3 * np.sin(xx / 9.0)[..., None] * np.cos(yy / 7.0)[..., None]
                  + 0.05 * np.arange(3, dtype=np.float32), 0, 1)
    rgb[::17, ::23] = 1.0  # clipped point lights -> discs
    disp = (0.1 + 0.5 * (yy / h) ** 2).astype(np.float32)
    disp[((xx - 160) / 60) ** 2 + ((yy - 130) / 90) ** 2 < 1] = 1.0
    disp[(xx > 260) & (yy > 180)] = 2.5
    img = Image(np.ascontiguousarray(rgb, np.float32), ColorSpace.SRGB, Encoding.SRGB,
                Referred.DISPLAY)
    for name in ("35", "50", "75", "90"):
        out[name] = render_bokeh(img, disp, 1.0, load_lens(name)).data
    np.savez(dst, **out)
    print(aot_status()[1])
    print("numba" in sys.modules)
    """
)


def _portrait_in_subprocess(tmp: Path, src: Path, aot: bool) -> tuple[list[str], dict]:
    env = dict(os.environ, RAWLUX_AOT="1" if aot else "0")
    dst = tmp / ("aot.npz" if aot else "jit.npz")
    res = subprocess.run([sys.executable, "-c", _PORTRAIT, str(dst), str(src), str(tmp / "p.png")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    data = np.load(dst)
    return res.stdout.strip().splitlines()[-2:], {k: data[k] for k in data.files}


def test_aot_and_jit_render_the_same_portraits_and_aot_needs_no_numba(tmp_path: Path,
                                                                       shared_data: Path) -> None:
    if jit.aot_status()[0] is None:
        pytest.skip("no AOT build")
    src = shared_data / "portraits" / "kodak_kodim04_woman_red_hat.png"
    aot_lines, a = _portrait_in_subprocess(tmp_path, src, aot=True)
    jit_lines, j = _portrait_in_subprocess(tmp_path, src, aot=False)
    assert aot_lines[0].startswith("loaded") and jit_lines[0] == "disabled by RAWLUX_AOT"
    assert aot_lines[1] == "False", "rawlux portrait with the AOT module imported numba"
    assert jit_lines[1] == "True"
    assert a.keys() == j.keys() and len(a) == 5
    # 8-bit output of the whole command: at most one code value apart, nearly everywhere equal
    diff = np.abs(a["cli"].astype(np.int16) - j["cli"].astype(np.int16))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    for name in ("35", "50", "75", "90"):
        assert a[name].shape == j[name].shape == (240, 320, 3)
        assert float(np.abs(a[name] - j[name]).max()) <= 2e-5, name
    # the lenses render differently (swirl, glow and disc shapes all ran)
    assert float(np.abs(a["50"] - a["75"]).mean()) > 1e-3
    assert float(np.abs(a["90"] - a["75"]).mean()) > 1e-3
