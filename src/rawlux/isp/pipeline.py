"""The pipeline: an ordered list of stages, checked once when built.

Each stage is a pure function ``fn(img, params) -> img`` with a frozen params dataclass and two
:class:`Contract` values saying what it takes and gives. :class:`Pipeline` verifies that each
stage's ``gives`` satisfies the next stage's ``takes`` at build time, and that every image
produced at run time matches the declared contract (dtype, kind, space, encoding, referred).
A pipeline serialises to a recipe (list of ``{"stage": name, "params": {...}}``) and back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import ColorSpace, Encoding, Image, RawImage, Referred
from rawlux.core.params import StageParams


@dataclass(frozen=True)
class Contract:
    """What an image must be at a stage boundary. ``None`` fields mean "any"."""

    kind: type  # RawImage or Image
    dtype: str | None = None  # "uint16" | "float32"
    space: ColorSpace | None = None
    encoding: Encoding | None = None
    referred: Referred | None = None
    white_balanced: bool | None = None

    def accepts(self, given: "Contract") -> bool:
        """True when every image satisfying ``given`` also satisfies ``self``."""
        if self.kind is not given.kind:
            return False
        for name in ("dtype", "space", "encoding", "referred", "white_balanced"):
            want, got = getattr(self, name), getattr(given, name)
            if want is not None and want != got:
                return False
        return True

    def check(self, img: Any, where: str) -> None:
        """Raise :class:`ContractError` when ``img`` breaks this contract."""
        if not isinstance(img, self.kind):
            raise ContractError(f"{where}: expected {self.kind.__name__}, got {type(img).__name__}")
        if self.dtype is not None and img.data.dtype != np.dtype(self.dtype):
            raise ContractError(f"{where}: expected dtype {self.dtype}, got {img.data.dtype}")
        if isinstance(img, Image):
            for name in ("space", "encoding", "referred", "white_balanced"):
                want = getattr(self, name)
                if want is not None and getattr(img, name) != want:
                    raise ContractError(
                        f"{where}: expected {name} {_fmt(want)}, got {_fmt(getattr(img, name))}"
                    )

    def __str__(self) -> str:
        parts = [self.kind.__name__] + [
            _fmt(v) for v in (self.dtype, self.space, self.encoding, self.referred) if v is not None
        ]
        return "/".join(parts)


def _fmt(v: Any) -> str:
    return str(getattr(v, "value", v))


RAW_DN = Contract(RawImage, "uint16")
RAW_NORM = Contract(RawImage, "float32")
CAMERA_LINEAR = Contract(Image, "float32", ColorSpace.CAMERA, Encoding.LINEAR, Referred.SCENE, True)


@dataclass(frozen=True)
class StageDef:
    """A stage kind: name, function, params class and its contract."""

    name: str
    fn: Callable[[Any, Any], Any]
    params_type: type[StageParams]
    takes: Contract
    gives: Contract | Callable[[StageParams], Contract]

    def gives_for(self, params: StageParams) -> Contract:
        return self.gives(params) if callable(self.gives) and not isinstance(self.gives, Contract) else self.gives  # type: ignore[return-value]


@dataclass(frozen=True)
class Stage:
    """A configured stage: its definition plus frozen params."""

    definition: StageDef
    params: StageParams

    @property
    def name(self) -> str:
        return self.definition.name

    def __call__(self, img: Any) -> Any:
        return self.definition.fn(img, self.params)


class Pipeline:
    """An ordered, validated list of stages."""

    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages: tuple[Stage, ...] = tuple(stages)
        if not self.stages:
            raise ContractError("a pipeline needs at least one stage")
        for s in self.stages:
            if not isinstance(s.params, s.definition.params_type):
                raise ContractError(
                    f"stage {s.name}: params must be {s.definition.params_type.__name__}, "
                    f"got {type(s.params).__name__}"
                )
        for a, b in zip(self.stages, self.stages[1:]):
            given = a.definition.gives_for(a.params)
            if not b.definition.takes.accepts(given):
                raise ContractError(
                    f"stage {b.name} takes {b.definition.takes} but {a.name} gives {given}"
                )

    @property
    def takes(self) -> Contract:
        return self.stages[0].definition.takes

    @property
    def gives(self) -> Contract:
        last = self.stages[-1]
        return last.definition.gives_for(last.params)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def run(
        self, img: Any, on_stage: Callable[[str, int, int], None] | None = None
    ) -> Any:
        """Apply every stage in order, checking the contract after each one."""
        self.takes.check(img, f"input to {self.stages[0].name}")
        for i, s in enumerate(self.stages):
            if on_stage is not None:
                on_stage(s.name, i, len(self.stages))
            img = s(img)
            s.definition.gives_for(s.params).check(img, f"output of {s.name}")
        return img

    def replace_params(self, name: str, **changes: Any) -> "Pipeline":
        """A new pipeline with one stage's params changed (validated)."""
        if name not in self.names():
            raise InvalidParameter(f"no stage {name!r}; stages: {', '.join(self.names())}")
        return Pipeline(
            Stage(s.definition, replace(s.params, **changes)) if s.name == name else s
            for s in self.stages
        )

    def recipe(self) -> list[dict[str, Any]]:
        """Serialisable description: stage names and their params."""
        return [{"stage": s.name, "params": s.params.to_dict()} for s in self.stages]

    @classmethod
    def from_recipe(cls, recipe: list[dict[str, Any]], registry: dict[str, StageDef]) -> "Pipeline":
        """Rebuild a pipeline from :meth:`recipe` output using stage definitions by name."""
        stages = []
        for entry in recipe:
            name = entry.get("stage")
            if name not in registry:
                raise InvalidParameter(f"unknown stage {name!r}; valid: {', '.join(sorted(registry))}")
            sd = registry[name]
            stages.append(Stage(sd, sd.params_type.from_dict(entry.get("params", {}))))
        return cls(stages)
