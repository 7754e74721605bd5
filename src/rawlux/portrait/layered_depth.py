"""Layered depth without a depth map: segments, sky, ground plane, focus layer.

The photo is cut into colour segments (Felzenszwalb-Huttenlocher graph segmentation on a
~384 px copy) and each segment gets **one** disparity, so a surface gets one blur:

* **focus layer**: the subject matte, grown to every segment it mostly covers (the whole wall
  or fuselage the matte only half found), disparity 1;
* **sky**: smooth blue or bright-neutral segments reached from the top edge, disparity ~0;
* **ground plane**: below the horizon the floor's disparity grows linearly with the row
  (pinhole camera over a flat floor), equal to the subject's at its lowest row (feet); segments
  that reach below the subject's feet follow it row by row (floor), other segments stand on it
  and take the floor's disparity at their own lowest row (walls, trees, sculptures);
* **defocus**: with no floor to place it, background detail that is already blurred in the
  photo is put a little farther.

Convention as in :mod:`rawlux.portrait.depth`: float32 disparity, ~1/distance, 0 = infinity,
subject = 1; values > 1 are in front of the subject.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rawlux.core.errors import ContractError
from rawlux.core.jit import njit
from rawlux.portrait.mask import guided_filter

WORK_SIDE = 384
SKY_DISPARITY = 0.02
BACKGROUND = 0.25  # disparity of a background with no floor cue (subject = 1)
MAX_DISPARITY = 4.0  # nearest floor, in subject units
MAX_GROWTH = 0.03  # largest area (fraction of the frame) one segment may add to the matte
FOCUS_SNAP = 0.1  # vertical surfaces within 10 % of the subject's disparity are put on it
GROW_DELTA_E = 15.0  # CIELAB distance from the covered part's mean colour for a grown pixel


@dataclass(frozen=True)
class Layers:
    """Work-resolution result: ``disparity`` float32 (h, w); ``focus`` float32 (h, w) in [0, 1]
    (the grown subject layer); ``sky`` bool (h, w); ``labels`` int32 segments; ``horizon`` and
    ``contact`` rows as fractions of the height (None when there is no floor cue)."""

    disparity: np.ndarray
    focus: np.ndarray
    sky: np.ndarray
    labels: np.ndarray
    horizon: float | None
    contact: float | None

    __hash__ = object.__hash__


@njit(cache=True)
def _find(parent, i):  # pragma: no cover - numba
    r = i
    while parent[r] != r:
        r = parent[r]
    while parent[i] != r:
        nxt = parent[i]
        parent[i] = r
        i = nxt
    return r


@njit(cache=True, nogil=True, aot="i8[::1](i8[::1], i8[::1], f4[::1], i8, f4, i8)")
def _fh_segment(a, b, w, n, k, min_size):  # pragma: no cover - numba
    """Felzenszwalb-Huttenlocher merge over edges sorted by weight; returns a root per node."""
    parent = np.arange(n)
    size = np.ones(n, np.int64)
    internal = np.zeros(n, np.float32)
    for e in range(w.shape[0]):
        ra = _find(parent, a[e])
        rb = _find(parent, b[e])
        if ra == rb:
            continue
        if w[e] <= min(internal[ra] + k / size[ra], internal[rb] + k / size[rb]):
            if size[ra] < size[rb]:
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
            internal[ra] = w[e]
    for e in range(w.shape[0]):
        ra = _find(parent, a[e])
        rb = _find(parent, b[e])
        if ra != rb and (size[ra] < min_size or size[rb] < min_size):
            if size[ra] < size[rb]:
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = _find(parent, i)
    return out


def segment(rgb: np.ndarray, *, k: float = 250.0, min_frac: float = 0.002) -> np.ndarray:
    """Felzenszwalb-Huttenlocher segmentation of an sRGB float32 (h, w, 3) [0, 1] image on a
    4/8-connected grid with CIELAB distances. ``k`` favours larger segments; segments smaller
    than ``min_frac`` of the image are merged into a neighbour. Returns int32 labels 0..n-1."""
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(np.ascontiguousarray(rgb, np.float32), (0, 0), 0.8),
                       cv2.COLOR_RGB2Lab)
    idx = np.arange(h * w).reshape(h, w)
    pairs = [(idx[:, :-1], idx[:, 1:], lab[:, :-1] - lab[:, 1:]),
             (idx[:-1, :], idx[1:, :], lab[:-1, :] - lab[1:, :]),
             (idx[:-1, :-1], idx[1:, 1:], lab[:-1, :-1] - lab[1:, 1:]),
             (idx[:-1, 1:], idx[1:, :-1], lab[:-1, 1:] - lab[1:, :-1])]
    a = np.concatenate([p[0].ravel() for p in pairs])
    b = np.concatenate([p[1].ravel() for p in pairs])
    wt = np.concatenate([np.sqrt((p[2] ** 2).sum(-1)).ravel() for p in pairs]).astype(np.float32)
    order = np.argsort(wt, kind="stable")
    roots = _fh_segment(a[order], b[order], wt[order], h * w, np.float32(k),
                        max(4, int(min_frac * h * w)))
    _, labels = np.unique(roots, return_inverse=True)
    return labels.reshape(h, w).astype(np.int32)


def _seg_mean(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    cnt = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
    s = np.bincount(labels.ravel(), weights=values.ravel().astype(np.float64), minlength=n)
    return (s / np.maximum(cnt, 1)).astype(np.float32)


def sky_mask(rgb: np.ndarray, labels: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Sky: smooth blue segments on the top edge, grown through adjacent smooth blue or bright
    low-saturation (cloud) segments. A grey overcast sky is not found (it stays background);
    a white wall is never taken for sky. ``exclude`` (bool per segment) can never be sky."""
    n = int(labels.max()) + 1
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grad = np.abs(cv2.Laplacian(cv2.GaussianBlur(grey, (0, 0), 1.0), cv2.CV_32F, ksize=3))
    r, g, b = (_seg_mean(labels, rgb[..., c], n) for c in range(3))
    tex = _seg_mean(labels, grad, n)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    mx, mn = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    sat = (mx - mn) / np.maximum(mx, 1e-3)
    blue = (b > r + 0.06) & (b >= g - 0.02) & (lum > 0.25) & (tex < 0.02)
    cloud = (lum > 0.6) & (sat < 0.22) & (tex < 0.03)  # only next to blue sky
    cand = blue | cloud
    if exclude is not None:
        cand &= ~exclude
        blue &= ~exclude
    # flood from blue segments on the top edge through adjacent candidate segments
    sky = np.zeros(n, bool)
    top = np.unique(labels[0])
    sky[top[blue[top]]] = True
    adj = _adjacency(labels, n)
    frontier = list(np.nonzero(sky)[0])
    while frontier:
        s = frontier.pop()
        for t in adj[s]:
            if cand[t] and not sky[t]:
                sky[t] = True
                frontier.append(t)
    # islands (cloud edges, birds) enclosed by sky are sky
    for s in range(n):
        if not sky[s] and adj[s] and all(sky[t] for t in adj[s]) and (
                exclude is None or not exclude[s]):
            sky[s] = True
    return sky[labels]


