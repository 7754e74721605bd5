"""Simulated ColorChecker captures from spectral data (colour-science), for colour-accuracy tests.

Model: camera "Nikon 5100 (NPL)" (colour-science ``MSDS_CAMERA_SENSITIVITIES``), ColorChecker N
Ohta reflectances, an illuminant SPD, all on 380-780 nm / 5 nm. Camera RGB of a surface is
``sum(S_k * E * R)``; reference XYZ uses the CIE 1931 2-degree observer with the illuminant's
perfect white at ``Y = 1``.

The camera profile is fitted like a vendor calibration, **not** on the chart: a training set of
~2300 reflectances (colour-science's Mallett 2019 sRGB basis spectra and Otsu 2018 recovered
spectra at random sRGB values, plus the CIE 1995/2024 TCS and NIST CQS samples) is captured under
CIE A (EXIF 17) and D65 (EXIF 21) and other training illuminants; white-preserving 3x3
ForwardMatrices (white-balanced camera -> XYZ D50, Bradford-adapted) are fitted by minimising
CIELAB error (see :func:`fitted_profile`), and ColorMatrices (XYZ -> camera) are derived from them
so both DNG paths agree at the calibration illuminants.

colour-science and scipy are imported lazily (tests and benchmarks only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rawlux.color.spaces import WHITE_D50, WHITE_D65, XYZ_D50, XYZ_to_xy, bradford, xy_to_XYZ
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import CFA, ColorCalibration, Crop, Metadata, RawImage
from rawlux.color.camera import interpolation_weight
from rawlux.color.cct import xy_to_cct
from rawlux.color.illuminants import light_source_cct
from rawlux.io.dng import write_dng

CAMERA = "Nikon 5100 (NPL)"
CHART = "ColorChecker N Ohta"
ILLUMINANTS = ("D65", "D50", "A", "FL2", "LED-B3")
#: indices of the six neutral patches (white .. black) in chart order
NEUTRAL_PATCHES = tuple(range(18, 24))
_SHAPE = (380.0, 780.0, 5.0)


# ------------------------------------------------------------------------- spectral helpers


def _shape():
    import colour

    return colour.SpectralShape(*_SHAPE)


@cache
def camera_sensitivities() -> np.ndarray:
    """(N, 3) camera spectral sensitivities on 380-780/5 nm."""
    import colour

    s = colour.characterisation.MSDS_CAMERA_SENSITIVITIES[CAMERA].copy().align(_shape())
    return np.nan_to_num(np.asarray(s.values, np.float64))


@cache
def cmfs() -> np.ndarray:
    """(N, 3) CIE 1931 2-degree colour matching functions on 380-780/5 nm."""
    import colour

    c = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(_shape())
    return np.asarray(c.values, np.float64)


def wavelengths() -> np.ndarray:
    return np.arange(_SHAPE[0], _SHAPE[1] + 1, _SHAPE[2])


@cache
def illuminant_spd(name: str) -> np.ndarray:
    """(N,) SPD of a named illuminant (colour-science name, or ``"BB<kelvin>"`` blackbody,
    ``"D<kelvin>"`` CIE daylight of that CCT, e.g. ``"BB2500"``, ``"D7500K"``)."""
    import colour

    bad = InvalidParameter(f"unknown illuminant {name!r}; e.g. {', '.join(ILLUMINANTS)}, BB3000")
    if name in colour.SDS_ILLUMINANTS:
        sd = colour.SDS_ILLUMINANTS[name].copy().align(_shape())
    elif name.upper().startswith(("BB", "D")):
        try:
            t = float(name.upper().removeprefix("BB").removeprefix("D").rstrip("K"))
        except ValueError:
            raise bad from None
        if not 1000.0 <= t <= 25000.0:
            raise bad
        if name.upper().startswith("BB"):
            sd = colour.sd_blackbody(t, _shape())
        else:  # CIE daylight at that CCT (c2 1.4380 -> 1.4388 correction as for D65)
            xy = colour.temperature.CCT_to_xy_CIE_D(t * 1.4388 / 1.4380)
            sd = colour.sd_CIE_illuminant_D_series(xy).copy().align(_shape())
    else:
        raise bad
    v = np.asarray(sd.values, np.float64)
    return v / v.max()


@cache
def chart_reflectances() -> tuple[tuple[str, ...], np.ndarray]:
    """(patch names, (24, N) reflectances) of the ColorChecker N Ohta."""
    import colour

    sds = colour.characterisation.SDS_COLOURCHECKERS[CHART]
    names = tuple(sds.keys())
    r = np.stack([np.asarray(sds[k].copy().align(_shape()).values, np.float64) for k in names])
    return names, r


@cache
def training_reflectances(n: int = 1500, seed: int = 7) -> np.ndarray:
    """(M, N) reflectances used to fit camera matrices (no ColorChecker spectra in it)."""
    import colour
    from colour.quality.datasets import SDS_TCS, SDS_VS

    basis = colour.recovery.MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019.copy().align(_shape())
    b = np.asarray(basis.values, np.float64)  # (N, 3)
    rng = np.random.default_rng(seed)
    rgb = rng.random((n, 3)) ** 1.5  # linear sRGB in [0, 1], denser in darker colours
    refl = [rgb @ b.T]
    # spectra with the statistics of real surfaces (Otsu 2018 clusters, trained on measured data)
    from colour.recovery import XYZ_to_sd_Otsu2018

    rgb2 = rng.random((n // 2, 3)) ** 1.5
    xyz2 = colour.RGB_to_XYZ(rgb2, "sRGB", apply_cctf_decoding=False)
    refl.append(
        np.stack([np.asarray(XYZ_to_sd_Otsu2018(x).copy().align(_shape()).values) for x in xyz2])
    )
    for group in (SDS_TCS, SDS_VS):
        for sds in group.values():
            refl.append(
                np.stack([np.asarray(sd.copy().align(_shape()).values) for sd in sds.values()])
            )
    return np.clip(np.concatenate(refl), 0.0, 1.0)


def capture(
    refl: np.ndarray, spd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(camera RGB, XYZ, camera neutral (max 1), white XYZ) of reflectances under ``spd``.

    XYZ is scaled so the perfect white has Y = 1; camera RGB so the white's max channel is 1.
    """
    s, c = camera_sensitivities(), cmfs()
    white_xyz = c.T @ spd
    k = 1.0 / white_xyz[1]
    white_cam = s.T @ spd
    kc = 1.0 / white_cam.max()
    lr = refl * spd[None, :]
    return (lr @ s) * kc, (lr @ c) * k, white_cam * kc, white_xyz * k


