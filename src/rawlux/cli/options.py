"""Command-line options generated from params dataclasses (the one source of parameters).

:func:`typer_options` turns the fields of a :class:`~rawlux.core.params.StageParams` class into
typer options: flag ``--field-name`` (or ``param(flag=)``), ``--x/--no-x`` for switches, the
enum's values as choices, ``lo``/``hi`` as min/max, and help from ``doc`` + unit + range.
:func:`with_options` adds them to a command function, which receives them in ``**kwargs``;
:func:`given_options` tells which were typed on the command line (so they override a recipe).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import typer

from rawlux.core.params import Choice, FileRef, StageParams, value_type


def flag_name(f: dataclasses.Field) -> str:
    """The ``--flag`` of a field."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def help_text(f: dataclasses.Field) -> str:
    """``doc`` plus unit, e.g. ``exposure compensation (EV)`` (click shows the range)."""
    meta = f.metadata
    doc = meta.get("doc") or f.name.replace("_", " ")
    bits = []
    if meta.get("unit"):
        bits.append(meta["unit"])
    return f"{doc} ({', '.join(bits)})" if bits else doc


def typer_options(cls: type[StageParams], *, only: Iterable[str] | None = None,
                  panel: str | None = None) -> list[inspect.Parameter]:
    """One keyword :class:`inspect.Parameter` (annotation + ``typer.Option``) per field of
    ``cls`` (or the names in ``only``, in that order)."""
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    names = list(only) if only is not None else list(by_name)
    out = []
    for name in names:
        f = by_name[name]
        t = value_type(f)
        default = f.default if f.default is not dataclasses.MISSING else None
        flag = flag_name(f)
        kw: dict[str, Any] = {"help": help_text(f), "rich_help_panel": panel}
        if t is bool:  # both ways: a flag on the command line overrides a recipe either way
            ann: Any = bool
            decls = [f"{flag}/--no-{flag[2:]}"]
        elif t is not None and issubclass(t, enum.Enum):
            ann, decls = t, [flag]
            kw["case_sensitive"] = False
        elif t is FileRef:
            ann, decls, default = Optional[Path], [flag], None
        elif t in (int, float):
            ann, decls = t, [flag]
            if f.metadata.get("lo") is not None:
                kw["min"] = f.metadata["lo"]
            if f.metadata.get("hi") is not None:
                kw["max"] = f.metadata["hi"]
        else:
            ann, decls = (str if default is not None else Optional[str]), [flag]
            if f.metadata.get("choices") and default is not None:  # fixed values: an enum
                ann = Choice(f"{cls.__name__}_{name}",  # type: ignore[misc]
                             [(c.upper().replace("-", "_"), c) for c in f.metadata["choices"]])
                kw["case_sensitive"] = False
        out.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann,
                                     default=typer.Option(default, *decls, **kw)))
    return out


def field_option(cls: type[StageParams], name: str, *, default: Any = dataclasses.MISSING,
                 help: str | None = None, panel: str | None = None) -> Any:  # noqa: A002
    """The ``typer.Option`` of one field of ``cls`` (flag, choices, range, help from its
    metadata), for a command that declares the parameter itself; ``default``/``help`` override."""
    (p,) = typer_options(cls, only=[name], panel=panel)
    info = p.default
    if default is not dataclasses.MISSING:
        info.default = default
    if help is not None:
        info.help = help
    return info


def with_options(fn: Callable[..., Any], extra: list[inspect.Parameter],
                 before: str | None = None) -> Callable[..., Any]:
    """``fn`` (whose last parameter is ``**options``) with ``extra`` typer options added to its
    signature (at the end, or before the parameter named ``before``, which orders ``--help``);
    typer passes their values inside ``options``."""
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    fixed = [p.replace(annotation=hints.get(p.name, p.annotation))
             for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    clash = {p.name for p in fixed} & {p.name for p in extra}
    if clash:
        raise TypeError(f"options clash with fixed parameters: {sorted(clash)}")
    fixed = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind is
             inspect.Parameter.POSITIONAL_OR_KEYWORD else p for p in fixed]
    at = next((i for i, p in enumerate(fixed) if p.name == before), len(fixed))
    params = fixed[:at] + extra + fixed[at:]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        return fn(**kwargs)

    command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    del command.__wrapped__  # typer must read the new signature, not fn's
    return command


def given_options(ctx: typer.Context, names: Iterable[str]) -> set[str]:
    """The names among ``names`` whose value came from the command line (or environment),
    not from the option's default."""
    out = set()
    for n in names:
        src = ctx.get_parameter_source(n)  # typer vendors click: compare the enum by name
        if getattr(src, "name", None) in ("COMMANDLINE", "ENVIRONMENT"):
            out.add(n)
    return out


def option_values(kwargs: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The values of ``names`` from a command's kwargs (enums kept, Paths as str)."""
    out = {}
    for n in names:
        v = kwargs[n]
        out[n] = str(v) if isinstance(v, Path) else v
    return out
