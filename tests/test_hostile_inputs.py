"""Hostile inputs beyond the DNG path, through the real CLI (tests/data/hostile/, made by
tests/hostile/make_hostile.py from tests/hostile/inputs.py): each gives exactly one stderr line
``rawlux: error: <file>: <reason>`` with the expected exit code, no traceback, no "internal error",
no escape character and no output (or temp) file, under an address-space limit and a hang guard;
the cases that must work produce their output. Plus output safety (symlinks, inputs, clashes,
--out-dir escapes, SIGTERM) and the pieces each fix rests on."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from typer.testing import CliRunner

from rawlux.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.hostile is imported from the checkout root
    sys.path.insert(0, str(ROOT))

from tests.hostile import dngfuzz, inputs  # noqa: E402

DIR = Path(__file__).parent / "data" / "hostile"
MANIFEST = json.loads((DIR / "MANIFEST_INPUTS.json").read_text())
runner = CliRunner()
HEADROOM = 3 * 2**30  # address space a case may add (a bomb that slips through fails instead)
HANG_S = 60  # a case that runs longer than this is a hang (the fixed ones take well under 1 s)


@contextmanager
def _bounded(extra_bytes: int = HEADROOM, seconds: int = HANG_S) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        vsz = int(f.read().split()[0]) * resource.getpagesize()
    lim = vsz + extra_bytes if hard == resource.RLIM_INFINITY else min(vsz + extra_bytes, hard)

    def hang(signum, frame):  # noqa: ANN001
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    resource.setrlimit(resource.RLIMIT_AS, (lim, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("material")
    raw = d / "seed.dng"
    raw.write_bytes(dngfuzz.seeds()["bayer"])
    big = d / "photo_500x400.jpg"
    big.write_bytes(inputs.photo_jpeg(500, 400))
    fifo = d / "logo.fifo"
    os.mkfifo(fifo)
    return {"raw": raw, "big": big, "fifo": fifo, "photo": DIR / inputs.PHOTO}


def _argv(args, file: Path | None, out: Path, material: dict[str, Path]) -> list[str]:
    subs = {"{out}": str(out), **{f"{{{k}}}": str(v) for k, v in material.items()}}
    if file is not None:
        subs["{file}"] = str(file)
    res = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v) if a.startswith(k) else a
        res.append(a)
    return res


def _run(argv: list[str], env: dict[str, str], monkeypatch) -> object:
    monkeypatch.delenv("RAWLUX_DEBUG", raising=False)
    monkeypatch.delenv("RAWLUX_MAX_MEGAPIXELS", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with _bounded():
        return runner.invoke(app, argv)


def _check_refused(res, code: int, pattern: str, names: Path | str | None, out_dir: Path) -> None:
    err = res.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert res.exit_code == code, (res.exit_code, err, repr(res.exception))
    assert len(lines) == 1 and lines[0].startswith("rawlux: error: "), err
    if names is not None:
        assert lines[0].startswith(f"rawlux: error: {names}: "), err  # blames the hostile file
    assert re.search(pattern, lines[0]), err
    assert "Traceback" not in err and "internal error" not in err and "\x1b" not in err
    assert not any(out_dir.iterdir()), "no output or temp file may be left"


def test_manifest_matches_generator():
    assert set(MANIFEST) == set(inputs.CASES)
    for name, case in inputs.CASES.items():
        m = MANIFEST[name]
        assert (m["exit"], m["message"], m["args"], m["env"]) == (case.exit, case.message,
                                                                   list(case.args), case.env)


@pytest.mark.parametrize("name", sorted(inputs.CASES))
def test_file_is_made_by_the_script(name):
    assert (DIR / name).read_bytes() == inputs.build(name), f"regenerate: {name}"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_hostile_input(name, material, tmp_path, monkeypatch):
    case = MANIFEST[name]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path = DIR / name
    res = _run(_argv(case["args"], path, out_dir / "o", material), case["env"], monkeypatch)
    if case["exit"]:
        _check_refused(res, case["exit"], case["message"], path, out_dir)
        return
    assert res.exit_code == 0, (res.stderr, repr(res.exception))
    assert "error" not in res.stderr and "\x1b" not in res.stderr + res.stdout
    if case["message"]:
        warn = [ln for ln in res.stderr.splitlines() if ln.startswith("rawlux: warning: ")]
        assert len(warn) == 1 and re.search(case["message"], warn[0]), res.stderr
    if case["args"][0] != "info":
        outs = list(out_dir.iterdir())
        assert len(outs) == 1 and outs[0].stat().st_size > 0 and not outs[0].name.startswith(".")


@pytest.mark.parametrize("name", sorted(inputs.SPECIAL))
def test_special_input(name, material, tmp_path, monkeypatch):
    """A FIFO or a device as a logo/look/layout path is refused without blocking; templates
    with huge format-spec widths are refused before any formatting."""
    args, code, pattern = inputs.SPECIAL[name]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = _run(_argv(args, None, out_dir / "o", material), {}, monkeypatch)
    _check_refused(res, code, pattern, None, out_dir)


def test_info_escapes_what_the_file_says(monkeypatch, tmp_path):
    res = _run(["info", str(DIR / "dng_make_escape.dng")], {}, monkeypatch)
    assert res.exit_code == 0 and "\x1b" not in res.stdout and "\x07" not in res.stdout
    assert "Evil\\x1b]0;pwned\\x07\\x1b[2J" in res.stdout  # shown, harmlessly
    assert "[bold red]X[/bold red]" in res.stdout  # rich markup printed as text, not applied


def test_logo_aspect_30_is_bounded_and_right():
    from rawlux.io.logo import LOGO_MAX_SIDE, LOGO_OUT_PIXELS, load_logo

    a = load_logo(DIR / "logo_aspect_30.svg")
    h, w = a.shape[:2]
    assert w <= LOGO_MAX_SIDE and w * h <= LOGO_OUT_PIXELS and abs(w / h - 30) < 0.5
    assert a[:, 2:-2, 3].min() > 0.99 and abs(a[h // 2, w // 2, 0] - 0xC0 / 255) < 0.01  # the red bar


def test_large_png_logo_is_scaled_down_before_float(tmp_path):
    """A 6000 x 3000 px logo (within the 40 MP header limit) comes back at most 4 MP, same aspect
    and content (left half opaque red)."""
    from PIL import Image as PILImage

    from rawlux.io.logo import LOGO_OUT_PIXELS, load_logo

    a = np.zeros((3000, 6000, 4), np.uint8)
    a[:, :3000] = (255, 0, 0, 255)
    PILImage.fromarray(a, "RGBA").save(tmp_path / "big.png")
    rgba = load_logo(tmp_path / "big.png")
    h, w = rgba.shape[:2]
    assert h * w <= LOGO_OUT_PIXELS and abs(w / h - 2) < 0.01
    assert rgba[h // 2, w // 4, 3] == 1.0 and rgba[h // 2, 3 * w // 4, 3] == 0.0


def test_gdepth_prefixes_are_found_in_a_constant_number_of_passes(monkeypatch):
    """The 5000-prefix packet: the property search no longer runs one regex per prefix."""
    import rawlux.io.depth as depth

    data = (DIR / "gdepth_5000_prefixes.jpg").read_bytes()
    x = depth.jpeg_xmp(data)
    calls = []
    real = depth.re

    class Counting:
        def __getattr__(self, k):  # noqa: ANN001, ANN204
            f = getattr(real, k)
            return (lambda *a, **kw: (calls.append(k), f(*a, **kw))[1]) if callable(f) else f

    monkeypatch.setattr(depth, "re", Counting())
    assert depth._attr(x.extended, depth.NS_GDEPTH, "Far") == "10"
    assert len(calls) <= 4, calls
    dm = depth.read_embedded_depth(DIR / "gdepth_5000_prefixes.jpg")
    assert dm is not None and dm.disparity.shape == (6, 8)


def test_toml_nesting_scan():
    from rawlux.core.errors import InvalidParameter
    from rawlux.core.limits import parse_toml, toml_nesting

    assert toml_nesting('a = [[1], {b = [2]}]\n[t]\n') == (3, 1)
    assert toml_nesting('s = "[[[[" # [[[[\nx = \'\'\'\n[[[\'\'\'\n')[0] == 0  # strings, comments
    deep = "x = " + "[" * 40 + "]" * 40
    with pytest.raises(InvalidParameter, match=r"^f\.toml: TOML file nests 40 levels deep at line 1"):
        parse_toml(deep, "f.toml")
    with pytest.raises(InvalidParameter, match=r"nests more than 16 tables deep \(dotted keys\)"):
        parse_toml("a" + ".a" * 30 + " = 1", "f.toml")
    assert parse_toml("a.b = 1\n[c]\nd = [1, [2]]\n", "f.toml") == {"a": {"b": 1}, "c": {"d": [1, [2]]}}


def test_read_capped_bytes(tmp_path):
    from rawlux.core.errors import CorruptInput, MissingInput
    from rawlux.core.limits import read_capped_bytes

    f = tmp_path / "a.toml"
    f.write_bytes(b"x" * 100)
    assert read_capped_bytes(f, 100, "look file") == b"x" * 100
    with pytest.raises(CorruptInput, match=r"a\.toml: look file is 100 bytes, above the 99 bytes limit"):
        read_capped_bytes(f, 99, "look file")
    with pytest.raises(MissingInput, match=r"look file is a directory"):
        read_capped_bytes(tmp_path, 99, "look file")
    with pytest.raises(MissingInput, match=r"look file not found"):
        read_capped_bytes(tmp_path / "no.toml", 99, "look file")


def test_terminal_safe():
    from rawlux.core.limits import terminal_safe

    s = terminal_safe("a\x1b]0;t\x07b\x9b31m\u202ec\nd é [b]x[/b]")
    assert s == "a\\x1b]0;t\\x07b\\x9b31m\\u202ec\\x0ad é [b]x[/b]"
    assert terminal_safe("x" * 5000).endswith("...") and len(terminal_safe("x" * 5000)) == 2003


def test_format_exposure_never_overflows():
    from rawlux.frame.template import format_exposure

    assert format_exposure(5e-324) == "4.9e-324 s"  # was OverflowError (1 / 5e-324 = inf)
    assert format_exposure(1 / 8000) == "1/8000 s" and format_exposure(30) == '30"'
    for t in (0.0, -1.0, float("inf"), float("nan")):
        assert format_exposure(t) == ""


def test_template_spec_bounds():
    from rawlux.core.errors import InvalidParameter
    from rawlux.frame.template import MAX_SPEC_NUMBER, parse_template

    parse_template(f"{{make:x>{MAX_SPEC_NUMBER}}} {{exposure:.{MAX_SPEC_NUMBER}f}}")
    for bad in ("{make:x>3000000000}", "{iso:,>2000000000}", "{date:%1000000Y}",
                "{make:x>\u0663\u0660\u0660\u0660\u0660\u0660\u0660}"):  # Arabic-Indic digits
        with pytest.raises(InvalidParameter, match=r"has width or precision"):
            parse_template(bad)
    with pytest.raises(InvalidParameter, match=r"more than 64 fields"):
        parse_template("{make}" * 65)
    with pytest.raises(InvalidParameter, match=r"above the limit of 1000"):
        parse_template("x" * 1001)


# ----------------------------------------------------------------------------------- outputs


def _develop(args: list[str], monkeypatch):
    monkeypatch.delenv("RAWLUX_MAX_MEGAPIXELS", raising=False)
    return runner.invoke(app, ["develop", *args])


def test_output_symlink_input_and_clashes_refused_before_work(material, tmp_path, monkeypatch):
    raw = tmp_path / "a.dng"
    raw.write_bytes(material["raw"].read_bytes())
    victim = tmp_path / "victim.jpg"
    victim.write_bytes(b"keep")
    link = tmp_path / "link.jpg"
    link.symlink_to(victim)
    res = _develop([str(raw), "-o", str(link)], monkeypatch)
    assert res.exit_code == 4 and f"{link}: output is a symbolic link" in res.stderr
    assert victim.read_bytes() == b"keep"
    res = _develop([str(raw), "-o", str(raw)], monkeypatch)  # .dng is no output format
    assert res.exit_code == 4 and "unknown output extension '.dng'" in res.stderr
    as_tif = tmp_path / "b.tif"  # a DNG named .tif is still read as a raw (by content)
    as_tif.write_bytes(raw.read_bytes())
    res = _develop([str(as_tif), "-o", str(tmp_path / "." / "b.tif")], monkeypatch)
    assert res.exit_code == 4 and "refusing to overwrite an input file" in res.stderr
    assert as_tif.read_bytes() == raw.read_bytes()
    out = tmp_path / "out"
    res = _develop([str(raw), "--out-dir", str(out), "--format", "jpg/../../x.jpg"], monkeypatch)
    assert res.exit_code == 2 and "is not a file extension" in res.stderr
    assert not out.exists() and not (tmp_path.parent / "x.jpg").exists()
    raw2 = tmp_path / "A.dng"
    raw2.write_bytes(raw.read_bytes())
    res = _develop([str(raw), str(raw2), "--out-dir", str(out)], monkeypatch)
    assert res.exit_code == 4 and "differ only in letter case" in res.stderr
    assert not out.exists() or not any(out.iterdir())


def test_recipe_files_hostile(material, tmp_path, monkeypatch):
    """--recipe reads through core.limits (FIFO, size, nesting refused naming the recipe);
    --save-recipe and --sidecar outputs obey the output rules (no symlink, not the --recipe)."""
    raw = tmp_path / "a.dng"
    raw.write_bytes(material["raw"].read_bytes())
    out = tmp_path / "a.jpg"
    deep = tmp_path / "deep.json"
    deep.write_text('{"rawlux_recipe": 2, "stages": ' + "[" * 5000 + "]" * 5000 + "}")
    big = tmp_path / "big.toml"
    big.write_bytes(b"# x\n" * 400_000)
    cases = [(material["fifo"], "recipe is a FIFO; only regular files are read"),
             (deep, "recipe nests 5001 levels deep at line 1"),
             (big, "recipe is 1.5 MB, above the 1.0 MB limit")]
    for recipe, msg in cases:
        res = _develop([str(raw), "-o", str(out), "--recipe", str(recipe)], monkeypatch)
        assert res.exit_code != 0 and res.stderr.startswith(f"rawlux: error: {recipe}: "), res.stderr
        assert msg in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert not out.exists()
    good = tmp_path / "r.toml"
    res = _develop([str(raw), "-o", str(out), "--save-recipe", str(good)], monkeypatch)
    assert res.exit_code == 0 and good.is_file(), res.stderr
    out.unlink()
    before = good.read_bytes()
    res = _develop([str(raw), "-o", str(out), "--recipe", str(good), "--save-recipe",
                    str(tmp_path / "." / "r.toml")], monkeypatch)
    assert res.exit_code == 4 and "refusing to overwrite an input file" in res.stderr
    assert good.read_bytes() == before and not out.exists()
    victim = tmp_path / "victim.toml"
    victim.write_text("keep")
    (tmp_path / "a.jpg.rawlux.toml").symlink_to(victim)
    res = _develop([str(raw), "-o", str(out), "--sidecar"], monkeypatch)
    assert res.exit_code == 4 and "output is a symbolic link" in res.stderr
    assert victim.read_text() == "keep" and not out.exists()


@pytest.mark.parametrize("text, msg", [
    ('rawlux_recipe = 2\n[stages.look]\n_version = nan\n', "stages.look._version must be a whole number"),
    ('rawlux_recipe = 2\n[stages.look]\nlook = "{"\n', "stages.look.look: unknown look '{'"),
])
def test_recipe_fuzz_findings(tmp_path, text, msg):
    """Found by the recipe fuzz target: a NaN stage version (was ValueError) and an unknown look
    name (was found mid-develop, not naming the recipe) fail when the recipe is read."""
    from rawlux.app.recipe import load_recipe
    from rawlux.core.errors import InvalidParameter

    p = tmp_path / "r.toml"
    p.write_text(text)
    with pytest.raises(InvalidParameter) as err:
        load_recipe(p)
    assert str(err.value).startswith(f"{p}: ") and msg in str(err.value), str(err.value)


def test_check_outputs_unit(tmp_path):
    from rawlux.core.errors import OutputError
    from rawlux.app.outputs import check_outputs

    a, b = tmp_path / "a.jpg", tmp_path / "b.png"
    assert check_outputs([a, None, b], inputs=[tmp_path / "in.dng"]) == [a, b]
    with pytest.raises(OutputError, match=r"two outputs would be written to this same file"):
        check_outputs([a, tmp_path / "." / "a.jpg"])  # --save-depth equal to -o
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match=r"outside --out-dir"):
        check_outputs([tmp_path / "d" / ".." / "x.jpg"], out_dir=tmp_path / "d")
    with pytest.raises(OutputError, match=r"unknown output extension '.dng'"):
        check_outputs([tmp_path / "x.dng"])  # the extension check comes with the rules
    with pytest.raises(OutputError, match=r"output directory does not exist"):
        check_outputs([tmp_path / "nowhere" / "x.jpg"])
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    with pytest.raises(OutputError, match=r"symbolic link"):
        check_outputs([tmp_path / "dangling.jpg"])


def test_portrait_save_depth_equal_to_output(material, tmp_path, monkeypatch):
    out = tmp_path / "p.jpg"
    res = runner.invoke(app, ["portrait", str(material["photo"]), "-o", str(out), "--save-depth",
                              str(tmp_path / "." / "p.jpg")])
    assert res.exit_code == 4 and "two outputs would be written to this same file" in res.stderr
    assert not out.exists()


def test_sigterm_while_writing_leaves_no_temp_file(tmp_path, monkeypatch):
    """SIGTERM arrives while the encoder writes: like Ctrl-C, the temp file is removed, the
    target is untouched and the CLI reports "interrupted" (exit 130)."""
    import rawlux.io.write as write
    from rawlux.cli.common import Terminated, handle_sigterm
    from rawlux.io.photo import open_photo

    img = open_photo(DIR / inputs.PHOTO)
    target = tmp_path / "t.png"
    target.write_bytes(b"old")
    real = write._write_png

    def killed(*a, **kw):  # noqa: ANN002, ANN003
        real(*a, **kw)
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to the handler before returning
        for _ in range(1000):
            pass

    old = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        handle_sigterm()
        monkeypatch.setattr(write, "_write_png", killed)
        with pytest.raises(Terminated):
            write.save(img, target)
    finally:
        signal.signal(signal.SIGTERM, old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.png"] and target.read_bytes() == b"old"
    assert issubclass(Terminated, KeyboardInterrupt)  # run_guarded: "interrupted", exit 130


def test_stage_errors_without_a_file_name_the_input(capsys):
    """A ContractError raised by a stage (no path) is printed with the file being processed;
    a parameter error is not blamed on the file."""
    from rawlux.cli.common import run_guarded
    from rawlux.core.errors import ContractError, InvalidParameter

    def stage():
        raise ContractError("crop (0, 0, 0, 0) is empty")

    def param():
        raise InvalidParameter("--wb must be as-shot, auto or KELVIN")

    with pytest.raises(SystemExit) as e:
        run_guarded(stage, context="in.dng")
    assert e.value.code == 3
    assert capsys.readouterr().err == "rawlux: error: in.dng: crop (0, 0, 0, 0) is empty\n"
    with pytest.raises(SystemExit):
        run_guarded(param, context="in.dng")
    assert capsys.readouterr().err == "rawlux: error: --wb must be as-shot, auto or KELVIN\n"


def test_burst_budget_names_the_reference(monkeypatch):
    from rawlux.burst import merge
    from rawlux.core.errors import ImageTooLarge

    ref = dngfuzz._seed_raw("bayer")  # 64 x 48 px
    monkeypatch.setenv("RAWLUX_MAX_MEGAPIXELS", "0.001")  # 64 kB of budget
    with pytest.raises(ImageTooLarge, match=r"^ref\.dng: merging 3 frames of 64x48 px needs about"):
        merge._check_burst_budget(ref, 3, "ref.dng")
    monkeypatch.setenv("RAWLUX_MAX_MEGAPIXELS", "100")
    merge._check_burst_budget(ref, 3, "ref.dng")
    with pytest.raises(ImageTooLarge, match=r"a burst of 257 frames is above the limit of 256"):
        merge._check_burst_budget(ref, 257, "ref.dng")


class _FakeLibRaw:
    """What rawpy reports for a non-DNG raw whose header claims ``w`` x ``h`` px; touching the
    pixels (which would make LibRaw unpack) fails the test."""

    def __init__(self, w: int, h: int) -> None:
        from types import SimpleNamespace

        # visible area at most 8000 x 6000 (the margins are what is huge in the first case)
        self.sizes = SimpleNamespace(raw_width=w, raw_height=h, width=min(w - 8, 8000),
                                     height=min(h - 8, 6000), flip=0)

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *a: object) -> None:
        pass

    @property
    def raw_image(self):  # noqa: ANN201
        raise AssertionError("unpacked before the size checks")

    raw_image_visible = raw_image


@pytest.mark.parametrize(("w", "h", "env", "pattern"), [
    (20000, 12000, "100", r"raw image \(with margins\) is 20000x12000 px = 240 MP, needs about"),
    (8000, 6000, "250", r"raw_width 8000 x raw_height 6000 cannot be held by a 4 byte file"),
])
def test_libraw_sizes_are_checked_before_unpacking(tmp_path, monkeypatch, w, h, env, pattern):
    import rawpy

    from rawlux.core.errors import InputError
    from rawlux.io.raw import _open_libraw

    f = tmp_path / "x.nef"
    f.write_bytes(b"\x00" * 4)
    monkeypatch.setenv("RAWLUX_MAX_MEGAPIXELS", env)
    monkeypatch.setattr(rawpy, "imread", lambda p: _FakeLibRaw(w, h))
    with pytest.raises(InputError, match=pattern) as e:
        _open_libraw(f, "unknown")
    assert str(e.value).startswith(f"{f}: ")


def test_lut_size_against_the_budget(monkeypatch):
    """The LUT table's bytes (size^3 x 3 x 12: parsed float64 + float32 LUT) are checked against
    the memory budget when its size line is read, before any row is."""
    from rawlux.core.errors import ImageTooLarge
    from rawlux.io.cube import parse_cube

    monkeypatch.setenv("RAWLUX_MAX_MEGAPIXELS", "1")  # 64 MB
    with pytest.raises(ImageTooLarge, match=r"^x\.cube: a LUT_3D_SIZE 256 table needs about 0\.604 GB"):
        parse_cube("LUT_3D_SIZE 256\n" + "0 0 0\n" * 10, "x.cube")
    assert parse_cube("LUT_3D_SIZE 2\n" + "0 0 0\n" * 8, "x.cube").size == 2


def test_editor_svg_logo_still_renders(tmp_path):
    """A logo as Inkscape saves it (DOCTYPE, metadata, sodipodi:namedview with a centre of -2.4e6,
    mm sizes, gradient, transform) passes the SVG checks and renders (2 cm x 6 cm -> 3584 x 1024)."""
    from rawlux.io.logo import load_logo

    ns = ('xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
          'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" '
          'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"')
    f = tmp_path / "ink.svg"
    f.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        f'<svg {ns} width="210mm" height="60mm" viewBox="0 0 210 60" inkscape:version="1.0 (4035a4fb49)">'
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/><stop offset="1" '
        'stop-color="#00f"/></linearGradient></defs>'
        '<sodipodi:namedview inkscape:cx="-2400000.5" inkscape:zoom="0.35"/>'
        '<g transform="translate(-10.5,-20.25) scale(1.0)"><path style="fill:url(#g)" '
        'd="m 20.5,30.25 h 50 v 30 h -50 z" sodipodi:nodetypes="ccccc"/></g></svg>')
    a = load_logo(f)
    assert a.shape == (1024, 3584, 4)
    assert a[512, 200, 3] == 1.0 and a[512, 200, 0] > 0.9 and a[512, 1500, 3] == 0.0
