"""The develop stage list (data): stage modules in pipeline order and the develop default look.

Kept in ``isp`` (below ``app`` and the ``rawlux.develop`` facade) so that the application layer,
recipes and the library entry point share one list without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rawlux.core.pipeline import StageDef

#: Stage modules in pipeline order (``rawlux.isp.<name>`` each exposing ``STAGE``).
STAGE_ORDER: tuple[str, ...] = (
    "profile",
    "black_level",
    "lens_shading",
    "white_balance",
    "highlights",
    "denoise",
    "demosaic",
    "lensfun",
    "geometry",
    "color_transform",
    "sharpen",
    "look",
    "output",
)

#: The look of ``rawlux develop`` when none is given (the look stage's own default is neutral).
DEFAULT_LOOK = "authentic"


def stage_definitions() -> dict[str, StageDef]:
    """Every develop stage definition by name (imports the stage modules)."""
    defs = {}
    for name in STAGE_ORDER:
        sd = importlib.import_module(f"rawlux.isp.{name}").STAGE
        defs[sd.name] = sd
    return defs
