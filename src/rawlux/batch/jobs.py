"""The ONE adapter between batch and rawlux's processing: run one job, classify an input.

Everything else in ``rawlux.batch`` is orchestration (plan, ledger, executors) and never touches
pixels; this module reaches the pixels only through the application layer (``rawlux.app``:
develop, night, frame, inputs), so a batch output is what the single-file command makes:

* a raw gets the whole recipe (develop stages, look, LUT) and its frame, as ``rawlux develop``;
* a photo (JPEG/HEIC/PNG/TIFF, by content) keeps its rendering (looks and develop stages apply
  to raws only, as in ``develop``/``frame``) and gets only the frame, then is re-encoded;
* a burst is merged as ``rawlux night`` with the recipe's night sections (reference frame, merge
  or super-resolution params; float merged raw into the develop plan), then framed.

A job writes its output to a fresh temporary file in the batch's temp folder (same file system as
the output), fsyncs it and returns its path and sha256; the coordinator alone renames it into
place and records it (see :mod:`rawlux.batch.runner`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rawlux.batch import faults

__all__ = ["Job", "JobResult", "run_job", "input_kind", "capture_info", "check_output_options",
           "FORMATS"]

#: ``--format`` value -> output extension.
FORMATS = {"jpg": ".jpg", "jpeg": ".jpg", "heic": ".heic", "avif": ".avif", "tif": ".tif",
           "tiff": ".tif", "png": ".png"}


@dataclass(frozen=True)
class Job:
    """One output from one input (``kind="develop"``) or one burst of inputs (``"burst"``).

    Paths are absolute strings and the recipe is its :meth:`Recipe.to_dict` data (jobs travel
    to other processes and machines); ``frame`` is the layout (name or verified file path) the
    recipe records, ``cfa`` the Bayer pattern of bare-mosaic PNG/TIFF inputs.
    """

    id: str                      # ledger key: the output path relative to the output folder
    kind: str                    # "develop" | "burst"
    inputs: tuple[str, ...]
    output: str                  # final path (written by the coordinator's rename only)
    tmp_dir: str                 # where the job writes its temporary file
    recipe: dict[str, Any] = field(default_factory=dict)
    frame: str | None = None
    cfa: str | None = None
    quality: int = 92
    bit_depth: int | None = None
    hdr: bool = False
    threads: int | None = None   # RAWLUX_THREADS for the job's band kernels (None: leave as is)


@dataclass(frozen=True)
class JobResult:
    """What a job returns: ``ok`` with a complete, fsynced temp file, or a one-line ``reason``."""

    id: str
    ok: bool
    tmp: str | None = None
    sha256: str | None = None
    size: int = 0
    reason: str = ""
    seconds: float = 0.0
    worker: str = ""


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _image(job: Job) -> Any:
    """The finished display image of the job (develop, photo decode or burst merge), framed."""
    from rawlux.app.develop import develop_image
    from rawlux.app.recipe import Recipe

    rec = Recipe.from_dict(job.recipe) if job.recipe else Recipe.default()
    if job.kind == "burst":
        from rawlux.app.night import merge_files, night_options

        # the recipe's night sections (reference, merge, super-resolution), as `rawlux night`
        opts, _ = night_options({}, recipe=rec)
        merged, _ = merge_files(list(job.inputs), opts)
        img = develop_image(merged, opts.develop)
    else:
        from rawlux.app.inputs import open_any
        from rawlux.core.image import RawImage

        path = job.inputs[0]
        # --cfa names the pattern of bare mosaics (greyscale PNG/TIFF, photos without it) only;
        # it must not override the CFA a real raw file records
        cfa = job.cfa if job.cfa and input_kind(path) == "photo" else None
        src = open_any(path, cfa=cfa)  # a photo or a raw, by content
        img = develop_image(src, rec) if isinstance(src, RawImage) else src
    if job.frame:
        from rawlux.app.frame import frame_image

        img = frame_image(img, job.frame)
    return img


def _sync_sha(path: Path) -> tuple[str, int]:
    """fsync ``path`` and return its sha256 and size."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def run_job(job: Job) -> JobResult:
    """Develop/merge ``job`` into a new temporary file; never raises for a bad input.

    Failures (any exception) come back as ``ok=False`` with one line naming the file and reason.
    """
    from rawlux.core.errors import RawluxError

    t0 = time.perf_counter()
    if job.threads:
        os.environ["RAWLUX_THREADS"] = str(job.threads)
    ext = Path(job.output).suffix
    tmp = Path(job.tmp_dir) / f"{hashlib.sha1(job.id.encode()).hexdigest()[:16]}.{uuid.uuid4().hex[:8]}{ext}"
    faults.point("job.start")
    try:
        from rawlux.core.memory import reuse_freed_memory
        from rawlux.io.write import save

        with reuse_freed_memory():
            img = _image(job)
            faults.point("job.before_write")
            save(img, tmp, quality=job.quality, bit_depth=job.bit_depth, protect=job.inputs)
        faults.point("job.written")
        sha, size = _sync_sha(tmp)
    except Exception as exc:  # noqa: BLE001 - a bad file must not stop the batch
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, RawluxError):
            reason = str(exc) if exc.path else f"{job.inputs[0]}: {exc}"
        elif isinstance(exc, MemoryError):
            reason = f"{job.inputs[0]}: out of memory"
        else:
            reason = f"{job.inputs[0]}: internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
        return JobResult(job.id, False, reason=reason, seconds=time.perf_counter() - t0,
                         worker=_worker_name())
    return JobResult(job.id, True, str(tmp), sha, size, seconds=time.perf_counter() - t0,
                     worker=_worker_name())


