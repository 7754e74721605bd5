"""Recipes: every parameter of every develop stage, saved as TOML or JSON and replayed exactly.

A :class:`Recipe` maps each stage of :data:`rawlux.isp.stages.STAGE_ORDER` to its frozen params
(data files as :class:`~rawlux.core.params.FileRef`: path + SHA-256). The user-level options of
``rawlux develop`` (:data:`DEVELOP_OPTIONS`, e.g. ``exposure`` -> ``color_transform.exposure_ev``)
are *derived* from the stage fields they set (type, bounds, unit, doc), so stage params are the
one declaration; :func:`develop_options_class` builds ``DevelopOptions`` from them, the CLI builds
its flags from that (:mod:`rawlux.cli.options`), and :func:`schema` describes all of it as JSON.

File format (``rawlux_recipe`` is the schema version, :data:`RECIPE_VERSION`)::

    rawlux_recipe = 3
    [stages.highlights]
    _version = 1
    method = "reconstruct"
    ...
    [stages.look.lut]
    path = "/abs/film.cube"
    sha256 = "9f2c..."

Stages or fields left out take their defaults (the develop defaults). Version 1 recipes held the
flat ``develop`` options (``{"rawlux_recipe": 1, "options": {"highlights": "reconstruct",
"wb": "5500,+10", "lut": "film.cube", ...}}``); :func:`migrate` turns them into stage params
(same pixels, tested). :meth:`Recipe.hash` is a stable content hash (data files by content).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

from rawlux.core.errors import InvalidParameter, OutputError
from rawlux.core.params import (FileRef, OptionSpec, StageParams, apply_options, derive_options,
                                field_schema, option)
from rawlux.isp.stages import DEFAULT_LOOK, stage_definitions

#: Schema version written by :meth:`Recipe.to_dict` (1: flat develop options; 2: stage params;
#: 3: lens correction is the ``lensfun`` stage's ``correction`` mode, auto = DNG opcodes else the
#: lensfun database; a version 2 recipe with the DNG lens shading off meant "no lens correction").
RECIPE_VERSION = 3


def _parse_wb(value: Any) -> StageParams:
    from rawlux.isp.white_balance import parse_wb

    return parse_wb(value)


#: ``rawlux develop`` options -> the stage fields they set (first target: type, bounds, doc).
DEVELOP_OPTIONS: dict[str, OptionSpec] = {
    "look": option("look.look", default=DEFAULT_LOOK,
                   doc="look name (see `rawlux looks list`) or look .toml file"),
    "strength": option("look.strength"),
    "lut": option("look.lut", doc=".cube LUT applied after the look"),
    "lut_strength": option("look.lut_strength"),
    "wb": option("white_balance", default="as-shot", parse=_parse_wb,
                 doc="white balance: as-shot | auto | KELVIN[,TINT] (e.g. 5500,+10)"),
    "exposure": option("color_transform.exposure_ev", doc="exposure compensation"),
    "color_space": option("output.color_space"),
    "demosaic": option("demosaic.method"),
    "highlights": option("highlights.method"),
    "lens_correction": option("lensfun.correction"),
    "profile": option("profile.dcp"),
    "crop": option("geometry.apply_crop"),
    "gamut": option("output.gamut_map"),
    "scene_referred": option(
        "look.scene_referred", "output.scene_referred",
        doc="no look: linear Rec.2020 (D65) scene values, unclipped, as float32 .tif or .exr "
            "(implied by an .exr output; --look, --lut, --color-space do not apply)"),
    "denoise": option("denoise.strength", doc="raw noise reduction (0 = off)"),
    "sharpen": option("sharpen.amount", doc="capture sharpening (0 = off)"),
    "hdr": option("output.hdr"),
    "headroom": option("output.headroom"),
    "transfer": option("output.transfer"),
}


def stage_types() -> dict[str, type[StageParams]]:
    """Params class of each develop stage, in pipeline order."""
    return {name: sd.params_type for name, sd in stage_definitions().items()}


@functools.lru_cache(maxsize=1)
def develop_options_class() -> type[StageParams]:
    """``DevelopOptions``: the user-level develop options, derived from the stage fields."""
    cls = derive_options("DevelopOptions", DEVELOP_OPTIONS, stage_types(),
                         doc="User-level options of develop; each field is a stage field "
                             "(see rawlux.app.recipe.DEVELOP_OPTIONS).")
    cls.__module__ = "rawlux.develop"
    return cls


def __getattr__(name: str) -> Any:
    # ``DevelopOptions`` is generated from the stage params on first use
    if name == "DevelopOptions":
        return develop_options_class()
    raise AttributeError(f"module 'rawlux.app.recipe' has no attribute {name!r}")


def develop_options(**options: Any) -> StageParams:
    """Validated ``DevelopOptions`` (unknown names: one line listing the valid ones)."""
    cls = develop_options_class()
    unknown = sorted(set(options) - set(cls.__dataclass_fields__))
    if unknown:
        raise InvalidParameter(f"develop() got unknown option(s): {', '.join(unknown)}; valid: "
                               f"{', '.join(cls.__dataclass_fields__)}")
    if options.get("lut") is not None:
        from rawlux.io.cube import lut_ref

        options["lut"] = lut_ref(options["lut"])  # read + hash now: a bad file fails before work
    if options.get("profile") is not None and not isinstance(options["profile"], (FileRef, dict)):
        options["profile"] = FileRef.of(options["profile"])  # a .dcp: by path + content hash
    if FileRef.looks_like_path(options.get("look")):
        options["look"] = FileRef.of(options["look"], "look file")  # a look file: by path + content hash
    return cls(**options)


#: Command sections a recipe may hold besides the develop stages: section -> (module, class).
COMMAND_OPTIONS: dict[str, tuple[str, str]] = {
    "portrait": ("rawlux.app.portrait", "PortraitOptions"),
    "frame": ("rawlux.app.frame", "FrameOptions"),
    "night": ("rawlux.app.night", "NightParams"),
    "night_merge": ("rawlux.burst.merge", "MergeParams"),
    "night_superres": ("rawlux.burst.superres", "SuperResParams"),
}


def command_type(section: str, source: str = "<recipe>") -> type[StageParams]:
    """The params class of a recipe's command section (unknown: one line listing the valid)."""
    import importlib

    if section not in COMMAND_OPTIONS:
        raise InvalidParameter(f"{source}: unknown command section {section!r}; valid: "
                               f"{', '.join(COMMAND_OPTIONS)}")
    module, name = COMMAND_OPTIONS[section]
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every develop stage's params, in pipeline order (build with :meth:`default`,
    :meth:`with_options`, :meth:`from_dict` or :func:`load_recipe`)."""

    stages: tuple[tuple[str, StageParams], ...]
    #: params of the command that used the develop stages, by section (:data:`COMMAND_OPTIONS`):
    #: e.g. ``(("portrait", PortraitOptions(...)),)``; ``("frame", FrameOptions)`` for
    #: ``develop --frame``. Empty for a plain develop recipe.
    commands: tuple[tuple[str, StageParams], ...] = ()

    def __post_init__(self) -> None:
        types = stage_types()
        names = [n for n, _ in self.stages]
        if names != list(types):
            raise InvalidParameter(f"recipe stages {names} are not the develop stages "
                                   f"{list(types)}")
        for name, p in self.stages:
            if not isinstance(p, types[name]):
                raise InvalidParameter(f"recipe stage {name}: params must be "
                                       f"{types[name].__name__}, got {type(p).__name__}")
        d = dict(self.stages)
        if d["look"].scene_referred != d["output"].scene_referred:  # one contract, two stages
            raise InvalidParameter("look.scene_referred and output.scene_referred must agree "
                                   "(the scene_referred option sets both)")

    # ---------------------------------------------------------------- building
    @classmethod
    def default(cls) -> "Recipe":
        """The develop defaults (stage defaults with the develop options' defaults applied)."""
        return _default_recipe()

    def with_options(self, **options: Any) -> "Recipe":
        """This recipe with the given develop options (``look=``, ``exposure=``, ``lut=`` path
        or Lut...) written into their stage fields; the others keep this recipe's values."""
        opts = develop_options(**options)
        return dataclasses.replace(self, stages=tuple(
            apply_options(dict(self.stages), opts, only=set(options)).items()))

    def replace(self, stage: str, **changes: Any) -> "Recipe":
        """This recipe with some fields of one stage changed (validated)."""
        d = dict(self.stages)
        if stage not in d:
            raise InvalidParameter(f"no stage {stage!r}; stages: {', '.join(d)}")
        d[stage] = dataclasses.replace(d[stage], **changes)
        return dataclasses.replace(self, stages=tuple(d.items()))

    def with_command(self, section: str, params: StageParams | None) -> "Recipe":
        """This recipe with the params of one command section set (None removes it)."""
        command_type(section)  # a known section
        rest = tuple((n, p) for n, p in self.commands if n != section)
        return dataclasses.replace(self, commands=rest + (((section, params),) if params is not None else ()))

    def command(self, section: str) -> StageParams | None:
        """The params of one command section, or None when the recipe has none."""
        return dict(self.commands).get(section)

    def __getitem__(self, stage: str) -> StageParams:
        return dict(self.stages)[stage]

    def __iter__(self) -> Iterator[tuple[str, StageParams]]:
        return iter(self.stages)

    def pipeline(self, fuse: bool = True, raw: Any = None) -> Any:
        """The develop :class:`~rawlux.core.pipeline.Pipeline` configured by this recipe;
        ``raw`` (the RawImage it will develop) decides ``lens_correction`` "auto"
        (:func:`rawlux.isp.lensfun.resolve_lens`; without it: the DNG opcodes only)."""
        from rawlux.core.pipeline import Pipeline, Stage
        from rawlux.isp.lensfun import resolve_lens

        defs = stage_definitions()
        stages = resolve_lens(dict(self.stages), raw)
        return Pipeline((Stage(defs[n], stages[n]) for n, _ in self.stages), fuse=fuse)

    # ---------------------------------------------------------------- data
    def to_dict(self) -> dict[str, Any]:
        """``{"rawlux_recipe": RECIPE_VERSION, "stages": {name: params.to_dict()}}`` (JSON data)."""
        out: dict[str, Any] = {"rawlux_recipe": RECIPE_VERSION,
                               "stages": {name: p.to_dict() for name, p in self.stages}}
        if self.commands:
            out["commands"] = {name: p.to_dict() for name, p in self.commands}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<recipe>") -> "Recipe":
        """Rebuild from :meth:`to_dict` output of this or an older version (migrated)."""
        data = migrate(data, source)
        stages_in = data.get("stages", {})
        if not isinstance(stages_in, Mapping):
            raise InvalidParameter(f"{source}: 'stages' must be a table")
        base = dict(cls.default().stages)
        unknown = sorted(set(stages_in) - set(base))
        if unknown:
            raise InvalidParameter(f"{source}: unknown stage(s) {', '.join(unknown)}; "
                                   f"valid: {', '.join(base)}")
        for name, saved in stages_in.items():
            if not isinstance(saved, Mapping):
                raise InvalidParameter(f"{source}: stages.{name} must be a table")
            t = type(base[name])
            saved = dict(saved)
            ver = saved.pop("_version", t.version)
            if not isinstance(ver, int) or isinstance(ver, bool) or not 0 <= ver <= 1_000_000:
                raise InvalidParameter(f"{source}: stages.{name}._version must be a whole number, "
                                       f"got {str(ver)[:40]!r}")
            merged = {**{k: v for k, v in base[name].to_dict().items() if k != "_version"}}
            if ver < t.version:
                saved = t.migrate(saved, ver)
                ver = t.version
            merged.update(saved)
            base[name] = t.from_dict({**merged, "_version": ver})
        cmds_in = data.get("commands", {})
        if not isinstance(cmds_in, Mapping):
            raise InvalidParameter(f"{source}: 'commands' must be a table")
        commands = []
        for name, saved in cmds_in.items():
            if not isinstance(saved, Mapping):
                raise InvalidParameter(f"{source}: commands.{name} must be a table")
            commands.append((name, command_type(name, source).from_dict(saved)))
        return cls(tuple(base.items()), tuple(commands))

    def hash(self) -> str:
        """Stable SHA-256 (hex) of every parameter; data files count by content, not path."""
        def canon(v: Any) -> Any:
            if isinstance(v, dict):
                if set(v) == {"path", "sha256"}:
                    return {"sha256": v["sha256"] or f"unhashed:{v['path']}"}
                return {k: canon(x) for k, x in v.items()}
            if isinstance(v, list):
                return [canon(x) for x in v]
            return v

        import hashlib

        text = json.dumps(canon(self.to_dict()), sort_keys=True, separators=(",", ":"),
                          allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def to_toml(self) -> str:
        return _to_toml(self.to_dict())

    def check_saveable(self, where: str | os.PathLike[str] = "recipe") -> None:
        """Raise when a data file is referenced only in memory (nothing to point a file at)."""
        from rawlux.io.cube import MEMORY_PREFIX

        for name, p in self.stages:
            for f in dataclasses.fields(p):
                v = getattr(p, f.name)
                if isinstance(v, FileRef) and v.path.startswith(MEMORY_PREFIX):
                    raise OutputError(f"{name}.{f.name} is a loaded object, not a file: a recipe "
                                      "can only reference it by path", where)


@functools.lru_cache(maxsize=1)
def _default_recipe() -> Recipe:
    stages = {name: t() for name, t in stage_types().items()}
    return Recipe(tuple(apply_options(stages, develop_options_class()()).items()))


def command_recipe(section: str, values: Mapping[str, Any],
                   recipe: "Recipe | str | os.PathLike[str] | None" = None,
                   save: "str | os.PathLike[str] | None" = None) -> tuple[Any, "Recipe"]:
    """(the command's params, the recipe recording them) for a command run with ``values`` (the
    options given, e.g. the typed flags) over ``recipe`` (a Recipe or a recipe file: its
    ``section`` params and develop stages are the base; None = the defaults). Validated; with
    ``save`` the recipe is written there (``--save-recipe``), before any pixel work."""
    t = command_type(section)
    if recipe is None:
        base = Recipe.default()
    else:
        base = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    saved = base.command(section)
    params = dataclasses.replace(saved, **values) if saved is not None else t(**values)
    rec = base.with_command(section, params)
    if save is not None:
        save_recipe(rec, save)
    return params, rec


def build_pipeline(options: Any = None, lut: Any = None, raw: Any = None) -> Any:
    """The develop :class:`~rawlux.core.pipeline.Pipeline` configured from ``options`` (a
    ``DevelopOptions``, every field applied; None = the develop defaults) and ``lut`` (a
    ``.cube`` path, a loaded LUT or None); ``raw``: see :meth:`Recipe.pipeline`."""
    opts = develop_options_class()() if options is None else options
    rec = Recipe(tuple(apply_options(dict(Recipe.default().stages), opts).items()))
    return (rec if lut is None else rec.with_options(lut=lut)).pipeline(raw=raw)


def recipe_hash(recipe: Recipe) -> str:
    """:meth:`Recipe.hash` (the batch ledger key)."""
    return recipe.hash()


def migrate(data: Mapping[str, Any], source: str = "<recipe>") -> dict[str, Any]:
    """A recipe dict of any known version as the current version's dict."""
    if not isinstance(data, Mapping):
        raise InvalidParameter(f"{source}: a recipe must be a table, got {type(data).__name__}")
    data = dict(data)
    try:
        ver = int(data.get("rawlux_recipe", 0))
    except (TypeError, ValueError):
        raise InvalidParameter(f"{source}: rawlux_recipe must be a version number") from None
    if ver < 1:
        raise InvalidParameter(f"{source}: not a rawlux recipe (no 'rawlux_recipe' version key)")
    if ver > RECIPE_VERSION:
        raise InvalidParameter(f"{source}: recipe version {ver} is newer than this rawlux "
                               f"({RECIPE_VERSION}); upgrade rawlux")
    if ver == 1:  # flat develop options -> stage params
        opts = dict(data.get("options", {}))
        if opts.get("demosaic") is None:
            opts.pop("demosaic", None)  # v1: None meant "the default method"
        if isinstance(opts.get("lut"), str):
            opts["lut"] = {"path": opts["lut"], "sha256": ""}
        unknown = sorted(set(opts) - set(DEVELOP_OPTIONS))
        if unknown:
            raise InvalidParameter(f"{source}: version 1 recipe has unknown option(s) "
                                   f"{', '.join(unknown)}")
        cls = develop_options_class()
        rec = Recipe.default()
        rec = Recipe(tuple(apply_options(dict(rec.stages), cls(**opts), only=set(opts)).items()))
        data = rec.to_dict()
    elif ver == 2:  # no lensfun stage yet: "lens correction off" was the DNG shading switched off
        stages = data.get("stages")
        if isinstance(stages, Mapping) and "lensfun" not in stages:
            shading = stages.get("lens_shading")
            if isinstance(shading, Mapping) and shading.get("enabled") is False:
                data["stages"] = {**stages, "lensfun": {"correction": "off"}}
        data["rawlux_recipe"] = RECIPE_VERSION
    return data


# ---------------------------------------------------------------- files


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read a ``.toml`` or ``.json`` recipe (decided by content: JSON starts with ``{``) through
    :func:`rawlux.core.limits.read_capped_bytes` (regular files only, at most 1 MB) with the
    data-file nesting limit (:data:`~rawlux.core.limits.MAX_TOML_DEPTH`, checked by a linear
    scan before either parser recurses). Missing/FIFO/device -> MissingInput; too large, not
    UTF-8, malformed or too deep -> CorruptInput; bad values -> InvalidParameter; all naming
    the file."""
    from rawlux.core.errors import CorruptInput
    from rawlux.core.limits import MAX_TOML_DEPTH, read_capped_bytes, toml_nesting

    p = Path(path)
    raw = read_capped_bytes(p, 1 << 20, "recipe")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptInput("recipe is not UTF-8 text", p) from None
    depth, line = toml_nesting(text)  # JSON and TOML alike: brackets outside strings
    if depth > MAX_TOML_DEPTH:
        raise CorruptInput(f"recipe nests {depth} levels deep at line {line}, above the limit of "
                           f"{MAX_TOML_DEPTH}", p)
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CorruptInput(f"malformed recipe: {' '.join(str(exc).split())}", p) from None
    if not isinstance(data, dict):
        raise CorruptInput(f"malformed recipe: a {type(data).__name__}, not a table", p)
    try:
        rec = Recipe.from_dict(data, str(p))
        look = dict(rec.stages).get("look")
        name = getattr(look, "look", None)
        if isinstance(name, str):  # a look by name: known before any work, not mid-develop
            from rawlux.looks.registry import get_look

            try:
                get_look(name)
            except InvalidParameter as err:
                raise InvalidParameter(f"stages.look.look: {err.reason}") from None
        return rec
    except InvalidParameter as err:
        if err.path is None and not err.reason.startswith(str(p)):
            raise InvalidParameter(f"{p}: {err.reason}") from None
        raise


def save_recipe(recipe: Recipe, path: str | os.PathLike[str]) -> Path:
    """Write ``recipe`` as JSON (``.json``) or TOML (any other suffix), atomically."""
    p = Path(path)
    recipe.check_saveable(p)
    text = recipe.to_json() if p.suffix.lower() == ".json" else recipe.to_toml()
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write recipe: {exc.strerror or exc}", p) from None
    return p


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """Where ``--sidecar`` writes the recipe of ``output``: ``OUT.rawlux.toml`` beside it."""
    p = Path(output)
    return p.with_name(p.name + ".rawlux.toml")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InvalidParameter(f"recipe value {v} is not finite")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise InvalidParameter(f"recipe value of type {type(v).__name__} cannot be written as TOML")


def _to_toml(data: Mapping[str, Any]) -> str:
    """``data`` (scalars, lists, nested tables; None omitted) as TOML text."""
    out = ["# rawlux recipe: rawlux develop --recipe FILE (flags given on the command line win)"]

    def table(name: str, d: Mapping[str, Any]) -> None:
        if name and any(not isinstance(v, Mapping) for v in d.values()):
            out.append(f"\n[{name}]")
        for k, v in d.items():
            if v is not None and not isinstance(v, Mapping):
                out.append(f"{k} = {_toml_value(v)}")
        for k, v in d.items():
            if isinstance(v, Mapping):
                table(f"{name}.{k}" if name else k, v)

    table("", data)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- schema


#: Params of the other commands' stages, for :func:`schema` (module, class) by command and role.
COMMAND_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "night": {"align": ("rawlux.burst.align", "AlignParams"),
              "merge": ("rawlux.burst.merge", "MergeParams")},
    "portrait": {"lens": ("rawlux.portrait.lens", "LensParams"),
                 "bokeh": ("rawlux.portrait.bokeh", "BokehParams")},
    "frame": {"frame": ("rawlux.frame.stage", "FrameParams")},
}


def schema(commands: bool = False) -> dict[str, Any]:
    """JSON description of every develop stage's params and of the develop options (each with
    the stage fields it sets): the studio and the CLI build their controls from it. With
    ``commands`` also the params of night, portrait and frame (imports those packages)."""
    opts = []
    cls = develop_options_class()
    for f in dataclasses.fields(cls):
        d = field_schema(f)
        d["targets"] = list(f.metadata.get("targets", ()))
        opts.append(d)
    return {
        "rawlux_recipe": RECIPE_VERSION,
        "stages": {name: {"params": t.__name__, "version": t.version, "fields": t.schema()}
                   for name, t in stage_types().items()},
        "options": opts,
        **({"commands": _command_schema()} if commands else {}),
    }


def _command_schema() -> dict[str, Any]:
    import importlib

    out: dict[str, Any] = {}
    for command, roles in COMMAND_PARAMS.items():
        out[command] = {}
        for role, (module, name) in roles.items():
            t = getattr(importlib.import_module(module), name)
            out[command][role] = {"params": name, "version": t.version, "fields": t.schema()}
    return out
