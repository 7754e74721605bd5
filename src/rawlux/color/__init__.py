"""Pure colour maths (numpy only at import time; colour-science is used in tests, not here).

* :mod:`rawlux.color.spaces` — RGB spaces, white points, Bradford, ``rgb_to_xyz``/``rgb_to_rgb``.
* :mod:`rawlux.color.cct` — CCT/tint/Duv <-> xy (Robertson), CIE daylight locus.
* :mod:`rawlux.color.illuminants` — EXIF LightSource codes -> CCT / xy.
* :mod:`rawlux.color.camera` — DNG camera colour: dual-illuminant interpolation, neutral <->
  white point, camera -> XYZ D50 (ForwardMatrix / ColorMatrix paths), kelvin -> neutral.
* :mod:`rawlux.color.transfer` — transfer functions (output engineer).
"""
