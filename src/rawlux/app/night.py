"""``night`` / ``superres``: a handheld burst -> one merged raw (.dng) or a developed photo.

The frames are opened lazily (:func:`open_burst`, one raw in memory at a time) and merged by
:func:`rawlux.burst.merge.merge_burst` (or, with ``NightOptions.superres``, super-resolved by
:func:`rawlux.burst.superres.super_resolve` into linear camera RGB of 1-2x the sensor size)
into a float32 normalised :class:`RawImage`, which the develop plan enters after black_level,
with no re-quantisation. Writing a DNG is the output step that quantises: the merge at the
reference frame's own DN levels, super-resolution as a LinearRaw DNG with black 0.
A burst of developed photos (JPEG, PNG, ...) is super-resolved in linear RGB
(:func:`rawlux.burst.superres_rgb.super_resolve_photos`) and saved as a photo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any, overload

import numpy as np

from rawlux.app.develop import develop_image
from rawlux.app.inputs import is_photo, load_raw, open_any
from rawlux.app.run import check_hdr
from rawlux.app.outputs import check_outputs
from rawlux.burst.merge import MergeParams, merge_burst
from rawlux.burst.superres import SuperResParams, super_resolve
from rawlux.core.errors import InvalidParameter, MissingInput, OutputError
from rawlux.core.image import CFA, Image, RawImage
from rawlux.core.memory import reuse_freed_memory
from rawlux.core.params import StageParams, param
from rawlux.app.recipe import DevelopOptions
from rawlux.io.dng import write_dng
from rawlux.io.write import save, supported_extensions

__all__ = ["BurstFiles", "NightOptions", "SuperResParams", "check_night", "is_photo_burst",
           "merge_files", "night_file", "open_burst", "super_resolve_files"]

PathArg = str | PathLike[str]
Progress = Callable[[int, int, str], None]


class BurstFiles(Sequence[RawImage]):
    """Raw files of a burst as a lazy sequence: ``burst[i]`` opens frame ``i`` when asked (so a
    merge holds one raw at a time) and remembers its DN levels (``levels[i]`` = (black, white))."""

    def __init__(self, paths: Sequence[PathArg]) -> None:
        self.paths = [Path(p) for p in paths]
        self.levels: dict[int, tuple[np.ndarray, float]] = {}

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, i: int) -> RawImage: ...
    @overload
    def __getitem__(self, i: slice) -> list[RawImage]: ...

    def __getitem__(self, i: int | slice) -> RawImage | list[RawImage]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k = range(len(self))[i]
        raw = load_raw(self.paths[k])
        self.levels[k] = (np.asarray(raw.black, np.float64).copy(), float(raw.white))
        return raw


def open_burst(paths: Sequence[PathArg]) -> BurstFiles:
    """The burst's frames as a lazy sequence of RawImages (missing files raise now)."""
    for p in paths:
        if not Path(p).is_file():
            raise MissingInput("no such file", Path(p))
    return BurstFiles(paths)


@dataclass(frozen=True)
class NightParams(StageParams):
    """The ``night`` command's own parameters (a recipe's ``night`` section)."""

    reference: int = param(0, lo=-1000, hi=1000,
                           doc="index of the reference frame (geometry kept; negative from the end)")


def night_options(values: Mapping[str, Any], *, look: str | None = None, recipe: Any = None,
                  save: PathArg | None = None, scale: float | None = None,
                  hdr: bool = False) -> tuple["NightOptions", Any]:
    """(:class:`NightOptions`, the recipe recording them) for ``values`` (NightParams fields
    given) and ``look`` over ``recipe`` (a Recipe or recipe file: its night, merge,
    super-resolution and develop sections are the base). ``scale`` (1, 1.5, 2) switches to
    super-resolution at that scale (a recipe's ``night_superres`` section does too); ``hdr``:
    the developed photo carries a gain map. With ``save`` the recipe is written there before any pixel work."""
    from rawlux.app.recipe import command_recipe, save_recipe

    params, rec = command_recipe("night", values, recipe)
    merge = rec.command("night_merge") or MergeParams()
    rec = rec.with_command("night_merge", merge)
    superres = rec.command("night_superres")
    if scale is not None:
        superres = replace(superres or SuperResParams(), scale=scale)
    rec = rec.with_command("night_superres", superres)
    if look:
        rec = rec.with_options(look=look)
    if hdr:  # --hdr: the develop's output carries a gain map (recorded in the recipe)
        rec = rec.with_options(hdr=True)
    if save is not None:
        save_recipe(rec, save)
    return NightOptions(reference=params.reference, merge=merge, develop=rec,
                        superres=superres), rec


