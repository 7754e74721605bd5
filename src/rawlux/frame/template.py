"""Caption templates: ``"{model} · {fnumber} · {exposure}"`` filled from :class:`Metadata`.

Fields (all optional in the metadata; a missing one drops out together with the separator
literal that joins it to its neighbour, so there is never a ``None``, a doubled or a dangling
separator):

========== ===================================== ============================================
field      default rendering                     format spec
========== ===================================== ============================================
make       ``Apple``                             Python str spec, or ``upper``/``lower``/``title``
model      ``iPhone 15 Pro``                     as ``make``
camera     make + model (make not repeated)      as ``make``
lens       ``iPhone 15 Pro back camera 6.86mm``  as ``make``
lens_make  ``Apple`` (when the reader found it)  as ``make``
software   ``18.1``                              as ``make``
artist     ``Jane Doe``                          as ``make``
copyright  ``© Jane Doe``                        as ``make``
focal      ``5.4 mm`` (real focal length)        Python float spec on mm (``{focal:.0f}``)
focal35    ``23 mm`` (35 mm-equivalent)          as ``focal``
focal_eq   35 mm-equivalent if known, else real  as ``focal``
focal_full ``5.4 mm (23 mm equiv.)``             none
fnumber    ``f/1.8``, ``f/0.95``                 Python float spec on the f-number
exposure   ``1/8000 s``, ``0.4"``, ``30"``        Python float spec on seconds
iso        ``ISO 102400``                        Python int/float spec on the number
date       ``2024.05.17`` (DateTimeOriginal)     strftime, e.g. ``{date:%d %b %Y %H:%M}``
time       ``14:03``                             strftime
gps        ``48.8584° N, 2.2945° E``             ``dms`` for degrees/minutes/seconds
========== ===================================== ============================================

``{{`` and ``}}`` are literal braces. An unknown field or a bad spec raises
:class:`InvalidParameter` naming it.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import GPS, Metadata
from rawlux.core.plausible import plausible, plausible_date, plausible_gps

# ------------------------------------------------------------------------------ value formatting


def _trim(x: float, decimals: int) -> str:
    """``x`` rounded to ``decimals`` with trailing zeros and dot removed (``2.0 -> "2"``)."""
    s = f"{x:.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def format_exposure(t: float) -> str:
    """Shutter time in seconds -> ``1/8000 s``, ``1/3 s``, ``0.4"``, ``1"``, ``2.5"``, ``30"``.

    Times that no camera takes are still formatted without overflow: below 1 microsecond as
    ``1.0e-09 s``; zero, negative and non-finite values give ``""`` (the field drops out).
    """
    t = float(t)
    if not (math.isfinite(t) and t > 0):
        return ""
    if t < 1e-6:
        return f"{t:.1e} s"  # 1/t may overflow (5e-324) or print hundreds of digits
    if t >= 1.0 - 1e-6:
        return f'{_trim(t, 1 if t < 10 else 0)}"'
    inv = 1.0 / t
    n = round(inv)
    if inv >= 3.5 or (n >= 2 and abs(inv - n) <= 0.04 * inv):
        return f"1/{n} s"  # 1/8000 s ... 1/4 s, and exact reciprocals 1/3 s, 1/2 s
    return f'{_trim(t, 1)}"'  # 0.3", 0.4", 0.6", 0.8" (as cameras show them)


def format_fnumber(f: float) -> str:
    """f-number -> ``f/0.95``, ``f/1.78``, ``f/1.8``, ``f/2``, ``f/11``."""
    return f"f/{_trim(f, 2 if f < 10 else 1)}"


def format_focal(mm: float) -> str:
    """Focal length in mm -> ``5.4 mm``, ``50 mm``, ``2.2 mm``."""
    return f"{_trim(mm, 1 if mm < 20 else 0)} mm"


def format_iso(iso: float) -> str:
    """ISO speed -> ``ISO 102400``."""
    return f"ISO {int(round(iso))}"


def format_gps(gps: GPS, dms: bool = False) -> str:
    """Decimal degrees -> ``48.8584° N, 2.2945° E`` (or ``48°51'30.2" N, ...`` with ``dms``)."""

    def one(v: float, pos: str, neg: str) -> str:
        hemi = pos if v >= 0 else neg
        a = abs(v)
        if not dms:
            return f"{a:.4f}° {hemi}"
        d = int(a)
        m = int((a - d) * 60)
        s = (a - d - m / 60) * 3600
        return f"{d}°{m:02d}'{s:04.1f}\" {hemi}"

    return f"{one(gps.latitude, 'N', 'S')}, {one(gps.longitude, 'E', 'W')}"


def _ok_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _clean_text(v: Any) -> str | None:
    if v is None:
        return None
    s = " ".join(str(v).replace("\x00", " ").split())
    return s or None


def camera_name(make: str | None, model: str | None) -> str | None:
    """``Apple`` + ``iPhone 15 Pro`` -> ``Apple iPhone 15 Pro``; ``Canon`` + ``Canon EOS 6D`` ->
    ``Canon EOS 6D`` (the make is not repeated); ``NIKON CORPORATION`` -> ``NIKON``."""
    make, model = _clean_text(make), _clean_text(model)
    if make:
        for suffix in (" CORPORATION", " Corporation", " Corp.", " Co., Ltd.", " CO.,LTD", " Inc."):
            if make.endswith(suffix):
                make = make[: -len(suffix)].strip()
        if make.islower():
            make = make[:1].upper() + make[1:]  # "samsung" -> "Samsung"
    if not model:
        return make
    if not make or model.lower().startswith(make.split()[0].lower()):
        return model
    return f"{make} {model}"


# --------------------------------------------------------------------------------------- fields


@dataclass(frozen=True)
class _Field:
    kind: str  # "text", "number", "date", "gps", "plain"
    get: Callable[[Metadata], Any]
    render: Callable[[Any], str]
    doc: str
    limit: str | None = None  # name in core.plausible.LIMITS: values outside are junk, not shown


def _focal_eq(md: Metadata) -> float | None:
    if plausible("focal_length_35mm", md.focal_length_35mm):
        return md.focal_length_35mm
    return md.focal_length


def _focal_full(md: Metadata) -> str | None:
    real = md.focal_length if plausible("focal_length", md.focal_length) else None
    eq = md.focal_length_35mm if plausible("focal_length_35mm", md.focal_length_35mm) else None
    if real and eq and format_focal(real) != format_focal(eq):
        return f"{format_focal(real)} ({format_focal(eq)} equiv.)"
    if real:
        return format_focal(real)
    if eq:
        return f"{format_focal(eq)} equiv."
    return None


FIELDS: dict[str, _Field] = {
    "make": _Field("text", lambda m: m.make, str, "camera maker"),
    "model": _Field("text", lambda m: m.model, str, "camera model"),
    "camera": _Field("text", lambda m: camera_name(m.make, m.model), str, "make + model"),
    "lens": _Field("text", lambda m: m.lens, str, "lens model"),
    "lens_make": _Field("text", lambda m: (m.extra or {}).get("lens_make"), str, "lens maker"),
    "software": _Field("text", lambda m: m.software, str, "software"),
    "artist": _Field("text", lambda m: m.artist, str, "artist"),
    "copyright": _Field("text", lambda m: m.copyright, str, "copyright notice"),
    "focal": _Field("number", lambda m: m.focal_length, format_focal, "focal length, mm",
                     "focal_length"),
    "focal35": _Field("number", lambda m: m.focal_length_35mm, format_focal,
                      "35 mm-equivalent focal length, mm", "focal_length_35mm"),
    "focal_eq": _Field("number", _focal_eq, format_focal,
                       "35 mm-equivalent focal length if known, else the real one", "focal_length"),
    "focal_full": _Field("plain", _focal_full, str, "real focal length with its equivalent"),
    "fnumber": _Field("number", lambda m: m.f_number, format_fnumber, "f-number", "f_number"),
    "exposure": _Field("number", lambda m: m.exposure_time, format_exposure, "shutter time, s",
                        "exposure_time"),
    "iso": _Field("number", lambda m: m.iso, format_iso, "ISO speed", "iso"),
    "date": _Field("date", lambda m: m.datetime_original, lambda d: d.strftime("%Y.%m.%d"),
                   "capture date"),
    "time": _Field("date", lambda m: m.datetime_original, lambda d: d.strftime("%H:%M"),
                   "capture time"),
    "gps": _Field("gps", lambda m: m.gps, format_gps, "GPS position"),
}

_SAMPLE = Metadata(
    make="Make", model="Model", lens="Lens", exposure_time=1 / 125, f_number=1.8, iso=100.0,
    focal_length=5.4, focal_length_35mm=24.0, datetime_original=_dt.datetime(2024, 1, 2, 3, 4, 5),
    gps=GPS(1.0, 2.0), software="rawlux", artist="A", copyright="C",
)

_STR_CASES = {"upper": str.upper, "lower": str.lower, "title": str.title}


def _valid_value(f: _Field, v: Any) -> bool:
    if v is None:
        return False
    if f.kind == "number":
        return _ok_number(v) and (f.limit is None or plausible(f.limit, v))
    if f.kind == "date":
        return plausible_date(v)
    if f.kind == "gps":
        return plausible_gps(v)
    return True


def _render(name: str, f: _Field, value: Any, spec: str) -> str | None:
    """One field's text, or None when the value is missing/unusable. Raises ValueError on a bad
    spec (the caller turns it into InvalidParameter)."""
    if f.kind in ("text", "plain"):
        value = _clean_text(value)
    if not _valid_value(f, value):
        return None
    if not spec:
        out = f.render(value)
    elif f.kind == "text":
        out = _STR_CASES[spec](value) if spec in _STR_CASES else format(value, spec)
    elif f.kind == "number":
        if any(c in spec for c in "dnxXobc"):
            value = int(round(value))
        out = format(value, spec)
    elif f.kind == "date":
        if "%" not in spec:
            raise ValueError(f"date format needs strftime codes like %Y, got {spec!r}")
        out = value.strftime(spec)
    elif f.kind == "gps":
        if spec != "dms":
            raise ValueError(f"gps takes no spec or 'dms', got {spec!r}")
        out = format_gps(value, dms=True)
    else:
        raise ValueError(f"{name} takes no format spec")
    return _clean_text(out)


# ------------------------------------------------------------------------------------ templates

MAX_TEMPLATE_CHARS = 1000  # a caption is one line
MAX_TEMPLATE_FIELDS = 64
MAX_SPEC_NUMBER = 200  # format-spec width / precision ({make:x>1000000} would take 43 s)
_SPEC_NUMBERS = re.compile(r"\d+")


def _check_spec(template: str, name: str, spec: str) -> None:
    """Refuse format-spec widths and precisions above :data:`MAX_SPEC_NUMBER`, before any
    formatting (Python would build a string that wide)."""
    for m in _SPEC_NUMBERS.finditer(spec):
        digits = m.group()
        if len(digits) > 3 or int(digits) > MAX_SPEC_NUMBER:
            raise InvalidParameter(
                f"template {_short(template)}: format spec {{{name}:{spec[:40]}}} has width or "
                f"precision {digits[:12]}{'...' if len(digits) > 12 else ''}, above {MAX_SPEC_NUMBER}")


def _short(s: str, n: int = 80) -> str:
    """``repr`` of at most ``n`` characters of ``s`` (for error messages)."""
    return repr(s[:n] + ("..." if len(s) > n else ""))


@dataclass(frozen=True)
class _Token:
    literal: str
    field: str | None
    spec: str


@lru_cache(maxsize=256)
def parse_template(template: str) -> tuple[_Token, ...]:
    """Split a template into (literal, field, spec) tokens and validate every field and spec.

    Raises :class:`InvalidParameter` naming the unknown field / bad spec / bad brace.
    """
    if not isinstance(template, str):
        raise InvalidParameter(f"template must be a string, got {type(template).__name__}")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise InvalidParameter(f"template {_short(template)} is {len(template)} characters, above "
                               f"the limit of {MAX_TEMPLATE_CHARS}")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidParameter(f"bad template {template!r}: {exc}") from None
    tokens = []
    pending = ""  # Formatter.parse splits literals at escaped braces: join them
    for literal, name, spec, conv in parts:
        pending += literal
        if name is None:
            continue
        if conv:
            raise InvalidParameter(f"template {template!r}: conversion !{conv} is not supported")
        key = name.strip().lower()
        if key not in FIELDS:
            raise InvalidParameter(
                f"template {template!r}: unknown field {{{name}}}; valid: " + ", ".join(sorted(FIELDS)))
        spec = spec or ""
        if len(tokens) >= MAX_TEMPLATE_FIELDS:
            raise InvalidParameter(f"template {_short(template)} has more than {MAX_TEMPLATE_FIELDS} fields")
        if "{" in spec:
            raise InvalidParameter(f"template {template!r}: nested fields in {{{name}:{spec}}}")
        f = FIELDS[key]
        _check_spec(template, name, spec)  # also strftime: glibc takes widths like %1000000Y
        try:
            _render(key, f, f.get(_SAMPLE), spec)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidParameter(
                f"template {template!r}: bad format spec {{{name}:{spec}}}: {exc}") from None
        tokens.append(_Token(pending, key, spec))
        pending = ""
    tokens.append(_Token(pending, None, ""))  # suffix
    return tuple(tokens)


_SPACES = re.compile(r"\s+")


def format_template(template: str, md: Metadata) -> str:
    """Fill ``template`` from ``md``; missing fields drop out with their joining separator.

    The literal before the first field and after the last field are kept (when at least one field
    is present); a literal between two fields is kept only when both neighbours are present (the
    literal that followed the earlier present field joins it to the next present one). A template
    whose fields are all missing gives ``""`` (unless it has no fields at all: then its text).
    """
    tokens = parse_template(template)
    fields = [t for t in tokens if t.field is not None]
    if not fields:
        return _SPACES.sub(" ", "".join(t.literal for t in tokens)).strip()
    # tokens: literal_i precedes field_i; the trailing token (field None) carries the suffix.
    lits = [t.literal for t in tokens if t.field is not None]
    suffix = "".join(t.literal for t in tokens if t.field is None)
    values = [_render(t.field, FIELDS[t.field], FIELDS[t.field].get(md), t.spec) for t in fields]
    present = [i for i, v in enumerate(values) if v]
    if not present:
        return ""
    out = [lits[0]]
    for k, i in enumerate(present):
        if k > 0:
            out.append(lits[present[k - 1] + 1])  # separator that followed the previous present
        out.append(values[i])
    out.append(suffix)
    return _SPACES.sub(" ", "".join(out)).strip()


def field_names() -> list[str]:
    """Every template field name."""
    return sorted(FIELDS)
