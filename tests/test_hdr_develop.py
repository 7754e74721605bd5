"""``develop --hdr``: one develop gives the look's photo (unchanged) plus a gain map whose HDR
rendition follows the scene's radiance in the highlights (synthetic raw with known radiance)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import rawlux
from rawlux.hdr.render import gainmap_of
from rawlux.io.gainmap import read_jpeg_gainmap
from rawlux.synth.burst import COLOR_MATRIX, _SRGB_TO_XYZ, camera_neutral, frame_raw, quantise
from rawlux.synth.images import mosaic

imagecodecs = pytest.importorskip("imagecodecs")

STOPS = np.arange(-3, 6)  # patch radiances: mid grey * 2**k
MID = 0.02  # mid grey in normalised raw units: +5 EV still below raw white (0.64)
EXPOSURE = 3.0  # develop exposure: mid grey -> 0.16 (scene), highlights up to ~2.3 EV over white


def _scene_raw(h: int = 144, w: int = 216) -> tuple[rawlux.RawImage, np.ndarray]:
    """A raw of 9 grey patches (radiance known) on a row, plus its per-pixel patch index."""
    idx = np.minimum((np.arange(w) * len(STOPS)) // w, len(STOPS) - 1)
    lin = np.repeat((MID * 2.0 ** STOPS[idx])[None, :, None], h, 0).repeat(3, 2)
    cam = lin @ (COLOR_MATRIX @ _SRGB_TO_XYZ).T / camera_neutral()[1]
    cam = cam * camera_neutral()[None, None, :] / (COLOR_MATRIX @ _SRGB_TO_XYZ @ np.ones(3))
    raw = frame_raw(quantise(mosaic(cam.astype(np.float32))), (1e-6, 1e-8))
    return raw, np.repeat(idx[None, :], h, 0)


@pytest.mark.parametrize("look", ["neutral", "authentic"])
def test_hdr_rendition_matches_scene_radiance(look: str, tmp_path: Path) -> None:
    raw, idx = _scene_raw()
    sdr = rawlux.develop(raw, look=look, exposure=EXPOSURE, denoise=0.0, sharpen=0.0)
    both = rawlux.develop(raw, look=look, exposure=EXPOSURE, denoise=0.0, sharpen=0.0,
                          hdr=True)
    assert np.array_equal(sdr.data, both.data)  # the SDR base IS the look's output
    gm = gainmap_of(both)
    assert gm is not None and gm.data.shape[:2] == (36, 54)
    assert 1.5 < gm.meta.capacity_max <= 3.0  # scene needs ~2.3 EV over SDR white
    out = tmp_path / "hdr.jpg"
    rawlux.save(both, out, quality=95)
    plain = tmp_path / "sdr.jpg"
    rawlux.save(sdr, plain, quality=95)
    data = out.read_bytes()
    assert imagecodecs.ultrahdr_check(data)
    a = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"), np.int16)
    b = np.asarray(PILImage.open(plain).convert("RGB"), np.int16)
    assert np.array_equal(a, b)  # same encoder, same pixels: the base equals the plain JPEG
    hdr = imagecodecs.ultrahdr_decode(data).astype(np.float32)[..., 1]
    # radiance of each patch relative to mid grey, read in the patch centres
    w = idx.shape[1] // len(STOPS)
    meas = np.array([np.median(hdr[40:-40, k * w + 6:(k + 1) * w - 6]) for k in range(len(STOPS))])
    rel = np.log2(meas / meas[3])  # patch 3 = mid grey (k = 0)
    err = rel - STOPS + STOPS[3]
    # highlights (>= +2 EV, SDR already compressing or clipping): within 0.5 EV of the scene,
    # until the headroom's roll-off
    for k in range(5, len(STOPS)):
        if meas[k] < 0.8 * 2 ** gm.meta.capacity_max:
            assert abs(err[k]) < 0.5, (look, k, rel)
    sdr_lin = b[..., 1].astype(np.float32)
    top = np.array([np.median(sdr_lin[40:-40, k * w + 6:(k + 1) * w - 6]) for k in range(len(STOPS))])
    assert top[-1] - top[-2] < 8  # SDR has (almost) no separation left between the top patches
    assert rel[-1] - rel[-2] > 0.4  # the HDR rendition has


def test_no_highlights_no_gain() -> None:
    raw, _ = _scene_raw()
    dim = raw.with_data(np.minimum(raw.data, np.uint16(2000)))
    gm = gainmap_of(rawlux.develop(dim, look="neutral", hdr=True))
    assert gm.meta.capacity_max <= 0.1 and int(gm.data.max()) - int(gm.data.min()) <= 255


def test_headroom_caps_the_rendition() -> None:
    raw, _ = _scene_raw()
    gm = gainmap_of(rawlux.develop(raw, look="neutral", exposure=EXPOSURE, hdr=True, headroom=1.0))
    assert gm.meta.capacity_max == pytest.approx(1.0)


def test_cli_hdr_and_bad_outputs(raw_dir: Path, tmp_path: Path) -> None:
    src = raw_dir / "canon_eos_6d.dng"
    run = lambda *a: subprocess.run([sys.executable, "-m", "rawlux_launcher", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    r = run("develop", str(src), "-o", str(tmp_path / "x.png"), "--hdr")
    assert r.returncode != 0 and "cannot hold an HDR rendition" in r.stderr and r.stderr.count("\n") == 1
    r = run("develop", str(src), "-o", str(tmp_path / "x.jpg"), "--headroom", "2")
    assert r.returncode != 0 and "--headroom applies with --hdr only" in r.stderr
    r = run("develop", str(src), "-o", str(tmp_path / "x.jpg"), "--hdr", "--headroom", "2")
    assert r.returncode == 0, r.stderr
    found = read_jpeg_gainmap((tmp_path / "x.jpg").read_bytes())
    assert found is not None and found.kind == "ultrahdr"


def test_bt2100_transfer_functions() -> None:
    from rawlux.color.bt2100 import HLG_REF_WHITE, hlg_oetf, pq_eotf, pq_oetf

    nits = np.array([0.0, 0.1, 1.0, 100.0, 203.0, 1000.0, 10000.0])
    assert np.allclose(pq_eotf(pq_oetf(nits)), nits, rtol=1e-6, atol=1e-6)
    assert pq_oetf(np.array([100.0]))[0] == pytest.approx(0.5081, abs=2e-4)  # ST 2084 table
    assert pq_oetf(np.array([203.0]))[0] == pytest.approx(0.58, abs=0.005)  # BT.2408
    assert hlg_oetf(np.array([HLG_REF_WHITE]))[0] == pytest.approx(0.75, abs=0.002)
    assert hlg_oetf(np.array([1.0]))[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_hdr_avif_output(transfer: str, tmp_path: Path) -> None:
    from rawlux.color.bt2100 import SDR_WHITE_NITS, pq_eotf

    raw, idx = _scene_raw()
    img = rawlux.develop(raw, look="neutral", exposure=EXPOSURE, denoise=0.0, sharpen=0.0,
                         hdr=True, transfer=transfer)
    out = tmp_path / "hdr.avif"
    rawlux.save(img, out, quality=95)
    code = imagecodecs.avif_decode(out.read_bytes())
    assert code.dtype == np.uint16 and int(code.max()) <= 1023
    w = idx.shape[1] // len(STOPS)
    sig = np.array([np.median(code[40:-40, k * w + 6:(k + 1) * w - 6, 1]) for k in range(len(STOPS))]) / 1023
    assert np.all(np.diff(sig) > 0)  # every highlight patch stays separate, none clipped
    if transfer == "pq":
        nits = pq_eotf(sig)
        from rawlux.color.transfer import srgb_eotf

        sdr_mid = float(srgb_eotf(np.median(img.data[40:-40, 3 * w + 6:4 * w - 6, 1])))
        assert nits[3] == pytest.approx(SDR_WHITE_NITS * sdr_mid, rel=0.08)  # mid grey as SDR
        assert nits[-1] > 2.5 * SDR_WHITE_NITS  # highlights above SDR white


def test_night_hdr_writes_ultrahdr(tmp_path: Path) -> None:
    from rawlux.cli.night import night_merge
    from rawlux.core.errors import OutputError
    from rawlux.synth.burst import make_burst, write_burst

    frames = write_burst(make_burst(n_frames=3, size=(96, 128)), tmp_path)
    out = night_merge(list(frames), tmp_path / "n.jpg", look="neutral", show_progress=False, hdr=True)
    data = Path(out).read_bytes()
    assert imagecodecs.ultrahdr_check(data) and read_jpeg_gainmap(data) is not None
    with pytest.raises(OutputError, match="cannot hold an HDR rendition"):
        night_merge(list(frames), tmp_path / "n.png", show_progress=False, hdr=True)


def test_hdr_heic_output(tmp_path: Path) -> None:
    import pillow_heif

    raw, _ = _scene_raw()
    img = rawlux.develop(raw, look="neutral", exposure=EXPOSURE, hdr=True, transfer="hlg")
    out = rawlux.save(img, tmp_path / "hdr.heic")
    h = pillow_heif.open_heif(out, convert_hdr_to_8bit=False)
    assert h.info["bit_depth"] == 10 and h.info["nclx_profile"]["transfer_characteristics"] == 18
    assert h.info["nclx_profile"]["color_primaries"] == 9
    code = np.asarray(h[0] if hasattr(h, "__getitem__") else h)
    assert code.dtype == np.uint16 and int(code.max()) > 0
