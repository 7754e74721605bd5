"""Photo metadata read: EXIF of raws, JPEG, HEIC, PNG, TIFF -> :class:`Metadata`.

pyexiv2 (exiv2) is the primary reader; Pillow's ``getexif`` (with pillow-heif for HEIC) is the
fallback when exiv2 cannot open a file. Never raises for unreadable metadata: a missing file
raises :class:`MissingInput`, anything else gives an empty :class:`Metadata`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from rawlux.core.errors import MissingInput
from rawlux.core.image import GPS, Metadata
from rawlux.core.plausible import clean_metadata

_TIME_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y-%m-%dT%H:%M:%S")


def _num(s: Any) -> float | None:
    """A float from an EXIF value string (``"1/16"``, ``"19/10"``, ``"744"``, ``"0 200"``)."""
    if s is None:
        return None
    if isinstance(s, (int, float)):
        v = float(s)
    elif isinstance(s, tuple) and len(s) == 2:  # (num, den)
        v = float(s[0]) / float(s[1]) if s[1] else math.nan
    else:
        txt = str(s).strip().split()
        if not txt:
            return None
        try:
            v = float(Fraction(txt[-1])) if "/" in txt[-1] else float(txt[-1])
        except (ValueError, ZeroDivisionError):
            return None
    if not math.isfinite(v):
        return None
    return v


def _positive(s: Any) -> float | None:
    v = _num(s)
    return v if v is not None and v > 0 else None


def _text(s: Any) -> str | None:
    if s is None:
        return None
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace")
    t = str(s).replace("\x00", "").strip()
    if t.lower().startswith("charset="):  # exiv2 comment values
        t = t.split(" ", 1)[-1].strip()
    return t or None


def _date(s: Any) -> _dt.datetime | None:
    t = _text(s)
    if not t:
        return None
    t = t[:19]
    for fmt in _TIME_FORMATS:
        try:
            return _dt.datetime.strptime(t, fmt)
        except ValueError:
            continue
    return None


def _dms(s: Any) -> float | None:
    """Degrees from an EXIF DMS value ('52/1 27/1 3458/100' or a 3-tuple)."""
    if s is None:
        return None
    parts = list(s) if isinstance(s, (tuple, list)) else str(s).split()
    if len(parts) != 3:
        return None
    vals = [_num(p) for p in parts]
    if any(v is None for v in vals):
        return None
    d, m, sec = vals  # type: ignore[misc]
    return d + m / 60.0 + sec / 3600.0


def _gps(lat: Any, lat_ref: Any, lon: Any, lon_ref: Any, alt: Any, alt_ref: Any) -> GPS | None:
    la, lo = _dms(lat), _dms(lon)
    if la is None or lo is None or abs(la) > 90 or abs(lo) > 180:
        return None
    if str(_text(lat_ref) or "N").upper().startswith("S"):
        la = -la
    if str(_text(lon_ref) or "E").upper().startswith("W"):
        lo = -lo
    a = _num(alt)
    if a is not None and str(_text(alt_ref) or "0").strip() in ("1", "b'\\x01'", "\x01"):
        a = -a
    return GPS(latitude=la, longitude=lo, altitude=a)


def _declared(md: Metadata, raw: Mapping[str, Any]) -> Metadata:
    """Clean ``md`` (:func:`rawlux.core.plausible.clean_metadata`) and list in
    ``extra["dropped"]`` the fields whose tag is in the file but holds no usable value (0, blank):
    those are known to be unknown, so no other source (LibRaw's APEX-derived guesses) may fill
    them."""
    from dataclasses import replace

    blank = tuple(k for k, v in raw.items()
                  if v is not None and str(v).strip() != "" and getattr(md, k) is None)
    if blank:
        extra = dict(md.extra)
        extra["dropped"] = tuple(dict.fromkeys((*extra.get("dropped", ()), *blank)))
        md = replace(md, extra=extra)
    return clean_metadata(md)


def _orientation(s: Any) -> int:
    v = _num(s)
    return int(v) if v is not None and 1 <= v <= 8 else 1


def _from_exiv2(d: Mapping[str, Any]) -> Metadata:
    def g(*keys: str) -> Any:
        for k in keys:
            if k in d and str(d[k]).strip() != "":
                return d[k]
        return None

    iso = _positive(
        g("Exif.Photo.ISOSpeedRatings", "Exif.Photo.PhotographicSensitivity", "Exif.Image.ISOSpeedRatings",
          "Exif.Nikon1.ISOSpeed", "Exif.Nikon3.ISOSpeed", "Exif.NikonIi.ISO")
    )  # fmt: skip
    lens = _text(
        g(
            "Exif.Photo.LensModel",
            "Exif.Image.LensModel",
            "Exif.Canon.LensModel",
            "Exif.NikonLd3.LensModel",
        )
    )
    extra: dict[str, Any] = {}
    lens_make = _text(g("Exif.Photo.LensMake"))
    if lens_make:
        extra["lens_make"] = lens_make
    declared = {
        "exposure_time": g("Exif.Photo.ExposureTime", "Exif.Image.ExposureTime"),
        "f_number": g("Exif.Photo.FNumber", "Exif.Image.FNumber"),
        "iso": g("Exif.Photo.ISOSpeedRatings", "Exif.Photo.PhotographicSensitivity"),
        "focal_length": g("Exif.Photo.FocalLength", "Exif.Image.FocalLength"),
        "datetime_original": g("Exif.Photo.DateTimeOriginal", "Exif.Image.DateTimeOriginal"),
    }
    return _declared(Metadata(
        make=_text(g("Exif.Image.Make")),
        model=_text(g("Exif.Image.Model")),
        lens=lens,
        exposure_time=_positive(g("Exif.Photo.ExposureTime", "Exif.Image.ExposureTime")),
        f_number=_positive(g("Exif.Photo.FNumber", "Exif.Image.FNumber")),
        iso=iso,
        focal_length=_positive(g("Exif.Photo.FocalLength", "Exif.Image.FocalLength")),
        focal_length_35mm=_positive(g("Exif.Photo.FocalLengthIn35mmFilm")),
        datetime_original=_date(
            g(
                "Exif.Photo.DateTimeOriginal",
                "Exif.Image.DateTimeOriginal",
                "Exif.Photo.DateTimeDigitized",
                "Exif.Image.DateTime",
            )
        ),  # fmt: skip
        gps=_gps(
            g("Exif.GPSInfo.GPSLatitude"),
            g("Exif.GPSInfo.GPSLatitudeRef"),
            g("Exif.GPSInfo.GPSLongitude"),
            g("Exif.GPSInfo.GPSLongitudeRef"),
            g("Exif.GPSInfo.GPSAltitude"),
            g("Exif.GPSInfo.GPSAltitudeRef"),
        ),  # fmt: skip
        orientation=_orientation(g("Exif.Image.Orientation")),
        software=_text(g("Exif.Image.Software")),
        artist=_text(g("Exif.Image.Artist")),
        copyright=_text(g("Exif.Image.Copyright")),
        extra=extra,
    ), declared)


def _read_exiv2(path: Path) -> dict[str, Any] | None:
    try:
        import pyexiv2

        pyexiv2.set_log_level(4)  # mute exiv2 warnings on stderr
        with pyexiv2.Image(str(path)) as im:
            try:
                return im.read_exif()
            except UnicodeDecodeError:
                return im.read_exif(encoding="latin-1")
    except Exception:  # noqa: BLE001 - exiv2 raises RuntimeError/ValueError for unknown formats
        return None


def _rational(v: Any) -> Any:
    """Pillow IFDRational / tuple -> float."""
    try:
        return float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        return v


def _read_pillow(path: Path) -> Metadata | None:
    try:
        from PIL import Image as PILImage

        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except Exception:  # noqa: BLE001
            pass
        with PILImage.open(path) as im:
            ex = im.getexif()
            if not ex:
                return None
            sub = ex.get_ifd(0x8769)
            gps = ex.get_ifd(0x8825)
            # pillow-heif moves the HEIF orientation out of the EXIF block into info
            orient = im.info.get("original_orientation", ex.get(0x0112))
    except Exception:  # noqa: BLE001
        return None

    def r(v: Any) -> float | None:
        v = _rational(v)
        return _positive(v) if v is not None else None

    g = None
    if gps and 2 in gps and 4 in gps:
        g = _gps(
            tuple(_rational(x) for x in gps[2]), gps.get(1), tuple(_rational(x) for x in gps[4]), gps.get(3),
            _rational(gps.get(6)), gps.get(5, 0),
        )  # fmt: skip
    iso = sub.get(0x8827)
    if isinstance(iso, (tuple, list)):
        iso = iso[0] if iso else None
    declared = {"exposure_time": sub.get(0x829A), "f_number": sub.get(0x829D), "iso": iso,
                "focal_length": sub.get(0x920A), "datetime_original": sub.get(0x9003)}
    return _declared(Metadata(
        make=_text(ex.get(0x010F)),
        model=_text(ex.get(0x0110)),
        lens=_text(sub.get(0xA434)),
        exposure_time=r(sub.get(0x829A)),
        f_number=r(sub.get(0x829D)),
        iso=r(iso),
        focal_length=r(sub.get(0x920A)),
        focal_length_35mm=r(sub.get(0xA405)),
        datetime_original=_date(sub.get(0x9003) or ex.get(0x0132)),
        gps=g,
        orientation=_orientation(orient),
        software=_text(ex.get(0x0131)),
        artist=_text(ex.get(0x013B)),
        copyright=_text(ex.get(0x8298)),
    ), declared)


def read_metadata(path: str | os.PathLike[str]) -> Metadata:
    """Camera metadata of any photo or raw file (make, model, lens, exposure in s, f-number, ISO,
    focal length in mm, 35 mm equivalent, date, GPS in decimal degrees, orientation 1..8).

    ``orientation`` applies to the pixels a decoder returns: for HEIF that is pillow-heif/libheif,
    which already applies the container rotation (then 1 is reported, the EXIF value kept in
    ``extra["exif_orientation"]``).

    Raises :class:`MissingInput` when the file does not exist; returns ``Metadata()`` when the
    file has no readable metadata.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingInput("file does not exist", p)
    md = _read_dng_tifffile(p)  # fast path: exiv2 spends ~0.2 s on big phone DNG tags
    if md is not None:
        return md
    d = _read_exiv2(p)
    if d:
        md = _from_exiv2(d)
        if not (md.make or md.model or md.exposure_time or md.datetime_original):
            md = None
    md = md or _read_pillow(p) or Metadata()
    if md.orientation != 1 and _is_heif(p):
        md = _heif_orientation(p, md)
    return md


def _read_dng_tifffile(p: Path) -> Metadata | None:
    """Metadata of a DNG from its IFD 0, Exif and GPS IFDs via tifffile; None if not a DNG."""
    try:
        with open(p, "rb") as f:
            if f.read(4) not in (b"II*\x00", b"MM\x00*"):
                return None
        import logging

        import tifffile

        log = logging.getLogger("tifffile")
        old, log.disabled = log.disabled, True
        try:
            with tifffile.TiffFile(str(p)) as tf:
                pg = tf.pages[0]
                if 50706 not in pg.tags:
                    return None
                d: dict[str, Any] = {
                    t.name: t.value for t in pg.tags.values() if t.code < 50000 and t.code != 700
                }
                ex = d.pop("ExifTag", None)
                gps = d.pop("GPSTag", None)
        finally:
            log.disabled = old
    except Exception:  # noqa: BLE001 - fall back to exiv2
        return None
    if isinstance(ex, dict):
        d.update(ex)

    def pairs(v: Any) -> Any:
        if isinstance(v, tuple) and len(v) == 6:
            return [(v[0], v[1]), (v[2], v[3]), (v[4], v[5])]
        return v

    g = None
    if isinstance(gps, dict) and "GPSLatitude" in gps and "GPSLongitude" in gps:
        g = _gps(
            pairs(gps["GPSLatitude"]), gps.get("GPSLatitudeRef"), pairs(gps["GPSLongitude"]),
            gps.get("GPSLongitudeRef"), gps.get("GPSAltitude"), gps.get("GPSAltitudeRef"),
        )  # fmt: skip
    iso = d.get("ISOSpeedRatings", d.get("PhotographicSensitivity"))
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    extra: dict[str, Any] = {}
    if _text(d.get("LensMake")):
        extra["lens_make"] = _text(d.get("LensMake"))
    declared = {"exposure_time": d.get("ExposureTime"), "f_number": d.get("FNumber"), "iso": iso,
                "focal_length": d.get("FocalLength"), "datetime_original": d.get("DateTimeOriginal")}
    return _declared(Metadata(
        make=_text(d.get("Make")),
        model=_text(d.get("Model")),
        lens=_text(d.get("LensModel")),
        exposure_time=_positive(d.get("ExposureTime")),
        f_number=_positive(d.get("FNumber")),
        iso=_positive(iso),
        focal_length=_positive(d.get("FocalLength")),
        focal_length_35mm=_positive(d.get("FocalLengthIn35mmFilm")),
        datetime_original=_date(
            d.get("DateTimeOriginal") or d.get("DateTimeDigitized") or d.get("DateTime")
        ),
        gps=g,
        orientation=_orientation(d.get("Orientation")),
        software=_text(d.get("Software")),
        artist=_text(d.get("Artist")),
        copyright=_text(d.get("Copyright")),
        extra=extra,
    ), declared)


def _is_heif(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in (
        b"heic",
        b"heix",
        b"mif1",
        b"msf1",
        b"avif",
        b"heim",
        b"heis",
    )


def _heif_orientation(p: Path, md: Metadata) -> Metadata:
    """HEIF: libheif (pillow-heif) applies the container's irot/imir when decoding, which makes
    the EXIF orientation redundant. When the decoded size is the EXIF pixel size transposed, the
    rotation is already in the pixels: report orientation 1 for the pixels a reader gets."""
    from dataclasses import replace

    try:
        from PIL import Image as PILImage
        import pillow_heif

        pillow_heif.register_heif_opener()
        with PILImage.open(p) as im:
            sub = im.getexif().get_ifd(0x8769)
            ex_w, ex_h = sub.get(0xA002), sub.get(0xA003)
            size = im.size
    except Exception:  # noqa: BLE001
        return md
    if ex_w and ex_h and md.orientation in (5, 6, 7, 8) and size == (int(ex_h), int(ex_w)):
        extra = {**md.extra, "exif_orientation": md.orientation}
        return replace(md, orientation=1, extra=extra)
    return md


def merge_metadata(primary: Metadata, fallback: Metadata) -> Metadata:
    """Fields of ``primary`` with the gaps (None) filled from ``fallback``, except the fields
    ``primary`` knows to be blank in its file (``extra["dropped"]``); the result is cleaned of
    implausible values (:func:`rawlux.core.plausible.clean_metadata`)."""
    from dataclasses import fields, replace

    changes = {}
    known_unknown = set(primary.extra.get("dropped", ()))
    for f in fields(Metadata):
        if f.name in ("orientation", "extra") or f.name in known_unknown:
            continue
        if getattr(primary, f.name) is None and getattr(fallback, f.name) is not None:
            changes[f.name] = getattr(fallback, f.name)
    return clean_metadata(replace(primary, **changes) if changes else primary)


# --------------------------------------------------------------------- source EXIF of raw files

#: IFD0 tags of the EXIF standard that describe the capture, not the stored pixels
IFD0_KEEP = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x013C, 0x8298)
#: TIFF/EP tags that TIFF/EP raws (KDC, old NEF) keep in IFD0 and EXIF keeps in its Exif IFD
TIFFEP_TO_EXIF = (0x829A, 0x829D, 0x8822, 0x8824, 0x8827, 0x9003, 0x9201, 0x9202, 0x9203, 0x9204,
                  0x9205, 0x9206, 0x9207, 0x9208, 0x9209, 0x920A, 0x920B, 0x9215)
#: DNG IFD0 tags with an EXIF 2.3 twin: LensInfo -> LensSpecification, CameraSerialNumber ->
#: BodySerialNumber
DNG_TO_EXIF = {0xC630: 0xA432, 0xC62F: 0xA431}
#: Exif-IFD tags that describe the source file's pixels/encoding, not the capture: dropped
#: (pixel size and colour space are rewritten by the writer for the new pixels)
EXIF_DROP = (0x927C, 0xA005, 0xA002, 0xA003, 0xA001, 0xA420, 0x9214, 0xA214, 0x9101, 0x9102,
             0xA500)
_TIFF_LIKE = {b"II*\x00": None, b"MM\x00*": None, b"IIRO": b"II*\x00", b"IIRS": b"II*\x00",
              b"MMOR": b"MM\x00*", b"IIU\x00": b"II*\x00"}  # ORF, RW2: TIFF with their own magic


def source_exif(path: str | os.PathLike[str]) -> bytes | None:
    """The standard EXIF of a raw as ``b"Exif\\0\\0"`` + TIFF bytes, ready to merge into a
    developed output; None when the file has no readable EXIF.

    TIFF-structured raws (DNG, NEF, KDC, CR2, ARW, PEF, ORF, RW2...) are parsed by Pillow from
    their own IFDs; other containers (CR3, RAF, CRW...) through exiv2, which knows them.
    Kept: the capture tags of IFD0 (make, model, description, date, artist, copyright), the whole
    Exif IFD (exposure program, compensation, metering, flash, white balance mode, time-zone
    offsets, lens, serials...) and the GPS IFD. TIFF/EP tags stored in IFD0 move to the Exif
    IFD and DNG's LensInfo/CameraSerialNumber become LensSpecification/BodySerialNumber.
    Dropped: raw-structure tags (DNG colour/level/opcode tags, strips, SubIFDs, thumbnails),
    tags describing the source pixels (:data:`EXIF_DROP`) and the maker note, which describes
    the raw data (previews, sensor offsets) and often points outside itself.
    """
    from PIL import Image as PILImage

    from rawlux.io.write import _register_exif_types

    # Pillow parses a tag by its registered type: register the EXIF types write adds *before*
    # parsing, so the bytes do not depend on whether this process has saved a file already
    # (rationals such as 0/96 were kept or reduced to 0/1 depending on that history).
    _register_exif_types()
    p = Path(path)
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
            if magic in _TIFF_LIKE:
                data = (_TIFF_LIKE[magic] or magic) + f.read()
            elif magic == b"\x89PNG":  # a bare Bayer mosaic: no camera EXIF
                return None
            else:
                data = _exiv2_exif(p)
    except OSError:
        return None
    if not data:
        return None
    try:
        src = PILImage.Exif()
        src.load(data)
        sub = dict(src.get_ifd(0x8769))
        gps = dict(src.get_ifd(0x8825))
        for tag in TIFFEP_TO_EXIF:
            if tag in src and tag not in sub:
                sub[tag] = src[tag]
        for tag, to in DNG_TO_EXIF.items():
            if tag in src and to not in sub:
                sub[to] = src[tag]
        for tag in EXIF_DROP:
            sub.pop(tag, None)
        out = PILImage.Exif()
        for tag in IFD0_KEEP:
            if tag in src:
                out[tag] = src[tag]
        if sub:
            out.get_ifd(0x8769).update(sub)
        if gps:
            out.get_ifd(0x8825).update(gps)
        blob = out.tobytes()
    except Exception:  # noqa: BLE001 - a broken source EXIF never blocks developing
        return None
    return blob if len(out) or sub or gps else None


_EXIV2_IFD0 = ("Make", "Model", "ImageDescription", "DateTime", "Artist", "Copyright", "HostComputer",
               "Software")


def _exiv2_exif(p: Path) -> bytes | None:
    """EXIF of a file exiv2 reads (CR3, RAF, CRW...) re-encoded by exiv2 as a TIFF block:
    the IFD0 capture tags, Exif (no maker note) and GPS tags, written into a 1-pixel JPEG whose
    APP1 payload is returned (exiv2 semantics: values round-trip through their exiv2 text form)."""
    import io

    from PIL import Image as PILImage

    d = _read_exiv2(p)
    if not d:
        return None
    keep = {k: v for k, v in d.items()
            if (k.startswith(("Exif.Photo.", "Exif.GPSInfo.")) or k in {f"Exif.Image.{n}" for n in _EXIV2_IFD0})
            and not k.endswith(("MakerNote", "InteroperabilityTag"))}
    if not keep:
        return None
    try:
        import pyexiv2

        tiny = io.BytesIO()
        PILImage.new("RGB", (1, 1)).save(tiny, "JPEG")
        with pyexiv2.ImageData(tiny.getvalue()) as img:
            img.modify_exif(keep)
            jpeg = img.get_bytes()
    except Exception:  # noqa: BLE001 - exiv2 rejects odd values: no EXIF rather than no photo
        return None
    at = jpeg.find(b"\xff\xe1")
    if at < 0 or jpeg[at + 4 : at + 10] != b"Exif\0\0":
        return None
    n = int.from_bytes(jpeg[at + 2 : at + 4], "big")
    return jpeg[at + 10 : at + 2 + n]
