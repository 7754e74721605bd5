"""Output stage: display-referred linear Rec.2020 -> sRGB or Display P3, sRGB-encoded, oriented.

With ``scene_referred`` it instead passes scene-referred linear Rec.2020 through unclipped (only
the orientation is applied), for float TIFF / OpenEXR output.

One fused numba pass per pixel: (optional decode) -> 3x3 matrix into the output primaries ->
gamut mapping -> sRGB transfer (computed branch-free, `srgb_oetf_fast`) -> write at the EXIF-oriented
position.

Gamut mapping
-------------
``clip``: per-channel clip to [0, 1] (changes hue of out-of-gamut colours).

``compress`` (default): hue- and luminance-preserving soft compression toward the achromatic axis.
For a pixel ``c`` (linear output RGB) with luminance ``Y`` (output space's Y row, same Y as the
input since both are D65), ``r`` is how far ``c`` lies from the grey ``(Y, Y, Y)`` relative to the
gamut boundary along the same direction (``r = max_c (c - Y) / (1 - Y)`` for positive and
``(Y - c) / Y`` for negative offsets; ``r <= 1`` means inside). Mixing with grey of the same
luminance keeps the dominant wavelength (straight line through white in xy) and Y. ``r`` below
``compress_threshold`` is untouched; above it ``r`` is mapped by a smooth curve (C1 at the
threshold, power-``p`` knee) that sends the largest ``r`` the input gamut can produce (``r_max``,
computed from the input cube's surface) exactly to 1. Colours then never clip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache, lru_cache

import numpy as np
from rawlux.core.jit import njit, run_bands

from rawlux.color.spaces import rgb_to_rgb64, rgb_to_xyz
from rawlux.color.transfer import eotf_table, lut_interp, srgb_oetf_fast
from rawlux.core.errors import ContractError
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.core.orientation import apply_orientation, oriented_shape  # noqa: F401 - re-exported
from rawlux.core.params import Choice, StageParams, param
from rawlux.core.pipeline import Contract, StageDef
from rawlux.color.transfer import srgb_eotf, srgb_oetf

class OutputSpace(Choice):
    """Output colour space (sRGB transfer curve either way; the ICC profile is embedded)."""

    SRGB = "srgb"
    P3 = "p3"


class GamutMap(Choice):
    """Out-of-gamut handling."""

    COMPRESS = "compress"
    CLIP = "clip"


OUTPUT_SPACES = {"srgb": ColorSpace.SRGB, "p3": ColorSpace.DISPLAY_P3}
INPUT_SPACES = (ColorSpace.REC2020, ColorSpace.SRGB, ColorSpace.DISPLAY_P3, ColorSpace.XYZ_D50)
KNEE_POWER = 1.2  # shape of the compression knee (higher = harder)


@dataclass(frozen=True)
class OutputParams(StageParams):
    """Output encoding parameters."""

    color_space: OutputSpace = param(OutputSpace.SRGB, doc="output colour space: srgb or p3 (Display P3); ICC embedded")
    gamut_map: GamutMap = param(
        GamutMap.COMPRESS, doc="out-of-gamut handling: soft compression or clip"
    )
    apply_orientation: bool = param(True, doc="rotate/flip pixels per EXIF orientation, then set it to 1")
    compress_threshold: float = param(
        0.9, lo=0.5, hi=0.99, unit="", doc="fraction of the gamut distance left untouched by 'compress'"
    )
    scene_referred: bool = param(
        False, doc="keep scene-referred linear Rec.2020 (no gamut map, transfer or clip; "
                   "orientation still applied): for float TIFF / OpenEXR"
    )
    # The gain map (HDR) of the output: the stage's pixels are the SDR photo either way; the
    # develop runner (rawlux.app.run.run_pipeline -> rawlux.hdr.render.develop_gainmap) attaches
    # the map computed from the same develop when ``hdr`` is set.
    hdr: bool = param(False, doc="add an HDR gain map from the same develop: Ultra HDR JPEG, or "
                                 "10-bit BT.2100 PQ/HLG AVIF/HEIC")
    headroom: float | None = param(
        None, type=float, lo=0.0, hi=6.0, unit="EV",
        doc="with hdr: stops over SDR white the HDR rendition may use (default: what the scene "
            "needs, at most 3)")
    transfer: str = param("pq", choices=("pq", "hlg"),
                          doc="with hdr and .avif/.heic: BT.2100 transfer of the HDR rendition")


# ------------------------------------------------------------------------------ gamut maths


@cache
def _gamut_setup(src: ColorSpace, dst: ColorSpace) -> tuple[np.ndarray, np.ndarray, float]:
    """(3x3 float32 src->dst, float32 Y row of dst, r_max over the src [0,1]^3 surface)."""
    m = rgb_to_rgb64(src, dst)
    yrow = rgb_to_xyz(dst)[1]
    g = np.linspace(0.0, 1.0, 97)
    a, b = np.meshgrid(g, g, indexing="ij")
    a, b = a.ravel(), b.ravel()
    faces = []
    for axis in range(3):
        for val in (0.0, 1.0):
            f = np.empty((a.size, 3))
            others = [k for k in range(3) if k != axis]
            f[:, axis] = val
            f[:, others[0]] = a
            f[:, others[1]] = b
            faces.append(f)
    s = np.concatenate(faces)
    c = s @ m.T
    y = c @ yrow
    keep = (y > 1e-4) & (y < 1 - 1e-4)
    c, y = c[keep], y[keep, None]
    d = c - y
    r = np.where(d > 0, d / (1 - y), -d / y).max(axis=1)
    r_max = float(max(r.max(), 1.0 + 1e-3))
    return m.astype(np.float32), yrow.astype(np.float32), r_max


def knee_scale(threshold: float, r_max: float, power: float = KNEE_POWER) -> float:
    """Scale ``s`` of the knee ``f(r) = t + s u / (1 + u^p)^(1/p)``, ``u = (r - t) / s``, with
    ``f(r_max) = 1`` (so the whole input gamut lands inside the output gamut)."""
    t = threshold
    q = ((r_max - t) / (1.0 - t)) ** power - 1.0
    return (r_max - t) / q ** (1.0 / power)


def compress_ratio(r: np.ndarray, threshold: float, scale: float, power: float = KNEE_POWER) -> np.ndarray:
    """Reference (numpy) knee curve applied to gamut-distance ratios ``r`` (>= 0)."""
    r = np.asarray(r, dtype=np.float64)
    u = np.maximum(r - threshold, 0.0) / scale
    f = threshold + scale * u / (1.0 + u**power) ** (1.0 / power)
    return np.where(r > threshold, f, r)


KNEE_TABLE = 4096  # samples of the knee's scale factor f(r)/r on [threshold, r_max]


def knee_table(threshold: float, r_max: float, power: float = KNEE_POWER) -> np.ndarray:
    """float32 (KNEE_TABLE + 1,) samples of ``f(r) / r`` for ``r`` uniform on [threshold, r_max]."""
    s = knee_scale(threshold, r_max, power)
    r = np.linspace(threshold, r_max, KNEE_TABLE + 1)
    return (compress_ratio(r, threshold, s, power) / r).astype(np.float32)


@njit(
    cache=True,
    nogil=True,
    fastmath={"nsz", "arcp", "contract", "afn", "reassoc"},
    error_model="numpy",
    aot="void(f4[::1], i8, i8, f4[:, ::1], f4[::1], i8, f8, f8, f4[::1], b1, f4[::1], i8,"
    " f4[:, :, ::1], i8, i8)",
)
def _output_rows(
    src: np.ndarray,
    h: int,
    w: int,
    m: np.ndarray,
    yrow: np.ndarray,
    mode: int,
    t: float,
    r_max: float,
    ktab: np.ndarray,
    decode: bool,
    dlut: np.ndarray,
    orient: int,
    dst: np.ndarray,
    r0: int,
    r1: int,
) -> None:
    """Output rows ``r0 .. r1``. ``src`` flat (h*w*3,), ``dst`` (oh, ow, 3). Output row ``oy`` reads a straight line of
    source pixels from flat pixel ``start`` with pixel step ``step`` (every EXIF orientation is
    such a line). Per row: load + matrix into R/G/B row buffers, gamut map, encode."""
    ow = dst.shape[1]
    m00, m01, m02 = m[0, 0], m[0, 1], m[0, 2]
    m10, m11, m12 = m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    y0, y1, y2 = yrow[0], yrow[1], yrow[2]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    tt = np.float32(t)
    inv_span = np.float32(1.0 / (r_max - t))
    rmx = np.float32(r_max)
    tiny = np.float32(1e-7)
    top = np.float32(1.0) - np.float32(1e-7)
    for py in range(r0, r1):
        oy = np.int64(py)
        if orient == 1:
            start, step = oy * w, 1
        elif orient == 2:
            start, step = oy * w + w - 1, -1
        elif orient == 3:
            start, step = (h - 1 - oy) * w + w - 1, -1
        elif orient == 4:
            start, step = (h - 1 - oy) * w, 1
        elif orient == 5:
            start, step = oy, w
        elif orient == 6:
            start, step = (h - 1) * w + oy, -w
        elif orient == 7:
            start, step = (h - 1) * w + (w - 1 - oy), -w
        else:
            start, step = w - 1 - oy, w
        rr = np.empty(ow, np.float32)
        gg = np.empty(ow, np.float32)
        bb = np.empty(ow, np.float32)
        ratio = np.empty(ow, np.float32)
        for px in range(ow):
            q = 3 * (start + np.int64(px) * step)
            v0 = src[q]
            v1 = src[q + 1]
            v2 = src[q + 2]
            if decode:
                v0 = lut_interp(v0, dlut)
                v1 = lut_interp(v1, dlut)
                v2 = lut_interp(v2, dlut)
            else:  # display-referred input: clip to [0, 1], NaN -> 0
                v0 = min(v0, one) if v0 > zero else zero
                v1 = min(v1, one) if v1 > zero else zero
                v2 = min(v2, one) if v2 > zero else zero
            rr[px] = m00 * v0 + m01 * v1 + m02 * v2
            gg[px] = m10 * v0 + m11 * v1 + m12 * v2
            bb[px] = m20 * v0 + m21 * v1 + m22 * v2
        if mode == 1:
            # pass 1, branch-free (vectorises): gamut-distance ratio of every pixel; black and
            # white (y <= 0, y >= 1) are settled here and get ratio 0
            n_out = 0
            for px in range(ow):
                c0 = rr[px]
                c1 = gg[px]
                c2 = bb[px]
                y = y0 * c0 + y1 * c1 + y2 * c2
                yc = min(max(y, tiny), top)
                mn = min(c0, min(c1, c2))
                mx = max(c0, max(c1, c2))
                r = max((mx - y) * yc, (y - mn) * (one - yc)) / ((one - yc) * yc)
                dark = y <= tiny
                bright = y >= one
                settled = dark | bright
                fill = zero if dark else one
                rr[px] = fill if settled else c0
                gg[px] = fill if settled else c1
                bb[px] = fill if settled else c2
                r = zero if settled else r
                ratio[px] = r
                n_out += 1 if r > tt else 0
            if 8 * n_out > ow:
                # pass 2, many pixels beyond the knee (saturated looks): branch-free over the row
                for px in range(ow):
                    r = ratio[px]
                    c0 = rr[px]
                    c1 = gg[px]
                    c2 = bb[px]
                    y = y0 * c0 + y1 * c1 + y2 * c2
                    k = lut_interp((r - tt) * inv_span, ktab) * min(one, rmx / max(r, tiny))
                    k = k if r > tt else one
                    rr[px] = y + (c0 - y) * k if r > tt else c0
                    gg[px] = y + (c1 - y) * k if r > tt else c1
                    bb[px] = y + (c2 - y) * k if r > tt else c2
            elif n_out:
                # pass 2, few pixels beyond the knee (most photographs): visit only those
                for px in range(ow):
                    r = ratio[px]
                    if r <= tt:
                        continue
                    c0 = rr[px]
                    c1 = gg[px]
                    c2 = bb[px]
                    y = y0 * c0 + y1 * c1 + y2 * c2
                    k = lut_interp((r - tt) * inv_span, ktab) * min(one, rmx / max(r, tiny))
                    rr[px] = y + (c0 - y) * k
                    gg[px] = y + (c1 - y) * k
                    bb[px] = y + (c2 - y) * k
        # encode each contiguous channel buffer (vectorises), then interleave into the row
        for px in range(ow):
            rr[px] = srgb_oetf_fast(rr[px])
        for px in range(ow):
            gg[px] = srgb_oetf_fast(gg[px])
        for px in range(ow):
            bb[px] = srgb_oetf_fast(bb[px])
        orow = dst[oy]
        for px in range(ow):
            orow[px, 0] = rr[px]
            orow[px, 1] = gg[px]
            orow[px, 2] = bb[px]


@lru_cache(maxsize=64)
def _knee_table_cached(threshold: float, r_max: float) -> np.ndarray:
    return knee_table(threshold, r_max)


def convert_display(
    img: Image,
    space: ColorSpace,
    *,
    gamut_map: str = "compress",
    orientation: int = 1,
    compress_threshold: float = 0.9,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels of display-referred ``img`` (linear or sRGB-encoded; Rec.2020, sRGB, P3 or XYZ D50)
    as float32 [0, 1] sRGB-encoded values in ``space``, rotated/flipped for ``orientation``.

    ``out``: float32 C-contiguous array of the oriented shape to write into; it may be
    ``img.data`` itself when ``orientation`` is 1 or 2 (each output row comes from its own input
    row, read whole before it is written)."""
    if img.referred is not Referred.DISPLAY:
        raise ContractError(f"output needs a display-referred image, got {img.referred.value}-referred")
    if img.space not in INPUT_SPACES:
        raise ContractError(
            f"output cannot convert from colour space {img.space.value}; "
            f"valid: {', '.join(s.value for s in INPUT_SPACES)}"
        )
    if space not in OUTPUT_SPACES.values():
        raise ContractError(f"output space must be srgb or p3, got {space.value}")
    if gamut_map not in ("clip", "compress"):
        raise ContractError(f"gamut_map must be 'clip' or 'compress', got {gamut_map!r}")
    o = int(orientation)
    if o not in range(1, 9):
        raise ContractError(f"EXIF orientation must be 1..8, got {orientation}")
    m, yrow, r_max = _gamut_setup(img.space, space)
    ktab = _knee_table_cached(float(compress_threshold), r_max)
    h, w = oriented_shape(img.height, img.width, o)
    src = np.ascontiguousarray(img.data, np.float32)
    if out is None:
        out = np.empty((h, w, 3), np.float32)
    elif out.shape != (h, w, 3) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ContractError(f"output buffer must be float32 C-contiguous {(h, w, 3)}, got {out.dtype} {out.shape}")
    elif o not in (1, 2) and np.may_share_memory(out, src):
        raise ContractError(f"orientation {o} cannot be converted in place")
    run_bands(
        _output_rows,
        h,
        src.reshape(-1),
        img.height,
        img.width,
        m,
        yrow,
        1 if gamut_map == "compress" else 0,
        float(compress_threshold),
        r_max,
        ktab,
        img.encoding is Encoding.SRGB,
        eotf_table(),
        o,
        out,
    )
    return out


