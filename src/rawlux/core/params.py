"""Stage parameters: frozen dataclasses whose fields carry default, bounds, unit and a doc line.

Declare fields with :func:`param`::

    class Gamut(Choice):
        COMPRESS = "compress"
        CLIP = "clip"

    @dataclass(frozen=True)
    class ExposureParams(StageParams):
        ev: float = param(0.0, lo=-10, hi=10, unit="EV", doc="exposure compensation")
        gamut: Gamut = param(Gamut.COMPRESS, doc="out-of-gamut handling")

These declarations are the one source of every parameter: ``__post_init__`` validates and
coerces each value from the field's metadata (type from the default, ``lo``/``hi`` bounds, enum
members; :class:`InvalidParameter` names the parameter, its range and unit), :meth:`schema`
describes the fields as JSON (the studio builds its controls from it), ``rawlux.cli.options``
turns them into command-line options, and :func:`derive_options` builds user-level option
classes (e.g. ``DevelopOptions``) whose fields *are* stage fields. Modes are :class:`Choice`
enums (members compare and hash equal to their string value). A data file (LUT, look, lens,
layout) is referenced by a :class:`FileRef` (path + content hash), never a loaded object.
``to_dict``/``from_dict`` save and replay recipes, migrating older versions forward.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Mapping, TypeVar

from rawlux.core.errors import InvalidParameter

P = TypeVar("P", bound="StageParams")

#: Largest data file :meth:`FileRef.of` hashes (LUTs, looks, layouts are kilobytes to a few MB).
MAX_REF_BYTES = 256 * 1024 * 1024


class Choice(str, enum.Enum):
    """Base of parameter enums. A member equals (and hashes like) its string value, prints as
    it, and is found from it case-insensitively (``Gamut("CLIP") is Gamut.CLIP``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            key = value.strip().lower().replace("_", "-")
            for m in cls:
                if m.value.lower().replace("_", "-") == key:
                    return m
        return None

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


@dataclass(frozen=True)
class FileRef:
    """A data file referenced by ``path`` plus the SHA-256 of its bytes (``sha256``; "" = not
    recorded, e.g. a migrated old recipe). Resolved to a loaded object in ``rawlux.io`` (which
    checks the hash); params and recipes hold only this value."""

    path: str
    sha256: str = ""

    @classmethod
    def of(cls, path: str | os.PathLike[str], what: str = "file") -> "FileRef":
        """Reference ``path`` with the hash of its current content (``what``, e.g. "look file",
        names it in errors: not found, a FIFO or device, too large)."""
        # not at import: core.datafiles loads hashlib (OpenSSL, ~15 ms of every command's start)
        from rawlux.core.datafiles import content_hash  # the one content hash of data files
        from rawlux.core.errors import MissingInput

        p = os.fspath(path)
        try:
            size = os.path.getsize(p)
            if size > MAX_REF_BYTES:
                raise InvalidParameter(f"{p}: {size} bytes is above the {MAX_REF_BYTES}-byte data-file limit")
            digest = content_hash(p, what)
        except FileNotFoundError:
            raise MissingInput(f"{what} not found", p) from None
        except OSError as exc:
            raise MissingInput(f"cannot read: {exc.strerror or exc}", p) from None
        return cls(os.path.abspath(p), digest)

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}

    def verified_path(self) -> str:
        """``path``, after checking the file still has the recorded content (when recorded)."""
        if self.sha256:
            now = FileRef.of(self.path).sha256
            if now != self.sha256:
                raise InvalidParameter(f"content changed since it was referenced (sha256 {now[:12]}..., "
                                       f"recorded {self.sha256[:12]}...)", self.path)
        return self.path

    @staticmethod
    def looks_like_path(value: Any) -> bool:
        """True for a value naming a file rather than a registry entry (``.toml``, a separator)."""
        s = os.fspath(value) if isinstance(value, (str, os.PathLike)) else ""
        return bool(s) and (s.lower().endswith((".toml", ".json", ".cube")) or os.sep in s)

    @classmethod
    def coerce(cls, value: Any, name: str) -> "FileRef":
        """A FileRef from a FileRef, a ``{"path", "sha256"}`` dict or a bare path (no hash)."""
        if isinstance(value, FileRef):
            return value
        if isinstance(value, Mapping) and "path" in value:
            extra = sorted(set(value) - {"path", "sha256"})
            if extra:
                raise InvalidParameter(f"{name}: file reference has unknown key(s) {', '.join(extra)}")
            return cls(str(value["path"]), str(value.get("sha256", "")))
        if isinstance(value, (str, os.PathLike)):
            return cls(os.fspath(value), "")
        raise InvalidParameter(f"{name} must be a file reference (path), got {type(value).__name__}")


