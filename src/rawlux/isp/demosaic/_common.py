"""Shared helpers for demosaic kernels: input checks and reflect-101 border indexing.

Every method takes a float32 (H, W) mosaic and a (ph, pw) int pattern of channel indices
(0=R, 1=G, 2=B; ``RawImage.cfa_pattern``) and returns float32 (H, W, 3) camera RGB. Borders are
handled by reflection about the edge pixel (numpy ``mode="reflect"``), which keeps the Bayer
phase, so a method never invents values from the wrong colour.
"""

from __future__ import annotations

import numpy as np
from rawlux.core.jit import njit

from rawlux.core.errors import ContractError


@njit(cache=True, inline="always")
def refl(i: int, n: int) -> int:  # pragma: no cover - compiled
    """Reflect-101 index of ``i`` into ``[0, n)`` (repeats for indices far outside)."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = abs(i) % period
    if i >= n:
        i = period - i
    return i


def reflect_indices(n: int, pad: int) -> np.ndarray:
    """int64 indices ``refl(k - pad, n)`` for ``k`` in ``[0, n + 2*pad)``."""
    k = np.arange(-pad, n + pad)
    if n == 1:
        return np.zeros_like(k)
    period = 2 * (n - 1)
    k = np.abs(k) % period
    return np.where(k >= n, period - k, k).astype(np.int64)


def check_mosaic(
    cfa: np.ndarray, pattern: np.ndarray, *, bayer: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise ``(cfa, pattern)``: float32 C-contiguous (H, W), int64 pattern.

    Raises :class:`ContractError` on a wrong dtype/shape, a non-Bayer pattern when ``bayer``,
    or non-finite values (NaN/inf cannot be demosaiced meaningfully; fix them upstream).
    """
    if not isinstance(cfa, np.ndarray) or cfa.ndim != 2:
        raise ContractError(f"demosaic needs a 2-D mosaic, got shape {getattr(cfa, 'shape', None)}")
    if cfa.dtype != np.float32:
        raise ContractError(f"demosaic needs a float32 mosaic, got {cfa.dtype}")
    if cfa.shape[0] < 2 or cfa.shape[1] < 2:
        raise ContractError(f"demosaic needs at least a 2x2 mosaic, got {cfa.shape}")
    p = np.asarray(pattern)
    if bayer:
        if p.shape != (2, 2) or sorted(p.ravel().tolist()) != [0, 1, 1, 2]:
            raise ContractError(f"not a Bayer pattern: {p.tolist()}")
        if p[0, 0] == 1 and p[1, 1] != 1 or p[0, 0] != 1 and p[1, 1] == 1:
            raise ContractError(f"Bayer greens must sit on a diagonal: {p.tolist()}")
    elif p.ndim != 2 or not set(np.unique(p).tolist()) <= {0, 1, 2}:
        raise ContractError(f"CFA pattern must hold channel indices 0..2, got {p.tolist()}")
    total = float(np.add.reduce(cfa, axis=None, dtype=np.float64))
    if not np.isfinite(total):
        raise ContractError(
            f"mosaic contains NaN or infinite values ({int(np.count_nonzero(~np.isfinite(cfa)))} sites)"
        )
    return np.ascontiguousarray(cfa), np.ascontiguousarray(p, dtype=np.int64)
