"""Layering of ``src/rawlux`` as a test: the import graph (every ``import``, including those
inside functions, read with ``ast``) obeys docs/architecture.md, and each offending import is
named with its file and line.

* ``core`` imports nothing of rawlux; ``color`` only ``core``; ``io`` only ``core`` and ``color``
  (``isp`` may use ``io``: the look stage resolves its LUT reference, path + hash, there);
* ``isp``, ``looks``, ``burst``, ``portrait``, ``frame``, ``hdr`` never import ``app``, ``cli``,
  ``batch``, ``studio`` or the orchestration above them (``rawlux.develop``, ``rawlux``);
* ``cli`` reaches the pixel packages only through ``app`` (``core`` and the ``rawlux.develop``
  options besides) or the batch runner (``batch``, which itself runs jobs only through ``app``),
  and starts ``studio``, a front end of its own: ``studio`` does command work through ``app``
  (exports through ``batch``) and schedules the stages of its live previews itself;
* no cycles: neither between packages nor between modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "rawlux"

#: package -> the rawlux packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "color": {"core"},
    "io": {"core", "color"},
    "isp": {"core", "color", "looks", "io"},  # io: the look stage loads its LUT FileRef (io.cube)
    "looks": {"core", "color"},
    "burst": {"core", "color", "isp"},
    "portrait": {"core", "color"},
    "frame": {"core", "color"},
    "hdr": {"core", "color", "isp", "burst", "looks", "portrait"},  # portrait: bokeh of the HDR rendition
    "cli": {"core", "app", "develop", "batch", "studio"},  # develop: DevelopOptions and the stage list
    # (data); batch: ``rawlux batch`` parses its flags and calls ``rawlux.batch.run``, the
    # batch runner being an application-level API beside ``app`` (it orchestrates app calls)
    "batch": {"core", "app", "io"},  # io: content probe and EXIF capture time for planning
    # studio: a front end like cli (cli only starts it). Command work goes through app, exports
    # through batch; its live previews schedule the develop plan's stages itself (cached parts
    # on a reduced raw), hence isp/looks/portrait/frame; io for thumbnails and encoding, color
    # for the eyedropper.
    "studio": {"core", "app", "develop", "io", "color", "isp", "looks", "portrait", "frame",
               "batch"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The rawlux module ``name`` refers to (a module, or the package holding the name)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(modules: dict[str, Path]) -> list[tuple[str, str, Path, int]]:
    """(importer, imported module, file, line) for every rawlux import, at any depth."""
    out = []
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".")
                    base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                # ``from pkg import submodule`` imports the submodule
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem
                           for a in node.names]
            for t in targets:
                if t == "rawlux" or t.startswith("rawlux."):
                    r = _resolve(t, modules)
                    if r is not None and r != mod:
                        out.append((mod, r, path, node.lineno))
    return out


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "rawlux"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph() -> list[tuple[str, str, Path, int]]:
    return _imports(_modules())


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(SRC.parent)}:{line}"


def test_the_walker_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The walker itself: a function-body import and a ``from pkg import module`` are edges."""
    mods = {"rawlux.a": tmp_path / "a.py", "rawlux.b": tmp_path / "b.py", "rawlux": tmp_path / "i.py"}
    mods["rawlux.a"].write_text("def f():\n    from rawlux import b\n")
    mods["rawlux.b"].write_text("import numpy\n")
    mods["rawlux"].write_text("")
    assert _imports(mods) == [("rawlux.a", "rawlux.b", mods["rawlux.a"], 2)]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_packages_import_only_the_layers_below(graph) -> None:  # type: ignore[no-untyped-def]
    bad = []
    for src, dst, path, line in graph:
        a, b = _package(src), _package(dst)
        if a == b or a not in ALLOWED:
            continue
        if b not in ALLOWED[a]:
            bad.append(f"{_where(path, line)}: {src} imports {dst} ({a} may import only "
                       f"{', '.join(sorted(ALLOWED[a])) or 'nothing of rawlux'})")
    assert not bad, "layering violations:\n" + "\n".join(bad)


def test_no_package_cycles(graph) -> None:  # type: ignore[no-untyped-def]
    edges: dict[str, set[str]] = defaultdict(set)
    for src, dst, _, _ in graph:
        if _package(src) != _package(dst):
            edges[_package(src)].add(_package(dst))
    cycles = _cycles(edges)
    detail = [f"{_where(p, ln)}: {s} imports {d}" for s, d, p, ln in graph
              for c in cycles if _package(s) in c and _package(d) in c and _package(s) != _package(d)]
    assert not cycles, f"package cycles {cycles}:\n" + "\n".join(detail)


def test_no_module_cycles(graph) -> None:  # type: ignore[no-untyped-def]
    edges: dict[str, set[str]] = defaultdict(set)
    for src, dst, _, _ in graph:
        if not src.startswith(dst + "."):  # a module importing its own package's __init__
            edges[src].add(dst)
    cycles = _cycles(edges)
    detail = [f"{_where(p, ln)}: {s} imports {d}" for s, d, p, ln in graph
              for c in cycles if s in c and d in c]
    assert not cycles, f"module cycles {cycles}:\n" + "\n".join(detail)
