"""A camera colour matrix fitted to the camera's own embedded preview (raws without a matrix).

Inputs: camera RGB at preview scale (:func:`camera_at_preview_scale`: 2x2 superpixels of the
normalised mosaic, area-resized to the preview size) and the preview itself (uint8 sRGB, linearised
with the sRGB EOTF, then the camera's extra tone contrast ``gamma`` undone: :func:`_tone_gamma`).
Model, per output channel ``c`` (a row of the matrix)::

    preview_lin[c] ~= k[c] * (M[c] . (cam / n))      with  sum(M[c]) = 1

``n`` is the camera neutral (max 1) the matrix is balanced for, ``M`` maps white-balanced camera RGB
to linear sRGB (D65) and keeps a neutral neutral (rows sum to 1), ``k`` is a per-row exposure scale
that also absorbs a preview white balance different from ``n``. This is solved as an unconstrained
per-row least squares ``W = diag(k) M diag(1/n)`` (Huber-weighted IRLS, relative errors, so the
camera's tone curve does not let bright pixels dominate), then ``M = rownorm(W diag(n))``. Without a
given ``n`` the preview's own white ``n = W^-1 (1, 1, 1)`` is used (then ``k = 1``).

A fit is rejected (:class:`PreviewFitRejected`; callers keep their fallback) with too few usable
pixels, too little colour (a grey scene does not determine a matrix), an ill-conditioned matrix, a
non-positive neutral, or large residuals (the preview does not show this mosaic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.color.spaces import rgb_to_xyz
from rawlux.color.transfer import srgb_eotf
from rawlux.core.errors import RawluxError
from rawlux.core.image import ColorSpace

MIN_PIXELS = 200  # usable preview pixels
MIN_SPREAD = 0.002  # 2nd singular value / sqrt(N) of centred camera chromaticities (grey scene ~0)
MAX_COND = 30.0  # condition number of the fitted matrix M
MAX_RESIDUAL = 0.05  # median |chromaticity error| (rg of linear sRGB) of the fit
MAX_ASPECT_ERR = 0.03  # relative difference of mosaic and preview aspect ratios
GAMMA_LO, GAMMA_HI = 0.8, 2.2  # accepted tone-curve contrast of the preview (see _tone_gamma)
PREVIEW_LO, PREVIEW_HI = 10, 245  # 8-bit code values: near black / clipped in the preview


class PreviewFitRejected(RawluxError):
    """The embedded preview does not determine a usable colour matrix (reason in the message)."""


@dataclass(frozen=True)
class PreviewFit:
    """A fitted matrix. ``matrix``: white-balanced camera RGB -> linear sRGB (D65), rows sum to 1;
    ``neutral``: camera neutral (max 1) it is balanced for; ``color_matrix``: the DNG-style
    XYZ (D65) -> camera matrix (``inv(sRGB->XYZ @ matrix @ diag(1/neutral))``, max row sum 1);
    ``residual``: median chromaticity error; ``pixels``: usable pixels; ``spread``: colour spread;
    ``gamma``: tone contrast of the preview undone before the fit."""

    matrix: np.ndarray
    neutral: np.ndarray
    color_matrix: np.ndarray
    residual: float
    pixels: int
    spread: float
    cond: float
    gamma: float = 1.0

    __hash__ = object.__hash__


def camera_at_preview_scale(
    mosaic: np.ndarray, pattern: np.ndarray, size: tuple[int, int], clip: float = 0.98
) -> tuple[np.ndarray, np.ndarray]:
    """(camera RGB (h, w, 3) float64, usable mask (h, w) bool) of a normalised Bayer mosaic.

    ``mosaic``: float32 (H, W), 0 = black, 1 = white; ``pattern``: 2x2 colour indices (0 R, 1 G,
    2 B);
    ``size``: preview (h, w). 2x2 superpixels (greens averaged) are area-resized to ``size``; a
    preview pixel is unusable when any of its superpixels has a site at or above ``clip``.
    Raises :class:`PreviewFitRejected` when the aspect ratios differ by more than 3 %.
    """
    import cv2

    h, w = int(size[0]), int(size[1])
    H2, W2 = mosaic.shape[0] // 2, mosaic.shape[1] // 2
    if h < 4 or w < 4 or H2 < h or W2 < w:
        raise PreviewFitRejected(f"preview {w}x{h} does not fit a {W2}x{H2} superpixel image")
    if abs((W2 / H2) / (w / h) - 1.0) > MAX_ASPECT_ERR:
        raise PreviewFitRejected(
            f"preview aspect {w}x{h} does not match the mosaic's {2 * W2}x{2 * H2}"
        )
    m = np.asarray(mosaic[: 2 * H2, : 2 * W2], np.float32)
    pat = np.asarray(pattern)
    sums = np.zeros((H2, W2, 3), np.float32)
    counts = np.zeros(3)
    hot = np.zeros((H2, W2), bool)
    for dy in (0, 1):
        for dx in (0, 1):
            site = m[dy::2, dx::2]
            c = int(pat[dy, dx])
            sums[..., c] += site
            counts[c] += 1
            hot |= site >= clip
    if np.any(counts == 0):
        raise PreviewFitRejected(f"CFA pattern {pat.tolist()} lacks a colour")
    sp = (sums / counts).astype(np.float32)
    cam = cv2.resize(sp, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)
    hotf = cv2.resize(hot.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return cam, hotf <= 0


def match_preview(
    mosaic: np.ndarray, pattern: np.ndarray, preview: np.ndarray, min_corr: float = 0.8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(camera RGB, usable mask, preview turned to the mosaic's orientation) at preview scale.

    The preview may be stored rotated relative to the sensor: of the rotations by 0, 90, 180 and
    270 degrees whose aspect fits the mosaic (:func:`camera_at_preview_scale`), the one whose log
    luminance correlates best with the camera's is used. Raises :class:`PreviewFitRejected`
    when none fits or the best correlation is below ``min_corr`` (the preview shows another
    picture or crop)."""
    pv = np.asarray(preview)
    best: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
    reasons = []
    for k in range(4):
        cand = np.ascontiguousarray(np.rot90(pv, k))
        try:
            cam, ok = camera_at_preview_scale(mosaic, pattern, cand.shape[:2])
        except PreviewFitRejected as e:
            reasons.append(e.reason)
            continue
        inner = (slice(1, -1), slice(1, -1))
        lc = np.log(np.maximum(cam[inner].mean(-1), 1e-6)).ravel()
        lp = np.log(srgb_eotf(cand[inner].astype(np.float64) / 255.0).mean(-1) + 1e-4).ravel()
        corr = float(np.corrcoef(lc, lp)[0, 1]) if lc.std() > 0 and lp.std() > 0 else 0.0
        if best is None or corr > best[0]:
            best = (corr, cam, ok, cand)
    if best is None:
        raise PreviewFitRejected(reasons[0] if reasons else "preview does not fit the mosaic")
    if not best[0] >= min_corr:
        raise PreviewFitRejected(
            f"preview does not match the mosaic (luminance correlation {best[0]:.2f} < {min_corr})"
        )
    return best[1], best[2], best[3]