def xyz_to_lab(xyz: np.ndarray, white_xyz: np.ndarray) -> np.ndarray:
    """CIELAB of XYZ relative to ``white_xyz`` (CIE 15 formula, numpy)."""
    t = np.asarray(xyz, np.float64) / np.asarray(white_xyz, np.float64)
    d = 6.0 / 29.0
    f = np.where(t > d**3, np.cbrt(np.maximum(t, 0)), t / (3 * d * d) + 4.0 / 29.0)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def reference_lab_d65(refl: np.ndarray, spd: np.ndarray) -> np.ndarray:
    """Reference CIELAB (D65 white) of reflectances under ``spd``: XYZ adapted to D65 (Bradford)."""
    _, xyz, _, wxyz = capture(refl, spd)
    xyz65 = xyz @ bradford(XYZ_to_xy(wxyz), WHITE_D65).T
    return xyz_to_lab(xyz65, xy_to_XYZ(WHITE_D65))


# ------------------------------------------------------------------------- profile fitting


def _fit_forward(
    cam: np.ndarray, xyz: np.ndarray, neutral: np.ndarray, white_xyz: np.ndarray
) -> np.ndarray:
    """White-preserving FM (balanced camera -> XYZ D50) minimising CIELAB (D50) error."""
    from scipy.optimize import least_squares

    bal = cam / neutral[None, :]
    tgt = xyz @ bradford(XYZ_to_xy(white_xyz), WHITE_D50).T
    lab_t = xyz_to_lab(tgt, XYZ_D50)
    w = XYZ_D50

    def build(p: np.ndarray) -> np.ndarray:
        m = np.empty((3, 3))
        m[:, :2] = p.reshape(3, 2)
        m[:, 2] = w - m[:, 0] - m[:, 1]
        return m

    # constrained linear least squares as the start
    a = bal[:, :2] - bal[:, 2:3]
    p0 = np.linalg.lstsq(a, tgt - bal[:, 2:3] * w[None, :], rcond=None)[0].T.ravel()

    def resid(p: np.ndarray) -> np.ndarray:
        return (xyz_to_lab(bal @ build(p).T, w) - lab_t).ravel()

    return build(least_squares(resid, p0, method="lm").x)


