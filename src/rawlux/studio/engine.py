"""The studio's engine: opens, caches and renders the photos of one folder.

Opening goes through the application layer (:mod:`rawlux.app.inputs`, :mod:`rawlux.app.looks`),
full-size renders through :func:`rawlux.app.develop.develop_image`, exports through
:mod:`rawlux.studio.export` (batch or ``app.develop``). The live previews are the studio's own
scheduling of the develop plan's stages (:mod:`rawlux.core.pipeline`): each open photo keeps a
session (:mod:`rawlux.studio.cache`) so a slider change re-runs only the stages after the first
changed one, on a reduced "preview raw" of about 2 MP:

* ``camera`` part: white_balance .. geometry (key: wb, highlights, denoise, demosaic,
  lens_correction, crop) -> camera RGB, white-balanced (lensfun included);
* ``scene`` part: color_transform + sharpen (key: + exposure, sharpen) -> scene-linear Rec.2020;
* display: look + output (+ look, strength, gamut, colour space), not cached.

A render carries a ticket; a newer render of the same photo makes older tickets stale and the
older render stops at its next stage boundary (:class:`Superseded`). Photos (JPEG, HEIC, ...)
enter at the scene part (linearised, as ``rawlux looks sheet`` does). Images handed out are
uint8 (H, W, 3) display-encoded in the output space; the server encodes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.image import ColorSpace, Image, RawImage
from rawlux.studio import controls
from rawlux.studio.cache import Session, Sessions, Superseded, bin_to_preview, cached, checker
from rawlux.studio.controls import (ALL_KEYS, GEOMETRY_KEYS, HIDDEN, PREVIEW_LONG_SIDE,
                                    SCENE_KEYS, develop_options, layout_names, lens_names,
                                    part_key)
from rawlux.studio.encode import browser_mime, encode_jpeg, encode_png, to_uint8
from rawlux.studio.export import export_hdr_available
from rawlux.studio.recipes import RECIPE_SUFFIX, load_recipe, recipe_path, save_recipe
from rawlux.studio.stats import clip_grid, histogram, raw_clip_display, unorient, white_of

__all__ = ["Engine", "Render", "Superseded", "schema", "develop_options", "PREVIEW_LONG_SIDE",
           "HIDDEN", "RECIPE_SUFFIX", "browser_mime", "encode_jpeg", "encode_png", "to_uint8",
           "export_hdr_available", "layout_names", "lens_names"]

_THUMB_RENDER = threading.Lock()


def schema() -> dict[str, Any]:
    """Every control of the page (see :func:`rawlux.studio.controls.schema`), the recipe file
    suffix and whether Ultra HDR export is available."""
    return {**controls.schema(), "recipe_suffix": RECIPE_SUFFIX,
            "export_hdr": export_hdr_available()}


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
        self.sessions = Sessions(max_sessions, self.kind)
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        self.cache_dir = cache_dir or Path(base) / "rawlux" / "studio"

    # ----------------------------------------------------------------- opening

    def kind(self, path: Path) -> str:
        """"raw" or "photo", by content."""
        from rawlux.app.inputs import is_photo

        return "photo" if is_photo(path) else "raw"

    def begin(self, path: Path) -> int:
        """A new ticket for ``path``: every earlier render of it is superseded."""
        return self.sessions.begin(path)

    def _load(self, s: Session, size: int) -> None:
        if s.kind == "raw" and s.raw is None:
            from rawlux.app.inputs import load_raw

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s.raw = load_raw(s.path)
        elif s.kind == "photo" and size not in s.photo_scene:
            from rawlux.app.inputs import open_any
            from rawlux.app.looks import look_input
            from rawlux.looks.sheet import thumbnail

            photo = open_any(s.path)
            assert isinstance(photo, Image)
            s.photo_scene[size] = look_input(thumbnail(photo, size))

    def _preview_raw(self, s: Session, opts: dict[str, Any], size: int) -> RawImage:
        lens = part_key(opts, ("lens_correction",))
        key = (lens, size)
        if key not in s.preview_raw:
            if lens not in s.norm:
                # the recipe's own stages up to lens shading, on the full raw
                pipe = self._stages(opts, ["profile", "black_level", "lens_shading"])
                assert s.raw is not None
                s.norm[lens] = pipe.run(s.raw)
            pr = bin_to_preview(s.norm[lens], size)
            s.preview_raw[key] = pr
            # raw clipping: a photosite at the white level (before lens-shading gains)
            assert s.raw is not None
            clip_full = np.asarray(s.raw.data) >= s.raw.white * 0.999
            s.raw_clip_fraction = float(clip_full.mean())
            s.raw_clip[key] = clip_grid(clip_full, pr.height, pr.width)
        return s.preview_raw[key]

    # ----------------------------------------------------------------- rendering

    @staticmethod
    def _stages(opts: dict[str, Any], names: list[str]) -> Any:
        """The stages ``names`` of the develop plan of ``opts``' recipe (the studio's
        scheduling; ``opts`` validated by :func:`develop_options`)."""
        from rawlux.app.recipe import Recipe
        from rawlux.core.pipeline import Pipeline

        full = Recipe.default().with_options(**opts).pipeline()
        return Pipeline([st for st in full.stages if st.name in names])

    def scene(self, path: Path, opts: dict[str, Any], ticket: int | None = None) -> Image:
        """Scene-linear Rec.2020 preview (the look stage's input) for ``opts``."""
        s = self.sessions.open(path)
        with s.lock:
            return self._scene(s, opts, ticket)

    def _scene(self, s: Session, opts: dict[str, Any], ticket: int | None,
               size: int | None = None) -> Image:
        size = size or self.preview_long_side
        self._load(s, size)
        check = checker(s, ticket)
        check("", 0, 0)
        if s.kind == "photo":
            base = s.photo_scene[size]
            ev = float(opts.get("exposure", 0.0))
            if ev == 0.0:
                return base
            return cached(s, "scene", (("exposure", ev), ("size", size)),
                          lambda: base.with_data(base.data * np.float32(2.0 ** ev)))
        pr = self._preview_raw(s, opts, size)
        gkey = part_key(opts, GEOMETRY_KEYS) + (("size", size),)
        camera = cached(s, "camera", gkey, lambda: self._stages(
            opts, ["white_balance", "highlights", "denoise", "demosaic", "lensfun", "geometry"]
        ).run(pr, on_stage=check))
        skey = part_key(opts, SCENE_KEYS) + (("size", size),)
        return cached(s, "scene", skey, lambda: self._stages(
            opts, ["color_transform", "sharpen"]).run(camera, on_stage=check))

    def preview(self, path: Path, opts: dict[str, Any], ticket: int | None = None,
                before: bool = False, size: int | None = None) -> Render:
        """Render the preview of ``path`` with ``opts`` (``before``: the neutral look, default
        options: what the photo looks like before any change); ``size``: long side in pixels
        (default: the engine's preview size; a larger one is the page's sharper refinement)."""
        t0 = time.perf_counter()
        s = self.sessions.open(path)
        with s.lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            use = {} if before else opts
            scene = self._scene(s, use, ticket, size)
            camera = s.cache["camera"][0][1] if s.kind == "raw" else None  # this render's
            check = checker(s, ticket)
            out = self._display(scene, use if not before else {"look": "neutral"}, check)
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
                    stats["white"] = white_of(camera, path, camera.wb_gains)  # what is applied
                except RawluxError:
                    stats["white"] = None
        return Render(rgb, out.space, (time.perf_counter() - t0) * 1000.0, stats, out)

    def _display(self, scene: Image, opts: dict[str, Any], check: Callable) -> Image:
        return self._stages(opts, ["look", "output"]).run(scene, on_stage=check)

    def clip_overlay(self, path: Path, opts: dict[str, Any], rgb: np.ndarray,
                     size: int | None = None) -> np.ndarray:
        """RGBA uint8 overlay at the preview's size: output highlights clipped (red), shadows
        crushed (blue), raw photosites clipped (magenta, raws only)."""
        s = self.sessions.open(path)
        ov = np.zeros((*rgb.shape[:2], 4), np.uint8)
        hi = (rgb >= 254).any(axis=2)
        lo = (rgb <= 1).all(axis=2)
        ov[hi] = (255, 40, 40, 170)
        ov[lo] = (40, 110, 255, 170)
        if s.kind == "raw" and s.raw_clip:
            key = (part_key(opts, ("lens_correction",)), size or self.preview_long_side)
            grid = s.raw_clip.get(key)
            pr = s.preview_raw.get(key)
            if grid is not None and pr is not None:
                m = raw_clip_display(grid, pr, opts, rgb.shape[:2])
                ov[m] = (255, 0, 255, 200)
        return ov

    def full(self, path: Path, opts: dict[str, Any], ticket: int | None = None) -> Render:
        """Full-resolution render: a raw through :func:`rawlux.app.develop.develop_image`, a
        photo linearised (``app.looks.look_input``) and given the look at full size."""
        t0 = time.perf_counter()
        s = self.sessions.open(path)
        with s.lock:
            self._load(s, self.preview_long_side)
            check = checker(s, ticket)
            if s.kind == "raw":
                from rawlux.app.develop import develop_image

                assert s.raw is not None
                out = develop_image(s.raw, dict(opts), on_stage=check)
            else:
                from rawlux.app.inputs import open_any
                from rawlux.app.looks import look_input

                scene = look_input(open_any(s.path))
                ev = float(opts.get("exposure", 0.0))
                if ev:
                    scene = scene.with_data(scene.data * np.float32(2.0 ** ev))
                out = self._display(scene, opts, check)
        rgb = to_uint8(out.data)
        return Render(rgb, out.space, (time.perf_counter() - t0) * 1000.0,
                      {"size": [int(rgb.shape[1]), int(rgb.shape[0])]}, out)

    def contact_sheet(self, path: Path, opts: dict[str, Any], tile: int = 360,
                      ticket: int | None = None) -> list[tuple[str, np.ndarray]]:
        """Every look on this photo: (look name, uint8 tile) in the look sheet's order, each
        the preview's scene through that look (``strength``, colour space of ``opts``)."""
        from rawlux.isp.look import LookParams, look
        from rawlux.isp.output import OutputParams, output
        from rawlux.looks.registry import look_names
        from rawlux.looks.sheet import ordered, thumbnail

        s = self.sessions.open(path)
        with s.lock:
            scene = self._scene(s, opts, ticket)
        small = thumbnail(scene, tile)
        check = checker(s, ticket)
        out = []
        strength = float(opts.get("strength", 1.0))
        space = str(opts.get("color_space", "srgb"))
        for name in ordered(look_names()):
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
        s = self.sessions.open(path)
        with s.lock:
            if s.kind != "raw":
                raise InvalidParameter("the white balance eyedropper needs a raw file")
            self._scene(s, opts, None)
            camera: Image = s.cache["camera"][0][1]
        orient = int(camera.metadata.orientation or 1)
        h, w = camera.height, camera.width
        oh, ow = (w, h) if orient in (5, 6, 7, 8) else (h, w)
        r, c = unorient(int(y * (oh - 1)), int(x * (ow - 1)), oh, ow, orient)
        rad = max(2, min(h, w) // 200)
        patch = camera.data[max(0, r - rad): r + rad + 1, max(0, c - rad): c + rad + 1]
        patch = patch.reshape(-1, 3)
        gains = camera.wb_gains if camera.wb_gains is not None else np.ones(3, np.float32)
        rgb = patch.mean(axis=0) / np.asarray(gains, np.float64)
        if not np.all(np.isfinite(rgb)) or np.any(rgb <= 1e-6):
            raise InvalidParameter("that spot is too dark or clipped to set white balance from")
        return white_of(camera, path, 1.0 / rgb)

    # ----------------------------------------------------------------- portrait, frame

    def portrait(self, path: Path, opts: dict[str, Any], *, lens: str = "50", aperture: float = 0.0,
                 focus: tuple[float, float] | None = None, ticket: int | None = None) -> Render:
        """Portrait bokeh on the developed preview; ``focus`` (x, y) fractions of the frame.
        Options are checked as ``rawlux portrait`` checks them (:class:`PortraitOptions`); only
        lens names are taken (no paths from a web page)."""
        from rawlux.app.portrait import PortraitOptions
        from rawlux.portrait.render import portrait

        if lens not in lens_names():
            raise InvalidParameter(f"lens {lens!r} is unknown; valid: {', '.join(lens_names())}")
        lo, hi = controls.aperture_range()
        if not (aperture == 0.0 or lo <= aperture <= hi):
            raise InvalidParameter(f"aperture f/{aperture} is outside f/{lo:g} .. f/{hi:g}")
        PortraitOptions(lens=lens, aperture=aperture, focus=focus)
        t0 = time.perf_counter()
        base = self.preview(path, opts, ticket)
        s = self.sessions.open(path)
        # the subject decision (the segmentation model, ~half the time) depends only on the
        # picture: a focus, lens or aperture change reuses it
        from rawlux.portrait.mask import find_subject

        with s.lock:
            subject = cached(s, "subject", part_key(opts, ALL_KEYS),
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
        s = self.sessions.get(path)
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
        return recipe_path(path)

    def save_recipe(self, path: Path, opts: dict[str, Any]) -> Path:
        """Write the recipe of ``path`` beside it (see :mod:`rawlux.studio.recipes`)."""
        return save_recipe(path, opts)

    def load_recipe(self, path: Path) -> dict[str, Any] | None:
        """The saved options beside ``path`` (validated), or None when there is none."""
        return load_recipe(path)

    def export(self, paths: list[Path], opts: dict[str, Any] | None, out_dir: Path,
               fmt: str = "jpg", quality: int = 92,
               progress: Callable[[int, int, str], None] | None = None,
               cancelled: Callable[[], bool] = lambda: False, hdr: bool = False,
               frame: str | None = None) -> list[dict[str, Any]]:
        """Develop and save every path into ``out_dir`` (see :func:`rawlux.studio.export.export`)."""
        from rawlux.studio.export import export

        return export(paths, opts, out_dir, kind=lambda p: self.sessions.open(p).kind,
                      render_photo=lambda p, use: self.full(p, use).display, fmt=fmt,
                      quality=quality, progress=progress, cancelled=cancelled, hdr=hdr,
                      frame=frame)
