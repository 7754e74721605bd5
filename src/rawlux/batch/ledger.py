"""The batch ledger: SQLite (WAL, synchronous=FULL, exclusive) in ``OUT/.rawlux/ledger.sqlite``.

Written by the coordinator only. One row per output (``jobs``, keyed by the output path relative
to OUT) with the input signature and recipe hash it was made from, and an append-only ``events``
log (start, done, failed, lost, retry, recovered) that tests and users can audit: a job done
twice would show two ``done`` events.

Job states: ``running`` (dispatched), ``committing`` (a complete temp file is about to be renamed
into place; its sha256 is recorded first), ``done``, ``failed``. See :mod:`rawlux.batch.runner`
for the commit protocol and the recovery after a crash.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = ["Ledger", "Row"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,          -- output path relative to OUT
    kind TEXT NOT NULL,
    inputs TEXT NOT NULL,          -- JSON list of absolute input paths
    input_sig TEXT NOT NULL,       -- JSON: per input [size, mtime_ns] or [size, sha256]
    recipe_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    tmp TEXT,
    out_sha256 TEXT,
    out_size INTEGER,
    seconds REAL,
    worker TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run INTEGER NOT NULL,
    key TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_key ON events (key);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    finished REAL,
    args TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class Row:
    """One ``jobs`` row."""

    key: str
    kind: str
    inputs: tuple[str, ...]
    input_sig: str
    recipe_hash: str
    state: str
    attempts: int
    reason: str
    tmp: str | None
    out_sha256: str | None
    out_size: int | None
    seconds: float | None
    worker: str | None


class Ledger:
    """Open (or create) the ledger of an output folder; use as a context manager."""

    def __init__(self, path: str | Path, args: str = "") -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        # One process owns the ledger (the coordinator): exclusive locking keeps WAL's index in
        # heap memory instead of a shared-memory file, so the ledger also works on network file
        # systems (OUT on NFS for a Dask cluster), where WAL's mmap index does not.
        self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        got = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if got is None:
            self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        self.run = self.db.execute("INSERT INTO runs (started, args) VALUES (?, ?)",
                                   (time.time(), args)).lastrowid

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One atomic transaction (the connection is in autocommit mode: BEGIN explicitly)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ reading
    def rows(self) -> dict[str, Row]:
        """Every job row by key."""
        cur = self.db.execute("SELECT key, kind, inputs, input_sig, recipe_hash, state, attempts, "
                              "reason, tmp, out_sha256, out_size, seconds, worker FROM jobs")
        return {r[0]: Row(r[0], r[1], tuple(json.loads(r[2])), *r[3:]) for r in cur}

    def events(self, key: str | None = None) -> list[tuple[int, str, str, str]]:
        """(run, key, event, detail) in order, for one key or all."""
        if key is None:
            cur = self.db.execute("SELECT run, key, event, detail FROM events ORDER BY id")
        else:
            cur = self.db.execute("SELECT run, key, event, detail FROM events WHERE key=? ORDER BY id",
                                  (key,))
        return list(cur)

    def event_counts(self, event: str) -> dict[str, int]:
        """How many ``event`` events each key has (e.g. ``done``: outputs produced)."""
        cur = self.db.execute("SELECT key, COUNT(*) FROM events WHERE event=? GROUP BY key", (event,))
        return dict(cur.fetchall())

    # ------------------------------------------------------------------ writing (one transaction each)
    def _event(self, key: str, event: str, detail: str = "") -> None:
        self.db.execute("INSERT INTO events (run, key, event, detail, time) VALUES (?, ?, ?, ?, ?)",
                        (self.run, key, event, detail, time.time()))

    def start(self, key: str, kind: str, inputs: tuple[str, ...], input_sig: str,
              recipe_hash: str) -> None:
        """The job was dispatched (state ``running``, one more attempt)."""
        now = time.time()
        with self._tx():
            self.db.execute(
                "INSERT INTO jobs (key, kind, inputs, input_sig, recipe_hash, state, attempts, reason,"
                " tmp, out_sha256, out_size, seconds, worker, updated)"
                " VALUES (?, ?, ?, ?, ?, 'running', 1, '', NULL, NULL, NULL, NULL, NULL, ?)"
                " ON CONFLICT(key) DO UPDATE SET kind=excluded.kind, inputs=excluded.inputs,"
                " input_sig=excluded.input_sig, recipe_hash=excluded.recipe_hash, state='running',"
                " attempts=jobs.attempts+1, reason='', tmp=NULL, updated=excluded.updated",
                (key, kind, json.dumps(list(inputs)), input_sig, recipe_hash, now))
            self._event(key, "start")

    def retry(self, key: str, reason: str) -> None:
        """The worker running the job was lost; it is dispatched again."""
        with self._tx():
            self.db.execute("UPDATE jobs SET attempts=attempts+1, updated=? WHERE key=?",
                            (time.time(), key))
            self._event(key, "retry", reason)

    def committing(self, key: str, tmp: str, sha256: str, size: int, seconds: float,
                   worker: str) -> None:
        """A complete temp file exists and is about to be renamed to the output."""
        with self._tx():
            self.db.execute("UPDATE jobs SET state='committing', tmp=?, out_sha256=?, out_size=?,"
                            " seconds=?, worker=?, updated=? WHERE key=?",
                            (tmp, sha256, size, seconds, worker, time.time(), key))

    def done(self, key: str, detail: str = "") -> None:
        """The output is in place (renamed and its folder fsynced)."""
        with self._tx():
            self.db.execute("UPDATE jobs SET state='done', tmp=NULL, updated=? WHERE key=?",
                            (time.time(), key))
            self._event(key, "done", detail)

    def failed(self, key: str, reason: str, seconds: float = 0.0, worker: str = "") -> None:
        with self._tx():
            self.db.execute("UPDATE jobs SET state='failed', reason=?, tmp=NULL, seconds=?, worker=?,"
                            " updated=? WHERE key=?", (reason, seconds, worker, time.time(), key))
            self._event(key, "failed", reason)

    def lost(self, key: str, detail: str) -> None:
        """A job left ``running``/``committing`` by a killed run; it will be redone."""
        with self._tx():
            self.db.execute("UPDATE jobs SET state='lost', tmp=NULL, updated=? WHERE key=?",
                            (time.time(), key))
            self._event(key, "lost", detail)

    def finish(self) -> None:
        with self._tx():
            self.db.execute("UPDATE runs SET finished=? WHERE id=?", (time.time(), self.run))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows().values())
