"""Edits applied to both renditions of a gain-map photo.

A gain map lives at its own (lower) resolution in the base image's pixel grid. An edit that moves
pixels (a frame's margins, a crop, a resize) moves the map the same way: :func:`warp_gainmap`
resamples the map's log2 gains through the same affine map, with "no gain" (0 stops: the HDR
rendition equals the SDR base) wherever the edit adds new pixels (frame margins, captions).
An edit that changes pixel values in place (portrait bokeh) re-derives the map from both edited
renditions: :func:`regain`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.gainmap import GainMap
from rawlux.core.image import Image
from rawlux.hdr.gainmap import gain_stops, map_size


def requantise(stops: np.ndarray, gm: GainMap) -> GainMap:
    """Re-encode per-pixel log2 gains ``stops`` (h, w[, C]) with ``gm``'s metadata, widening the
    range to include 0 (no gain) so untouched pixels stay exactly the base."""
    m = gm.meta
    s = stops if stops.ndim == 3 else stops[..., None]
    flat = s.reshape(-1, s.shape[2]).astype(np.float64)
    if flat.shape[1] != m.channels:
        raise ContractError(f"{flat.shape[1]} channel(s) of gains for a {m.channels}-channel map")
    lo = np.floor(np.minimum(np.minimum(np.asarray(m.gain_min), flat.min(axis=0)), 0.0) * 1e4) / 1e4
    hi = np.ceil(np.maximum(np.asarray(m.gain_max), flat.max(axis=0)) * 1e4) / 1e4
    hi = np.maximum(hi, lo + 1e-3)
    g = np.asarray(m.gamma, np.float32)
    e = np.clip((s - lo.astype(np.float32)) / (hi - lo).astype(np.float32), 0.0, 1.0)
    if np.any(g != 1.0):
        e = e ** g
    q = np.rint(e * 255.0).astype(np.uint8)
    q = np.ascontiguousarray(q[..., 0] if m.channels == 1 else q)
    meta = replace(m, gain_min=tuple(float(v) for v in lo), gain_max=tuple(float(v) for v in hi))
    return GainMap(q, meta)


def warp_gainmap(gm: GainMap, base_hw: tuple[int, int], new_hw: tuple[int, int],
                 scale: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)) -> GainMap:
    """The map of a base of ``base_hw`` moved onto a new base of ``new_hw`` where old pixel
    (y, x) lands at ``(offset[0] + scale * y, offset[1] + scale * x)``; new pixels get no gain."""
    import cv2

    bh, bw = base_hw
    nh, nw = new_hw
    mh, mw = gm.data.shape[:2]
    oh, ow = map_size(nh, nw, max(1, round(bh / mh)))
    stops = gain_stops(gm)  # (mh, mw, C)
    # map pixel centres: old map (i + .5) * bh / mh = old base coordinate; same for the new map
    sy, sx = bh / mh, bw / mw
    ty, tx = nh / oh, nw / ow
    a = np.array([[scale * sx / tx, 0.0, (offset[1] + scale * 0.5 * sx) / tx - 0.5],
                  [0.0, scale * sy / ty, (offset[0] + scale * 0.5 * sy) / ty - 0.5]])
    chans = [cv2.warpAffine(np.ascontiguousarray(stops[..., c]), a, (ow, oh),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
             for c in range(stops.shape[2])]
    return requantise(np.stack(chans, axis=2), gm)


def frame_gainmap(gm: GainMap, photo_hw: tuple[int, int], canvas_hw: tuple[int, int],
                  top: int, left: int) -> GainMap:
    """The map of a photo placed unscaled at (``top``, ``left``) on a larger canvas (a frame)."""
    h, w = photo_hw
    H, W = canvas_hw
    if top < 0 or left < 0 or top + h > H or left + w > W:
        raise ContractError(f"photo {w}x{h} at ({left}, {top}) does not fit the canvas {W}x{H}")
    return warp_gainmap(gm, photo_hw, canvas_hw, 1.0, (float(top), float(left)))


def regain(sdr_lin: np.ndarray, hdr_lin: np.ndarray, gm: GainMap) -> GainMap:
    """A new map (same resolution and metadata form as ``gm``) turning an edited linear SDR into
    the equally edited linear HDR rendition (both at map resolution)."""
    m = gm.meta
    os_ = m.per_channel("offset_sdr")
    oh = m.per_channel("offset_hdr")
    ratio = np.log2(np.maximum(hdr_lin + oh, 1e-6) / np.maximum(sdr_lin + os_, 1e-6))
    if m.channels == 1:
        ratio = ratio.mean(axis=2, keepdims=True)
    return requantise(ratio.astype(np.float32), gm)


def framed_with_gainmap(photo: "Image", framed: "Image", margins: tuple[int, int, int, int]) -> "Image":
    """``framed`` (a frame around ``photo``) carrying ``photo``'s gain map moved into place
    (margins = top, right, bottom, left in pixels); unchanged when ``photo`` has none. The map is
    dropped with a warning if the photo is not found unchanged at that place."""
    import warnings

    from rawlux.hdr.render import gainmap_of, with_gainmap

    gm = gainmap_of(photo)
    if gm is None:
        return framed
    t, _r, _b, l = margins
    h, w = photo.height, photo.width
    region = framed.data[t:t + h, l:l + w]
    if region.shape != photo.data.shape or not np.array_equal(region[:: max(1, h // 7), :: max(1, w // 7)],
                                                              photo.data[:: max(1, h // 7), :: max(1, w // 7)]):
        warnings.warn("the frame moved the photo in a way the gain map cannot follow; written "
                      "without it", stacklevel=2)
        return with_gainmap(framed, None)
    return with_gainmap(framed, frame_gainmap(gm, (h, w), (framed.height, framed.width), t, l))


def portrait_gainmap(before: Image, after: Image, gm: GainMap, disparity: np.ndarray,
                     focus_disparity: float, lens: object, params: object,
                     matte: np.ndarray | None = None) -> GainMap:
    """The gain map of a portrait render: the HDR rendition of ``before`` (SDR + ``gm``) goes
    through the same lens, depth and focus at map resolution (the CoC scales with the image, so
    the blur matches), as light: out-of-focus highlights bloom with their real HDR radiance.
    The new map turns the rendered SDR ``after`` into that rendered HDR image."""
    import cv2

    from rawlux.color.transfer import srgb_decode_fast
    from rawlux.core.image import Encoding, Referred
    from rawlux.hdr.gainmap import apply_gainmap, downsample
    from rawlux.portrait.bokeh import render_bokeh

    mh, mw = gm.data.shape[:2]
    sdr_small = downsample(srgb_decode_fast(np.ascontiguousarray(before.data)), mh, mw)
    hdr_small = np.maximum(apply_gainmap(sdr_small, gm), 0.0)
    hdr_img = Image(np.ascontiguousarray(hdr_small, np.float32), before.space, Encoding.LINEAR,
                    Referred.SCENE)
    m = None if matte is None else cv2.resize(np.asarray(matte, np.float32), (mw, mh),
                                              interpolation=cv2.INTER_AREA)
    d = cv2.resize(np.asarray(disparity, np.float32), (mw, mh), interpolation=cv2.INTER_AREA)
    out = render_bokeh(hdr_img, d, focus_disparity, lens, params, matte=m)
    after_small = downsample(srgb_decode_fast(np.ascontiguousarray(after.data)), mh, mw)
    return regain(after_small, out.data, gm)
