"""Raw reading: rawpy/LibRaw pixels + tifffile DNG tags -> :class:`RawImage`.

* Every format LibRaw reads; arrays are owned copies (nothing dies with the rawpy handle).
* Only the visible area (ActiveArea / LibRaw margins removed) is returned; ``cfa`` names the
  top-left 2x2 of what is returned.
* DNG colour, level, crop, noise and opcode tags come from the file's tags (LibRaw gives a zero
  camera matrix for DNGs); other raws use LibRaw's XYZ->camera matrix (D65).
* LinearRaw DNGs -> ``CFA.LINEAR`` (H, W, 3) uint16; 6x6 X-Trans DNGs -> ``CFA.XTRANS`` mosaics
  with their tile (demosaiced by rawlux); X-Trans RAFs and other non-Bayer mosaics (CMYG, ...)
  are demosaiced by LibRaw into a LINEAR RawImage (:func:`libraw_linear`).
* Bare Bayer mosaics stored as greyscale PNG/TIFF open when ``cfa`` is given.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from rawlux.core.errors import (
    ContractError,
    CorruptInput,
    ImageTooLarge,
    InvalidParameter,
    RawluxError,
    UnsupportedInput,
)
from rawlux.core.image import CFA, ColorCalibration, Metadata, RawImage
from rawlux.io import dng as _dng
from rawlux.io.safety import (
    FORMAT_NAMES,
    check_dimensions,
    check_memory,
    check_readable,
    decoder_messages,
    read_head,
    sniff,
)
from rawlux.io.dng import illuminant_name, opcode_name
from rawlux.io.exif import merge_metadata, read_metadata, source_exif

# XYZ (D65) -> linear sRGB; stands in for a camera matrix when LibRaw has none (LibRaw then
# treats camera RGB as sRGB too).
_XYZ_TO_SRGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)
# LibRaw "flip" -> EXIF orientation.
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


class EmptyRawWarning(UserWarning):
    """The raw holds no image data (metadata-only file): developing it gives a black picture."""


def _parse_cfa(cfa: str | CFA | None) -> CFA | None:
    if cfa is None or isinstance(cfa, CFA):
        return cfa
    try:
        c = CFA(str(cfa).strip().upper())
    except ValueError:
        c = None
    if c is None or not c.is_bayer:
        raise InvalidParameter(f"cfa must be one of RGGB, BGGR, GRBG, GBRG, got '{cfa}'")
    return c


def _libraw_errors() -> tuple[type[BaseException], ...]:
    import rawpy

    # rawpy raises NotImplementedError for CFA layouts it cannot describe ("filters: 148")
    return (rawpy.LibRawError, rawpy.NotSupportedError, NotImplementedError)


def _translate_libraw(e: BaseException, path: Path, kind: str) -> RawluxError:
    """A LibRaw exception as the matching typed rawlux error."""
    import rawpy

    name = type(e).__name__
    if isinstance(e, rawpy.LibRawFileUnsupportedError):
        if kind in FORMAT_NAMES:
            return UnsupportedInput(
                f"looks like {FORMAT_NAMES[kind]}, which LibRaw cannot read as a raw", path
            )
        return CorruptInput(
            "not a raw file LibRaw can identify (unknown format or damaged data)", path
        )
    if isinstance(e, (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError)):
        return ImageTooLarge(f"LibRaw refused the image size ({name})", path)
    if isinstance(e, NotImplementedError):
        return UnsupportedInput(f"LibRaw reports a sensor layout rawlux cannot use ({e})", path)
    if isinstance(e, rawpy.LibRawIOError):
        return CorruptInput("truncated or unreadable raw data (LibRaw I/O error)", path)
    return CorruptInput(f"LibRaw could not decode the file ({name}: {e})", path)


# ------------------------------------------------------------------------------------ public API


def _contract_errors_are_input_errors(fn: Any) -> Any:
    """A :class:`ContractError` while reading (a damaged file decoded into a shape or type the
    data contract refuses) is reported as the :class:`CorruptInput` it is, naming the file."""
    import functools

    @functools.wraps(fn)
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(path, *args, **kwargs)
        except ContractError as e:
            raise CorruptInput(f"decoded data is unusable ({e.reason})", path) from None

    return wrapper


@_contract_errors_are_input_errors
def open_raw(
    path: str | os.PathLike[str],
    *,
    cfa: str | CFA | None = None,
    black: float | None = None,
    white: float | None = None,
) -> RawImage:
    """Read a raw capture as a :class:`RawImage` (uint16 DN, levels in DN; see module docstring).

    ``cfa`` (RGGB/BGGR/GRBG/GBRG) is required for bare mosaics in greyscale PNG/TIFF and overrides
    the layout of a Bayer raw; ``black``/``white`` (DN) override the levels read from the file.
    Errors: :class:`MissingInput`, :class:`CorruptInput`, :class:`UnsupportedInput`,
    :class:`ImageTooLarge` (checked from headers before decoding), one line naming the file.
    """
    p = check_readable(path)
    want_cfa = _parse_cfa(cfa)
    for name, v in (("black", black), ("white", white)):
        if v is not None and not (math.isfinite(float(v)) and 0 <= float(v) <= 65535):
            raise InvalidParameter(f"{name} level must be within 0..65535 DN, got {v}")
    if black is not None and white is not None and float(black) >= float(white):
        raise InvalidParameter(f"black level {black} must be below white level {white}")
    head = read_head(p)
    kind = sniff(head)
    if kind == "empty":
        raise CorruptInput("file is empty", p)
    if kind == "png":
        if want_cfa is None:
            raise UnsupportedInput(
                "looks like a PNG image; for a bare Bayer mosaic pass --cfa RGGB|BGGR|GRBG|GBRG", p
            )
        raw = _open_mosaic_png(p, want_cfa)
    elif kind == "tiff":
        probe = _dng.probe_tiff(p)
        if probe["is_dng"]:
            raw = _open_dng(p)
            if probe["metadata_only"]:
                from dataclasses import replace

                note = "image data stripped from the file (metadata only); pixels read as zeros"
                raw = replace(
                    raw,
                    metadata=replace(raw.metadata, extra={**raw.metadata.extra, "warning": note}),
                )
                import warnings

                warnings.warn(f"{p}: {note}", EmptyRawWarning, stacklevel=2)
        elif probe["grey"] and not probe["has_make"]:
            if want_cfa is None:
                raise UnsupportedInput(
                    "looks like a greyscale TIFF image without camera tags; for a bare Bayer mosaic pass "
                    "--cfa RGGB|BGGR|GRBG|GBRG",
                    p,
                )
            raw = _open_mosaic_tiff(p, want_cfa)
        else:
            raw = _open_libraw(p, kind)
    elif kind in FORMAT_NAMES and kind != "bigtiff":
        raise UnsupportedInput(f"looks like {FORMAT_NAMES[kind]}, not a raw file", p)
    else:
        raw = _open_libraw(p, kind)
    return _apply_overrides(raw, want_cfa, black, white)


def _apply_overrides(
    raw: RawImage, cfa: CFA | None, black: float | None, white: float | None
) -> RawImage:
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if cfa is not None and raw.cfa.is_bayer and cfa is not raw.cfa:
        changes.update(cfa=cfa, cfa_pattern=cfa.pattern())
    if black is not None:
        changes["black"] = np.full_like(raw.black, float(black), dtype=np.float64)
    if white is not None:
        changes["white"] = float(white)
    b = changes.get("black", raw.black)
    w = changes.get("white", raw.white)
    if float(np.max(b)) >= float(w):
        raise CorruptInput(
            f"black level {float(np.max(b)):g} is not below white level {float(w):g}", raw.source
        )
    return replace(raw, **changes) if changes else raw


# ------------------------------------------------------------------------------------- metadata


def _metadata(p: Path, rp: Any | None = None, orientation: int | None = None) -> Metadata:
    """EXIF via :func:`rawlux.io.exif.read_metadata`, gaps filled from LibRaw's own fields; the
    source's standard EXIF block in ``extra["exif_bytes"]`` (:func:`rawlux.io.exif.source_exif`)."""
    from dataclasses import replace

    try:
        with _dng.quiet_tifffile("PIL.TiffImagePlugin", "PIL.Image"):  # they log damaged headers
            md = read_metadata(p)
    except Exception:  # noqa: BLE001 - metadata never blocks opening the pixels
        md = Metadata()
    if rp is not None:
        try:
            o = rp.other
            lens = rp.lens
            ts = o.timestamp if getattr(o, "timestamp", None) and o.timestamp.year > 1970 else None
            lib = Metadata(
                lens=(lens.model or None),
                exposure_time=float(o.shutter_speed) if o.shutter_speed > 0 else None,
                f_number=round(float(o.aperture), 3) if o.aperture > 0 else None,
                iso=float(o.iso_speed) if o.iso_speed > 0 else None,
                focal_length=round(float(o.focal_length), 3) if o.focal_length > 0 else None,
                datetime_original=ts,
                artist=(o.artist or None),
            )
            md = merge_metadata(md, lib)
        except Exception:  # noqa: BLE001
            pass
    if orientation is not None:
        md = replace(md, orientation=orientation)

    blob = source_exif(p)  # every standard EXIF tag of the source, carried into outputs by save()
    if blob:
        md = replace(md, extra={**md.extra, "exif_bytes": blob})
    return _dng.sanitize_metadata(md, p)  # absurd EXIF numbers would break the writers


