"""Bounded reading of small data files (looks, layouts, lenses, .cube LUTs, TOML).

One reader for every data file rawlux loads by name or path:

* :func:`open_regular` refuses anything but a regular file *without blocking* (a FIFO, a device
  such as ``/dev/zero``, a directory, a socket): the file is opened with ``O_NONBLOCK`` and
  checked with ``fstat`` on the open descriptor (no race between the check and the read).
* :func:`read_capped_bytes` reads at most ``max_bytes`` (a file that grows while it is read is
  still cut off there) and refuses larger files before reading them.
* :func:`load_toml` adds UTF-8 decoding, a nesting limit checked by a linear scan *before*
  ``tomllib`` recurses (deep ``[[[...]]]`` or ``{a={a=...}}`` would end in ``RecursionError``)
  and on the parsed tables (deep dotted keys).

:func:`terminal_safe` escapes text that came from a file before it is printed.

Every failure is a typed one-line error naming the data file (``what`` says which kind: "look
file", "layout file"...), never the photo being processed.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from rawlux.core.errors import CorruptInput, ImageTooLarge, InvalidParameter, MissingInput

#: Default caps: text data files are a few KB; a .cube LUT can be large (see rawlux.io.cube).
MAX_DATA_BYTES = 4 * 1024 * 1024  # looks, layouts, lenses, recipes (TOML)
MAX_TOML_DEPTH = 16  # rawlux's own files nest 3 levels


# ------------------------------------------------------------------------------ memory budget

MAX_PIXELS = 250_000_000  # 250 MP: the budget never exceeds this
DEVELOP_BYTES_PER_PIXEL = 64  # measured peak of a develop with warp opcodes, rounded up
ENV_MAX_MEGAPIXELS = "RAWLUX_MAX_MEGAPIXELS"


def meminfo() -> tuple[int, int]:
    """(available, total) RAM in bytes; (0, 0) when unknown."""
    try:
        vals = {}
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                vals[k] = int(v.split()[0]) * 1024
        return vals.get("MemAvailable", 0), vals.get("MemTotal", 0)
    except (OSError, ValueError, IndexError):
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            return os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page
        except (ValueError, OSError, AttributeError):
            return 0, 0


def budget_megapixels(mem: tuple[int, int] | None = None) -> tuple[float, str]:
    """The memory budget in megapixels of a develop and where it comes from (for messages).

    ``$RAWLUX_MAX_MEGAPIXELS`` (a positive number; the CLI's ``--max-megapixels`` sets it) wins;
    else half of the available RAM (at least a quarter of the total, ``mem`` = (available,
    total) bytes, read from the system when None) over :data:`DEVELOP_BYTES_PER_PIXEL`; never
    above :data:`MAX_PIXELS`.
    """
    env = os.environ.get(ENV_MAX_MEGAPIXELS, "").strip()
    if env:
        try:
            v = float(env)
        except ValueError:
            v = float("nan")
        if not (v == v and v != float("inf") and v > 0):
            raise InvalidParameter(f"{ENV_MAX_MEGAPIXELS}={env[:40]!r} is not a positive number")
        return min(v, MAX_PIXELS / 1e6), f"{ENV_MAX_MEGAPIXELS}={env}"
    avail, total = meminfo() if mem is None else mem
    if avail <= 0 and total <= 0:
        return MAX_PIXELS / 1e6, "default"
    budget = max(avail, total // 4) / 2
    mp = budget / DEVELOP_BYTES_PER_PIXEL / 1e6
    return min(mp, MAX_PIXELS / 1e6), f"half of {avail / 2**30:.1f} GB available RAM"


def check_bytes(nbytes: float, what: str, path: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`ImageTooLarge` (naming ``path``) when an allocation of ``nbytes`` for
    ``what`` ("framed canvas 60000x40000 px") is above the memory budget
    (:func:`budget_megapixels` x :data:`DEVELOP_BYTES_PER_PIXEL` bytes)."""
    mp, source = budget_megapixels()
    budget = mp * 1e6 * DEVELOP_BYTES_PER_PIXEL
    if nbytes > budget:
        hint = "" if source.startswith(ENV_MAX_MEGAPIXELS) else f"; set {ENV_MAX_MEGAPIXELS} to change it"
        raise ImageTooLarge(f"{what} needs about {nbytes / 1e9:.3g} GB, above the memory budget of "
                            f"{budget / 1e9:.3g} GB ({mp:.4g} MP, {source}{hint})", path)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n} bytes"


