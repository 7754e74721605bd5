"""Where jobs run: inline, a local pool of worker processes, or a Dask distributed cluster.

An executor takes jobs and yields events as they happen:
``("result", JobResult)`` for every job (exactly one each) and ``("retry", job_id, reason)`` when
a worker died under a job that is then dispatched again. ``dispatch(job)`` is called as a job is
handed to a worker, so the coordinator can record it. Executors never touch the ledger or the
output folder.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, Protocol

from rawlux.batch.jobs import Job, JobResult, run_job
from rawlux.core.errors import InvalidParameter

__all__ = ["Executor", "InlineExecutor", "PoolExecutor", "DaskExecutor", "make_executor", "cpu_count"]

Event = tuple
Dispatch = Callable[[Job], None]

#: A job whose worker dies this many times is recorded as failed (a file that crashes the decoder).
MAX_ATTEMPTS = 3


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Executor(Protocol):
    name: str

    def run(self, jobs: Iterable[Job], dispatch: Dispatch) -> Iterator[Event]: ...


class InlineExecutor:
    """Runs each job in this process, one after another (``--workers 1``)."""

    name = "inline"

    def run(self, jobs: Iterable[Job], dispatch: Dispatch) -> Iterator[Event]:
        for job in jobs:
            dispatch(job)
            yield ("result", run_job(job))


def _worker_main(conn: Any, threads: int) -> None:  # pragma: no cover - runs in a child process
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    os.environ["RAWLUX_THREADS"] = str(threads)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if job is None:
            return
        conn.send(run_job(job))


class _Worker:
    def __init__(self, ctx: Any, threads: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads), daemon=True,
                                name="rawlux-batch-worker")
        self.proc.start()
        child.close()
        self.job: Job | None = None


class PoolExecutor:
    """``workers`` local processes (spawned), one job in flight each; a worker that dies is
    replaced and its job dispatched again (up to :data:`MAX_ATTEMPTS` times). Each worker's band
    kernels use ``cpus // workers`` threads."""

    name = "process pool"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or cpu_count()
        if self.workers < 1:
            raise InvalidParameter(f"--workers must be >= 1, got {self.workers}")
        self.threads = max(1, cpu_count() // self.workers)

    def run(self, jobs: Iterable[Job], dispatch: Dispatch) -> Iterator[Event]:
        import multiprocessing as mp
        from multiprocessing.connection import wait

        ctx = mp.get_context("spawn")
        pending = deque(replace(j, threads=self.threads) for j in jobs)
        deaths: dict[str, int] = {}
        pool = [_Worker(ctx, self.threads) for _ in range(min(self.workers, len(pending)))]
        try:
            while pending or any(w.job is not None for w in pool):
                for w in pool:
                    if w.job is None and pending:
                        job = pending.popleft()
                        if job.id not in deaths:
                            dispatch(job)
                        w.job = job
                        w.conn.send(job)
                busy = [w for w in pool if w.job is not None]
                ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], 1.0))
                for i, w in enumerate(pool):
                    if w.job is None:
                        continue
                    if w.conn in ready:
                        try:
                            res = w.conn.recv()
                        except (EOFError, OSError):
                            res = None
                        if res is not None:
                            w.job = None
                            yield ("result", res)
                            continue
                    if w.proc.sentinel in ready or not w.proc.is_alive():
                        job, w.job = w.job, None
                        w.proc.join(1.0)
                        code = w.proc.exitcode
                        deaths[job.id] = deaths.get(job.id, 0) + 1
                        how = f"worker process died (exit code {code})"
                        if deaths[job.id] >= MAX_ATTEMPTS:
                            yield ("result", JobResult(job.id, False,
                                                       reason=f"{job.inputs[0]}: {how}, {MAX_ATTEMPTS} times"))
                        else:
                            yield ("retry", job.id, how)
                            pending.appendleft(job)
                        w.conn.close()
                        pool[i] = _Worker(ctx, self.threads)
        finally:
            for w in pool:
                try:
                    w.conn.send(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + 5.0
            for w in pool:
                w.proc.join(max(0.0, deadline - time.monotonic()))
                if w.proc.is_alive():
                    w.proc.kill()
                    w.proc.join()
                w.conn.close()


class DaskExecutor:
    """Jobs as tasks on a Dask distributed cluster (``--scheduler tcp://HOST:8786`` or a
    ``distributed.Client``). Inputs and OUT must be visible at the same paths on every worker
    (shared file system). A worker lost mid-job is rescheduled by Dask (its
    ``distributed.scheduler.allowed-failures``, default 3); after that the job is recorded failed."""

    name = "dask"

    def __init__(self, scheduler: Any, threads: int | None = 1) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise InvalidParameter(
                "--scheduler needs Dask distributed: pip install 'rawlux[cluster]'") from None
        self.scheduler = scheduler
        self.threads = threads

    def run(self, jobs: Iterable[Job], dispatch: Dispatch) -> Iterator[Event]:
        import uuid

        from distributed import Client, as_completed

        own = not isinstance(self.scheduler, Client)
        try:
            client = Client(self.scheduler, timeout="20s") if own else self.scheduler
        except OSError as e:
            raise InvalidParameter(f"cannot reach the Dask scheduler {self.scheduler}: "
                                   f"{' '.join(str(e).split())}") from None
        try:
            futures = {}
            tag = uuid.uuid4().hex[:8]
            for job in jobs:
                job = replace(job, threads=self.threads)
                dispatch(job)
                fut = client.submit(run_job, job, key=f"rawlux-batch-{tag}-{len(futures)}",
                                    pure=False, retries=1)
                futures[fut] = job
            for fut in as_completed(list(futures)):
                job = futures.pop(fut)
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, comm errors
                    res = JobResult(job.id, False, reason=f"{job.inputs[0]}: cluster: {type(exc).__name__}: "
                                    f"{' '.join(str(exc).split())}")
                yield ("result", res)
        finally:
            if own:
                client.close()


def make_executor(executor: Any = None, workers: int | None = None,
                  scheduler: Any = None) -> Executor:
    """From API/CLI values: an Executor instance, a ``distributed.Client``, ``"inline"``,
    ``"process"``, ``"dask"`` (with ``scheduler``), or None = Dask when ``scheduler`` is given, inline for one worker, else the
    process pool."""
    if executor is not None and not isinstance(executor, str):
        if hasattr(executor, "scheduler_info") and hasattr(executor, "submit"):
            return DaskExecutor(executor)  # a distributed.Client
        if not callable(getattr(executor, "run", None)):
            raise InvalidParameter(f"executor must be inline, process, dask, a distributed.Client "
                                   f"or an object with run(jobs, dispatch), got {type(executor).__name__}")
        return executor
    if executor == "dask" or (executor is None and scheduler is not None):
        if scheduler is None:
            raise InvalidParameter("the dask executor needs a scheduler address")
        return DaskExecutor(scheduler)
    if executor == "inline" or (executor is None and workers == 1):
        return InlineExecutor()
    if executor in (None, "process", "pool"):
        return PoolExecutor(workers)
    raise InvalidParameter(f"unknown executor {executor!r}; valid: inline, process, dask")