def _adjacency(labels: np.ndarray, n: int) -> list[set[int]]:
    adj: list[set[int]] = [set() for _ in range(n)]
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        d = a != b
        for x, y in set(zip(a[d].tolist(), b[d].tolist())):
            adj[x].add(y)
            adj[y].add(x)
    return adj


def _stand_on_floor(rgb: np.ndarray, labels: np.ndarray, n: int, seg_bottom: np.ndarray,
                    floor: np.ndarray, contact: float, horizon: float, focus_seg: np.ndarray,
                    sky_seg: np.ndarray, far: float, low: np.ndarray,
                    backdrop: float) -> np.ndarray:
    """One disparity per segment (-1 = follow the floor row by row).

    Segments reaching below the contact row are floor when most of their pixels lie below it
    (``low``), else a backdrop (a wall behind the subject that reaches the frame's bottom, one
    value ``backdrop``). The others are vertical surfaces,
    resolved from the bottom of the frame up: a segment resting on another vertical surface
    (the segment under most of its lower edge) continues it (the top of a wall, a roof), one
    resting on the floor takes the floor's disparity at its lowest row, one resting on the
    subject continues it only when it has the subject's colour (else it is behind it), one
    wholly above the horizon is far background."""
    h, w = labels.shape
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2Lab)
    mean_lab = np.stack([_seg_mean(labels, lab[..., c], n) for c in range(3)], axis=1)
    up, down = labels[:-1], labels[1:]
    edge = up != down
    below: list[dict[int, int]] = [{} for _ in range(n)]
    for a, b in zip(up[edge].tolist(), down[edge].tolist()):
        below[a][b] = below[a].get(b, 0) + 1
    focus_ids = np.nonzero(focus_seg)[0]
    focus_lab = (mean_lab[focus_ids].mean(axis=0) if focus_ids.size else None)
    seg_d = np.full(n, np.nan, np.float64)
    for s_id in np.argsort(-seg_bottom, kind="stable"):
        yb = seg_bottom[s_id]
        if focus_seg[s_id]:
            seg_d[s_id] = 1.0
            continue
        if sky_seg[s_id]:
            seg_d[s_id] = SKY_DISPARITY
            continue
        if yb >= min(contact + 0.03 * h, h - 1.0):  # reaches below the subject (or the bottom)
            seg_d[s_id] = -1.0 if low[s_id] else backdrop
            continue
        own = floor[min(int(yb), h - 1)] if yb > horizon else far
        sup = [(c, t) for t, c in below[s_id].items() if not sky_seg[t]]
        val = own
        if sup:
            _, t = max(sup)
            if focus_seg[t]:
                if focus_lab is not None and np.linalg.norm(mean_lab[s_id] - focus_lab) < 12:
                    val = 1.0
                else:
                    val = min(own, 0.999)
            elif np.isfinite(seg_d[t]) and seg_d[t] > 0:
                val = seg_d[t]
        # the floor model's error is larger than this: a surface standing this close to the
        # focal plane stands on it (the wall beside a portal, the bushes at its base)
        if abs(val - 1.0) < FOCUS_SNAP:
            val = 1.0
        seg_d[s_id] = max(val, 0.05)
    return np.nan_to_num(seg_d, nan=far)