# ----------------------------------------------------------------------------------------- DNG


def _open_dng(p: Path, *, direct_read: bool = True) -> RawImage:
    """A DNG as a RawImage. ``direct_read``: uncompressed 16-bit CFA pixels are read straight
    from the file (one contiguous read, see :func:`_dng_pixels_direct`) instead of via LibRaw's
    unpack, which is several times slower for them; everything else goes through LibRaw."""
    tags, info = _dng.read_dng_tags(p)
    _dng.check_raw_ifd(info, p)  # dimensions vs. file contents and memory budget, before decoding
    if info["samples"] not in (1, 3):
        raise UnsupportedInput(f"DNG raw image has {info['samples']} samples per pixel", p)
    linear = info["photometric"] == _dng.PHOTOMETRIC_LINEAR_RAW
    xtrans = False
    if not linear:
        dim = tags.floats(_dng.TAG["CFARepeatPatternDim"])
        rep = None if dim is None or dim.size != 2 else tuple(int(x) for x in dim)
        if rep is not None and rep not in ((2, 2), (6, 6)):
            raise UnsupportedInput(
                f"DNG CFA repeat pattern {rep} is neither a 2x2 Bayer nor a 6x6 X-Trans", p
            )
        xtrans = rep == (6, 6)
    calibration = _dng.calibration_from_tags(tags)
    noise = _dng.noise_profile_from_tags(tags)
    ops = [_dng.opcodes_from_tags(tags, n) for n in (1, 2, 3)]
    baseline = tags.baseline_exposure()
    orientation = tags.orientation()
    aa = tags.floats(_dng.TAG["ActiveArea"])
    aa_top, aa_left = (int(aa[0]), int(aa[1])) if aa is not None and aa.size == 4 else (0, 0)

    fast = None if linear or not direct_read else _dng_pixels_direct(p, tags, info, (aa_top, aa_left))
    from rawlux.io.dng_jxl import is_jxl

    # tifffile decodes what LibRaw cannot: DNG 1.7 JPEG XL tiles, 6x6 X-Trans DNGs (LibRaw reads
    # them, but rawlux keeps the DNG's own tags), and tiles wider than the image (LibRaw
    # misplaces the rows of such an uncompressed tile)
    wide_tile = info.get("tile_width", 0) > info["width"]
    if fast is None and (is_jxl(info["compression"]) or xtrans or wide_tile):
        fast = _dng_pixels_tifffile(p, tags, linear, (aa_top, aa_left), info)
    if fast is not None:
        rp = None
    else:
        import rawpy

        try:
            with decoder_messages(p):  # LibRaw prints header complaints on fd 2
                rp = rawpy.imread(str(p))
        except rawpy.LibRawFileUnsupportedError:
            rp = None  # e.g. LibRaw refuses images under 22 px a side: decode with tifffile instead
        except _libraw_errors() as e:
            raise _translate_libraw(e, p, "tiff") from None
    if rp is None:
        if fast is None:
            fast = _dng_pixels_tifffile(p, tags, linear, (aa_top, aa_left), info)
        data, pattern, desc, top, left = fast
        lib_black, lib_white = np.zeros(4), float(2 ** info["bits"] - 1)
        md = _metadata(p, None, orientation)
    else:
        with rp, decoder_messages(p):  # LibRaw prints damaged-data notes on fd 2
            s = rp.sizes
            check_dimensions(s.raw_width, s.raw_height, p, "raw image")
            _dng.check_decoded_size(s.raw_width, s.raw_height, info, p, "LibRaw")  # before unpack
            top, left = s.top_margin, s.left_margin
            try:
                full = rp.raw_image
                if linear:
                    if full.ndim != 3:
                        raise UnsupportedInput("LinearRaw DNG did not decode to 3 channels", p)
                    vis = full[top : top + s.height, left : left + s.width, :3]
                    data = np.array(vis, dtype=np.uint16, order="C", copy=True)
                else:
                    if full.ndim != 2:
                        raise UnsupportedInput("CFA DNG decoded to a multi-channel image", p)
                    data = np.array(rp.raw_image_visible, dtype=np.uint16, order="C", copy=True)
                lib_black = np.asarray(rp.black_level_per_channel, np.float64)
                lib_white = float(rp.white_level)
                pattern = None if linear else rp.raw_pattern
                desc = rp.color_desc.decode("ascii", "replace") if not linear else "RGB"
            except _libraw_errors() as e:
                raise _translate_libraw(e, p, "tiff") from None
            md = _metadata(p, rp, orientation)
    if md.model is None:
        from dataclasses import replace

        md = replace(md, model=tags.string(_dng.TAG["UniqueCameraModel"]))
    if data.ndim != (3 if linear else 2) or min(data.shape[:2]) < 2:
        kind = "3-channel" if linear else "mosaic"
        raise CorruptInput(f"DNG pixels decoded to shape {data.shape}, not a {kind} image", p)
    origin = (top - aa_top, left - aa_left)

    if linear:
        cfa_enum, cfa_pattern = CFA.LINEAR, None
        blk = _dng.black_from_tags(tags, origin, (0, 3))
        blk = np.zeros(3) if blk is None else np.broadcast_to(blk, (3,)).astype(np.float64)
        wl = tags.floats(_dng.TAG["WhiteLevel"])
        white = float(np.min(wl)) if wl is not None and wl.size else lib_white
        if info["compression"] == 34892:
            # Lossy DNG: LibRaw already applied the MapTable/MapPolynomial of OpcodeList2 that maps
            # the 8-bit codes to linear 16-bit values, so its levels apply and those opcodes go.
            mapped = [op for op in ops[1] if _dng.opcode_name(op) in ("MapTable", "MapPolynomial")]
            if mapped:
                ops[1] = tuple(op for op in ops[1] if op not in mapped)
                blk = (
                    np.zeros(3)
                    if not np.any(lib_black)
                    else np.full(3, float(lib_black[:3].mean()))
                )
                white = lib_white
    elif xtrans:  # 6x6 mosaic, demosaiced by rawlux (isp.demosaic.xtrans)
        cfa_enum, cfa_pattern = CFA.XTRANS, np.asarray(pattern, np.int8)
        blk = _dng.black_from_tags(tags, origin, (6, 6))
        if blk is None:
            blk = np.zeros((6, 6))
        wl = tags.floats(_dng.TAG["WhiteLevel"])
        white = float(wl[0]) if wl is not None and wl.size else lib_white
    else:
        cfa_enum, cfa_pattern = _bayer_from_libraw(pattern, desc, p)
        blk = _dng.black_from_tags(tags, origin, (2, 2))
        if blk is None:
            blk = _black_2x2(pattern, lib_black)
        wl = tags.floats(_dng.TAG["WhiteLevel"])
        white = float(wl[0]) if wl is not None and wl.size else lib_white
    crop = _dng.crop_from_tags(tags, data.shape[0], data.shape[1], origin)
    calibration = _with_dng_profile(p, calibration, data.shape[:2], crop)
    return _sensor_raw(p, data, cfa_enum, blk, white, "WhiteLevel", calibration=calibration,
                       cfa_pattern=cfa_pattern, baseline_exposure=baseline, noise_profile=noise,
                       opcodes1=ops[0], opcodes2=ops[1], opcodes3=ops[2], crop=crop, metadata=md)


