"""DNG opcode lists: parse <-> serialise round trips, real files, hostile bytes."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawlux.core.errors import CorruptInput
from rawlux.core.image import FixVignetteRadial, GainMap, UnknownOpcode, WarpRectilinear
from rawlux.io.dng import OPCODE_NAMES, opcode_name, parse_opcode_list, serialize_opcode_list

finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e6, max_value=1e6)
u32 = st.integers(0, 2**32 - 1)
head = st.fixed_dictionaries(
    {"version": u32, "optional": st.booleans(), "preview_only": st.booleans()}
)


@st.composite
def gain_maps(draw):
    rows, cols, planes = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    gains = draw(
        st.lists(
            st.floats(0.0, 8.0, width=32, allow_nan=False),
            min_size=rows * cols * planes,
            max_size=rows * cols * planes,
        )
    )
    top, left = draw(st.integers(0, 1000)), draw(st.integers(0, 1000))
    return GainMap(
        opcode_id=9,
        top=top,
        left=left,
        bottom=top + draw(st.integers(0, 1000)),
        right=left + draw(st.integers(0, 1000)),
        plane=draw(st.integers(0, 3)),
        planes=draw(st.integers(1, 3)),
        row_pitch=draw(st.integers(1, 4)),
        col_pitch=draw(st.integers(1, 4)),
        spacing_v=draw(st.floats(1e-3, 1.0)),
        spacing_h=draw(st.floats(1e-3, 1.0)),
        origin_v=draw(finite),
        origin_h=draw(finite),
        gains=np.array(gains, np.float32).reshape(rows, cols, planes),
        **draw(head),
    )


@st.composite
def warps(draw):
    n = draw(st.integers(1, 3))
    coef = np.array(draw(st.lists(finite, min_size=6 * n, max_size=6 * n))).reshape(n, 6)
    return WarpRectilinear(
        opcode_id=1, coefficients=coef, center=(draw(finite), draw(finite)), **draw(head)
    )


@st.composite
def vignettes(draw):
    k = tuple(draw(st.lists(finite, min_size=5, max_size=5)))
    return FixVignetteRadial(opcode_id=3, k=k, center=(draw(finite), draw(finite)), **draw(head))


@st.composite
def unknowns(draw):
    oid = draw(st.sampled_from([2, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 99]))
    return UnknownOpcode(
        opcode_id=oid,
        name=OPCODE_NAMES.get(oid, f"Opcode{oid}"),
        payload=draw(st.binary(max_size=64)),
        **draw(head),
    )


opcode_lists = st.lists(st.one_of(gain_maps(), warps(), vignettes(), unknowns()), max_size=5)


def _same(a, b) -> None:
    assert type(a) is type(b)
    for name in ("opcode_id", "version", "optional", "preview_only"):
        assert getattr(a, name) == getattr(b, name)
    if isinstance(a, GainMap):
        for f in ("top", "left", "bottom", "right", "plane", "planes", "row_pitch", "col_pitch"):
            assert getattr(a, f) == getattr(b, f)
        for f in ("spacing_v", "spacing_h", "origin_v", "origin_h"):
            assert getattr(a, f) == getattr(b, f)
        assert b.gains.dtype == np.float32 and np.array_equal(a.gains, b.gains)
    elif isinstance(a, WarpRectilinear):
        assert np.array_equal(a.coefficients, b.coefficients) and tuple(a.center) == tuple(b.center)
    elif isinstance(a, FixVignetteRadial):
        assert tuple(a.k) == tuple(b.k) and tuple(a.center) == tuple(b.center)
    else:
        assert a.name == b.name and a.payload == b.payload


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(opcode_lists)
def test_serialise_parse_round_trip(ops):
    blob = serialize_opcode_list(ops)
    back = parse_opcode_list(blob)
    assert len(back) == len(ops)
    for a, b in zip(ops, back):
        _same(a, b)
    assert serialize_opcode_list(back) == blob


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_corrupt_input(data):
    try:
        ops = parse_opcode_list(data)
    except CorruptInput as e:
        assert "\n" not in str(e)
        return
    assert serialize_opcode_list(ops) == data  # whatever parses must re-serialise byte-exact


@settings(max_examples=200, deadline=None)
@given(opcode_lists.filter(bool), st.data())
def test_damaged_lists_only_raise_corrupt_input(ops, data):
    blob = bytearray(serialize_opcode_list(ops))
    action = data.draw(st.sampled_from(["truncate", "flip", "extend"]))
    if action == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif action == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= data.draw(st.integers(1, 255))
    else:
        blob += data.draw(st.binary(min_size=1, max_size=8))
    try:
        parse_opcode_list(bytes(blob))
    except CorruptInput:
        pass


def test_opcode_list_is_big_endian():
    gm = GainMap(opcode_id=9, bottom=10, right=20, gains=np.full((2, 3, 1), 1.5, np.float32))
    blob = serialize_opcode_list([gm])
    assert blob[:4] == b"\x00\x00\x00\x01"
    assert struct.unpack(">I", blob[4:8])[0] == 9
    assert struct.unpack(">f", blob[-4:])[0] == 1.5


@pytest.mark.parametrize(
    "blob, words",
    [
        (b"\x00\x00\x00\x05", "claims 5 opcodes"),
        (struct.pack(">5I", 1, 9, 0x01030000, 0, 10) + b"\x00" * 10, "GainMap"),
        (
            struct.pack(">5I", 1, 3, 0, 0, 56) + struct.pack(">7d", *[float("nan")] * 7),
            "non-finite",
        ),
        (struct.pack(">5I", 1, 1, 0, 0, 4) + struct.pack(">I", 0), "WarpRectilinear"),
        (struct.pack(">5I", 1, 7, 0, 0, 2) + b"\x00\x00\x00", "trailing"),
    ],
)
def test_specific_corruptions_are_named(blob, words):
    with pytest.raises(CorruptInput, match=words):
        parse_opcode_list(blob, "x.dng")


def _tag(path, code):
    with tifffile.TiffFile(path) as tf:
        for page in [tf.pages[0], *(tf.pages[0].pages or [])]:
            if code in page.tags:
                return page.tags[code].value
    return None


def test_pixel7_opcode_lists(raw_dir):
    path = raw_dir / "pixel7_hdrplus_darkframe.dng"
    ol2, ol3 = _tag(path, 51009), _tag(path, 51022)
    ops2, ops3 = parse_opcode_list(ol2), parse_opcode_list(ol3)
    assert [opcode_name(o) for o in ops2] == ["GainMap"] * 4
    assert [opcode_name(o) for o in ops3] == ["WarpRectilinear"]
    # 4 planes of a Bayer lens-shading map: one per CFA site, pitch 2, covering the image
    assert sorted((o.top % 2, o.left % 2) for o in ops2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for o in ops2:
        assert o.row_pitch == 2 and o.col_pitch == 2 and o.planes == 1
        assert o.bottom == 382 and o.right == 510
        assert (
            0.9 < float(o.gains.min()) and float(o.gains.max()) < 8
        )  # gains >= 1 brighten corners
        assert o.gains.max() > o.gains[o.gains.shape[0] // 2, o.gains.shape[1] // 2, 0]
    w = ops3[0]
    assert w.coefficients.shape == (1, 6) and abs(w.coefficients[0, 0] - 1.0) < 0.05
    assert 0.4 < w.center[0] < 0.6 and 0.4 < w.center[1] < 0.6
    assert serialize_opcode_list(ops2) == bytes(ol2)
    assert serialize_opcode_list(ops3) == bytes(ol3)


def test_canon6d_opcode_list2_is_kept_verbatim(raw_dir):
    ol2 = _tag(raw_dir / "canon_eos_6d.dng", 51009)
    ops = parse_opcode_list(ol2)
    assert [opcode_name(o) for o in ops] == ["MapPolynomial"] * 3
    assert all(isinstance(o, UnknownOpcode) for o in ops)
    assert serialize_opcode_list(ops) == bytes(ol2)
