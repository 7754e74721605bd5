"""Process memory behaviour for big pixel buffers (see ``docs/architecture.md``)."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameter numbers
_GLIBC_MMAP_MAX = 65536  # glibc's default M_MMAP_MAX
_reuse_lock = threading.Lock()
_reuse_depth = 0


def _libc() -> Any:
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # pragma: no cover - not a glibc platform
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Let develop stages reuse freed pixel buffers instead of faulting in new pages (glibc).

    Every stage returns a fresh array (pure functions), typically 48-144 MB at 12 MP. glibc
    serves such blocks with mmap and unmaps them on free, so each new output is faulted in and
    zeroed by the kernel page by page: measured 0.1-0.4 s of system time per 12 MP develop, a
    third of the whole job. Inside this block big allocations come from the heap
    (``M_MMAP_MAX=0``); freed heap memory is kept for reuse (``M_TRIM_THRESHOLD`` = 1 GiB, left
    in place afterwards, so the next develop in the process reuses the pages too: the process
    keeps up to one develop's working set after the first develop). On exit mmap is allowed
    again for other code. Re-entrant, thread-safe; a no-op off glibc or with ``RAWLUX_MALLOC=0``.
    """
    global _reuse_depth
    libc = None if os.environ.get("RAWLUX_MALLOC", "1") == "0" else _libc()
    if libc is None:
        yield
        return
    with _reuse_lock:
        _reuse_depth += 1
        if _reuse_depth == 1:
            libc.mallopt(_M_TRIM_THRESHOLD, 2**30)
            libc.mallopt(_M_MMAP_MAX, 0)
    try:
        yield
    finally:
        with _reuse_lock:
            _reuse_depth -= 1
            if _reuse_depth == 0:
                libc.mallopt(_M_MMAP_MAX, _GLIBC_MMAP_MAX)
