"""``develop``: raw file -> finished photo (open, check outputs, run the plan, save).

Public functions (called by ``cli``, ``batch`` and ``studio``):

* :func:`develop_recipe` turns options and/or a recipe into the :class:`~rawlux.app.recipe.Recipe`
  (every stage's params) a run uses;
* :func:`check_develop` validates that recipe and every output of a run before any pixel work
  (and writes ``save_recipe`` when asked);
* :func:`develop_image` opens a raw (path or :class:`RawImage`) and runs the develop plan;
* :func:`develop_file` does both and saves atomically (plus the ``OUT.rawlux.toml`` sidecar),
  returning the path written.

``options`` everywhere is a :class:`DevelopOptions` (generated from the stage params, see
:mod:`rawlux.app.recipe`), a mapping of option names (only those override the recipe), or a
:class:`Recipe`.
"""

from __future__ import annotations

import os

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, replace
from os import PathLike
from pathlib import Path
from typing import Any

from rawlux.app.inputs import load_raw
from rawlux.app.outputs import check_outputs
from rawlux.app.run import check_hdr, run_pipeline
from rawlux.core.errors import OutputError
from rawlux.core.image import Image, RawImage
from rawlux.core.memory import reuse_freed_memory
from rawlux.core.params import FileRef, apply_options
from rawlux.app.recipe import DevelopOptions, Recipe, load_recipe, sidecar_path
from rawlux.app.recipe import save_recipe as write_recipe
from rawlux.io.cube import read_cube
from rawlux.io.write import save

PathArg = str | PathLike[str]
Options = Any  # DevelopOptions | Mapping[str, Any] | Recipe | None
SCENE_EXTENSIONS = (".exr", ".tif", ".tiff")


def load_lut(lut: Any) -> Any:
    """A loaded LUT: ``None`` and loaded LUTs pass through, a path is read as ``.cube``."""
    return lut if lut is None or hasattr(lut, "table") else read_cube(lut)


def develop_recipe(options: Options = None, *, recipe: Recipe | PathArg | None = None,
                   lut: Any = None) -> Recipe:
    """The recipe a run uses: ``recipe`` (a :class:`Recipe`, a ``.toml``/``.json`` recipe file,
    or None = the develop defaults) with ``options`` written over it: a mapping overrides the
    names it holds, a :class:`DevelopOptions` the fields that differ from their defaults, a
    :class:`Recipe` replaces ``recipe``. ``lut`` (path or loaded LUT) sets the ``lut`` option.
    Every value is validated here (one-line :class:`InvalidParameter`), before any work."""
    if isinstance(options, Recipe):
        base, values = options, {}
    else:
        if recipe is None:
            base = Recipe.default()
        else:
            base = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
        if options is None:
            values = {}
        elif isinstance(options, Mapping):
            values = dict(options)
        else:  # a DevelopOptions: its non-default fields (already validated)
            default = type(options)()
            only = {f.name for f in fields(options)
                    if getattr(options, f.name) != getattr(default, f.name)}
            base = replace(base, stages=tuple(apply_options(dict(base.stages), options,
                                                            only=only).items()))
            values = {}
    if lut is not None:
        values["lut"] = lut
    return base.with_options(**values) if values else base


def frame_layout(recipe: Recipe) -> str | None:
    """The EXIF frame layout a develop recipe records (``develop --frame``), or None; a layout
    file is checked against its recorded hash."""
    fo = recipe.command("frame")
    if fo is None:
        return None
    lay = fo.layout  # type: ignore[attr-defined]
    return lay.verified_path() if isinstance(lay, FileRef) else lay


