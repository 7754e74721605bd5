"""Structure-aware fuzzing of rawlux's other parsers: ``.cube`` LUTs, GDepth XMP in JPEGs, look
and layout TOML, caption templates, SVG logos and develop recipes (TOML/JSON) (the DNG path is ``dngfuzz.py``).

Each :data:`TARGETS` entry has seeds (valid files made here or rawlux's own built-in data files)
and a mutator that knows the format's tokens: numbers become NaN/inf/huge/negative/non-ASCII
digits, keywords and keys are duplicated, dropped or misspelt, strings get control characters,
nesting is deepened, sizes and counts are inflated, references point outside the file; plus byte
flips and truncation. Each mutant goes through the real reader and what follows it (a LUT is
applied, a look rendered, a layout framed, a template formatted, a logo decoded) on a tiny image.

Outcome classes (as in ``dngfuzz``): ``ok``; the typed error's class name; bugs are
``ESCAPE:<exception>`` (anything but a :class:`RawluxError`, including MemoryError under the
address-space limit), ``UNNAMED:<class>`` (the message is not one line starting with the file,
for file targets) and ``SLOW`` (one mutant over :data:`SLOW_S` seconds).
``python benchmarks/fuzz.py --inputs --seconds 300`` runs long; ``tests/test_fuzz_inputs.py``
runs a few hundred with fixed seeds.
"""

from __future__ import annotations

import random
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

SLOW_S = 5.0
BUG_PREFIXES = ("ESCAPE:", "UNNAMED:", "SLOW")

_WEIRD_NUMBERS = ["nan", "inf", "-inf", "1e309", "-1e309", "1e-320", "0", "-0", "-1", "65537",
                  "4294967297", "9" * 40, "1e6", "\u00b2", "\u0663", "\uff13", "0x10", "1_000",
                  "2e9", "256", "257", "1.5", ".", "-", "+"]
_WEIRD_TEXT = ["\x1b]0;t\x07", "\x00", "\u202e", "[bold]x[/bold]", "{", "}", "{{", "\\", '"', "'",
               "\n", "é", "\ud7ff", "x" * 300]


def _flip(b: bytearray, r: random.Random) -> None:
    for _ in range(r.randint(1, 4)):
        if b:
            b[r.randrange(len(b))] = r.randrange(256)


def _text_mutate(text: str, r: random.Random, tokens: list[str], deep: str = "[") -> str:
    """One structure-aware change of a text format: replace a number, a word, or a line;
    duplicate/drop lines; deepen nesting; insert odd characters or tokens."""
    lines = text.split("\n")
    k = r.randrange(9)
    i = r.randrange(len(lines)) if lines else 0
    if k == 0:  # a number becomes something odd
        nums = list(re.finditer(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text))
        if nums:
            m = r.choice(nums)
            return text[:m.start()] + r.choice(_WEIRD_NUMBERS) + text[m.end():]
    if k == 1:  # a word/key becomes another known token or garbage
        words = list(re.finditer(r"[A-Za-z_][A-Za-z_0-9]*", text))
        if words:
            m = r.choice(words)
            return text[:m.start()] + r.choice(tokens + _WEIRD_TEXT) + text[m.end():]
    if k == 2 and lines:
        lines.insert(i, lines[r.randrange(len(lines))])
        return "\n".join(lines)
    if k == 3 and len(lines) > 1:
        del lines[i]
        return "\n".join(lines)
    if k == 4:  # deep nesting (a few hundred to a few thousand levels)
        n = r.choice([20, 200, 3000])
        close = {"[": "]", "{": "}", "<g>": "</g>"}[deep]
        pos = r.randrange(len(text) + 1)
        return text[:pos] + deep * n + close * n + text[pos:]
    if k == 5:  # odd characters
        pos = r.randrange(len(text) + 1)
        return text[:pos] + r.choice(_WEIRD_TEXT) + text[pos:]
    if k == 6:  # a known token inserted at a line start
        lines.insert(i, r.choice(tokens))
        return "\n".join(lines)
    if k == 7:  # truncation
        return text[: r.randrange(len(text) + 1)]
    b = bytearray(text.encode("utf-8", "surrogatepass"))
    _flip(b, r)
    return b.decode("utf-8", "replace")


def _mutate_text(seed: bytes, r: random.Random, tokens: list[str], deep: str = "[") -> bytes:
    text = seed.decode("utf-8", "replace")
    for _ in range(r.choice([1, 1, 2, 3])):
        text = _text_mutate(text, r, tokens, deep)
    return text.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------- seeds


