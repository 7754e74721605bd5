"""``portrait``: a raw or photo -> portrait with lens bokeh (+ optional mask and depth files).

Opening (raw developed, photo as is, embedded depth / original / matte read by ``rawlux.io``)
and saving happen here; every pixel operation is :func:`rawlux.portrait.render.portrait`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rawlux.core.errors import InvalidParameter
from rawlux.core.params import Choice, FileRef, StageParams, param

if TYPE_CHECKING:
    from rawlux.portrait.render import PortraitResult

PathArg = str | PathLike[str]
Note = Callable[[str], None]


class SubjectMode(Choice):
    """How the subject is found (:data:`rawlux.portrait.mask.SUBJECT_MODES`)."""

    AUTO = "auto"
    SALIENT = "salient"
    NONE = "none"


class DepthWhite(Choice):
    """What white means in a depth picture."""

    FAR = "far"
    NEAR = "near"


@dataclass(frozen=True)
class PortraitOptions(StageParams):
    """Options of :func:`portrait_file` (``rawlux portrait`` generates its flags from them).

    This module imports no pixel code at import time (the CLI builds its options from this
    class without loading OpenCV); :func:`portrait_file` imports it when it runs."""

    lens: str = param("50", files=True,
                      doc="lens: 35 | 50 | 75 | 90 or a lens .toml file (path + sha256)")
    aperture: float = param(0.0, lo=0.0, hi=64.0, unit="f-number",
                            doc="aperture (0 = the lens' own)")
    focus: tuple | None = param(None, type=tuple,
                                doc="X,Y focal point as fractions 0..1 of the frame (None: auto)")
    framing: float | None = param(None, type=float, lo=0.01, hi=10000.0, unit="m",
                                  doc="scene height at the focal plane (default 1; 10 for a "
                                      "scene without a subject)")
    subject: SubjectMode = param(SubjectMode.AUTO,
                                 doc="auto (a clear subject or none) | salient (always the most "
                                     "salient region) | none (scene depth only)")
    look: str | None = param(None, type=str, files=True,
                             doc="look for raw input (default authentic)")
    use_original: bool = param(True, flag="--original",
                               doc="render from a Lens Blur file's unblurred original")
    depth_white: DepthWhite = param(DepthWhite.FAR,
                                    doc="what white means in --depth: far (Google) | near")
    hdr: bool = param(False, doc="raw input: Ultra HDR output, a gain map from the develop "
                                 "through the same bokeh (a photo's own gain map is always kept)")

    def __post_init__(self) -> None:
        if FileRef.looks_like_path(self.lens) and not isinstance(self.lens, FileRef):
            object.__setattr__(self, "lens", FileRef.of(self.lens, "lens file"))  # a lens file: path + hash
        if FileRef.looks_like_path(self.look) and not isinstance(self.look, FileRef):
            object.__setattr__(self, "look", FileRef.of(self.look, "look file"))
        super().__post_init__()
        if self.focus is not None:
            if len(self.focus) != 2 or not all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0
                                                for v in self.focus):
                raise InvalidParameter(f"focus {self.focus} must be X,Y fractions of the frame "
                                       "in [0, 1]")
            object.__setattr__(self, "focus", tuple(float(v) for v in self.focus))


def _name(value: Any) -> Any:
    """A name, or a referenced file's path after checking its content is unchanged."""
    return value.verified_path() if isinstance(value, FileRef) else value


def _with_portrait_gainmap(img: Any, res: Any, lens: object, options: PortraitOptions,
                           own_matte: bool) -> Any:
    """``res.image`` carrying the gain map of the same lens, depth and focus applied to the HDR
    rendition of ``img`` (:func:`rawlux.hdr.edit.portrait_gainmap`)."""
    from rawlux.hdr.edit import portrait_gainmap
    from rawlux.hdr.render import gainmap_of, with_gainmap
    from rawlux.portrait.bokeh import BokehParams
    from rawlux.portrait.render import SCENE_FRAMING, SUBJECT_FRAMING

    scene = bool(res.note)
    fr = options.framing if options.framing is not None else (SCENE_FRAMING if scene else SUBJECT_FRAMING)
    matte = res.mask if own_matte and not scene else None
    gm = portrait_gainmap(img, res.image, gainmap_of(img), res.depth.disparity,
                          res.focus_disparity, lens, BokehParams(aperture=options.aperture,
                                                                 framing=fr), matte=matte)
    return with_gainmap(res.image, gm)


