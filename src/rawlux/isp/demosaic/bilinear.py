"""Bilinear Bayer demosaic: a numpy reference and its numba twin (tested equal).

Missing samples are the mean of the nearest same-colour sites: G from the 4 direct neighbours,
R/B from 2 (row/column) or 4 (diagonal) neighbours. Equivalent to convolving each sparse
channel with ``[[0,1,0],[1,4,1],[0,1,0]]/4`` (G) or ``[[1,2,1],[2,4,2],[1,2,1]]/4`` (R, B)
with reflect-101 borders. Linear: values above 1 and negatives pass through unchanged.
"""

from __future__ import annotations

import numpy as np
from rawlux.core.jit import njit, prange

from rawlux.isp.demosaic._common import check_mosaic, reflect_indices

_KG = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float32) / 4
_KRB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 4


def bilinear_reference(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Numpy reference: float32 (H, W) mosaic + 2x2 pattern -> float32 (H, W, 3)."""
    cfa, pat = check_mosaic(cfa, pattern)
    h, w = cfa.shape
    pad = np.pad(cfa, 2, mode="reflect")  # even pad width keeps the Bayer phase
    tile = np.tile(pat, ((h + 4) // 2 + 1, (w + 4) // 2 + 1))[: h + 4, : w + 4]
    out = np.empty((h, w, 3), np.float32)
    for c in range(3):
        sparse = np.where(tile == c, pad, np.float32(0))
        k = _KG if c == 1 else _KRB
        acc = np.zeros((h, w), np.float32)
        for dy in range(3):
            for dx in range(3):
                if k[dy, dx]:
                    acc += k[dy, dx] * sparse[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        out[..., c] = acc
    return out


@njit(cache=True, parallel=True, error_model="numpy")
def _bilinear_kernel(cfa, pat, rows, cols, out):  # pragma: no cover - compiled
    h, w = cfa.shape
    for i in prange(h):
        iu = rows[i]  # refl(i - 1)
        id_ = rows[i + 2]  # refl(i + 1)
        for j in range(w):
            jl = cols[j]
            jr = cols[j + 2]
            c = pat[i & 1, j & 1]
            v = cfa[i, j]
            cross = (cfa[iu, j] + cfa[id_, j] + cfa[i, jl] + cfa[i, jr]) * np.float32(0.25)
            diag = (cfa[iu, jl] + cfa[iu, jr] + cfa[id_, jl] + cfa[id_, jr]) * np.float32(0.25)
            horiz = (cfa[i, jl] + cfa[i, jr]) * np.float32(0.5)
            vert = (cfa[iu, j] + cfa[id_, j]) * np.float32(0.5)
            if c == 1:
                out[i, j, 1] = v
                ch = pat[i & 1, (j + 1) & 1]  # colour of the row neighbours
                out[i, j, ch] = horiz
                out[i, j, 2 - ch] = vert
            else:
                out[i, j, c] = v
                out[i, j, 1] = cross
                out[i, j, 2 - c] = diag


def bilinear(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """Numba bilinear demosaic (same result as :func:`bilinear_reference`)."""
    cfa, pat = check_mosaic(cfa, pattern)
    h, w = cfa.shape
    out = np.empty((h, w, 3), np.float32)
    _bilinear_kernel(cfa, pat, reflect_indices(h, 1), reflect_indices(w, 1), out)
    return out
