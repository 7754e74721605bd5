"""Build the ahead-of-time kernel module (``python -m rawlux.core.aot build``).

Every :func:`rawlux.core.jit.njit` kernel with ``aot=`` signatures in :data:`AOT_MODULES` is
compiled by numba's ``pycc`` into one CPython extension for this machine's CPU, with the GIL
released inside each kernel (so :func:`~rawlux.core.jit.run_bands` runs bands in parallel). A
manifest beside it records the sha256 of every source module that went into it plus the
interpreter/library/CPU fingerprint; :func:`rawlux.core.jit.aot_status` loads the extension only
when all of them still match, so an edited kernel silently falls back to the JIT until rebuilt.

    python -m rawlux.core.aot build [--force]   # build (skips when already fresh)
    python -m rawlux.core.aot status            # is it loaded, and why not
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rawlux.core import jit

#: Modules whose ``aot=`` kernels go into the extension (the develop and portrait hot paths).
AOT_MODULES: tuple[str, ...] = (
    "rawlux.core.fused",
    "rawlux.isp.lens_shading",
    "rawlux.isp.color_transform",
    "rawlux.isp.warp",
    "rawlux.isp.awb",
    "rawlux.isp.highlights",
    "rawlux.isp.denoise",
    "rawlux.isp.demosaic.rcd",
    "rawlux.isp.demosaic.xtrans",
    "rawlux.color.dcp",
    "rawlux.isp.sharpen",
    "rawlux.isp.output",
    "rawlux.looks.render",
    "rawlux.looks.local",
    "rawlux.io.write",
    "rawlux.color.transfer",
    "rawlux.portrait.bokeh",
    "rawlux.portrait.layered_depth",
    "rawlux.burst.superres_kernels",
    "rawlux.burst.superres_rgb",
)


def _collect() -> list[jit.LazyKernel]:
    kernels: list[jit.LazyKernel] = []
    for name in AOT_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, jit.LazyKernel) and value.signatures and value.py_func.__module__ == name:
                kernels.append(value)
    return kernels


def _use_kernel_options(kernels: list[jit.LazyKernel]) -> None:
    """Compile each export with its own kernel's numba options (fastmath, error_model, ...) and
    with the GIL released around it: pycc alone would compile every export with default flags
    (measured 1.7x slower for the look kernel without fastmath) and holding the GIL."""
    import numba.pycc.compiler as pycc_compiler
    from numba.core.registry import cpu_target

    options = {k.py_func: k.options for k in kernels}
    original = getattr(pycc_compiler.compile_extra, "_rawlux_original", pycc_compiler.compile_extra)

    def compile_extra(typingctx, targetctx, func, args, return_type, flags, locals, library=None):  # type: ignore[no-untyped-def]
        opts = options.get(func)
        if opts is not None:
            own = pycc_compiler.Flags()
            wanted = {k: v for k, v in opts.items() if k not in ("cache", "parallel")}
            cpu_target.options.parse_as_flags(own, {**wanted, "nopython": True, "nogil": True})
            for name in ("no_compile", "no_cpython_wrapper", "no_cfunc_wrapper", "nrt"):
                setattr(own, name, getattr(flags, name))
            own.release_gil = True
            flags = own
        return original(typingctx, targetctx, func, args, return_type, flags, locals=locals, library=library)

    compile_extra._rawlux_original = original  # type: ignore[attr-defined]
    pycc_compiler.compile_extra = compile_extra


def is_fresh() -> bool:
    """True when the AOT module on disk matches the current sources, interpreter and CPU."""
    jit.aot_status.cache_clear()
    return jit.aot_status()[0] is not None


def build(force: bool = False, verbose: bool = False) -> str:
    """Compile the AOT module into :func:`~rawlux.core.jit.aot_dir`; returns a one-line summary."""
    if not force and is_fresh():
        return f"AOT kernels up to date in {jit.aot_dir().name}/"
    t0 = time.perf_counter()
    from numba.pycc import CC

    kernels = _collect()
    _use_kernel_options(kernels)
    cc = CC(jit.AOT_MODULE_NAME)
    cc.target_cpu = "host"
    cc.verbose = verbose
    exports = []
    for k in kernels:
        k.dispatcher()  # binds the lazy globals it calls to real numba objects
        for i, sig in enumerate(k.signatures):
            cc.export(k.symbol(i), sig.render())(k.py_func)
            exports.append(k.symbol(i))
    folder = jit.aot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rawlux-aot-") as tmp:
        cc.output_dir = tmp
        cc.compile()
        built = Path(tmp) / cc.output_file
        # the build recipe itself (this module) counts as a source: new flags mean a new build
        modules = jit._materialised_modules | set(AOT_MODULES) | {"rawlux.core.aot"}
        sources = {m: jit.source_digest(m) for m in sorted(modules)}
        manifest = {
            "file": cc.output_file,
            "host": jit.host_fingerprint(),
            "sources": sources,
            "exports": exports,
        }
        # new extension first (atomic rename), manifest last: a reader never pairs a new
        # manifest with an old file
        staged = folder / (cc.output_file + ".tmp")
        shutil.copyfile(built, staged)
        os.replace(staged, folder / cc.output_file)
        tmp_manifest = folder / (jit.MANIFEST_NAME + ".tmp")
        tmp_manifest.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.replace(tmp_manifest, folder / jit.MANIFEST_NAME)
    jit.aot_status.cache_clear()
    return f"built {len(exports)} AOT kernels in {time.perf_counter() - t0:.1f} s"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("build", "status"):
        print(__doc__.strip().splitlines()[-2].strip())
        return 2
    if args[0] == "status":
        print(jit.aot_status()[1])
        return 0
    try:
        print(build(force="--force" in args, verbose="--verbose" in args))
    except Exception as err:  # noqa: BLE001 - a build failure only costs speed
        print(f"AOT build failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
              "kernels will be JIT-compiled on first use", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
