"""Fault injection for the crash tests: ``RAWLUX_BATCH_FAULT=point:n[:marker]``.

At the ``n``-th time this process reaches ``point`` it kills itself with SIGKILL (a real
``kill -9``: no clean-up runs). With ``marker`` (a path) it fires only if it can create that
file, so it fires once across all processes (e.g. one worker dies, its retry succeeds).
Unset (the normal case) this costs one dict lookup per point.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def point(name: str) -> None:
    """Mark that execution reached ``name`` (see module docstring)."""
    spec = os.environ.get("RAWLUX_BATCH_FAULT")
    if not spec:
        return
    parts = spec.split(":", 2)
    if parts[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != (int(parts[1]) if len(parts) > 1 and parts[1] else 1):
        return
    if len(parts) > 2:
        try:
            os.close(os.open(parts[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
