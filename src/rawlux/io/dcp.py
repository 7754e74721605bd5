"""Reading DNG camera profiles: ``.dcp`` files and the profile tags of a DNG.

A ``.dcp`` is a TIFF-like file whose header magic is ``IIRC`` / ``MMCR`` (instead of 42) with one
IFD of profile tags (ColorMatrix1/2, ForwardMatrix1/2, CalibrationIlluminant1/2, ProfileName,
ProfileHueSatMap*, ProfileLookTable*, ProfileToneCurve, ...). It is parsed here by a small IFD
reader (tifffile refuses the magic); a DNG's profile tags (IFD 0, and the raw IFD for the
ProfileGainTableMap) are read with tifffile. Both end in
:func:`rawlux.color.dcp.profile_from_tags`.

:func:`apply_profile` puts a loaded profile into a :class:`RawImage`'s calibration (its matrices
replace the file's when the profile has them; the file's gain table map is kept).
"""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rawlux.color.dcp import (PROFILE_TAGS, DngProfile, Entry, entry, profile_entries,
                              profile_from_tags)
from rawlux.core.errors import CorruptInput, MissingInput, UnsupportedInput
from rawlux.core.image import ColorCalibration, RawImage

_CODES = frozenset(PROFILE_TAGS.values())
_MAX_DCP_BYTES = 64 * 1024 * 1024
_TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1),
          7: ("B", 1), 8: ("h", 2), 9: ("i", 4), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8)}


def _read_ifd(b: bytes, path: Any) -> tuple[dict[int, Any], str]:
    """Tags of the first IFD of a DCP (or any classic TIFF) byte string: code -> value (bytes for
    UNDEFINED, str for ASCII, float64 array otherwise), and the byte order."""
    if len(b) < 8:
        raise CorruptInput("DCP file is shorter than its 8-byte header", path)
    order = {b"II": "<", b"MM": ">"}.get(b[:2])
    if order is None:
        raise CorruptInput("not a DCP/TIFF file (byte order mark missing)", path)
    magic, off = struct.unpack(order + "HI", b[2:8])
    if magic not in (0x4352, 42, 0x4F52, 0x5352):  # 'RC' (DCP), TIFF, 'RO' (ORF), 'RS'
        raise UnsupportedInput(f"header magic 0x{magic:04x} is not a DNG camera profile (IIRC)", path)
    if off + 2 > len(b):
        raise CorruptInput(f"IFD offset {off} is beyond the {len(b)}-byte file", path)
    (n,) = struct.unpack_from(order + "H", b, off)
    if n == 0 or off + 2 + 12 * n > len(b):
        raise CorruptInput(f"IFD with {n} entries does not fit in the file", path)
    tags: dict[int, Any] = {}
    for k in range(n):
        code, typ, count, inline = struct.unpack_from(order + "HHI4s", b, off + 2 + 12 * k)
        if code not in _CODES or typ not in _TYPES:
            continue
        fmt, size = _TYPES[typ]
        nbytes = size * count
        if nbytes > _MAX_DCP_BYTES:
            raise CorruptInput(f"tag {code} claims {nbytes} bytes", path)
        if nbytes <= 4:
            data = inline[:nbytes]
        else:
            (at,) = struct.unpack(order + "I", inline)
            if at + nbytes > len(b):
                raise CorruptInput(f"tag {code} data ({nbytes} bytes at {at}) is beyond the "
                                   "end of the file", path)
            data = b[at : at + nbytes]
        if typ == 2:
            tags[code] = data.split(b"\x00", 1)[0].decode("utf-8", "replace")
        elif typ == 7:
            tags[code] = bytes(data)
        elif typ in (5, 10):
            v = np.frombuffer(data, np.dtype("u4" if typ == 5 else "i4").newbyteorder(order))
            num, den = v[0::2].astype(np.float64), v[1::2].astype(np.float64)
            tags[code] = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
        else:
            dt = np.dtype(fmt).newbyteorder(order)
            tags[code] = np.frombuffer(data, dt, count=count).astype(np.float64)
    return tags, order


