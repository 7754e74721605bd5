"""Running a develop pipeline: the plan for the raw's contract, plus the HDR gain map when the
output stage asks for one (``output.hdr``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rawlux.core.image import Image, RawImage
from rawlux.core.pipeline import Pipeline


def run_pipeline(pipeline: Pipeline, raw: RawImage,
                 on_stage: Callable[[str, int, int], None] | None = None) -> Image:
    """Run ``pipeline``'s plan for ``raw`` (a float normalised raw, e.g. a merged burst or
    bracket, enters after black_level). With ``output.hdr`` the result also carries a gain map
    from the same develop (:func:`rawlux.hdr.render.develop_gainmap`; saved as Ultra HDR JPEG or
    10-bit PQ/HLG AVIF/HEIC)."""
    out: Any = pipeline.stages[-1].params if pipeline.stages else None
    if not getattr(out, "hdr", False):
        return pipeline.run_plan(raw, on_stage=on_stage)
    from rawlux.hdr.render import HdrParams, develop_gainmap  # lazy: only --hdr loads it

    hp = HdrParams(headroom=out.headroom, transfer=str(out.transfer))
    return develop_gainmap(pipeline, raw, hp, on_stage=on_stage)


def check_hdr(outputs: Any, output_params: Any) -> None:
    """Before any work: with ``hdr`` every output can hold a gain map (.jpg, .avif, .heic) and is
    display-referred; without it a ``headroom`` is refused (it would do nothing)."""
    from rawlux.core.errors import InvalidParameter

    if not getattr(output_params, "hdr", False):
        if getattr(output_params, "headroom", None) is not None:
            raise InvalidParameter("--headroom applies with --hdr only")
        return
    from rawlux.hdr.render import check_hdr_outputs

    check_hdr_outputs(outputs, bool(output_params.scene_referred))