def _sensor_raw(p: Path, data: np.ndarray, cfa: CFA, black: Any, white: float, what: str,
                **fields: Any) -> RawImage:
    """The one construction of a RawImage from a file (DNG tags, LibRaw, bare mosaic): checks
    the white level (``what`` names its source in the message) and the pixel shape for the
    CFA, then builds it with per-site black levels as float64 and ``source`` = the path."""
    if not 1 <= white <= 65535:  # a denormal (a LONG read as FLOAT) would normalise to inf
        raise CorruptInput(f"{what} {white:g} is outside 1..65535", p)
    want = 3 if cfa is CFA.LINEAR else 2  # damaged headers can decode to 1-plane "stacks"
    if data.ndim != want or (want == 3 and data.shape[2] != 3) or min(data.shape[:2]) < 2:
        raise CorruptInput(f"the pixels decoded to shape {data.shape}", p)
    return RawImage(data=data, cfa=cfa, black=np.asarray(black, np.float64), white=white,
                    source=str(p), **fields)


def _with_dng_profile(p: Path, cal: ColorCalibration, shape: tuple[int, ...], crop: Any,
                      ) -> ColorCalibration:
    """``cal`` carrying the DNG's profile tables and gain table map (:mod:`rawlux.io.dcp`)."""
    from dataclasses import replace

    from rawlux.io.dcp import read_dng_profile

    h, w = int(shape[0]), int(shape[1])
    frame = (h, w, 0, 0, h, w) if crop is None else (h, w, crop.top, crop.left, crop.height, crop.width)
    try:
        prof = read_dng_profile(p, frame)
    except (CorruptInput, UnsupportedInput) as e:  # the matrices still develop the raw
        _dng.warn_input(p, f"camera profile tables ignored: {e.reason}")
        return cal
    return cal if prof is None else replace(cal, profile=prof)