def read_dcp(path: str | os.PathLike[str]) -> tuple[DngProfile, ColorCalibration]:
    """A ``.dcp`` file -> (profile tables, its colour matrices as a ColorCalibration with
    ``source="dcp"``). Raises MissingInput / CorruptInput / UnsupportedInput naming the file."""
    p = Path(path)
    if not p.is_file():
        raise MissingInput("camera profile not found", p)
    size = p.stat().st_size
    if size > _MAX_DCP_BYTES:
        raise CorruptInput(f"camera profile is {size} bytes, over {_MAX_DCP_BYTES}", p)
    tags, order = _read_ifd(p.read_bytes(), p)
    prof = profile_from_tags(tags.get, p, source=str(p), byteorder=order)
    assert prof is not None  # source != "dng" always gives a profile
    cal = _calibration(tags, p)
    return prof, cal


def _calibration(tags: dict[int, Any], path: Any) -> ColorCalibration:
    from rawlux.color.camera import camera_profile

    def mat(name: str) -> np.ndarray | None:
        v = tags.get(PROFILE_TAGS[name])
        if v is None:
            return None
        a = np.asarray(v, np.float64)
        if a.size != 9:
            raise CorruptInput(f"{name} has {a.size} values, expected 9 (RGB camera)", path)
        return a.reshape(3, 3)

    cm1 = mat("ColorMatrix1")
    if cm1 is None:
        raise CorruptInput("camera profile has no ColorMatrix1", path)
    ill = [int(np.asarray(tags.get(PROFILE_TAGS[f"CalibrationIlluminant{i}"], [0])).ravel()[0])
           for i in (1, 2)]
    cal = ColorCalibration(
        color_matrix1=cm1, color_matrix2=mat("ColorMatrix2"),
        forward_matrix1=mat("ForwardMatrix1"), forward_matrix2=mat("ForwardMatrix2"),
        illuminant1=ill[0], illuminant2=ill[1], source="dcp",
    )
    camera_profile(cal, str(path))  # validates the matrices (singular, non-finite, ...)
    return cal


def read_dng_profile(path: str | os.PathLike[str], frame: tuple[int, ...] | None = None,
                     ) -> DngProfile | None:
    """Profile tags of a DNG (IFD 0 first, then the raw IFD; ProfileGainTableMap from the raw
    IFD), or None when it has none. ``frame``: see :class:`rawlux.color.dcp.GainTableMap`."""
    import tifffile

    from rawlux.io.dng import quiet_tifffile

    p = str(path)
    try:
        with quiet_tifffile(), tifffile.TiffFile(p) as tf:
            page0 = tf.pages[0]
            pages = [page0]
            try:
                pages += list(page0.pages or [])
            except Exception:  # noqa: BLE001 - broken SubIFDs: the raw reader reports them
                pass
            found: dict[int, Any] = {}
            for pg in pages:
                sub = pg.tags.get(254)
                is_main = pg is page0 or (sub is not None and int(sub.value) == 0)
                if not is_main:
                    continue
                for t in pg.tags.values():
                    if t.code in _CODES and t.code not in found:
                        try:
                            found[t.code] = t.value
                        except Exception:  # noqa: BLE001 - unreadable value
                            raise CorruptInput(f"tag {t.code} cannot be read", p) from None
            order = tf.byteorder
    except (CorruptInput, UnsupportedInput):
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises many types on hostile data
        raise CorruptInput(f"unreadable DNG profile tags ({type(e).__name__}: {e})", p) from None
    prof = profile_from_tags(found.get, p, byteorder=order)
    if prof is not None and prof.gain_table_map is not None and frame is not None:
        prof = replace(prof, gain_table_map=replace(prof.gain_table_map, frame=tuple(frame)))
    return prof


def profile_frame(raw: RawImage) -> tuple[int, int, int, int, int, int]:
    """(active height, active width, crop top, left, height, width) of ``raw``."""
    h, w = raw.height, raw.width
    c = raw.crop
    return (h, w, 0, 0, h, w) if c is None else (h, w, c.top, c.left, c.height, c.width)


