"""Exposure-bracket merge in the raw domain: N Bayer raws of one scene at different exposures ->
one scene-referred float32 raw holding the whole range.

Per frame ``i`` with relative exposure ``E_i`` (time x ISO / f-number^2, EXIF) and reference
``r`` (the median exposure: its geometry and colour are kept), each normalised sample ``x_i`` is
an estimate of the reference-scaled radiance ``e_i = x_i * E_r / E_i`` with variance
``(a x_i + b) (E_r / E_i)^2`` from the noise model ``(a, b)``. The merge is the inverse-variance
weighted mean of the estimates, each weight multiplied by

* a clipping ramp on the 2x2 quad's largest sample (1 below 85 % of white, 0 from 95 %): a clipped
  sample never contributes and all four channels of a quad drop together (no colour shift);
* a ghost test against the reference (3x3 box means of both estimates in grey, a difference of more
  than ``ghost`` noise sigmas drops the frame there): moving objects come from the reference
  alone. Where the reference is clipped the shorter frames are the only information and are used.

Frames are aligned to the reference with night mode's tile alignment (``burst/align.py``) on grey
images scaled to the reference's exposure and clipped to the range both hold, and resampled with
its Bayer warp (``burst/resample.py``). The result is scaled so its 99.99th percentile is at most
1 and the scale goes into ``baseline_exposure``: a normal develop renders it at the reference's
brightness, and a DNG writer stores it with the right BaselineExposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from rawlux.core.errors import BurstMismatch, InvalidParameter, UnsupportedInput
from rawlux.core.image import NoiseProfile, RawImage
from rawlux.core.params import StageParams, param

CLIP_LO, CLIP_HI = 0.85, 0.95  # clipping ramp (fraction of white) on the quad's largest sample
MIN_STEP_EV = 0.25  # exposures closer than this are "the same"


@dataclass(frozen=True)
class BracketParams(StageParams):
    """Raw bracket merge parameters."""

    reference: int = param(-1, lo=-1, hi=63, doc="frame whose geometry is kept (-1 = median exposure)")
    align: bool = param(True, doc="align frames to the reference (handheld brackets)")
    ghost: float = param(4.0, lo=1.0, hi=100.0, unit="sigma",
                         doc="difference from the reference (noise sigmas) that marks a moving object")


def relative_exposure(raw: RawImage, name: str = "") -> float:
    """Exposure of a frame in arbitrary linear units: time x ISO / f-number^2 (ISO and f-number
    only when known). Raises :class:`InvalidParameter` without an exposure time."""
    md = raw.metadata
    t = md.exposure_time
    if t is None or not math.isfinite(t) or t <= 0:
        raise InvalidParameter(f"{name or raw.source or 'frame'}: no exposure time in the file; "
                               "a bracket merge needs each frame's exposure")
    e = float(t)
    if md.iso and md.iso > 0:
        e *= float(md.iso) / 100.0
    if md.f_number and md.f_number > 0:
        e /= float(md.f_number) ** 2
    return e


def _load(frame: Any) -> RawImage:
    if not isinstance(frame, RawImage):
        raise InvalidParameter(f"a bracket frame must be a RawImage (open files with "
                               f"rawlux.open_burst), got {type(frame).__name__}")
    raw = frame
    if raw.data.dtype == np.uint16:
        from rawlux.isp.black_level import black_level

        raw = black_level(raw)
    return raw


def _name(frame: Any, i: int) -> str:
    return str(getattr(frame, "source", None) or f"frame {i}")


def check_bracket(raws: Sequence[RawImage], names: Sequence[str]) -> list[float]:
    """Relative exposures of a valid bracket; clear errors for what cannot be merged."""
    if len(raws) < 2:
        raise InvalidParameter(f"a bracket merge needs at least two frames, got {len(raws)}")
    ref, rn = raws[0], names[0]
    if not ref.cfa.is_bayer:
        raise UnsupportedInput(f"bracket merge takes Bayer raws, this frame is {ref.cfa.value}", rn)
    if ref.height < 32 or ref.width < 32:
        raise UnsupportedInput(f"frame is too small to merge ({ref.width}x{ref.height})", rn)
    for raw, name in zip(raws[1:], names[1:]):
        if raw.data.shape != ref.data.shape:
            raise BurstMismatch(f"frame size {raw.width}x{raw.height} differs from "
                                f"{ref.width}x{ref.height} ({rn})", name)
        if raw.cfa is not ref.cfa:
            raise BurstMismatch(f"CFA {raw.cfa.value} differs from {ref.cfa.value} ({rn})", name)
        cam = f"{raw.metadata.make or ''} {raw.metadata.model or ''}".strip()
        rcam = f"{ref.metadata.make or ''} {ref.metadata.model or ''}".strip()
        if cam != rcam:
            raise BurstMismatch(f"camera {cam or '(unknown)'!r} differs from {rcam or '(unknown)'!r} "
                                f"({rn})", name)
    ev = [relative_exposure(r, n) for r, n in zip(raws, names)]
    order = np.argsort(ev)
    for a, b in zip(order, order[1:]):
        if abs(math.log2(ev[b] / ev[a])) < MIN_STEP_EV:
            raise InvalidParameter(f"{names[a]} and {names[b]} have the same exposure "
                                   f"({_fmt_time(raws[a])}); a bracket needs different exposures")
    return ev


def _fmt_time(raw: RawImage) -> str:
    t = raw.metadata.exposure_time or 0.0
    return f"1/{round(1 / t)} s" if 0 < t < 1 else f"{t:g} s"


def _noise(raw: RawImage) -> tuple[float, float]:
    from rawlux.burst.noise import noise_model

    prof = noise_model(raw)
    pairs = np.asarray(prof.pairs, np.float64).reshape(-1, 2)
    a, b = float(np.mean(pairs[:, 0])), float(np.mean(pairs[:, 1]))
    return max(a, 1e-7), max(b, 1e-10)


def _box3(a: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.blur(a, (3, 3), borderType=cv2.BORDER_REFLECT)


def _quad_max(planes: np.ndarray) -> np.ndarray:
    return planes.max(axis=0)


def _clip_weight(qmax: np.ndarray) -> np.ndarray:
    return np.clip((CLIP_HI - qmax) / (CLIP_HI - CLIP_LO), 0.0, 1.0).astype(np.float32)


def _aligned_planes(raw: RawImage, ref_grey: np.ndarray | None, k: float, align_p: Any) -> np.ndarray:
    """Bayer planes of ``raw`` on the reference's grid (aligned by tiles, like night mode).

    Both grey images are brought to the reference's exposure and clipped at the level both still
    hold (the longer frame's clipping point), so the tile search compares like with like. Tiles
    where that leaves the reference flat (clipped) carry no information: they take the frame's
    global motion (median of the informative tiles)."""
    import cv2

    from rawlux.burst.align import align, gradients, grey_image, pyramid
    from rawlux.burst.noise import bayer_planes
    from rawlux.burst.resample import green_cd, warp_bayer, wb_gains

    if ref_grey is None:
        return bayer_planes(raw.data)
    level = np.float32(CLIP_LO * min(1.0, k))
    g = grey_image(raw.data) * np.float32(k)
    np.minimum(g, level, out=g)
    rg = np.minimum(ref_grey, level)
    ref_pyr = pyramid(rg, align_p.levels)
    disp = align(ref_pyr, pyramid(g, align_p.levels), align_p, gradients(ref_pyr[0]))
    ny, nx = disp.shape[:2]
    flat = cv2.resize((rg >= level * 0.98).astype(np.float32), (nx, ny), interpolation=cv2.INTER_AREA)
    bad = flat > 0.3
    if bad.any() and (~bad).any():
        disp[bad] = np.median(disp[~bad], axis=0)
    pattern = np.asarray(raw.cfa_pattern, np.int64)
    gains = wb_gains(raw)
    green, cd = green_cd(raw.data, pattern, gains)
    return warp_bayer(green, cd, pattern, gains, np.ascontiguousarray(disp, np.float32), align_p.tile)


def merge_brackets(frames: Sequence[Any], params: BracketParams = BracketParams()) -> RawImage:
    """Merge an exposure bracket (Bayer RawImages, any order, e.g. :func:`rawlux.open_burst`'s
    frames; all are held while merging) into one float32 normalised raw in the reference frame's geometry (see the module docstring).
    ``metadata.extra['bracket']`` records exposures (EV relative to the reference), the reference
    and the fraction of pixels each frame contributed."""
    from rawlux.burst.align import AlignParams, grey_image
    from rawlux.burst.noise import bayer_planes, planes_to_mosaic
    from rawlux.core.memory import reuse_freed_memory

    frames = list(frames)
    names = [_name(f, i) for i, f in enumerate(frames)]
    with reuse_freed_memory():
        raws = [_load(f) for f in frames]
        ev = check_bracket(raws, names)
        n = len(raws)
        r = params.reference if params.reference >= 0 else int(np.argsort(ev)[n // 2])
        if r >= n:
            raise InvalidParameter(f"reference {r} is outside the bracket of {n} frame(s)")
        ref = raws[r]
        k = [ev[r] / e for e in ev]  # multiply frame i by k[i] to get reference units
        ap = AlignParams()
        ref_g = grey_image(ref.data) if params.align else None
        a, b = _noise(ref)
        p_ref = bayer_planes(ref.data)
        ph, pw = p_ref.shape[1:]
        q_ref = _quad_max(p_ref)
        w_ref_clip = _clip_weight(q_ref)
        ref_grey = _box3(p_ref.mean(axis=0))
        var_ref = (a * np.maximum(ref_grey, 0) + b) / 9.0
        acc = np.zeros((4, ph, pw), np.float32)
        wsum = np.zeros((ph, pw), np.float32)
        shortest = int(np.argmin(ev))
        fallback = None
        used = []
        for i in range(n):
            planes = p_ref if i == r else _aligned_planes(raws[i], ref_g, k[i], ap)
            ki = np.float32(k[i])
            qmax = _quad_max(planes)
            w = _clip_weight(qmax)
            grey = planes.mean(axis=0)
            w *= np.float32(1.0 / (k[i] ** 2)) / (a * np.maximum(grey, 0.0) + b)
            if i != r:  # ghosts: disagreeing with the reference where the reference is valid
                e_grey = _box3(grey) * ki
                var_i = (a * np.maximum(_box3(grey), 0) + b) * ki * ki / 9.0
                z = np.abs(e_grey - ref_grey) / np.sqrt(var_i + var_ref)
                ghost = (z > params.ghost) & (w_ref_clip > 0.5) & (_clip_weight(_box3(qmax)) > 0.5)
                if ghost.any():
                    import cv2

                    ghost = cv2.dilate(ghost.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
                    w[ghost] = 0.0
            acc += planes * (w * ki)[None]
            wsum += w
            used.append(w)
            if i == shortest:
                fallback = planes * ki
            del planes
        empty = wsum <= 0
        out = acc / np.where(empty, 1.0, wsum)[None]
        if empty.any():
            out[:, empty] = fallback[:, empty]
        total = np.maximum(wsum, 1e-30)
        share = [float(np.mean(u / total)) for u in used]
        data = planes_to_mosaic(out.astype(np.float32), ref.data)
        sample = data[::7, ::7]
        top = float(np.percentile(sample, 99.99)) if sample.size else 1.0
        s = max(1.0, top)
        if s > 1.0:
            data /= np.float32(s)
        prof = NoiseProfile(np.array([[a / s, b / (s * s)]], np.float64))
        md = ref.metadata
        extra = {**(md.extra or {}), "bracket": {
            "frames": n, "reference": r, "ev": [round(math.log2(e / ev[r]), 3) for e in ev],
            "share": [round(v, 4) for v in share], "scale_ev": round(math.log2(s), 4)}}
        return replace(ref, data=np.ascontiguousarray(data, np.float32), noise_profile=prof,
                       baseline_exposure=float(ref.baseline_exposure) + math.log2(s),
                       metadata=replace(md, extra=extra), opcodes1=())


def exposure_groups(raws: Sequence[RawImage], names: Sequence[str] | None = None) -> list[list[int]]:
    """Frame indices grouped by exposure, shortest first: frames whose relative exposures are
    within :data:`MIN_STEP_EV` of the group's first one share a group (an HDR+ style capture:
    several short frames and one long frame gives two groups)."""
    names = list(names) if names is not None else [_name(r, i) for i, r in enumerate(raws)]
    ev = [relative_exposure(r, n) for r, n in zip(raws, names)]
    groups: list[list[int]] = []
    for i in sorted(range(len(raws)), key=lambda k: ev[k]):
        if groups and abs(math.log2(ev[i] / ev[groups[-1][0]])) < MIN_STEP_EV:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def merge_exposures(frames: Sequence[Any], params: BracketParams = BracketParams(),
                    burst: Any = None) -> RawImage:
    """Merge a capture of several exposures, each possibly taken several times (HDR+ with
    bracketing: a burst of short frames plus one long frame). Frames of one exposure are first
    merged as a burst (:func:`rawlux.burst.merge.merge_burst`, ``burst`` = its MergeParams;
    geometry of the group's first frame), then the groups as a bracket (:func:`merge_brackets`).
    A capture with a single exposure is refused (that is a night burst)."""
    from rawlux.burst.merge import merge_burst

    raws = [_load(f) for f in frames]
    names = [_name(r, i) for i, r in enumerate(raws)]
    if len(raws) < 2:
        raise InvalidParameter(f"a bracket merge needs at least two frames, got {len(raws)}")
    groups = exposure_groups(raws, names)
    if len(groups) < 2:
        raise InvalidParameter(f"all {len(raws)} frames have the same exposure "
                               f"({_fmt_time(raws[0])}); a bracket needs different exposures "
                               "(one exposure is a burst: rawlux night)")
    if all(len(g) == 1 for g in groups):
        return merge_brackets(raws, params)
    parts = []
    for g in groups:
        if len(g) == 1:
            parts.append(raws[g[0]])
        else:
            parts.append(merge_burst([raws[i] for i in g], 0, params=burst))
    if params.reference >= len(raws):
        raise InvalidParameter(f"reference {params.reference} is outside the capture of "
                               f"{len(raws)} frame(s)")
    if params.reference >= 0:  # a frame index: the part holding that frame
        params = replace(params, reference=next(k for k, g in enumerate(groups)
                                                if params.reference in g))
    merged = merge_brackets(parts, params)
    info = dict(merged.metadata.extra["bracket"], groups=[len(g) for g in groups])
    return replace(merged, metadata=replace(merged.metadata,
                                            extra={**merged.metadata.extra, "bracket": info}))