def _dng_pixels_direct(
    p: Path, tags: _dng.DngTags, info: dict[str, Any], aa_origin: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, str, int, int] | None:
    """CFA pixels of an uncompressed, contiguous, 16-bit, one-sample DNG image read with a single
    ``readinto`` (ActiveArea cropped, LinearizationTable applied, owned C-contiguous uint16),
    or None when the file is not that simple case (compressed, packed 10/12/14-bit, tiled, a
    non-standard CFAPlaneColor, data beyond the end of the file...): LibRaw then decodes it.
    Returns data, CFA pattern (channel indices 0=R 1=G 2=B), colours 'RGB', top, left."""
    ext = info.get("contiguous")
    h, w = int(info["height"]), int(info["width"])
    if ext is None or info["bits"] != 16 or info["samples"] != 1 or info["compression"] != 1:
        return None
    offset, nbytes = ext
    if nbytes != h * w * 2 or offset < 0 or offset + nbytes > p.stat().st_size:
        return None
    plane = tags.raw_bytes(_dng.TAG["CFAPlaneColor"])
    if plane is not None and bytes(plane[:3]) != b"\x00\x01\x02":
        return None
    cp = tags.raw_bytes(_dng.TAG["CFAPattern"])
    rep = tags.floats(_dng.TAG["CFARepeatPatternDim"])
    if cp is None or len(cp) != 4 or (rep is not None and tuple(int(x) for x in rep) != (2, 2)):
        return None
    pattern = np.frombuffer(cp, np.uint8).reshape(2, 2).astype(np.int64)
    if np.any(pattern > 2):
        return None
    arr = np.empty((h, w), np.uint16)  # owned, C-contiguous: the file bytes go straight in
    with open(p, "rb") as f:
        f.seek(offset)
        if f.readinto(memoryview(arr).cast("B")) != nbytes:
            return None
    if (info.get("byteorder", "<") == ">") == (np.little_endian):
        arr.byteswap(inplace=True)
    lin = tags.floats(_dng.TAG["LinearizationTable"])
    if lin is not None and lin.size:
        table = np.clip(np.rint(lin), 0, 65535).astype(np.uint16)
        arr = table[np.minimum(arr, table.size - 1)]
    aa = tags.floats(_dng.TAG["ActiveArea"])
    if aa is not None and aa.size == 4:
        top, left, bottom, right = (int(v) for v in aa)
        if not (0 <= top < bottom <= h and 0 <= left < right <= w):
            return None  # let LibRaw judge a broken ActiveArea
        if (top, left, bottom, right) != (0, 0, h, w):
            arr = arr[top:bottom, left:right]
    data = arr if arr.base is None else np.array(arr, dtype=np.uint16, order="C", copy=True)
    return data, pattern, "RGB", aa_origin[0], aa_origin[1]


def _dng_pixels_tifffile(
    p: Path, tags: _dng.DngTags, linear: bool, aa_origin: tuple[int, int],
    info: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, str, int, int]:
    """Pixels of a DNG LibRaw will not open (tiny images): tifffile decode, LinearizationTable,
    ActiveArea crop. Returns data, CFA pattern (DNG CFAPattern, colours 'RGB'), desc, top, left."""
    import tifffile

    try:
        with _dng.quiet_tifffile(), tifffile.TiffFile(str(p)) as tf:
            page0 = tf.pages[0]
            raw_page = None
            for pg in [page0, *(page0.pages or [])]:
                st = pg.tags.get(254)
                if (st is None or int(st.value) == 0) and int(pg.photometric) in (32803, 34892):
                    raw_page = pg
                    break
            if raw_page is None:
                raise UnsupportedInput("DNG has no CFA or LinearRaw image directory", p)
            if info is not None:
                _dng.check_decoded_size(raw_page.imagewidth, raw_page.imagelength, info, p, "tifffile")
            arr = raw_page.asarray()
    except (UnsupportedInput, CorruptInput):
        raise
    except Exception as e:  # noqa: BLE001 - tifffile/imagecodecs raise many types
        raise CorruptInput(f"cannot decode DNG pixels ({type(e).__name__}: {e})", p) from None
    lin = tags.floats(_dng.TAG["LinearizationTable"])
    if lin is not None and lin.size:
        table = np.clip(np.rint(lin), 0, 65535).astype(np.uint16)
        arr = table[np.minimum(arr, table.size - 1)]
    aa = tags.floats(_dng.TAG["ActiveArea"])
    if aa is not None and aa.size == 4:
        top, left, bottom, right = (int(v) for v in aa)
        arr = arr[top:bottom, left:right]
    if linear:
        if arr.ndim != 3 or arr.shape[2] < 3:
            raise UnsupportedInput(f"LinearRaw DNG decoded to shape {arr.shape}", p)
        arr = arr[..., :3]
    data = np.array(arr, dtype=np.uint16, order="C", copy=True)
    pattern = None
    if not linear:
        cp = tags.raw_bytes(_dng.TAG["CFAPattern"])
        if cp is None or len(cp) not in (4, 36):
            raise UnsupportedInput("DNG CFAPattern is missing or neither 2x2 nor 6x6", p)
        n = 2 if len(cp) == 4 else 6
        pattern = np.frombuffer(cp, np.uint8).reshape(n, n).astype(np.int64)
        if np.any(pattern > 2):
            raise UnsupportedInput(f"DNG CFAPattern {pattern.ravel().tolist()} has colours "
                                   "beyond R, G, B", p)
    return data, pattern, "RGB", aa_origin[0], aa_origin[1]


