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
               black: float, nodes_per_stop: int = 64, stops_below: float = 18.0) -> ToneTable:
    """Sample :func:`tone_curve` for the render kernel (linear interpolation in log2 x)."""
    t_lo = float(np.log2(pivot) - stops_below)
    t_hi = float(np.log2(pivot) + white + 0.5)
    n = int(np.ceil((t_hi - t_lo) * nodes_per_stop)) + 1
    t = t_lo + np.arange(n) / nodes_per_stop
    vals = tone_curve(np.exp2(t), pivot, grey, contrast, white, toe, black).astype(np.float32)
    zero = float(tone_curve(np.zeros(1), pivot, grey, contrast, white, toe, black)[0])
    vals[0] = zero
    return ToneTable(vals, t_lo, float(nodes_per_stop), zero)


def apply_tone_table(t: np.ndarray, table: ToneTable) -> np.ndarray:
    """Numpy reference of the kernel's lookup: curve value at log2-exposure ``t`` (float array)."""
    pos = (np.asarray(t, np.float64) - table.t_lo) * table.scale
    n = len(table.values)
    out = np.interp(pos, np.arange(n), table.values.astype(np.float64), left=table.value_at_zero,
                    right=1.0)
    return out
