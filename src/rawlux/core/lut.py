"""The :class:`Lut` type: a 1D or 3D colour lookup table (read and written by ``io.cube``,
applied by ``looks.lut``). ``encoding`` names the values it expects and gives."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rawlux.core.errors import InvalidParameter

ENCODINGS = ("srgb-rec709", "linear-rec709", "srgb-rec2020", "linear-rec2020")
INTERPOLATIONS = ("tetrahedral", "trilinear")


@dataclass(frozen=True, eq=False)
class Lut:
    """A 1D or 3D colour LUT (see module docstring); ``table`` is float32, C-contiguous."""

    table: np.ndarray
    domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    title: str = ""
    encoding: str = "srgb-rec709"
    interpolation: str = "tetrahedral"
    comments: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.table, dtype=np.float32)
        object.__setattr__(self, "table", t)
        if not (t.ndim == 2 and t.shape[1] == 3 or t.ndim == 4 and t.shape[3] == 3
                and t.shape[0] == t.shape[1] == t.shape[2]):
            raise InvalidParameter(f"LUT table must be (N, 3) or (N, N, N, 3), got {t.shape}")
        if t.shape[0] < 2:
            raise InvalidParameter(f"LUT size must be at least 2, got {t.shape[0]}")
        if not np.all(np.isfinite(t)):
            raise InvalidParameter("LUT table holds NaN or infinite values")
        lo = tuple(float(v) for v in self.domain_min)
        hi = tuple(float(v) for v in self.domain_max)
        if len(lo) != 3 or len(hi) != 3 or any(not b > a for a, b in zip(lo, hi)):
            raise InvalidParameter(f"LUT domain must have min < max per channel, got {lo} {hi}")
        object.__setattr__(self, "domain_min", lo)
        object.__setattr__(self, "domain_max", hi)
        if self.encoding not in ENCODINGS:
            raise InvalidParameter(
                f"LUT encoding {self.encoding!r} is not one of: {', '.join(ENCODINGS)}")
        if self.interpolation not in INTERPOLATIONS:
            raise InvalidParameter(f"LUT interpolation {self.interpolation!r} is not one of: "
                                   f"{', '.join(INTERPOLATIONS)}")

    @property
    def is_3d(self) -> bool:
        return self.table.ndim == 4

    @property
    def size(self) -> int:
        return int(self.table.shape[0])
