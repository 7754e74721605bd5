"""Structure-aware DNG/TIFF fuzzer for the raw path (``open_raw`` + ``develop``).

Seeds are small DNGs made here with :func:`rawlux.io.dng.write_dng` from synthetic data (never a
camera file): a Bayer mosaic with an optional FixBadPixelsConstant + GainMap (OpcodeList1),
GainMap/FixVignetteRadial (OpcodeList2) and WarpRectilinear +
GainMap (OpcodeList3), NoiseProfile, default crop and EXIF; a LinearRaw image; and a camera-like
layout (8-bit RGB preview in IFD 0 with the colour tags, 12-bit packed CFA raw with an
ActiveArea in a SubIFD, decoded by LibRaw). A mutant
changes the TIFF structure the way hostile files do: an IFD entry's type, count, value or offset
(or a copy of another entry over it),
numeric values of the tags rawlux reads (interesting integers and rationals), the fields of an
opcode payload (counts, sizes, areas, pitches, coefficients), strip offsets/byte counts, or it
truncates the file or flips bytes in the header region.

Outcome of one mutant: ``"ok"`` (developed and saved), the name of the :class:`RawluxError` subclass it
raised, ``"UNNAMED:<type>"`` for a typed error whose message is not one line starting with the
file name, ``"STAGE:<type>"`` for a typed error that is not an :class:`InputError` (a bad value
got past io to a stage), or ``"ESCAPE:<exception type>"`` for anything else. The last three are
bugs (:data:`BUG_PREFIXES`). Library use::

    for name, blob in mutants(seed=1, count=300): ...

Long runs: ``python -m tests.hostile.dngfuzz --seconds 600`` (or ``benchmarks/fuzz.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4,
             16: 8, 17: 8, 18: 8}
INTERESTING = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 255, 256, 4095, 32767, 32768, 33000,
               65535, 65536, 2**31 - 1, 2**31, 2**32 - 1]
OPCODE_TAGS = (51008, 51009, 51022)
BUG_PREFIXES = ("ESCAPE", "UNNAMED", "STAGE")


# ------------------------------------------------------------------------------------- seeds


def _seed_raw(kind: str) -> Any:
    from rawlux.core.image import (CFA, ColorCalibration, Crop, FixVignetteRadial, GainMap,
                                   Metadata, NoiseProfile, RawImage, UnknownOpcode,
                                   WarpRectilinear)

    rng = np.random.default_rng(3)
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.15 + 0.6 * (xx / w) * (0.5 + 0.5 * np.sin(yy / 5.0)) ** 2
    cm = np.array([[0.9, -0.3, -0.1], [-0.4, 1.2, 0.2], [-0.05, 0.15, 0.6]])
    cal = ColorCalibration(color_matrix1=cm, illuminant1=21, color_matrix2=cm * 1.05,
                           illuminant2=17, forward_matrix1=np.linalg.inv(cm) * 0.8,
                           as_shot_neutral=np.array([0.5, 1.0, 0.7]), analog_balance=np.ones(3))
    md = Metadata(make="Fuzz", model="Seed", exposure_time=1 / 60, f_number=2.8, iso=200,
                  focal_length=24, datetime_original=dt.datetime(2026, 1, 2, 3, 4, 5),
                  orientation=6)
    gm = GainMap(opcode_id=9, top=0, left=0, bottom=h, right=w, plane=0, planes=1, row_pitch=1,
                 col_pitch=1, spacing_v=0.5, spacing_h=0.5, origin_v=0, origin_h=0,
                 gains=(1 + 0.2 * rng.random((3, 3, 1))).astype(np.float32))
    vig = FixVignetteRadial(opcode_id=3, k=(0.1, 0.02, 0, 0, 0), center=(0.5, 0.5))
    warp = WarpRectilinear(opcode_id=1, coefficients=np.array([[1.0, 0.01, -0.002, 0, 0.001, 0]]),
                           center=(0.5, 0.5))
    gm1 = GainMap(opcode_id=9, top=0, left=0, bottom=h, right=w, plane=0, planes=1, row_pitch=2,
                  col_pitch=2, spacing_v=1.0, spacing_h=1.0, origin_v=0, origin_h=0,
                  gains=np.full((2, 2, 1), 1.05, np.float32))
    badpix = UnknownOpcode(opcode_id=4, name="FixBadPixelsConstant", optional=True,
                           payload=struct.pack(">2I", 0, 0))
    if kind == "bayer":
        data = (np.clip(base + 0.02 * rng.standard_normal((h, w)), 0, 1) * 3800 + 200).astype(np.uint16)
        return RawImage(data=data, cfa=CFA.RGGB, black=np.full((2, 2), 200.0), white=4000.0,
                        calibration=cal, cfa_pattern=CFA.RGGB.pattern(), baseline_exposure=0.5,
                        noise_profile=NoiseProfile(pairs=np.array([[2e-4, 4e-6]])),
                        opcodes1=(badpix, gm1), opcodes2=(gm, vig), opcodes3=(warp, gm),
                        crop=Crop(2, 2, h - 4, w - 4),
                        metadata=md)
    data = (np.clip(base[..., None] * [1.0, 0.8, 0.6], 0, 1) * 60000).astype(np.uint16)
    return RawImage(data=np.ascontiguousarray(data), cfa=CFA.LINEAR, black=np.zeros(3),
                    white=65535.0, calibration=cal, opcodes3=(warp,), metadata=md)


def _pack12(v: np.ndarray) -> bytes:
    """12-bit samples packed MSB-first, two per three bytes (TIFF/DNG bit order)."""
    v = v.astype(np.uint16).ravel()
    a, b = v[0::2], v[1::2]
    out = np.empty((a.size, 3), np.uint8)
    out[:, 0] = a >> 4
    out[:, 1] = ((a & 15) << 4) | (b >> 8)
    out[:, 2] = b & 255
    return out.tobytes()


def _subifd_seed() -> bytes:
    """A DNG laid out like a camera's: IFD 0 is an 8-bit RGB preview carrying the colour tags, the
    raw is a 12-bit packed CFA in a SubIFD with an ActiveArea margin (LibRaw decodes it)."""
    from rawlux.io.dng import _IFD, TAG, serialize_opcode_list

    raw = _seed_raw("bayer")
    h, w = 52, 72  # 2 px masked border top/left, 2 right/bottom
    mosaic = np.full((h, w), 200, np.uint16)
    mosaic[2:50, 2:66] = np.clip(raw.data, 0, 4095)
    cal = raw.calibration
    prev = np.full((12, 16, 3), 128, np.uint8).tobytes()
    pix = _pack12(mosaic)
    r = _IFD()
    for tag, typ, val in [
        ("NewSubfileType", 4, [0]), ("ImageWidth", 4, [w]), ("ImageLength", 4, [h]),
        ("BitsPerSample", 3, [12]), ("Compression", 3, [1]), ("PhotometricInterpretation", 3, [32803]),
        ("StripOffsets", 4, [0]), ("SamplesPerPixel", 3, [1]), ("RowsPerStrip", 4, [h]),
        ("StripByteCounts", 4, [len(pix)]), ("PlanarConfiguration", 3, [1]),
        ("CFARepeatPatternDim", 3, [2, 2]), ("CFAPattern", 1, bytes([0, 1, 1, 2])),
        ("BlackLevelRepeatDim", 3, [2, 2]), ("BlackLevel", 5, [200.0] * 4), ("WhiteLevel", 3, [4000]),
        ("DefaultCropOrigin", 4, [1, 1]), ("DefaultCropSize", 4, [60, 44]),
        ("ActiveArea", 4, [2, 2, 50, 66]),
    ]:  # fmt: skip
        r.add(TAG[tag], typ, val)
    r.add(TAG["OpcodeList2"], 7, serialize_opcode_list(raw.opcodes2))
    i0 = _IFD()
    for tag, typ, val in [
        ("NewSubfileType", 4, [1]), ("ImageWidth", 4, [16]), ("ImageLength", 4, [12]),
        ("BitsPerSample", 3, [8, 8, 8]), ("Compression", 3, [1]), ("PhotometricInterpretation", 3, [2]),
        ("Make", 2, "Fuzz"), ("Model", 2, "SubIFD"), ("StripOffsets", 4, [0]), ("Orientation", 3, [1]),
        ("SamplesPerPixel", 3, [3]), ("RowsPerStrip", 4, [12]), ("StripByteCounts", 4, [len(prev)]),
        ("PlanarConfiguration", 3, [1]), ("SubIFDs", 4, [0]), ("DNGVersion", 1, bytes([1, 4, 0, 0])),
        ("UniqueCameraModel", 2, "Fuzz SubIFD"), ("ColorMatrix1", 10, cal.color_matrix1.ravel()),
        ("CalibrationIlluminant1", 3, [21]), ("AsShotNeutral", 5, cal.as_shot_neutral),
        ("BaselineExposure", 10, [0.25]),
    ]:  # fmt: skip
        i0.add(TAG[tag], typ, val)
    off0 = 8
    off_r = off0 + i0.size()
    off_prev = off_r + r.size()
    off_pix = off_prev + len(prev)
    i0.add(TAG["SubIFDs"], 4, [off_r])
    i0.add(TAG["StripOffsets"], 4, [off_prev])
    r.add(TAG["StripOffsets"], 4, [off_pix])
    return b"II*\x00" + struct.pack("<I", off0) + i0.encode(off0) + r.encode(off_r) + prev + pix


def seeds() -> dict[str, bytes]:
    """Seed DNG files by name (bytes), generated deterministically."""
    from rawlux.io.dng import build_dng

    out = {k: build_dng(_seed_raw(k)) for k in ("bayer", "linear")}
    out["subifd12"] = _subifd_seed()
    return out


# ----------------------------------------------------------------------------- TIFF structure


@dataclass
class Entry:
    pos: int  # file offset of the 12-byte entry
    tag: int
    typ: int
    count: int
    value_pos: int  # file offset of the value bytes (inline or pointed to)


def entries(blob: bytes) -> list[Entry]:
    """IFD entries of a little-endian classic TIFF (IFD0 chain and Exif/SubIFD pointers)."""
    out: list[Entry] = []
    if blob[:4] != b"II*\x00":
        return out
    todo, seen = [struct.unpack_from("<I", blob, 4)[0]], set()
    while todo:
        off = todo.pop()
        if off < 8 or off in seen or off + 2 > len(blob):
            continue
        seen.add(off)
        (n,) = struct.unpack_from("<H", blob, off)
        for i in range(n):
            p = off + 2 + 12 * i
            if p + 12 > len(blob):
                break
            tag, typ, cnt, val = struct.unpack_from("<HHII", blob, p)
            size = TYPE_SIZE.get(typ, 1) * cnt
            out.append(Entry(p, tag, typ, cnt, p + 8 if size <= 4 else val))
            if tag in (34665, 34853, 330) and typ in (4, 13):
                todo.append(val)
        nxt = off + 2 + 12 * n
        if nxt + 4 <= len(blob):
            todo.append(struct.unpack_from("<I", blob, nxt)[0])
    return out


def find(blob: bytes, tag: int) -> Entry:
    """The first IFD entry of ``tag`` (KeyError when absent)."""
    for e in entries(blob):
        if e.tag == tag:
            return e
    raise KeyError(tag)


def set_entry(blob: bytes, tag: int, typ: int | None = None, count: int | None = None,
              value: bytes | None = None) -> bytes:
    """``blob`` with the entry of ``tag`` given a new type, count and/or 4-byte value field."""
    b = bytearray(blob)
    e = find(blob, tag)
    if typ is not None:
        struct.pack_into("<H", b, e.pos + 2, typ)
    if count is not None:
        struct.pack_into("<I", b, e.pos + 4, count)
    if value is not None:
        b[e.pos + 8 : e.pos + 12] = value.ljust(4, b"\x00")[:4]
    return bytes(b)


def set_values(blob: bytes, tag: int, fmt: str, *values: Any, skip: int = 0) -> bytes:
    """``blob`` with ``values`` packed (``fmt``) over the value bytes of ``tag`` from byte ``skip``."""
    b = bytearray(blob)
    e = find(blob, tag)
    struct.pack_into(fmt, b, e.value_pos + skip, *values)
    return bytes(b)


def _put(b: bytearray, pos: int, fmt: str, *v: Any) -> None:
    if 0 <= pos and pos + struct.calcsize(fmt) <= len(b):
        struct.pack_into(fmt, b, pos, *v)


def _rand_int(r: random.Random) -> int:
    v = r.choice(INTERESTING)
    return max(0, min(2**32 - 1, v + r.choice((0, 0, 0, -1, 1))))


# ----------------------------------------------------------------------------------- mutators


def m_type(b: bytearray, e: Entry, r: random.Random) -> str:
    t = r.choice([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 16, 99])
    _put(b, e.pos + 2, "<H", t)
    return f"tag {e.tag} type {e.typ}->{t}"


def m_count(b: bytearray, e: Entry, r: random.Random) -> str:
    c = r.choice([0, 1, 2, e.count - 1, e.count + 1, e.count * 2, 2**16, 2**31, 2**32 - 1])
    c = max(0, min(c, 2**32 - 1))
    _put(b, e.pos + 4, "<I", c)
    return f"tag {e.tag} count {e.count}->{c}"


def m_offset(b: bytearray, e: Entry, r: random.Random) -> str:
    v = r.choice([0, 1, len(b) - 1, len(b), len(b) + 4096, 2**31, 2**32 - 1,
                  r.randrange(0, max(1, len(b)))])
    _put(b, e.pos + 8, "<I", v)
    return f"tag {e.tag} value/offset ->{v}"


def m_value(b: bytearray, e: Entry, r: random.Random) -> str:
    """An interesting numeric value written into one element of the tag, in its own type."""
    i = r.randrange(max(1, min(e.count, 16)))
    if e.typ == 3:
        v = _rand_int(r) & 0xFFFF
        _put(b, e.value_pos + 2 * i, "<H", v)
    elif e.typ in (4, 9):
        v = _rand_int(r)
        _put(b, e.value_pos + 4 * i, "<I", v)
    elif e.typ in (5, 10):
        num, den = _rand_int(r), r.choice([0, 1, 1, 1, 3, 2**31 - 1, 2**32 - 1])
        if e.typ == 10:
            num, den = num & 0x7FFFFFFF, den & 0x7FFFFFFF
            if r.random() < 0.3:
                num = -num
        fmt = "<ii" if e.typ == 10 else "<II"
        _put(b, e.value_pos + 8 * i, fmt, num, den)
        v = f"{num}/{den}"
    elif e.typ == 12:
        v = r.choice([0.0, -1.0, 1e308, -1e308, float("inf"), float("nan"), 2000.0, 1e-300])
        _put(b, e.value_pos + 8 * i, "<d", v)
    elif e.typ in (1, 7):
        v = r.choice([0, 1, 2, 3, 4, 255])
        _put(b, e.value_pos + i, "<B", v)
    else:
        return m_count(b, e, r)
    return f"tag {e.tag}[{i}] = {v}"


def m_dup(b: bytearray, e: Entry, r: random.Random, ents: list[Entry]) -> str:
    """Overwrite another entry of the same IFD region with a copy of ``e`` (duplicate tags, tags
    out of order, a needed tag gone)."""
    other = r.choice(ents)
    b[other.pos : other.pos + 12] = b[e.pos : e.pos + 12]
    return f"tag {e.tag} copied over tag {other.tag}"


def m_opcode(b: bytearray, e: Entry, r: random.Random) -> str:
    """Mutate a field of an opcode list (big-endian): count, id, flags, size, or a parameter."""
    start, end = e.value_pos, e.value_pos + e.count
    if end > len(b) or e.count < 20:
        return m_value(b, e, r)
    (n,) = struct.unpack_from(">I", b, start)
    heads, pos = [], start + 4
    for _ in range(min(n, 64)):
        if pos + 16 > end:
            break
        oid, ver, flags, size = struct.unpack_from(">4I", b, pos)
        heads.append((pos, oid, size))
        pos += 16 + size
    what = r.random()
    if what < 0.1 or not heads:
        v = _rand_int(r)
        _put(b, start, ">I", v)
        return f"opcode list {e.tag} count -> {v}"
    hp, oid, size = r.choice(heads)
    if what < 0.2:
        v = r.choice([1, 2, 3, 9, 14, 0, 99])
        _put(b, hp, ">I", v)
        return f"opcode {oid} id -> {v}"
    if what < 0.3:
        v = r.choice([0, 1, 2, 3, 4, 0xFFFFFFFF])
        _put(b, hp + 8, ">I", v)
        return f"opcode {oid} flags -> {v}"
    if what < 0.4:
        v = r.choice([0, 1, size - 1, size + 1, size + 8, 2**31, 2**32 - 1])
        _put(b, hp + 12, ">I", max(0, min(v, 2**32 - 1)))
        return f"opcode {oid} size -> {v}"
    p0 = hp + 16
    if size < 4:
        return f"opcode {oid} (empty)"
    if oid == 9 and size >= 76 and what < 0.8:  # GainMap head: 10 LONGs, 4 DOUBLEs, 1 LONG
        k = r.randrange(15)
        if k < 10 or k == 14:
            v = _rand_int(r)
            _put(b, p0 + (4 * k if k < 10 else 72), ">I", v)
        else:
            v = r.choice([0.0, -1.0, 1e300, float("nan"), float("inf"), 1e-300, 0.5])
            _put(b, p0 + 40 + 8 * (k - 10), ">d", v)
        return f"GainMap field {k} -> {v}"
    if oid in (1, 3) and what < 0.8:
        if oid == 1 and r.random() < 0.3:
            v = r.choice([0, 2, 3, 4, 5, 2**31])
            _put(b, p0, ">I", v)
            return f"WarpRectilinear planes -> {v}"
        k = r.randrange(max(1, (size - 4) // 8))
        v = r.choice([0.0, -1.0, 1e300, -1e300, float("nan"), 1e6, 100.0, -0.5, 1.5])
        _put(b, p0 + (4 if oid == 1 else 0) + 8 * k, ">d", v)
        return f"opcode {oid} double {k} -> {v}"
    k = r.randrange(max(1, min(size, 1 << 20)))
    if p0 + k < len(b):
        b[p0 + k] = r.randrange(256)
    return f"opcode {oid} byte {k}"


def m_truncate(b: bytearray, r: random.Random) -> str:
    if len(b) <= 9:
        return "truncate (already tiny)"
    n = r.randrange(8, len(b))
    del b[n:]
    return f"truncate to {n}"


def m_flip(b: bytearray, r: random.Random, limit: int) -> str:
    k = r.randrange(1, 8)
    if not b:
        return "bit flips (empty file)"
    for _ in range(k):
        i = r.randrange(min(limit, len(b)))
        b[i] ^= 1 << r.randrange(8)
    return f"{k} bit flips in the header"


def mutate(blob: bytes, r: random.Random, steps: int = 1) -> tuple[bytes, list[str]]:
    """One mutant of ``blob`` (``steps`` mutations) and what was done."""
    b = bytearray(blob)
    done = []
    for _ in range(steps):
        ents = entries(bytes(b))
        x = r.random()
        if not ents or x < 0.04:
            done.append(m_truncate(b, r))
            continue
        if x < 0.1:
            pix = min((e.value_pos for e in ents if e.tag == 273), default=len(b))
            done.append(m_flip(b, r, max(16, pix)))
            continue
        ops = [e for e in ents if e.tag in OPCODE_TAGS]
        if ops and x < 0.35:
            done.append(m_opcode(b, r.choice(ops), r))
            continue
        # weight the tags rawlux interprets
        read = [e for e in ents if e.tag in _READ_TAGS]
        e = r.choice(read if read and r.random() < 0.8 else ents)
        f = r.choices([m_value, m_type, m_count, m_offset, m_dup], weights=[6, 2, 2, 1, 1])[0]
        done.append(m_dup(b, e, r, ents) if f is m_dup else f(b, e, r))
    return bytes(b), done


_READ_TAGS = {254, 256, 257, 258, 259, 262, 273, 274, 277, 278, 279, 284, 330, 33421, 33422,
              50706, 50710, 50712, 50713, 50714, 50715, 50716, 50717, 50719, 50720, 50721,
              50722, 50723, 50724, 50727, 50728, 50729, 50730, 50778, 50779, 50829, 50964,
              50965, 51008, 51009, 51022, 51041, 33434, 33437, 34855, 37386}


def mutants(seed: int, count: int) -> Iterator[tuple[str, bytes, list[str]]]:
    """``count`` deterministic mutants: (name, bytes, description)."""
    base = seeds()
    names = sorted(base)
    r = random.Random(seed)
    for i in range(count):
        src = names[i % len(names)]
        blob, what = mutate(base[src], r, steps=r.choice((1, 1, 1, 2, 3)))
        yield f"{src}-{seed}-{i}", blob, what


# ------------------------------------------------------------------------------------ running


#: develop options the mutants cycle through (by index), so auto WB, highlight clipping, the
#: lens-correction switch and a colourful look get hostile data too.
OPTIONS = (
    {"look": "neutral"},
    {"look": "neutral", "wb": "auto"},
    {"look": "vibrant", "highlights": "clip", "lens_correction": False},
)


SAVE_AS = ("jpg", "png", "tif", "jpg")  # output formats the mutants cycle through


def run_one(path: Path, options: dict[str, Any] | None = None, out: Path | None = None) -> str:
    """Open and develop ``path`` in-process (and save to ``out`` when given: the writers get the
    file's metadata); the outcome class (see module docstring)."""
    from rawlux.core.errors import InputError, RawluxError
    from rawlux.develop import develop
    from rawlux.io.raw import open_raw

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = open_raw(path)
            img = develop(raw, **(options or OPTIONS[0]))
            if out is not None:
                from rawlux.io.write import save

                save(img, out)
        return "ok"
    except RawluxError as e:
        msg = str(e)
        if "\n" in msg or not msg.startswith(f"{path}: "):
            return f"UNNAMED:{type(e).__name__}"  # typed, but not one line naming the file
        if not isinstance(e, InputError):
            return f"STAGE:{type(e).__name__}"  # io let a bad value through to a stage
        return type(e).__name__
    except MemoryError:
        return "ESCAPE:MemoryError"
    except Exception as e:  # noqa: BLE001 - exactly what the fuzzer looks for
        return f"ESCAPE:{type(e).__name__}"


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="mutants to run (default 1000)")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep escaping mutants in")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--max-memory-mb", type=int, default=4096,
                    help="address-space limit of the run (a runaway allocation becomes a "
                         "MemoryError, reported as ESCAPE:MemoryError; 0 = no limit)")
    a = ap.parse_args(argv)
    if a.max_memory_mb > 0:
        import resource

        lim = a.max_memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    t0 = time.monotonic()
    outcomes: Counter[str] = Counter()
    n = 0
    with tempfile.TemporaryDirectory() as td:
        path = Path(td) / "m.dng"
        count = a.count if a.seconds is None else 10**9
        for name, blob, what in mutants(a.seed, count):
            if a.seconds is not None and time.monotonic() - t0 > a.seconds:
                break
            path.write_bytes(blob)
            out = run_one(path, OPTIONS[n % len(OPTIONS)], Path(td) / f"out.{SAVE_AS[n % len(SAVE_AS)]}")
            outcomes[out] += 1
            n += 1
            bad = out.startswith(BUG_PREFIXES)
            if bad or a.verbose:
                print(f"{name}: {out}  [{'; '.join(what)}]", flush=True)
                if a.keep is not None and bad:
                    a.keep.mkdir(parents=True, exist_ok=True)
                    (a.keep / f"{name}.dng").write_bytes(blob)
    dt_s = time.monotonic() - t0
    print(f"\n{n} mutants in {dt_s:.1f} s ({n / max(dt_s, 1e-9):.1f}/s), peak RSS {peak_rss_mb():.0f} MB")
    print(f"{'outcome':<28} {'count':>7}")
    for k, v in outcomes.most_common():
        print(f"{k:<28} {v:>7}")
    return 1 if any(k.startswith(BUG_PREFIXES) for k in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
