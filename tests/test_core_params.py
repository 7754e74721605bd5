"""core.params: Choice enums, typed coercion, FileRef, derived options; every params class in
rawlux declares bounds, docs and one-line errors."""

from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from rawlux.core.errors import InvalidParameter
from rawlux.core.params import (Choice, FileRef, StageParams, apply_options, derive_options,
                                option, param)

MODULES = ("rawlux.looks.spec", "rawlux.portrait.lens", "rawlux.portrait.bokeh", "rawlux.frame.stage",
           "rawlux.burst.align", "rawlux.burst.merge", "rawlux.isp.awb", "rawlux.isp.highlights",
           "rawlux.isp.denoise", "rawlux.isp.output", "rawlux.isp.geometry", "rawlux.isp.look",
           "rawlux.isp.black_level", "rawlux.isp.lens_shading", "rawlux.isp.sharpen",
           "rawlux.isp.white_balance", "rawlux.isp.color_transform", "rawlux.isp.demosaic")


def _all_params() -> list[type[StageParams]]:
    for m in MODULES:
        importlib.import_module(m)
    out, todo = [], list(StageParams.__subclasses__())
    while todo:
        c = todo.pop()
        todo.extend(c.__subclasses__())
        if c.__module__.startswith("rawlux.") and c.__name__ != "DevelopOptions":
            out.append(c)
    return sorted(out, key=lambda c: c.__name__)


ALL = _all_params()


class Speed(Choice):
    SLOW = "slow"
    FAST_ISH = "fast-ish"


@dataclass(frozen=True)
class _S(StageParams):
    speed: Speed = param(Speed.SLOW, doc="speed")
    n: int = param(2, lo=1, hi=5, doc="count")
    x: float = param(0.5, lo=0.0, hi=1.0, unit="m", doc="length")
    ref: FileRef | None = param(None, type=FileRef, doc="a file")


def test_choice_members_behave_like_their_strings() -> None:
    assert Speed("FAST_ISH") is Speed.FAST_ISH and Speed("fast-ish") is Speed.FAST_ISH
    assert Speed.SLOW == "slow" and {"slow": 1}[Speed.SLOW] == 1 and f"{Speed.SLOW}" == "slow"
    p = _S(speed="fast_ish", n=3.0, x=1)
    assert p.speed is Speed.FAST_ISH and type(p.n) is int and type(p.x) is float
    assert json.loads(json.dumps(p.to_dict())) == {"_version": 1, "speed": "fast-ish", "n": 3, "x": 1.0}
    assert _S.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("kw, needle", [
    ({"speed": "warp"}, "_S.speed = 'warp' is not one of: slow, fast-ish"),
    ({"n": 2.5}, "_S.n must be a whole number"),
    ({"n": True}, "_S.n must be a number"),
    ({"x": "0.5"}, "_S.x must be a number"),
    ({"x": float("inf")}, "_S.x must be finite"),
    ({"x": 2.0}, r"_S.x = 2.0 is outside \[0.0, 1.0\] m"),
    ({"ref": 3}, "_S.ref must be a file reference"),
])
def test_bad_values_are_one_line_errors(kw: dict, needle: str) -> None:
    with pytest.raises(InvalidParameter, match=needle) as info:
        _S(**kw)
    assert "\n" not in str(info.value)


def test_file_ref_hashes_content_and_detects_change(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    ref = FileRef.of(f)
    assert ref.sha256.startswith("ba7816bf") and ref.verified_path() == str(f)
    assert _S(ref={"path": str(f), "sha256": ref.sha256}).ref == ref
    f.write_bytes(b"abd")
    with pytest.raises(InvalidParameter, match="content changed"):
        ref.verified_path()
    assert FileRef(str(f)).verified_path() == str(f)  # no recorded hash: nothing to check


def test_derived_options_copy_the_stage_field_and_write_back() -> None:
    opts = derive_options("Opts", {"count": option("s.n"), "size": option("s.x", default=0.25)},
                          {"s": _S})
    f = {x.name: x for x in dataclasses.fields(opts)}
    assert f["count"].metadata["lo"] == 1 and f["size"].metadata["unit"] == "m"
    assert opts().size == 0.25
    with pytest.raises(InvalidParameter, match=r"Opts.count = 9 is outside \[1, 5\]"):
        opts(count=9)
    out = apply_options({"s": _S()}, opts(count=4), only={"count"})
    assert out["s"] == _S(n=4)


@pytest.mark.parametrize("cls", ALL, ids=[c.__name__ for c in ALL])
def test_every_params_class_declares_bounds_docs_and_errors(cls: type[StageParams]) -> None:
    json.dumps(cls.schema())
    for f in cls.schema():
        assert f["doc"], f"{cls.__name__}.{f['name']} has no doc"
        if f["type"] in ("int", "float"):
            assert f["lo"] is not None and f["hi"] is not None, f"{cls.__name__}.{f['name']}"
            with pytest.raises(InvalidParameter) as info:
                cls(**{f["name"]: f["hi"] + max(1, f["hi"] - f["lo"])})
            assert "\n" not in str(info.value) and f"{cls.__name__}.{f['name']}" in str(info.value)
