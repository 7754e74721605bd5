"""Automatic white balance: estimate the camera neutral (illuminant colour) from the mosaic.

Algorithm (defaults in :class:`AwbParams`), on a small copy of the mosaic (2x2 binned to RGB,
then area-reduced to at most ``max_side`` pixels; clipped and near-black blocks masked out):

1. **Gray-edge** (van de Weijer et al. 2007): ``e_c = (sum |d^n (G_sigma * I_c)|^p)^(1/p)``,
   derivative order ``n`` (0 = shades of grey, 1 = edges, 2 = second derivatives), Minkowski
   norm ``p``, Gaussian scale ``sigma``. Default: order 0, p = 4 (on scenes with measured
   saturated surfaces, strong chromatic edges bias first-order gray-edge; see the benchmark).
2. **Bright pixels**: a white-patch estimate (99th percentile per channel) and a bright
   achromatic-pixel estimate: with the gray-edge white, balance the thumbnail and keep the
   pixels that are both bright (top ``bright_percent`` of luminance) and close to grey
   (log-chroma distance below ``gray_tolerance``); their weighted mean (iterated 3 times).
   The three estimates are fused by a weighted geometric mean (``w_edge``, ``w_bright``,
   ``w_gray``).
3. **Locus constraint**: the estimate is converted to a chromaticity through the file's colour
   matrices (DNG white-point iteration), its CCT clamped to [``cct_min``, ``cct_max``] and its
   distance from the Planckian locus (Duv) pulled towards the typical light-source band
   (``duv_center``) by ``locus_pull`` (1 = onto that band) and clamped to ``max_abs_duv``;
   back to a camera neutral through the same matrices.

Also exported as baselines for benchmarks: :func:`gray_world`, :func:`white_patch`,
:func:`gray_edge`. Estimates are camera RGB neutrals (R, G, B) scaled to ``max == 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rawlux.core.jit import njit, run_bands

from rawlux.core.errors import ContractError, InvalidParameter, RawluxError
from rawlux.core.image import CFA, RawImage
from rawlux.core.params import StageParams, param
from rawlux.color.camera import camera_profile, camera_to_xyz_d50, neutral_to_xy, xy_to_neutral, xyz_to_camera
from rawlux.color.cct import TINT_SCALE, cct_tint_to_xy, xy_to_cct_tint
from rawlux.color.spaces import XYZ_to_xy, rgb_to_rgb64
from rawlux.core.image import ColorSpace


@dataclass(frozen=True)
class AwbParams(StageParams):
    """Auto white balance settings (see module docstring)."""

    order: int = param(0, lo=0, hi=2, doc="gray-edge derivative order (0 = shades of grey)")
    minkowski_p: float = param(
        4.0, lo=1.0, hi=20.0, doc="Minkowski norm of the gray-edge statistic"
    )
    sigma: float = param(1.0, lo=0.0, hi=5.0, unit="px (thumbnail)", doc="Gaussian pre-blur")
    bright_percent: float = param(
        5.0, lo=0.1, hi=100.0, unit="%", doc="brightest pixels kept as white candidates"
    )
    gray_tolerance: float = param(
        0.12, lo=0.01, hi=1.0, unit="log-chroma", doc="max distance from grey of a candidate"
    )
    w_edge: float = param(1.0, lo=0.0, hi=10.0, doc="fusion weight of the gray-edge estimate")
    w_bright: float = param(
        0.5, lo=0.0, hi=10.0, doc="fusion weight of the white-patch (99th percentile) estimate"
    )
    w_gray: float = param(
        1.0, lo=0.0, hi=10.0, doc="fusion weight of the bright achromatic-pixel estimate"
    )
    locus_pull: float = param(0.5, lo=0.0, hi=1.0, doc="pull of Duv towards the light-source band")
    duv_center: float = param(
        0.0015, lo=-0.02, hi=0.02, unit="Duv", doc="centre of the light-source band"
    )
    max_abs_duv: float = param(0.015, lo=0.0, hi=0.05, unit="Duv", doc="largest |Duv| allowed")
    cct_min: float = param(2000.0, lo=1700.0, hi=10000.0, unit="K", doc="lowest CCT allowed")
    cct_max: float = param(12000.0, lo=3000.0, hi=50000.0, unit="K", doc="highest CCT allowed")
    max_side: int = param(320, lo=32, hi=4096, unit="px", doc="thumbnail long side")
    w_grey_px: float = param(
        16.0, lo=0.0, hi=50.0, doc="fusion weight of the grey-pixel (equal log-contrast) estimate"
    )
    grey_px_percent: float = param(
        1.0, lo=0.1, hi=20.0, unit="%", doc="share of textured pixels kept as grey pixels"
    )
    plausibility_duv: float = param(
        0.01, lo=0.001, hi=0.1, unit="Duv",
        doc="an estimate this far from the light-source band keeps 1/e of its fusion weight",
    )  # fmt: skip
    w_preview: float = param(
        10.0, lo=0.0, hi=100.0,
        doc="weight of the embedded preview's balance against the pixel estimate (weight 1)",
    )  # fmt: skip
    agree_deg: float = param(
        2.0, lo=0.0, hi=10.0, unit="deg",
        doc="grey pixels and grey world this close overrule an implausible locus (0 = never)",
    )  # fmt: skip
    w_prior: float = param(
        0.0, lo=0.0, hi=10.0, doc="weight of LibRaw's daylight neutral (pre_mul) as a prior"
    )


# ------------------------------------------------------------------------------ thumbnail


@njit(cache=True, nogil=True,
      aot="void(f4[:, ::1], i8[:, ::1], i8, f4[:, :, ::1], f4[:, ::1], i8, i8)")
def _bin_bayer_rows(d, p, k, out, mx, b0, b1):  # pragma: no cover - compiled
    """Block rows ``b0 .. b1``: mean camera RGB ``out`` and max site value ``mx`` of each
    (2k x 2k) block of a Bayer mosaic."""
    ow = out.shape[1]
    cnt = np.zeros(3, np.float32)
    for i in range(2):
        for j in range(2):
            cnt[p[i, j]] += k * k
    acc = np.zeros((ow, 3), np.float64)
    m = np.zeros(ow, np.float32)
    for by in range(b0, b1):
        acc[:] = 0.0
        m[:] = 0.0
        for y in range(by * 2 * k, (by + 1) * 2 * k):
            row = d[y]
            py = y & 1
            for bx in range(ow):
                x0 = bx * 2 * k
                for x in range(x0, x0 + 2 * k):
                    v = row[x]
                    acc[bx, p[py, x & 1]] += v
                    m[bx] = max(m[bx], v)
        for bx in range(ow):
            for c in range(3):
                out[by, bx, c] = acc[bx, c] / cnt[c]
            mx[by, bx] = m[bx]


def _bin_bayer(d: np.ndarray, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean camera RGB (oh, ow, 3) and max site value (oh, ow) of each (2k x 2k) Bayer block."""
    d = np.ascontiguousarray(d, np.float32)
    h, w = d.shape
    oh, ow = h // (2 * k), w // (2 * k)
    out = np.zeros((oh, ow, 3), np.float32)
    mx = np.zeros((oh, ow), np.float32)
    run_bands(_bin_bayer_rows, oh, d, np.ascontiguousarray(p, np.int64), int(k), out, mx,
              min_rows=1 if d.size >= 2_000_000 else 1 << 30)
    return out, mx


