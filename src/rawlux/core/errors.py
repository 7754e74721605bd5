"""Typed errors. Every error the user can trigger is a :class:`RawluxError`.

``str(err)`` is one line: ``"<path>: <reason>"`` when a file is involved, else the reason.
The CLI prints exactly that line and exits with ``err.exit_code``; no traceback.
"""

from __future__ import annotations

import warnings
from os import PathLike
from typing import Any


class RawluxError(Exception):
    """Base class. ``path`` names the offending file (or None), ``reason`` says why."""

    exit_code: int = 1

    def __init__(self, reason: str, path: str | PathLike[str] | None = None) -> None:
        self.reason = " ".join(str(reason).split())  # always one line
        self.path = None if path is None else str(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class InputError(RawluxError):
    """Something is wrong with an input file."""

    exit_code = 2


class MissingInput(InputError):
    """The input file does not exist or cannot be read."""


class UnsupportedInput(InputError):
    """A well-formed file that rawlux cannot process (format, CFA, bit depth...)."""


class CorruptInput(InputError):
    """A truncated, malformed or hostile file."""


class ImageTooLarge(InputError):
    """Declared dimensions above the safety limit (guards memory exhaustion)."""


class BurstMismatch(InputError):
    """Frames of a burst differ in size, CFA or camera."""


class InvalidParameter(RawluxError):
    """A parameter value is outside its documented bounds or not a valid name."""

    exit_code = 2


class ContractError(RawluxError):
    """An image does not satisfy the data contract a stage declares (dtype/shape/space)."""

    exit_code = 3


class OutputError(RawluxError):
    """The output cannot be written (bad extension, same as an input, not writable)."""

    exit_code = 4


class MissingModel(RawluxError):
    """A required model file (segmentation, ...) is not installed."""

    exit_code = 5


class InputWarning(UserWarning):
    """A damaged or absurd value in an input file that was dropped or clamped (file still opens)."""


def warn_input(path: Any, message: str) -> None:
    """Issue an :class:`InputWarning` ``"<path>: <message>"`` (one line)."""
    warnings.warn(f"{path}: {' '.join(message.split())}", InputWarning, stacklevel=3)
