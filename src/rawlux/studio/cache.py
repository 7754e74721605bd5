"""The studio's caches: one session per open photo (decoded raw, normalised mosaics, reduced
"preview raws", the intermediate images of the last renders) and tickets that let a newer render
of a photo supersede an older one at its next stage boundary."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.image import CFA, Crop, Image, NoiseProfile, RawImage

__all__ = ["Superseded", "Session", "Sessions", "cached", "checker", "bin_to_preview"]


class Superseded(RawluxError):
    """A newer request for the same photo replaced this one (not an error the user sees)."""

    exit_code = 0


def bin_to_preview(norm: RawImage, long_side: int) -> RawImage:
    """A normalised mosaic (black_level output) reduced to a LINEAR float32 raw whose long side
    is about ``long_side`` (each 2x2 Bayer cell -> R, mean G, B, then area resampling); crop and
    noise profile scaled to match. LINEAR input is area-resampled. A raw that binning would
    make smaller than ``long_side`` is returned as it is (its preview is the full develop)."""
    import cv2

    d = norm.data
    if max(d.shape[:2]) // (2 if norm.cfa.is_bayer else 1) < long_side:
        return norm  # binning would fall short of the size asked: the preview is the develop
    if norm.cfa.is_bayer:
        pat = norm.cfa_pattern
        h2, w2 = d.shape[0] // 2, d.shape[1] // 2
        cells = d[: 2 * h2, : 2 * w2].reshape(h2, 2, w2, 2)
        rgb = np.zeros((h2, w2, 3), np.float32)
        for dy in range(2):
            for dx in range(2):
                rgb[..., int(pat[dy, dx])] += cells[:, dy, :, dx]
        rgb[..., 1] *= 0.5
        step = 2.0
        n_avg = np.array([1.0, 2.0, 1.0])
    elif norm.cfa is CFA.LINEAR:
        rgb = np.asarray(d, np.float32)
        step = 1.0
        n_avg = np.ones(3)
    else:
        raise InvalidParameter(f"preview of a {norm.cfa.value} mosaic is not supported")
    h, w = rgb.shape[:2]
    f = min(1.0, long_side / max(h, w))
    if f < 1.0:
        size = (max(1, round(w * f)), max(1, round(h * f)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    sy, sx = rgb.shape[0] / h / step * 1.0, rgb.shape[1] / w / step
    crop = None
    if norm.crop is not None:
        c = norm.crop
        crop = Crop(int(round(c.top * sy)), int(round(c.left * sx)),
                    max(1, int(round(c.height * sy))), max(1, int(round(c.width * sx))))
    noise = None
    if norm.noise_profile is not None:
        pairs = np.asarray(norm.noise_profile.pairs, np.float64)
        if pairs.shape[0] == 1:
            pairs = np.repeat(pairs, 3, axis=0)
        n = n_avg / max(sy * step, 1e-6) / max(sx * step, 1e-6)
        noise = NoiseProfile((pairs / np.maximum(n, 1.0)[:, None]).astype(np.float64))
    out = dataclasses.replace(
        norm, data=np.ascontiguousarray(rgb, np.float32), cfa=CFA.LINEAR, cfa_pattern=None,
        black=np.zeros(3, np.float32), crop=crop, noise_profile=noise, opcodes1=(), opcodes2=())
    if noise is None:
        # measure the reduced image's noise once here, instead of in every denoise render
        from rawlux.isp.denoise import estimate_noise

        est = estimate_noise(out)
        if est is not None and np.all(np.isfinite(est)):
            est = np.maximum(est, 0.0)
            if np.all(est.sum(axis=1) > 0) and np.all(est <= 1.0):
                out = dataclasses.replace(out, noise_profile=NoiseProfile(est))
    return out


@dataclass
class Session:
    """One open photo: what was decoded and rendered from it, its lock and its latest ticket."""

    path: Path
    kind: str  # "raw" | "photo"
    mtime: float
    raw: RawImage | None = None
    photo_scene: dict[int, Image] = field(default_factory=dict)  # photos: linearised, by size
    norm: dict[tuple, RawImage] = field(default_factory=dict)  # full normalised mosaic, by lens
    preview_raw: dict[tuple[tuple, int], RawImage] = field(default_factory=dict)  # (lens, size)
    raw_clip: dict[tuple[tuple, int], np.ndarray] = field(default_factory=dict)  # preview grid
    raw_clip_fraction: float = 0.0
    cache: dict[str, list[tuple[tuple, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ticket: int = 0
    notes: set[str] = field(default_factory=set)


class Sessions:
    """The open photos, most recent last (at most ``max_sessions``; thread-safe). A photo whose
    file changed on disk gets a new session."""

    def __init__(self, max_sessions: int, kind: Callable[[Path], str]) -> None:
        self.max_sessions = max_sessions
        self._kind = kind
        self._open: OrderedDict[Path, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> Session | None:
        """The open session of ``path`` (None when it is not open); no reordering."""
        return self._open.get(path)

    def open(self, path: Path) -> Session:
        st = path.stat()
        with self._lock:
            s = self._open.get(path)
            if s is not None and s.mtime == st.st_mtime:
                if next(reversed(self._open)) != path:
                    self._open.move_to_end(path)
                    self._trim()
                return s
            s = Session(path, self._kind(path), st.st_mtime)
            self._open[path] = s
            while len(self._open) > self.max_sessions:
                self._open.popitem(last=False)
            self._trim()
            return s

    def _trim(self) -> None:
        """Photos other than the latest keep their decoded raw and reduced raws (reopening is
        instant) but drop their full normalised mosaic and intermediate images (memory)."""
        for other in list(self._open.values())[:-1]:
            other.cache.clear()
            other.norm.clear()

    def begin(self, path: Path) -> int:
        """A new ticket for ``path``: every earlier render of it is superseded."""
        s = self.open(path)
        with self._lock:
            s.ticket += 1
            return s.ticket

    def __len__(self) -> int:
        return len(self._open)


def checker(s: Session, ticket: int | None) -> Callable[[str, int, int], None]:
    """An ``on_stage`` callback raising :class:`Superseded` once ``ticket`` is not the latest."""
    def on_stage(name: str, i: int, n: int) -> None:
        if ticket is not None and s.ticket != ticket:
            raise Superseded(f"render of {s.path.name} replaced by a newer one")
    return on_stage


def cached(s: Session, part: str, key: tuple, make: Callable[[], Any]) -> Any:
    """The value of render ``part`` for ``key`` from ``s``'s cache, made (and kept) when absent;
    each part keeps its last four keys (before/after, preview and its sharper refinement)."""
    entries = s.cache.setdefault(part, [])
    for i, (k, v) in enumerate(entries):
        if k == key:
            entries.insert(0, entries.pop(i))
            return v
    val = make()
    entries.insert(0, (key, val))
    del entries[4:]
    return val
