"""Tone curve: scene-referred linear -> display-referred linear [0, 1] (a film-like S-curve).

Parameters (all scalars):

* ``pivot`` — scene value (linear, e.g. 0.18 = middle grey) that maps to ``grey``;
* ``grey`` — display-linear output of the pivot (0.18 keeps grey where neutral puts it);
* ``contrast`` — log-log slope of the curve at the pivot (1 = colorimetric midtone contrast);
* ``white`` — stops above the pivot that reach display white 1.0 (the shoulder's end);
* ``toe`` — 0..1 shadow crush (0 = none);
* ``black`` — display black level, 0..0.1 (a film-like fade; 0 keeps true black).

The core is a Naka-Rushton curve ``y = m u^c / (u^c + s)`` in ``u = x / pivot`` with ``m, s, c``
solved so that ``y(1) = grey``, ``y(2^white) = 1`` and the slope at the pivot is ``contrast``;
then a toe ``y <- (1 - toe) y + toe y^2 (1 + k) / (y + k)`` and the black lift
``y <- black + (1 - black) y``. The result is monotone, bounded in [black, 1] and maps 0 to black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import InvalidParameter

TOE_WIDTH = 0.03  # display-linear scale of the toe (k above)


@dataclass(frozen=True)
class CurveCoefficients:
    """Solved Naka-Rushton coefficients: ``y0 = m u^c / (u^c + s)`` clipped at 1 for u >= U."""

    m: float
    s: float
    c: float
    u_white: float


def solve_curve(grey: float, contrast: float, white: float) -> CurveCoefficients:
    """Solve ``m, s, c`` from display grey (0..1), pivot slope (> 0) and white (stops > 0)."""
    if not (0.0 < grey < 1.0) or not contrast > 0.0 or not white > 0.0:
        raise InvalidParameter(
            f"tone curve needs 0 < grey < 1, contrast > 0, white > 0; got {grey}, {contrast}, {white}")
    u_white = 2.0 ** white
    c = contrast / (1.0 - grey)
    s = (1.0 - grey) / grey
    for _ in range(60):
        uc = u_white ** c
        if grey * uc <= 1.0 + 1e-6:  # white too close to the pivot for this slope: raise c
            c = np.log(2.0 / grey) / np.log(u_white)
            uc = u_white ** c
        s = uc * (1.0 - grey) / (grey * uc - 1.0)
        c_new = contrast * (1.0 + s) / s
        if abs(c_new - c) < 1e-10:
            c = c_new
            break
        c = c_new
    uc = u_white ** c
    if grey * uc <= 1.0:
        raise InvalidParameter(
            f"tone curve: white = {white} stops is too close to the pivot for contrast {contrast}")
    s = uc * (1.0 - grey) / (grey * uc - 1.0)
    if abs(c * s / (1.0 + s) - contrast) > 1e-3 * contrast:
        raise InvalidParameter(
            f"tone curve: white = {white} stops is too close to the pivot for contrast {contrast} "
            f"and grey {grey}")
    return CurveCoefficients(m=grey * (1.0 + s), s=float(s), c=float(c), u_white=float(u_white))


def tone_curve(x: np.ndarray, pivot: float = 0.18, grey: float = 0.18, contrast: float = 1.0,
               white: float = 6.0, toe: float = 0.0, black: float = 0.0) -> np.ndarray:
    """Apply the tone curve to scene-linear ``x`` (>= 0, any shape); returns display [black, 1]."""
    if not pivot > 0.0 or not (0.0 <= toe <= 1.0) or not (0.0 <= black < 1.0):
        raise InvalidParameter(f"tone curve needs pivot > 0, toe in [0,1], black in [0,1); "
                               f"got {pivot}, {toe}, {black}")
    k = solve_curve(grey, contrast, white)
    x64 = np.asarray(x, dtype=np.float64)
    u = np.maximum(x64, 0.0) / pivot
    with np.errstate(over="ignore", invalid="ignore"):
        uc = np.power(np.minimum(u, k.u_white), k.c)
        y = np.where(u >= k.u_white, 1.0, k.m * uc / (uc + k.s))
    y = np.clip(np.nan_to_num(y, nan=0.0), 0.0, 1.0)
    if toe > 0.0:
        y = (1.0 - toe) * y + toe * y * y * (1.0 + TOE_WIDTH) / (y + TOE_WIDTH)
    y = black + (1.0 - black) * y
    return np.clip(y, 0.0, 1.0)


@dataclass(frozen=True)
class ToneTable:
    """The tone curve sampled on ``t = log2(x)``: ``values[i] = curve(2^(t_lo + i / scale))``.

    Node 0 holds the curve's value at 0 (``value_at_zero``; the curve is flat below ``t_lo`` =
    18 stops under the pivot), the last node is 1 (the curve has reached white there), so a
    lookup just clamps ``t`` to the table.
    """

    values: np.ndarray  # float32 (n,)
    t_lo: float
    scale: float  # nodes per stop
    value_at_zero: float


def tone_table(pivot: float, grey: float, contrast: float, white: float, toe: float,
               black: float, nodes_per_stop: int = 64, stops_below: float = 18.0,
               offset: float = 0.0) -> ToneTable:
    """Sample :func:`tone_curve` for the render kernel (linear interpolation in log2 x).

    ``offset`` (scene linear, >= 0) is a black point subtracted before the curve:
    the table holds ``curve(max(x - offset, 0))`` (the adaptive black of rawlux.looks.adapt)."""
    t_lo = float(np.log2(pivot) - stops_below)
    t_hi = float(np.log2(pivot) + white + 0.5 + np.log2(1.0 + offset / pivot))
    n = int(np.ceil((t_hi - t_lo) * nodes_per_stop)) + 1
    t = t_lo + np.arange(n) / nodes_per_stop
    x = np.maximum(np.exp2(t) - offset, 0.0)
    vals = tone_curve(x, pivot, grey, contrast, white, toe, black).astype(np.float32)
    zero = float(tone_curve(np.zeros(1), pivot, grey, contrast, white, toe, black)[0])
    vals[0] = zero
    return ToneTable(vals, t_lo, float(nodes_per_stop), zero)


CHROMA_GAIN_MAX = 3.0  # cap of the adaptive black's chroma gain (near the removed floor)


def chroma_gain(table: ToneTable, offset: float, amount: float) -> np.ndarray:
    """Chroma gain of the adaptive black on ``table``'s grid (float32): removing ``offset`` from
    every channel (not only from max(R, G, B)) stretches a pixel's distances below its max by
    ``x / (x - offset)``; ``amount`` (0..1) blends from 1 (norm only) to that, capped at
    :data:`CHROMA_GAIN_MAX` (at and below the floor the pixel is black anyway)."""
    t = table.t_lo + np.arange(len(table.values)) / table.scale
    x = np.exp2(t)
    with np.errstate(divide="ignore"):
        full = np.where(x > offset, x / np.maximum(x - offset, 1e-30), np.inf)
    g = 1.0 + amount * (np.minimum(full, CHROMA_GAIN_MAX) - 1.0)
    return g.astype(np.float32)


def apply_tone_table(t: np.ndarray, table: ToneTable) -> np.ndarray:
    """Numpy reference of the kernel's lookup: curve value at log2-exposure ``t`` (float array)."""
    pos = (np.asarray(t, np.float64) - table.t_lo) * table.scale
    n = len(table.values)
    out = np.interp(pos, np.arange(n), table.values.astype(np.float64), left=table.value_at_zero,
                    right=1.0)
    return out


