"""The frame as a pipeline stage (for recipes and the studio): ``FrameParams`` + ``STAGE``.

The logo is pixels, not a parameter: stage use draws layouts without a logo; call
:func:`rawlux.frame.apply_frame` directly to pass one.
"""

from __future__ import annotations

from dataclasses import dataclass

from rawlux.core.image import Encoding, Image, Referred
from rawlux.core.params import StageParams, param
from rawlux.frame.render import apply_frame
from rawlux.core.pipeline import Contract, StageDef
from rawlux.frame.layout import load_layout
from rawlux.frame.template import parse_template


@dataclass(frozen=True)
class FrameParams(StageParams):
    """EXIF frame around a finished (display-encoded) photo."""

    layout: str = param("bar", doc="layout name (bar, bar-dark, border, polaroid, minimal) or .toml path")
    text: str = param("", doc="caption template replacing the layout's caption; empty = layout's own")

    def __post_init__(self) -> None:
        super().__post_init__()
        load_layout(self.layout)
        if self.text:
            parse_template(self.text)


def frame(img: Image, params: FrameParams) -> Image:
    """Display-encoded Image -> framed Image (photo region unchanged, margins added)."""
    return apply_frame(img, params.layout, text=params.text or None)


STAGE = StageDef(
    "frame",
    frame,
    FrameParams,
    takes=Contract(Image, "float32", None, Encoding.SRGB, Referred.DISPLAY),
    gives=Contract(Image, "float32", None, Encoding.SRGB, Referred.DISPLAY),
)
