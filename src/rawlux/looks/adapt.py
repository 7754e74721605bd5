"""Scene-adaptive key and black point of a look (``[adapt]``, :class:`~rawlux.looks.spec.AdaptSpec`).

A look's tone curve is fixed, but scenes are not: a hazy, over-bright scene (veiling glare lifts
every dark value, a high BaselineExposure puts the median far above middle grey) comes out
washed out through a curve tuned for an average scene. From the low-resolution
``log2(max(R, G, B))`` the look already computes for local tone mapping:

* **black**: when the darkest ``black_percentile`` % would land above ``black_target``, a
  scene-linear black offset ``b`` is subtracted before the curve (``curve(max(x - b, 0))``),
  removing the share ``black`` of the floor that keeps them above it: the additive part of haze
  and flare. A scene whose darks already reach the target gets ``b = 0``.
* **key**: when the median (after the black offset) would still land above ``key_target``
  (display linear), the exposure is pulled down until it lands there, by at most ``key`` EV.
  Never brightened, so a dark, deliberately low-key scene is left alone.

Both only change the tone table and the kernel's exposure (no extra pixel pass). The result is
a function of the image, so an exported ``.cube`` of the look (global part only) has no
adaptation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.looks.spec import LookSpec
from rawlux.looks.tone import tone_curve


@dataclass(frozen=True)
class Adaptation:
    """What the look does to this image: ``exposure`` (EV, <= 0) added to the look's exposure
    and ``offset`` (scene linear after exposure, >= 0) subtracted before the tone curve;
    the measured ``black_log2`` / ``median_log2`` (log2 scene, with the look's exposure)."""

    exposure: float = 0.0
    offset: float = 0.0
    black_log2: float = float("nan")
    median_log2: float = float("nan")


NONE = Adaptation()


def _curve(spec: LookSpec):  # type: ignore[no-untyped-def]
    t = spec.tone
    return lambda x: tone_curve(x, t.pivot, t.grey, t.contrast, t.white, t.toe, t.black)


def measure(log_norm: np.ndarray, spec: LookSpec) -> Adaptation:
    """The adaptation of ``spec`` for an image whose low-resolution ``log2(max(R, G, B))`` (scene
    linear, before the look's exposure) is ``log_norm``; :data:`NONE` when ``[adapt]`` is off."""
    a = spec.adapt
    if not a.active:
        return NONE
    v = np.asarray(log_norm, np.float64).ravel()
    v = v[np.isfinite(v) & (v > -19.0)]  # black / NaN blocks carry no information
    if v.size == 0:
        return NONE
    p_black, p_med = (float(q) + spec.tone.exposure
                      for q in np.percentile(v, [a.black_percentile, 50.0]))
    curve = _curve(spec)
    b = 0.0  # black offset first (at the look's exposure)...
    x1 = float(np.exp2(p_black))
    if a.black > 0.0 and float(curve(x1)) > a.black_target > float(curve(0.0)):
        xs = x1 * np.exp2(np.linspace(-16.0, 0.0, 2049))
        x_t = float(np.interp(a.black_target, curve(xs), xs))
        b = a.black * max(x1 - x_t, 0.0)
    e = 0.0  # ...then the key of what is left: curve(2^e (median - b))
    m = max(float(np.exp2(p_med)) - b, 1e-12)
    if a.key > 0.0 and float(curve(m)) > a.key_target:
        es = np.linspace(-a.key, 0.0, 257)
        vals = curve(m * np.exp2(es))  # increasing in es
        e = float(np.interp(a.key_target, vals, es)) if vals[0] < a.key_target else -a.key
    # the kernel subtracts the offset after the exposure: scale it along
    return Adaptation(exposure=e, offset=b * 2.0**e, black_log2=p_black, median_log2=p_med)
