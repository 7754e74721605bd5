"""The studio's one door into rawlux: every call into processing goes through this module.

:class:`Engine` opens a file once and caches it (the decoded raw, its normalised mosaic, a
reduced "preview raw" and the intermediate images of the last render), so a slider change
re-runs only the stages after the first changed one, on about 2 MP:

* ``geometry`` part: white_balance .. geometry on the preview raw (key: wb, highlights, denoise,
  demosaic, lens_correction, crop) -> camera RGB, white-balanced;
* ``scene`` part: color_transform + sharpen (key: + exposure, sharpen) -> scene-linear Rec.2020;
* ``display`` part: look + output (key: + look, strength, gamut, colour space).

A render carries a ticket; a newer render of the same photo makes older tickets stale and the
older render stops at its next stage boundary (:class:`Superseded`). Photos (JPEG, HEIC, ...)
enter at the scene part (linearised, as ``rawlux looks sheet`` does).

Images handed out are uint8 (H, W, 3) display-encoded in the output space; the server encodes
them. :func:`schema` describes the controls (today from ``DevelopOptions`` field metadata).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.image import CFA, ColorSpace, Crop, Encoding, Image, NoiseProfile, RawImage

__all__ = ["Engine", "Superseded", "schema", "develop_options", "PREVIEW_LONG_SIDE"]

#: Long side (px) of the preview render; full resolution is rendered on demand.
PREVIEW_LONG_SIDE = 1280
#: Options the studio does not expose (no LUT upload; scene-referred output is an export choice).
HIDDEN = ("lut_strength", "scene_referred")
RECIPE_SUFFIX = ".rawlux.json"
#: Options that act on raw data only (a developed photo enters at the look stage).
RAW_ONLY = ("wb", "highlights", "denoise", "sharpen", "demosaic", "lens_correction", "crop")
#: A developed photo opens as it is: the neutral look leaves it unchanged (mean |diff| < 2/255).
PHOTO_DEFAULTS = {"look": "neutral"}
RECIPE_SCHEMA = 1

_GEOMETRY_KEYS = ("wb", "highlights", "denoise", "demosaic", "lens_correction", "crop")
_SCENE_KEYS = _GEOMETRY_KEYS + ("exposure", "sharpen")
_ALL_KEYS = _SCENE_KEYS + ("look", "strength", "color_space", "gamut")
_GROUPS = {
    "look": "Look", "strength": "Look",
    "exposure": "Light", "wb": "Light", "highlights": "Light",
    "denoise": "Detail", "sharpen": "Detail", "demosaic": "Detail",
    "lens_correction": "Lens", "crop": "Lens",
    "color_space": "Output", "gamut": "Output",
}


_THUMB_RENDER = threading.Lock()


class Superseded(RawluxError):
    """A newer request for the same photo replaced this one (not an error the user sees)."""

    exit_code = 0


# ----------------------------------------------------------------------------- parameters


def schema() -> dict[str, Any]:
    """Description of every control: one dict per develop option (name, type, default, lo, hi,
    unit, doc, choices, group) plus the portrait lenses and frame layouts. The front end builds
    its controls from this. (Point this at the params module's ``schema()`` when it lands.)"""
    from rawlux.develop import DevelopOptions
    from rawlux.isp.demosaic import DEMOSAIC
    from rawlux.looks.registry import look_names
    from rawlux.looks.sheet import _ordered

    fields = []
    order = list(dict.fromkeys(_GROUPS.values()))
    ranked = sorted(dataclasses.fields(DevelopOptions),
                    key=lambda f: order.index(_GROUPS[f.name]) if f.name in _GROUPS else len(order))
    for f in ranked:
        if f.name in HIDDEN:
            continue
        meta = dict(f.metadata)
        d: dict[str, Any] = {
            "name": f.name, "default": f.default, "lo": meta.get("lo"), "hi": meta.get("hi"),
            "unit": meta.get("unit") or "", "doc": meta.get("doc") or "",
            "choices": list(meta["choices"]) if meta.get("choices") else None,
            "group": _GROUPS.get(f.name, "More"),
        }
        d["type"] = ("bool" if isinstance(f.default, bool) else
                     "float" if isinstance(f.default, float) else "str")
        if f.name == "look":
            d["choices"] = _ordered(look_names())
        elif f.name == "demosaic":
            d["choices"] = ["default"] + [n for n in DEMOSAIC.names()
                                          if not n.endswith("_reference")]
            d["default"] = "default"
        elif f.name == "wb":
            d["type"] = "wb"
            d["kelvin"] = {"lo": 1700.0, "hi": 50000.0, "default": 5500.0, "unit": "K"}
            d["tint"] = {"lo": -150.0, "hi": 150.0, "default": 0.0, "unit": ""}
        d["raw_only"] = f.name in RAW_ONLY
        if d["type"] == "float" and d["lo"] is not None and d["hi"] is not None:
            d["step"] = 0.05 if (d["hi"] - d["lo"]) > 2 else 0.01
        fields.append(d)
    return {"develop": fields, "lenses": lens_names(), "layouts": layout_names(),
            "recipe_suffix": RECIPE_SUFFIX, "photo_defaults": dict(PHOTO_DEFAULTS),
            "export_hdr": export_hdr_available(), "preview_size": PREVIEW_LONG_SIDE}


def export_hdr_available() -> bool:
    """True when exports can write Ultra HDR (gain-map) JPEGs: the batch engine takes ``hdr``
    and the gain-map writer is installed."""
    import importlib.util
    import inspect

    run = _batch_runner()
    return (run is not None and "hdr" in inspect.signature(run).parameters
            and importlib.util.find_spec("rawlux.io.gainmap") is not None)


def lens_names() -> list[str]:
    from importlib import resources

    from rawlux.portrait.lens import LENS_DIR

    folder = resources.files("rawlux.portrait").joinpath(LENS_DIR)
    names = [Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".toml")]
    return sorted(names, key=lambda n: float(n) if n.replace(".", "").isdigit() else 1e9)