def param(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    unit: str = "",
    doc: str = "",
    choices: tuple[str, ...] | None = None,
    type: type | None = None,  # noqa: A002 - the value type when the default does not say (None)
    flag: str | None = None,
    files: bool = False,
) -> Any:
    """A dataclass field with validation metadata (see module docstring). ``type`` is needed only
    when ``default`` is None (e.g. ``FileRef``); ``flag`` overrides the CLI option name;
    ``files``: a name field that also takes a :class:`FileRef` (a data file by path + hash)."""
    meta = {"lo": lo, "hi": hi, "unit": unit, "doc": doc, "choices": choices, "type": type,
            "flag": flag, "files": files}
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not allowed in params; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def value_type(f: dataclasses.Field) -> type | None:
    """The Python type a field's values have: from ``param(type=)`` or the default."""
    t = f.metadata.get("type")
    if t is not None:
        return t
    d = f.default
    if d is dataclasses.MISSING or d is None:
        return None
    return type(d)


def check_value(owner: str, f: dataclasses.Field, value: Any) -> Any:
    """``value`` validated (and coerced: str -> enum, int -> float, path -> FileRef) for field
    ``f``; raises a one-line :class:`InvalidParameter` naming ``owner.field``, range and unit."""
    meta = f.metadata
    name = f"{owner}.{f.name}"
    t = value_type(f)
    if value is None:
        if f.default is None:
            return None
        raise InvalidParameter(f"{name} must not be None")
    if t is not None and issubclass(t, enum.Enum):
        if isinstance(value, t):
            return value
        try:
            return t(value)
        except ValueError:
            raise InvalidParameter(
                f"{name} = {value!r} is not one of: {', '.join(m.value for m in t)}") from None
    if t is FileRef:
        return FileRef.coerce(value, name)
    if t is bool:
        if isinstance(value, bool):
            return value
        if type(value).__name__ == "bool_":  # numpy bool
            return bool(value)
        raise InvalidParameter(f"{name} must be true or false, got {value!r}")
    if t in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
            raise InvalidParameter(f"{name} must be a number, got {value!r}")
        if isinstance(value, str):
            raise InvalidParameter(f"{name} must be a number, got {value!r}")
        num = float(value)
        if not math.isfinite(num):
            raise InvalidParameter(f"{name} must be finite, got {value}")
        if t is int:
            if num != int(num):
                raise InvalidParameter(f"{name} must be a whole number, got {value}")
            value = int(num)
        elif not isinstance(value, float) or type(value) is not float:
            value = num
        lo, hi = meta.get("lo"), meta.get("hi")
        if lo is not None and value < lo or hi is not None and value > hi:
            unit = f" {meta.get('unit')}" if meta.get("unit") else ""
            raise InvalidParameter(f"{name} = {value} is outside [{lo}, {hi}]{unit}")
        return value
    if t is str:
        if meta.get("files") and isinstance(value, (FileRef, Mapping)):
            return FileRef.coerce(value, name)
        if not isinstance(value, str):
            raise InvalidParameter(f"{name} must be text, got {type(value).__name__}")
        if meta.get("choices") and value not in meta["choices"]:
            raise InvalidParameter(f"{name} = {value!r} is not one of: {', '.join(meta['choices'])}")
        return value
    if t is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _type_name(f: dataclasses.Field) -> str:
    t = value_type(f)
    if t is None:
        return "any"
    if issubclass(t, enum.Enum):
        return "enum"
    if t is FileRef:
        return "file"
    return {bool: "bool", int: "int", float: "float", str: "str", tuple: "list"}.get(t, t.__name__)


def jsonable(v: Any) -> Any:
    """``v`` as JSON data: enums -> value, FileRef -> dict, tuples -> lists."""
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, FileRef):
        return v.to_dict()
    if isinstance(v, (tuple, list)):
        return [jsonable(x) for x in v]
    return v


def field_schema(f: dataclasses.Field) -> dict[str, Any]:
    """JSON-serialisable description of one field (see :meth:`StageParams.schema`)."""
    meta = f.metadata
    t = value_type(f)
    choices = meta.get("choices")
    if t is not None and issubclass(t, enum.Enum):
        choices = tuple(m.value for m in t)
    default = f.default if f.default is not dataclasses.MISSING else None
    return {
        "name": f.name,
        "type": _type_name(f),
        "default": jsonable(default),
        "lo": meta.get("lo"),
        "hi": meta.get("hi"),
        "unit": meta.get("unit", ""),
        "doc": meta.get("doc", ""),
        "choices": list(choices) if choices else None,
        "files": bool(meta.get("files")),
    }


