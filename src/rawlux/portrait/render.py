"""Portrait mode end to end on pixels: mask -> depth -> focal plane -> lens bokeh.

``portrait(img, ...)`` takes a developed :class:`Image` (any space/encoding) and returns a
:class:`PortraitResult` with the rendered image plus the mask and depth that were used. It does
no file I/O (the CLI reads the photo and any embedded depth with ``rawlux.io``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.portrait.bokeh import BokehParams, render_bokeh
from rawlux.portrait.depth import DepthMap, depth_from_cues, focus_disparity
from rawlux.portrait.lens import LensParams, load_lens
from rawlux.portrait.mask import SegmentationModel, subject_mask


@dataclass(frozen=True)
class PortraitResult:
    """The rendered image, the subject matte (float32 (H, W) [0, 1] or None when not needed),
    the depth used and the focal-plane disparity."""

    image: Image
    mask: np.ndarray | None
    depth: DepthMap
    focus_disparity: float

    __hash__ = object.__hash__


def _encoded_rgb(img: Image) -> np.ndarray:
    if img.encoding is Encoding.LINEAR:
        from rawlux.color.transfer import encode

        return encode(np.clip(img.data, 0.0, 1.0), Encoding.SRGB)
    return img.data


def portrait(img: Image, *, lens: LensParams | str | Path = "50", aperture: float = 0.0,
             focus: tuple[float, float] | None = None, depth: DepthMap | None = None,
             mask: np.ndarray | None = None, model: SegmentationModel | None = None,
             framing: float = 1.0, need_mask: bool = False,
             params: BokehParams | None = None) -> PortraitResult:
    """Render a portrait.

    ``lens``: LensParams, a built-in name (35, 50, 75, 90) or a lens TOML path. ``aperture``:
    f-number (0 = the lens default). ``focus``: (x, y) fractions of the frame, else the recorded
    focal point of the depth map, else the subject. ``depth``: a depth map (any size, resized);
    None -> layered depth from the mask and image cues. ``mask``: a given subject matte (H, W)
    in [0, 1]; None -> run ``model`` (default: bundled U^2-Net-p) when needed (no depth, no focus
    point, or ``need_mask``).
    """
    if not isinstance(img, Image):
        raise ContractError(f"portrait() needs an Image, got {type(img).__name__}")
    lens_p = lens if isinstance(lens, LensParams) else load_lens(lens)
    if params is None:
        params = BokehParams(aperture=aperture, framing=framing)
    h, w = img.height, img.width
    if mask is not None:
        mask = np.asarray(mask, np.float32)
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.shape != (h, w):
            import cv2

            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        mask = np.clip(mask, 0.0, 1.0)
    rgb = None
    want_mask = need_mask or depth is None or (focus is None and (depth.focus is None))
    if mask is None and want_mask:
        rgb = _encoded_rgb(img)
        mask = subject_mask(rgb, model)
    if depth is None:
        if mask is None:
            raise InvalidParameter("no depth map and no subject mask: cannot place the focal plane")
        rgb = _encoded_rgb(img) if rgb is None else rgb
        depth = depth_from_cues(np.ascontiguousarray(rgb, np.float32), mask)
    else:
        depth = depth.resized(h, w)
    point = focus if focus is not None else depth.focus
    fd = focus_disparity(depth.disparity, point=point, mask=mask if point is None else None)
    out = render_bokeh(img, depth.disparity, fd, lens_p, params)
    return PortraitResult(out, mask, depth, fd)


def grey_image(values: np.ndarray, like: Image | None = None) -> Image:
    """A float32 (H, W) map in [0, 1] as a grey sRGB-encoded display Image (for saving)."""
    v = np.clip(np.asarray(values, np.float32), 0.0, 1.0)
    data = np.ascontiguousarray(np.repeat(v[..., None], 3, axis=2))
    meta = like.metadata if like is not None else None
    kw = {"metadata": meta} if meta is not None else {}
    return Image(data, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY, **kw)