def _cube_seeds() -> list[bytes]:
    from rawlux.io.cube import format_cube
    from rawlux.looks.lut import identity_lut

    return [format_cube(identity_lut(3, 3), "id3").encode(), format_cube(identity_lut(5, 1), "id1").encode(),
            b'TITLE "r"\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\nLUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n'
            b"0 0 1\n1 0 1\n0 1 1\n1 1 1\n"]


CUBE_TOKENS = ["LUT_3D_SIZE 256", "LUT_1D_SIZE 65536", "LUT_3D_SIZE 2", "DOMAIN_MIN 0 0 0",
               "DOMAIN_MAX 1e30 1 1", "LUT_3D_INPUT_RANGE 1 0", "TITLE \"x", "# rawlux-encoding: linear",
               "# rawlux-encoding: nope", "0 0 0", "nan nan nan", "1 2", "LUT_1D_SIZE 2"]


def _looks_seeds() -> list[bytes]:
    from rawlux.looks.registry import DATA_DIR

    return [p.read_bytes() for p in sorted(DATA_DIR.glob("*.toml"))]


LOOK_TOKENS = ["[tone]", "[colour]", "[[hue]]", "[local]", "[grain]", "strength = 1e308",
               "contrast = -1", "name = \"neutral\"", "hue = 3", "x = [[[[1]]]]", "a.b.c.d.e.f = 1",
               "[tone.x.y]", "saturation = nan"]


def _layout_seeds() -> list[bytes]:
    from rawlux.frame.layout import BUILTIN_DIR

    return [p.read_bytes() for p in sorted(BUILTIN_DIR.glob("*.toml"))]


LAYOUT_TOKENS = ["margin = { top = 2.0, right = 2.0, bottom = 2.0, left = 2.0 }", "[[right]]",
                 "type = \"logo\"", "type = \"separator\"", "lines = []", "size = 0.25",
                 "text = \"{make:x>1000000}\"", "text = \"{iso:.999f}\"", "text = \"{date:%1000000Y}\"",
                 "text = \"{{}}{model!r}\"", "when = \"logo\"", "side = \"top\"", "[zone]"]


def _recipe_seeds() -> list[bytes]:
    from rawlux.app.recipe import Recipe

    rec = Recipe.default()
    v1 = b'{"rawlux_recipe": 1, "options": {"look": "vivid", "exposure": 0.5, "wb": "5500,3"}}'
    return [rec.to_toml().encode(), rec.to_json().encode(),
            rec.with_options(look="mono", exposure=-1.0).to_toml().encode(), v1]


RECIPE_TOKENS = ["rawlux_recipe = 1", "rawlux_recipe = 99", "[stages.look]", "[stages.bogus]",
                 "look = \"/dev/zero\"", "look = \"../../x.toml\"", "exposure_ev = 1e308",
                 "method = \"melt\"", "strength = nan", "lut = { path = \"/dev/zero\", sha256 = \"0\" }",
                 "[stages.output.x.y.z]", "\"stages\": {", "denoise = -1", "wb = \"99999,-99\""]


TEMPLATE_SEEDS = [b"{model} \xc2\xb7 {focal} \xc2\xb7 {fnumber} \xc2\xb7 {exposure} \xc2\xb7 {iso}",
                  b"{camera} | {lens} | {date:%d %b %Y} {time}", b"{make:upper} {focal:.0f}mm {gps:dms}",
                  b"{{literal}} {artist} {copyright}"]
TEMPLATE_TOKENS = ["{make:x>999}", "{iso:,}", "{exposure:.3e}", "{fnumber:>10.2f}", "{date:%Y%m}",
                   "{gps:dms}", "{model!r}", "{0}", "{make.__class__}", "{make[0]}", "{iso:d}",
                   "{focal:%}", "{unknown}", "{time:%H}", "{exposure:x}", "{iso:c}", "{make:=^20}"]


def _svg_seeds() -> list[bytes]:
    ns = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    return [
        f'<svg {ns} width="120" height="40"><rect x="0" y="0" width="40" height="40" fill="#c02020"/>'
        f'<circle cx="80" cy="20" r="15" stroke="black" stroke-width="3"/></svg>'.encode(),
        f'<svg {ns} viewBox="0 0 200 50"><defs><g id="d"><path d="M0 0 L10 10 Z"/></g></defs>'
        f'<use xlink:href="#d" x="5"/><use xlink:href="#d" x="50"/><text x="60" y="30">Logo</text>'
        f"</svg>".encode(),
        f'<svg {ns} width="64" height="64"><linearGradient id="g"><stop offset="0" stop-color="red"/>'
        f'<stop offset="1" stop-color="blue"/></linearGradient><rect width="64" height="64" '
        f'fill="url(#g)"/><image width="8" height="8" xlink:href="data:image/png;base64,'
        f'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="/>'
        f"</svg>".encode(),
    ]


