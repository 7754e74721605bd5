"""Moved to :mod:`rawlux.core.fused` (issue 12); this re-export keeps code written against the
old path (branches in flight) importing. New code imports ``rawlux.core.fused``."""

from rawlux.core.fused import (  # noqa: F401
    PixelMatrix,
    SiteAffine,
    apply_site_affine,
    apply_site_affine_reference,
)
