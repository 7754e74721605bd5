"""Multi-frame super-resolution of already-demosaiced frames (the JPEG path).

Developed frames (a phone's JPEG burst) carry every colour at every pixel, so this is the
:mod:`rawlux.burst.superres` method without the Bayer layer: frames are linearised by the caller,
matched in exposure (one gain per frame, the median ratio of their luma to the reference's,
clipped pixels ignored), aligned on luma by the tile alignment
(:func:`rawlux.burst.align.align`, its pixels are image pixels here), weighted by the same
structure-tensor kernels and robustness (expected difference: each frame's luma noise, Immerkaer,
or, when larger, the median difference of the aligned pair: JPEG compression and resizing), and accumulated per output pixel from the 3x3 nearest samples of every frame
(:func:`accumulate_rgb_rows`). Where fewer than ``single_frames`` frames agree (moving leaves,
people) the result blends towards the reference bicubic-upscaled.

Units: float32 linear RGB (H, W, 3) in, (round(s H), round(s W), 3) out; positions in image
pixels with centres at integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from rawlux.burst.align import align, gradients, pyramid, tile_grid
from rawlux.burst.superres import SuperResParams, kernel_covariance
from rawlux.core.errors import BurstMismatch, InvalidParameter
from rawlux.core.jit import njit, run_bands

if TYPE_CHECKING:
    from rawlux.core.image import Image

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, :, ::1], f4[:, :, ::1], i8, f4[:, :, ::1], f4[:, ::1], f8, f4[:, :, ::1], f4[:, ::1], "
          "f4[:, :, ::1], i8, i8)")
def accumulate_rgb_rows(img, disp, tile, icov, rob, scale, num, den, mom, r0, r1):  # pragma: no cover
    """Add RGB frame ``img`` (H, W, 3) to ``num`` (Ho, Wo, 3) / ``den`` (Ho, Wo) on output rows
    ``r0 .. r1``; ``disp`` (ny, nx, 2) merge-grid field in px; ``icov`` (H, W, 3) kernel exponent
    coefficients (halved) and ``rob`` (H, W) robustness on the reference's pixel grid; ``mom``
    (Ho, Wo, 11) weighted offset moments ``(ex, ey, ex^2, ex ey, ey^2)`` and per channel
    ``(v ex, v ey)`` for the local linear fit."""
    h, w = rob.shape
    ny, nx = disp.shape[0], disp.shape[1]
    wo = num.shape[1]
    inv_s = 1.0 / scale
    inv_t = 2.0 / tile
    cut = np.float32(8.0)
    two = np.float32(2.0)
    for yo in range(r0, r1):
        uy = (yo + 0.5) * inv_s - 0.5
        ip = min(max(int(uy + 0.5), 0), h - 1)
        fy = min(max((uy + 0.5) * inv_t, 0.0), ny - 1.0)
        ty = min(int(fy), max(ny - 2, 0))
        ty1 = min(ty + 1, ny - 1)
        wy = fy - ty
        for xo in range(wo):
            ux = (xo + 0.5) * inv_s - 0.5
            jp = min(max(int(ux + 0.5), 0), w - 1)
            r = rob[ip, jp]
            if r <= 0.0:
                continue
            fx = min(max((ux + 0.5) * inv_t, 0.0), nx - 1.0)
            tx = min(int(fx), max(nx - 2, 0))
            tx1 = min(tx + 1, nx - 1)
            wx = fx - tx
            dy = ((1 - wy) * ((1 - wx) * disp[ty, tx, 0] + wx * disp[ty, tx1, 0])
                  + wy * ((1 - wx) * disp[ty1, tx, 0] + wx * disp[ty1, tx1, 0]))
            dx = ((1 - wy) * ((1 - wx) * disp[ty, tx, 1] + wx * disp[ty, tx1, 1])
                  + wy * ((1 - wx) * disp[ty1, tx, 1] + wx * disp[ty1, tx1, 1]))
            vy = uy + dy
            vx = ux + dx
            cy = int(np.floor(vy + 0.5))
            cx = int(np.floor(vx + 0.5))
            ca = icov[ip, jp, 0]
            cb = two * icov[ip, jp, 1]
            cc = icov[ip, jp, 2]
            z = np.float32(0.0)
            n0 = n1 = n2 = d = z
            m0 = m1 = m2 = m3 = m4 = z
            p0 = p1 = p2 = p3 = p4 = p5 = z
            for a in range(-1, 2):
                sy = min(max(cy + a, 0), h - 1)
                ey = np.float32(cy + a - vy)
                for b in range(-1, 2):
                    sx = min(max(cx + b, 0), w - 1)
                    ex = np.float32(cx + b - vx)
                    q = ca * ex * ex + cb * ex * ey + cc * ey * ey
                    if q > cut:
                        continue
                    wt = r * np.exp(-q)
                    v0 = img[sy, sx, 0]
                    v1 = img[sy, sx, 1]
                    v2 = img[sy, sx, 2]
                    n0 += wt * v0
                    n1 += wt * v1
                    n2 += wt * v2
                    d += wt
                    wx_ = wt * ex
                    wy_ = wt * ey
                    m0 += wx_
                    m1 += wy_
                    m2 += wx_ * ex
                    m3 += wx_ * ey
                    m4 += wy_ * ey
                    p0 += wx_ * v0
                    p1 += wy_ * v0
                    p2 += wx_ * v1
                    p3 += wy_ * v1
                    p4 += wx_ * v2
                    p5 += wy_ * v2
            num[yo, xo, 0] += n0
            num[yo, xo, 1] += n1
            num[yo, xo, 2] += n2
            den[yo, xo] += d
            mom[yo, xo, 0] += m0
            mom[yo, xo, 1] += m1
            mom[yo, xo, 2] += m2
            mom[yo, xo, 3] += m3
            mom[yo, xo, 4] += m4
            mom[yo, xo, 5] += p0
            mom[yo, xo, 6] += p1
            mom[yo, xo, 7] += p2
            mom[yo, xo, 8] += p3
            mom[yo, xo, 9] += p4
            mom[yo, xo, 10] += p5


def _llr(num: np.ndarray, den: np.ndarray, mom: np.ndarray, ridge: float) -> np.ndarray:
    """Intercepts of the per-channel weighted least-squares planes (slopes damped by ``ridge``
    px^2; the weighted mean where the system is singular), float32 (Ho, Wo, 3)."""
    out = np.empty(num.shape, np.float32)
    step = max(1, (1 << 19) // max(num.shape[1], 1))
    for r0 in range(0, num.shape[0], step):
        sl = slice(r0, r0 + step)
        s0 = den[sl].astype(np.float64)
        sx, sy, sxx, sxy, syy = (mom[sl, :, k].astype(np.float64) for k in range(5))
        sxx = sxx + ridge * s0
        syy = syy + ridge * s0
        c00 = sxx * syy - sxy * sxy
        c01 = sy * sxy - sx * syy
        c02 = sx * sxy - sy * sxx
        det = s0 * c00 + sx * c01 + sy * c02
        ok = det > 1e-9 * np.maximum(s0, 1e-30) ** 3
        for c in range(3):
            mean = num[sl, :, c] / np.maximum(s0, 1e-30)
            b0 = num[sl, :, c] * c00 + mom[sl, :, 5 + 2 * c] * c01 + mom[sl, :, 6 + 2 * c] * c02
            out[sl, :, c] = np.where(ok, b0 / np.where(ok, det, 1.0), mean)
    return out


def _noise_var(luma: np.ndarray) -> float:
    """Noise variance of an image from the median absolute Immerkaer response (flat-biased)."""
    import cv2

    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    hp = cv2.filter2D(luma, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    sigma = float(np.median(np.abs(hp))) / 0.6745 / 6.0
    return max(sigma * sigma, 1e-10)


def _field_px(disp: np.ndarray, shape: tuple[int, int], tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (map_y, map_x) float32 positions in the frame of every reference pixel."""
    import cv2

    h, w = shape
    s = tile // 2
    # merge-grid tile i is centred on pixel s * i - 0.5
    fy = (np.arange(h, dtype=np.float32) + 0.5) / s
    fx = (np.arange(w, dtype=np.float32) + 0.5) / s
    mx, my = np.meshgrid(fx, fy)
    d = cv2.remap(np.ascontiguousarray(disp, np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy + d[..., 0], xx + d[..., 1]


#: SuperResParams fields of the developed-photo path: a narrower kernel (the frames are already
#: demosaicked and resized) and the merge's 16 px alignment tiles (JPEG noise, moving leaves).
PHOTO_DEFAULTS: dict[str, float | int] = {"detail": 0.15, "tile": 16, "align_radius": 4}


def super_resolve_rgb(frames: Sequence[np.ndarray], reference: int = 0, *,
                      params: SuperResParams | None = None) -> tuple[np.ndarray, dict]:
    """Super-resolve linear float32 RGB frames (H, W, 3) into (round(s H), round(s W), 3).

    Returns the image and a dict of diagnostics: ``gains`` (exposure match per frame),
    ``robustness`` (mean weight per frame), ``motion`` (share of tiles off the pixel lattice by a
    quarter pixel or more). Raises :class:`InvalidParameter` for fewer than two frames and
    :class:`BurstMismatch` for frames of different sizes.
    """
    import cv2

    p = params or SuperResParams(**PHOTO_DEFAULTS)
    frames = list(frames)
    n = len(frames)
    if n < 2:
        raise InvalidParameter("super_resolve_rgb needs at least two frames")
    if not -n <= reference < n:
        raise InvalidParameter(f"reference index {reference} is outside the burst of {n} frame(s)")
    reference %= n
    ref = np.ascontiguousarray(frames[reference], np.float32)
    if ref.ndim != 3 or ref.shape[2] != 3:
        raise InvalidParameter(f"frames must be (H, W, 3) RGB, got {ref.shape}")
    h, w = ref.shape[:2]
    t = p.tile
    ap = p.align_params()
    luma0 = np.ascontiguousarray(ref @ _LUMA)
    nv0 = _noise_var(luma0)
    icov = kernel_covariance(luma0, np.full(luma0.shape, nv0, np.float32), p)
    ref_pyr = pyramid(luma0, ap.levels)
    ref_grad = gradients(ref_pyr[0])
    ny, nx = tile_grid((h, w), t)
    ho, wo = int(round(p.scale * h)), int(round(p.scale * w))
    num = np.zeros((ho, wo, 3), np.float32)
    den = np.zeros((ho, wo), np.float32)
    mom = np.zeros((ho, wo, 11), np.float32)
    run_bands(accumulate_rgb_rows, ho, ref, np.zeros((ny, nx, 2), np.float32), int(t), icov,
              np.ones((h, w), np.float32), float(p.scale), num, den, mom)
    mean0 = np.stack([cv2.blur(ref[..., c], (3, 3)) for c in range(3)])
    var0 = np.stack([np.maximum(cv2.blur(ref[..., c] ** 2, (3, 3)) - mean0[c] ** 2, 0) for c in range(3)])
    ok0 = luma0 < 0.95 * float(luma0.max())
    rsum = np.zeros((h, w), np.float32)
    info: dict = {"gains": [], "robustness": [], "motion": []}
    for k in range(n):
        if k == reference:
            continue
        img = np.ascontiguousarray(frames[k], np.float32)
        if img.shape != ref.shape:
            raise BurstMismatch(f"frame size {img.shape[1]}x{img.shape[0]} differs from the reference "
                                f"{w}x{h}", f"frame {k}")
        luma = img @ _LUMA
        sel = ok0 & (luma < 0.95 * float(luma.max())) & (luma0 > 0.02)
        gain = float(np.median(luma0[sel] / np.maximum(luma[sel], 1e-6))) if sel.sum() > 100 else 1.0
        img *= np.float32(gain)
        luma *= np.float32(gain)
        disp = align(ref_pyr, pyramid(np.ascontiguousarray(luma), ap.levels), ap, ref_grad)
        ph = np.mod(disp, 1.0)
        info["motion"].append(float(np.mean(np.minimum(ph, 1.0 - ph).max(axis=-1) >= 0.25)))
        my, mx = _field_px(disp, (h, w), t)
        warped = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        diff = np.zeros((3, h, w), np.float32)
        for c in range(3):
            diff[c] = (mean0[c] - cv2.blur(warped[..., c], (3, 3))) ** 2
        # developed frames: compression and resizing add frame differences the noise estimate
        # misses, so the expected difference is calibrated on the frame pair itself (the median,
        # robust to the parts that moved; a chi-square's median is 0.455 of its mean)
        nv = max((nv0 + _noise_var(np.ascontiguousarray(luma))) / 9.0,
                 float(np.median(diff.mean(axis=0))) / 0.455 / 3.0)
        ratio = np.zeros((h, w), np.float32)
        for c in range(3):
            ratio += diff[c] / (nv + p.texture * var0[c])
        ratio = cv2.blur(ratio * np.float32(1.0 / 3.0), (3, 3))
        rob = np.clip(p.robust_s * np.exp(-np.maximum(ratio - p.robust_margin, 0.0)) - p.robust_t, 0, 1)
        rob = cv2.erode(rob.astype(np.float32), np.ones((5, 5), np.uint8))
        rsum += rob
        run_bands(accumulate_rgb_rows, ho, img, np.ascontiguousarray(disp, np.float32), int(t), icov,
                  np.ascontiguousarray(rob), float(p.scale), num, den, mom)
        info["gains"].append(gain)
        info["robustness"].append(float(rob.mean()))
    if p.linear_fit > 0:
        out = _llr(num, den, mom, p.linear_fit)
    else:
        out = num / np.maximum(den, 1e-12)[..., None]
    del mom
    up = cv2.resize(ref, (wo, ho), interpolation=cv2.INTER_CUBIC) if (ho, wo) != (h, w) else ref
    if p.single_frames > 0:
        a = cv2.resize(cv2.blur(np.clip(rsum / p.single_frames, 0, 1), (3, 3)), (wo, ho),
                       interpolation=cv2.INTER_LINEAR)
        out = a[..., None] * out + (1.0 - a[..., None]) * up
    out[den <= 1e-12] = up[den <= 1e-12]
    return np.ascontiguousarray(out, np.float32), info


def super_resolve_photos(images: Sequence["Image"], reference: int = 0, *,
                         params: SuperResParams | None = None) -> "Image":
    """Super-resolve display-encoded photos (:class:`rawlux.core.image.Image`, e.g. from
    :func:`rawlux.io.photo.open_photo`): decoded to linear, :func:`super_resolve_rgb`, encoded
    again; the result keeps the reference's colour space, encoding and metadata."""
    from dataclasses import replace

    from rawlux.color.transfer import decode, encode

    images = list(images)
    if not images:
        raise InvalidParameter("super_resolve_photos needs at least two photos")
    ref = images[reference % len(images)]
    lin = [np.ascontiguousarray(decode(np.clip(im.data, 0.0, 1.0), im.encoding), np.float32) for im in images]
    out, _ = super_resolve_rgb(lin, reference, params=params)
    enc = encode(np.clip(out, 0.0, 1.0), ref.encoding)
    return replace(ref, data=np.ascontiguousarray(enc, np.float32))
