"""The :class:`DepthMap` carrier and the conversions from stored depth encodings to disparity
(shared by io, which reads depth from files, and portrait, which renders with it).

Convention: **disparity** ``d`` (float32, >= 0, proportional to 1 / distance, any scale;
0 = infinity). Only ratios ``d / d_focus`` matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter


@dataclass(frozen=True)
class DepthMap:
    """A disparity map (float32 (h, w), >= 0, ~1/distance) and where it came from.

    ``source``: "gdepth", "dynamic-depth", "heic-depth", "heic-disparity", "file", "cues".
    ``near``/``far``: the stored range (file units) when known; ``focus``: the focal point the
    file recorded, (x, y) as fractions of width/height (GFocus), or None.
    """

    disparity: np.ndarray
    source: str
    near: float | None = None
    far: float | None = None
    focus: tuple[float, float] | None = None

    __hash__ = object.__hash__

    def __post_init__(self) -> None:
        d = self.disparity
        if not isinstance(d, np.ndarray) or d.ndim != 2 or d.dtype != np.float32:
            raise ContractError(
                f"DepthMap.disparity must be float32 (H, W), got "
                f"{getattr(d, 'dtype', type(d).__name__)} {getattr(d, 'shape', '')}")

    def resized(self, height: int, width: int) -> DepthMap:
        """The same map resampled (bilinear) to ``height`` x ``width``."""
        if self.disparity.shape == (height, width):
            return self
        d = cv2.resize(self.disparity, (width, height), interpolation=cv2.INTER_LINEAR)
        return DepthMap(np.ascontiguousarray(d, np.float32), self.source, self.near, self.far,
                        self.focus)

    def to_image(self) -> np.ndarray:
        """Normalised float32 (H, W) in [0, 1] for saving: 1 = nearest, 0 = farthest."""
        d = self.disparity
        lo, hi = float(np.percentile(d, 0.5)), float(np.percentile(d, 99.5))
        return np.clip((d - lo) / max(hi - lo, 1e-9), 0.0, 1.0).astype(np.float32)


def decode_range(values: np.ndarray, fmt: str, near: float, far: float) -> np.ndarray:
    """Stored depth image values in [0, 1] -> disparity (1/distance in the file's units).

    ``RangeInverse``: ``z = near*far / (far - v*(far - near))``; ``RangeLinear``:
    ``z = near + v*(far - near)``. In both v = 0 is ``near`` and v = 1 is ``far`` (Google's
    depthmap-metadata encoding, used by GDepth and Dynamic Depth; Lens Blur maps look bright
    where the scene is far)."""
    if not (near > 0 and far > near):
        raise InvalidParameter(f"depth range near={near} far={far} is invalid (need 0 < near < far)")
    v = np.clip(values.astype(np.float32), 0.0, 1.0)
    f = fmt.strip().lower()
    if f == "rangeinverse":
        z = (near * far) / (far - v * (far - near))
    elif f == "rangelinear":
        z = near + v * (far - near)
    else:
        raise InvalidParameter(f"unknown depth format {fmt!r}; valid: RangeInverse, RangeLinear")
    return (1.0 / z).astype(np.float32)


def disparity_from_image(values: np.ndarray, *, near_is_white: bool = False) -> np.ndarray:
    """A plain depth picture (grey, [0, 1]) -> disparity (1 = nearest).

    Default convention: Google's (Lens Blur files, depthy's samples): the value is a normalised
    RangeInverse depth, dark = near, bright = far, read with an assumed far/near ratio of 20
    (disparity ``1 - 0.95 v``). ``near_is_white=True`` reads a disparity picture (bright = near,
    e.g. MiDaS-style maps): ``0.05 + 0.95 v``. Nothing lands exactly at infinity."""
    v = np.clip(values, 0.0, 1.0, out=np.empty(values.shape, np.float32))  # one copy, in place
    if near_is_white:  # 0.05 + 0.95 v
        v *= np.float32(0.95)
        v += np.float32(0.05)
    else:  # 1 - 0.95 v
        v *= np.float32(-0.95)
        v += np.float32(1.0)
    return v