def _chroma(x: np.ndarray) -> np.ndarray:
    s = np.sum(x, axis=-1, keepdims=True)
    return x[..., :2] / np.where(s > 0, s, 1.0)


def _tone_gamma(a: np.ndarray, y: np.ndarray) -> float:
    """Contrast of the camera's tone curve beyond sRGB: slope of log(preview) against log(camera)
    luminance (channel means) over the least saturated quarter of the preview's pixels (there
    the channel mean is proportional to luminance whatever the matrix), clamped to
    [GAMMA_LO, GAMMA_HI]. A preview rendered with a steeper curve than the sRGB OETF has every
    channel ratio raised to this power (more saturation than any 3x3 matrix gives), so the
    linearised preview is raised to ``1 / gamma`` before the fit."""
    ymax = np.maximum(y.max(-1), 1e-6)
    sat = (ymax - y.min(-1)) / ymax
    sel = sat <= np.percentile(sat, 25)
    if sel.sum() < 50:
        return 1.0
    la, ly = np.log(a[sel].mean(-1)), np.log(np.maximum(y[sel].mean(-1), 1e-6))
    slope = float(np.polyfit(la, ly, 1)[0])
    return float(np.clip(slope, GAMMA_LO, GAMMA_HI)) if np.isfinite(slope) else 1.0


def _irls_row(a: np.ndarray, y: np.ndarray, w0: np.ndarray, iters: int = 8) -> np.ndarray:
    """Huber-weighted least squares ``a @ x ~= y`` with base weights ``w0`` (relative errors)."""
    wt = w0.copy()
    x = np.zeros(a.shape[1])
    for _ in range(iters):
        sw = np.sqrt(wt)
        x, *_ = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=None)
        r = (a @ x - y) * np.sqrt(w0)
        s = 1.4826 * np.median(np.abs(r)) + 1e-12
        k = 1.345 * s
        wt = w0 * np.minimum(1.0, k / np.maximum(np.abs(r), 1e-12))
    return x