def convert_display_reference(
    img: Image,
    space: ColorSpace,
    *,
    gamut_map: str = "compress",
    orientation: int = 1,
    compress_threshold: float = 0.9,
) -> np.ndarray:
    """Plain numpy/float64 reference of :func:`convert_display` (exact transfer functions)."""
    m, yrow, r_max = _gamut_setup(img.space, space)
    v = np.nan_to_num(img.data.astype(np.float64), nan=0.0)
    v = np.clip(v, 0.0, 1.0)
    if img.encoding is Encoding.SRGB:
        v = srgb_eotf(v)
    c = v @ m.astype(np.float64).T
    if gamut_map == "compress":
        t = compress_threshold
        y = (c @ yrow.astype(np.float64))[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.maximum((c.max(-1, keepdims=True) - y) / (1 - y), (y - c.min(-1, keepdims=True)) / y)
            s = knee_scale(t, r_max)
            k = np.where(r > t, compress_ratio(np.clip(r, t, r_max), t, s) / r, 1.0)
        c = np.where(r > t, y + (c - y) * k, c)
        c = np.where(y <= 1e-7, 0.0, np.where(y >= 1.0, 1.0, c))
    out = srgb_oetf(np.clip(c, 0.0, 1.0)).astype(np.float32)
    return apply_orientation(out, orientation)


def output(img: Image, params: OutputParams) -> Image:
    """Display-referred linear Rec.2020 [0, 1] -> ``params.color_space`` sRGB-encoded float32 [0, 1].

    With ``apply_orientation`` the pixels are turned upright and ``metadata.orientation`` becomes 1.
    """
    return _output(img, params, in_place=False)


def output_inplace(img: Image, params: OutputParams) -> Image:
    """:func:`output` writing into ``img.data`` when the orientation allows it (pipeline-owned
    images only, see :attr:`StageDef.inplace`)."""
    return _output(img, params, in_place=True)


def _output(img: Image, params: OutputParams, in_place: bool) -> Image:
    if not isinstance(img, Image):
        raise ContractError(f"output expects an Image, got {type(img).__name__}")
    space = OUTPUT_SPACES[params.color_space]
    orient = img.metadata.orientation if params.apply_orientation else 1
    if orient not in range(1, 9):  # bogus EXIF value: treat as upright
        orient = 1
    if params.scene_referred:
        return _output_scene(img, params, orient, in_place)
    reuse = (in_place and orient in (1, 2) and img.data.dtype == np.float32
             and img.data.flags.c_contiguous and img.data.flags.writeable)
    data = convert_display(
        img,
        space,
        gamut_map=params.gamut_map,
        orientation=orient,
        compress_threshold=params.compress_threshold,
        out=img.data if reuse else None,
    )
    meta = img.metadata
    if params.apply_orientation and meta.orientation != 1:
        meta = replace(meta, orientation=1)
    return replace(
        img, data=data, space=space, encoding=Encoding.SRGB, referred=Referred.DISPLAY, metadata=meta
    )


SCENE_OUTPUT = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE)


def _output_scene(img: Image, params: OutputParams, orient: int, in_place: bool) -> Image:
    """Scene-referred output: linear Rec.2020 values unchanged (unclipped), only turned upright."""
    SCENE_OUTPUT.check(img, "scene-referred output")
    data = img.data
    if orient != 1:
        data = apply_orientation(data, orient)
    elif not in_place:
        data = data.copy()
    meta = img.metadata
    if params.apply_orientation and meta.orientation != 1:
        meta = replace(meta, orientation=1)
    return replace(img, data=np.ascontiguousarray(data, np.float32), metadata=meta)


def _gives(params: OutputParams) -> Contract:
    if params.scene_referred:
        return SCENE_OUTPUT
    return Contract(Image, "float32", OUTPUT_SPACES[params.color_space], Encoding.SRGB, Referred.DISPLAY)


STAGE = StageDef(
    "output",
    output,
    OutputParams,
    # display-referred normally, scene-referred with ``scene_referred`` (checked by the stage)
    takes=Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR),
    gives=_gives,
    inplace=output_inplace,
)