@dataclass(frozen=True)
class FittedProfile:
    """Dual-illuminant DNG profile fitted for the simulated camera (A = slot 1, D65 = slot 2)."""

    color_matrix1: np.ndarray
    color_matrix2: np.ndarray
    forward_matrix1: np.ndarray
    forward_matrix2: np.ndarray
    illuminant1: int = 17
    illuminant2: int = 21

    __hash__ = object.__hash__

    def calibration(self, neutral: np.ndarray | None, forward: bool = True) -> ColorCalibration:
        return ColorCalibration(
            color_matrix1=self.color_matrix1,
            color_matrix2=self.color_matrix2,
            forward_matrix1=self.forward_matrix1 if forward else None,
            forward_matrix2=self.forward_matrix2 if forward else None,
            illuminant1=self.illuminant1,
            illuminant2=self.illuminant2,
            as_shot_neutral=None if neutral is None else np.asarray(neutral, np.float64),
            source="dng",
        )


#: Illuminants the dual-illuminant profile is optimised over (the test illuminants D50, FL2 and
#: LED-B3 are deliberately not among them; A and D65 are the calibration illuminants).
TRAINING_ILLUMINANTS = (
    "A", "D65", "D55", "D75", "BB3200", "FL1", "FL3", "FL4", "FL7", "FL11", "LED-B1", "LED-B5", "LED-BH1",
)  # fmt: skip


@cache
def fitted_profile() -> FittedProfile:
    """Fit (once per process) the simulated camera's ColorMatrix1/2 and ForwardMatrix1/2.

    ForwardMatrix1 (A) and ForwardMatrix2 (D65) are first fitted per illuminant, then refined
    jointly so the inverse-CCT interpolation the DNG spec prescribes minimises the CIELAB error
    of the training reflectances over :data:`TRAINING_ILLUMINANTS`. ColorMatrix1/2 are derived
    from the ForwardMatrices (so both DNG paths agree at A and D65).
    """
    from scipy.optimize import least_squares

    refl = training_reflectances()
    t1, t2 = light_source_cct(17), light_source_cct(21)
    starts, neutrals = [], {}
    for name in ("A", "D65"):
        cam, xyz, n, wxyz = capture(refl, illuminant_spd(name))
        starts.append(_fit_forward(cam, xyz, n, wxyz))
        neutrals[name] = (n, wxyz)
    sub = refl[::2]
    data = []
    for name in TRAINING_ILLUMINANTS:
        cam, xyz, n, wxyz = capture(sub, illuminant_spd(name))
        lab_t = xyz_to_lab(xyz @ bradford(XYZ_to_xy(wxyz), WHITE_D50).T, XYZ_D50)
        wt = interpolation_weight(float(xy_to_cct(XYZ_to_xy(wxyz))), t1, t2)
        data.append((cam / n[None, :], lab_t, wt))

    def build(p: np.ndarray) -> np.ndarray:
        m = np.empty((3, 3))
        m[:, :2] = p.reshape(3, 2)
        m[:, 2] = XYZ_D50 - m[:, 0] - m[:, 1]
        return m

    def resid(p: np.ndarray) -> np.ndarray:
        f1, f2 = build(p[:6]), build(p[6:])
        return np.concatenate(
            [
                (xyz_to_lab(bal @ (wt * f1 + (1 - wt) * f2).T, XYZ_D50) - lab_t).ravel()
                for bal, lab_t, wt in data
            ]
        )

    p0 = np.concatenate([starts[0][:, :2].ravel(), starts[1][:, :2].ravel()])
    p = least_squares(resid, p0, method="trf").x
    fms = [build(p[:6]), build(p[6:])]
    cms = []
    for name, fm in zip(("A", "D65"), fms):
        n, wxyz = neutrals[name]
        # camera (unbalanced) -> XYZ under the illuminant, consistent with FM; CM is its inverse
        m = bradford(WHITE_D50, XYZ_to_xy(wxyz)) @ fm @ np.diag(1.0 / n)
        cms.append(np.linalg.inv(m))
    return FittedProfile(cms[0], cms[1], fms[0], fms[1])


# ------------------------------------------------------------------------------- the chart