SVG_TOKENS = ['<use xlink:href="#d"/>', '<image xlink:href="file:///etc/passwd" width="9" height="9"/>',
              '<image href="http://example.com/x.png"/>', 'width="1e9"', 'height="0.0001"',
              'viewBox="0 0 0 0"', 'viewBox="0 0 1e30 1"', 'transform="scale(1e9)"',
              'stroke-width="1e9"', '<style>@import url(x.css);</style>', 'fill="url(file:///x)"',
              '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>', '<svg width="99999" height="1">',
              '<pattern id="p" width="0.0001" height="0.0001"><rect width="1" height="1"/></pattern>',
              '<text font-size="1e9">x</text>', '<g id="d">']


def _xmp_seeds() -> list[bytes]:
    from tests.hostile.inputs import gdepth_many_prefixes

    return [gdepth_many_prefixes(2), gdepth_many_prefixes(40)]


XMP_TOKENS = ['g1:Near="-1"', 'g1:Far="nan"', 'g1:Format="RangeLinear"', 'g1:Format="Bogus"',
              'g1:Data="!!!"', 'g1:Mime="image/jpeg"', 'xmlns:g1="http://ns.google.com/photos/1.0/depthmap/"',
              'xmpNote:HasExtendedXMP="X"', 'GFocus:FocalPointX="1e300"']


