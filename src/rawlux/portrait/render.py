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
from rawlux.color.transfer import encode
from rawlux.portrait.mask import SUBJECT_MODES, find_subject


SCENE_FRAMING = 10.0  # metres: default framing of a scene without a subject
SUBJECT_FRAMING = 1.0  # metres: default framing with a subject (head and shoulders)


@dataclass(frozen=True)
class PortraitResult:
    """The rendered image, the subject matte (float32 (H, W) [0, 1] or None when not needed),
    the depth used, the focal-plane disparity and the subject decision: ``note`` is one line
    saying why no subject was used (empty when there is one or none was looked for)."""

    image: Image
    mask: np.ndarray | None
    depth: DepthMap
    focus_disparity: float
    note: str = ""

    __hash__ = object.__hash__


def _encoded_rgb(img: Image) -> np.ndarray:
    if img.encoding is Encoding.LINEAR:
        return encode(np.clip(img.data, 0.0, 1.0), Encoding.SRGB)
    return img.data


def portrait(img: Image, *, lens: LensParams | str | Path = "50", aperture: float = 0.0,
             focus: tuple[float, float] | None = None, depth: DepthMap | None = None,
             mask: np.ndarray | None = None, model: SegmentationModel | None = None,
             framing: float | None = None, need_mask: bool = False, subject: str = "auto",
             params: BokehParams | None = None) -> PortraitResult:
    """Render a portrait.

    ``lens``: LensParams, a built-in name (35, 50, 75, 90) or a lens TOML path. ``aperture``:
    f-number (0 = the lens default). ``focus``: (x, y) fractions of the frame, else the recorded
    focal point of the depth map (GFocus), else the subject matte, else the depth map's nearest
    central region (:func:`~rawlux.portrait.depth.nearest_region_disparity`). ``depth``: a depth
    map (any size, resized); None -> layered depth from the subject and image cues. ``mask``: a
    given subject matte (H, W) in [0, 1]. Without depth and mask the subject is decided here
    (:func:`~rawlux.portrait.mask.find_subject` with ``subject`` = auto | salient | none, run
    with ``model``, default the bundled U^2-Net-p): with no clear subject the focus is ``focus``
    or the frame centre, the depth is scene depth and the default ``framing`` is 10 m instead
    of 1 m; ``PortraitResult.note`` says why. With a depth map the model runs only with
    ``need_mask`` (to return the matte; the matte then places the focus when no point is
    given). ``params`` overrides ``aperture`` and ``framing``.
    """
    if not isinstance(img, Image):
        raise ContractError(f"portrait() needs an Image, got {type(img).__name__}")
    if subject not in SUBJECT_MODES:
        raise InvalidParameter(
            f"subject mode {subject!r} is unknown; valid: {', '.join(SUBJECT_MODES)}")
    lens_p = lens if isinstance(lens, LensParams) else load_lens(lens)
    h, w = img.height, img.width
    if mask is not None:
        mask = np.asarray(mask, np.float32)
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.shape != (h, w):
            import cv2

            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        mask = np.clip(mask, 0.0, 1.0)
    note = ""
    scene = False
    if depth is None and mask is None:
        found = find_subject(img, model, mode=subject)
        mask = found.mask
        if mask is None:
            scene = True
            note = found.why
            if focus is None:
                focus = (0.5, 0.5)
    elif depth is not None and mask is None and need_mask:
        mask = subject_mask(_encoded_rgb(img), model)
    from_cues = depth is None and not scene
    if depth is None:
        rgb = np.ascontiguousarray(_encoded_rgb(img), np.float32)
        depth = depth_from_cues(rgb, mask)
        if mask is None:
            mask = np.zeros((h, w), np.float32)
    else:
        depth = depth.resized(h, w)
    if params is None:
        fr = framing if framing is not None else (SCENE_FRAMING if scene else SUBJECT_FRAMING)
        params = BokehParams(aperture=aperture, framing=fr)
    point = focus if focus is not None else depth.focus
    fd = focus_disparity(depth.disparity, point=point,
                         mask=mask if point is None and not scene else None)
    # layered depth puts the matte at disparity 1: its edge is composited by the matte
    out = render_bokeh(img, depth.disparity, fd, lens_p, params,
                       matte=mask if from_cues and mask is not None else None)
    return PortraitResult(out, mask, depth, fd, note)


def grey_image(values: np.ndarray, like: Image | None = None) -> Image:
    """A float32 (H, W) map in [0, 1] as a grey sRGB-encoded display Image (for saving)."""
    v = np.clip(np.asarray(values, np.float32), 0.0, 1.0)
    data = np.ascontiguousarray(np.repeat(v[..., None], 3, axis=2))
    meta = like.metadata if like is not None else None
    kw = {"metadata": meta} if meta is not None else {}
    return Image(data, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY, **kw)