def apply_profile(raw: RawImage, profile: DngProfile, calibration: ColorCalibration | None = None,
                  ) -> RawImage:
    """``raw`` developed with ``profile`` (a .dcp): its matrices (``calibration``) replace the
    file's, the as-shot white and analog balance stay, and the file's gain table map is kept."""
    cal = raw.calibration
    old = getattr(cal, "profile", None)
    gtm = getattr(old, "gain_table_map", None)
    if gtm is not None and profile.gain_table_map is None:
        profile = replace(profile, gain_table_map=gtm)
    if calibration is not None:
        cal = replace(calibration, as_shot_neutral=cal.as_shot_neutral,
                      as_shot_white_xy=cal.as_shot_white_xy, analog_balance=cal.analog_balance,
                      camera_calibration1=None, camera_calibration2=None)
    return replace(raw, calibration=replace(cal, profile=profile))


def describe_profile(raw: RawImage) -> list[tuple[str, str]]:
    """``rawlux info`` rows of the camera profile and gain table map of ``raw``."""
    prof = getattr(raw.calibration, "profile", None)
    if prof is None:
        return [("camera profile", "none (matrices only)")]
    rows = [("camera profile", f"{prof.name or 'unnamed'}"
             + ("" if prof.source == "dng" else f" (from {prof.source})"))]
    rows.append(("profile tables", prof.summary()))
    m = prof.gain_table_map
    if m is not None:
        pv, ph, pn = m.points
        w = " ".join(f"{x:.4g}" for x in m.weights)
        g = m.gains
        rows.append(("gain table map", f"v{m.version}: {ph}x{pv} tables of {pn} points, weights "
                     f"(R G B min max) {w}, gamma {m.gamma:g}, gains {float(g.min()):.3g}.."
                     f"{float(g.max()):.3g}"))
    return rows


def build_dcp(profile: DngProfile, calibration: ColorCalibration,
              camera_model: str = "rawlux") -> bytes:
    """A ``.dcp`` (little-endian ``IIRC``) holding ``calibration``'s matrices and illuminants and
    ``profile``'s name, tables, encodings, tone curve, exposure offset and black render."""
    entries: list[Entry] = [entry("UniqueCameraModel", 2, camera_model)]
    for i in (1, 2):
        cm = getattr(calibration, f"color_matrix{i}")
        if cm is not None:
            entries.append(entry(f"ColorMatrix{i}", 10, cm))
            entries.append(entry(f"CalibrationIlluminant{i}", 3, [getattr(calibration, f"illuminant{i}")]))
        fm = getattr(calibration, f"forward_matrix{i}")
        if fm is not None:
            entries.append(entry(f"ForwardMatrix{i}", 10, fm))
    entries += profile_entries(profile)
    entries.sort()
    n = len(entries)
    ifd_size = 2 + 12 * n + 4
    out = bytearray(b"IIRC" + struct.pack("<I", 8))
    blob = bytearray()
    data_start = 8 + ifd_size
    ifd = bytearray(struct.pack("<H", n))
    for code, typ, count, data in entries:
        if len(data) <= 4:
            ifd += struct.pack("<HHI", code, typ, count) + data.ljust(4, b"\x00")
        else:
            at = data_start + len(blob)
            ifd += struct.pack("<HHII", code, typ, count, at)
            blob += data + (b"\x00" if len(data) % 2 else b"")
    ifd += struct.pack("<I", 0)
    return bytes(out + ifd + blob)


def write_dcp(path: str | os.PathLike[str], profile: DngProfile, calibration: ColorCalibration,
              camera_model: str = "rawlux") -> Path:
    """Write :func:`build_dcp` to ``path`` atomically (temp file, then rename)."""
    import tempfile

    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent or ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(build_dcp(profile, calibration, camera_model))
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