@dataclass(frozen=True)
class SyntheticChart:
    """A simulated capture. ``boxes`` are (top, left, height, width) of each patch in ``raw.data``
    pixels (also valid after a demosaic that keeps the size), ``lab_ref`` (24, 3) reference CIELAB
    with D65 white, ``neutral`` the camera response to the illuminant (max 1)."""

    raw: RawImage
    names: tuple[str, ...]
    boxes: tuple[tuple[int, int, int, int], ...]
    lab_ref: np.ndarray
    neutral: np.ndarray
    illuminant: str

    __hash__ = object.__hash__


def make_chart(
    illuminant: str = "D65",
    *,
    patch: int = 48,
    gap: int = 8,
    cfa: CFA = CFA.RGGB,
    black: int = 512,
    white: int = 16383,
    exposure: float = 0.8,
    noise: float = 0.0,
    forward_matrix: bool = True,
    seed: int = 0,
) -> SyntheticChart:
    """Render a 4x6 ColorChecker mosaic RawImage (uint16) under ``illuminant``.

    ``exposure``: the brightest camera channel of the white patch in fractions of the white level.
    ``noise``: read-noise std as a fraction of the range (shot noise follows the same scale).
    """
    if patch < 8 or gap < 0 or patch % 2 or gap % 2:
        raise InvalidParameter(f"patch {patch} and gap {gap} must be even (patch >= 8)")
    names, refl = chart_reflectances()
    spd = illuminant_spd(illuminant)
    cam, _, neutral, _ = capture(refl, spd)
    lab_ref = reference_lab_d65(refl, spd)
    scale = exposure / cam[18].max()
    bg = np.full(3, 0.18) * neutral * scale  # neutral grey surround
    rows, cols = 4, 6
    h, w = gap + rows * (patch + gap), gap + cols * (patch + gap)
    rgb = np.empty((h, w, 3))
    rgb[:] = bg
    boxes = []
    for i in range(24):
        r, c = divmod(i, cols)
        top, left = gap + r * (patch + gap), gap + c * (patch + gap)
        rgb[top : top + patch, left : left + patch] = cam[i] * scale
        boxes.append((top, left, patch, patch))
    idx = np.tile(cfa.pattern(), (h // 2, w // 2))
    mos = np.take_along_axis(rgb, idx[..., None].astype(np.intp), axis=2)[..., 0]
    if noise > 0:
        rng = np.random.default_rng(seed)
        mos = mos + rng.normal(size=mos.shape) * np.sqrt(
            noise**2 + noise * 0.01 * np.maximum(mos, 0)
        )
    dn = np.clip(np.rint(black + mos * (white - black)), 0, white).astype(np.uint16)
    prof = fitted_profile()
    raw = RawImage(
        data=np.ascontiguousarray(dn),
        cfa=cfa,
        black=np.full((2, 2), float(black), np.float32),
        white=float(white),
        calibration=prof.calibration(neutral, forward=forward_matrix),
        crop=Crop(0, 0, h, w),
        metadata=Metadata(make="rawlux", model=f"synthetic {CAMERA}", software="rawlux.synth"),
        source=f"synthetic ColorChecker under {illuminant}",
    )
    return SyntheticChart(raw, names, tuple(boxes), lab_ref, neutral, illuminant)


def write_chart_dng(chart: SyntheticChart, path: str | Path) -> Path:
    """Write ``chart.raw`` as a DNG (via :func:`rawlux.io.dng.write_dng`)."""
    write_dng(chart.raw, path)
    return Path(path)


def patch_means(
    rgb: np.ndarray, boxes: tuple[tuple[int, int, int, int], ...], inset: float = 0.25
) -> np.ndarray:
    """(24, C) mean of each patch's centre (``inset`` fraction trimmed on each side)."""
    out = []
    for top, left, ph, pw in boxes:
        dy, dx = int(ph * inset), int(pw * inset)
        out.append(
            rgb[top + dy : top + ph - dy, left + dx : left + pw - dx]
            .reshape(-1, rgb.shape[-1])
            .mean(0)
        )
    return np.asarray(out)


# ------------------------------------------------------------------------ spectral scenes


@cache
def _mallett_basis() -> np.ndarray:
    import colour

    return np.asarray(
        colour.recovery.MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019.copy().align(_shape()).values,
        np.float64,
    )


@cache
def _measured_reflectances() -> np.ndarray:
    """Measured spectra: BabelColor ColorChecker average, CIE TCS and NIST CQS samples."""
    import colour
    from colour.quality.datasets import SDS_TCS, SDS_VS

    sds = list(colour.characterisation.SDS_COLOURCHECKERS["BabelColor Average"].values())
    for group in (SDS_TCS, SDS_VS):
        for d in group.values():
            sds.extend(d.values())
    return np.clip(np.stack([np.asarray(sd.copy().align(_shape()).values) for sd in sds]), 0, 1)


def spectral_scene(
    illuminant: str,
    seed: int = 0,
    size: tuple[int, int] = (256, 384),
    cfa: CFA = CFA.RGGB,
    noise: float = 0.002,
) -> tuple[RawImage, np.ndarray]:
    """A random Mondrian scene rendered spectrally under ``illuminant`` as a normalised float32
    mosaic RawImage (with the fitted camera profile, no as-shot white), and the true camera
    neutral (max 1) of the illuminant. Surfaces: smooth spectra (Mallett 2019 basis) around a
    random dominant colour (so grey-world is biased), a quarter measured spectra (BabelColor
    ColorChecker, CIE TCS, NIST CQS), some neutrals; shading gradients and, in half of the
    scenes, specular highlights."""
    rng = np.random.default_rng(seed)
    h, w = size
    n = int(rng.integers(20, 60))
    c0 = rng.random(3) ** 1.5
    spread = rng.uniform(0.08, 0.35)
    rgb = np.clip(c0[None, :] + spread * rng.normal(size=(n, 3)), 0.01, 1.0)
    mix = rng.random(n) < 0.3
    rgb[mix] = rng.random((int(mix.sum()), 3))
    gray = rng.random(n) < 0.1
    rgb[gray] = rng.uniform(0.05, 0.9, size=(int(gray.sum()), 1))
    refl = np.clip(rgb @ _mallett_basis().T, 0.0, 1.0)
    measured = _measured_reflectances()
    pick = rng.random(n) < 0.25  # a quarter of the surfaces are measured real-world spectra
    refl[pick] = measured[rng.integers(0, len(measured), int(pick.sum()))]
    spd = illuminant_spd(illuminant)
    cam, _, neutral, _ = capture(refl, spd)
    img = np.empty((h, w, 3))
    img[:] = cam[0] * 0.5
    yy, xx = np.mgrid[0:h, 0:w] / float(max(h, w))
    for i in range(1, n):
        ph, pw = int(rng.integers(h // 12, h // 2)), int(rng.integers(w // 12, w // 2))
        t, l = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        gy, gx = rng.normal(scale=0.8, size=2)
        shade = rng.uniform(0.3, 1.0) * np.clip(
            1 + gy * (yy - yy[t, 0]) + gx * (xx - xx[0, l]), 0.2, 2.0
        )
        img[t : t + ph, l : l + pw] = cam[i] * shade[t : t + ph, l : l + pw, None]
    if rng.random() < 0.5:  # specular highlights carry the illuminant colour
        for _ in range(int(rng.integers(1, 4))):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 12)
            spot = np.exp(
                -(
                    ((np.mgrid[0:h, 0:w][0] - cy) ** 2 + (np.mgrid[0:h, 0:w][1] - cx) ** 2)
                    / (2 * r * r)
                )
            )
            img += spot[..., None] * neutral[None, None, :] * rng.uniform(0.3, 1.0)
    img /= np.percentile(img.max(axis=2), 99.0) / 0.9
    idx = np.tile(cfa.pattern(), (h // 2 + 1, w // 2 + 1))[:h, :w]
    mos = np.take_along_axis(img, idx[..., None].astype(np.intp), axis=2)[..., 0]
    mos = mos + rng.normal(size=mos.shape) * np.sqrt(noise**2 + noise * 0.05 * np.maximum(mos, 0))
    mos = np.minimum(mos, 1.0).astype(np.float32)
    raw = RawImage(
        data=np.ascontiguousarray(mos),
        cfa=cfa,
        black=np.zeros((2, 2), np.float32),
        white=1.0,
        calibration=fitted_profile().calibration(None),
        source=f"synthetic scene {seed} under {illuminant}",
    )
    return raw, neutral


def angular_error(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between two RGB vectors (illuminant estimates)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    c = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