def open_regular(path: str | os.PathLike[str], what: str = "file") -> tuple[int, int]:
    """Open ``path`` for reading and return ``(fd, size)``; the caller closes ``fd``.

    Refuses (``MissingInput``) a missing or unreadable path, a directory, a FIFO, a device or
    a socket, without blocking on them.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise MissingInput(f"{what} not found", p) from None
    except IsADirectoryError:
        raise MissingInput(f"{what} is a directory, not a file", p) from None
    except OSError as exc:
        raise MissingInput(f"cannot open {what}: {exc.strerror or exc}", p) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else
                    "a FIFO" if stat.S_ISFIFO(st.st_mode) else
                    "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                    "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise MissingInput(f"{what} is {kind}; only regular files are read", p)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd, int(st.st_size)
    except BaseException:
        os.close(fd)
        raise


def read_capped_bytes(path: str | os.PathLike[str], max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refusing files above ``max_bytes``.

    Raises :class:`MissingInput` (missing, not a regular file) or :class:`CorruptInput` (too
    large), both naming ``path``. Never reads more than ``max_bytes + 1`` bytes.
    """
    p = Path(path)
    fd, size = open_regular(p, what)
    try:
        if size > max_bytes:
            raise CorruptInput(f"{what} is {_size(size)}, above the {_size(max_bytes)} limit", p)
        chunks: list[bytes] = []
        got = 0
        while got <= max_bytes:
            b = os.read(fd, min(1 << 20, max_bytes + 1 - got))
            if not b:
                break
            chunks.append(b)
            got += len(b)
        if got > max_bytes:
            raise CorruptInput(f"{what} grew above the {_size(max_bytes)} limit while read", p)
        return b"".join(chunks)
    except OSError as exc:
        raise MissingInput(f"cannot read {what}: {exc.strerror or exc}", p) from None
    finally:
        os.close(fd)


def toml_nesting(text: str) -> tuple[int, int]:
    """(deepest ``[``/``{`` nesting of values, its line number) of TOML ``text``, in one pass.

    Strings (basic, literal, multi-line) and comments are skipped; table headers count as the
    brackets they are (1 or 2).
    """
    depth = best = 0
    best_line = line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c in "\"'":
            triple = text.startswith(c * 3, i)
            q = c * 3 if triple else c
            j = i + len(q)
            while j < n:
                if c == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(q, j):
                    break
                if text[j] == "\n":
                    if not triple:
                        break  # unterminated: tomllib reports it
                    line += 1
                j += 1
            i = j + len(q)
            continue
        elif c in "[{":
            depth += 1
            if depth > best:
                best, best_line = depth, line
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return best, best_line


def _data_depth(data: Any) -> int:
    """Nesting depth of parsed TOML (tables and arrays), iteratively."""
    best = 0
    stack = [(data, 1)]
    while stack:
        obj, d = stack.pop()
        if isinstance(obj, dict):
            best = max(best, d)
            stack.extend((v, d + 1) for v in obj.values())
        elif isinstance(obj, list):
            best = max(best, d)
            stack.extend((v, d + 1) for v in obj)
    return best


def parse_toml(text: str, path: str | os.PathLike[str], what: str = "TOML file",
               max_depth: int = MAX_TOML_DEPTH) -> dict[str, Any]:
    """Parse TOML ``text`` with the nesting limit; errors (``InvalidParameter``) name ``path``."""
    import tomllib

    depth, line = toml_nesting(text)
    if depth > max_depth:
        raise InvalidParameter(
            f"{what} nests {depth} levels deep at line {line}, above the limit of {max_depth}", path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameter(f"malformed TOML in {what}: {exc}", path) from None
    except RecursionError:  # pragma: no cover - the scan above refuses it first
        raise InvalidParameter(f"{what} nests too deeply", path) from None
    if _data_depth(data) > max_depth:
        raise InvalidParameter(f"{what} nests more than {max_depth} tables deep (dotted keys)", path)
    return data


def load_toml(path: str | os.PathLike[str], what: str = "TOML file", *,
              max_depth: int = MAX_TOML_DEPTH, max_bytes: int = MAX_DATA_BYTES) -> dict[str, Any]:
    """Read and parse the TOML data file ``path`` through :func:`read_capped_bytes` and
    :func:`parse_toml`. Errors name ``path``: ``MissingInput`` (missing, FIFO, device...),
    ``CorruptInput`` (above ``max_bytes``), ``InvalidParameter`` (not UTF-8, malformed, too deep).
    """
    raw = read_capped_bytes(path, max_bytes, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter(f"{what} is not UTF-8 text", path) from None
    return parse_toml(text, path, what, max_depth)


# ------------------------------------------------------------------------- text for the terminal

_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(text: object, max_chars: int = 2000) -> str:
    """``text`` made safe to print: control characters (ESC, BEL, CR, newlines, C1 codes),
    zero-width and bidi-override characters become visible ``\\x1b`` / ``\\u202e`` escapes, so a
    value read from a file (a camera name, a .cube keyword, a file name) cannot move the cursor,
    retitle or clear the terminal or reorder the line; cut to ``max_chars``. Rich markup is not
    touched: print the result as plain text (``rich.text.Text``), never as markup.
    """
    s = str(text)
    if len(s) > max_chars:
        s = s[:max_chars] + "..."
    return _UNSAFE_CHARS.sub(_escape_char, s)
