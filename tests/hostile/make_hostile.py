"""Regression files for every crash class the DNG fuzzer (``tests/hostile/dngfuzz.py``) and the
hardening issue found: ``python tests/hostile/make_hostile.py [OUT_DIR]``. The non-DNG inputs
(logos, depth maps, photos, TOML, .cube, XMP, EXIF) come from ``tests/hostile/inputs.py``
(manifest ``MANIFEST_INPUTS.json``).

Each file is a small DNG generated here (synthetic pixels through rawlux's own DNG writer, then
patched at the byte level like a hostile file) — never a copy of a camera file. :data:`CASES`
names every file, how it is broken, and the outcome rawlux must give: ``("ok", warning regex or
None)`` or ``(error class name, message regex)``. ``tests/test_hostile_files.py`` checks each file
against its case and that this script still produces the committed bytes.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import sys
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent.parent) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(HERE.parent.parent))

from tests.hostile import dngfuzz as fz  # noqa: E402

OUT = HERE.parent / "data" / "hostile"


def _dng(width: int = 64, height: int = 48, kind: str = "bayer", **changes: object) -> bytes:
    from rawlux.io.dng import build_dng

    raw = fz._seed_raw(kind)
    if (width, height) != (64, 48):
        yy, xx = np.mgrid[0:height, 0:width]
        data = (600 + 3000 * ((xx // 7 + yy // 5) % 2)).astype(np.uint16)
        if kind == "linear":
            data = np.repeat(data[..., None], 3, axis=2)
        changes.setdefault("crop", None)
        changes["data"] = np.ascontiguousarray(data)
    return build_dng(dataclasses.replace(raw, **changes))


def _seed() -> bytes:
    return fz.seeds()["bayer"]


def _op(blob: bytes, tag: int, at: int, fmt: str, *v: object) -> bytes:
    """Patch bytes ``at`` into the opcode list ``tag`` (big-endian, as DNG opcode lists are)."""
    return fz.set_values(blob, tag, fmt, *v, skip=at)


# OpcodeList2 of the seed = [GainMap 3x3x1, FixVignetteRadial]; OpcodeList3 = [WarpRectilinear,
# GainMap]. Offsets inside the lists: count @0, first opcode header @4, its payload @20; the
# vignette header follows the 112-byte GainMap payload @132 (payload @148); the warp payload is
# planes @20, 6 coefficients @24, centre @72.
OL2, OL3 = 51009, 51022


def _width_as_double() -> bytes:
    b = _seed()
    e = fz.find(b, 256)
    b = fz.set_entry(b, 256, typ=12, value=struct.pack("<I", e.value_pos))  # DOUBLE at its own bytes
    return b


def _warp_33000() -> bytes:
    from rawlux.core.image import WarpRectilinear

    warp = WarpRectilinear(opcode_id=1, coefficients=np.array([[1.0, 0.01, -0.002, 0, 0, 0]]),
                           center=(0.5, 0.5))
    return _dng(33000, 4, opcodes2=(), opcodes3=(warp,))


def _metadata_only_huge() -> bytes:
    """A DNG whose strip starts at the end of the file (metadata-only, pixels read as zeros)
    declaring 12000 x 8000 px: only the memory budget stands between it and 6 GB."""
    b = bytearray(fz.set_values(_seed(), 256, "<I", 12000))
    b = bytearray(fz.set_values(bytes(b), 257, "<I", 8000))
    b = bytearray(fz.set_values(bytes(b), 278, "<I", 8000))
    off = fz.find(bytes(b), 273).value_pos
    cnt = fz.find(bytes(b), 279).value_pos
    start = struct.unpack_from("<I", b, off)[0]
    del b[start:]
    struct.pack_into("<I", b, off, len(b))
    struct.pack_into("<I", b, cnt, 12000 * 8000 * 2)
    return bytes(b)


def _patch(blob: bytes, changes: list[tuple[int, int]]) -> bytes:
    b = bytearray(blob)
    for pos, val in changes:
        b[pos] = val
    return bytes(b)


#: Fuzzer find (seed 1000, mutant 4356) as a byte patch of the seed: ImageLength copied over the
#: CFALayout entry plus bit flips, so tifffile decoded 64 x 8397872 px (1 GB, 23 GB peak in the
#: develop) while the validated tags said 64 x 48.
_DUP_IMAGELENGTH = [(43, 36), (44, 128), (51, 32), (61, 4), (68, 32), (94, 20), (298, 1),
                    (299, 1), (300, 4), (306, 48)]  # fmt: skip

#: name -> (builder, expected outcome, message regex, what is wrong)
CASES: dict[str, tuple[Callable[[], bytes], str, str | None, str]] = {
    "memory_bomb_65535x3814.dng": (
        lambda: fz.set_values(fz.set_values(fz.set_values(_dng(200, 100), 256, "<I", 65535),
                                            257, "<I", 3814), 278, "<I", 3814),
        "CorruptInput", r"ImageWidth 65535 x ImageLength 3814 needs 499\.9 MB but the file holds 0\.04 MB",
        "40 KB of pixels behind ImageWidth/ImageLength 65535 x 3814 (was: ~14 GB, killed)"),
    "metadata_only_12000x8000.dng": (
        _metadata_only_huge, "ImageTooLarge", r"memory budget of 50 MP",
        "metadata-only DNG claiming 96 MP (checked with RAWLUX_MAX_MEGAPIXELS=50)"),
    "width_zero.dng": (
        lambda: fz.set_values(_seed(), 256, "<I", 0),
        "CorruptInput", r"ImageWidth 0 x ImageLength 48: the image is empty", "ImageWidth 0 (was: IndexError)"),
    "width_as_double.dng": (
        _width_as_double, "CorruptInput", r"ImageWidth has type DOUBLE",
        "ImageWidth (LONG) stored as DOUBLE (was: TypeError/garbage width)"),
    "width_as_float.dng": (
        lambda: fz.set_entry(_seed(), 256, typ=11, value=struct.pack("<f", 64.0)),
        "CorruptInput", r"ImageWidth has type FLOAT", "ImageWidth stored as FLOAT (was: TypeError)"),
    "width_two_values.dng": (
        lambda: fz.set_entry(_seed(), 256, count=2),
        "CorruptInput", r"ImageWidth has 2 values, expected 1|no ImageWidth",
        "ImageWidth with count 2 (was: IndexError)"),
    "bits_per_sample_65535.dng": (
        lambda: fz.set_values(_seed(), 258, "<H", 65535),
        "CorruptInput", r"BitsPerSample 65535 is outside 1\.\.32", "BitsPerSample 65535 (was: OverflowError)"),
    "bits_per_sample_256.dng": (
        lambda: fz.set_values(_seed(), 258, "<H", 256),
        "CorruptInput", r"BitsPerSample 256 is outside 1\.\.32", "BitsPerSample 256 (was: IndexError)"),
    "bits_per_sample_24.dng": (
        lambda: fz.set_values(_seed(), 258, "<H", 24),
        "UnsupportedInput", r"BitsPerSample 24", "24-bit integer samples"),
    "orientation_two_values.dng": (
        lambda: fz.set_entry(_seed(), 274, count=2, value=struct.pack("<HH", 6, 3)),
        "ok", r"Orientation has 2 values, expected 1; ignored", "Orientation with two values (was: TypeError)"),
    "orientation_99.dng": (
        lambda: fz.set_values(_seed(), 274, "<H", 99),
        "ok", r"Orientation 99 is outside 1\.\.8; ignored", "Orientation 99"),
    "baseline_exposure_2000ev.dng": (
        lambda: fz.set_values(_seed(), 50730, "<ii", 2000, 1),
        "ok", r"BaselineExposure 2000 EV is outside -10\.\.10; ignored",
        "BaselineExposure +2000 EV (was: OverflowError)"),
    "baseline_exposure_short.dng": (
        lambda: fz.set_entry(_seed(), 50730, typ=8, count=1, value=struct.pack("<h", 1)),
        "ok", None, "BaselineExposure (SRATIONAL) stored as SSHORT 1: read as 1 EV"),
    "as_shot_neutral_short.dng": (
        lambda: fz.set_entry(_seed(), 50728, typ=3, count=2, value=struct.pack("<HH", 1, 1)),
        "CorruptInput", r"AsShotNeutral has 2 values, expected 3\.\.4", "AsShotNeutral as 2 SHORTs"),
    "noise_profile_odd.dng": (
        lambda: fz.set_entry(_seed(), 51041, typ=3, count=1, value=struct.pack("<H", 7)),
        "ok", r"NoiseProfile has 1 values, expected 2\.\.8; ignored", "NoiseProfile as one SHORT"),
    "analog_balance_as_double.dng": (
        lambda: fz.set_entry(_seed(), 50727, typ=12),
        "CorruptInput", r"AnalogBalance \[.*\] is outside 0\.0001\.\.10000",
        "AnalogBalance (RATIONAL) read as DOUBLE: 1e-314 (was: InvalidParameter without the file name)"),
    "color_matrix_entry_1e9.dng": (
        lambda: fz.set_values(_seed(), 50721, "<ii", 2**31 - 1, 1),
        "CorruptInput", r"ColorMatrix1 has a largest entry of 2\.14748e\+09, outside 0\.0001\.\.10000",
        "ColorMatrix1 entry 2^31"),
    "color_matrix_as_double.dng": (
        lambda: fz.set_entry(_seed(), 50721, typ=12),
        "CorruptInput", r"ColorMatrix1 has a largest entry of .*e-3\d\d, outside 0\.0001\.\.10000",
        "ColorMatrix1 (SRATIONAL) read as DOUBLE: denormals (was: InvalidParameter without the file name)"),
    "default_crop_as_double.dng": (
        lambda: fz.set_entry(_seed(), 50720, typ=12),
        "ok", r"DefaultCrop origin \(2, 2\) size \(.*\) is invalid; ignored",
        "DefaultCropSize (LONG) read as DOUBLE ~1e-310 (was: ContractError without the file name)"),
    "white_level_as_float.dng": (
        lambda: fz.set_entry(_dng(kind="linear", black=np.zeros(3)), 50717, typ=11),
        "CorruptInput", r"WhiteLevel 9\.18341e-41 is outside 1\.\.65535",
        "LinearRaw WhiteLevel (LONG 65535) read as FLOAT 9e-41 (was: ContractError, NaN in demosaic)"),
    "exposure_time_as_double.dng": (
        lambda: fz.set_entry(_seed(), 33434, typ=12),
        "ok", None,
        "EXIF ExposureTime (RATIONAL) read as DOUBLE ~1e-310 s (was: OverflowError in the JPEG writer); "
        "dropped as junk like a blank (core.plausible), listed by `rawlux info`"),
    "cfa_pattern_undefined.dng": (
        lambda: fz.set_entry(fz.set_entry(_seed(), 33422, typ=7), 50710, typ=7),
        "ok", None, "CFAPattern / CFAPlaneColor stored as UNDEFINED instead of BYTE: accepted"),
    "duplicated_imagelength.dng": (
        lambda: _patch(_seed(), _DUP_IMAGELENGTH),
        "CorruptInput", r"tifffile reads the raw image as 64x8397872 px but ImageWidth x ImageLength is 64x48",
        "duplicated ImageLength read differently by tifffile (was: 23 GB peak RSS)"),
    "preview_samples_916.dng": (
        lambda: fz.set_values(fz.seeds()["subifd12"], 277, "<H", 916),
        "ok", None, "camera-like DNG whose preview IFD 0 claims 916 samples per pixel: the raw "
        "SubIFD develops, and nothing is printed (was: Pillow's logger on stderr)"),
    "linear_blacklevel_2_values.dng": (
        lambda: fz.set_entry(_dng(kind="linear", black=np.zeros(3)), 50714, count=2),
        "CorruptInput", r"BlackLevel has 2 values per site for a 3-sample image",
        "LinearRaw BlackLevel with 2 values (was: ValueError from broadcast)"),
    "strip_beyond_eof.dng": (
        lambda: fz.set_values(_seed(), 273, "<I", 10**6),
        "CorruptInput", r"truncated: image data ends at byte", "StripOffsets past the end of the file"),
    "warp_33000px.dng": (
        _warp_33000, "ok", None,
        "33000 x 4 px with WarpRectilinear (was: OpenCV SHRT_MAX assertion in remap)"),
    "warp_centre_1e300.dng": (
        lambda: _op(_seed(), OL3, 72, ">d", 1e300),
        "CorruptInput", r"OpcodeList3: WarpRectilinear centre \(1e\+300, 0\.5\) is outside",
        "WarpRectilinear centre x 1e300 (was: OverflowError)"),
    "warp_coefficient_1e300.dng": (
        lambda: _op(_seed(), OL3, 32, ">d", 1e300),
        "CorruptInput", r"OpcodeList3: WarpRectilinear coefficient 1e\+300 is above",
        "WarpRectilinear kr1 1e300"),
    "warp_planes_5.dng": (
        lambda: _op(_seed(), OL3, 20, ">I", 5),
        "CorruptInput", r"OpcodeList3: WarpRectilinear with 5 planes does not fit", "WarpRectilinear planes 5"),
    "vignette_centre_1e300.dng": (
        lambda: _op(_seed(), OL2, 148 + 40, ">d", 1e300),
        "CorruptInput", r"OpcodeList2: FixVignetteRadial centre \(1e\+300, 0\.5\)",
        "FixVignetteRadial centre 1e300 (was: OverflowError)"),
    "vignette_short_payload.dng": (
        lambda: _op(_seed(), OL2, 132 + 12, ">I", 40),
        "CorruptInput", r"OpcodeList2: (FixVignetteRadial opcode is 40 bytes|opcode list has)",
        "FixVignetteRadial payload size 40"),
    "gainmap_rows_2e9.dng": (
        lambda: _op(_seed(), OL2, 20 + 32, ">I", 2**31),
        "CorruptInput", r"OpcodeList2: GainMap of 2147483648x3x1 gains needs", "GainMap with 2^31 map rows"),
    "gainmap_nan_gain.dng": (
        lambda: _op(_seed(), OL2, 20 + 76, ">f", float("nan")),
        "CorruptInput", r"OpcodeList2: GainMap has non-finite gains", "GainMap with a NaN gain"),
    "gainmap_area_beyond_image.dng": (
        lambda: _op(_op(_seed(), OL2, 20 + 8, ">I", 2**32 - 1), OL2, 20 + 12, ">I", 2**32 - 1),
        "ok", None, "GainMap area to 2^32-1: clipped to the image"),
    "opcode_size_beyond_list.dng": (
        lambda: _op(_seed(), OL3, 4 + 12, ">I", 2**32 - 1),
        "CorruptInput", r"OpcodeList3: opcode 1 \(WarpRectilinear\) claims 4294967295 bytes",
        "opcode size 2^32-1"),
    "opcode_count_2e9.dng": (
        lambda: _op(_seed(), OL2, 0, ">I", 2**31),
        "CorruptInput", r"OpcodeList2: opcode list claims 2147483648 opcodes", "opcode count 2^31"),
    "opcode_list_as_short.dng": (
        lambda: fz.set_entry(_seed(), OL3, typ=3),
        "CorruptInput", r"OpcodeList3 has type SHORT", "OpcodeList3 stored as SHORT"),
}

#: Environment each case is checked under (deterministic memory budget).
ENV = {"metadata_only_12000x8000.dng": {"RAWLUX_MAX_MEGAPIXELS": "50"}}


def build(name: str) -> bytes:
    """The bytes of regression file ``name``."""
    return CASES[name][0]()


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or [str(OUT)])[0])
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (_, outcome, pattern, what) in CASES.items():
        (out / name).write_bytes(build(name))
        manifest[name] = {"outcome": outcome, "message": pattern, "what": what, "env": ENV.get(name, {})}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    from tests.hostile import inputs

    more = {}
    for name, case in inputs.CASES.items():
        (out / name).write_bytes(case.build())
        more[name] = {"args": list(case.args), "exit": case.exit, "message": case.message,
                      "what": case.what, "env": case.env}
    (out / "MANIFEST_INPUTS.json").write_text(json.dumps(more, indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {len(CASES) + len(more)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
