"""``night``: a handheld raw burst -> one merged raw (.dng) or a developed photo.

The frames are opened lazily (:func:`open_burst`, one raw in memory at a time) and merged by
:func:`rawlux.burst.merge.merge_burst` into a float32 normalised :class:`RawImage`, which the
develop plan enters after black_level, with no re-quantisation. Writing a DNG is the output
step that quantises, at the reference frame's own DN levels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, overload

import numpy as np

from rawlux.app.develop import develop_image
from rawlux.app.inputs import load_raw
from rawlux.app.outputs import check_outputs
from rawlux.burst.merge import MergeParams, merge_burst
from rawlux.core.errors import InvalidParameter, MissingInput
from rawlux.core.image import RawImage
from rawlux.core.memory import reuse_freed_memory
from rawlux.core.params import StageParams, param
from rawlux.app.recipe import DevelopOptions
from rawlux.io.dng import write_dng
from rawlux.io.write import save, supported_extensions

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
                  save: PathArg | None = None) -> tuple["NightOptions", Any]:
    """(:class:`NightOptions`, the recipe recording them) for ``values`` (NightParams fields
    given) and ``look`` over ``recipe`` (a Recipe or recipe file: its night, merge and develop
    sections are the base). With ``save`` the recipe is written there before any pixel work."""
    from rawlux.app.recipe import command_recipe, save_recipe

    params, rec = command_recipe("night", values, recipe)
    merge = rec.command("night_merge") or MergeParams()
    rec = rec.with_command("night_merge", merge)
    if look:
        rec = rec.with_options(look=look)
    if save is not None:
        save_recipe(rec, save)
    return NightOptions(reference=params.reference, merge=merge, develop=rec), rec


@dataclass(frozen=True)
class NightOptions:
    """Options of :func:`night_file`: reference frame index, merge parameters, and the develop
    options used when the output is a photo (ignored for ``.dng``): a ``DevelopOptions`` or a
    :class:`~rawlux.app.recipe.Recipe` (see :func:`rawlux.app.develop.develop_recipe`)."""

    reference: int = 0
    merge: MergeParams = field(default_factory=MergeParams)
    develop: DevelopOptions = field(default_factory=DevelopOptions)


def check_night(frames: Sequence[PathArg], output: PathArg, options: NightOptions) -> Path:
    """Checks done before any pixel work: output extension/directory, not an input, the
    reference index, missing frames."""
    n = len(frames)
    if n == 0:
        raise InvalidParameter("night needs at least one frame")
    if not -n <= options.reference < n:
        raise InvalidParameter(f"--reference {options.reference} is outside the burst of {n} frame(s)")
    (out,) = check_outputs([output], inputs=frames, extensions=[".dng", *supported_extensions()])
    open_burst(frames)
    return out


def merge_files(frames: Sequence[PathArg], options: NightOptions = NightOptions(), *,
                progress: Progress | None = None) -> tuple[RawImage, BurstFiles]:
    """Open and merge the burst ``frames``: (merged float32 normalised RawImage, the opened
    burst, whose ``levels`` hold each opened frame's DN levels)."""
    burst = open_burst(frames)
    with reuse_freed_memory():  # frame-sized buffers reuse freed heap pages
        merged = merge_burst(burst, options.reference, params=options.merge, progress=progress)
    return merged, burst


def night_file(frames: Sequence[PathArg], output: PathArg, options: NightOptions = NightOptions(),
               *, progress: Progress | None = None, quality: int = 92) -> Path:
    """Merge ``frames`` and write ``output``: ``.dng`` = the merged raw (quantised there, at the
    reference frame's DN levels), else a photo developed from the float merged raw."""
    out = check_night(frames, output, options)
    with reuse_freed_memory():  # one scope for merge + develop + save
        merged, burst = merge_files(frames, options, progress=progress)
        if out.suffix.lower() == ".dng":
            black, white = burst.levels[options.reference % len(burst)]
            write_dng(merged, out, black=black, white=white)
            return out.resolve()
        img = develop_image(merged, options.develop)
        return save(img, out, protect=frames, quality=quality)
