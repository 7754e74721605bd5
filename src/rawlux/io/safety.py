"""Input safety checks shared by the readers: existence, format sniffing, dimension limits,
the memory budget and "does the file hold what its header claims".

Every check raises a typed :mod:`rawlux.core.errors` error with a one-line message naming the file.
Dimension limits are checked from headers *before* any pixel buffer is allocated.

Memory budget: developing an image needs about :data:`DEVELOP_BYTES_PER_PIXEL` bytes per pixel
at its peak (float32 RGB stage buffers, warp maps, the output). :func:`max_megapixels` is
``$RAWLUX_MAX_MEGAPIXELS`` when set, else half of the RAM available when the process asks
(``MemAvailable``, at least a quarter of the total) divided by that; :func:`check_memory` raises
:class:`ImageTooLarge` before a reader allocates an image above it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from rawlux.core.errors import ImageTooLarge, MissingInput, warn_input
from rawlux.core.limits import (  # the budget lives in core (frame/ uses it too)
    DEVELOP_BYTES_PER_PIXEL,
    ENV_MAX_MEGAPIXELS,
    MAX_PIXELS,
    budget_megapixels,
    meminfo,
)

MAX_SIDE = 65535  # pixels per side

#: Smallest plausible number of bytes per sample, as a ratio to the uncompressed size, by TIFF
#: Compression: uncompressed data must be all there; lossless JPEG needs >= 1 bit per sample;
#: deflate cannot beat ~1032:1; baseline JPEG needs >= ~2 bits per 8x8 block.
_MAX_RATIO = {1: 1.0, 7: 16.0, 8: 1032.0, 32946: 1032.0, 34892: 512.0}
_MAX_RATIO_OTHER = 2048.0  # JPEG XL and anything else LibRaw might decode


def check_readable(path: str | os.PathLike[str]) -> Path:
    """The path as :class:`Path` if it names a readable, non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise MissingInput("file does not exist", p)
    if not p.is_file():
        raise MissingInput("not a regular file", p)
    if not os.access(p, os.R_OK):
        raise MissingInput("file is not readable (permission denied)", p)
    return p


def check_dimensions(
    width: int, height: int, path: str | os.PathLike[str] | None, what: str = "image"
) -> None:
    """Raise :class:`ImageTooLarge` when ``width`` x ``height`` is above the safety limits."""
    w, h = int(width), int(height)
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ImageTooLarge(
            f"{what} is {w}x{h} px, above the limit of {MAX_SIDE} px per side", path
        )
    if w * h > MAX_PIXELS:
        raise ImageTooLarge(
            f"{what} is {w}x{h} px = {w * h / 1e6:.0f} MP, above the limit of {MAX_PIXELS // 1_000_000} MP",
            path,
        )


def _meminfo() -> tuple[int, int]:
    """(available, total) RAM in bytes; (0, 0) when unknown."""
    return meminfo()


def max_megapixels() -> tuple[float, str]:
    """The memory budget in megapixels and where it comes from (for error messages):
    :func:`rawlux.core.limits.budget_megapixels` (``$RAWLUX_MAX_MEGAPIXELS``, else half of the
    available RAM over :data:`DEVELOP_BYTES_PER_PIXEL`, at most :data:`MAX_PIXELS`)."""
    return budget_megapixels(_meminfo())


def check_memory(
    width: int, height: int, path: str | os.PathLike[str] | None, what: str = "image"
) -> None:
    """Raise :class:`ImageTooLarge` when developing ``width`` x ``height`` px exceeds the budget."""
    w, h = int(width), int(height)
    limit, source = max_megapixels()
    mp = w * h / 1e6
    if mp > limit:
        need = w * h * DEVELOP_BYTES_PER_PIXEL / 1e9
        from_env = source.startswith(ENV_MAX_MEGAPIXELS)
        hint = "" if from_env else f"; set {ENV_MAX_MEGAPIXELS} to change it"
        raise ImageTooLarge(
            f"{what} is {w}x{h} px = {mp:.3g} MP, needs about {need:.3g} GB to develop, above the "
            f"memory budget of {limit:.4g} MP ({source}{hint})",
            path,
        )


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e6:.2g} MB"


def check_data_holds(
    width: int,
    height: int,
    samples: int,
    bits: int,
    compression: int,
    stored: int,
    path: str | os.PathLike[str] | None,
) -> None:
    """Raise :class:`CorruptInput` when ``stored`` bytes of strips/tiles cannot hold the image the
    header declares (``width`` x ``height`` x ``samples`` of ``bits``, TIFF ``compression``).

    Uncompressed data must be complete; compressed data must be at least the uncompressed size
    over the best ratio the codec can reach. Checked before any pixel buffer is allocated.
    """
    from rawlux.core.errors import CorruptInput

    row = (int(width) * int(samples) * int(bits) + 7) // 8
    need = row * int(height)
    ratio = _MAX_RATIO.get(int(compression), _MAX_RATIO_OTHER)
    if stored * ratio < need:
        c = int(compression)
        kind = "" if c == 1 else f" (compression {c}, at most {ratio:g}:1)"
        raise CorruptInput(
            f"ImageWidth {int(width)} x ImageLength {int(height)} needs {_mb(need)} but the file "
            f"holds {_mb(stored)} of image data{kind}",
            path,
        )