def _bayer_from_libraw(pattern: Any, desc: str, p: Path) -> tuple[CFA, np.ndarray]:
    """LibRaw raw_pattern (indices into color_desc, e.g. 'RGBG') -> CFA + 2x2 channel indices."""
    if pattern is None:
        raise UnsupportedInput("LibRaw reports no CFA pattern for this mosaic", p)
    pat = np.asarray(pattern)
    if pat.shape != (2, 2):
        raise UnsupportedInput(f"CFA pattern of shape {pat.shape} is not a 2x2 Bayer", p)
    letters = "".join(desc[int(i)] if 0 <= int(i) < len(desc) else "?" for i in pat.ravel())
    try:
        c = CFA(letters)
    except ValueError:
        raise UnsupportedInput(
            f"CFA layout {letters} (colours {desc}) is not an RGB Bayer pattern", p
        ) from None
    return c, c.pattern()


def _black_2x2(pattern: Any, lib_black: np.ndarray) -> np.ndarray:
    """LibRaw per-channel black (indexed like raw_pattern) laid out per 2x2 site."""
    pat = np.asarray(pattern if pattern is not None else [[0, 1], [3, 2]])
    if pat.shape != (2, 2):
        return np.full((2, 2), float(lib_black.mean()))
    return lib_black[np.clip(pat, 0, len(lib_black) - 1)].astype(np.float64)


# ----------------------------------------------------------------------------- other LibRaw raws


def _libraw_calibration(rp: Any, p: Path) -> tuple[ColorCalibration, dict[str, Any]]:
    """LibRaw's XYZ->camera matrix (D65) + camera WB as an as-shot neutral."""
    extra: dict[str, Any] = {}
    m = np.asarray(rp.rgb_xyz_matrix, np.float64)[:3, :3]
    if not np.any(m):
        extra["color_matrix_note"] = "LibRaw has no camera matrix; camera RGB treated as sRGB"
        m = _XYZ_TO_SRGB.copy()
    else:
        _dng.check_matrix(m, "LibRaw camera matrix (rgb_xyz_matrix)", p)
    neutral = None
    wb = np.asarray(rp.camera_whitebalance, np.float64)[:3]
    if np.all(np.isfinite(wb)) and np.all(wb > 0) and not np.allclose(wb, wb[1]):
        neutral = wb[1] / wb
    return ColorCalibration(
        color_matrix1=m, illuminant1=21, as_shot_neutral=neutral, source="libraw"
    ), extra


