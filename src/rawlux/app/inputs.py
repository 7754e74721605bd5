"""Open any input: one content-based raw-or-photo decision (:func:`rawlux.io.probe.input_kind`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

from rawlux.core.errors import CorruptInput, UnsupportedInput
from rawlux.core.image import Image, RawImage
from rawlux.io.probe import input_kind
from rawlux.io.raw import EmptyRawWarning, empty_pixels_reason, open_raw
from rawlux.io.safety import FORMAT_NAMES, read_head, sniff
from rawlux.app.recipe import DEFAULT_LOOK, DevelopOptions, build_pipeline

Note = Callable[[str], None]


def is_photo(path: str | PathLike[str], *, cfa: str | None = None) -> bool:
    """True when ``path`` holds a developed photo (by content), False for a raw."""
    return input_kind(path, cfa=cfa) == "photo"


def load_raw(path: str | PathLike[str], **raw_kw: Any) -> RawImage:
    """Open a raw for developing: refuse a photo and a raw without image data (all pixels zero,
    e.g. a metadata-only DNG) with a one-line error naming the file. ``raw_kw``: ``cfa``,
    ``black``, ``white`` of a bare mosaic PNG/TIFF (see :func:`rawlux.io.raw.open_raw`)."""
    p = Path(path)
    if is_photo(p, cfa=raw_kw.get("cfa")):
        kind = sniff(read_head(p))
        hint = ("; for a bare Bayer mosaic pass --cfa RGGB|BGGR|GRBG|GBRG" if kind in ("png", "tiff")
                else "; developed photos go to `rawlux frame` or `rawlux portrait`")
        raise UnsupportedInput(f"is {FORMAT_NAMES.get(kind, 'a photo')}, not a raw file{hint}", p)
    with warnings.catch_warnings():  # the error below says it once
        warnings.simplefilter("ignore", EmptyRawWarning)
        raw = open_raw(p, **raw_kw)
    reason = empty_pixels_reason(raw)
    if reason:
        raise CorruptInput(f"no image to develop: {reason}", p)
    return raw


def open_any(path: str | PathLike[str], *, cfa: str | None = None) -> RawImage | Image:
    """A raw as a :class:`RawImage` (see :func:`load_raw`) or a photo as a display-encoded
    :class:`Image`, decided by content."""
    if is_photo(path, cfa=cfa):
        from rawlux.io.photo import open_photo  # lazy: a raw develop need not load the photo codecs

        return open_photo(path)
    return load_raw(path, **({"cfa": cfa} if cfa else {}))


def open_image(path: str | PathLike[str], *, look: str | None = None, color_space: str = "srgb",
               note: Note | None = None, recipe: Any = None, hdr: bool = False) -> Image:
    """A display-encoded Image from any input: a photo as it is, a raw developed with ``look``
    (default: the develop default) into ``color_space``, over the develop stages of ``recipe``
    (a :class:`~rawlux.app.recipe.Recipe`) when given, with a gain map when ``hdr`` (a photo
    keeps its own map, if any). ``note`` hears when ``look`` cannot apply."""
    src = open_any(path)
    if isinstance(src, Image):
        if look and note is not None:
            note("--look applies to raw input only; the photo keeps its rendering")
        return src
    from rawlux.app.run import run_pipeline

    kw: dict[str, Any] = {"look": look} if look else {}
    if hdr:
        kw["hdr"] = True
    if recipe is not None:
        return run_pipeline(recipe.with_options(color_space=color_space, **kw).pipeline(raw=src),
                            src)
    kw.setdefault("look", DEFAULT_LOOK)
    return run_pipeline(build_pipeline(DevelopOptions(color_space=color_space, **kw), raw=src), src)