@dataclass(frozen=True)
class NightOptions:
    """Options of :func:`night_file`: reference frame index, merge parameters, the develop
    options used when the output is a photo (ignored for ``.dng``): a ``DevelopOptions`` or a
    :class:`~rawlux.app.recipe.Recipe` (see :func:`rawlux.app.develop.develop_recipe`), and
    ``superres``: multi-frame super-resolution at ``superres.scale`` (1, 1.5, 2) instead of the
    merge (None = merge)."""

    reference: int = 0
    merge: MergeParams = field(default_factory=MergeParams)
    develop: DevelopOptions = field(default_factory=DevelopOptions)
    superres: SuperResParams | None = None


def is_photo_burst(frames: Sequence[PathArg]) -> bool:
    """True when every frame is a developed photo (by content): the JPEG super-resolution path."""
    return len(frames) > 0 and all(is_photo(f) for f in frames)


def check_night(frames: Sequence[PathArg], output: PathArg, options: NightOptions) -> Path:
    """Checks done before any pixel work: output extension/directory, not an input, a gain-map
    output with ``develop.hdr``, the reference index, missing frames."""
    n = len(frames)
    if n == 0:
        raise InvalidParameter("night needs at least one frame")
    if not -n <= options.reference < n:
        raise InvalidParameter(f"--reference {options.reference} is outside the burst of {n} frame(s)")
    (out,) = check_outputs([output], inputs=frames, extensions=[".dng", *supported_extensions()])
    dev = options.develop
    check_hdr([out], dev["output"] if hasattr(dev, "stages") else dev)  # --hdr: not a .dng
    open_burst(frames)
    if is_photo_burst(frames):
        if options.superres is None:
            raise InvalidParameter("developed photos (JPEG, PNG, ...) are merged by super-resolution: "
                                   "add --scale 1, 1.5 or 2 (or use rawlux superres)")
        if out.suffix.lower() == ".dng":
            raise OutputError("a burst of developed photos cannot become a raw; write a photo "
                              "(.jpg, .tif, ...)", out)
    return out


def merge_files(frames: Sequence[PathArg], options: NightOptions = NightOptions(), *,
                progress: Progress | None = None) -> tuple[RawImage, BurstFiles]:
    """Open and merge (or super-resolve, ``options.superres``) the raw burst ``frames``: (float32
    normalised RawImage, the opened burst, whose ``levels`` hold each opened frame's DN levels)."""
    burst = open_burst(frames)
    with reuse_freed_memory():  # frame-sized buffers reuse freed heap pages
        if options.superres is not None:
            merged = super_resolve(burst, options.reference, params=options.superres, progress=progress)
        else:
            merged = merge_burst(burst, options.reference, params=options.merge, progress=progress)
    return merged, burst


def super_resolve_files(frames: Sequence[PathArg], options: NightOptions) -> Image:
    """A burst of developed photos super-resolved at ``options.superres.scale`` (the reference's
    colour space, encoding and metadata; kernel and alignment of
    :data:`rawlux.burst.superres_rgb.PHOTO_DEFAULTS`)."""
    from rawlux.burst.superres_rgb import PHOTO_DEFAULTS, super_resolve_photos  # lazy: photo bursts only

    if options.superres is None:
        raise InvalidParameter("super_resolve_files needs NightOptions.superres (the scale)")
    images = []
    for f in frames:
        img = open_any(f)
        if not isinstance(img, Image):
            raise InvalidParameter(f"{f}: a raw in a burst of developed photos; pass raws or photos, not both")
        images.append(img)
    return super_resolve_photos(images, options.reference,
                                params=replace(options.superres, **PHOTO_DEFAULTS))


def night_file(frames: Sequence[PathArg], output: PathArg, options: NightOptions = NightOptions(),
               *, progress: Progress | None = None, quality: int = 92) -> Path:
    """Merge ``frames`` and write ``output``: ``.dng`` = the merged raw (quantised there, at the
    reference frame's DN levels; super-resolution: a LinearRaw DNG with black 0), else a photo
    developed from the float merged raw. A burst of developed photos (needs ``superres``) is
    super-resolved and saved as a photo."""
    out = check_night(frames, output, options)
    if is_photo_burst(frames):
        return save(super_resolve_files(frames, options), out, protect=frames, quality=quality)
    with reuse_freed_memory():  # one scope for merge + develop + save
        merged, burst = merge_files(frames, options, progress=progress)
        if out.suffix.lower() == ".dng":
            if merged.cfa is CFA.LINEAR:  # darktable and RawTherapee ignore a LinearRaw pedestal
                black, white = 0.0, 65535.0
            else:
                black, white = burst.levels[options.reference % len(burst)]
            write_dng(merged, out, black=black, white=white)
            return out.resolve()
        img = develop_image(merged, options.develop)
        return save(img, out, protect=frames, quality=quality)
