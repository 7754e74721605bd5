"""Stage parameters: frozen dataclasses whose fields carry default, bounds, unit and a doc line.

Declare fields with :func:`param`::

    @dataclass(frozen=True)
    class ExposureParams(StageParams):
        ev: float = param(0.0, lo=-10, hi=10, unit="EV", doc="exposure compensation")

Bounds are checked in ``__post_init__`` (raising :class:`InvalidParameter`); ``choices`` restricts
string fields. ``schema()`` gives the introspectable description the CLI and studio use;
``to_dict``/``from_dict`` save and replay recipes, migrating older versions forward.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from rawlux.core.errors import InvalidParameter

P = TypeVar("P", bound="StageParams")


def param(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    unit: str = "",
    doc: str = "",
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with validation metadata (see module docstring)."""
    meta = {"lo": lo, "hi": hi, "unit": unit, "doc": doc, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not allowed in params; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class StageParams:
    """Base class of every stage's parameters."""

    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            self._check_field(f, getattr(self, f.name))

    def _check_field(self, f: dataclasses.Field, value: Any) -> None:
        meta = f.metadata
        name = f"{type(self).__name__}.{f.name}"
        if isinstance(value, bool) or value is None or isinstance(value, enum.Enum):
            return
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidParameter(f"{name} must be finite, got {value}")
            lo, hi = meta.get("lo"), meta.get("hi")
            if lo is not None and value < lo or hi is not None and value > hi:
                unit = f" {meta.get('unit')}" if meta.get("unit") else ""
                raise InvalidParameter(f"{name} = {value} is outside [{lo}, {hi}]{unit}")
        if isinstance(value, str) and meta.get("choices") and value not in meta["choices"]:
            raise InvalidParameter(
                f"{name} = {value!r} is not one of: {', '.join(meta['choices'])}"
            )

    @classmethod
    def schema(cls) -> list[dict[str, Any]]:
        """One dict per field: name, type, default, lo, hi, unit, doc, choices."""
        out = []
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            out.append({"name": f.name, "type": str(f.type), "default": default, **f.metadata})
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with a ``_version`` key, for saved recipes."""
        d: dict[str, Any] = {"_version": self.version}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = v.value if isinstance(v, enum.Enum) else v
        return d

    @classmethod
    def migrate(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Upgrade a saved dict from ``from_version`` to ``cls.version``. Override per stage."""
        return data

    @classmethod
    def from_dict(cls: type[P], data: dict[str, Any]) -> P:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error naming them."""
        data = dict(data)
        ver = int(data.pop("_version", cls.version))
        if ver > cls.version:
            raise InvalidParameter(f"{cls.__name__} recipe version {ver} is newer than {cls.version}")
        if ver < cls.version:
            data = cls.migrate(data, ver)
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise InvalidParameter(f"{cls.__name__} has no parameter(s): {', '.join(unknown)}")
        kwargs = {}
        for k, v in data.items():
            ftype = names[k].type
            default = names[k].default
            if isinstance(default, enum.Enum) and not isinstance(v, enum.Enum):
                v = type(default)(v)
            elif isinstance(default, tuple) and isinstance(v, list):
                v = tuple(v)
            kwargs[k] = v
            del ftype
        return cls(**kwargs)
