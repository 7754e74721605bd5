"""EXIF orientation of pixel arrays (codes 1..8), shared by io (photo and depth readers) and the
output stage."""

from __future__ import annotations

import numpy as np

from rawlux.core.errors import ContractError


def oriented_shape(h: int, w: int, orientation: int) -> tuple[int, int]:
    """(height, width) after applying EXIF ``orientation`` (codes 5..8 swap the axes)."""
    return (w, h) if orientation in (5, 6, 7, 8) else (h, w)


def apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip an (H, W[, C]) array so EXIF ``orientation`` (1..8) becomes 1 (C-contiguous copy).

    2 mirror left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 CW,
    7 transverse, 8 rotate 90 CCW. Unknown codes raise :class:`ContractError`.
    """
    o = int(orientation)
    if o not in range(1, 9):
        raise ContractError(f"EXIF orientation must be 1..8, got {orientation}")
    t = (1, 0) + tuple(range(2, a.ndim))
    views = {
        1: lambda x: x,
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: x.transpose(t),
        6: lambda x: x[::-1].transpose(t),
        7: lambda x: x[::-1, ::-1].transpose(t),
        8: lambda x: x[:, ::-1].transpose(t),
    }
    return np.ascontiguousarray(views[o](a))
