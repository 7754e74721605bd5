"""Compiled kernels without start-up cost: lazy numba JIT, or an ahead-of-time (AOT) build.

Modules on the develop path write their loops as ordinary numba functions but import
``njit``, ``prange`` and ``intrinsic`` from here instead of from numba. Nothing is compiled, and
numba is not even imported, when such a module is imported: a kernel becomes a numba dispatcher
the first time it runs (and every lazy kernel or intrinsic it calls becomes one with it).

Kernels that declare ``aot=`` signatures are also compiled ahead of time into one extension
module by ``python -m rawlux.core.aot build`` (run by the ``./dev`` set-up). When that module
exists, was built from the current sources, for this CPU, Python, numpy and numba, calls go to
it and a fresh process never loads numba: about 0.6 s less start-up per ``rawlux`` command.
``RAWLUX_AOT=0`` turns the AOT module off (everything JIT-compiles as before).

AOT code cannot use numba's parallel runtime, so hot kernels are written per band of rows
(``kernel(..., r0, r1)``, ``nogil=True``) and :func:`run_bands` runs the bands on a shared
thread pool, the same way in both modes. AOT functions do not check their arguments, so every
call of a kernel with signatures is checked here first (dtype, dimensions, C order): a
mismatch raises :class:`KernelArgumentError` instead of reading the wrong memory.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
import threading
import types as pytypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # imported lazily: start-up matters here
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

import numpy as np

__all__ = [
    "KernelArgumentError",
    "LazyKernel",
    "Signature",
    "aot_dir",
    "aot_status",
    "intrinsic",
    "njit",
    "parse_signature",
    "prange",
    "run_bands",
    "threads",
]

#: Stand-in for ``numba.prange``: plain ``range`` in Python, rebound to numba's when compiled.
prange = range

AOT_MODULE_NAME = "_rawlux_kernels"
MANIFEST_NAME = "manifest.json"


class KernelArgumentError(TypeError):
    """A kernel was called with arguments that match none of its declared signatures."""


# ------------------------------------------------------------------------------ signatures

_SCALARS: dict[str, np.dtype] = {
    "b1": np.dtype(np.bool_),
    "i1": np.dtype(np.int8),
    "i2": np.dtype(np.int16),
    "i4": np.dtype(np.int32),
    "i8": np.dtype(np.int64),
    "u1": np.dtype(np.uint8),
    "u2": np.dtype(np.uint16),
    "u4": np.dtype(np.uint32),
    "u8": np.dtype(np.uint64),
    "f4": np.dtype(np.float32),
    "f8": np.dtype(np.float64),
}
_TYPE_RE = re.compile(r"^\s*([a-z][a-z0-9]*)\s*(?:\[([^\]]*)\])?\s*$")


@dataclass(frozen=True)
class ArgType:
    """One argument type of a kernel signature: a scalar (``ndim == 0``) or an array."""

    code: str  # numba short name: f4, u2, i8, b1 ...
    ndim: int = 0
    c_contiguous: bool = False  # the last axis is declared ``::1``

    @property
    def dtype(self) -> np.dtype:
        return _SCALARS[self.code]

    def render(self) -> str:
        if self.ndim == 0:
            return self.code
        dims = [":"] * self.ndim
        if self.c_contiguous:
            dims[-1] = "::1"
        return f"{self.code}[{', '.join(dims)}]"

    def accepts(self, value: Any) -> bool:
        if self.ndim:
            return (
                isinstance(value, np.ndarray)
                and value.dtype == self.dtype
                and value.ndim == self.ndim
                and (not self.c_contiguous or value.flags.c_contiguous)
            )
        kind = self.dtype.kind
        if kind == "b":
            return isinstance(value, (bool, np.bool_))
        if isinstance(value, (bool, np.bool_)):
            return False
        if kind in "iu":
            return isinstance(value, (int, np.integer))
        return isinstance(value, (int, float, np.integer, np.floating))


@dataclass(frozen=True)
class Signature:
    """A parsed numba signature string such as ``"void(f4[:, ::1], i8, i8)"``."""

    ret: ArgType | None  # None = void
    args: tuple[ArgType, ...]

    def render(self) -> str:
        ret = "void" if self.ret is None else self.ret.render()
        return f"{ret}({', '.join(a.render() for a in self.args)})"

    def accepts(self, args: tuple[Any, ...]) -> bool:
        return len(args) == len(self.args) and all(t.accepts(v) for t, v in zip(self.args, args))


def _parse_type(text: str) -> ArgType:
    m = _TYPE_RE.match(text)
    if m is None or m.group(1) not in _SCALARS:
        raise ValueError(f"unsupported kernel type {text.strip()!r} (use {', '.join(_SCALARS)})")
    code, dims = m.group(1), m.group(2)
    if dims is None:
        return ArgType(code)
    parts = [d.replace(" ", "") for d in dims.split(",")]
    if any(p not in (":", "::1") for p in parts) or "::1" in parts[:-1]:
        raise ValueError(f"unsupported array layout {text.strip()!r} (only ':' and a last '::1')")
    return ArgType(code, len(parts), parts[-1] == "::1")


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def parse_signature(text: str) -> Signature:
    """Parse ``"ret(arg, ...)"`` with numba short type names (``f4[:, ::1]``, ``i8``, ``void``)."""
    s = text.strip()
    open_at = s.find("(")
    if open_at <= 0 or not s.endswith(")"):
        raise ValueError(f"kernel signature {text!r} is not of the form 'ret(arg, ...)'")
    ret_text, body = s[:open_at].strip(), s[open_at + 1 : -1]
    ret = None if ret_text == "void" else _parse_type(ret_text)
    return Signature(ret, tuple(_parse_type(a) for a in _split_args(body)))


# ------------------------------------------------------------------------------ lazy kernels

_KERNELS: list["LazyKernel"] = []
_materialise_lock = threading.RLock()  # re-entrant: binding a kernel materialises its callees
_materialised_modules: set[str] = set()  # modules whose kernels were compiled (AOT manifest)


def _code_names(code: pytypes.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            names |= _code_names(const)
    return names


def _bind_globals(fn: Callable[..., Any]) -> None:
    """Give numba real objects for the lazy globals ``fn`` uses (kernels, intrinsics, prange)."""
    import numba

    g = fn.__globals__
    _materialised_modules.add(fn.__module__)
    for name in _code_names(fn.__code__):
        value = g.get(name)
        if isinstance(value, LazyKernel):
            g[name] = value.dispatcher()
        elif isinstance(value, LazyIntrinsic):
            g[name] = value.materialise()
        elif value is range and name == "prange":
            g[name] = numba.prange


class LazyKernel:
    """A numba kernel compiled on first use, or taken from the AOT module when it is fresh."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any], aot: tuple[str, ...]) -> None:
        functools.update_wrapper(self, fn)
        self.py_func = fn
        self.options = options
        self.signatures = tuple(parse_signature(s) for s in aot)
        self.qualname = f"{fn.__module__}.{fn.__name__}"
        self._dispatcher: Any = None
        self._aot: list[Any] | None = None
        _KERNELS.append(self)

    def symbol(self, index: int) -> str:
        """Name of signature ``index`` of this kernel in the AOT module."""
        return f"{self.qualname.replace('.', '_')}__{index}"

    def dispatcher(self) -> Any:
        """The numba dispatcher (imports numba and compiles on first call, cached on disk)."""
        if self._dispatcher is None:
            with _materialise_lock:  # band threads may all arrive at the first call together
                if self._dispatcher is None:
                    import numba

                    _bind_globals(self.py_func)
                    self._dispatcher = numba.njit(**self.options)(self.py_func)
        return self._dispatcher

    def _aot_functions(self) -> list[Any]:
        if self._aot is None:
            with _materialise_lock:  # the extension is loaded once, by one thread
                module = _aot_module()
                self._aot = [getattr(module, self.symbol(i), None) if module else None
                             for i in range(len(self.signatures))]
        return self._aot

    def __call__(self, *args: Any) -> Any:
        if self.signatures:
            for i, sig in enumerate(self.signatures):
                if sig.accepts(args):
                    fn = self._aot_functions()[i]
                    if fn is not None:
                        return fn(*args)
                    break
            else:
                given = ", ".join(_describe(a) for a in args)
                wanted = " | ".join(s.render() for s in self.signatures)
                raise KernelArgumentError(f"kernel {self.qualname} called with ({given}); declared {wanted}")
        return self.dispatcher()(*args)

    def __repr__(self) -> str:
        return f"<kernel {self.qualname}>"


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        order = "C" if value.flags.c_contiguous else "strided"
        return f"{value.dtype}[{value.ndim}d {order}]"
    return type(value).__name__


