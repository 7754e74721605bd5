"""Export the global colour part of a look as a 3D LUT on sRGB-encoded Rec.709 input.

Input of the LUT = the ``neutral`` rendering in sRGB (what ``rawlux develop --look neutral``
writes); output = the look's global part (channel mix, exposure, tone curve, colour edits —
not local tone mapping, scene adaptation ``[adapt]``, vignette or grain) in sRGB. For scene
values inside [0, 1] and the Rec.709 gamut the neutral rendering is invertible (neutral is the
identity below its highlight shoulder, and an image with nothing above 1 gets no shoulder), so
the LUT reproduces the look's global part.
"""

from __future__ import annotations

import numpy as np

from rawlux.looks.lut import Lut
from rawlux.looks.spec import LookSpec
from rawlux.color.spaces import rgb_to_rgb64
from rawlux.color.transfer import srgb_eotf, srgb_oetf
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace
from rawlux.looks.lut import lut_from_function
from rawlux.looks.render import global_part

EXPORT_SIZES = (17, 33, 65)


def look_global_srgb(encoded: np.ndarray, spec: LookSpec) -> np.ndarray:
    """The look's global part as a function of neutral sRGB-encoded values (float64 (..., 3))."""
    to2020 = rgb_to_rgb64(ColorSpace.SRGB, ColorSpace.REC2020)
    to709 = rgb_to_rgb64(ColorSpace.REC2020, ColorSpace.SRGB)
    scene = np.clip(srgb_eotf(np.asarray(encoded, np.float64)), 0.0, 1.0) @ to2020.T
    disp = global_part(scene, spec, exact=True)
    return srgb_oetf(np.clip(disp @ to709.T, 0.0, 1.0))


def export_lut(spec: LookSpec, size: int = 33) -> Lut:
    """A size^3 :class:`Lut` (encoding ``srgb-rec709``) of the look's global part."""
    if not 2 <= size <= 129:
        raise InvalidParameter(f"export LUT size {size} is outside [2, 129] (use 33 or 65)")
    return lut_from_function(lambda g: look_global_srgb(g, spec), size, title=f"rawlux {spec.name}",
                             encoding="srgb-rec709",
                             comments=((f"rawlux look '{spec.name}': global colour part on "
                                        "sRGB-encoded neutral input"),))
