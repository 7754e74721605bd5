"""Local tone mapping for the SDR rendering of high-range scenes (merged brackets).

A look's tone curve holds about ``tone.white`` stops above its pivot and a few below before the
toe; a merged bracket can hold 12+. :func:`high_range_look` extends the look's own local tone
mapping (the guided-filter base/detail split of :mod:`rawlux.looks.local`) by the scene's excess
range: the base layer above the pivot is compressed by the share of highlight stops the curve
cannot show, dark regions are lifted by the share of shadow stops below its toe, the detail layer
is kept (edges of the base layer are edge-aware, so no halos), and the gain cap is raised to
match. A scene within the curve's range gets the look unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

SHADOW_STOPS = 6.0  # stops below the pivot a look's toe still shows as detail
MAX_HIGHLIGHTS = 0.7
MAX_SHADOWS = 0.5
HIGHLIGHT_ROOM = 2.5  # stops below the curve's white where its shoulder starts to flatten detail


def scene_range(scene: np.ndarray, pivot: float, exposure: float = 0.0) -> tuple[float, float]:
    """(stops above, stops below) the pivot of the scene's 99.5th / 2nd percentile of
    max(R, G, B) (strided sample; linear scene values, exposure in EV applied)."""
    step = max(1, int(np.sqrt(scene.shape[0] * scene.shape[1] / 250_000)))
    m = scene[::step, ::step].max(axis=2) * np.float32(2.0 ** exposure)
    lg = np.log2(np.maximum(m, 1e-8) / pivot)
    top, bottom = np.percentile(lg, [99.5, 2.0])
    return float(top), float(-bottom)


def high_range_look(spec: object, scene: np.ndarray) -> object:
    """``spec`` (a LookSpec) with local highlight compression and shadow lift for ``scene``
    (linear Rec.2020 scene-referred) when its range exceeds what the tone curve shows."""
    if getattr(spec, "is_neutral", False):
        return spec
    t, lo = spec.tone, spec.local
    above, below = scene_range(scene, t.pivot, t.exposure)
    hi_excess = above - (t.white - HIGHLIGHT_ROOM)
    lo_excess = below - SHADOW_STOPS
    if hi_excess <= 0 and lo_excess <= 0:
        return spec
    highlights = max(lo.highlights, float(np.clip(hi_excess / max(above, 1.0), 0.0, MAX_HIGHLIGHTS)))
    shadows = max(lo.shadows, float(np.clip(lo_excess / SHADOW_STOPS, 0.0, MAX_SHADOWS)))
    max_lift = max(lo.max_lift, float(min(4.0, max(hi_excess, lo_excess, 0.0) + 1.0)))
    local = replace(lo, highlights=highlights, shadows=shadows, max_lift=max_lift,
                    shadow_start=min(lo.shadow_start, 2.0) if shadows > lo.shadows else lo.shadow_start)
    return replace(spec, local=local)