def _preview_calibration(
    data: np.ndarray,
    blk: np.ndarray,
    white: float,
    pattern: np.ndarray,
    calibration: ColorCalibration,
    extra: dict[str, Any],
) -> ColorCalibration:
    """A Bayer raw without a camera matrix: ColorMatrix fitted to its embedded preview
    (:mod:`rawlux.color.preview_fit`); the sRGB stand-in stays when the fit is rejected. The note
    in ``extra["color_matrix_note"]`` says which (its presence keeps auto WB off the daylight
    locus: a fitted matrix is no calibration)."""
    from dataclasses import replace

    from rawlux.color.preview_fit import (
        PreviewFitRejected,
        fit_preview_matrix,
        match_preview,
    )

    h, w, buf = extra["wb_preview"]
    preview = np.frombuffer(buf, np.uint8).reshape(int(h), int(w), 3)
    mosaic = data.astype(np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            mosaic[dy::2, dx::2] -= np.float32(np.asarray(blk)[dy, dx])
    mosaic *= np.float32(1.0 / (white - float(np.max(blk))))
    try:
        cam, ok, preview = match_preview(mosaic, pattern, preview)
        fit = fit_preview_matrix(cam, preview, ok)
    except PreviewFitRejected as e:
        extra["color_matrix_note"] += f" (preview fit rejected: {e.reason})"
        return calibration
    extra["color_matrix_note"] = (
        f"LibRaw has no camera matrix; fitted to the embedded preview ({fit.pixels} px, median "
        f"chromaticity error {fit.residual:.3f}, tone gamma {fit.gamma:.2f})"
    )
    return replace(calibration, color_matrix1=fit.color_matrix, illuminant1=21, source="preview")


def _wb_cues(rp: Any, calibration: ColorCalibration) -> dict[str, Any]:
    """White-balance cues for auto WB (``Metadata.extra``): LibRaw's daylight neutral
    (``wb_daylight_neutral``, from pre_mul) and, when the file has no camera white balance, its
    embedded preview, uint8 sRGB of at most 256 px, as ``wb_preview = (h, w, bytes)`` (hashable, so
    Metadata stays comparable)."""
    import rawpy

    cues: dict[str, Any] = {}
    pre = np.asarray(rp.daylight_whitebalance, np.float64)[:3]
    if np.all(np.isfinite(pre)) and np.all(pre > 0) and not np.allclose(pre, pre[1]):
        cues["wb_daylight_neutral"] = tuple((pre.min() / pre).tolist())
    if calibration.as_shot_neutral is not None:
        return cues
    try:
        th = rp.extract_thumb()
    except (rawpy.LibRawError, rawpy.NotSupportedError):
        return cues
    try:
        if th.format == rawpy.ThumbFormat.JPEG:
            import io

            from PIL import Image as PILImage

            with PILImage.open(io.BytesIO(th.data)) as im:
                im.draft("RGB", (256, 256))
                im = im.convert("RGB")
                im.thumbnail((256, 256))
                arr = np.asarray(im, dtype=np.uint8)
        else:
            arr = np.asarray(th.data)
    except (OSError, ValueError):
        return cues
    if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and max(arr.shape[:2]) <= 512:
        cues["wb_preview"] = (arr.shape[0], arr.shape[1], np.ascontiguousarray(arr).tobytes())
    return cues


def libraw_linear(rp: Any, p: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Demosaic with LibRaw into linear camera RGB: (H, W, 3) uint16, black (3,) zeros, white 65535.

    Used for X-Trans and other non-Bayer sensors: raw colour output, gamma 1, no auto-bright,
    unit white balance, 16 bit, black subtracted by LibRaw (so black is 0 and white 65535).
    """
    import rawpy

    rgb = rp.postprocess(
        output_color=rawpy.ColorSpace.raw,
        gamma=(1, 1),
        no_auto_bright=True,
        use_camera_wb=False,
        use_auto_wb=False,
        user_wb=[1.0, 1.0, 1.0, 1.0],
        output_bps=16,
        user_flip=0,
        highlight_mode=rawpy.HighlightMode.Clip,
    )
    data = np.array(rgb, dtype=np.uint16, order="C", copy=True)
    return data, np.zeros(3), 65535.0


def _open_libraw(p: Path, kind: str, *, force_linear: bool = False,
                 xtrans_mosaic: bool = False) -> RawImage:
    """Any LibRaw-readable file. ``force_linear`` takes the X-Trans path (LibRaw demosaic) for
    any mosaic, so that code path is testable without an X-Trans sample. ``xtrans_mosaic``
    returns X-Trans raws as ``CFA.XTRANS`` mosaics (rawlux's X-Trans demosaic) instead; off by
    default because raw denoise and highlight reconstruction are still Bayer/linear-only, so a
    LibRaw-demosaiced RAF currently develops better."""
    import rawpy

    try:
        with decoder_messages(p):
            rp = rawpy.imread(str(p))
    except _libraw_errors() as e:
        if kind == "tiff" and isinstance(e, rawpy.LibRawFileUnsupportedError):
            raise UnsupportedInput(
                "looks like an ordinary TIFF image, not a raw file; for a bare Bayer mosaic pass --cfa",
                p,
            ) from None
        raise _translate_libraw(e, p, kind) from None
    with rp, decoder_messages(p):
        s = rp.sizes
        check_dimensions(s.raw_width, s.raw_height, p, "raw image")
        check_dimensions(s.width, s.height, p, "raw image")
        check_memory(s.width, s.height, p, "raw image")
        check_memory(s.raw_width, s.raw_height, p, "raw image (with margins)")  # before unpacking
        if p.stat().st_size * 2048 < s.raw_width * s.raw_height:  # no raw codec packs 2048:1
            raise CorruptInput(f"raw_width {s.raw_width} x raw_height {s.raw_height} cannot be held by "
                               f"a {p.stat().st_size} byte file", p)
        orientation = _FLIP_TO_ORIENTATION.get(int(s.flip), 1)
        try:
            calibration, extra = _libraw_calibration(rp, p)
            extra.update(_wb_cues(rp, calibration))
            pattern = rp.raw_pattern
            desc = rp.color_desc.decode("ascii", "replace")
            is_bayer = (
                pattern is not None
                and np.asarray(pattern).shape == (2, 2)
                and rp.raw_type == rawpy.RawType.Flat
                and all(
                    0 <= int(i) < len(desc) and desc[int(i)] in "RGB" for i in np.ravel(pattern)
                )
            )  # CMYG and other non-RGB sensors are demosaiced by LibRaw
            is_xtrans = (
                pattern is not None
                and np.asarray(pattern).shape == (6, 6)
                and rp.raw_type == rawpy.RawType.Flat
                and all(
                    0 <= int(i) < len(desc) and desc[int(i)] in "RGB" for i in np.ravel(pattern)
                )
            )  # X-Trans mosaics are demosaiced by rawlux (isp.demosaic.xtrans)
            if is_xtrans and xtrans_mosaic and not force_linear:
                data = np.array(rp.raw_image_visible, dtype=np.uint16, order="C", copy=True)
                tile = np.asarray(rp.raw_colors_visible[:6, :6])  # colour indices, visible phase
                cfa_enum = CFA.XTRANS
                cfa_pattern = np.array([["RGB".index(desc[int(i)]) for i in row] for row in tile],
                                       np.int8)
                lib_black = np.asarray(rp.black_level_per_channel, np.float64)
                blk = lib_black[np.asarray(tile, np.intp)]
                white = float(rp.white_level)
            elif force_linear or not is_bayer:
                if rp.raw_type == rawpy.RawType.Stack and not force_linear:
                    full = rp.raw_image
                    vis = full[
                        s.top_margin : s.top_margin + s.height,
                        s.left_margin : s.left_margin + s.width,
                        :3,
                    ]
                    data = np.array(vis, dtype=np.uint16, order="C", copy=True)
                    lib_black = np.asarray(rp.black_level_per_channel, np.float64)[:3]
                    blk, white = lib_black, float(rp.white_level)
                else:
                    data, blk, white = libraw_linear(rp, p)
                cfa_enum, cfa_pattern = CFA.LINEAR, None
                if pattern is not None and np.asarray(pattern).shape == (6, 6):
                    extra["xtrans"] = True
            else:
                data = np.array(rp.raw_image_visible, dtype=np.uint16, order="C", copy=True)
                cfa_enum, cfa_pattern = _bayer_from_libraw(pattern, desc, p)
                blk = _black_2x2(pattern, np.asarray(rp.black_level_per_channel, np.float64))
                white = float(rp.white_level)
        except _libraw_errors() as e:
            raise _translate_libraw(e, p, kind) from None
        md = _metadata(p, rp, orientation)
    if ("color_matrix_note" in extra and cfa_pattern is not None and "wb_preview" in extra
            and np.asarray(cfa_pattern).shape == (2, 2)):
        calibration = _preview_calibration(data, blk, white, cfa_pattern, calibration, extra)
    if extra:
        from dataclasses import replace

        md = replace(md, extra={**md.extra, **extra})
    return _sensor_raw(p, data, cfa_enum, blk, white, "LibRaw white level",
                       calibration=calibration, cfa_pattern=cfa_pattern, metadata=md)


# --------------------------------------------------------------------------------- bare mosaics


def _mosaic_white(data: np.ndarray, bits: int | None) -> float:
    """Saturation DN of a bare mosaic: 2^bits-1 from the file's significant bits when stated,
    else the smallest bit depth (>= 8) that holds the data maximum."""
    if bits is not None and 1 <= bits <= 16:
        return float(2**bits - 1)
    mx = int(data.max()) if data.size else 0
    b = max(8, int(math.ceil(math.log2(mx + 1))) if mx > 0 else 8)
    return float(2 ** min(b, 16) - 1)


def _mosaic_raw(p: Path, data: np.ndarray, cfa: CFA, bits: int | None) -> RawImage:
    if data.ndim != 2:
        raise UnsupportedInput(
            f"image has shape {data.shape}; a bare mosaic must be single-channel", p
        )
    if data.dtype == np.uint8:
        bits = bits or 8
    elif data.dtype != np.uint16:
        raise UnsupportedInput(f"bare mosaic has dtype {data.dtype}; need 8- or 16-bit unsigned", p)
    arr = np.array(data, dtype=np.uint16, order="C", copy=True)
    return _sensor_raw(p, arr, cfa, np.zeros((2, 2)), _mosaic_white(arr, bits), "white level",
                       calibration=ColorCalibration(source="none"), metadata=_metadata(p))


def _open_mosaic_png(p: Path, cfa: CFA) -> RawImage:
    import struct

    from PIL import Image as PILImage

    head = read_head(p, 24)
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise CorruptInput("PNG has no IHDR header", p)
    check_dimensions(*struct.unpack(">II", head[16:24]), p, "PNG mosaic")  # before Pillow allocates
    check_memory(*struct.unpack(">II", head[16:24]), p, "PNG mosaic")
    try:
        with PILImage.open(p) as im:
            check_dimensions(im.width, im.height, p, "PNG mosaic")
            if im.mode not in ("I;16", "I;16B", "I;16L", "I", "L"):
                raise UnsupportedInput(f"PNG mode {im.mode} is not a greyscale mosaic", p)
            sbit = im.info.get("sbit")
            bits = int(sbit[0]) if isinstance(sbit, (tuple, bytes)) and len(sbit) else None
            im.load()
            arr = np.asarray(im)
    except (UnsupportedInput, ImageTooLarge):
        raise
    except PILImage.DecompressionBombError as e:
        raise ImageTooLarge(f"PNG refused as too large ({e})", p) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise CorruptInput(f"unreadable PNG ({e})", p) from None
    if arr.dtype.kind == "i":  # mode "I" (int32) holding 16-bit values
        if arr.min() < 0 or arr.max() > 65535:
            raise UnsupportedInput("PNG values do not fit 16 bits", p)
        arr = arr.astype(np.uint16)
    return _mosaic_raw(p, arr, cfa, bits)


def _open_mosaic_tiff(p: Path, cfa: CFA) -> RawImage:
    import tifffile

    try:
        with _dng.quiet_tifffile(), tifffile.TiffFile(str(p)) as tf:
            pg = tf.pages[0]
            check_dimensions(pg.imagewidth, pg.imagelength, p, "TIFF mosaic")
            check_memory(pg.imagewidth, pg.imagelength, p, "TIFF mosaic")
            bits = int(pg.bitspersample) if int(pg.bitspersample) not in (8, 16) else None
            arr = pg.asarray()
    except (UnsupportedInput, ImageTooLarge):
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises many types on damaged data
        raise CorruptInput(f"unreadable TIFF mosaic ({type(e).__name__}: {e})", p) from None
    return _mosaic_raw(p, np.squeeze(arr), cfa, bits)


# ------------------------------------------------------------------------------------ describe


def _fmt_matrix(m: np.ndarray | None) -> str:
    if m is None:
        return "-"
    return " / ".join(" ".join(f"{v:+.4f}" for v in row) for row in np.asarray(m))


def describe(raw: RawImage) -> list[tuple[str, str]]:
    """Human-readable (label, value) rows of what was read (``rawlux info``)."""
    md, cal = raw.metadata, raw.calibration
    rows: list[tuple[str, str]] = []
    model = md.model or ""
    make = md.make if md.make and not model.lower().startswith(md.make.split()[0].lower()) else None
    cam = " ".join(x for x in (make, model) if x) or "unknown"
    rows.append(("file", raw.source or "-"))
    rows.append(("camera", cam))
    if md.lens:
        rows.append(("lens", md.lens))
    rows.append(
        (
            "CFA",
            raw.cfa.value
            + (
                ""
                if raw.cfa_pattern is None
                else f" (tile {raw.cfa_pattern.shape[0]}x{raw.cfa_pattern.shape[1]})"
            ),
        )
    )
    rows.append(
        (
            "size",
            f"{raw.width} x {raw.height} px ({raw.width * raw.height / 1e6:.1f} MP), {raw.data.dtype}",
        )
    )
    blk = np.asarray(raw.black)
    per = {1: " (per channel R G B)", 2: f" (per {blk.shape[0]}x{blk.shape[-1]} CFA site)"}.get(
        blk.ndim, ""
    )
    rows.append(("black level", " ".join(f"{v:g}" for v in blk.ravel()) + per))
    rows.append(("white level", f"{raw.white:g}"))
    src_names = {"preview": "fitted to the embedded preview"}
    rows.append(("colour source", src_names.get(cal.source, cal.source)))
    for i in (1, 2):
        cm = getattr(cal, f"color_matrix{i}")
        if cm is not None:
            rows.append(
                (
                    f"ColorMatrix{i}",
                    f"{_fmt_matrix(cm)}  [{illuminant_name(getattr(cal, f'illuminant{i}'))}]",
                )
            )
        fm = getattr(cal, f"forward_matrix{i}")
        if fm is not None:
            rows.append((f"ForwardMatrix{i}", _fmt_matrix(fm)))
        cc = getattr(cal, f"camera_calibration{i}")
        if cc is not None and not np.allclose(cc, np.eye(3)):
            rows.append((f"CameraCalibration{i}", _fmt_matrix(cc)))
    if cal.analog_balance is not None and not np.allclose(cal.analog_balance, 1):
        rows.append(("analog balance", " ".join(f"{v:.4f}" for v in cal.analog_balance)))
    if cal.as_shot_neutral is not None:
        rows.append(("as-shot neutral", " ".join(f"{v:.4f}" for v in cal.as_shot_neutral)))
    elif cal.as_shot_white_xy is not None:
        rows.append(("as-shot white xy", " ".join(f"{v:.4f}" for v in cal.as_shot_white_xy)))
    else:
        rows.append(("as-shot neutral", "none"))
    rows.append(("baseline exposure", f"{raw.baseline_exposure:+.2f} EV"))
    if raw.noise_profile is not None:
        pairs = ", ".join(f"({s:.3g}, {o:.3g})" for s, o in raw.noise_profile.pairs)
        rows.append(("noise profile", f"{pairs} (scale, offset)"))
    else:
        rows.append(("noise profile", "none"))
    for n in (1, 2, 3):
        ops = getattr(raw, f"opcodes{n}")
        if ops:
            names: dict[str, int] = {}
            for op in ops:
                names[opcode_name(op)] = names.get(opcode_name(op), 0) + 1
            rows.append(
                (f"OpcodeList{n}", ", ".join(f"{k} x{v}" if v > 1 else k for k, v in names.items()))
            )
    from rawlux.io.dcp import describe_profile, dng_extras

    rows.extend(describe_profile(raw))
    if raw.source and str(raw.source).lower().endswith(".dng"):
        rows.extend(dng_extras(raw.source))
    c = raw.crop
    rows.append(
        ("default crop", "none" if c is None else f"{c.width} x {c.height} at ({c.left}, {c.top})")
    )
    names = {1: "normal", 2: "mirrored", 3: "rotated 180", 4: "flipped vertically", 5: "transposed",
             6: "display rotated 90 CW", 7: "transversed", 8: "display rotated 90 CCW"}  # fmt: skip
    rows.append(("orientation", f"{md.orientation} ({names.get(md.orientation, '?')})"))
    ex = []
    if md.exposure_time:
        t = md.exposure_time
        ex.append(f"1/{1 / t:.0f} s" if t < 1 else f"{t:g} s")
    if md.f_number:
        ex.append(f"f/{md.f_number:g}")
    if md.iso:
        ex.append(f"ISO {md.iso:g}")
    if md.focal_length:
        ex.append(
            f"{md.focal_length:g} mm"
            + (f" ({md.focal_length_35mm:g} mm eq.)" if md.focal_length_35mm else "")
        )
    if md.datetime_original:
        ex.append(md.datetime_original.isoformat(sep=" "))
    if md.gps:
        ex.append(f"GPS {md.gps.latitude:.5f}, {md.gps.longitude:.5f}")
    rows.append(("exif", ", ".join(ex) or "none"))
    if md.extra.get("dropped"):  # zero / blank / impossible in the file: not shown as fact
        rows.append(("exif blank in file", ", ".join(k.replace("_", " ") for k in md.extra["dropped"])))
    for k, v in md.extra.items():
        if isinstance(v, str):
            rows.append((k.replace("_", " "), v))
    return rows


def empty_pixels_reason(raw: RawImage) -> str | None:
    """Why ``raw`` holds no image (metadata-only file, every pixel zero), or None when it has one.

    A strided sample is checked first, so a real photograph costs microseconds; only a
    (nearly) empty mosaic is scanned in full."""
    if raw.metadata.extra.get("warning", "").startswith("image data stripped"):
        return "the file holds metadata only (image data stripped)"
    flat = raw.data.reshape(-1)
    black = float(np.max(raw.black))
    if flat.size == 0:
        return "the image has no pixels"
    if float(flat[::997].max()) > black:
        return None
    top = float(flat.max())
    if top > black:
        return None
    return "every pixel is zero" if top == 0 else f"every pixel is at or below the black level ({black:g} DN)"


__all__ = ["open_raw", "describe", "libraw_linear", "empty_pixels_reason", "EmptyRawWarning"]
