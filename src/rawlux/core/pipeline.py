"""The pipeline: an ordered list of stages, checked once when built.

Each stage is a pure function ``fn(img, params) -> img`` with a frozen params dataclass and two
:class:`Contract` values saying what it takes and gives. :class:`Pipeline` verifies that each
stage's ``gives`` satisfies the next stage's ``takes`` at build time, and that every image
produced at run time matches the declared contract (dtype, kind, space, encoding, referred).
A pipeline serialises to a recipe (list of ``{"stage": name, "params": {...}}``) and back.

Every command runs a *plan*: :meth:`Pipeline.plan` takes the contract of the actual input
(:meth:`Contract.of`) and returns the steps from the first stage that accepts it, computed once
before any pixel work. A uint16 raw starts at ``black_level``; a merged burst (a float32
normalised :class:`RawImage`) enters after it, with no re-quantisation.
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

    @classmethod
    def of(cls, img: Any) -> "Contract":
        """The contract an actual image satisfies (for :meth:`Pipeline.plan`)."""
        if not isinstance(img, (RawImage, Image)):
            raise ContractError(f"expected a RawImage or Image, got {type(img).__name__}")
        dtype = str(np.asarray(img.data).dtype) if hasattr(img.data, "dtype") else None
        if isinstance(img, RawImage):
            return cls(RawImage, dtype)
        return cls(Image, dtype, img.space, img.encoding, img.referred, img.white_balanced)

    def __str__(self) -> str:
        parts = [self.kind.__name__] + [
            _fmt(v) for v in (self.dtype, self.space, self.encoding, self.referred) if v is not None
        ]
        return "/".join(parts)


def _owned(img: Any, source: np.ndarray) -> bool:
    """True when ``img``'s pixels are a buffer the pipeline made (none of the caller's input)."""
    data = img.data
    return (
        isinstance(data, np.ndarray)
        and data.flags.writeable
        and data.flags.c_contiguous
        and not np.may_share_memory(data, source)
    )


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
    #: Optional execution hint for mosaic stages: ``affine(raw, params)`` returns the stage's
    #: whole effect on ``raw`` as a per-site affine map (:class:`rawlux.core.fused.SiteAffine`)
    #: or None when it is not one for this input (then ``fn`` runs). It may read only the
    #: metadata of ``raw``, never ``raw.data``: in a fused run it sees the metadata the previous
    #: stages would have produced, with the pixels not yet computed.
    affine: Callable[[Any, Any], Any] | None = None
    #: Optional execution hint for Image stages: ``pointwise(img, params)`` returns the stage's
    #: whole effect as a per-pixel matrix (:class:`rawlux.core.fused.PixelMatrix`) or None. Like
    #: ``affine`` it reads only metadata (``img.data`` may be unwritten memory).
    pointwise: Callable[[Any, Any], Any] | None = None
    #: Optional: ``fuse_tail(img, params, tail)`` runs the stage while applying the following
    #: pointwise stages in its own kernel. It builds its output's metadata, calls
    #: ``tail(virtual_output)`` to get their composed PixelMatrix (or None = nothing to fuse) and
    #: returns the final Image; or it returns None, without calling ``tail``, to run plainly.
    fuse_tail: Callable[[Any, Any, Callable[[Any], Any]], Any] | None = None
    #: Optional: ``inplace(img, params)`` computes exactly what ``fn`` computes but may write
    #: its result into ``img.data`` (saving a fresh full-size buffer). :meth:`Pipeline.run`
    #: calls it only for an image it owns: one produced during the run whose pixels share no
    #: memory with the caller's input, so callers still never see their input change.
    inplace: Callable[[Any, Any], Any] | None = None

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
    """An ordered, validated list of stages.

    ``fuse`` (default True) lets :meth:`run` execute a run of consecutive stages that declare
    themselves per-site affine maps for the current input (``StageDef.affine``) as one pass over
    the mosaic; the result equals running them one by one (tested), only faster.
    """

    def __init__(self, stages: Iterable[Stage], *, fuse: bool = True) -> None:
        self.fuse = fuse
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

    def plan(self, given: Contract) -> "Pipeline":
        """The steps to run for an input satisfying ``given``: this pipeline from its first
        stage whose ``takes`` accepts ``given`` (e.g. a float32 normalised raw enters after
        ``black_level``). Raises :class:`ContractError` naming the input when no stage takes it."""
        for i, s in enumerate(self.stages):
            if s.definition.takes.accepts(given):
                return self if i == 0 else Pipeline(self.stages[i:], fuse=self.fuse)
        raise ContractError(
            f"no stage of {' -> '.join(self.names())} takes {given}")

    def run_plan(self, img: Any, on_stage: Callable[[str, int, int], None] | None = None) -> Any:
        """:meth:`plan` for ``img``'s contract, then :meth:`run` it."""
        return self.plan(Contract.of(img)).run(img, on_stage=on_stage)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def run(
        self, img: Any, on_stage: Callable[[str, int, int], None] | None = None
    ) -> Any:
        """Apply every stage in order, checking the contract after each one."""
        self.takes.check(img, f"input to {self.stages[0].name}")
        source = img.data
        n = len(self.stages)
        i = 0
        while i < n:
            if self.fuse and self.stages[i].definition.affine is not None:
                k, aff = self._affine_run(i, img)
                if k >= 2:  # fuse: one pass for stages i .. i+k-1
                    # lazy: core.fused pulls in core.jit, which `import rawlux` and
                    # `rawlux --help` (rawlux.develop imports this module) need not load
                    from rawlux.core.fused import apply_site_affine

                    for j in range(i, i + k):
                        if on_stage is not None:
                            on_stage(self.stages[j].name, j, n)
                    img = img.with_data(apply_site_affine(img.data, aff), **aff.changes)
                    last = self.stages[i + k - 1]
                    last.definition.gives_for(last.params).check(img, f"output of {last.name}")
                    i += k
                    continue
            if self.fuse and self.stages[i].definition.fuse_tail is not None:
                if on_stage is not None:
                    on_stage(self.stages[i].name, i, n)
                out, k = self._run_with_tail(i, img)
                if out is not None:
                    for j in range(i + 1, i + 1 + k):  # the absorbed stages (already done)
                        if on_stage is not None:
                            on_stage(self.stages[j].name, j, n)
                    last = self.stages[i + k]
                    last.definition.gives_for(last.params).check(out, f"output of {last.name}")
                    img = out
                    del out  # no second reference: the next stage's input must be freeable
                    i += 1 + k
                    continue
            s = self.stages[i]
            if on_stage is not None and not (self.fuse and s.definition.fuse_tail is not None):
                on_stage(s.name, i, n)
            if self.fuse and s.definition.inplace is not None and _owned(img, source):
                img = s.definition.inplace(img, s.params)
            else:
                img = s(img)
            s.definition.gives_for(s.params).check(img, f"output of {s.name}")
            i += 1
        return img

    def _run_with_tail(self, i: int, img: Any) -> tuple[Any, int]:
        """Run stage ``i`` with the pointwise stages after it fused in: (image or None, count)."""
        absorbed: list[int] = []

        def tail(virt: Any) -> Any:
            absorbed.clear()
            acc = None
            for t in self.stages[i + 1 :]:
                hint = t.definition.pointwise
                pm = None if hint is None else hint(virt, t.params)
                if pm is None:
                    break
                comp = pm if acc is None else acc.then(pm)
                if comp is None:
                    break
                acc = comp
                if pm.changes:
                    virt = replace(virt, **pm.changes)
                absorbed.append(1)
            return acc

        s = self.stages[i]
        out = s.definition.fuse_tail(img, s.params, tail)
        return (None, 0) if out is None else (out, len(absorbed))

    def _affine_run(self, i: int, img: Any) -> tuple[int, Any]:
        """How many stages from ``i`` on are per-site affine maps for ``img``, and their composition."""
        if not isinstance(img, RawImage):
            return 0, None
        aff = None
        virt = img  # metadata as the stages so far would leave it; pixels untouched
        k = 0
        for s in self.stages[i:]:
            if s.definition.affine is None:
                break
            a = s.definition.affine(virt, s.params)
            if a is None:
                break
            try:
                aff = a if aff is None else aff.then(a)
            except ContractError:
                break
            if a.changes:
                virt = replace(virt, **a.changes)
            k += 1
        return k, aff

    def replace_params(self, name: str, **changes: Any) -> "Pipeline":
        """A new pipeline with one stage's params changed (validated)."""
        if name not in self.names():
            raise InvalidParameter(f"no stage {name!r}; stages: {', '.join(self.names())}")
        return Pipeline(
            (Stage(s.definition, replace(s.params, **changes)) if s.name == name else s
             for s in self.stages),
            fuse=self.fuse,
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