@contextmanager
def decoder_messages(path: str | os.PathLike[str]) -> Iterator[None]:
    """Capture what LibRaw prints on file descriptor 2 inside the block ("<file>: Unexpected end
    of file", "<file>: data corrupted at N"), so the CLI's stderr stays one line per problem.

    When the block raises, those messages are dropped (the typed error says what went wrong);
    when it succeeds they become one :class:`rawlux.io.dng.InputWarning` naming the file. Other
    lines written to fd 2 meanwhile are passed through unchanged after the block.
    Process-wide while active (fd 2 is shared by all threads); a no-op when fd 2 is unusable.
    """
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    tmp = tempfile.TemporaryFile()
    os.dup2(tmp.fileno(), 2)
    ok = False
    try:
        yield
        ok = True
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        tmp.seek(0)
        text = tmp.read(65536).decode("utf-8", "replace")
        tmp.close()
        msgs: list[str] = []
        others: list[str] = []
        prefix = f"{path}: "
        for line in text.splitlines():
            if line.startswith(prefix):  # LibRaw's "<file>: <message>" lines
                m = line[len(prefix) :].strip()
                if m and m not in msgs:
                    msgs.append(m)
            elif line.strip():
                others.append(line)
        if others:  # not LibRaw's: pass through untouched
            try:
                sys.stderr.write("\n".join(others) + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        if ok and msgs:
            said = "; ".join(msgs[:3])
            warn_input(path, f"the decoder reported damaged data ({said}); pixels may be wrong")


def sniff(head: bytes) -> str:
    """A short format name from the first bytes of a file.

    Returns one of ``"tiff"``, ``"bigtiff"``, ``"jpeg"``, ``"png"``, ``"gif"``, ``"heif"``, ``"avif"``,
    ``"webp"``, ``"jxl"``, ``"bmp"``, ``"pdf"``, ``"zip"``, ``"gzip"``, ``"text"``, ``"empty"`` or
    ``"unknown"`` (which may still be a raw format LibRaw knows, e.g. CR3, RAF, CRW, KDC).
    """
    if not head:
        return "empty"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "bigtiff"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx"):
            return "heif"
        return "unknown"  # e.g. Canon CR3 ("crx ") is ISO-BMFF too
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"\xff\x0a" or head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "jxl"
    if head[:2] == b"BM":
        return "bmp"
    if head[:5] == b"%PDF-":
        return "pdf"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    try:
        txt = head.decode("utf-8")
        if all(c.isprintable() or c in "\r\n\t" for c in txt):
            return "text"
    except UnicodeDecodeError:
        pass
    return "unknown"


FORMAT_NAMES = {
    "jpeg": "a JPEG image",
    "png": "a PNG image",
    "gif": "a GIF image",
    "heif": "a HEIF/HEIC image",
    "avif": "an AVIF image",
    "webp": "a WebP image",
    "jxl": "a JPEG XL image",
    "bmp": "a BMP image",
    "pdf": "a PDF document",
    "zip": "a ZIP archive",
    "gzip": "a gzip archive",
    "text": "a text file",
    "tiff": "a TIFF image",
    "bigtiff": "a BigTIFF image",
}


def read_head(path: Path, n: int = 64) -> bytes:
    """The first ``n`` bytes of ``path``."""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise MissingInput(f"cannot read file ({e.strerror or e})", path) from None


# ----------------------------------------------------------------------------------- outputs


def _same(a: Path, b: Path) -> bool:
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_paths(
    outputs: "Iterable[str | os.PathLike[str] | None]",
    inputs: "Iterable[str | os.PathLike[str] | None]" = (),
    *,
    out_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The rules every output path obeys, checked before any work starts; the paths as Path.
    Commands call them through :func:`rawlux.app.outputs.check_outputs` (which adds the
    extension check); :func:`rawlux.io.write.save` calls them again just before it writes.

    Refuses (:class:`OutputError` naming the output): an output that is a symbolic link (even a
    dangling one: writing would follow it) or an existing directory; a missing or read-only
    output directory; an output that is the same file as an input (also through links) or as
    another output (``--save-depth`` equal to ``-o``, two inputs that map to one name in
    ``--out-dir``, case-insensitively on case-insensitive file systems); with ``out_dir``, an
    output whose resolved path leaves it (``--format 'jpg/../../x.jpg'``). ``None`` entries
    (options not given) are skipped.
    """
    from rawlux.core.errors import OutputError

    outs = [Path(o) for o in outputs if o is not None]
    ins = [Path(i) for i in inputs if i is not None]
    base = Path(os.path.realpath(out_dir)) if out_dir is not None else None
    seen: dict[str, Path] = {}
    for o in outs:
        if o.is_symlink():
            raise OutputError("output is a symbolic link; refusing to write through it", o)
        if o.is_dir():
            raise OutputError("output path is a directory", o)
        parent = o.parent if str(o.parent) else Path(".")
        if not parent.is_dir():
            raise OutputError("output directory does not exist", o)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError("output directory is not writable", o)
        if base is not None:
            real = Path(os.path.realpath(o))
            if real.parent != base and base not in real.parents:
                raise OutputError(f"output would be written outside --out-dir {out_dir}", o)
        for i in ins:
            if _same(o, i):
                raise OutputError(f"refusing to overwrite an input file ({i})", o)
        key = os.path.normcase(os.path.realpath(o))
        fold = key.casefold()
        if key in seen:
            raise OutputError("two outputs would be written to this same file", o)
        if fold in seen:
            raise OutputError(f"two outputs differ only in letter case ({seen[fold]}): the same file "
                              f"on case-insensitive file systems", o)
        seen[key] = seen[fold] = o
    return outs