def layout_names() -> list[str]:
    from rawlux.frame.layout import list_layouts

    return list_layouts()


def develop_options(opts: dict[str, Any] | None) -> dict[str, Any]:
    """Validated keyword options for :func:`rawlux.develop` from a request's dict (unknown keys,
    wrong types and out-of-range values raise :class:`InvalidParameter`, naming the option)."""
    from rawlux.develop import DevelopOptions
    from rawlux.isp.white_balance import parse_wb

    opts = dict(opts or {})
    names = {f.name: f for f in dataclasses.fields(DevelopOptions)}
    unknown = sorted(set(opts) - set(names))
    if unknown:
        raise InvalidParameter(f"unknown option(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for k, v in opts.items():
        default = names[k].default
        if k == "demosaic":
            v = None if v in (None, "", "default") else str(v)
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise InvalidParameter(f"option {k} must be true or false, got {v!r}")
        elif isinstance(default, float):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidParameter(f"option {k} must be a number, got {v!r}")
            v = float(v)
        elif not isinstance(v, str):
            raise InvalidParameter(f"option {k} must be text, got {v!r}")
        out[k] = v
    full = DevelopOptions(**out)  # bounds and choices
    parse_wb(full.wb)
    if "look" in out:
        from rawlux.looks.registry import look_names

        if out["look"] not in look_names():  # names only: no paths from a web page
            raise InvalidParameter(
                f"look {out['look']!r} is unknown; valid: {', '.join(look_names())}")
    if out.get("demosaic") is not None:
        from rawlux.isp.demosaic import DEMOSAIC

        DEMOSAIC.get(out["demosaic"])
    return out


def _key(opts: dict[str, Any], names: tuple[str, ...]) -> tuple:
    from rawlux.develop import DevelopOptions

    d = {f.name: f.default for f in dataclasses.fields(DevelopOptions)}
    d.update(opts)
    return tuple((n, d[n]) for n in names)


# ---------------------------------------------------------------------------- preview raw


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


# ---------------------------------------------------------------------------- sessions


@dataclass
class _Session:
    path: Path
    kind: str  # "raw" | "photo"
    mtime: float
    raw: RawImage | None = None
    photo_scene: dict[int, Image] = field(default_factory=dict)  # photos: linearised, by size
    norm: dict[bool, RawImage] = field(default_factory=dict)  # full normalised mosaic, by lens
    preview_raw: dict[tuple[bool, int], RawImage] = field(default_factory=dict)  # (lens, size)
    raw_clip: dict[tuple[bool, int], np.ndarray] = field(default_factory=dict)  # preview grid
    raw_clip_fraction: float = 0.0
    cache: dict[str, list[tuple[tuple, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ticket: int = 0
    notes: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Render:
    """One rendered view: ``rgb`` uint8 (H, W, 3) display-encoded in ``space``; ``ms`` time."""

    rgb: np.ndarray
    space: ColorSpace
    ms: float
    stats: dict[str, Any]
    display: Image | None = None


class Engine:
    """Opens, caches and renders the photos of one folder (thread-safe)."""

    def __init__(self, *, max_sessions: int = 3, preview_long_side: int = PREVIEW_LONG_SIDE,
                 cache_dir: Path | None = None) -> None:
        self.preview_long_side = preview_long_side
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[Path, _Session] = OrderedDict()
        self._lock = threading.Lock()
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        self.cache_dir = cache_dir or Path(base) / "rawlux" / "studio"

    # ----------------------------------------------------------------- opening

    def kind(self, path: Path) -> str:
        from rawlux.io.probe import input_kind

        return input_kind(path)

    def _session(self, path: Path) -> _Session:
        st = path.stat()
        with self._lock:
            s = self._sessions.get(path)
            if s is not None and s.mtime == st.st_mtime:
                if next(reversed(self._sessions)) != path:
                    self._sessions.move_to_end(path)
                    self._trim()
                return s
            s = _Session(path, self.kind(path), st.st_mtime)
            self._sessions[path] = s
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
            self._trim()
            return s

    def _trim(self) -> None:
        """Photos other than the latest keep their decoded raw and reduced raws (reopening is
        instant) but drop their full normalised mosaic and intermediate images (memory)."""
        for p, other in list(self._sessions.items())[:-1]:
            other.cache.clear()
            other.norm.clear()

    def begin(self, path: Path) -> int:
        """A new ticket for ``path``: every earlier render of it is superseded."""
        s = self._session(path)
        with self._lock:
            s.ticket += 1
            return s.ticket

    def _check(self, s: _Session, ticket: int | None) -> Callable[[str, int, int], None]:
        def on_stage(name: str, i: int, n: int) -> None:
            if ticket is not None and s.ticket != ticket:
                raise Superseded(f"render of {s.path.name} replaced by a newer one")
        return on_stage

    def _load(self, s: _Session, size: int) -> None:
        if s.kind == "raw" and s.raw is None:
            from rawlux.io.raw import empty_pixels_reason, open_raw

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = open_raw(s.path)
            why = empty_pixels_reason(raw)
            if why:
                from rawlux.core.errors import UnsupportedInput

                raise UnsupportedInput(why, s.path)
            s.raw = raw
        elif s.kind == "photo" and size not in s.photo_scene:
            from rawlux.io.photo import open_photo
            from rawlux.looks.sheet import look_input, thumbnail

            s.photo_scene[size] = look_input(thumbnail(open_photo(s.path), size))

    def _preview_raw(self, s: _Session, lens_correction: bool, size: int) -> RawImage:
        key = (lens_correction, size)
        if key not in s.preview_raw:
            if lens_correction not in s.norm:
                from rawlux.develop import stage_definitions
                from rawlux.isp.black_level import BlackLevelParams
                from rawlux.isp.lens_shading import LensShadingParams
                from rawlux.isp.pipeline import Pipeline, Stage

                defs = stage_definitions()
                pipe = Pipeline([Stage(defs["black_level"], BlackLevelParams()),
                                 Stage(defs["lens_shading"],
                                       LensShadingParams(enabled=lens_correction))])
                assert s.raw is not None
                s.norm[lens_correction] = pipe.run(s.raw)
            pr = bin_to_preview(s.norm[lens_correction], size)
            s.preview_raw[key] = pr
            # raw clipping: a photosite at the white level (before lens-shading gains)
            assert s.raw is not None
            clip_full = np.asarray(s.raw.data) >= s.raw.white * 0.999
            s.raw_clip_fraction = float(clip_full.mean())
            s.raw_clip[key] = _clip_grid(clip_full, pr.height, pr.width)
        return s.preview_raw[key]

    # ----------------------------------------------------------------- rendering

    def _stages(self, opts: dict[str, Any], names: list[str]):
        from rawlux.develop import DevelopOptions, build_pipeline
        from rawlux.isp.pipeline import Pipeline

        full = build_pipeline(DevelopOptions(**opts))
        return Pipeline([st for st in full.stages if st.name in names])

    def _cached(self, s: _Session, part: str, key: tuple, make: Callable[[], Any]) -> Any:
        entries = s.cache.setdefault(part, [])
        for i, (k, v) in enumerate(entries):
            if k == key:
                entries.insert(0, entries.pop(i))
                return v
        val = make()
        entries.insert(0, (key, val))
        del entries[4:]  # the last settings (before/after, preview and its sharper refinement)
        return val

    def scene(self, path: Path, opts: dict[str, Any], ticket: int | None = None) -> Image:
        """Scene-linear Rec.2020 preview (the look stage's input) for ``opts``."""
        s = self._session(path)
        with s.lock:
            return self._scene(s, opts, ticket)

    def _scene(self, s: _Session, opts: dict[str, Any], ticket: int | None,
               size: int | None = None) -> Image:
        size = size or self.preview_long_side
        self._load(s, size)
        check = self._check(s, ticket)
        check("", 0, 0)
        if s.kind == "photo":
            base = s.photo_scene[size]
            ev = float(opts.get("exposure", 0.0))
            if ev == 0.0:
                return base
            return self._cached(s, "scene", (("exposure", ev), ("size", size)),
                                lambda: base.with_data(base.data * np.float32(2.0 ** ev)))
        lc = bool(opts.get("lens_correction", True))
        pr = self._preview_raw(s, lc, size)
        gkey = _key(opts, _GEOMETRY_KEYS) + (("size", size),)
        camera = self._cached(s, "camera", gkey, lambda: self._stages(
            opts, ["white_balance", "highlights", "denoise", "demosaic", "geometry"]
        ).run(pr, on_stage=check))
        skey = _key(opts, _SCENE_KEYS) + (("size", size),)
        return self._cached(s, "scene", skey, lambda: self._stages(
            opts, ["color_transform", "sharpen"]).run(camera, on_stage=check))

    def preview(self, path: Path, opts: dict[str, Any], ticket: int | None = None,
                before: bool = False, size: int | None = None) -> Render:
        """Render the preview of ``path`` with ``opts`` (``before``: the neutral look, default
        options: what the photo looks like before any change); ``size``: long side in pixels
        (default: the engine's preview size; a larger one is the page's sharper refinement)."""
        t0 = time.perf_counter()
        s = self._session(path)
        with s.lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            use = {} if before else opts
            scene = self._scene(s, use, ticket, size)
            camera = s.cache["camera"][0][1] if s.kind == "raw" else None  # this render's
            check = self._check(s, ticket)
            out = self._display(s, scene, use if not before else {"look": "neutral"}, check)
        rgb = to_uint8(out.data)
        stats = histogram(rgb)
        stats["raw_clipped_percent"] = (round(100.0 * s.raw_clip_fraction, 3)
                                        if s.kind == "raw" else None)
        stats["kind"] = s.kind
        # warnings are process-wide: keep those about this photo (another thread may be
        # rendering another file's thumbnail at the same time)
        notes = {str(w.message).replace(str(path), path.name) for w in caught
                 if str(path) in str(w.message)}
        stats["notes"] = sorted(notes | s.notes)
        s.notes |= notes  # a cached stage warns once; the photo keeps its notes
        stats["size"] = [int(rgb.shape[1]), int(rgb.shape[0])]
        if s.kind == "raw" and s.raw is not None:
            stats["full_size"] = [int(s.raw.width), int(s.raw.height)]
            if camera is not None and not before:
                try:
                    stats["white"] = _white_of(camera, path, camera.wb_gains)  # what is applied
                except RawluxError:
                    stats["white"] = None
        return Render(rgb, out.space, (time.perf_counter() - t0) * 1000.0, stats, out)

    def _display(self, s: _Session, scene: Image, opts: dict[str, Any], check: Callable) -> Image:
        return self._stages(opts, ["look", "output"]).run(scene, on_stage=check)

    def clip_overlay(self, path: Path, opts: dict[str, Any], rgb: np.ndarray,
                     size: int | None = None) -> np.ndarray:
        """RGBA uint8 overlay at the preview's size: output highlights clipped (red), shadows
        crushed (blue), raw photosites clipped (magenta, raws only)."""
        s = self._session(path)
        ov = np.zeros((*rgb.shape[:2], 4), np.uint8)
        hi = (rgb >= 254).any(axis=2)
        lo = (rgb <= 1).all(axis=2)
        ov[hi] = (255, 40, 40, 170)
        ov[lo] = (40, 110, 255, 170)
        if s.kind == "raw" and s.raw_clip:
            key = (bool(opts.get("lens_correction", True)), size or self.preview_long_side)
            grid = s.raw_clip.get(key)
            pr = s.preview_raw.get(key)
            if grid is not None and pr is not None:
                m = _raw_clip_display(grid, pr, opts, rgb.shape[:2])
                ov[m] = (255, 0, 255, 200)
        return ov

    def full(self, path: Path, opts: dict[str, Any], ticket: int | None = None) -> Render:
        """Full-resolution render (the whole pipeline on the full raw, or the full photo)."""
        t0 = time.perf_counter()
        s = self._session(path)
        with s.lock:
            self._load(s, self.preview_long_side)
            check = self._check(s, ticket)
            if s.kind == "raw":
                from rawlux.develop import DevelopOptions, build_pipeline

                out = build_pipeline(DevelopOptions(**opts)).run(s.raw, on_stage=check)
            else:
                from rawlux.io.photo import open_photo
                from rawlux.looks.sheet import look_input

                scene = look_input(open_photo(s.path))
                ev = float(opts.get("exposure", 0.0))
                if ev:
                    scene = scene.with_data(scene.data * np.float32(2.0 ** ev))
                out = self._display(s, scene, opts, check)
        rgb = to_uint8(out.data)
        return Render(rgb, out.space, (time.perf_counter() - t0) * 1000.0,
                      {"size": [int(rgb.shape[1]), int(rgb.shape[0])]}, out)

    def contact_sheet(self, path: Path, opts: dict[str, Any], tile: int = 360,
                      ticket: int | None = None) -> list[tuple[str, np.ndarray]]:
        """Every look on this photo: (look name, uint8 tile) in the studio's look order."""
        from rawlux.isp.look import LookParams, look
        from rawlux.isp.output import OutputParams, output
        from rawlux.looks.registry import look_names
        from rawlux.looks.sheet import _ordered, thumbnail

        s = self._session(path)
        with s.lock:
            scene = self._scene(s, opts, ticket)
        small = thumbnail(scene, tile)
        check = self._check(s, ticket)
        out = []
        strength = float(opts.get("strength", 1.0))
        space = str(opts.get("color_space", "srgb"))
        for name in _ordered(look_names()):
            check("look", 0, 0)
            shown = output(look(small, LookParams(look=name, strength=strength)),
                           OutputParams(color_space=space))
            out.append((name, to_uint8(shown.data)))
        return out

    def pick_white(self, path: Path, opts: dict[str, Any], x: float, y: float) -> str:
        """The ``wb`` option (``KELVIN,TINT``) that makes the spot at (x, y) (fractions of the
        displayed preview) neutral. Raws only."""
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise InvalidParameter(f"white point position ({x}, {y}) must be within 0..1")
        s = self._session(path)
        with s.lock:
            if s.kind != "raw":
                raise InvalidParameter("the white balance eyedropper needs a raw file")
            self._scene(s, opts, None)
            camera: Image = s.cache["camera"][0][1]
        orient = int(camera.metadata.orientation or 1)
        h, w = camera.height, camera.width
        oh, ow = (w, h) if orient in (5, 6, 7, 8) else (h, w)
        r, c = _unorient(int(y * (oh - 1)), int(x * (ow - 1)), oh, ow, orient)
        rad = max(2, min(h, w) // 200)
        patch = camera.data[max(0, r - rad): r + rad + 1, max(0, c - rad): c + rad + 1]
        patch = patch.reshape(-1, 3)
        gains = camera.wb_gains if camera.wb_gains is not None else np.ones(3, np.float32)
        rgb = patch.mean(axis=0) / np.asarray(gains, np.float64)
        if not np.all(np.isfinite(rgb)) or np.any(rgb <= 1e-6):
            raise InvalidParameter("that spot is too dark or clipped to set white balance from")
        return _white_of(camera, path, 1.0 / rgb)

    # ----------------------------------------------------------------- portrait, frame

    def portrait(self, path: Path, opts: dict[str, Any], *, lens: str = "50", aperture: float = 0.0,
                 focus: tuple[float, float] | None = None, ticket: int | None = None) -> Render:
        """Portrait bokeh on the developed preview; ``focus`` (x, y) fractions of the frame."""
        from rawlux.portrait.render import portrait

        if lens not in lens_names():
            raise InvalidParameter(f"lens {lens!r} is unknown; valid: {', '.join(lens_names())}")
        if not (aperture == 0.0 or 0.7 <= aperture <= 32.0):
            raise InvalidParameter(f"aperture f/{aperture} is outside f/0.7 .. f/32")
        if focus is not None and not all(0.0 <= v <= 1.0 for v in focus):
            raise InvalidParameter(f"focus point {focus} must be within 0..1")
        t0 = time.perf_counter()
        base = self.preview(path, opts, ticket)
        s = self._session(path)
        # the subject decision (the segmentation model, ~half the time) depends only on the
        # picture: a focus, lens or aperture change reuses it
        from rawlux.portrait.mask import find_subject

        with s.lock:
            subject = self._cached(s, "subject", _key(opts, _ALL_KEYS),
                                   lambda: find_subject(base.display))
        if subject.mask is not None:
            res = portrait(base.display, lens=lens, aperture=aperture, focus=focus,
                           mask=subject.mask)
        else:
            res = portrait(base.display, lens=lens, aperture=aperture, focus=focus, subject="none")
            res = dataclasses.replace(res, note=subject.why)
        rgb = to_uint8(res.image.data)
        stats = {**histogram(rgb), "note": res.note, "size": [int(rgb.shape[1]), int(rgb.shape[0])],
                 "raw_clipped_percent": base.stats.get("raw_clipped_percent")}
        return Render(rgb, base.space, (time.perf_counter() - t0) * 1000.0, stats, res.image)

    def frame(self, path: Path, opts: dict[str, Any], layout: str, ticket: int | None = None
              ) -> Render:
        """The preview in an EXIF frame ``layout`` (a layout name)."""
        from rawlux.frame.render import apply_frame

        if layout not in layout_names():
            raise InvalidParameter(
                f"layout {layout!r} is unknown; valid: {', '.join(layout_names())}")
        t0 = time.perf_counter()
        base = self.preview(path, opts, ticket)
        img = base.display
        if img.metadata.orientation != 1:
            upright = dataclasses.replace(img.metadata, orientation=1)
            img = dataclasses.replace(img, metadata=upright)
        out = apply_frame(img, layout)
        rgb = to_uint8(out.data)
        return Render(rgb, base.space, (time.perf_counter() - t0) * 1000.0,
                      {**base.stats, "size": [int(rgb.shape[1]), int(rgb.shape[0])]}, out)

    # ----------------------------------------------------------------- browse

    def thumbnail(self, path: Path, long_side: int = 320) -> np.ndarray:
        """Upright uint8 thumbnail: the file's embedded preview when it has one, else a developed
        preview, cached on disk (outside the photo folder) by path, size and mtime."""
        from rawlux.io.thumb import quick_thumbnail

        quick = quick_thumbnail(path, long_side)
        if quick is not None:
            return quick
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{long_side}".encode()
                           ).hexdigest()
        cached = self.cache_dir / f"{key}.png"
        if cached.is_file():
            import cv2

            a = cv2.imread(str(cached), cv2.IMREAD_COLOR)
            if a is not None:
                return np.ascontiguousarray(a[..., ::-1])
        with _THUMB_RENDER:  # one developed thumbnail at a time; never evicts an open photo
            r = Engine(max_sessions=1, preview_long_side=2 * long_side,
                       cache_dir=self.cache_dir).preview(path, {})
        from rawlux.looks.sheet import thumbnail as shrink

        small = to_uint8(shrink(r.display, long_side).data)
        try:
            import cv2

            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.png")
            cv2.imwrite(str(tmp), small[..., ::-1])
            os.replace(tmp, cached)
        except OSError:
            pass
        return small

    def exif(self, path: Path) -> dict[str, Any]:
        """A few EXIF facts for the browse grid's hover card."""
        from rawlux.io.exif import read_metadata

        md = read_metadata(path)
        s = self._sessions.get(path)
        if not (md.make or md.model) and s is not None and s.raw is not None:
            md = s.raw.metadata  # e.g. CinemaDNG: LibRaw knows the camera, exiv2 does not
        out: dict[str, Any] = {"camera": " ".join(x for x in (md.make, md.model) if x) or None,
                               "lens": md.lens}
        if md.exposure_time:
            t = md.exposure_time
            out["shutter"] = f"1/{round(1 / t)} s" if t < 0.5 else f"{t:g} s"
        if md.f_number:
            out["aperture"] = f"f/{md.f_number:g}"
        if md.iso:
            out["iso"] = f"ISO {md.iso:g}"
        if md.focal_length:
            out["focal"] = f"{md.focal_length:g} mm" + (
                f" ({md.focal_length_35mm:g} mm eq.)" if md.focal_length_35mm else "")
        if md.datetime_original:
            out["date"] = md.datetime_original.strftime("%Y-%m-%d %H:%M")
        from rawlux.io.thumb import has_gain_map

        out["hdr"] = has_gain_map(path)
        return {k: v for k, v in out.items() if v}

    # ----------------------------------------------------------------- recipes and export

    @staticmethod
    def recipe_path(path: Path) -> Path:
        return path.with_name(path.name + RECIPE_SUFFIX)

    def save_recipe(self, path: Path, opts: dict[str, Any]) -> Path:
        """Write ``PHOTO.EXT.rawlux.json`` beside the photo (never the photo itself), atomically."""
        opts = develop_options(opts)
        dst = self.recipe_path(path)
        body = {"rawlux_recipe": RECIPE_SCHEMA, "photo": path.name, "develop": opts}
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, dst)
        return dst

    def load_recipe(self, path: Path) -> dict[str, Any] | None:
        """The saved options beside ``path`` (validated), or None when there is none."""
        src = self.recipe_path(path)
        if not src.is_file():
            return None
        try:
            body = json.loads(src.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidParameter(f"{src.name}: not a readable recipe ({exc})") from None
        if not isinstance(body, dict) or body.get("rawlux_recipe") != RECIPE_SCHEMA:
            raise InvalidParameter(f"{src.name}: not a rawlux recipe of schema {RECIPE_SCHEMA}")
        return develop_options(body.get("develop") or {})

    def export(self, paths: list[Path], opts: dict[str, Any] | None, out_dir: Path,
               fmt: str = "jpg", quality: int = 92,
               progress: Callable[[int, int, str], None] | None = None,
               cancelled: Callable[[], bool] = lambda: False, hdr: bool = False
               ) -> list[dict[str, Any]]:
        """Develop and save every path into ``out_dir`` (``rawlux.batch.run`` when available);
        resumable: an output already written with the same options is skipped. ``opts`` None:
        each photo with its saved recipe. ``hdr``: Ultra HDR JPEGs (batch engine only)."""
        batch_run = _batch_runner()
        if hdr and not export_hdr_available():
            raise InvalidParameter("Ultra HDR export is not available in this build of rawlux")
        if batch_run is not None:
            return self._export_batch(batch_run, paths, opts, out_dir, fmt, quality, progress,
                                      hdr)
        return self._export_each(paths, opts, out_dir, fmt, quality, progress, cancelled)

    def _export_batch(self, batch_run: Callable[..., Any], paths: list[Path],
                      opts: dict[str, Any] | None, out_dir: Path, fmt: str, quality: int,
                      progress: Callable[[int, int, str], None] | None, hdr: bool = False
                      ) -> list[dict[str, Any]]:
        """Export through ``rawlux.batch.run`` (its ledger makes it resumable): one batch per
        distinct recipe (each photo's saved recipe when ``opts`` is None)."""
        groups: dict[str, list[Path]] = {}
        for p in paths:
            use = (self.load_recipe(p) or {}) if opts is None else opts
            groups.setdefault(json.dumps(use, sort_keys=True), []).append(p)
        results: list[dict[str, Any]] = []
        n = len(paths)
        for key, group in groups.items():
            base = len(results)

            def on_progress(event: str, row: Any, counts: dict[str, int], base: int = base) -> None:
                if progress is not None:
                    done = sum(v for k, v in counts.items() if k in ("done", "skipped", "failed"))
                    name = Path(row.inputs[0]).name if row is not None and row.inputs else ""
                    progress(min(n, base + done), n, name)

            extra = {"hdr": True} if hdr else {}
            res = batch_run(group, out_dir, recipe=json.loads(key), fmt=fmt, quality=quality,
                            progress=on_progress, workers=1, **extra)
            for row in res.rows:
                status = {"failed": "error", "not run": "error"}.get(row.status, row.status)
                results.append({"file": Path(row.inputs[0]).name if row.inputs else "",
                                "output": row.output, "status": status,
                                **({"error": row.reason} if status == "error" else {})})
        if progress:
            progress(n, n, "")
        return results

    def _export_each(self, paths: list[Path], opts: dict[str, Any], out_dir: Path, fmt: str,
                     quality: int, progress: Callable[[int, int, str], None] | None,
                     cancelled: Callable[[], bool]) -> list[dict[str, Any]]:
        from rawlux.develop import develop
        from rawlux.io.write import save

        out_dir.mkdir(parents=True, exist_ok=True)
        ledger_path = out_dir / ".rawlux-studio-ledger.json"
        try:
            ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            ledger = {}
        results = []
        n = len(paths)
        for i, p in enumerate(paths):
            if cancelled():
                break
            if progress:
                progress(i, n, p.name)
            dst = out_dir / f"{p.stem}.{fmt}"
            own = self.load_recipe(p) if opts is None else None
            use = own if own is not None else (opts or {})
            sig = hashlib.sha1(json.dumps([use, fmt, quality], sort_keys=True).encode()).hexdigest()
            if dst.is_file() and ledger.get(dst.name) == sig:
                results.append({"file": p.name, "output": dst.name, "status": "skipped"})
                continue
            try:
                s = self._session(p)
                if s.kind == "raw":
                    img = develop(p, **use)
                else:
                    img = self.full(p, use).display
                save(img, dst, quality=quality, protect=[p])
                ledger[dst.name] = sig
                tmp = ledger_path.with_name(ledger_path.name + ".tmp")
                tmp.write_text(json.dumps(ledger, indent=1), encoding="utf-8")
                os.replace(tmp, ledger_path)
                results.append({"file": p.name, "output": dst.name, "status": "done"})
            except RawluxError as err:
                results.append({"file": p.name, "status": "error", "error": str(err)})
        if progress:
            progress(n, n, "")
        return results


def _batch_runner() -> Callable[..., Any] | None:
    """``rawlux.batch.run`` when the batch engine is installed and has the expected call."""
    import inspect

    try:
        from rawlux.batch import run as batch_run  # type: ignore[attr-defined]
    except ImportError:
        return None
    want = {"recipe", "fmt", "quality", "progress", "workers"}
    try:
        ok = want <= set(inspect.signature(batch_run).parameters)
    except (TypeError, ValueError):
        return None
    return batch_run if ok else None


# ----------------------------------------------------------------------------- pixel helpers


def encode_jpeg(rgb: np.ndarray, space: ColorSpace | None, quality: int = 90) -> bytes:
    """JPEG bytes of a uint8 RGB image; a Display P3 image carries its ICC profile so the
    browser shows its colours right (sRGB needs none)."""
    import cv2

    from rawlux.core.errors import OutputError

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OutputError("could not encode the preview as JPEG")
    data = buf.tobytes()
    if space is not None and space is not ColorSpace.SRGB:
        from rawlux.io.icc import profile_bytes
        from rawlux.io.write import jpeg_app_segments

        data = data[:2] + jpeg_app_segments(profile_bytes(space), None) + data[2:]
    return data


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB or RGBA image."""
    import cv2

    from rawlux.core.errors import OutputError

    arr = rgba[..., [2, 1, 0, 3]] if rgba.shape[2] == 4 else rgba[..., ::-1]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OutputError("could not encode the overlay as PNG")
    return buf.tobytes()


def browser_mime(path: Path) -> str | None:
    """MIME type when a browser can show the file itself (JPEG, PNG, AVIF, WebP), else None."""
    from rawlux.io.safety import read_head, sniff

    return {"jpeg": "image/jpeg", "png": "image/png", "avif": "image/avif",
            "webp": "image/webp"}.get(sniff(read_head(path, 64)))


def to_uint8(data: np.ndarray) -> np.ndarray:
    """Display-encoded float [0, 1] -> uint8 (H, W, 3), C-contiguous."""
    return np.ascontiguousarray(np.clip(data * 255.0 + 0.5, 0, 255).astype(np.uint8))


def histogram(rgb: np.ndarray, bins: int = 128) -> dict[str, Any]:
    """R, G, B and luminance (Rec.709 weights on the encoded values) histograms of a uint8
    image, each normalised to its peak, and the percentage of pixels clipped at either end."""
    flat = rgb[::2, ::2].reshape(-1, 3)  # every 4th pixel: same shape, a quarter of the work
    out: dict[str, Any] = {}
    luma = ((flat[:, 0].astype(np.uint32) * 54 + flat[:, 1].astype(np.uint32) * 183
             + flat[:, 2].astype(np.uint32) * 19) >> 8).astype(np.uint8)  # Rec.709 weights /256
    for name, ch in (("r", flat[:, 0]), ("g", flat[:, 1]), ("b", flat[:, 2]), ("l", luma)):
        h = np.bincount(ch >> (8 - int(np.log2(bins))), minlength=bins).astype(np.float64)
        inner = h[1:-1].max() if bins > 2 else h.max()
        out[name] = np.round(h / max(inner, 1.0), 4).clip(0, 1).tolist()
    n = max(flat.shape[0], 1)
    mx, mn = flat.max(axis=1), flat.min(axis=1)
    out["clipped_high_percent"] = round(100.0 * float(np.count_nonzero(mx >= 254)) / n, 3)
    out["clipped_low_percent"] = round(100.0 * float(np.count_nonzero(mx <= 1)) / n, 3)
    del mn
    return out


def _clip_grid(clip_full: np.ndarray | None, h: int, w: int) -> np.ndarray:
    """Raw clip mask (mosaic or linear) reduced to an (h, w) bool grid (any clipped site)."""
    import cv2

    if clip_full is None:
        return np.zeros((h, w), bool)
    m = clip_full.any(axis=2) if clip_full.ndim == 3 else clip_full
    frac = cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return frac > 0.02


def _raw_clip_display(grid: np.ndarray, pr: RawImage, opts: dict[str, Any],
                      shape: tuple[int, int]) -> np.ndarray:
    """The preview-raw clip grid cropped and oriented like the displayed image."""
    import cv2

    from rawlux.isp.output import apply_orientation

    g = grid
    if opts.get("crop", True) and pr.crop is not None:
        c = pr.crop
        g = g[c.top: c.top + c.height, c.left: c.left + c.width]
    g = apply_orientation(g, int(pr.metadata.orientation or 1))
    if g.shape != shape:
        g = cv2.resize(g.astype(np.uint8), (shape[1], shape[0]),
                       interpolation=cv2.INTER_NEAREST) > 0
    return g


def _white_of(camera: Image, path: Path, gains: Any) -> str:
    """``KELVIN,TINT`` of the white that camera-RGB ``gains`` neutralise (camera profile of
    ``camera``), clipped to the white-balance stage's bounds."""
    from rawlux.color.camera import camera_profile, neutral_to_xy
    from rawlux.color.cct import xy_to_cct_tint

    if gains is None:
        raise InvalidParameter("no white balance applied")
    n = 1.0 / np.asarray(gains, np.float64).ravel()
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise InvalidParameter("that spot is too dark or clipped to set white balance from")
    xy = neutral_to_xy(camera_profile(camera.calibration, str(path)), n / n.max())
    cct, tint = xy_to_cct_tint(np.asarray(xy))
    k = float(np.clip(float(np.asarray(cct).ravel()[0]), 1700.0, 50000.0))
    t = float(np.clip(float(np.asarray(tint).ravel()[0]), -150.0, 150.0))
    return f"{round(k)},{t:+.0f}"


def _unorient(r: int, c: int, oh: int, ow: int, orient: int) -> tuple[int, int]:
    """Pixel (r, c) of the upright (oriented) image -> (row, col) in the stored image."""
    h, w = (ow, oh) if orient in (5, 6, 7, 8) else (oh, ow)
    probe = np.arange(h * w).reshape(h, w)
    from rawlux.isp.output import apply_orientation

    idx = int(apply_orientation(probe, orient)[min(r, oh - 1), min(c, ow - 1)])
    return divmod(idx, w)
