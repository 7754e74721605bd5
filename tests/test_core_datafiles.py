"""core.datafiles: one registry for looks, lenses and layouts (folders, name-or-path, env
variables, caching, content hash, one reader)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rawlux.core import datafiles
from rawlux.core.errors import InvalidParameter, MissingInput
from rawlux.frame import list_layouts, load_layout
from rawlux.looks.registry import get_look, look_names
from rawlux.portrait.lens import load_lens


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for kind in datafiles.KINDS.values():
        monkeypatch.delenv(kind.env, raising=False)


def test_builtin_names_of_every_kind() -> None:
    assert {"authentic", "vivid"} <= set(datafiles.names(datafiles.LOOKS))
    assert datafiles.names(datafiles.LENSES) == ["35", "50", "75", "90"]
    assert {"bar", "polaroid"} <= set(datafiles.names(datafiles.LAYOUTS))
    assert [k.env for k in datafiles.KINDS.values()] == [
        "RAWLUX_LOOKS_DIR", "RAWLUX_LENSES_DIR", "RAWLUX_LAYOUTS_DIR"]


def test_name_or_path_rule(tmp_path: Path) -> None:
    k = datafiles.LENSES
    assert datafiles.is_path(k, tmp_path / "x") and datafiles.is_path(k, "x.toml")
    assert datafiles.is_path(k, "dir/x") and not datafiles.is_path(k, "50")
    assert datafiles.resolve(k, "50") == k.builtin / "50.toml"
    with pytest.raises(InvalidParameter, match="unknown lens '51'; valid: 35, 50, 75, 90"):
        datafiles.resolve(k, "51")
    with pytest.raises(MissingInput, match="lens file not found"):
        datafiles.resolve(k, tmp_path / "gone.toml")


def test_env_and_user_folders_override_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = datafiles.LENSES.builtin.joinpath("75.toml").read_text().replace("blades = 11", "blades = 5")
    user = tmp_path / "config" / "rawlux" / "lenses"
    user.mkdir(parents=True)
    (user / "75.toml").write_text(text)
    (user / "tele.toml").write_text(text)
    assert load_lens("75").blades == 5 and load_lens("tele").blades == 5
    env = tmp_path / "env"
    env.mkdir()
    (env / "75.toml").write_text(text.replace("blades = 5", "blades = 7"))
    monkeypatch.setenv("RAWLUX_LENSES_DIR", str(env))
    assert load_lens("75").blades == 7  # the variable's folders come first
    monkeypatch.setenv("RAWLUX_LAYOUTS_DIR", str(tmp_path / "missing"))
    with pytest.raises(InvalidParameter, match="RAWLUX_LAYOUTS_DIR entry is not a directory"):
        list_layouts()


def test_cache_follows_the_file_and_hash_names_its_content(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\ndescription = "one"\n')
    ref = datafiles.reference(datafiles.LOOKS, f)
    assert get_look(f).description == "one" and len(ref.sha256) == 64
    f.write_text('name = "mine"\ndescription = "two, edited"\n')
    assert get_look(f).description == "two, edited"  # a changed file is read again
    assert datafiles.reference(datafiles.LOOKS, f).sha256 != ref.sha256
    assert datafiles.content_hash(datafiles.resolve(datafiles.LAYOUTS, "bar")) == \
        datafiles.reference(datafiles.LAYOUTS, "bar").sha256


@pytest.mark.parametrize("data, needle", [(b"\xff\xfe", "is not UTF-8 text"),
                                          (b"[tone\n", "malformed TOML in layout file")])
def test_one_reader_names_the_file(tmp_path: Path, data: bytes, needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_bytes(data)
    with pytest.raises(InvalidParameter, match=needle) as err:
        load_layout(f)
    assert str(f) in str(err.value) and "\n" not in str(err.value)


def test_looks_registry_reads_user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "looks"
    d.mkdir()
    (d / "any-stem.toml").write_text('name = "warm-user"\ndescription = "d"\n')
    monkeypatch.setenv("RAWLUX_LOOKS_DIR", str(d))
    assert "warm-user" in look_names()  # looks register by their name key
