"""Regression files of every crash class found by fuzzing the DNG path (tests/data/hostile/,
made by tests/hostile/make_hostile.py): each gives its typed one-line error naming the file and
the field, or opens and develops (with the stated warning)."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from rawlux.core.errors import RawluxError
from rawlux.develop import develop
from rawlux.io.raw import open_raw

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests.hostile is imported from the checkout root
    sys.path.insert(0, str(ROOT))

from tests.hostile import make_hostile  # noqa: E402

DIR = Path(__file__).parent / "data" / "hostile"
MANIFEST = json.loads((DIR / "MANIFEST.json").read_text())


def test_manifest_matches_generator():
    assert set(MANIFEST) == set(make_hostile.CASES)
    for name, (_, outcome, pattern, what) in make_hostile.CASES.items():
        assert MANIFEST[name]["outcome"] == outcome and MANIFEST[name]["message"] == pattern


@pytest.mark.parametrize("name", sorted(make_hostile.CASES))
def test_file_is_made_by_the_script(name):
    assert (DIR / name).read_bytes() == make_hostile.build(name), f"regenerate: {name}"


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_hostile_file(name, monkeypatch, capfd):
    check_hostile_file(name, monkeypatch)
    assert capfd.readouterr().err == ""  # no library chatter on stderr (the CLI's one line)


def check_hostile_file(name, monkeypatch):
    case = MANIFEST[name]
    for k, v in case["env"].items():
        monkeypatch.setenv(k, v)
    path = DIR / name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = open_raw(path)
            img = develop(raw, look="neutral")
        except RawluxError as e:
            msg = str(e)
            assert type(e).__name__ == case["outcome"], msg
            assert "\n" not in msg and msg.startswith(f"{path}: "), msg
            assert re.search(case["message"], msg), msg
            return
    assert case["outcome"] == "ok", f"expected {case['outcome']}, file developed"
    assert np.isfinite(img.data).all() and img.data.min() >= 0 and img.data.max() <= 1
    texts = [str(w.message) for w in caught if "InputWarning" in type(w.message).__name__]
    if case["message"]:
        assert any(re.search(case["message"], t) and t.startswith(f"{path}: ") for t in texts), texts
    else:
        assert not texts, texts


def test_clamped_and_coerced_values_are_used():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert open_raw(DIR / "baseline_exposure_2000ev.dng").baseline_exposure == 0.0
        assert open_raw(DIR / "baseline_exposure_short.dng").baseline_exposure == 1.0
        assert open_raw(DIR / "orientation_two_values.dng").metadata.orientation == 1
        assert open_raw(DIR / "noise_profile_odd.dng").noise_profile is None
        md = open_raw(DIR / "exposure_time_as_double.dng").metadata
        assert md.exposure_time is None and md.f_number == 2.8  # only the absurd value goes
    raw = open_raw(DIR / "warp_33000px.dng")
    img = develop(raw, look="neutral")
    assert raw.width == 33000 and max(img.width, img.height) >= 32000  # warped past OpenCV's 32767 px limit


def test_libraw_layouts_rawpy_cannot_describe_are_unsupported(tmp_path):
    """rawpy raises NotImplementedError ("filters: 148") for some damaged CFA descriptions (found
    by the fuzzer; it depends on LibRaw's state, so no file reproduces it alone)."""
    from rawlux.core.errors import UnsupportedInput
    from rawlux.io.raw import _libraw_errors, _translate_libraw

    assert NotImplementedError in _libraw_errors()
    err = _translate_libraw(NotImplementedError("filters: 148"), tmp_path / "x.dng", "tiff")
    assert isinstance(err, UnsupportedInput) and "filters: 148" in str(err)


def test_decoder_messages_become_one_warning_or_vanish(capfd):
    import os

    from rawlux.io.safety import decoder_messages

    with pytest.warns(UserWarning, match=r"^f\.dng: the decoder reported damaged data \(Unexpected end"):
        with decoder_messages("f.dng"):
            os.write(2, b"f.dng: Unexpected end of file\n")
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("error")
        with decoder_messages("f.dng"):
            os.write(2, b"f.dng: data corrupted at 12\n")
            raise RuntimeError("decode failed")
    assert capfd.readouterr().err == ""
    with decoder_messages("f.dng"):
        os.write(2, b"Warning: something else\n")
    assert capfd.readouterr().err == "Warning: something else\n"


def test_auto_wb_on_an_extreme_aspect_ratio():
    """Regression: the auto-WB thumbnail of a 33000x4 px image was empty (cv2.GaussianBlur
    assertion); it now keeps at least 3 px (or all there are) across the short side."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = develop(open_raw(DIR / "warp_33000px.dng"), wb="auto", look="neutral")
    assert np.isfinite(img.data).all()


def test_contract_errors_while_reading_name_the_file(monkeypatch):
    """LibRaw, fed a damaged header after some other file, once decoded a 1-plane "stack" that
    RawImage refuses (ContractError without the file name; found by the fuzzer, depends on
    LibRaw's state). Whatever the reader builds, open_raw reports it as CorruptInput."""
    import rawlux.io.raw as rawmod
    from rawlux.core.errors import ContractError, CorruptInput

    def broken(p, *a, **k):
        raise ContractError("RawImage.data shape (48, 64, 1) does not fit CFA LINEAR")

    monkeypatch.setattr(rawmod, "_open_dng", broken)
    path = DIR / "orientation_99.dng"
    with pytest.raises(CorruptInput, match=r"does not fit CFA LINEAR") as e:
        open_raw(path)
    assert str(e.value).startswith(f"{path}: ")