def check_develop(outputs: Sequence[PathArg], options: Options = None, *,
                  inputs: Iterable[PathArg] = (), frame: str | None = None,
                  recipe: Recipe | PathArg | None = None, lut: Any = None,
                  save_recipe: PathArg | None = None, sidecar: bool = False,
                  out_dir: PathArg | None = None) -> Recipe:
    """Validate a develop run before any work and return its :class:`Recipe` (see
    :func:`develop_recipe`; ``frame`` is recorded in it, a recipe's frame applies when ``frame``
    is not given): every output (:func:`check_outputs`; with ``out_dir``, inside it), the camera
    profile file, the frame
    layout; an ``.exr``
    output implies ``scene_referred``, whose outputs must be float ``.tif``/``.exr`` and cannot
    be framed. A recipe to save (``save_recipe`` path, written here once; ``sidecar``) must
    reference files, not objects loaded in memory."""
    ins = [*inputs, *([recipe] if isinstance(recipe, (str, os.PathLike)) else [])]
    outs = check_outputs(outputs, inputs=ins, out_dir=out_dir)
    recipe_outs = [save_recipe, *([sidecar_path(o) for o in outs] if sidecar else [])]
    check_outputs([*outs, *recipe_outs], inputs=ins,  # recipe files obey the same rules
                  extensions=[*{o.suffix.lower() for o in outs}, ".toml", ".json"])
    rec = develop_recipe(options, recipe=recipe, lut=lut)
    if frame:  # recorded in the recipe (layout name, or file by path + sha256)
        from rawlux.app.frame import FrameOptions

        rec = rec.with_command("frame", FrameOptions(layout=frame))
    frame = frame_layout(rec)
    if any(o.suffix.lower() == ".exr" for o in outs) and not rec["output"].scene_referred:
        given = options if isinstance(options, Mapping) else {}
        if "scene_referred" not in given:  # an explicit --no-scene-referred is not overridden
            rec = rec.with_options(scene_referred=True)
    if rec["output"].scene_referred:
        bad = [o for o in outs if o.suffix.lower() not in SCENE_EXTENSIONS]
        if bad:
            raise OutputError("scene-referred output is written as float .tif or .exr", bad[0])
        if frame:
            raise OutputError("--frame needs display-referred output, not scene-referred", outs[0])
    check_hdr(outs, rec["output"])  # --hdr: outputs that hold a gain map
    if rec["profile"].dcp is not None:  # a missing or broken .dcp fails here, naming the file
        from rawlux.isp.profile import load_profile

        load_profile(rec["profile"].dcp)
    if frame:
        from rawlux.frame import load_layout  # lazy: ~20 ms of start-up only --frame needs

        load_layout(frame)
    if sidecar or save_recipe is not None:
        rec.check_saveable(save_recipe if save_recipe is not None else outs[0])
    if save_recipe is not None:
        write_recipe(rec, save_recipe)
    return rec


def develop_image(source: PathArg | RawImage, options: Options = None, *,
                  recipe: Recipe | PathArg | None = None, lut: Any = None,
                  cfa: str | None = None, black: float | None = None, white: float | None = None,
                  on_stage: Callable[[str, int, int], None] | None = None) -> Image:
    """Develop ``source`` (a raw file, decided by content, or a :class:`RawImage`, uint16 DN or
    float32 normalised, e.g. a merged burst) into a display-encoded :class:`Image` (float32
    [0, 1], sRGB or Display P3; linear Rec.2020 with ``scene_referred``). ``options``/``recipe``/
    ``lut``: see :func:`develop_recipe`. ``cfa``/``black``/``white``: a bare mosaic PNG/TIFF."""
    rec = develop_recipe(options, recipe=recipe, lut=lut)  # validated before reading
    with reuse_freed_memory():
        if isinstance(source, RawImage):
            raw = source
        else:
            kw = {k: v for k, v in (("cfa", cfa), ("black", black), ("white", white)) if v is not None}
            raw = load_raw(source, **kw)
        # the raw decides lens_correction "auto" (DNG lens opcodes, else lensfun); + gain map
        # with output.hdr
        return run_pipeline(rec.pipeline(raw=raw), raw, on_stage=on_stage)


def develop_file(source: PathArg | RawImage, output: PathArg, options: Options = None, *,
                 recipe: Recipe | PathArg | None = None, lut: Any = None,
                 frame: str | None = None, quality: int = 92, bit_depth: int | None = None,
                 protect: Iterable[PathArg] = (), cfa: str | None = None,
                 black: float | None = None, white: float | None = None,
                 sidecar: bool = False) -> Path:
    """Develop ``source`` and save it to ``output`` (format from the extension; atomic), with
    an optional EXIF ``frame`` (layout name or file; default: the recipe's). Outputs and parameters are checked before
    any pixel work (:func:`check_develop`); ``protect`` lists paths never to overwrite (the
    source is always protected). ``sidecar`` writes the recipe used to ``OUT.rawlux.toml``
    (:func:`~rawlux.app.recipe.sidecar_path`). Returns the absolute path written."""
    inputs = [*protect, *([] if isinstance(source, RawImage) else [source])]
    rec = check_develop([output], options, inputs=inputs, frame=frame, recipe=recipe, lut=lut,
                        sidecar=sidecar)
    frame = frame_layout(rec)  # given here or recorded in the recipe
    with reuse_freed_memory():  # one allocator scope for read + develop + save
        img = develop_image(source, rec, cfa=cfa, black=black, white=white)
        if frame:
            from rawlux.app.frame import frame_image  # lazy: ~20 ms of start-up only --frame needs

            img = frame_image(img, frame)  # a gain map moves with the photo
        out = save(img, output, protect=inputs, quality=quality, bit_depth=bit_depth)
    if sidecar:
        write_recipe(rec, sidecar_path(out))
    return out


__all__ = ["DevelopOptions", "Recipe", "check_develop", "develop_file", "develop_image",
           "develop_recipe", "load_lut"]