def fit_preview_matrix(
    cam: np.ndarray,
    preview: np.ndarray,
    usable: np.ndarray | None = None,
    neutral: np.ndarray | None = None,
) -> PreviewFit:
    """Fit the matrix of the module docstring. ``cam``: (h, w, 3) linear camera RGB (0..1 scale);
    ``preview``: (h, w, 3) uint8 sRGB; ``usable``: extra (h, w) mask (e.g. clipped raw);
    ``neutral``: camera neutral to balance for (None: the preview's white). Border pixels are
    ignored (previews often carry a dark rim). Raises :class:`PreviewFitRejected` (module doc)."""
    cam = np.asarray(cam, np.float64)
    pv = np.asarray(preview)
    if pv.dtype != np.uint8 or pv.ndim != 3 or pv.shape[2] != 3 or cam.shape != pv.shape:
        raise PreviewFitRejected(
            f"preview {pv.shape} {pv.dtype} and camera RGB {cam.shape} must be matching "
            "(h, w, 3), the preview uint8"
        )
    ok = np.ones(pv.shape[:2], bool) if usable is None else np.asarray(usable, bool).copy()
    ok[:1, :] = ok[-1:, :] = ok[:, :1] = ok[:, -1:] = False
    ok &= np.all((pv >= PREVIEW_LO) & (pv <= PREVIEW_HI), axis=-1)
    ok &= np.all(np.isfinite(cam), axis=-1)
    if ok.any():
        lum = cam.sum(-1)
        ok &= lum > 0.02 * np.percentile(lum[ok], 99)
        ok &= np.all(cam > 0, axis=-1)
    n_px = int(ok.sum())
    if n_px < MIN_PIXELS:
        raise PreviewFitRejected(f"only {n_px} usable preview pixels (need {MIN_PIXELS})")
    a = cam[ok]
    y = srgb_eotf(pv[ok].astype(np.float64) / 255.0)
    gamma = _tone_gamma(a, y)
    y = y ** (1.0 / gamma)
    ch = _chroma(a / a.mean(0))  # chromaticity spread, independent of the camera's channel gains
    sv = np.linalg.svd(ch - ch.mean(0), compute_uv=False)
    spread = float(sv[-1] / np.sqrt(len(ch)))
    if spread < MIN_SPREAD:
        raise PreviewFitRejected(
            f"too little colour in the scene (spread {spread:.4f} < {MIN_SPREAD})"
        )
    w0 = 1.0 / np.maximum(y.sum(-1), 1e-6) ** 2  # relative errors
    W = np.stack([_irls_row(a, y[:, c], w0) for c in range(3)])
    try:
        n_pv = np.linalg.solve(W, np.ones(3))
    except np.linalg.LinAlgError:
        raise PreviewFitRejected("fitted matrix is singular") from None
    n = n_pv if neutral is None else np.asarray(neutral, np.float64).ravel()
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise PreviewFitRejected(f"neutral {np.round(n, 4).tolist()} is not positive")
    n = n / n.max()
    wn = W @ np.diag(n)
    rs = wn.sum(1)
    if np.any(rs <= 0):
        raise PreviewFitRejected(f"fitted rows map the neutral to {np.round(rs, 4).tolist()}")
    M = wn / rs[:, None]
    cond = float(np.linalg.cond(M))
    if not np.isfinite(cond) or cond > MAX_COND:
        raise PreviewFitRejected(
            f"fitted matrix is ill-conditioned (cond {cond:.3g} > {MAX_COND:g})"
        )
    resid = float(np.median(np.linalg.norm(_chroma(a @ W.T) - _chroma(y), axis=-1)))
    if resid > MAX_RESIDUAL:
        raise PreviewFitRejected(
            f"preview fit residual {resid:.3f} > {MAX_RESIDUAL} (chromaticity)"
        )
    cam_to_xyz = rgb_to_xyz(ColorSpace.SRGB).astype(np.float64) @ M @ np.diag(1.0 / n)
    cm = np.linalg.inv(cam_to_xyz)
    cm = cm / cm.sum(1).max()
    return PreviewFit(M, n, cm, resid, n_px, spread, cond, gamma)


__all__ = [
    "PreviewFit",
    "PreviewFitRejected",
    "camera_at_preview_scale",
    "fit_preview_matrix",
    "match_preview",
]