@dataclass(frozen=True)
class StageParams:
    """Base class of every stage's parameters."""

    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in fields(self):
            value = getattr(self, f.name)
            checked = check_value(owner, f, value)
            if checked is not value:
                object.__setattr__(self, f.name, checked)

    @classmethod
    def schema(cls) -> list[dict[str, Any]]:
        """One JSON-serialisable dict per field: name, type (float|int|bool|str|enum|file),
        default, lo, hi, unit, doc, choices."""
        return [field_schema(f) for f in fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data with a ``_version`` key, for saved recipes (None values omitted)."""
        d: dict[str, Any] = {"_version": self.version}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                d[f.name] = jsonable(v)
        return d

    @classmethod
    def migrate(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Upgrade a saved dict from ``from_version`` to ``cls.version``. Override per stage."""
        return data

    @classmethod
    def from_dict(cls: type[P], data: Mapping[str, Any]) -> P:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error naming them."""
        data = dict(data)
        ver = int(data.pop("_version", cls.version))
        if ver > cls.version:
            raise InvalidParameter(f"{cls.__name__} recipe version {ver} is newer than {cls.version}")
        if ver < cls.version:
            data = cls.migrate(data, ver)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidParameter(f"{cls.__name__} has no parameter(s): {', '.join(unknown)}")
        return cls(**data)  # __post_init__ coerces lists, enum values and file refs


# ------------------------------------------------------------------ derived user-level options


@dataclass(frozen=True)
class OptionSpec:
    """How one user-level option maps onto stage params: ``targets`` are ``"stage.field"``
    names set to the option's value (the first gives type, bounds, unit and doc), or with
    ``parse`` a single ``"stage"`` whose whole params ``parse(value)`` returns."""

    targets: tuple[str, ...]
    default: Any = dataclasses.MISSING
    doc: str | None = None
    parse: Callable[[Any], Any] | None = None
    type: type | None = None


def option(*targets: str, default: Any = dataclasses.MISSING, doc: str | None = None,
           parse: Callable[[Any], Any] | None = None, type: type | None = None) -> OptionSpec:  # noqa: A002
    """Shorthand for :class:`OptionSpec`."""
    return OptionSpec(tuple(targets), default, doc, parse, type)


def derive_options(name: str, specs: Mapping[str, OptionSpec],
                   stage_types: Mapping[str, type[StageParams]], doc: str = "") -> type[StageParams]:
    """A frozen :class:`StageParams` subclass with one field per ``specs`` entry whose metadata
    (type, bounds, unit, doc, enum) is copied from its first target stage field (overridable
    ``default``/``doc``). The metadata key ``targets`` records the mapping for
    :func:`apply_options`."""
    made = []
    for opt, spec in specs.items():
        first = spec.targets[0]
        stage, _, fname = first.partition(".")
        if stage not in stage_types:
            raise KeyError(f"option {opt}: no stage {stage!r}")
        if spec.parse is not None:
            meta = {"lo": None, "hi": None, "unit": "", "doc": spec.doc or "", "choices": None,
                    "type": spec.type or str, "flag": None}
            default = spec.default
        else:
            src = {f.name: f for f in fields(stage_types[stage])}[fname]
            meta = dict(src.metadata)
            if spec.doc is not None:
                meta["doc"] = spec.doc
            default = src.default if spec.default is dataclasses.MISSING else spec.default
        meta.update(targets=spec.targets, parse=spec.parse)
        ann = "Any"
        made.append((opt, ann, dataclasses.field(default=default, metadata=meta)))
    cls = dataclasses.make_dataclass(name, made, bases=(StageParams,), frozen=True)
    cls.__doc__ = doc or f"User-level options (each maps onto stage params): {', '.join(specs)}."
    return cls


def apply_options(stages: Mapping[str, StageParams], options: StageParams,
                  only: set[str] | None = None) -> dict[str, StageParams]:
    """``stages`` (name -> params) with the option values of ``options`` written into their
    target stage fields (every option, or the names in ``only``). Validated by the stages."""
    out = dict(stages)
    for f in fields(options):
        if only is not None and f.name not in only:
            continue
        value = getattr(options, f.name)
        parse = f.metadata.get("parse")
        targets = f.metadata.get("targets", ())
        if parse is not None:
            out[targets[0]] = parse(value)
            continue
        for target in targets:
            stage, _, fname = target.partition(".")
            out[stage] = dataclasses.replace(out[stage], **{fname: value})
    return out