class LazyIntrinsic:
    """A ``numba.extending.intrinsic`` created on first compile (keeps numba out of imports)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self._real: Any = None

    def materialise(self) -> Any:
        if self._real is None:
            with _materialise_lock:
                if self._real is None:
                    from numba.extending import intrinsic as numba_intrinsic

                    _materialised_modules.add(self.fn.__module__)
                    self._real = numba_intrinsic(self.fn)
        return self._real


def njit(fn: Callable[..., Any] | None = None, *, aot: str | tuple[str, ...] = (), **options: Any) -> Any:
    """Lazy ``numba.njit``: same options; ``aot`` = signature(s) to also compile ahead of time.

    Kernels with ``aot`` signatures are called only with arguments matching one of them.
    """
    sigs = (aot,) if isinstance(aot, str) else tuple(aot)

    def wrap(f: Callable[..., Any]) -> LazyKernel:
        return LazyKernel(f, options, sigs)

    return wrap(fn) if fn is not None else wrap


def intrinsic(fn: Callable[..., Any]) -> LazyIntrinsic:
    """Lazy ``numba.extending.intrinsic``."""
    return LazyIntrinsic(fn)


# ------------------------------------------------------------------------------ AOT module


def aot_dir() -> Path:
    """Where the AOT extension and its manifest live (inside the installed package)."""
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "_aot"


def source_digest(module: str) -> str | None:
    """sha256 of a module's source file, found without importing it (None when not found)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    import hashlib

    with open(spec.origin, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def host_fingerprint() -> dict[str, str]:
    """What an AOT build depends on besides the sources: interpreter, libraries, CPU."""
    import hashlib
    import platform

    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features", "model name")):
                    cpu += line
                if line.strip() == "":
                    break
    except OSError:
        cpu = platform.processor()
    numba_version = _dist_version("numba")
    return {
        "python": sys.version.split()[0],
        "implementation": sys.implementation.cache_tag or "",
        "numpy": np.__version__,
        "numba": numba_version,
        "machine": platform.machine(),
        "cpu": hashlib.sha256(cpu.encode()).hexdigest(),
    }


def _dist_version(name: str) -> str:
    """Installed version of a distribution from its ``*.dist-info`` folder name, without
    importing it or ``importlib.metadata`` (10 ms; this runs in every process)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return "?"
    if spec is None or not spec.submodule_search_locations:
        return "?"
    site = os.path.dirname(list(spec.submodule_search_locations)[0])
    prefix = f"{name}-"
    for entry in sorted(os.listdir(site)):
        if entry.startswith(prefix) and entry.endswith(".dist-info"):
            return entry[len(prefix) : -len(".dist-info")]
    return "?"


@functools.lru_cache(maxsize=1)
def aot_status() -> tuple[Any, str]:
    """(loaded AOT module or None, one-line reason); computed once per process (``cache_clear``
    to look again)."""
    if os.environ.get("RAWLUX_AOT", "1").strip().lower() in ("0", "false", "no", "off"):
        return None, "disabled by RAWLUX_AOT"
    import json

    folder = aot_dir()
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, "not built (run: python -m rawlux.core.aot build)"
    host = host_fingerprint()
    if manifest.get("host") != host:
        return None, "built for another interpreter, library version or CPU"
    for module, digest in manifest.get("sources", {}).items():
        if source_digest(module) != digest:
            return None, f"stale: {module} changed since the build"
    path = folder / manifest.get("file", "")
    spec = importlib.util.spec_from_file_location(AOT_MODULE_NAME, path)
    if spec is None or spec.loader is None or not path.is_file():
        return None, "manifest names a missing file"
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError as err:
        return None, f"cannot load: {err}"
    return module, f"loaded ({len(manifest.get('exports', []))} kernels)"


def _aot_module() -> Any:
    return aot_status()[0]


# ------------------------------------------------------------------------------ bands

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_in_worker = threading.local()


def threads() -> int:
    """Worker threads for :func:`run_bands`: ``RAWLUX_THREADS`` or the CPUs this process may use."""
    env = os.environ.get("RAWLUX_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _mark_worker() -> None:
    _in_worker.active = True


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool
    from concurrent.futures import ThreadPoolExecutor

    with _pool_lock:
        if _pool is None or _pool._max_workers < n:  # noqa: SLF001 - sized once per process
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="rawlux", initializer=_mark_worker)
        return _pool


def run_bands(kernel: Callable[..., Any], n_rows: int, *args: Any, align: int = 1, min_rows: int = 16) -> list[Any]:
    """Call ``kernel(*args, r0, r1)`` over row bands covering ``[0, n_rows)``, one per thread.

    Band starts are multiples of ``align`` (2 keeps Bayer phase); bands hold at least ``min_rows``
    rows. Returns the band results in order. Runs serially inside a pool worker (no nesting).
    """
    n = threads()
    if getattr(_in_worker, "active", False):
        n = 1
    nb = max(1, min(n, n_rows // max(1, min_rows)))
    if nb == 1:
        return [kernel(*args, 0, n_rows)]
    edges = [0] + [(n_rows * k // nb) // align * align for k in range(1, nb)] + [n_rows]
    pool = _get_pool(n)
    futures = [pool.submit(kernel, *args, edges[k], edges[k + 1]) for k in range(1, nb)]
    first = kernel(*args, edges[0], edges[1])
    return [first] + [f.result() for f in futures]
