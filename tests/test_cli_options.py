"""CLI options generated from params dataclasses (rawlux.cli.options)."""

from __future__ import annotations

import dataclasses

import pytest
from dataclasses import dataclass
from typing import Any

import typer
from typer.testing import CliRunner

from rawlux.app.recipe import DEVELOP_OPTIONS, develop_options_class
from rawlux.core.params import Choice, StageParams, param
from rawlux.cli.options import flag_name, given_options, typer_options, with_options


class _Mode(Choice):
    FAST = "fast"
    GOOD = "good"


@dataclass(frozen=True)
class _P(StageParams):
    gain: float = param(1.0, lo=0.0, hi=4.0, unit="x", doc="gain of the thing")
    mode: _Mode = param(_Mode.GOOD, doc="how to do it")
    on: bool = param(True, doc="do it at all")
    taps: int = param(3, lo=1, hi=9, doc="filter taps")


def _app() -> tuple[typer.Typer, list]:
    seen: list = []
    app = typer.Typer()

    def cmd(ctx: typer.Context, name: str = typer.Option("x", "--name"), **options: Any) -> None:
        seen.append((options, given_options(ctx, [f.name for f in dataclasses.fields(_P)])))
        _P(**options)

    app.command()(with_options(cmd, typer_options(_P)))

    @app.command()
    def other() -> None:  # two commands: typer keeps the subcommand name
        pass

    return app, seen


def test_generated_options_parse_validate_and_report_what_was_given() -> None:
    app, seen = _app()
    res = CliRunner().invoke(app, ["cmd", "--gain", "2.5", "--mode", "FAST", "--no-on"])
    assert res.exit_code == 0, res.output
    options, given = seen[-1]
    assert options == {"gain": 2.5, "mode": _Mode.FAST, "on": False, "taps": 3}
    assert given == {"gain", "mode", "on"}
    for bad, needle in ((["--gain", "5"], "--gain"), (["--mode", "slow"], "slow"),
                        (["--taps", "0"], "--taps")):
        res = CliRunner().invoke(app, ["cmd", *bad])
        assert res.exit_code == 2 and needle in res.output, res.output


def test_generated_help_shows_doc_unit_range_and_choices() -> None:
    app, _ = _app()
    res = CliRunner().invoke(app, ["cmd", "--help"], env={"COLUMNS": "160"})
    out = res.output
    assert "gain of the thing (x)" in out and "0.0<=x<=4.0" in out
    assert "fast|good" in out and "--on" in out and "--no-on" in out and "1<=x<=9" in out


def test_develop_flags_are_generated_from_the_stage_params() -> None:
    from rawlux.cli.app import app

    res = CliRunner().invoke(app, ["develop", "--help"], env={"COLUMNS": "200"})
    out = res.output
    cls = develop_options_class()
    for f in dataclasses.fields(cls):
        assert flag_name(f) in out, flag_name(f)
    assert set(f.name for f in dataclasses.fields(cls)) == set(DEVELOP_OPTIONS)
    # choices come from the stage enums (the demosaic ones from its registry)
    assert "reconstruct|clip|none" in out and "rcd" in out and "srgb|p3" in out
    assert "exposure compensation (EV)" in out and "-10.0<=x<=10.0" in out
    for flag in ("--recipe", "--save-recipe", "--sidecar", "--lens-correction", "--profile",
                 "--scene-referred", "--lut", "--wb"):
        assert flag in out, flag


def test_develop_cli_rejects_out_of_range_before_work(tmp_path) -> None:
    from rawlux.cli.app import app

    res = CliRunner().invoke(app, ["develop", "missing.dng", "-o", str(tmp_path / "x.jpg"),
                                   "--exposure", "12"])
    assert res.exit_code == 2 and "--exposure" in res.output
    res = CliRunner().invoke(app, ["develop", "missing.dng", "-o", str(tmp_path / "x.jpg"),
                                   "--highlights", "melt"])
    assert res.exit_code == 2 and "melt" in res.output
    assert not list(tmp_path.iterdir())


def test_portrait_and_frame_flags_come_from_their_params_without_pixel_code(tmp_path) -> None:
    """PortraitOptions / FrameOptions generate the flags; their modules load no OpenCV."""
    import subprocess
    import sys

    code = ("import sys, rawlux.app.portrait, rawlux.app.frame; "
            "bad = [m for m in ('cv2', 'numba', 'rawlux.portrait.render', 'rawlux.frame.render') "
            "if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    from rawlux.app.frame import FrameOptions
    from rawlux.app.portrait import PortraitOptions
    from rawlux.cli.app import app
    from rawlux.core.errors import InvalidParameter

    for cmd, cls, skip in (("portrait", PortraitOptions, {"focus"}), ("frame", FrameOptions, set())):
        out = CliRunner().invoke(app, [cmd, "--help"], env={"COLUMNS": "200"}).output
        for f in dataclasses.fields(cls):
            if f.name not in skip:
                assert flag_name(f) in out, (cmd, flag_name(f))
    out = CliRunner().invoke(app, ["portrait", "--help"], env={"COLUMNS": "200"}).output
    assert "auto|salient|none" in out and "--no-original" in out and "far|near" in out
    res = CliRunner().invoke(app, ["portrait", "x.jpg", "-o", str(tmp_path / "p.jpg"),
                                   "--aperture", "-1"])
    assert res.exit_code == 2 and "--aperture" in res.output
    res = CliRunner().invoke(app, ["frame", "x.jpg", "-o", str(tmp_path / "f.jpg"),
                                   "--color-space", "xyz"])
    assert res.exit_code == 2 and "xyz" in res.output
    assert not list(tmp_path.iterdir())
    with pytest.raises(InvalidParameter, match="bit_depth"):
        FrameOptions(bit_depth=12)
    with pytest.raises(InvalidParameter, match="focus"):
        PortraitOptions(focus=(0.5, 1.5))
