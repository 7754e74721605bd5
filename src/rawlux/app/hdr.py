"""``hdr``: an exposure bracket -> one photo (optionally Ultra HDR), a merged raw or scene float.

Raw frames are merged in the raw domain (:func:`rawlux.hdr.merge.merge_brackets`) into a float32
normalised :class:`RawImage` that enters the develop plan after black_level (no re-quantisation);
the scene-referred develop is then finished by the look with its local tone mapping extended to
the bracket's range (:func:`rawlux.hdr.render.render_scene`). Writing a ``.dng`` is the output
step: 16-bit at black 1024 / white 65535, the merge's scale in BaselineExposure. Developed
(JPEG) brackets are merged through their recovered response curve (Debevec-Malik,
:func:`rawlux.hdr.response.merge_developed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from os import PathLike
from pathlib import Path

import numpy as np

from rawlux.app.develop import develop_image
from rawlux.app.night import open_burst
from rawlux.app.outputs import check_outputs
from rawlux.core.errors import InvalidParameter, OutputError
from rawlux.core.image import ColorSpace, Encoding, Image, Metadata, RawImage, Referred
from rawlux.core.memory import reuse_freed_memory
from rawlux.app.recipe import DEFAULT_LOOK, DevelopOptions
from rawlux.hdr.merge import BracketParams, merge_exposures
from rawlux.hdr.render import HdrParams, check_hdr_outputs, render_scene
from rawlux.io.dng import write_dng
from rawlux.io.probe import input_kind
from rawlux.io.write import save, supported_extensions

PathArg = str | PathLike[str]
#: DN levels of a merged bracket written as a 16-bit DNG (headroom below black for the noise)
DNG_BLACK, DNG_WHITE = 1024.0, 65535.0


@dataclass(frozen=True)
class HdrOptions:
    """Options of :func:`hdr_file`: ``look`` and ``color_space`` of the finished photo, ``hdr``
    (a gain map: Ultra HDR JPEG / 10-bit AVIF, HEIC) with ``headroom`` stops (None = what the
    scene needs, at most 3) and ``transfer`` (pq | hlg), the raw merge ``bracket`` parameters,
    and ``exposures`` (a ``FILENAME SECONDS`` file for developed frames without EXIF)."""

    look: str | None = None
    color_space: str = "srgb"
    hdr: bool = False
    headroom: float | None = None
    transfer: str = "pq"
    bracket: BracketParams = field(default_factory=BracketParams)
    exposures: PathArg | None = None

    def hdr_params(self) -> HdrParams | None:
        return HdrParams(headroom=self.headroom, transfer=self.transfer) if self.hdr else None


def read_exposures(path: PathArg) -> dict[str, float]:
    """``exposures.txt``: lines ``FILENAME SECONDS`` (``#`` comments; ``1/250`` allowed)."""
    path = Path(path)
    out: dict[str, float] = {}
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            t = float(Fraction(parts[-1]))
        except (ValueError, ZeroDivisionError):
            raise InvalidParameter(f"{path}:{n}: {parts[-1]!r} is not an exposure time in seconds") from None
        out[" ".join(parts[:-1])] = t
    return out


def _times(frames: list[Path], exposures: PathArg | None, metas: list[Metadata]) -> list[float]:
    table = None
    if exposures is None:
        cand = frames[0].parent / "exposures.txt"
        if cand.is_file() and all(m.exposure_time is None for m in metas):
            exposures = cand
    if exposures is not None:
        table = read_exposures(exposures)
    times = []
    for f, m in zip(frames, metas):
        t = table.get(f.name) if table is not None else None
        if t is None:
            t = m.exposure_time
        if t is None:
            raise InvalidParameter(f"{f}: no exposure time (no EXIF ExposureTime and not listed in "
                                   f"{exposures or 'an exposures.txt'}); pass --exposures FILE")
        times.append(float(t))
    return times


def check_hdr_merge(frames: Sequence[PathArg], output: PathArg, options: HdrOptions) -> str:
    """Checks before any pixel work: the output (extension, directory, not an input; gain-map
    capable with ``hdr``), at least two existing frames of one kind. Returns "raw" or "photo"."""
    (out,) = check_outputs([output], inputs=frames, extensions=[".dng", *supported_extensions()])
    if options.hdr:
        check_hdr_outputs([out])
    elif options.headroom is not None:
        raise InvalidParameter("--headroom applies with --hdr only")
    if len(frames) < 2:
        raise InvalidParameter(f"a bracket merge needs at least two frames, got {len(frames)}")
    open_burst(frames)  # missing files raise here
    kinds = {input_kind(f) for f in frames}
    if len(kinds) > 1:
        raise InvalidParameter("a bracket is all raw files or all developed photos, not a mix")
    kind = kinds.pop()
    if kind == "raw" and options.exposures is not None:
        raise InvalidParameter("--exposures is for developed (JPEG) brackets; raw frames carry "
                               "their exposure in EXIF")
    if kind == "photo" and out.suffix.lower() == ".dng":
        raise OutputError("developed photos merge into a photo or scene-referred .exr/.tif, not "
                          "a raw .dng", out)
    return kind


def merge_raw_bracket(frames: Sequence[PathArg], params: BracketParams = BracketParams()) -> RawImage:
    """Open the raw ``frames`` and merge them into a float32 normalised :class:`RawImage`:
    frames of one exposure as a burst first, then the exposures as a bracket (HDR+ with
    bracketing: several short frames and one long frame; :func:`rawlux.hdr.merge.merge_exposures`)."""
    return merge_exposures(open_burst(frames), params)


def _finish(scene: Image, out: Path, options: HdrOptions, frames: Sequence[PathArg],
            quality: int) -> Path:
    """Save a scene-referred linear image as ``.exr``, or render it (look, local tone mapping,
    gain map with ``options.hdr``) and save the photo."""
    if out.suffix.lower() == ".exr":
        return save(scene, out, protect=frames)
    img = render_scene(scene.data, scene.space, scene.metadata, look=options.look or DEFAULT_LOOK,
                       color_space=options.color_space, hdr=options.hdr_params())
    return save(img, out, protect=frames, quality=quality)


def hdr_file(frames: Sequence[PathArg], output: PathArg, options: HdrOptions = HdrOptions(), *,
             quality: int = 92) -> Path:
    """Merge the bracket ``frames`` (raws by content, else developed photos) and write
    ``output``: ``.dng`` (raw frames: the merged raw), ``.exr`` (scene-referred linear
    Rec.2020) or a photo. Everything is checked before pixel work. Returns the path written."""
    kind = check_hdr_merge(frames, output, options)
    out = Path(output)
    with reuse_freed_memory():
        if kind == "raw":
            merged = merge_raw_bracket(frames, options.bracket)
            if out.suffix.lower() == ".dng":
                write_dng(merged, out, black=DNG_BLACK, white=DNG_WHITE)
                return out.resolve()
            scene = develop_image(merged, DevelopOptions(scene_referred=True))  # plan: after black_level
            del merged
            return _finish(scene, out, options, frames, quality)
        return _finish(merge_photo_bracket(frames, options.exposures), out, options, frames, quality)


def merge_photo_bracket(frames: Sequence[PathArg], exposures: PathArg | None = None) -> Image:
    """Merge developed (8-bit) photos of a bracket into a scene-referred linear Rec.2020 Image
    (radiance in the middle exposure's units; metadata of the middle frame)."""
    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.hdr.response import merge_developed
    from rawlux.io.photo import open_photo

    paths = [Path(f) for f in frames]
    photos = [open_photo(f) for f in paths]
    times = _times(paths, exposures, [p.metadata for p in photos])
    if len({p.space for p in photos}) > 1:
        raise InvalidParameter("the frames are in different colour spaces")
    images = [np.clip(np.rint(p.data * 255.0), 0, 255).astype(np.uint8) for p in photos]
    space = photos[0].space
    meta = photos[int(np.argsort(times)[len(times) // 2])].metadata
    del photos
    radiance, _g, _info = merge_developed(images, times)
    m = rgb_to_rgb(space, ColorSpace.REC2020)
    data = (radiance.reshape(-1, 3) @ m.T).reshape(radiance.shape).astype(np.float32)
    return Image(np.maximum(data, 0.0), ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE,
                 metadata=meta)
