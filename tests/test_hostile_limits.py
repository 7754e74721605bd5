"""Limits on the raw path: the memory budget, header claims against the file's contents, and
warps of images beyond OpenCV's 32767 px remap limit (tiled, same pixels as one call)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from rawlux.core.errors import CorruptInput, ImageTooLarge, InvalidParameter
from rawlux.core.image import WarpRectilinear
from rawlux.io import safety
from rawlux.io.raw import open_raw
from rawlux.isp import warp as geometry  # the WarpRectilinear code moved from isp.geometry to isp.warp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.hostile is imported from the checkout root
    sys.path.insert(0, str(ROOT))

from tests.hostile import dngfuzz  # noqa: E402


@pytest.fixture
def seed_dng(tmp_path):
    p = tmp_path / "seed.dng"
    p.write_bytes(dngfuzz.seeds()["bayer"])
    return p


def test_memory_budget_env_override(seed_dng, monkeypatch):
    monkeypatch.setenv(safety.ENV_MAX_MEGAPIXELS, "0.001")  # 1000 px; the seed is 64x48
    with pytest.raises(ImageTooLarge, match=r"64x48 px = 0\.00307 MP, .* memory budget of 0\.001 MP \(RAWLUX_MAX_MEGAPIXELS=0\.001\)$") as e:
        open_raw(seed_dng)
    assert str(e.value).startswith(f"{seed_dng}: ") and "\n" not in str(e.value)
    monkeypatch.setenv(safety.ENV_MAX_MEGAPIXELS, "0.01")
    assert open_raw(seed_dng).width == 64
    monkeypatch.setenv(safety.ENV_MAX_MEGAPIXELS, "lots")
    with pytest.raises(InvalidParameter, match="RAWLUX_MAX_MEGAPIXELS='lots'"):
        open_raw(seed_dng)


def test_default_budget_follows_available_ram(monkeypatch):
    monkeypatch.delenv(safety.ENV_MAX_MEGAPIXELS, raising=False)
    monkeypatch.setattr(safety, "_meminfo", lambda: (8 * 2**30, 16 * 2**30))
    mp, src = safety.max_megapixels()
    assert mp == pytest.approx(4 * 2**30 / safety.DEVELOP_BYTES_PER_PIXEL / 1e6) and "8.0 GB" in src
    monkeypatch.setattr(safety, "_meminfo", lambda: (2**30, 16 * 2**30))  # busy: a quarter of total
    assert safety.max_megapixels()[0] == pytest.approx(2 * 2**30 / safety.DEVELOP_BYTES_PER_PIXEL / 1e6)
    monkeypatch.setattr(safety, "_meminfo", lambda: (2**50, 2**50))
    assert safety.max_megapixels()[0] == safety.MAX_PIXELS / 1e6


@pytest.mark.parametrize(
    "compression, stored, ok",
    [(1, 6144, True), (1, 6143, False), (7, 6144 // 16, True), (7, 6144 // 16 - 1, False),
     (8, 6, True), (8, 5, False), (34892, 12, True), (52546, 3, True), (52546, 2, False)],
)  # fmt: skip
def test_data_must_hold_the_declared_image(compression, stored, ok):
    # 64 x 48 x 16 bit = 6144 bytes uncompressed
    if ok:
        safety.check_data_holds(64, 48, 1, 16, compression, stored, "f.dng")
    else:
        with pytest.raises(CorruptInput, match=r"^f\.dng: ImageWidth 64 x ImageLength 48 needs 0\.0061 MB"):
            safety.check_data_holds(64, 48, 1, 16, compression, stored, "f.dng")


def _warp(k1: float = -0.08, center=(0.45, 0.55)) -> WarpRectilinear:
    return WarpRectilinear(opcode_id=1, coefficients=np.array([[1.02, k1, 0.03, 0, 0.002, -0.001]]),
                           center=center)


@pytest.mark.parametrize("interp", ["cubic", "linear"])
@pytest.mark.parametrize("k1, center", [(-0.08, (0.45, 0.55)), (0.9, (0.2, 0.9)), (-0.6, (1.2, -0.3))])
def test_tiled_remap_gives_the_same_pixels(monkeypatch, interp, k1, center):
    rng = np.random.default_rng(0)
    img = rng.random((130, 210, 3)).astype(np.float32)
    op = _warp(k1, center)
    ref = geometry.warp_rectilinear(img, op, interp)
    monkeypatch.setattr(geometry, "REMAP_MAX_SIDE", 50)
    monkeypatch.setattr(geometry, "_REMAP_TILE", 32)
    tiled = geometry.warp_rectilinear(img, op, interp)
    np.testing.assert_allclose(tiled, ref, rtol=0, atol=1e-6)  # SIMD vs scalar tails differ by 1 ulp
    three = WarpRectilinear(opcode_id=1, coefficients=np.array([[1, k1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0],
                                                                [1, -k1, 0, 0, 0, 0]], float), center=center)
    monkeypatch.setattr(geometry, "REMAP_MAX_SIDE", 32766)
    ref3 = geometry.warp_rectilinear(img, three, interp)
    monkeypatch.setattr(geometry, "REMAP_MAX_SIDE", 50)
    np.testing.assert_allclose(geometry.warp_rectilinear(img, three, interp), ref3, rtol=0, atol=1e-6)


def test_warp_wider_than_opencv_limit():
    rng = np.random.default_rng(1)
    wide = rng.random((6, 33000, 3)).astype(np.float32)
    with pytest.raises(cv2.error):  # what the tiling exists for
        cv2.remap(wide, *geometry.warp_source_coords(_warp(), 6, 33000), cv2.INTER_CUBIC)
    ident = WarpRectilinear(opcode_id=1, coefficients=np.array([[1.0, 0, 0, 0, 0, 0]]))
    np.testing.assert_allclose(geometry.warp_rectilinear(wide, ident), wide, atol=1e-6)
    out = geometry.warp_rectilinear(wide, _warp())
    assert out.shape == wide.shape and np.isfinite(out).all()
    # tiles agree with a single call on the same pixels where OpenCV accepts it (left 16000 px)
    mx, my = geometry.warp_source_coords(_warp(), 6, 33000)
    part = mx[:, :16000] < 16000 - 4
    ref = cv2.remap(np.ascontiguousarray(wide[:, :16000]), mx[:, :16000], my[:, :16000],
                    cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_allclose(out[:, :16000][part], ref[part], rtol=0, atol=1e-6)
