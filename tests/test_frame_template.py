"""Caption templates: value formatting, clean dropping of missing fields, errors naming the field."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import GPS, Metadata
from rawlux.frame.template import (
    camera_name,
    field_names,
    format_exposure,
    format_fnumber,
    format_focal,
    format_iso,
    format_template,
    parse_template,
)

FULL = Metadata(
    make="Apple", model="iPhone 15 Pro", lens="iPhone 15 Pro back camera 6.765mm f/1.78",
    exposure_time=1 / 125, f_number=1.78, iso=64.0, focal_length=6.765, focal_length_35mm=24.0,
    datetime_original=dt.datetime(2024, 5, 17, 14, 3, 9), gps=GPS(48.858370, -2.294481),
    software="17.4", artist="Jane", copyright="© Jane",
)


@pytest.mark.parametrize("t, text", [
    (1 / 8000, "1/8000 s"), (1 / 4000, "1/4000 s"), (1 / 125, "1/125 s"), (1 / 60, "1/60 s"),
    (1 / 4, "1/4 s"), (1 / 3, "1/3 s"), (0.5, "1/2 s"), (0.4, '0.4"'), (0.8, '0.8"'),
    (1.0, '1"'), (1.3, '1.3"'), (2.5, '2.5"'), (30.0, '30"'), (240.0, '240"'),
])
def test_exposure_formatting(t: float, text: str) -> None:
    assert format_exposure(t) == text


@pytest.mark.parametrize("f, text", [(0.95, "f/0.95"), (1.78, "f/1.78"), (1.8, "f/1.8"),
                                     (2.0, "f/2"), (5.6, "f/5.6"), (11.0, "f/11"), (22.0, "f/22")])
def test_fnumber_formatting(f: float, text: str) -> None:
    assert format_fnumber(f) == text


def test_focal_iso_formatting() -> None:
    assert format_focal(5.4) == "5.4 mm"
    assert format_focal(50.0) == "50 mm"
    assert format_focal(23.0) == "23 mm"
    assert format_iso(102400.0) == "ISO 102400"
    assert format_iso(64.4) == "ISO 64"
    md = Metadata(focal_length=5.4, focal_length_35mm=23.0)
    assert format_template("{focal_full}", md) == "5.4 mm (23 mm equiv.)"
    assert format_template("{focal_eq}", md) == "23 mm"
    assert format_template("{focal_eq}", Metadata(focal_length=50.0)) == "50 mm"
    assert format_template("{focal_full}", Metadata(focal_length=50.0, focal_length_35mm=50.0)) == "50 mm"


def test_odd_values_in_one_line() -> None:
    md = Metadata(model="Noct", exposure_time=1 / 8000, f_number=0.95, iso=102400.0, focal_length=58.0)
    s = format_template("{focal} · {fnumber} · {exposure} · {iso}", md)
    assert s == "58 mm · f/0.95 · 1/8000 s · ISO 102400"
    md30 = Metadata(exposure_time=30.0, f_number=16.0, iso=100.0)
    assert format_template("{fnumber} · {exposure} · {iso}", md30) == 'f/16 · 30" · ISO 100'


def test_fields_and_specs() -> None:
    assert format_template("{make} {model}", FULL) == "Apple iPhone 15 Pro"
    assert format_template("{camera}", FULL) == "Apple iPhone 15 Pro"
    assert format_template("{camera}", Metadata(make="Canon", model="Canon EOS 6D")) == "Canon EOS 6D"
    assert camera_name("NIKON CORPORATION", "D1") == "NIKON D1"
    assert camera_name("samsung", "Galaxy S24 FE") == "Samsung Galaxy S24 FE"
    assert format_template("{date:%Y.%m.%d}", FULL) == "2024.05.17"
    assert format_template("{date}", FULL) == "2024.05.17"
    assert format_template("{date:%d %b %Y, %H:%M}", FULL) == "17 May 2024, 14:03"
    assert format_template("{time}", FULL) == "14:03"
    assert format_template("{make:upper}", FULL) == "APPLE"
    assert format_template("{iso:d}", FULL) == "64"
    assert format_template("{fnumber:.1f}", FULL) == "1.8"
    assert format_template("{gps}", FULL) == "48.8584° N, 2.2945° W"
    assert format_template("{gps:dms}", FULL).startswith("48°51'30.1\" N")
    assert format_template("{software} {artist} {copyright}", FULL) == "17.4 Jane © Jane"
    assert format_template("{{literal}} {iso}", FULL) == "{literal} ISO 64"
    assert set(field_names()) >= {"make", "model", "lens", "focal", "focal35", "fnumber",
                                  "exposure", "iso", "date", "software", "gps"}


def test_missing_fields_drop_with_their_separator() -> None:
    t = "{focal} · {fnumber} · {exposure} · {iso}"
    assert format_template(t, Metadata(f_number=2.8, iso=200.0)) == "f/2.8 · ISO 200"
    assert format_template(t, Metadata(focal_length=35.0)) == "35 mm"
    assert format_template(t, Metadata(iso=100.0)) == "ISO 100"
    assert format_template(t, Metadata()) == ""
    assert format_template("{model} | {lens}", Metadata(lens="XF 23mm")) == "XF 23mm"
    assert format_template("Shot on {model}", Metadata()) == ""
    assert format_template("Shot on {model}", Metadata(model="X100V")) == "Shot on X100V"
    assert format_template("plain text", Metadata()) == "plain text"


@pytest.mark.parametrize("bad_value", [0.0, -1.0, float("nan"), float("inf")])
def test_unusable_numbers_are_missing(bad_value: float) -> None:
    md = Metadata(exposure_time=bad_value, f_number=bad_value, iso=bad_value, focal_length=bad_value)
    assert format_template("{focal} · {fnumber} · {exposure} · {iso}", md) == ""


def test_blank_strings_are_missing() -> None:
    md = Metadata(make="  ", model="\x00\x00", lens="", iso=50.0)
    assert format_template("{make} · {model} · {lens} · {iso}", md) == "ISO 50"


def test_unicode_values_pass_through() -> None:
    md = Metadata(model="Лейка Q3 — Ελλάδα", lens="Zeiss Ø 50")
    assert format_template("{model} · {lens}", md) == "Лейка Q3 — Ελλάδα · Zeiss Ø 50"


@pytest.mark.parametrize("template, named", [
    ("{foo}", "{foo}"), ("{model} {lenz}", "{lenz}"), ("{date:YYYY}", "{date:YYYY}"),
    ("{iso:zz}", "{iso:zz}"), ("{gps:xyz}", "{gps:xyz}"), ("{model", "{model"), ("{model!r}", "!r"),
    ("{focal_full:>10}", "{focal_full:>10}"),
])
def test_bad_template_names_the_problem(template: str, named: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_template(template)
    assert named in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidParameter):
        format_template(template, Metadata())  # fails even when the field is missing


# ------------------------------------------------------------------------------------ properties

SEPS = [" · ", " | ", ", ", " / ", " — ", "  ·  "]
FIELD_POOL = ["make", "model", "camera", "lens", "focal", "focal35", "focal_eq", "focal_full",
              "fnumber", "exposure", "iso", "date", "time", "software", "gps"]

safe_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(
    lambda s: s.replace("·", "").replace("|", "").replace(",", "").replace("/", "").replace("—", "")
).filter(  # text that itself reads "None"/"nan"/"inf" would hide a formatting bug from the check
    lambda s: "None" not in s and not {w.lower() for w in s.split()} & {"nan", "inf"})
maybe_num = st.one_of(st.none(), st.floats(min_value=-10, max_value=1e6), st.just(float("nan")),
                      st.just(float("inf")))

metadata = st.builds(
    Metadata,
    make=st.one_of(st.none(), safe_text), model=st.one_of(st.none(), safe_text),
    lens=st.one_of(st.none(), safe_text), software=st.one_of(st.none(), safe_text),
    exposure_time=st.one_of(st.none(), st.floats(min_value=1e-5, max_value=3600), maybe_num),
    f_number=st.one_of(st.none(), st.floats(min_value=0.5, max_value=64), maybe_num),
    iso=st.one_of(st.none(), st.floats(min_value=1, max_value=4e6)),
    focal_length=st.one_of(st.none(), st.floats(min_value=0.5, max_value=2000)),
    focal_length_35mm=st.one_of(st.none(), st.floats(min_value=1, max_value=5000)),
    datetime_original=st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1900, 1, 1))),
    gps=st.one_of(st.none(), st.builds(GPS, st.floats(-90, 90), st.floats(-180, 180))),
)


@st.composite
def templates(draw: st.DrawFn) -> tuple[str, str]:
    names = draw(st.lists(st.sampled_from(FIELD_POOL), min_size=1, max_size=7))
    sep = draw(st.sampled_from(SEPS))
    return sep.join("{" + n + "}" for n in names), sep


@settings(max_examples=150, deadline=None)
@given(md=metadata, tpl=templates())
def test_property_never_none_nor_dangling_separators(md: Metadata, tpl: tuple[str, str]) -> None:
    template, sep = tpl
    out = format_template(template, md)
    assert "None" not in out and "nan" not in out.lower().split() and "inf" not in out.lower().split()
    s = sep.strip()
    assert out == out.strip()
    assert "  " not in out
    if out:
        assert not out.startswith(s) and not out.endswith(s)
        assert f"{s} {s}" not in out and f"{s}{s}" not in out


@settings(max_examples=100, deadline=None)
@given(md=metadata)
def test_property_each_present_field_appears_once(md: Metadata) -> None:
    out = format_template("{fnumber} · {exposure} · {iso}", md)
    parts = [p for p in out.split(" · ")] if out else []
    expected = [format_template("{" + f + "}", md) for f in ("fnumber", "exposure", "iso")]
    assert parts == [e for e in expected if e]
    for p in parts:
        assert p and not re.search(r"\s{2,}", p)


@pytest.mark.parametrize("t", [5e-324, 0.0, -1.0, float("inf"), float("nan"), 1e9])
def test_impossible_exposure_drops_out(t: float) -> None:
    """Regression: hypothesis once drew exposure_time=5e-324 and format_exposure overflowed."""
    from rawlux.core.image import Metadata

    assert format_template("{model} · {exposure}", Metadata(model="X", exposure_time=t)) == "X"