def thumbnail(
    raw: RawImage, max_side: int = 320, clip: float = 0.98
) -> tuple[np.ndarray, np.ndarray]:
    """(float32 (h, w, 3) camera RGB, bool (h, w) valid mask) from a normalised, not yet white
    balanced RawImage: 2x2 binning (Bayer) or the linear data, then area reduction."""
    import cv2

    d = raw.data
    if d.dtype != np.float32:
        raise ContractError(
            f"auto white balance needs the normalised float32 mosaic, got {d.dtype}"
        )
    if raw.cfa is CFA.LINEAR:
        rgb = d
        clipped = (d >= clip).any(axis=2).astype(np.float32)
    elif raw.cfa.is_bayer:
        h2, w2 = raw.height // 2, raw.width // 2
        # bin by the long side, but keep at least 3 bins (or all there are) across the short one
        k = max(1, min(int(np.ceil(max(h2, w2) / float(max_side))), min(h2, w2) // 3))
        sums, mx = _bin_bayer(d, np.ascontiguousarray(raw.cfa_pattern, dtype=np.int64), k)
        rgb = sums
        clipped = (mx >= clip).astype(np.float32)
    else:  # X-Trans and others: 6x6 (or pattern-sized) block means per channel
        p = np.asarray(raw.cfa_pattern)
        ph, pw = p.shape
        hh, ww = raw.height // ph * ph, raw.width // pw * pw
        blocks = d[:hh, :ww].reshape(hh // ph, ph, ww // pw, pw).transpose(0, 2, 1, 3)
        rgb = np.stack([blocks[..., p == c].mean(-1) for c in range(3)], -1).astype(np.float32)
        clipped = (blocks.max(axis=(2, 3)) >= clip).astype(np.float32)
    h, w = rgb.shape[:2]
    f = max(h, w) / float(max_side)
    if f > 1:
        size = (max(min(w, 3), round(w / f)), max(min(h, 3), round(h / f)))
        rgb = cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA)
        clipped = cv2.resize(np.ascontiguousarray(clipped), size, interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    lum = rgb.sum(axis=2)
    valid = (clipped <= 0) & np.all(rgb > 0, axis=2) & np.isfinite(lum)
    if valid.any():
        valid &= lum > 0.002 * float(np.percentile(lum[valid], 99))
    return rgb, valid


# --------------------------------------------------------------------------- estimators


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two RGB vectors."""
    c = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def _norm(e: np.ndarray) -> np.ndarray:
    e = np.asarray(e, np.float64)
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        return np.ones(3)
    return e / e.max()


def gray_world(rgb: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Mean of the valid pixels (Buchsbaum 1980)."""
    m = np.ones(rgb.shape[:2], bool) if valid is None else valid
    return _norm(rgb[m].mean(axis=0)) if m.any() else np.ones(3)


def white_patch(
    rgb: np.ndarray, valid: np.ndarray | None = None, percentile: float = 99.0
) -> np.ndarray:
    """Per-channel high percentile of the valid pixels (robust max-RGB)."""
    m = np.ones(rgb.shape[:2], bool) if valid is None else valid
    return _norm(np.percentile(rgb[m], percentile, axis=0)) if m.any() else np.ones(3)


def gray_edge(
    rgb: np.ndarray,
    valid: np.ndarray | None = None,
    order: int = 1,
    p: float = 6.0,
    sigma: float = 1.0,
) -> np.ndarray:
    """Gray-edge family estimate (order 0 = shades of grey with norm ``p``)."""
    import cv2

    m = np.ones(rgb.shape[:2], bool) if valid is None else valid
    img = np.ascontiguousarray(rgb, np.float32)
    if sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if order == 0:
        stat = img
    elif order == 1:
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        stat = np.sqrt(gx * gx + gy * gy)
    elif order == 2:
        gxx = cv2.Sobel(img, cv2.CV_32F, 2, 0, ksize=3)
        gyy = cv2.Sobel(img, cv2.CV_32F, 0, 2, ksize=3)
        gxy = cv2.Sobel(img, cv2.CV_32F, 1, 1, ksize=3)
        stat = np.sqrt(gxx * gxx + gyy * gyy + 2 * gxy * gxy)
    else:
        raise InvalidParameter(f"gray-edge order must be 0, 1 or 2, got {order}")
    if order > 0:  # edges touching invalid pixels are unreliable
        m = m & (cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    if not m.any():
        return np.ones(3)
    s = stat[m].astype(np.float64)
    s = s / max(float(s.max()), 1e-12)
    return _norm(np.power(np.mean(np.power(s, p), axis=0), 1.0 / p))


def grey_pixels(
    rgb: np.ndarray,
    valid: np.ndarray,
    percent: float = 1.0,
    min_contrast: float = 0.05,
) -> tuple[np.ndarray | None, int]:
    """Grey-pixel estimate (after Yang, Gao & Li 2015): on a grey surface the local contrast of
    ``log I`` is the same in R, G and B whatever the illuminant, so pixels whose three
    log-Laplacians agree are grey. Keeps the ``percent`` % most grey of the textured
    (mean |log-Laplacian| >= ``min_contrast``), not-dark valid pixels; their mean chromaticity
    (R, G, B; max 1) and their count, or (None, 0) when fewer than 8 qualify."""
    import cv2

    img = cv2.GaussianBlur(np.ascontiguousarray(rgb, np.float32), (0, 0), 1.0)
    logi = np.log(np.maximum(img, 1e-6))
    con = np.abs(cv2.Laplacian(logi, cv2.CV_32F, ksize=3))
    mean_con = con.mean(axis=2)
    m = valid & (cv2.erode(valid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    if m.sum() < 64:
        return None, 0
    lum = img.sum(axis=2)
    m &= (mean_con >= min_contrast) & (lum > np.percentile(lum[m], 20.0))
    if m.sum() < 8:
        return None, 0
    dev = con - mean_con[..., None]
    gi = cv2.blur(np.sqrt((dev * dev).sum(axis=2) / 3.0) / (mean_con + 1e-6), (3, 3))
    sel = m & (gi <= np.percentile(gi[m], percent))
    n = int(sel.sum())
    if n < 8:
        return None, 0
    px = rgb[sel].astype(np.float64)
    e = _norm((px / px.sum(axis=1, keepdims=True)).mean(axis=0))
    # refine: among the 3x as many greyest candidates, the cluster around the estimate
    # (log-chroma distance < 0.2), weighted by greyness and closeness (drops coloured edges)
    cand = m & (gi <= np.percentile(gi[m], min(3.0 * percent, 100.0)))
    px, w0 = rgb[cand].astype(np.float64), 1.0 / (gi[cand] + 0.02)
    q, lp = px / px.sum(axis=1, keepdims=True), np.log(np.maximum(px, 1e-9))
    for _ in range(3):
        ch = lp - np.log(e)
        dist = np.sqrt(((ch - ch.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
        near = dist < 0.2
        if near.sum() < 8:
            break
        w = w0[near] / (dist[near] + 0.02)
        e = _norm((q[near] * w[:, None]).sum(axis=0))
    return e, n


def achromatic_refine(
    rgb: np.ndarray,
    valid: np.ndarray,
    estimate: np.ndarray,
    bright_percent: float,
    tolerance: float,
    iterations: int = 3,
) -> np.ndarray | None:
    """Mean of bright pixels that look grey under ``estimate`` (iterated); None if too few."""
    m = valid
    if m.sum() < 16:
        return None
    px = rgb[m]
    lum = px.sum(axis=1)
    px = px[lum >= np.percentile(lum, 100.0 - bright_percent)].astype(np.float64)
    bright = np.ones(len(px), bool)
    logp = np.log(np.maximum(px, 1e-9))
    e = _norm(estimate)
    for _ in range(iterations):
        le = np.log(e)
        ch = (logp - le) - (logp - le).mean(axis=1, keepdims=True)
        dist = np.sqrt((ch**2).sum(axis=1))
        sel = bright & (dist < tolerance)
        if sel.sum() < 8:
            # loosen: the nearest-to-grey tenth of the bright pixels
            thr = np.percentile(dist[bright], 10.0)
            sel = bright & (dist <= thr)
            if sel.sum() < 4:
                return None
        w = 1.0 / (dist[sel] + 0.02)
        e = _norm((px[sel] * w[:, None]).sum(axis=0))
    return e


def constrain_to_locus(neutral: np.ndarray, profile, params: AwbParams) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Project a camera neutral towards the Planckian/daylight band using the camera matrices."""
    try:
        xy = neutral_to_xy(profile, neutral)
    except (
        RawluxError,
        np.linalg.LinAlgError,
    ):  # an estimate the matrices cannot place: keep it as it is
        return _norm(neutral)
    cct, tint = xy_to_cct_tint(xy)
    duv = float(tint) / TINT_SCALE
    duv = duv + (params.duv_center - duv) * params.locus_pull
    duv = float(np.clip(duv, -params.max_abs_duv, params.max_abs_duv))
    cct = float(np.clip(cct, params.cct_min, params.cct_max))
    try:
        return xy_to_neutral(profile, cct_tint_to_xy(cct, duv * TINT_SCALE))
    except (RawluxError, np.linalg.LinAlgError):
        return _norm(neutral)


def plausibility(
    estimates: list[np.ndarray], profile, params: AwbParams
) -> list[float]:  # type: ignore[no-untyped-def]
    """How likely each estimate is a real light, in (0, 1]: ``exp(-(dDuv / plausibility_duv)^2)``
    with ``dDuv`` its distance from the light-source band. Chromaticities come from one camera
    matrix, interpolated at the white of the first estimate (the DNG iteration once, not per
    estimate: the matrix varies slowly with CCT). All 1 when there is no usable profile."""
    if profile is None or not estimates:
        return [1.0] * len(estimates)
    try:
        m = xyz_to_camera(profile, neutral_to_xy(profile, estimates[0]))
        xyz = np.linalg.solve(m, np.stack([_norm(e) for e in estimates], axis=1)).T
    except (RawluxError, np.linalg.LinAlgError):
        return [0.05] * len(estimates)
    out = []
    for v in xyz:
        if not np.sum(v) > 0:
            out.append(1e-3)
            continue
        _cct, tint = xy_to_cct_tint(np.clip(XYZ_to_xy(v), 1e-3, 0.999))
        d = (float(tint) / TINT_SCALE - params.duv_center) / params.plausibility_duv
        out.append(float(max(np.exp(-d * d), 1e-3)))
    return out


_V = np.arange(256) / 255.0
_SRGB_TO_LINEAR = np.where(_V <= 0.04045, _V / 12.92, ((_V + 0.055) / 1.055) ** 2.4)


def _srgb_decode(u8: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> linear float64 (table lookup)."""
    return _SRGB_TO_LINEAR[np.asarray(u8, np.uint8)]


def preview_neutral(
    rgb: np.ndarray, valid: np.ndarray, preview: np.ndarray, profile=None
) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """The camera neutral (max 1) the camera itself used for its embedded sRGB ``preview``
    (uint8 (h, w, 3)), matched pixel by pixel against the camera-RGB thumbnail ``rgb``.

    Black letterbox bars are cropped, the thumbnail is resized onto the preview; pixels the
    preview shows as near-grey (the quarter with the lowest sRGB log-chroma, neither clipped nor
    dark) give ``n = camera / (T^-1 preview_linear)`` with ``T`` the camera -> linear sRGB matrix
    (``profile``, or identity without one), median in log space, iterated 3 times. None when the
    preview does not match the raw (luminance correlation < 0.7) or too few pixels qualify."""
    import cv2

    pv = np.asarray(preview)
    if pv.ndim != 3 or pv.shape[2] != 3 or pv.dtype != np.uint8 or min(pv.shape[:2]) < 8:
        return None
    lum = pv.astype(np.float32).mean(axis=2)
    rows, cols = np.where(lum.mean(axis=1) > 6)[0], np.where(lum.mean(axis=0) > 6)[0]
    if len(rows) < 8 or len(cols) < 8:
        return None
    pv = pv[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = pv.shape[:2]
    cam = cv2.resize(np.ascontiguousarray(rgb, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    ok = cv2.resize(valid.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.99
    lin = _srgb_decode(pv).reshape(-1, 3)
    cam = cam.reshape(-1, 3).astype(np.float64)
    flat = pv.reshape(-1, 3)
    ok = ok.ravel() & np.all(flat < 250, axis=1) & np.all(flat > 8, axis=1)
    ok &= np.all(cam > 0, axis=1)
    if ok.sum() < 32 or np.corrcoef(cam[ok].sum(1), lin[ok].sum(1))[0, 1] < 0.7:
        return None
    lp = np.log(lin[ok])
    chroma = np.sqrt(((lp - lp.mean(axis=1, keepdims=True)) ** 2).sum(axis=1))
    grey = chroma <= np.percentile(chroma, 25.0)
    cam, lin = cam[ok][grey], lin[ok][grey]
    n = np.ones(3)
    to_srgb = rgb_to_rgb64(ColorSpace.XYZ_D50, ColorSpace.SRGB)
    for _ in range(3):
        t = np.eye(3)
        if profile is not None:
            try:
                t = to_srgb @ camera_to_xyz_d50(profile, n)[0] @ np.diag(n)
            except (RawluxError, np.linalg.LinAlgError):
                t = np.eye(3)
        q = lin @ np.linalg.inv(t).T  # white-balanced camera RGB the preview implies
        use = np.all(q > 1e-4, axis=1)
        if use.sum() < 16:
            return None
        lr = np.log(cam[use]) - np.log(q[use])
        n = _norm(np.exp(np.median(lr - lr[:, 1:2], axis=0)))
    return n


def estimate_neutral_rgb(
    rgb: np.ndarray,
    valid: np.ndarray,
    profile=None,
    params: AwbParams = AwbParams(),
    preview: np.ndarray | None = None,
    prior: np.ndarray | None = None,
) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The full estimator on a camera-RGB thumbnail (``profile``: a CameraProfile or None).

    Pixel estimates are fused by a weighted geometric mean: the statistical ones (gray-edge,
    white patch, bright achromatic pixels) share their total weight by :func:`plausibility`;
    grey pixels add ``w_grey_px`` times their own plausibility. Then the optional
    ``prior`` (a daylight neutral, weight ``w_prior``) joins, the result is constrained to the
    locus, and last an embedded sRGB ``preview`` (see :func:`preview_neutral`) is blended in
    with weight ``w_preview`` against 1 (it is the camera's own choice and skips the locus)."""
    ge = gray_edge(rgb, valid, params.order, params.minkowski_p, params.sigma)
    parts = [(params.w_edge, ge), (params.w_bright, white_patch(rgb, valid))]
    if params.w_gray > 0:
        a = achromatic_refine(rgb, valid, ge, params.bright_percent, params.gray_tolerance)
        parts.append((params.w_gray, ge if a is None else a))
    if sum(w for w, _ in parts) <= 0:
        raise InvalidParameter("AwbParams: at least one of w_edge, w_bright, w_gray must be > 0")
    # statistical estimates: shares by plausibility, their total weight unchanged
    total = sum(w for w, _ in parts)
    parts = [(w, _norm(x)) for w, x in parts if w > 0]
    gp = grey_pixels(rgb, valid, params.grey_px_percent)[0] if params.w_grey_px > 0 else None
    plaus = plausibility([x for _, x in parts] + ([] if gp is None else [gp]), profile, params)
    if (
        gp is not None
        and plaus[-1] < 0.05
        and _angle(gp, gray_world(rgb, valid)) < params.agree_deg
    ):
        # two independent estimates agree on a white the matrices call implausible: the
        # matrices do not describe these data (e.g. a camera that pre-scales its raw values)
        profile, plaus = None, [1.0] * len(plaus)
    parts = [(w * p, x) for (w, x), p in zip(parts, plaus)]
    scale = total / sum(w for w, _ in parts)
    parts = [(w * scale, x) for w, x in parts]
    if gp is not None:  # grey pixels: absolute weight times plausibility
        parts.append((params.w_grey_px * plaus[-1], gp))
    if prior is not None and params.w_prior > 0:
        parts.append((params.w_prior, _norm(prior)))
    wsum = sum(w for w, _ in parts)
    e = _norm(np.exp(sum(w * np.log(x) for w, x in parts) / wsum))
    if profile is not None:
        e = constrain_to_locus(e, profile, params)
    if preview is not None and params.w_preview > 0:
        pn = preview_neutral(rgb, valid, preview, profile)
        if pn is not None:
            e = np.exp((np.log(e) + params.w_preview * np.log(pn)) / (1.0 + params.w_preview))
    return _norm(e)


def has_matrix(raw: RawImage) -> bool:
    """True when the file's colour matrices describe this camera (not the sRGB stand-in)."""
    cal = raw.calibration
    if cal is None or cal.source == "none":
        return False
    return "color_matrix_note" not in (raw.metadata.extra or {})


def _preview_array(cue: object) -> np.ndarray | None:
    """The ``wb_preview`` cue ``(h, w, bytes)`` from io as uint8 (h, w, 3), or None."""
    try:
        h, w, data = cue  # type: ignore[misc]
        return np.frombuffer(data, np.uint8).reshape(int(h), int(w), 3)
    except (TypeError, ValueError):
        return None


def estimate_neutral(raw: RawImage, params: AwbParams = AwbParams()) -> np.ndarray:
    """Camera neutral (R, G, B; max 1) of the scene illuminant in a normalised RawImage.

    Cues from io (``raw.metadata.extra``): ``wb_preview`` (the embedded preview, used only when
    the file has no as-shot white) and ``wb_daylight_neutral`` (LibRaw's pre_mul, a prior).
    Without real colour matrices (bare mosaics, cameras LibRaw has no matrix for) there is no
    locus: no plausibility weights, no locus constraint."""
    rgb, valid = thumbnail(raw, params.max_side)
    profile = None
    if has_matrix(raw):
        try:
            profile = camera_profile(raw.calibration, raw.source)
        except (RawluxError, np.linalg.LinAlgError):
            profile = None
    extra = raw.metadata.extra or {}
    cal = raw.calibration
    no_as_shot = cal is None or (cal.as_shot_neutral is None and cal.as_shot_white_xy is None)
    preview = _preview_array(extra.get("wb_preview")) if no_as_shot else None
    prior = extra.get("wb_daylight_neutral")
    return estimate_neutral_rgb(
        rgb, valid, profile, params,
        preview=preview,
        prior=None if prior is None else np.asarray(prior, np.float64),
    )  # fmt: skip
