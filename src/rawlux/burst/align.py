"""Coarse-to-fine tile alignment of raw burst frames (HDR+ style).

Frames are aligned on a grey image made by 2x2-binning the normalised Bayer mosaic, so one grey
pixel is one Bayer-plane pixel (two raw pixels). A pyramid of that grey image is searched from the
coarsest level down: each level matches tiles by L2 distance in a small window around the best of
three candidate displacements handed down from the coarser level (HDR+), so the motion field is
per tile and follows handheld translation plus small rotation. The finest level uses
non-overlapping ``tile`` x ``tile`` tiles; there the integer match is refined to sub-pixel precision
by a quadratic fit of the 3x3 cost surface followed by inverse-compositional Lucas-Kanade
iterations (reference gradients, bilinear sampling). Tiles whose motion lies within
``global_snap`` px of a RANSAC similarity fit of the whole field (the hand's rotation + translation)
take the fit's motion, which is far less noisy than one tile's match in flat or edge-only tiles;
tiles that move otherwise (objects, parallax) keep their own. That field is resampled bilinearly
to the centres of the merge grid (smooth under rotation).

The merge resamples each frame at the reference's Bayer sites moved by that field
(:mod:`rawlux.burst.resample`).

Units: displacements are in grey (= Bayer plane) pixels, ``ref(y, x) ~ alt(y + dy, x + dx)``;
multiply by 2 for raw pixels. :func:`align` returns the field on the merge grid: tile ``(i, j)``
has its top-left corner at ``(i * stride - stride, j * stride - stride)``, ``stride = tile // 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.jit import njit, run_bands
from rawlux.core.params import StageParams, param


@dataclass(frozen=True)
class AlignParams(StageParams):
    """Alignment parameters (pixels are grey/Bayer-plane pixels = 2 raw pixels)."""

    tile: int = param(16, lo=8, hi=64, unit="px", doc="finest-level tile size (the merge tile size)")
    coarse_tile: int = param(8, lo=4, hi=32, unit="px", doc="tile size on the coarse pyramid levels")
    levels: int = param(4, lo=1, hi=6, doc="pyramid levels (downsampling 1, 2, 4, 4, 4, ...)")
    radius: int = param(4, lo=1, hi=16, unit="px", doc="search radius on coarse levels (half on level 1)")
    fine_radius: int = param(1, lo=1, hi=8, unit="px", doc="search radius on the finest level")
    lk_iterations: int = param(2, lo=0, hi=10, doc="Lucas-Kanade sub-pixel refinement steps (0 = quadratic fit only)")
    global_snap: float = param(
        0.75, lo=0.0, hi=8.0, unit="px",
        doc="tiles within this distance of a robust global similarity fit take the fit's motion (0 = off)",
    )


# ------------------------------------------------------------------------------- grey + pyramid


@njit(cache=True, nogil=True)
def _bin2x2(mosaic, out, r0, r1):  # pragma: no cover - compiled
    w = out.shape[1]
    for i in range(r0, r1):
        for j in range(w):
            out[i, j] = 0.25 * (mosaic[2 * i, 2 * j] + mosaic[2 * i, 2 * j + 1]
                                + mosaic[2 * i + 1, 2 * j] + mosaic[2 * i + 1, 2 * j + 1])


def grey_image(mosaic: np.ndarray) -> np.ndarray:
    """2x2-binned float32 grey image (H//2, W//2) of a normalised Bayer mosaic (H, W)."""
    if mosaic.ndim != 2:
        raise ContractError(f"alignment needs a 2-D Bayer mosaic, got shape {mosaic.shape}")
    out = np.empty((mosaic.shape[0] // 2, mosaic.shape[1] // 2), np.float32)
    run_bands(_bin2x2, out.shape[0], np.ascontiguousarray(mosaic, dtype=np.float32), out)
    return out


@njit(cache=True, nogil=True)
def _downsample_rows(img, f, out, r0, r1):  # pragma: no cover - compiled
    w = out.shape[1]
    inv = np.float32(1.0 / (f * f))
    for i in range(r0, r1):
        for j in range(w):
            s = np.float32(0.0)
            for a in range(f):
                for b in range(f):
                    s += img[i * f + a, j * f + b]
            out[i, j] = s * inv


def _downsample(img: np.ndarray, f: int) -> np.ndarray:
    """Box-filtered ``f`` x ``f`` downsampling (float32)."""
    out = np.empty((img.shape[0] // f, img.shape[1] // f), np.float32)
    run_bands(_downsample_rows, out.shape[0], img, f, out)
    return out


def level_factors(levels: int) -> list[int]:
    """Downsampling factor of each level relative to the previous one: 1, 2, 4, 4, ..."""
    return [1, 2, 4, 4, 4, 4][:levels]


def pyramid(grey: np.ndarray, levels: int) -> list[np.ndarray]:
    """Box-filtered pyramid, finest first; levels stop early when an image gets tiny."""
    out = [np.ascontiguousarray(grey, dtype=np.float32)]
    for f in level_factors(levels)[1:]:
        nxt = _downsample(out[-1], f)
        if min(nxt.shape) < 8:
            break
        out.append(nxt)
    return out


# ------------------------------------------------------------------------------- tile matching


@njit(cache=True, inline="always")
def _clampi(v: int, hi: int) -> int:  # pragma: no cover - compiled
    return 0 if v < 0 else (hi - 1 if v >= hi else v)


@njit(cache=True, fastmath=True)
def _tile_cost(ref, alt, y0, x0, t, dy, dx):  # pragma: no cover - compiled
    h, w = ref.shape
    s = np.float32(0.0)
    if (y0 >= 0 and x0 >= 0 and y0 + t <= h and x0 + t <= w and y0 + dy >= 0 and x0 + dx >= 0
            and y0 + dy + t <= h and x0 + dx + t <= w):
        for a in range(t):
            for b in range(t):
                d = ref[y0 + a, x0 + b] - alt[y0 + a + dy, x0 + b + dx]
                s += d * d
        return s
    for a in range(t):
        ry = _clampi(y0 + a, h)
        ay = _clampi(y0 + a + dy, h)
        for b in range(t):
            d = ref[ry, _clampi(x0 + b, w)] - alt[ay, _clampi(x0 + b + dx, w)]
            s += d * d
    return s


@njit(cache=True, nogil=True)
def _search_tiles(ref, alt, t, stride, off, nx, cand, ncand, radius, out, k0, k1):  # pragma: no cover
    """Best integer displacement of tiles ``k0 .. k1`` (row-major): the best of ``ncand``
    candidates, then a search of ``radius`` around it; into ``out`` (ny, nx, 2) int32."""
    for k in range(k0, k1):
        i = k // nx
        j = k % nx
        y0 = i * stride - off
        x0 = j * stride - off
        best = 1e30
        by = 0
        bx = 0
        for c in range(ncand):
            cy = cand[i, j, c, 0]
            cx = cand[i, j, c, 1]
            v = _tile_cost(ref, alt, y0, x0, t, cy, cx)
            if v < best:
                best = v
                by = cy
                bx = cx
        cy0 = by
        cx0 = bx
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                if dy == 0 and dx == 0:
                    continue
                v = _tile_cost(ref, alt, y0, x0, t, cy0 + dy, cx0 + dx)
                if v < best:
                    best = v
                    by = cy0 + dy
                    bx = cx0 + dx
        out[i, j, 0] = by
        out[i, j, 1] = bx


def _search_level(ref: np.ndarray, alt: np.ndarray, t: int, stride: int, off: int, ny: int, nx: int,
                  cand: np.ndarray, ncand: int, radius: int) -> np.ndarray:
    """(ny, nx, 2) int32 best integer displacement per tile (:func:`_search_tiles`)."""
    out = np.zeros((ny, nx, 2), np.int32)
    run_bands(_search_tiles, ny * nx, ref, alt, t, stride, off, nx, cand, ncand, radius, out)
    return out


@njit(cache=True)
def _bilinear(img, y, x):  # pragma: no cover - compiled
    h, w = img.shape
    y = max(y, 0.0)
    x = max(x, 0.0)
    y = min(y, h - 1.0)
    x = min(x, w - 1.0)
    y0 = int(y)
    x0 = int(x)
    y1 = min(y0 + 1, h - 1)
    x1 = min(x0 + 1, w - 1)
    fy = y - y0
    fx = x - x0
    return ((1 - fy) * ((1 - fx) * img[y0, x0] + fx * img[y0, x1])
            + fy * ((1 - fx) * img[y1, x0] + fx * img[y1, x1]))


@njit(cache=True, nogil=True)
def _subpixel_tiles(ref, alt, gy, gx, t, stride, off, disp, lk_iter, out, k0, k1):  # pragma: no cover
    """Quadratic fit of the 3x3 L2 cost around ``disp``, then inverse-compositional Lucas-Kanade
    steps (reference gradients ``gy``, ``gx``, bilinear sampling of ``alt``), tiles ``k0 .. k1``;
    float32 into ``out`` (ny, nx, 2)."""
    nx = disp.shape[1]
    h, w = ref.shape
    for k in range(k0, k1):
        i = k // nx
        j = k % nx
        y0 = i * stride - off
        x0 = j * stride - off
        dy = disp[i, j, 0]
        dx = disp[i, j, 1]
        c0 = _tile_cost(ref, alt, y0, x0, t, dy, dx)
        cym = _tile_cost(ref, alt, y0, x0, t, dy - 1, dx)
        cyp = _tile_cost(ref, alt, y0, x0, t, dy + 1, dx)
        cxm = _tile_cost(ref, alt, y0, x0, t, dy, dx - 1)
        cxp = _tile_cost(ref, alt, y0, x0, t, dy, dx + 1)
        fy = 0.0
        fx = 0.0
        den = cym - 2.0 * c0 + cyp
        if den > 1e-12:
            fy = min(max(0.5 * (cym - cyp) / den, -0.5), 0.5)
        den = cxm - 2.0 * c0 + cxp
        if den > 1e-12:
            fx = min(max(0.5 * (cxm - cxp) / den, -0.5), 0.5)
        vy = dy + fy
        vx = dx + fx
        if lk_iter > 0:
            sxx = 0.0
            sxy = 0.0
            syy = 0.0
            for a in range(t):
                ry = _clampi(y0 + a, h)
                for b in range(t):
                    rx = _clampi(x0 + b, w)
                    sxx += gx[ry, rx] * gx[ry, rx]
                    sxy += gx[ry, rx] * gy[ry, rx]
                    syy += gy[ry, rx] * gy[ry, rx]
            det = sxx * syy - sxy * sxy
            tr = sxx + syy
            if tr > 1e-12 and det > 1e-3 * tr * tr:  # skip flat or edge-only tiles
                for _ in range(lk_iter):
                    bx_ = 0.0
                    by_ = 0.0
                    fy0 = np.floor(vy)
                    fx0 = np.floor(vx)
                    ey = np.float32(vy - fy0)
                    ex = np.float32(vx - fx0)
                    iy = int(fy0)
                    ix = int(fx0)
                    if y0 >= 0 and x0 >= 0 and y0 + t <= h and x0 + t <= w and y0 + iy >= 0 \
                            and x0 + ix >= 0 and y0 + iy + t < h and x0 + ix + t < w:
                        # the whole tile samples inside: one set of bilinear weights, no clamping
                        w00 = (np.float32(1.0) - ey) * (np.float32(1.0) - ex)
                        w01 = (np.float32(1.0) - ey) * ex
                        w10 = ey * (np.float32(1.0) - ex)
                        w11 = ey * ex
                        for a in range(t):
                            ry = y0 + a
                            sy = ry + iy
                            for b in range(t):
                                rx = x0 + b
                                sx = rx + ix
                                r = (w00 * alt[sy, sx] + w01 * alt[sy, sx + 1] + w10 * alt[sy + 1, sx]
                                     + w11 * alt[sy + 1, sx + 1]) - ref[ry, rx]
                                bx_ += gx[ry, rx] * r
                                by_ += gy[ry, rx] * r
                    else:
                        for a in range(t):
                            ry = _clampi(y0 + a, h)
                            for b in range(t):
                                rx = _clampi(x0 + b, w)
                                r = _bilinear(alt, ry + vy, rx + vx) - ref[ry, rx]
                                bx_ += gx[ry, rx] * r
                                by_ += gy[ry, rx] * r
                    ux = -(syy * bx_ - sxy * by_) / det
                    uy = -(sxx * by_ - sxy * bx_) / det
                    vx += min(max(ux, -1.0), 1.0)
                    vy += min(max(uy, -1.0), 1.0)
                    if abs(ux) < 0.01 and abs(uy) < 0.01:
                        break
        # stay within one pixel of the integer match (LK diverging on noise)
        vy = min(max(vy, dy - 1.0), dy + 1.0)
        vx = min(max(vx, dx - 1.0), dx + 1.0)
        out[i, j, 0] = vy
        out[i, j, 1] = vx


def _subpixel(ref: np.ndarray, alt: np.ndarray, gy: np.ndarray, gx: np.ndarray, t: int, stride: int,
              off: int, disp: np.ndarray, lk_iter: int) -> np.ndarray:
    """(ny, nx, 2) float32 sub-pixel displacement per tile (:func:`_subpixel_tiles`)."""
    out = np.zeros((disp.shape[0], disp.shape[1], 2), np.float32)
    run_bands(_subpixel_tiles, disp.shape[0] * disp.shape[1], ref, alt, gy, gx, t, stride, off, disp,
              lk_iter, out)
    return out


def gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradients (gy, gx) of a grey image, float32, edges replicated."""
    g = np.pad(grey, 1, mode="edge")
    gy = 0.5 * (g[2:, 1:-1] - g[:-2, 1:-1])
    gx = 0.5 * (g[1:-1, 2:] - g[1:-1, :-2])
    return np.ascontiguousarray(gy, np.float32), np.ascontiguousarray(gx, np.float32)


def _grid(shape: tuple[int, int], t: int, stride: int, off: int) -> tuple[int, int]:
    h, w = shape
    ny = max(1, -(-(h + 2 * off - t) // stride) + 1)
    nx = max(1, -(-(w + 2 * off - t) // stride) + 1)
    return ny, nx


def tile_grid(shape: tuple[int, int], tile: int) -> tuple[int, int]:
    """(ny, nx) of the finest-level (merge) tile grid over a grey/plane image of ``shape``."""
    s = tile // 2
    return _grid(shape, tile, s, s)


def _candidates(prev: np.ndarray, prev_t: int, prev_stride: int, prev_off: int, factor: int,
                ny: int, nx: int, t: int, stride: int, off: int) -> np.ndarray:
    """Three candidates per tile from the coarser level (own tile, nearest neighbours in y, x)."""
    cy = (np.arange(ny) * stride - off + t / 2.0) / factor  # tile centres in coarse coordinates
    cx = (np.arange(nx) * stride - off + t / 2.0) / factor
    fy = (cy + prev_off - prev_t / 2.0) / prev_stride
    fx = (cx + prev_off - prev_t / 2.0) / prev_stride
    pny, pnx = prev.shape[:2]
    iy = np.clip(np.rint(fy).astype(int), 0, pny - 1)
    ix = np.clip(np.rint(fx).astype(int), 0, pnx - 1)
    ny2 = np.clip(np.where(fy > iy, iy + 1, iy - 1), 0, pny - 1)
    nx2 = np.clip(np.where(fx > ix, ix + 1, ix - 1), 0, pnx - 1)
    cand = np.empty((ny, nx, 3, 2), np.int32)
    cand[:, :, 0] = prev[iy[:, None], ix[None, :]] * factor
    cand[:, :, 1] = prev[ny2[:, None], ix[None, :]] * factor
    cand[:, :, 2] = prev[iy[:, None], nx2[None, :]] * factor
    return cand


def align(
    ref_pyr: list[np.ndarray],
    alt_pyr: list[np.ndarray],
    params: AlignParams = AlignParams(),
    ref_grad: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per-tile displacement field (ny, nx, 2) float32 (dy, dx) in grey pixels, ``alt`` -> ``ref``.

    ``ref_pyr``/``alt_pyr`` come from :func:`pyramid` on equally sized grey images. The grid is
    :func:`tile_grid` of the finest level with ``params.tile``. ``ref_grad`` = :func:`gradients`
    of ``ref_pyr[0]`` (computed when None; pass it to reuse it across a burst).
    """
    if len(ref_pyr) != len(alt_pyr) or any(a.shape != b.shape for a, b in zip(ref_pyr, alt_pyr)):
        raise ContractError("alignment pyramids differ in shape")
    if params.tile % 2:
        raise ContractError(f"alignment tile must be even, got {params.tile}")
    n = len(ref_pyr)
    factors = level_factors(n)
    prev = None
    geom = None
    t = params.tile
    for lvl in range(n - 1, -1, -1):
        ref, alt = ref_pyr[lvl], alt_pyr[lvl]
        if lvl == 0:  # non-overlapping tiles; resampled to the (overlapping) merge grid below
            tl, stride, off, radius = t, t, 0, params.fine_radius
        else:
            tl = min(params.coarse_tile, min(ref.shape))
            # level 1 (factor 2 above the finest) only refines what level 2 found: half the radius
            stride, off, radius = tl, 0, (params.radius if lvl > 1 else max(1, params.radius // 2))
        ny, nx = _grid(ref.shape, tl, stride, off)
        if prev is None:
            cand = np.zeros((ny, nx, 1, 2), np.int32)
        else:
            pt, ps, po, f = geom
            cand = _candidates(prev, pt, ps, po, f, ny, nx, tl, stride, off)
        prev = _search_level(ref, alt, tl, stride, off, ny, nx, cand, cand.shape[2], radius)
        geom = (tl, stride, off, factors[lvl])
    gy, gx = gradients(ref_pyr[0]) if ref_grad is None else ref_grad
    fine = _subpixel(ref_pyr[0], alt_pyr[0], gy, gx, t, t, 0, prev, params.lk_iterations)
    if params.global_snap > 0:
        fine = snap_to_global(fine, t, params.global_snap)
    return resample_field(fine, t, tile_grid(ref_pyr[0].shape, t), t)


def snap_to_global(field: np.ndarray, tile: int, tol: float) -> np.ndarray:
    """Replace tile displacements within ``tol`` px of a RANSAC similarity fit (rotation, scale,
    translation: the hand's motion) by the fit, which is far less noisy than one tile's match
    (flat or edge-only tiles); tiles that move differently (objects, parallax) keep their own."""
    import cv2

    ny, nx = field.shape[:2]
    if ny * nx < 6:
        return field
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32) * tile + (tile - 1) / 2.0
    src = np.stack([xx.ravel(), yy.ravel()], 1)
    dst = src + field.reshape(-1, 2)[:, ::-1]
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=tol,
                                         maxIters=500, refineIters=10)
    if m is None or inl is None or inl.sum() < max(6, 0.3 * len(src)):
        return field
    fit = src @ m[:, :2].T + m[:, 2] - src
    model = np.ascontiguousarray(fit[:, ::-1].reshape(ny, nx, 2), np.float32)
    near = np.linalg.norm(field - model, axis=2) < tol
    return np.where(near[..., None], model, field).astype(np.float32)


def resample_field(field: np.ndarray, field_stride: int, grid: tuple[int, int], tile: int) -> np.ndarray:
    """Bilinear resampling of a displacement field on non-overlapping ``field_stride`` tiles to the
    centres of the merge grid (tile ``tile``, stride ``tile/2``, offset ``tile/2``)."""
    import cv2

    ny, nx = grid
    s = tile // 2
    cy = (np.arange(ny) * s - s + tile / 2.0 - field_stride / 2.0) / field_stride
    cx = (np.arange(nx) * s - s + tile / 2.0 - field_stride / 2.0) / field_stride
    mx, my = np.meshgrid(cx.astype(np.float32), cy.astype(np.float32))
    out = cv2.remap(np.ascontiguousarray(field, np.float32), mx, my, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out, np.float32)
