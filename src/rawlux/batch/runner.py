"""The batch coordinator: plan, skip what is done, run the rest, commit each output exactly once.

Commit protocol (the coordinator is the only writer of the ledger and of final outputs):

1. a job writes ``OUT/.rawlux/tmp/<id>.<rand>.<ext>``, fsyncs it and returns its sha256;
2. the ledger records ``committing`` with that temp path and sha256 (transaction, fsync);
3. ``os.replace(temp, output)`` and an fsync of the output folder;
4. the ledger records ``done`` (one ``done`` event).

A kill -9 between any two steps is repaired on the next start: ``committing`` rows whose temp
file still exists are renamed now (step 3-4); rows whose output already has the recorded sha256
are marked done; anything else (``running``, or a vanished temp) is redone. The temp folder is
then emptied, so no partial file ever stays. Outputs are only ever made visible by a rename of a
complete, fsynced file. A second batch on the same OUT at the same time is refused (flock).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from rawlux.batch import faults, jobs as jobs_mod
from rawlux.batch.executors import InlineExecutor, PoolExecutor, make_executor
from rawlux.batch.ledger import Ledger
from rawlux.batch.plan import Planned, discover, group_bursts, input_signature, plan_outputs
from rawlux.batch.recipe import Recipe, as_recipe, canonical_json, check_files, load_recipe
from rawlux.app.develop import check_develop, frame_layout
from rawlux.core.errors import InvalidParameter, OutputError

__all__ = ["run", "BatchResult", "ResultRow", "STATE_DIR"]

STATE_DIR = ".rawlux"


@dataclass(frozen=True)
class ResultRow:
    """One line of the result table. ``status``: done | skipped | failed | not run."""

    output: str           # path relative to OUT
    inputs: tuple[str, ...]
    kind: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    earlier: bool = False  # failed in an earlier run (inputs and recipe unchanged since)


@dataclass
class BatchResult:
    """The result table of :func:`run` (rows in input order) and the run's facts."""

    out_dir: Path
    rows: list[ResultRow] = field(default_factory=list)
    executor: str = ""
    seconds: float = 0.0
    retries: int = 0
    recovered: int = 0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def ok(self) -> bool:
        """True when no output is failed (exit status 0)."""
        return self.count("failed") == 0

    @property
    def failed(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == "failed"]

    def table(self) -> list[dict[str, Any]]:
        """Rows as plain dicts (output, inputs, kind, status, reason, seconds)."""
        return [{"output": r.output, "inputs": list(r.inputs), "kind": r.kind, "status": r.status,
                 "reason": r.reason, "seconds": round(r.seconds, 3)} for r in self.rows]

    def __iter__(self) -> Iterator[ResultRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


Progress = Callable[[str, ResultRow | None, dict[str, int]], None]


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_sha(p: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


class _Lock:
    def __init__(self, path: Path) -> None:
        self.f = open(path, "a+")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.close()
            raise OutputError("another rawlux batch is writing to this output folder",
                              path.parent.parent) from None

    def release(self) -> None:
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _recover(ledger: Ledger, out: Path, tmp_dir: Path) -> int:
    """Repair what a killed run left (see module docstring); returns outputs completed now."""
    completed = 0
    for row in ledger.rows().values():
        if row.state == "committing":
            final = out / row.key
            if row.tmp and Path(row.tmp).is_file() and _file_sha(Path(row.tmp)) == row.out_sha256:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(row.tmp, final)
                _fsync_dir(final.parent)
                ledger.done(row.key, "recovered: renamed after a crash")
                completed += 1
            elif final.is_file() and _file_sha(final) == row.out_sha256:
                ledger.done(row.key, "recovered: output already in place")
                completed += 1
            else:
                ledger.lost(row.key, "interrupted while committing")
        elif row.state == "running":
            ledger.lost(row.key, "interrupted while running")
    for p in tmp_dir.iterdir():
        try:
            p.unlink()
        except OSError:
            pass
    return completed


def _settings_hash(recipe: Recipe, ext: str, frame: str | None, quality: int,
                   bit_depth: int | None, hdr: bool, cfa: str | None = None) -> str:
    """The ledger's settings key: the recipe (:meth:`Recipe.hash`: data files by content) and
    every output option; a change redoes the outputs."""
    spec = {"recipe": recipe.hash(), "ext": ext, "frame": frame, "quality": int(quality),
            "bit_depth": bit_depth, "hdr": bool(hdr), "cfa": cfa}
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def _as_recipe(recipe: Any) -> Recipe:
    if recipe is None:
        return as_recipe()
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, Mapping):
        opts = dict(recipe)
        lut = opts.pop("lut", None)
        return as_recipe(opts, lut)
    return load_recipe(recipe)


def run(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    recipe: Any = None,
    fmt: str = "jpg",
    executor: Any = None,
    workers: int | None = None,
    scheduler: Any = None,
    recursive: bool = False,
    force: bool = False,
    retry_failed: bool = False,
    bursts: bool = False,
    burst_gap: float = 2.0,
    frame: str | None = None,
    hdr: bool = False,
    cfa: str | None = None,
    quality: int = 92,
    bit_depth: int | None = None,
    content_hash: bool = False,
    progress: Progress | None = None,
    args: str = "",
) -> BatchResult:
    """Develop every input into ``out_dir``, resumably and exactly once (see module docstring).

    ``inputs``: files, folders (``recursive`` for sub-folders) and globs, raws and photos mixed;
    outputs mirror the input tree with extension ``fmt`` (jpg, heic, avif, tif, png). ``recipe``:
    a rawlux recipe file (TOML/JSON), a mapping of develop options, a
    :class:`~rawlux.app.recipe.Recipe` or None (develop defaults); raws get all of it, photos
    keep their rendering and get only its frame. ``frame``: EXIF frame layout for every output
    (default: the recipe's ``[commands.frame]``, if any). ``cfa``: Bayer pattern of bare-mosaic
    PNG/TIFF inputs (then such files are raws, not photos).
    ``executor``: None (process pool; inline when ``workers == 1``; Dask when ``scheduler`` is
    given), ``"inline"``, ``"process"``, ``"dask"`` or an executor object. ``force`` redoes
    everything, ``retry_failed`` runs only the jobs that failed before. ``bursts`` merges each
    burst of raws (capture times within ``burst_gap`` s, or consecutive file numbers) into one
    night-mode photo. ``content_hash`` identifies inputs by sha256 instead of mtime.
    ``progress(event, row, counts)`` is called at start and after each job.
    Returns a :class:`BatchResult`; raises a :class:`RawluxError` only for problems with the
    whole batch (bad options, no inputs, output folder unusable).
    """
    t0 = time.perf_counter()
    ext = jobs_mod.check_output_options(fmt, frame, hdr, quality, bit_depth)
    rec = _as_recipe(recipe)
    if hdr:  # Ultra HDR / gain map: the output stage's hdr option, as `develop --hdr`
        rec = rec.with_options(hdr=True)
    hdr = bool(rec["output"].hdr)  # given, or the recipe's
    check_files(rec)
    # checked as `rawlux develop` checks one output of this format (frame layout, scene-referred,
    # HDR); a nonexistent file in the system temp folder stands for the outputs (not written)
    probe = Path(tempfile.gettempdir()) / f"rawlux-batch-check{ext}"
    try:
        rec = check_develop([probe], rec, frame=frame)  # --frame recorded in the recipe
    except OutputError as err:  # about the outputs' format: name the output folder instead
        if err.path != str(probe):
            raise
        raise OutputError(f"{err.reason} (--format {ext[1:]})", Path(out_dir)) from None
    frame = frame_layout(rec)  # given or the recipe's (a layout file is checked by content)
    if cfa is not None:
        cfa = str(cfa).strip().upper()
        if cfa not in ("RGGB", "BGGR", "GRBG", "GBRG"):
            raise InvalidParameter(f"--cfa must be one of RGGB, BGGR, GRBG, GBRG, got '{cfa}'")
    settings = _settings_hash(rec, ext, frame, quality, bit_depth, hdr, cfa)
    ex = make_executor(executor, workers, scheduler)

    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise OutputError("output path is not a folder", out)
    kind_of = functools.partial(jobs_mod.input_kind, cfa=cfa)
    sources = discover(inputs, recursive, exclude=out, kind_of=kind_of)
    groups = (group_bursts(sources, burst_gap, info=jobs_mod.capture_info, kind_of=kind_of)
              if bursts else [[s] for s in sources])
    planned = plan_outputs(groups, ext)

    state = out / STATE_DIR
    tmp_dir = state / "tmp"
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder ({e.strerror or e})", out) from None
    lock = _Lock(state / "lock")
    try:
        ledger = Ledger(state / "ledger.sqlite", args)
    except sqlite3.DatabaseError as e:
        lock.release()
        raise OutputError(f"the batch ledger is unreadable ({e}); delete {state} to start over",
                          state / "ledger.sqlite") from None
    result = BatchResult(out, executor=ex.name)
    try:
        result.recovered = _recover(ledger, out, tmp_dir)
        rows = ledger.rows()
        table: dict[str, ResultRow] = {}
        todo: list[tuple[Planned, str]] = []
        input_set = {str(s.path) for s in sources}
        for p in planned:
            sig = input_signature(p.inputs, content_hash)
            prev = rows.get(p.key)
            same = prev is not None and prev.recipe_hash == settings and prev.input_sig == sig
            ins = tuple(str(i) for i in p.inputs)
            final = out / p.key
            if str(final) in input_set:
                table[p.key] = ResultRow(p.key, ins, p.kind, "failed",
                                         f"{final}: output would overwrite an input file")
                continue
            if force:
                todo.append((p, sig))
            elif retry_failed:
                if prev is not None and prev.state == "failed":
                    todo.append((p, sig))
                elif same and prev.state == "done" and final.is_file():
                    table[p.key] = ResultRow(p.key, ins, p.kind, "skipped")
                else:
                    table[p.key] = ResultRow(p.key, ins, p.kind, "not run")
            elif same and prev.state == "done" and final.is_file() and final.stat().st_size == prev.out_size:
                table[p.key] = ResultRow(p.key, ins, p.kind, "skipped")
            elif same and prev.state == "failed":
                table[p.key] = ResultRow(p.key, ins, p.kind, "failed", prev.reason, earlier=True)
            else:
                todo.append((p, sig))

        counts = {"total": len(planned), "todo": len(todo), "done": 0, "failed": 0,
                  "skipped": sum(r.status == "skipped" for r in table.values())}
        if progress:
            progress("start", None, dict(counts))
        plan_by_key = {p.key: (p, sig) for p, sig in todo}
        rec_data = rec.to_dict()
        job_list = []
        for p, _ in todo:
            (out / p.key).parent.mkdir(parents=True, exist_ok=True)
            job_list.append(jobs_mod.Job(
                id=p.key, kind=p.kind, inputs=tuple(str(i) for i in p.inputs), output=str(out / p.key),
                tmp_dir=str(tmp_dir), recipe=rec_data, frame=frame, cfa=cfa,
                quality=int(quality), bit_depth=bit_depth, hdr=hdr))

        if executor is None and isinstance(ex, PoolExecutor) and len(job_list) <= 1:
            ex = InlineExecutor()  # one job: starting a worker process would only add its start-up
            result.executor = ex.name

        def dispatch(job: jobs_mod.Job) -> None:
            ledger.start(job.id, job.kind, job.inputs, plan_by_key[job.id][1], settings)

        for event in ex.run(job_list, dispatch):
            if event[0] == "retry":
                ledger.retry(event[1], event[2])
                result.retries += 1
                continue
            res: jobs_mod.JobResult = event[1]
            p, _ = plan_by_key[res.id]
            ins = tuple(str(i) for i in p.inputs)
            if res.ok and res.tmp:
                ledger.committing(res.id, res.tmp, res.sha256 or "", res.size, res.seconds, res.worker)
                faults.point("commit.before_rename")
                final = out / res.id
                try:
                    os.replace(res.tmp, final)
                    _fsync_dir(final.parent)
                except OSError as e:
                    try:
                        os.unlink(res.tmp)
                    except OSError:
                        pass
                    res = jobs_mod.JobResult(res.id, False, reason=f"{final}: cannot put the output "
                                             f"in place ({e.strerror or e})", seconds=res.seconds,
                                             worker=res.worker)
            if res.ok and res.tmp:
                faults.point("commit.after_rename")
                ledger.done(res.id)
                row = ResultRow(res.id, ins, p.kind, "done", seconds=res.seconds)
                counts["done"] += 1
            else:
                ledger.failed(res.id, res.reason, res.seconds, res.worker)
                row = ResultRow(res.id, ins, p.kind, "failed", res.reason, res.seconds)
                counts["failed"] += 1
            table[res.id] = row
            if progress:
                progress("job", row, dict(counts))
        ledger.finish()
        result.rows = [table[p.key] for p in planned if p.key in table]
    finally:
        # the executor has stopped by now (finished, or interrupted by Ctrl-C / a batch-level
        # error): every temp file left is garbage (an uncommitted result, whose row is redone next
        # run, or the duplicate of a task a cluster ran twice)
        for f in tmp_dir.iterdir():
            try:
                f.unlink()
            except OSError:
                pass
        ledger.close()
        lock.release()
    result.seconds = time.perf_counter() - t0
    return result
