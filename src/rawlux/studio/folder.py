"""The opened folder: which files the studio shows, and the one safe way from a request's
relative path to a file inside the folder (no traversal, no symlink out, no hidden files)."""

from __future__ import annotations

import os
from pathlib import Path

from rawlux.core.errors import InvalidParameter, MissingInput

__all__ = ["EXPORT_DIR", "PHOTO_EXTENSIONS", "RAW_EXTENSIONS", "list_photos", "resolve_inside"]

RAW_EXTENSIONS = (".dng", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".arw", ".srf", ".sr2", ".raf",
                  ".orf", ".rw2", ".pef", ".srw", ".x3f", ".kdc", ".dcr", ".mrw", ".3fr", ".iiq",
                  ".erf", ".mos", ".rwl")
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic", ".heif", ".avif", ".webp")
EXPORT_DIR = "rawlux-export"
MAX_FILES = 5000
MAX_DEPTH = 3


def _inside(root: Path, p: Path) -> bool:
    try:
        p.relative_to(root)
        return True
    except ValueError:
        return False


def list_photos(root: Path) -> list[str]:
    """Relative paths ('/'-separated, sorted) of the raws and photos under ``root`` (up to
    three folders deep), skipping hidden entries, the export folder and symlinks leading out."""
    root = root.resolve()
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        depth = len(d.relative_to(root).parts)
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and n != EXPORT_DIR
                             and depth < MAX_DEPTH)
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(RAW_EXTENSIONS + PHOTO_EXTENSIONS):
                continue
            p = d / name
            try:
                real = p.resolve(strict=True)
            except OSError:
                continue
            if not _inside(root, real) or not real.is_file():
                continue
            out.append(p.relative_to(root).as_posix())
            if len(out) >= MAX_FILES:
                return out
    return out


def resolve_inside(root: Path, rel: str) -> Path:
    """The file ``rel`` (relative, '/'-separated) inside ``root``; refuses absolute paths,
    '..', hidden parts, NUL, symlinks that leave ``root``, non-files and unlisted types."""
    if not isinstance(rel, str) or not rel or "\0" in rel or "\\" in rel or len(rel) > 1024:
        raise InvalidParameter(f"path {rel!r} is not a relative path inside the folder")
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise InvalidParameter(f"path {rel!r} is not a relative path inside the folder")
    if not rel.lower().endswith(RAW_EXTENSIONS + PHOTO_EXTENSIONS):
        raise InvalidParameter(f"path {rel!r} is not a raw or photo file")
    root = root.resolve()
    p = root.joinpath(*parts)
    try:
        real = p.resolve(strict=True)
    except OSError:
        raise MissingInput("no such file in the folder", rel) from None
    if not _inside(root, real):
        raise InvalidParameter(f"path {rel!r} leads outside the folder")
    if not real.is_file():
        raise MissingInput("not a regular file", rel)
    return real
