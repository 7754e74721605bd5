"""Read and write ``.cube`` colour LUTs (Adobe Cube LUT Specification 1.0, plus Resolve's
``LUT_1D_INPUT_RANGE`` / ``LUT_3D_INPUT_RANGE``).

Supported: ``TITLE "..."``, ``LUT_1D_SIZE`` (2..65536), ``LUT_3D_SIZE`` (2..256),
``DOMAIN_MIN``/``DOMAIN_MAX`` (three floats each), ``#`` comments, blank lines, values outside
0..1. 3D data lines run red fastest, then green, then blue. The encoding a LUT expects is not
part of the format: pass ``encoding=`` to :func:`read_cube`, or rawlux reads it from a
``# rawlux-encoding: NAME`` comment (which :func:`write_cube` writes); default ``srgb-rec709``.
Malformed files raise :class:`CorruptInput` naming the file and line.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from rawlux.core.datafiles import bytes_hash
from rawlux.core.errors import CorruptInput, InvalidParameter, OutputError
from rawlux.core.params import FileRef
from rawlux.core.lut import ENCODINGS, Lut

MAX_BYTES = 256 * 1024 * 1024
MAX_1D = 65536
MAX_3D = 256
_CHUNK = 65536  # table lines parsed at a time
_ENC_RE = re.compile(r"#\s*rawlux-encoding\s*:\s*(\S+)", re.IGNORECASE)


def _floats(parts: list[str], n: int, path: Path, line_no: int, what: str) -> tuple[float, ...]:
    if len(parts) != n:
        raise CorruptInput(f"line {line_no}: {what} needs {n} numbers, got {len(parts)}", path)
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise CorruptInput(f"line {line_no}: {what} has a non-numeric value", path) from None
    if not all(np.isfinite(vals)):
        raise CorruptInput(f"line {line_no}: {what} has a NaN or infinite value", path)
    return vals


def parse_cube(text: str, path: str | os.PathLike[str] = "<cube>", *,
               encoding: str | None = None, interpolation: str = "tetrahedral") -> Lut:
    """Parse .cube ``text`` into a :class:`Lut` (``path`` is only used in error messages)."""
    p = Path(path)
    title = ""
    size1 = size3 = None
    dmin: tuple[float, ...] = (0.0, 0.0, 0.0)
    dmax: tuple[float, ...] = (1.0, 1.0, 1.0)
    comments: list[str] = []
    enc_comment = None
    n_data = 0
    last_data = 0
    chunks: list[np.ndarray] = []  # table values parsed every _CHUNK lines (bounded memory)
    data_lines: list[int] = []
    data_text: list[str] = []
    for line_no, raw in enumerate(_lines(text), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            m = _ENC_RE.match(line)
            if m:
                enc_comment = m.group(1).lower()
            continue
        if "#" in line:  # trailing comment
            line = line.split("#", 1)[0].strip()
        head = line.split(None, 1)[0]
        if head[0].isalpha() and head.upper() == head and not _is_number(head):
            if n_data:
                raise CorruptInput(f"line {line_no}: keyword {_show(head)} after the table data", p)
            rest = line[len(head):].strip()
            parts = rest.split()
            if head == "TITLE":
                m = re.fullmatch(r'"(.*)"', rest)
                if m is None:
                    raise CorruptInput(f'line {line_no}: TITLE must be a quoted string', p)
                title = m.group(1)
            elif head in ("LUT_1D_SIZE", "LUT_3D_SIZE"):
                if len(parts) != 1 or not (parts[0].isascii() and parts[0].isdigit()):
                    raise CorruptInput(f"line {line_no}: {head} needs one integer", p)
                n = int(parts[0])
                hi = MAX_1D if head == "LUT_1D_SIZE" else MAX_3D
                if not 2 <= n <= hi:
                    raise CorruptInput(f"line {line_no}: {head} {n} is outside [2, {hi}]", p)
                from rawlux.core.limits import check_bytes

                # the parsed table (float64) and the LUT (float32), before reading the rows
                check_bytes((n if head == "LUT_1D_SIZE" else n ** 3) * 3 * 12, f"a {head} {n} table", p)
                if head == "LUT_1D_SIZE":
                    size1 = n
                else:
                    size3 = n
                if size1 is not None and size3 is not None:
                    raise CorruptInput(f"line {line_no}: both LUT_1D_SIZE and LUT_3D_SIZE given", p)
            elif head == "DOMAIN_MIN":
                dmin = _floats(parts, 3, p, line_no, head)
            elif head == "DOMAIN_MAX":
                dmax = _floats(parts, 3, p, line_no, head)
            elif head in ("LUT_1D_INPUT_RANGE", "LUT_3D_INPUT_RANGE"):
                lo, hi_ = _floats(parts, 2, p, line_no, head)
                dmin, dmax = (lo,) * 3, (hi_,) * 3
            else:
                raise CorruptInput(f"line {line_no}: unknown keyword {_show(head)}", p)
            continue
        n_data += 1
        last_data = line_no
        data_lines.append(line_no)
        data_text.append(line)
        if len(data_text) >= _CHUNK:
            chunks.append(_parse_table(data_text, data_lines, p))
            data_lines, data_text = [], []
            limit = size1 if size1 is not None else size3 ** 3 if size3 is not None else 0
            if n_data > limit:
                raise CorruptInput(f"line {line_no}: more table lines than the "
                                   f"{'LUT_1D_SIZE' if size1 else 'LUT_3D_SIZE'} declares", p)
    if size1 is None and size3 is None:
        raise CorruptInput("no LUT_1D_SIZE or LUT_3D_SIZE line", p)
    if any(not b > a for a, b in zip(dmin, dmax)):
        raise CorruptInput(f"DOMAIN_MIN {dmin} must be below DOMAIN_MAX {dmax} per channel", p)
    n_expected = size1 if size1 is not None else size3 ** 3  # type: ignore[operator]
    if n_data != n_expected:
        where = f" (last data on line {last_data})" if n_data else ""
        raise CorruptInput(f"expected {n_expected} table lines, found {n_data}{where}", p)
    if data_text:
        chunks.append(_parse_table(data_text, data_lines, p))
    values = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    if size3 is not None:
        # file order: red fastest -> array [b, g, r]; store as [r, g, b]
        table = values.reshape(size3, size3, size3, 3).transpose(2, 1, 0, 3)
    else:
        table = values
    enc = (encoding or enc_comment or "srgb-rec709").lower()
    if enc not in ENCODINGS:
        raise CorruptInput(f"unknown LUT encoding {enc!r}; valid: {', '.join(ENCODINGS)}", p)
    if np.abs(table).max(initial=0.0) > 1e30 or max(map(abs, dmin + dmax)) > 1e30:
        raise CorruptInput("table or domain values beyond +-1e30 (outside float32 LUT range)", p)
    from rawlux.core.errors import RawluxError

    try:
        return Lut(np.ascontiguousarray(table, np.float32), dmin, dmax, title, enc,  # type: ignore[arg-type]
                   interpolation, tuple(comments))
    except RawluxError as exc:  # the Lut's own checks: the file is what is wrong
        raise CorruptInput(exc.reason, p) from None


def _lines(text: str, block: int = 1 << 22) -> Iterator[str]:
    """The lines of ``text`` (as ``str.splitlines``), split 4 MB at a time: no list of
    millions of strings for a big table, C speed within each block."""
    i, n = 0, len(text)
    while i < n:
        j = text.find("\n", min(i + block, n))
        j = n if j < 0 else j + 1
        yield from text[i:j].splitlines()
        i = j


def _show(s: str) -> str:
    """A keyword from the file for an error message: printable ASCII, at most 40 chars."""
    return ascii(s[:40])[1:-1]


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _parse_table(texts: list[str], line_nos: list[int], path: Path) -> np.ndarray:
    try:
        flat = np.array(" ".join(texts).split(), dtype=np.float64)
        ok = flat.size == 3 * len(texts)
    except ValueError:
        ok = False
    if not ok:
        for t, n in zip(texts, line_nos):
            _floats(t.split(), 3, path, n, "table line")
    vals = flat.reshape(-1, 3)
    bad = ~np.all(np.isfinite(vals), axis=1)
    if bad.any():
        raise CorruptInput(f"line {line_nos[int(np.argmax(bad))]}: NaN or infinite value", path)
    return vals


def read_cube(path: str | os.PathLike[str], *, encoding: str | None = None,
              interpolation: str = "tetrahedral") -> Lut:
    """Read a ``.cube`` file into a :class:`Lut` (see module docstring)."""
    p, raw = _read_bytes(path)
    return _parse_bytes(raw, p, encoding, interpolation)


def _read_bytes(path: str | os.PathLike[str]) -> tuple[Path, bytes]:
    """The bytes of a .cube file through :func:`rawlux.core.limits.read_capped_bytes` (regular
    files only, at most :data:`MAX_BYTES`)."""
    from rawlux.core.limits import read_capped_bytes

    p = Path(path)
    return p, read_capped_bytes(p, MAX_BYTES, ".cube LUT")


def _parse_bytes(raw: bytes, p: Path, encoding: str | None = None,
                 interpolation: str = "tetrahedral") -> Lut:
    if b"\x00" in raw[:4096]:
        raise CorruptInput("not a text .cube file (binary data)", p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_cube(text, p, encoding=encoding, interpolation=interpolation)


def format_cube(lut: Lut, title: str | None = None, precision: int = 6) -> str:
    """The .cube text of ``lut`` (3D tables written red fastest)."""
    lines = [f'TITLE "{(title if title is not None else lut.title).replace(chr(34), "")}"',
             f"# rawlux-encoding: {lut.encoding}"]
    lines += [f"# {c}" for c in lut.comments if not _ENC_RE.match("#" + c)]
    if lut.is_3d:
        lines.append(f"LUT_3D_SIZE {lut.size}")
    else:
        lines.append(f"LUT_1D_SIZE {lut.size}")
    if lut.domain_min != (0.0, 0.0, 0.0) or lut.domain_max != (1.0, 1.0, 1.0):
        lines.append("DOMAIN_MIN " + " ".join(f"{v:.{precision}g}" for v in lut.domain_min))
        lines.append("DOMAIN_MAX " + " ".join(f"{v:.{precision}g}" for v in lut.domain_max))
    values = lut.table.transpose(2, 1, 0, 3).reshape(-1, 3) if lut.is_3d else lut.table
    row = f"%.{precision}f %.{precision}f %.{precision}f\n"
    body = (row * len(values)) % tuple(values.astype(np.float64).ravel().tolist())
    return "\n".join(lines) + "\n" + body


def write_cube(lut: Lut, path: str | os.PathLike[str], title: str | None = None,
               precision: int = 6) -> Path:
    """Write ``lut`` as a .cube file atomically (temp file then rename); returns the path."""
    p = Path(path)
    if p.suffix.lower() != ".cube":
        raise OutputError("a LUT must be written to a .cube file", p)
    text = format_cube(lut, title, precision)
    d = p.parent if str(p.parent) else Path(".")
    if not d.is_dir():
        raise OutputError("output directory does not exist", p)
    fd, tmp = tempfile.mkstemp(prefix=".rawlux-", suffix=".cube.tmp", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException as exc:  # also KeyboardInterrupt / SIGTERM: no temp file is left
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write: {exc.strerror or exc}", p) from None
        raise
    return p


# ------------------------------------------------------------------ LUTs referenced from params

#: Path prefix of a :class:`FileRef` to a LUT given as a loaded object (no file behind it).
MEMORY_PREFIX = "memory:"
_RESOLVED: dict[str, Lut] = {}  # sha256 -> Lut, a few entries (LUTs are re-used across a batch)
_MAX_RESOLVED = 8


def _remember(digest: str, lut: Lut) -> None:
    if len(_RESOLVED) >= _MAX_RESOLVED and digest not in _RESOLVED:
        _RESOLVED.pop(next(iter(_RESOLVED)))
    _RESOLVED[digest] = lut


def lut_ref(lut: Lut | str | os.PathLike[str] | FileRef) -> FileRef:
    """The :class:`FileRef` params hold for a LUT: a ``.cube`` path (read and hashed now, so a
    bad file fails before any work) or a loaded :class:`Lut` (kept in this process under the
    hash of its table; such a reference cannot be saved in a recipe)."""
    if isinstance(lut, FileRef):
        return lut
    if isinstance(lut, Lut):
        digest = bytes_hash(lut.table.tobytes() + repr((
            lut.table.shape, lut.domain_min, lut.domain_max, lut.encoding,
            lut.interpolation)).encode())
        _remember(digest, lut)
        return FileRef(MEMORY_PREFIX + (lut.title or "lut"), digest)
    p, raw = _read_bytes(lut)
    digest = bytes_hash(raw)
    if digest not in _RESOLVED:
        _remember(digest, _parse_bytes(raw, p))
    return FileRef(str(p.resolve()), digest)


def resolve_lut(ref: FileRef) -> Lut:
    """The :class:`Lut` ``ref`` names, read from its path; a recorded hash must match the file
    (a recipe replays the LUT it was made with, or fails with one line saying so)."""
    if ref.sha256 and ref.sha256 in _RESOLVED:
        return _RESOLVED[ref.sha256]
    if ref.path.startswith(MEMORY_PREFIX):
        raise InvalidParameter(f"LUT {ref.path[len(MEMORY_PREFIX):]!r} was given as a loaded object "
                               "and is not available here; reference its .cube file instead")
    p, raw = _read_bytes(ref.path)
    digest = bytes_hash(raw)
    if ref.sha256 and digest != ref.sha256:
        raise InvalidParameter(f"LUT content changed since it was referenced (sha256 {digest[:12]}..., "
                               f"recorded {ref.sha256[:12]}...)", p)
    lut = _parse_bytes(raw, p)
    _remember(digest, lut)
    return lut
