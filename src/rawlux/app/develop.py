"""``develop``: raw file -> finished photo (open, check outputs, run the plan, save).

Public functions (called by ``cli``, ``batch`` and ``studio``):

* :func:`check_develop` validates options and every output of a run before any pixel work;
* :func:`develop_image` opens a raw (path or :class:`RawImage`) and runs the develop plan;
* :func:`develop_file` does both and saves atomically, returning the path written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any

from rawlux.app.inputs import load_raw
from rawlux.app.outputs import check_outputs
from rawlux.core.errors import OutputError
from rawlux.core.image import Image, RawImage
from rawlux.core.memory import reuse_freed_memory
from rawlux.develop import DevelopOptions, build_pipeline
from rawlux.io.cube import read_cube
from rawlux.io.dcp import apply_profile, read_dcp
from rawlux.io.write import save
from rawlux.isp.white_balance import parse_wb

PathArg = str | PathLike[str]
SCENE_EXTENSIONS = (".exr", ".tif", ".tiff")


def load_lut(lut: Any) -> Any:
    """A loaded LUT: ``None`` and loaded LUTs pass through, a path is read as ``.cube``."""
    return lut if lut is None or hasattr(lut, "table") else read_cube(lut)


def with_profile(raw: RawImage, profile: PathArg | None) -> RawImage:
    """``raw`` developed with the DNG camera profile file ``profile`` (``.dcp``: its matrices
    and tables replace the raw's own, the raw's gain table map stays); ``None``: ``raw``."""
    return raw if not profile else apply_profile(raw, *read_dcp(profile))


def check_develop(outputs: Sequence[PathArg], options: DevelopOptions, *,
                  inputs: Iterable[PathArg] = (), frame: str | None = None) -> DevelopOptions:
    """Validate a develop run before any work: every output (see :func:`check_outputs`), the
    white balance text, the camera profile file, the frame layout; an ``.exr`` output implies ``scene_referred``, whose
    outputs must be float ``.tif``/``.exr`` and cannot be framed. Returns the options to use."""
    outs = check_outputs(outputs, inputs=inputs)
    if any(o.suffix.lower() == ".exr" for o in outs) and not options.scene_referred:
        options = replace(options, scene_referred=True)
    if options.scene_referred:
        bad = [o for o in outs if o.suffix.lower() not in SCENE_EXTENSIONS]
        if bad:
            raise OutputError("scene-referred output is written as float .tif or .exr", bad[0])
        if frame:
            raise OutputError("--frame needs display-referred output, not scene-referred", outs[0])
    parse_wb(options.wb)
    if options.profile:  # a missing or broken .dcp fails here, once, naming the file
        read_dcp(options.profile)
    if frame:
        from rawlux.frame import load_layout  # lazy: ~20 ms of start-up only --frame needs

        load_layout(frame)
    return options


def develop_image(source: PathArg | RawImage, options: DevelopOptions = DevelopOptions(), *,
                  lut: Any = None, cfa: str | None = None, black: float | None = None,
                  white: float | None = None,
                  on_stage: Callable[[str, int, int], None] | None = None) -> Image:
    """Develop ``source`` (a raw file, decided by content, or a :class:`RawImage`, uint16 DN or
    float32 normalised, e.g. a merged burst) into a display-encoded :class:`Image` (float32
    [0, 1], sRGB or Display P3; linear Rec.2020 with ``options.scene_referred``). ``lut``: path
    to a ``.cube`` or a loaded LUT. ``cfa``/``black``/``white``: a bare mosaic PNG/TIFF."""
    with reuse_freed_memory():
        if isinstance(source, RawImage):
            raw = source
        else:
            kw = {k: v for k, v in (("cfa", cfa), ("black", black), ("white", white)) if v is not None}
            raw = load_raw(source, **kw)
        raw = with_profile(raw, options.profile)
        return build_pipeline(options, load_lut(lut), raw).run_plan(raw, on_stage=on_stage)


def develop_file(source: PathArg | RawImage, output: PathArg,
                 options: DevelopOptions = DevelopOptions(), *, lut: Any = None,
                 frame: str | None = None, quality: int = 92, bit_depth: int | None = None,
                 protect: Iterable[PathArg] = (), cfa: str | None = None,
                 black: float | None = None, white: float | None = None) -> Path:
    """Develop ``source`` and save it to ``output`` (format from the extension; atomic), with
    an optional EXIF ``frame`` (layout name or file). Outputs and options are checked before
    any pixel work (:func:`check_develop`); ``protect`` lists paths never to overwrite (the
    source is always protected). Returns the absolute path written."""
    inputs = [*protect, *([] if isinstance(source, RawImage) else [source])]
    options = check_develop([output], options, inputs=inputs, frame=frame)
    with reuse_freed_memory():  # one allocator scope for read + develop + save
        img = develop_image(source, options, lut=lut, cfa=cfa, black=black, white=white)
        if frame:
            from rawlux.frame import apply_frame  # lazy: ~20 ms of start-up only --frame needs

            img = apply_frame(img, frame)
        return save(img, output, protect=inputs, quality=quality, bit_depth=bit_depth)
