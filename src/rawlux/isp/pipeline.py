"""Moved to :mod:`rawlux.core.pipeline` (issue 12); this re-export keeps code written against the
old path (branches in flight) importing. New code imports ``rawlux.core.pipeline``."""

from rawlux.core.pipeline import (  # noqa: F401
    CAMERA_LINEAR,
    RAW_DN,
    RAW_NORM,
    Contract,
    Pipeline,
    Stage,
    StageDef,
)