def input_kind(path: str | os.PathLike[str], cfa: str | None = None) -> str | None:
    """``"raw"``, ``"photo"``, ``"corrupt"`` (an image file that is damaged or empty: kept, so
    its failure is recorded) or None (not an image rawlux reads: text, archives, ...).

    Decided by content (:func:`rawlux.io.probe.input_kind`), never by extension; with ``cfa``
    a PNG/TIFF holding one channel is a bare Bayer mosaic (a raw)."""
    from rawlux.core.errors import CorruptInput, RawluxError
    from rawlux.io.probe import input_kind as probe

    try:
        return probe(path, cfa=cfa)
    except CorruptInput:
        return "corrupt"
    except (RawluxError, OSError):
        return None


def capture_info(path: str | os.PathLike[str]) -> tuple[float | None, str]:
    """(capture time as POSIX seconds or None, camera "make model") of a file, for bursts."""
    from rawlux.core.errors import RawluxError
    from rawlux.io.exif import read_metadata

    try:
        md = read_metadata(path)
    except (RawluxError, OSError, ValueError):
        return None, ""
    when = md.datetime_original.timestamp() if md.datetime_original is not None else None
    return when, f"{md.make or ''} {md.model or ''}".strip()


def check_output_options(fmt: str, frame: str | None, hdr: bool, quality: int,
                         bit_depth: int | None) -> str:
    """Validate output options once, before any work; returns the output extension (the frame
    layout and the recipe are checked by :func:`rawlux.app.develop.check_develop`)."""
    from rawlux.core.errors import InvalidParameter

    ext = FORMATS.get(fmt.lower().lstrip("."))
    if ext is None:
        raise InvalidParameter(f"--format {fmt!r} is not one of: jpg, heic, avif, tif, png")
    if not 1 <= int(quality) <= 100:
        raise InvalidParameter(f"quality must be in 1..100, got {quality}")
    if bit_depth is not None and bit_depth not in (8, 16):
        raise InvalidParameter(f"bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and ext not in (".tif", ".png"):
        raise InvalidParameter(f"bit depth 16 needs tif or png output, not {ext[1:]}")
    return ext
