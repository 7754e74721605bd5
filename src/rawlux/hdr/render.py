"""One develop, two renditions: the look's SDR photo plus a gain map that restores the highlights.

:func:`develop_gainmap` runs a develop pipeline once up to the look (decode, demosaic, colour:
scene-referred linear Rec.2020), keeps a 1/``scale`` area-averaged copy of that scene image, then
finishes the *same* buffer with the look and output stages (so the SDR base is exactly the normal
output of the look). The gain map is computed at map resolution from the small scene copy and the
SDR base downsampled in linear light (:func:`rawlux.hdr.gainmap.hdr_rendition`). No second
demosaic, no second full-resolution image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from rawlux.core.errors import InvalidParameter
from rawlux.core.gainmap import GainMap
from rawlux.core.image import Image
from rawlux.core.params import StageParams, param
from rawlux.hdr.gainmap import (GainMapParams, block_mean, downsample, encode_gainmap,
                                hdr_rendition, map_size)

MAX_HEADROOM = 3.0  # default cap of the automatic headroom (stops over SDR white)


@dataclass(frozen=True)
class HdrParams(StageParams):
    """Gain-map (Ultra HDR) output of a develop."""

    headroom: float | None = param(
        None, type=float, lo=0.0, hi=6.0, unit="EV",
        doc="stops of highlight range over SDR white the HDR rendition may use "
            "(None = what the scene needs, at most 3)")
    scale: int = param(4, lo=1, hi=16, doc="gain map is 1/scale of the photo in each axis")
    channels: str = param("auto", choices=("auto", "1", "3"),
                          doc="gain map channels: 1, 3, or auto (3 where colour needs it)")
    transfer: str = param("pq", choices=("pq", "hlg"),
                          doc="AVIF output: BT.2100 transfer of the 10-bit HDR rendition")


def gainmap_of(img: Image) -> GainMap | None:
    """The gain map an image carries (``metadata.extra['gainmap']``), or None."""
    gm = (img.metadata.extra or {}).get("gainmap")
    return gm if isinstance(gm, GainMap) else None


def with_gainmap(img: Image, gm: GainMap | None, transfer: str | None = None) -> Image:
    """``img`` carrying ``gm`` (None removes it); :func:`rawlux.save` writes it as Ultra HDR
    JPEG, or as a 10-bit BT.2100 AVIF with ``transfer`` (pq / hlg) for ``.avif``."""
    extra = dict(img.metadata.extra or {})
    if gm is None:
        extra.pop("gainmap", None)
    else:
        extra["gainmap"] = gm
    if transfer is not None:
        extra["hdr_transfer"] = transfer
    return replace(img, metadata=replace(img.metadata, extra=extra))


def _y_row(space: Any) -> np.ndarray:
    from rawlux.color.spaces import rgb_to_xyz

    return rgb_to_xyz(space)[1].astype(np.float32)


def _run_tail(stages: Any, img: Any) -> Any:
    """Run ``stages`` on an image the caller owns (in place where a stage can)."""
    for s in stages:
        d = s.definition
        img = d.inplace(img, s.params) if d.inplace is not None else s(img)
        d.gives_for(s.params).check(img, f"output of {s.name}")
    return img


def gainmap_from_renditions(scene_small: np.ndarray, sdr: Image, params: HdrParams) -> tuple[GainMap, float]:
    """Gain map of a display-encoded SDR ``sdr`` (sRGB transfer, its primaries) and the scene
    image at map resolution (linear, same primaries, same orientation). Returns (map, headroom)."""
    from rawlux.color.transfer import srgb_decode_fast

    scale = params.scale
    sdr_small = block_mean(sdr.data, scale, transform=srgb_decode_fast)  # band by band
    if sdr_small.shape != scene_small.shape:
        raise InvalidParameter(f"scene map {scene_small.shape} does not match the photo's "
                               f"{sdr_small.shape}")
    y = _y_row(sdr.space)
    hdr, head = hdr_rendition(scene_small, sdr_small, params.headroom, y, MAX_HEADROOM)
    gm = encode_gainmap(sdr_small, hdr, GainMapParams(scale=params.scale, channels=params.channels),
                        y, headroom=head)
    return gm, head


def develop_gainmap(pipeline: Any, raw: Any, params: HdrParams = HdrParams(),
                    on_stage: Callable[[str, int, int], None] | None = None) -> Image:
    """Run a develop ``pipeline`` (ending in ``look``, ``output``) on ``raw`` once and return its
    display-encoded output carrying a gain map (see :func:`gainmap_of`)."""
    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.core.image import ColorSpace
    from rawlux.core.orientation import apply_orientation
    from rawlux.core.pipeline import Contract

    pipeline = pipeline.plan(Contract.of(raw))  # e.g. a float merged raw enters after black_level
    names = pipeline.names()
    if "look" not in names or names[-1] != "output":
        raise InvalidParameter("a gain map needs a pipeline with look and output stages")
    out_params = pipeline.stages[-1].params
    look_params = pipeline.stages[names.index("look")].params
    if getattr(out_params, "scene_referred", False) or getattr(look_params, "scene_referred", False):
        raise InvalidParameter("--hdr makes a display photo with a gain map; it does not combine "
                               "with scene-referred output")
    k = names.index("look")
    head = type(pipeline)(pipeline.stages[:k], fuse=pipeline.fuse)
    scene = head.run(raw, on_stage=on_stage)
    small = block_mean(scene.data, params.scale)
    for j, s in enumerate(pipeline.stages[k:], k):
        if on_stage is not None:
            on_stage(s.name, j, len(names))
    sdr = _run_tail(pipeline.stages[k:], scene)
    del scene
    orient = raw.metadata.orientation if getattr(out_params, "apply_orientation", True) else 1
    if orient not in range(1, 9):
        orient = 1
    m = rgb_to_rgb(ColorSpace.REC2020, sdr.space)
    small = np.maximum(small.reshape(-1, 3) @ m.T, 0.0).reshape(small.shape).astype(np.float32)
    small = apply_orientation(small, orient)
    if small.shape[:2] != map_size(sdr.height, sdr.width, params.scale):  # edge blocks of a
        small = downsample(small, *map_size(sdr.height, sdr.width, params.scale))  # flipped grid
    gm, _ = gainmap_from_renditions(small, sdr, params)
    return with_gainmap(sdr, gm, params.transfer)


#: Output extensions that hold a gain map today (Ultra HDR JPEG).
GAINMAP_EXTENSIONS = (".jpg", ".jpeg", ".avif", ".heic", ".heif")


def check_hdr_outputs(outputs: Any, scene_referred: bool = False) -> None:
    """Refuse ``--hdr`` for outputs that cannot carry a gain map (before any work)."""
    from pathlib import Path

    from rawlux.core.errors import OutputError

    if scene_referred:
        raise InvalidParameter("--hdr makes a display photo with a gain map; it does not combine "
                               "with --scene-referred")
    for o in outputs:
        if Path(o).suffix.lower() not in GAINMAP_EXTENSIONS:
            raise OutputError(f"--hdr writes Ultra HDR JPEG (.jpg) or 10-bit PQ/HLG AVIF/HEIC; "
                              f"{Path(o).suffix or 'no extension'} cannot hold an HDR rendition", o)


def render_scene(scene: np.ndarray, space: Any, metadata: Any = None, *, look: str = "authentic",
                 color_space: str = "srgb", hdr: HdrParams | None = None,
                 local_tm: bool = True) -> Image:
    """A finished photo of scene-referred linear RGB (``space`` primaries, e.g. a merged
    bracket's radiance): the look and output stages as in develop, plus a gain map with ``hdr``.
    ``scene`` is consumed (converted in place where possible)."""
    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.core.image import ColorSpace, Encoding, Metadata, Referred
    from rawlux.isp.look import LookParams, look_inplace
    from rawlux.isp.output import OutputParams, output_inplace

    if scene.ndim != 3 or scene.shape[2] != 3:
        raise InvalidParameter(f"a scene image must be (H, W, 3), got {scene.shape}")
    h, w = scene.shape[:2]
    if space is ColorSpace.REC2020 and scene.dtype == np.float32 and scene.flags.c_contiguous:
        data = scene  # consumed in place
    else:
        m = rgb_to_rgb(space, ColorSpace.REC2020)
        data = np.ascontiguousarray((scene.reshape(-1, 3) @ m.T).reshape(h, w, 3), np.float32)
    if not np.isfinite(data).all():
        np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.maximum(data, 0.0, out=data)
    img = Image(data, ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE,
                metadata=metadata if metadata is not None else Metadata())
    small = None
    if hdr is not None:
        small = block_mean(img.data, hdr.scale)
    op = OutputParams(color_space=color_space)
    if local_tm:  # the look with its local tone mapping extended to the scene's range
        from rawlux.hdr.tonemap import high_range_look
        from rawlux.looks.registry import get_look
        from rawlux.looks.render import render_look

        spec = high_range_look(get_look(look), img.data)
        shown = img.with_data(render_look(img.data, spec, out=img.data), referred=Referred.DISPLAY)
    else:
        shown = look_inplace(img, LookParams(look=look))
    sdr = output_inplace(shown, op)
    if small is None:
        return sdr
    m2 = rgb_to_rgb(ColorSpace.REC2020, sdr.space)
    small = np.maximum(small.reshape(-1, 3) @ m2.T, 0.0).reshape(small.shape).astype(np.float32)
    gm, _ = gainmap_from_renditions(small, sdr, hdr)
    return with_gainmap(sdr, gm, hdr.transfer)