def _mutate_xmp(seed: bytes, r: random.Random) -> bytes:
    """Mutate the XMP text inside the APP1 segments and fix up each segment's length; or flip
    bytes / truncate the JPEG (marker structure)."""
    b = bytearray(seed)
    if r.random() < 0.2:
        _flip(b, r)
        return bytes(b[: r.randrange(len(b) // 2, len(b) + 1)] if r.random() < 0.5 else b)
    out, i = bytearray(b[:2]), 2
    while i + 4 <= len(b) and b[i] == 0xFF and b[i + 1] == 0xE1:
        n = int.from_bytes(b[i + 2:i + 4], "big")
        seg = bytes(b[i + 4:i + 2 + n])
        if r.random() < 0.6:
            head_len = 29 if seg.startswith(b"http://ns.adobe.com/xap/1.0/\x00") else 75
            head, body = seg[:head_len], seg[head_len:]
            body = _mutate_text(body, r, XMP_TOKENS, "<g>")[:65000]
            seg = head + body
        out += b"\xff\xe1" + (len(seg) + 2).to_bytes(2, "big") + seg
        i += 2 + n
    return bytes(out + b[i:])


# -------------------------------------------------------------------------------------- running


def _img(h: int = 12, w: int = 16):  # noqa: ANN202
    from rawlux.core.image import ColorSpace, Encoding, Image, Metadata, Referred

    yy, xx = np.mgrid[0:h, 0:w]
    data = np.stack([xx / w, yy / h, np.full_like(xx, 0.5, dtype=float)], 2).astype(np.float32)
    md = Metadata(make="Make", model="Model", lens="Lens", exposure_time=1 / 125, f_number=1.8, iso=100.0,
                  focal_length=5.4)
    return Image(data, ColorSpace.SRGB, Encoding.SRGB, Referred.DISPLAY, md)


def run_cube(path: Path) -> None:
    from rawlux.io.cube import read_cube
    from rawlux.looks.lut import apply_lut

    lut = read_cube(path)
    apply_lut(_img().data, lut)


def run_look(path: Path) -> None:
    from rawlux.looks.render import render_look
    from rawlux.looks.spec import load_look_file

    spec = load_look_file(path)
    render_look(_img().data * 0.5, spec)


def run_layout(path: Path) -> None:
    from rawlux.frame import apply_frame
    from rawlux.frame.layout import load_layout_file

    apply_frame(_img(48, 64), load_layout_file(path), logo=np.ones((4, 8, 4), np.float32))


_TINY_RAW: list = []


def run_recipe(path: Path) -> None:
    """Read the recipe, build its pipeline and develop a tiny raw with it."""
    from rawlux.app.develop import develop_image
    from rawlux.app.recipe import load_recipe

    if not _TINY_RAW:
        from tests.hostile.dngfuzz import _seed_raw

        _TINY_RAW.append(_seed_raw("bayer"))
    rec = load_recipe(path)
    develop_image(_TINY_RAW[0], recipe=rec)


def run_template(path: Path) -> None:
    from rawlux.frame import apply_frame
    from rawlux.frame.template import format_template, parse_template

    t = path.read_bytes().decode("utf-8", "replace")
    parse_template(t)
    format_template(t, _img().metadata)
    apply_frame(_img(48, 64), "bar", text=t)


def run_svg(path: Path) -> None:
    from rawlux.io.logo import load_logo

    load_logo(path)


def run_xmp(path: Path) -> None:
    from rawlux.io.depth import read_embedded_depth, read_embedded_original

    read_embedded_depth(path)
    read_embedded_original(path)


@dataclass(frozen=True)
class Target:
    suffix: str
    seeds: Callable[[], list[bytes]]
    mutate: Callable[[bytes, random.Random], bytes]
    run: Callable[[Path], None]
    names_file: bool = True  # errors must start with the file's path


TARGETS: dict[str, Target] = {
    "cube": Target(".cube", _cube_seeds, lambda s, r: _mutate_text(s, r, CUBE_TOKENS), run_cube),
    "look": Target(".toml", _looks_seeds, lambda s, r: _mutate_text(s, r, LOOK_TOKENS), run_look),
    "layout": Target(".toml", _layout_seeds, lambda s, r: _mutate_text(s, r, LAYOUT_TOKENS), run_layout),
    "template": Target(".txt", lambda: list(TEMPLATE_SEEDS),
                       lambda s, r: _mutate_text(s, r, TEMPLATE_TOKENS, "{"), run_template, False),
    "svg": Target(".svg", _svg_seeds, lambda s, r: _mutate_text(s, r, SVG_TOKENS, "<g>"), run_svg),
    "xmp": Target(".jpg", _xmp_seeds, _mutate_xmp, run_xmp),
    "recipe": Target(".toml", _recipe_seeds, lambda s, r: _mutate_text(s, r, RECIPE_TOKENS), run_recipe),
}


def mutants(target: str, seed: int, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` mutants of ``target``'s seeds, deterministic for ``seed``."""
    t = TARGETS[target]
    seeds = t.seeds()
    r = random.Random(f"{target}:{seed}")
    for i in range(count):
        yield f"{target}-{seed}-{i}", t.mutate(r.choice(seeds), r)


def run_one(target: str, path: Path, slow_s: float | None = SLOW_S) -> str:
    """Run one mutant file; its outcome class (``SLOW`` above ``slow_s`` seconds; None: never,
    for tests, whose hang guard is an alarm)."""
    from rawlux.core.errors import RawluxError

    t = TARGETS[target]
    t0 = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t.run(path)
        out = "ok"
    except RawluxError as e:
        msg = str(e)
        if "\n" in msg or (t.names_file and not msg.startswith(f"{path}: ")):
            out = f"UNNAMED:{type(e).__name__}"
        else:
            out = type(e).__name__
    except MemoryError:
        out = "ESCAPE:MemoryError"
    except RecursionError:
        out = "ESCAPE:RecursionError"
    except Exception as e:  # noqa: BLE001 - exactly what the fuzzer looks for
        out = f"ESCAPE:{type(e).__name__}"
    if slow_s is not None and time.monotonic() - t0 > slow_s and not out.startswith("ESCAPE"):
        out = "SLOW"
    return out


def run_target(target: str, folder: Path, seed: int, count: int, seconds: float | None = None,
               keep: Path | None = None, verbose: bool = False,
               slow_s: float | None = SLOW_S) -> tuple[Counter, int]:
    """Run mutants of ``target`` in ``folder``; (outcome counts, number run). The seeds run
    once first, untimed (imports, JIT compilation), so ``SLOW`` means the mutant."""
    t = TARGETS[target]
    path = folder / f"mutant{t.suffix}"
    for blob in t.seeds():
        path.write_bytes(blob)
        run_one(target, path, slow_s=None)
    outcomes: Counter = Counter()
    t0 = time.monotonic()
    n = 0
    for name, blob in mutants(target, seed, count):
        if seconds is not None and time.monotonic() - t0 > seconds:
            break
        path.write_bytes(blob)
        out = run_one(target, path, slow_s=slow_s)
        outcomes[out] += 1
        n += 1
        if verbose or out.startswith(BUG_PREFIXES):
            print(f"{name}: {out}", flush=True)
            if keep is not None and out.startswith(BUG_PREFIXES):
                keep.mkdir(parents=True, exist_ok=True)
                (keep / f"{name}{t.suffix}").write_bytes(blob)
    return outcomes, n