def portrait_file(src: PathArg, dst: PathArg, options: PortraitOptions = PortraitOptions(), *,
                  depth: PathArg | None = None, mask: PathArg | None = None,
                  save_mask: PathArg | None = None, save_depth: PathArg | None = None,
                  quality: int = 92, note: Note | None = None,
                  recipe: Any = None) -> "PortraitResult":
    """Read ``src`` (raw or photo, by content), render the portrait, write ``dst`` (and the mask
    / depth used to ``save_mask`` / ``save_depth``). ``depth``/``mask``: given depth picture and
    subject matte files. ``note`` hears one-line remarks (embedded data used, no subject found).
    A raw input is developed with the stages of ``recipe`` (a :class:`~rawlux.app.recipe.Recipe`)
    when given. Every output is checked before any pixel work. Returns the :class:`PortraitResult`."""
    from rawlux.app.inputs import open_any  # pixel code: imported when the command runs
    from rawlux.app.outputs import check_outputs
    from rawlux.app.recipe import build_pipeline, develop_options
    from rawlux.core.image import Image
    from rawlux.core.memory import reuse_freed_memory
    from rawlux.io.depth import (read_depth_image, read_embedded_depth, read_embedded_matte,
                                 read_embedded_original)
    from rawlux.io.photo import open_photo
    from rawlux.io.write import save
    from rawlux.portrait.lens import load_lens
    from rawlux.portrait.render import SCENE_FRAMING, grey_image, portrait

    say = note or (lambda msg: None)
    src = Path(src)
    inputs = [Path(p) for p in (src, depth, mask) if p is not None]
    check_outputs([dst, save_mask, save_depth], inputs=inputs)
    if options.hdr:
        from rawlux.hdr.render import check_hdr_outputs  # lazy: only --hdr loads it

        check_hdr_outputs([dst])
    lens = load_lens(_name(options.lens))
    with reuse_freed_memory():
        opened = open_any(src)
        is_photo = isinstance(opened, Image)
        if is_photo:
            img = opened
            if options.look:
                say("--look applies to raw input only; the photo keeps its rendering")
        else:
            from rawlux.app.run import run_pipeline

            kw = {"look": _name(options.look)} if options.look else {}
            if options.hdr:
                kw["hdr"] = True
            if recipe is not None:  # the develop stages of a recipe (--recipe)
                pipeline = recipe.with_options(**kw).pipeline(raw=opened)
            else:
                pipeline = build_pipeline(develop_options(**kw), raw=opened)
            img = run_pipeline(pipeline, opened)
        del opened
        dmap = None
        if depth is not None:
            dmap = read_depth_image(depth, near_is_white=options.depth_white == "near")
        elif is_photo:
            dmap = read_embedded_depth(src)
            if dmap is not None:
                say(f"using the depth map embedded in {src.name} ({dmap.source})")
        if is_photo and options.use_original and dmap is not None and dmap.source == "gdepth":
            orig = read_embedded_original(src)
            if orig is not None and orig.shape[:2] == (img.height, img.width):
                img = img.with_data(orig)
                say("rendering from the unblurred original kept in the file (GImage)")
        matte = None
        if mask is not None:
            matte = open_photo(mask).data
            if matte.shape[:2] != (img.height, img.width):
                raise InvalidParameter(f"{mask}: mask is {matte.shape[1]}x{matte.shape[0]}, "
                                       f"image is {img.width}x{img.height}")
        elif is_photo:  # HEIC only: the reader checks the content
            matte = read_embedded_matte(src)
            if matte is not None:
                say(f"using the portrait matte embedded in {src.name}")
        res = portrait(img, lens=lens, aperture=options.aperture, focus=options.focus, depth=dmap,
                       mask=matte, framing=options.framing, subject=options.subject,
                       need_mask=save_mask is not None)
        if res.note and options.subject == "auto":
            where = "the --focus point" if options.focus is not None else "the frame centre"
            say(f"{src.name}: no person or clear subject found ({res.note}); focusing at "
                f"{where} with scene depth, framing {options.framing or SCENE_FRAMING:g} m "
                "(--subject salient forces the most salient region, --focus X,Y the point)")
        out_img = res.image
        if (img.metadata.extra or {}).get("gainmap") is not None:
            out_img = _with_portrait_gainmap(img, res, lens, options, dmap is None and mask is None)
        save(out_img, dst, protect=inputs, quality=quality)
        if save_mask is not None and res.mask is not None:
            save(grey_image(res.mask), save_mask, protect=inputs, exif=False)
        if save_depth is not None:
            save(grey_image(res.depth.to_image()), save_depth, protect=inputs, exif=False)
    return res