# --------------------------------------------------------------------------- neutral shoulder
#
# The neutral look is colorimetric below a knee and rolls the rest of the scene's range off
# smoothly into display white instead of clipping it. In stops above the knee,
# ``L = log2(x / knee)`` and ``Y = log2(f / knee)``:
#
#     f(x) = x                                  for x <= knee
#     Y    = L / (1 + L / b)                    for knee < x < white
#     f(x) = 1                                  for x >= white
#
# with ``b`` solved so that ``f(white) = 1``. The log-log slope is 1 at the knee (so f is C1 with
# slope 1 there) and falls smoothly as ``1 / (1 + L / b)^2``: the stops above the knee are
# spread over the shoulder instead of piling up just below white. f is strictly increasing on
# [0, white]. ``white`` is the scene value that just reaches display white (for the neutral look:
# the image's own bright end, rawlux.looks.render.neutral_white); the knee is lower the more
# headroom there is to roll off (``shoulder_knee``).

SHOULDER_KNEE_STOPS = 4.0  # knee = 2^(-headroom / this): 1 stop of headroom -> 0.84
SHOULDER_MIN_KNEE = 0.5  # lowest knee (display linear; sRGB 188/255)
SHOULDER_TABLE = 4096  # samples of f(x) / x on [knee, white] used by the kernel


def shoulder_knee(white: float) -> float:
    """Knee (display linear, in [SHOULDER_MIN_KNEE, 1]) of a shoulder ending at scene ``white``."""
    stops = max(float(np.log2(max(white, 1.0))), 0.0)
    return max(2.0 ** (-stops / SHOULDER_KNEE_STOPS), SHOULDER_MIN_KNEE)


def shoulder_b(knee: float, white: float) -> float:
    """Shoulder constant ``b`` (stops) so that ``f(white) = 1`` (needs ``0 < knee < 1 < white``)."""
    if not (0.0 < knee < 1.0 < white):
        raise InvalidParameter(f"shoulder needs 0 < knee < 1 < white, got knee {knee}, white {white}")
    lw = np.log2(white / knee)
    yw = np.log2(1.0 / knee)
    return float(lw * yw / (lw - yw))


def shoulder_curve(x: np.ndarray, knee: float, white: float) -> np.ndarray:
    """Reference (float64) shoulder: identity up to ``knee``, ``1`` from ``white`` on; ``x`` >= 0
    (with ``white <= 1`` it is a plain clip at 1)."""
    x64 = np.asarray(x, dtype=np.float64)
    if white <= 1.0:
        return np.minimum(x64, 1.0)
    b = shoulder_b(knee, white)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.log2(np.maximum(x64, knee) / knee)
        f = knee * np.exp2(ll / (1.0 + ll / b))
    return np.where(x64 <= knee, x64, np.where(x64 >= white, 1.0, f))


def shoulder_table(knee: float, white: float) -> np.ndarray:
    """float32 (SHOULDER_TABLE + 1,) samples of ``f(x) / x`` for ``x`` uniform on [knee, white]."""
    x = np.linspace(knee, white, SHOULDER_TABLE + 1)
    return (shoulder_curve(x, knee, white) / x).astype(np.float32)