def estimate_layers(rgb: np.ndarray, mask: np.ndarray | None, *,
                    background: float = BACKGROUND) -> Layers:
    """Layered disparity at work resolution (``rgb`` already ~``WORK_SIDE``; ``mask`` the same
    size, float32 [0, 1], or None for a scene without a subject)."""
    h, w = rgb.shape[:2]
    labels = segment(rgb)
    n = int(labels.max()) + 1
    rows = np.arange(h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    seg_bottom = np.zeros(n, np.float32)
    np.maximum.at(seg_bottom, labels.ravel(), rows.ravel())
    size = np.bincount(labels.ravel(), minlength=n)

    if mask is not None:
        cover = _seg_mean(labels, np.clip(mask, 0, 1), n)
        size_f = np.bincount(labels.ravel(), minlength=n) / float(h * w)
        # grow the matte to a segment it mostly covers, unless that adds a large area (a
        # segment that leaked over the whole background)
        focus_seg = (cover > 0.7) & (size_f * (1.0 - cover) < MAX_GROWTH)
        # ... and within it only to pixels of the covered part's colour (a fuselage, not the
        # window a face segment leaked into)
        lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2Lab)
        mw = np.clip(mask, 0, 1)
        wsum = np.maximum(_seg_mean(labels, mw, n), 1e-6)
        ref = np.stack([_seg_mean(labels, lab[..., c] * mw, n) / wsum for c in range(3)], -1)
        close = np.linalg.norm(lab - ref[labels], axis=-1) < GROW_DELTA_E
        grown = focus_seg[labels] & (close | (mask > 0.5))
        stray = focus_seg[labels] & ~grown
        focus = np.maximum(mw, grown.astype(np.float32))
    else:
        focus_seg = np.zeros(n, bool)
        grown = stray = np.zeros((h, w), bool)
        focus = np.zeros((h, w), np.float32)
    sky = sky_mask(rgb, labels, exclude=focus_seg)
    sky_seg = _seg_mean(labels, sky.astype(np.float32), n) > 0.5

    # floor: contact row (lowest row where the focus layer is substantial) and horizon
    core = focus > 0.5
    contact = horizon = None
    subject_top = 0.0
    if core.any():
        row_w = core.sum(axis=1)
        lit = np.nonzero(row_w >= max(2, 0.2 * row_w.max()))[0]
        top, bottom = float(np.nonzero(row_w > 0)[0][0]), float(lit[-1])
        subject_top = top
        if bottom < 0.97 * (h - 1):
            contact = bottom
            horizon = bottom - 0.6 * (bottom - top)
    else:
        # no subject: a floor only under a sky (a blank wall or an indoor scene stays flat)
        sky_rows = np.nonzero(sky.mean(axis=1) > 0.3)[0]
        if sky_rows.size:
            contact = float(h - 1)
            horizon = min(float(sky_rows[-1] + 1), 0.8 * h)
    if horizon is not None and contact is not None:
        horizon = min(horizon, contact - 0.03 * h)
        floor = np.clip((np.arange(h, dtype=np.float32) - horizon) / (contact - horizon),
                        0.0, MAX_DISPARITY)
        # floor: the segments lying mostly below the subject's feet (or, without a subject,
        # below the horizon) or rising no higher than about the subject's top (the horizon);
        # a segment that only reaches down there from higher up is a backdrop
        has_subject = mask is not None and bool(core.any())
        below_ref = contact if has_subject else horizon
        # (the top rule needs the subject's top inside the frame: a head cut by the top edge
        # says nothing about where the floor ends)
        top_ref = ((subject_top - 0.1 * h if subject_top > 0.05 * h else float(h))
                   if has_subject else horizon - 0.1 * h)
        seg_top = np.full(n, float(h), np.float32)
        np.minimum.at(seg_top, labels.ravel(), rows.ravel())
        low = (_seg_mean(labels, (rows > below_ref).astype(np.float32), n) > 0.5) | (
            seg_top >= top_ref)
        seg_d = _stand_on_floor(rgb, labels, n, seg_bottom, floor, contact, horizon,
                                focus_seg, sky_seg, background * 0.5, low, background)
        d = seg_d[labels].astype(np.float32)
        per_row = d < 0
        d[per_row] = np.broadcast_to(floor[:, None], (h, w))[per_row]
        d = np.maximum(d, 0.05)
    else:
        d = np.full((h, w), background, np.float32)
        # defocus cue: detail already blurred in the photo lies farther from the focal plane
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=3))
        sharp = _seg_mean(labels, lap, n)
        ref = float(np.percentile(sharp[size > 0], 90)) + 1e-6
        d = d * (0.8 + 0.4 * np.clip(sharp / ref, 0.0, 1.0))[labels]
    d[sky] = SKY_DISPARITY
    d = np.where(grown, 1.0, np.where(stray, background, d)).astype(np.float32)
    return Layers(np.ascontiguousarray(d, np.float32), focus.astype(np.float32), sky, labels,
                  None if horizon is None else horizon / h,
                  None if contact is None else contact / h)


