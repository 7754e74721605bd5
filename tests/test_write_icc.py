"""ICC profiles: structure per the ICC spec, LittleCMS accepts them, transforms agree with ours."""

from __future__ import annotations

import hashlib
import io
import struct

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from rawlux.color.spaces import rgb_to_rgb64
from rawlux.color.transfer import srgb_eotf, srgb_oetf
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace
from rawlux.io.icc import (
    PCS_D50,
    d50_colorants,
    identify_profile,
    profile_bytes,
    profile_description,
)

SPACES = (ColorSpace.SRGB, ColorSpace.DISPLAY_P3)


def tags(icc: bytes) -> dict[bytes, bytes]:
    n = struct.unpack(">I", icc[128:132])[0]
    out = {}
    for i in range(n):
        sig, off, size = struct.unpack(">4sII", icc[132 + 12 * i : 144 + 12 * i])
        out[sig] = icc[off : off + size]
    return out


def s15(b: bytes) -> float:
    return struct.unpack(">i", b)[0] / 65536.0


@pytest.mark.parametrize("space", SPACES)
def test_header_and_tags(space: ColorSpace) -> None:
    icc = profile_bytes(space)
    assert struct.unpack(">I", icc[:4])[0] == len(icc) and len(icc) % 4 == 0
    assert icc[12:24] == b"mntrRGB XYZ " and icc[36:40] == b"acsp"
    assert icc[8] == 4  # version 4
    assert [s15(icc[68 + 4 * i : 72 + 4 * i]) for i in range(3)] == pytest.approx(PCS_D50, abs=1e-4)
    # profile ID = MD5 with flags, intent and the ID zeroed
    z = bytearray(icc)
    z[44:48] = z[64:68] = b"\0" * 4
    z[84:100] = b"\0" * 16
    assert icc[84:100] == hashlib.md5(bytes(z)).digest()
    t = tags(icc)
    assert {b"desc", b"cprt", b"wtpt", b"chad", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"} <= set(t)
    cols = np.array([[s15(t[k][8 + 4 * i : 12 + 4 * i]) for i in range(3)] for k in (b"rXYZ", b"gXYZ", b"bXYZ")])
    np.testing.assert_allclose(cols.sum(0), PCS_D50, atol=2e-5)  # colorants sum to the PCS white
    np.testing.assert_allclose(cols.T, d50_colorants(space), atol=1e-9)
    para = t[b"rTRC"]
    assert para[:4] == b"para" and struct.unpack(">H", para[8:10])[0] == 3
    g, a, b, c, d = (s15(para[12 + 4 * i : 16 + 4 * i]) for i in range(5))
    assert (g, a, b, c, d) == pytest.approx((2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045), abs=2e-5)
    assert profile_bytes(space) is icc  # cached


def test_srgb_colorants_match_published_values() -> None:
    # The D50-adapted sRGB primaries as published in the ICC's sRGB profile documentation.
    want = np.array([[0.4361, 0.3851, 0.1431], [0.2225, 0.7169, 0.0606], [0.0139, 0.0971, 0.7141]])
    np.testing.assert_allclose(d50_colorants(ColorSpace.SRGB), want, atol=2e-4)


def test_littlecms_loads_profiles() -> None:
    for space in SPACES:
        p = ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes(space)))
        assert "rawlux" in ImageCms.getProfileDescription(p)
        assert p.profile.xcolor_space.strip() == "RGB"
        assert p.profile.version == pytest.approx(4.3)
    srgb_lcms = ImageCms.createProfile("sRGB")
    t = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(srgb_lcms),
        ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes(ColorSpace.SRGB))),
        "RGB",
        "RGB",
    )
    x = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    y = np.asarray(ImageCms.applyTransform(PILImage.fromarray(x), t))
    assert np.abs(y.astype(int) - x).max() <= 1  # our sRGB == LittleCMS's built-in sRGB


def test_p3_to_srgb_transform_agrees_with_our_matrices() -> None:
    src = ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes(ColorSpace.DISPLAY_P3)))
    dst = ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes(ColorSpace.SRGB)))
    t = ImageCms.buildTransform(src, dst, "RGB", "RGB", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    x = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    got = np.asarray(ImageCms.applyTransform(PILImage.fromarray(x), t)).astype(float)
    lin = srgb_eotf(x / 255.0) @ rgb_to_rgb64(ColorSpace.DISPLAY_P3, ColorSpace.SRGB).T
    want = np.round(srgb_oetf(np.clip(lin, 0, 1)) * 255)
    assert np.abs(got - want).max() <= 1.0
    # and it really converts (P3 and sRGB numbers differ for saturated colours)
    assert np.abs(got - x).max() > 20


def test_identify_profiles(shared_data) -> None:
    assert identify_profile(profile_bytes(ColorSpace.SRGB)) is ColorSpace.SRGB
    assert identify_profile(profile_bytes(ColorSpace.DISPLAY_P3)) is ColorSpace.DISPLAY_P3
    assert identify_profile(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()) is ColorSpace.SRGB
    assert identify_profile(b"not a profile") is None
    assert identify_profile(None) is None
    import pillow_heif

    pillow_heif.register_heif_opener()
    apple = PILImage.open(shared_data / "photos" / "iphone_15_pro.heic").info["icc_profile"]
    assert "P3" in profile_description(apple)
    assert identify_profile(apple) is ColorSpace.DISPLAY_P3
    # a P3 profile with a different tone curve is *not* Display P3
    fake = bytearray(profile_bytes(ColorSpace.DISPLAY_P3))
    i = bytes(fake).index(b"para")
    fake[i + 12 : i + 16] = struct.pack(">i", int(1.8 * 65536))
    fake[84:100] = b"\0" * 16
    assert identify_profile(bytes(fake)) is None


def test_unknown_space_rejected() -> None:
    with pytest.raises(InvalidParameter, match="srgb, p3"):
        profile_bytes(ColorSpace.REC2020)
