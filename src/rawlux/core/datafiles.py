"""One registry of data files: looks, lenses and frame layouts (TOML files).

Each :class:`DataKind` has a built-in folder inside the package and one environment variable
``RAWLUX_<KINDS>_DIR`` (``RAWLUX_LOOKS_DIR``, ``RAWLUX_LENSES_DIR``, ``RAWLUX_LAYOUTS_DIR``):
``os.pathsep``-separated user folders, searched first, then the user folder
``$XDG_CONFIG_HOME/rawlux/<kinds>`` (default ``~/.config/rawlux/<kinds>``) when it exists, then
the built-in folder. A name found in an earlier folder hides the same name later.

Name-or-path rule (:func:`resolve`): a :class:`os.PathLike`, a string ending in the kind's
suffix (``.toml``) or containing a path separator is a file path; anything else is a name,
looked up in the folders (unknown -> :class:`InvalidParameter` listing the valid names).

Every data file is read through :func:`read_toml`, which is :func:`rawlux.core.limits.load_toml`
(one place for size and nesting limits, shared with .cube files, depth maps and recipes), and
parsed results are cached by (path, modification time, size). :func:`reference` gives what a
recipe stores: the name or path plus the sha256 of the file's content.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from rawlux.core.errors import InvalidParameter, MissingInput
from rawlux.core.limits import load_toml, open_regular
from rawlux.core.registry import Registry

T = TypeVar("T")

PACKAGE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DataKind:
    """A kind of data file: ``name`` (singular, for messages), ``plural`` (folder and
    environment variable), the built-in folder and the file suffix."""

    name: str
    plural: str
    builtin: Path
    suffix: str = ".toml"

    @property
    def env(self) -> str:
        """The environment variable naming user folders, e.g. ``RAWLUX_LOOKS_DIR``."""
        return f"RAWLUX_{self.plural.upper()}_DIR"


LOOKS = DataKind("look", "looks", PACKAGE / "looks" / "data")
LENSES = DataKind("lens", "lenses", PACKAGE / "portrait" / "lenses")
LAYOUTS = DataKind("layout", "layouts", PACKAGE / "frame" / "layouts")
KINDS = {k.name: k for k in (LOOKS, LENSES, LAYOUTS)}


@dataclass(frozen=True)
class DataRef:
    """A data file as a recipe refers to it: the name or path given, the file it resolved to
    and the sha256 hex digest of its content."""

    kind: str
    name: str
    path: Path
    sha256: str


def user_dir(kind: DataKind) -> Path:
    """``$XDG_CONFIG_HOME/rawlux/<kinds>`` (default ``~/.config/rawlux/<kinds>``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "rawlux" / kind.plural


def search_dirs(kind: DataKind) -> list[Path]:
    """Folders searched for names, first wins: the environment variable's entries (each must
    be a directory), the user folder when it exists, the built-in folder."""
    dirs = []
    for entry in os.environ.get(kind.env, "").split(os.pathsep):
        if entry.strip():
            d = Path(entry).expanduser()
            if not d.is_dir():
                raise InvalidParameter(f"{kind.env} entry is not a directory", d)
            dirs.append(d)
    user = user_dir(kind)
    if user.is_dir():
        dirs.append(user)
    return [*dirs, kind.builtin]


def files(kind: DataKind) -> Registry[Path]:
    """Name (file stem, lower case) -> file of every data file of ``kind``."""
    reg: Registry[Path] = Registry(kind.name)
    for d in reversed(search_dirs(kind)):  # earlier folders register last: they win
        for f in sorted(d.glob(f"*{kind.suffix}")):
            reg.register(f.stem, f)
    return reg


def names(kind: DataKind) -> list[str]:
    """Sorted names of every data file of ``kind``."""
    return files(kind).names()


def is_path(kind: DataKind, name_or_path: str | os.PathLike[str]) -> bool:
    """The name-or-path rule: True when ``name_or_path`` is meant as a file path."""
    if isinstance(name_or_path, os.PathLike):
        return True
    s = str(name_or_path)
    return s.lower().endswith(kind.suffix) or "/" in s or os.sep in s


def resolve(kind: DataKind, name_or_path: str | os.PathLike[str]) -> Path:
    """The file ``name_or_path`` refers to (see the module docstring). A path that does not
    exist raises :class:`MissingInput`; an unknown name :class:`InvalidParameter`."""
    if is_path(kind, name_or_path):
        p = Path(name_or_path).expanduser()
        if not p.exists():  # a FIFO or directory is refused by the reader, with its reason
            raise MissingInput(f"{kind.name} file not found", p)
        return p.resolve()
    s = str(name_or_path).strip()
    if not s:
        raise InvalidParameter(f"a {kind.name} must be a name or a {kind.suffix} path, got {name_or_path!r}")
    return files(kind).get(s)


def read_toml(path: str | os.PathLike[str], kind: DataKind | None = None) -> dict[str, Any]:
    """The one reader of data files: ``path`` parsed as UTF-8 TOML through
    :func:`rawlux.core.limits.load_toml` (regular files only, at most
    :data:`~rawlux.core.limits.MAX_DATA_BYTES`, nesting at most
    :data:`~rawlux.core.limits.MAX_TOML_DEPTH`). Unreadable, missing or not a regular file ->
    :class:`MissingInput`; too large -> :class:`CorruptInput`; not UTF-8, malformed or too
    deep -> :class:`InvalidParameter`; each naming the file."""
    what = f"{kind.name} file" if kind is not None else "data file"
    return load_toml(Path(path), what)


def _stamp(p: Path) -> tuple[int, int]:
    try:
        st = p.stat()
    except OSError:
        return (0, 0)
    return st.st_mtime_ns, st.st_size


def bytes_hash(data: bytes) -> str:
    """sha256 hex digest of ``data``: the one content hash of data files (file references in
    recipes, :func:`content_hash`, LUTs hashed from the bytes they were parsed from)."""
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=128)
def _hash(path: str, stamp: tuple[int, int], what: str = "file") -> str:
    fd, _ = open_regular(path, what)  # regular files only (no FIFO or device); streamed
    try:
        h = hashlib.sha256()  # = bytes_hash of the whole content
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def content_hash(path: str | os.PathLike[str], what: str = "file") -> str:
    """sha256 hex digest of a regular file's content (cached by modification time and size).
    A missing file, a FIFO, a device or a directory -> :class:`MissingInput` naming ``what``."""
    p = Path(path).resolve()
    return _hash(str(p), _stamp(p), what)


_parsed: dict[tuple[str, str, tuple[int, int], Callable[..., Any]], Any] = {}


def load(kind: DataKind, name_or_path: str | os.PathLike[str],
         parse: Callable[[dict[str, Any], Path], T]) -> T:
    """``parse(data, path)`` of the file ``name_or_path`` resolves to, cached until the file
    changes (modification time or size)."""
    return load_file(kind, resolve(kind, name_or_path), parse)


def load_file(kind: DataKind, path: str | os.PathLike[str],
              parse: Callable[[dict[str, Any], Path], T]) -> T:
    """:func:`load` for a file path (no name lookup)."""
    p = Path(path)
    key = (kind.name, str(p.resolve()), _stamp(p), parse)
    if key not in _parsed:
        if len(_parsed) > 256:
            _parsed.clear()
        _parsed[key] = parse(read_toml(p, kind), p)
    return _parsed[key]  # type: ignore[no-any-return]


def reference(kind: DataKind, name_or_path: str | os.PathLike[str]) -> DataRef:
    """What a recipe stores for a data file: name or path as given, resolved file, content hash."""
    p = resolve(kind, name_or_path)
    return DataRef(kind.name, str(name_or_path), p, content_hash(p))
