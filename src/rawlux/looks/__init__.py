"""Looks and styles: look definitions as data (``looks/data/*.toml``), tone curve, Oklab colour
edits, local tone mapping, .cube LUT maths, LUT export and the contact sheet.

Public entry points (imported lazily, so ``import rawlux.looks`` stays light):

* :func:`get_look`, :func:`look_names` — the look registry (built-in + ``RAWLUX_LOOKS_DIR``);
* :func:`render_look` — scene-linear Rec.2020 -> display-linear Rec.2020 with a look;
* :class:`Lut`, :func:`apply_lut`, :func:`identity_lut` — LUT maths (files: ``rawlux.io.cube``);
* :func:`export_lut` — a look's global colour part as a 3D LUT.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "get_look": "rawlux.looks.registry",
    "look_names": "rawlux.looks.registry",
    "render_look": "rawlux.looks.render",
    "Lut": "rawlux.looks.lut",
    "apply_lut": "rawlux.looks.lut",
    "identity_lut": "rawlux.looks.lut",
    "export_lut": "rawlux.looks.export",
    "LookSpec": "rawlux.looks.spec",
}

__all__ = ["LookSpec", "Lut", "apply_lut", "export_lut", "get_look", "identity_lut", "look_names",
           "render_look"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rawlux.looks' has no attribute {name!r}")