def layered_depth(rgb: np.ndarray, mask: np.ndarray | None, *,
                  background: float = BACKGROUND) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution layered disparity and focus layer for ``rgb`` (float32 (H, W, 3)
    sRGB-encoded [0, 1]) and the subject matte ``mask`` (float32 (H, W) [0, 1] or None).

    Returns ``(disparity, focus)`` float32 (H, W): the subject layer (matte grown to whole
    segments) at 1, everything else from :func:`estimate_layers`, segment edges snapped to
    the image by a guided filter while the matte's own full-resolution edge is kept exactly."""
    h, w = rgb.shape[:2]
    if mask is not None and mask.shape != (h, w):
        raise ContractError(f"mask shape {mask.shape} does not match image {rgb.shape[:2]}")
    s = min(1.0, WORK_SIDE / max(h, w))
    ws, hs = max(16, round(w * s)), max(16, round(h * s))
    g = np.clip(cv2.resize(np.ascontiguousarray(rgb, np.float32), (ws, hs),
                           interpolation=cv2.INTER_AREA), 0.0, 1.0)
    m = None if mask is None else cv2.resize(mask.astype(np.float32), (ws, hs),
                                             interpolation=cv2.INTER_AREA)
    lay = estimate_layers(g, m, background=background)
    r = max(2, round(max(ws, hs) / 96))
    d = guided_filter(g, np.log(lay.disparity), r, 1e-3)
    grown = np.clip(guided_filter(g, lay.focus, r, 1e-3), 0.0, 1.0)
    # full size: in place, float32, two (H, W) arrays plus one temporary at a time
    d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR)
    np.exp(d, out=d)
    focus = cv2.resize(grown, (w, h), interpolation=cv2.INTER_LINEAR)
    if mask is not None:
        focus[focus <= 0.5] = 0.0
        np.maximum(focus, mask, out=focus)
    np.clip(focus, 0.0, 1.0, out=focus)
    # the focus layer sits exactly at 1; elsewhere nothing lands on the focal plane by accident
    d[np.abs(d - np.float32(1.0)) < 1e-3] = 0.999
    out = np.subtract(np.float32(1.0), focus)
    out *= d
    del d
    out += focus  # = focus * 1 + (1 - focus) * rest: exactly 1 where focus is 1
    return out, focus
