"""Batch: develop whole folders, resumable and exactly once, locally or on a Dask cluster.

``rawlux.batch.run(inputs, out_dir, recipe=..., executor=...)`` returns a result table
(:class:`rawlux.batch.runner.BatchResult`). Modules: ``plan`` (inputs -> outputs, bursts),
``ledger`` (SQLite WAL in ``OUT/.rawlux``), ``executors`` (inline, process pool, Dask),
``runner`` (the coordinator and its commit protocol); ``jobs`` and ``recipe`` are the only
adapters to rawlux's processing and recipes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run", "BatchResult", "ResultRow", "load_recipe"]


def __getattr__(name: str) -> Any:
    if name in ("run", "BatchResult", "ResultRow"):
        from rawlux.batch import runner

        return getattr(runner, name)
    if name == "load_recipe":
        from rawlux.batch.recipe import load_recipe

        return load_recipe
    raise AttributeError(f"module 'rawlux.batch' has no attribute {name!r}")
