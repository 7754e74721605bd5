"""Menon (2007) DDFAPD demosaic from colour-demosaicing (optional dependency; benchmark reference)."""

from __future__ import annotations

import numpy as np

from rawlux.core.errors import UnsupportedInput
from rawlux.isp.demosaic._common import check_mosaic


def menon2007(cfa: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """colour-demosaicing's ``demosaicing_CFA_Bayer_Menon2007`` (with refinement) as float32."""
    cfa, pat = check_mosaic(cfa, pattern)
    try:
        from colour_demosaicing import demosaicing_CFA_Bayer_Menon2007
    except ImportError:  # pragma: no cover - depends on the environment
        raise UnsupportedInput(
            "demosaic method 'menon2007' needs colour-demosaicing installed"
        ) from None
    name = "".join("RGB"[int(v)] for v in pat.ravel())
    return np.ascontiguousarray(demosaicing_CFA_Bayer_Menon2007(cfa, name), dtype=np.float32)
