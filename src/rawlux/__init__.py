"""rawlux: raw captures in, finished photographs out.

Public API (imports are lazy so ``import rawlux`` stays light)::

    raw = rawlux.open_raw("IMG.dng")          # -> RawImage
    img = rawlux.develop(raw, look="neutral")  # -> Image (display-encoded, output space)
    rawlux.save(img, "IMG.jpg", quality=92)
    merged = rawlux.merge_burst(rawlux.open_burst(paths))  # float32 normalised RawImage
    img = rawlux.develop(merged)                # enters the plan after black_level
"""

from __future__ import annotations

from typing import Any

from rawlux.core.version import __version__  # noqa: E402

# ``rawlux.develop`` is both a submodule and its main function: binding the function here, after
# the submodule import, keeps ``rawlux.develop(...)`` callable (the module stays importable as
# ``rawlux.develop`` through sys.modules). The module imports only numpy and core types.
from rawlux.develop import develop  # noqa: E402

_LAZY = {
    "open_raw": ("rawlux.io.raw", "open_raw"),
    "save": ("rawlux.io.write", "save"),
    "merge_burst": ("rawlux.burst.merge", "merge_burst"),
    "super_resolve": ("rawlux.burst.superres", "super_resolve"),
    "open_burst": ("rawlux.app.night", "open_burst"),
    "RawImage": ("rawlux.core.image", "RawImage"),
    "Image": ("rawlux.core.image", "Image"),
    "RawluxError": ("rawlux.core.errors", "RawluxError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'rawlux' has no attribute {name!r}")


__all__ = ["develop", *_LAZY]