#: DNG 1.5-1.7 extra-image tags: SemanticName, SemanticInstanceID, MaskSubArea, Enhanced.
_SEMANTIC_NAME, _SEMANTIC_ID, _MASK_SUBAREA, _ENHANCED = 52526, 52528, 52536, 51182
_PHOTOMETRIC_SEMANTIC = 52527
_RGB_TABLES = 52543


def dng_extras(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """``rawlux info`` rows for the DNG's semantic masks (DNG 1.6, e.g. Apple ProRAW's sky /
    skin / hair mattes), enhanced image (DNG 1.5, e.g. ProRAW's processed rendition) and
    RGBTables; recognised and reported, not applied. Empty for other files."""
    import tifffile

    from rawlux.io.dng import quiet_tifffile

    rows: list[tuple[str, str]] = []
    try:
        with quiet_tifffile(), tifffile.TiffFile(str(path)) as tf:
            if not tf.pages or 50706 not in tf.pages[0].tags:
                return rows
            page0 = tf.pages[0]
            try:
                pages = [page0, *(page0.pages or [])]
            except Exception:  # noqa: BLE001
                pages = [page0]
            masks, enhanced = [], []
            for pg in pages:
                sft = pg.tags.get(254)
                if int(pg.compression) in (52546, 50002) and (sft is None or int(sft.value) == 0):
                    dist = pg.tags.get(52553)
                    kind = ("" if dist is None else
                            ", lossless" if float(dist.value) == 0 else f", distance {float(dist.value):g}")
                    tiles = f"{pg.tilewidth}x{pg.tilelength} tiles" if pg.is_tiled else "strips"
                    rows.append(("raw compression", f"JPEG XL (DNG 1.7), {tiles}{kind}"))
                t = pg.tags
                phot = t.get(262)
                name = t.get(_SEMANTIC_NAME)
                if name is not None or (phot is not None and int(phot.value) == _PHOTOMETRIC_SEMANTIC):
                    label = str(name.value).strip("\x00 ") if name is not None else "unnamed"
                    inst = t.get(_SEMANTIC_ID)
                    if inst is not None:
                        label += f" [{str(inst.value).strip()}]"
                    sub = t.get(_MASK_SUBAREA)
                    where = f", sub-area {tuple(int(v) for v in sub.value)}" if sub is not None else ""
                    masks.append(f"{label} ({pg.imagewidth}x{pg.imagelength}, {pg.bitspersample}-bit, "
                                 f"compression {int(pg.compression)}{where})")
                enh = t.get(_ENHANCED)
                if enh is not None:
                    enhanced.append(f"{str(enh.value).strip()} ({pg.imagewidth}x{pg.imagelength}, "
                                    f"{pg.samplesperpixel} samples)")
            if masks:
                rows.append(("semantic masks", "; ".join(masks) + " (recognised, not applied)"))
            if enhanced:
                rows.append(("enhanced image", "; ".join(enhanced) + " (recognised, not used)"))
            if _RGB_TABLES in page0.tags:
                rows.append(("RGB tables", "present (DNG 1.7 masked colour tables; not applied)"))
    except Exception:  # noqa: BLE001 - extras never block info; the raw reader judged the file
        return rows
    return rows


def describe_dcp(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """``rawlux info FILE.dcp`` rows: name, matrices with illuminants, tables."""
    from rawlux.io.dng import illuminant_name

    prof, cal = read_dcp(path)
    rows = [("file", str(path)), ("camera profile", prof.name or "unnamed")]
    for i in (1, 2):
        cm = getattr(cal, f"color_matrix{i}")
        if cm is not None:
            m = " / ".join(" ".join(f"{v:+.4f}" for v in row) for row in cm)
            rows.append((f"ColorMatrix{i}", f"{m}  [{illuminant_name(getattr(cal, f'illuminant{i}'))}]"))
        fm = getattr(cal, f"forward_matrix{i}")
        if fm is not None:
            rows.append((f"ForwardMatrix{i}", " / ".join(" ".join(f"{v:+.4f}" for v in row) for row in fm)))
    rows.append(("profile tables", prof.summary()))
    if prof.copyright:
        rows.append(("copyright", prof.copyright))
    return rows
