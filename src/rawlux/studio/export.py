"""Export from the studio: develop and save a selection of photos into a folder, through
:func:`rawlux.batch.run` when the batch engine is installed (its ledger makes a run resumable),
else one by one through the application layer (:func:`rawlux.app.develop.develop_file`) with a
small ledger of its own. Outputs are checked (``app.outputs``) before any pixel work."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
from pathlib import Path
from typing import Any, Callable

from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.core.image import Image
from rawlux.studio.recipes import options_of, recipe_of, recipe_path

__all__ = ["export", "export_hdr_available", "batch_runner"]

Progress = Callable[[int, int, str], None]
LEDGER = ".rawlux-studio-ledger.json"


def batch_runner() -> Callable[..., Any] | None:
    """``rawlux.batch.run`` when the batch engine is installed and has the expected call."""
    try:
        from rawlux.batch import run as batch_run  # type: ignore[attr-defined]
    except ImportError:
        return None
    want = {"recipe", "fmt", "quality", "progress", "workers"}
    try:
        ok = want <= set(inspect.signature(batch_run).parameters)
    except (TypeError, ValueError):
        return None
    return batch_run if ok else None


def export_hdr_available() -> bool:
    """True when exports can write Ultra HDR (gain-map) JPEGs: the develop recipe has the
    ``hdr`` option (the gain-map writer, :mod:`rawlux.io.gainmap`, is installed)."""
    from rawlux.app.recipe import schema as recipe_schema

    return (importlib.util.find_spec("rawlux.io.gainmap") is not None
            and any(o["name"] == "hdr" for o in recipe_schema()["options"]))


def export(paths: list[Path], opts: dict[str, Any] | None, out_dir: Path, *,
           kind: Callable[[Path], str], render_photo: Callable[[Path, dict[str, Any]], Image],
           fmt: str = "jpg", quality: int = 92, progress: Progress | None = None,
           cancelled: Callable[[], bool] = lambda: False, hdr: bool = False,
           frame: str | None = None) -> list[dict[str, Any]]:
    """Develop and save every path into ``out_dir`` as ``STEM.fmt``; resumable: an output
    already written with the same options is skipped. ``opts`` None: each photo with its saved
    recipe. ``kind(path)`` is "raw" or "photo"; ``render_photo`` renders a developed photo at
    full size (without batch). ``hdr``: Ultra HDR JPEGs of raws (the ``hdr`` option). ``frame``: an EXIF
    frame layout name (as ``rawlux develop --frame``). Returns one dict per photo: file,
    output, status (done | skipped | error), error."""
    from rawlux.app.outputs import check_outputs

    if hdr and not export_hdr_available():
        raise InvalidParameter("Ultra HDR export is not available in this build of rawlux")
    if hdr and frame:
        raise InvalidParameter("an Ultra HDR export cannot be framed")
    if frame is not None:
        from rawlux.frame import load_layout

        load_layout(frame)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_outputs(dict.fromkeys(out_dir / f"{p.stem}.{fmt}" for p in paths), inputs=paths)
    batch_run = batch_runner()
    if batch_run is not None:
        return _export_batch(batch_run, paths, opts, out_dir, fmt, quality, progress, hdr,
                             frame, cancelled)
    return _export_each(paths, opts, out_dir, fmt, quality, progress, cancelled, kind,
                        render_photo, frame, hdr)


def _export_batch(batch_run: Callable[..., Any], paths: list[Path], opts: dict[str, Any] | None,
                  out_dir: Path, fmt: str, quality: int, progress: Progress | None,
                  hdr: bool = False, frame: str | None = None,
                  cancelled: Callable[[], bool] = lambda: False) -> list[dict[str, Any]]:
    """One batch per distinct recipe (each photo's saved recipe when ``opts`` is None);
    ``cancelled`` is asked before each batch (a batch runs to its end: its ledger resumes)."""
    groups: dict[str, list[Path]] = {}  # recipe file or options (JSON) -> photos
    for p in paths:
        if opts is None and recipe_path(p).is_file():
            groups.setdefault(str(recipe_path(p)), []).append(p)  # all it holds
        else:
            groups.setdefault(json.dumps(opts or {}, sort_keys=True), []).append(p)
    results: list[dict[str, Any]] = []
    n = len(paths)
    for key, group in groups.items():
        if cancelled():
            break
        base = len(results)

        def on_progress(event: str, row: Any, counts: dict[str, int], base: int = base) -> None:
            if progress is not None:
                done = sum(v for k, v in counts.items() if k in ("done", "skipped", "failed"))
                name = Path(row.inputs[0]).name if row is not None and row.inputs else ""
                progress(min(n, base + done), n, name)

        extra: dict[str, Any] = {"hdr": True} if hdr and "hdr" in inspect.signature(
            batch_run).parameters else {}
        if frame is not None:
            extra["frame"] = frame
        recipe = json.loads(key) if key.startswith("{") else Path(key)
        res = batch_run(group, out_dir, recipe=recipe, fmt=fmt, quality=quality,
                        progress=on_progress, workers=1, **extra)
        for row in res.rows:
            status = {"failed": "error", "not run": "error"}.get(row.status, row.status)
            results.append({"file": Path(row.inputs[0]).name if row.inputs else "",
                            "output": row.output, "status": status,
                            **({"error": row.reason} if status == "error" else {})})
    if progress:
        progress(n, n, "")
    return results


def _export_each(paths: list[Path], opts: dict[str, Any] | None, out_dir: Path, fmt: str,
                 quality: int, progress: Progress | None, cancelled: Callable[[], bool],
                 kind: Callable[[Path], str],
                 render_photo: Callable[[Path, dict[str, Any]], Image],
                 frame: str | None = None, hdr: bool = False) -> list[dict[str, Any]]:
    from rawlux.app.develop import develop_file
    from rawlux.app.recipe import load_recipe as read_recipe
    from rawlux.io.write import save

    ledger_path = out_dir / LEDGER
    try:
        ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ledger = {}
    results = []
    n = len(paths)
    for i, p in enumerate(paths):
        if cancelled():
            break
        if progress:
            progress(i, n, p.name)
        dst = out_dir / f"{p.stem}.{fmt}"
        own = recipe_path(p) if opts is None and recipe_path(p).is_file() else None
        try:
            rec = read_recipe(own) if own is not None else recipe_of(opts or {})
            if hdr:
                rec = rec.with_options(hdr=True)
        except RawluxError as err:
            results.append({"file": p.name, "status": "error", "error": str(err)})
            continue
        sig = hashlib.sha1(json.dumps([rec.hash(), fmt, quality, frame]).encode()).hexdigest()
        if dst.is_file() and ledger.get(dst.name) == sig:
            results.append({"file": p.name, "output": dst.name, "status": "skipped"})
            continue
        try:
            if kind(p) == "raw":  # every stage field of the recipe (a saved one: all it holds)
                develop_file(p, dst, recipe=rec, quality=quality, frame=frame)
            else:
                img = render_photo(p, options_of(rec))
                if frame is not None:
                    from rawlux.frame import apply_frame

                    img = apply_frame(img, frame)
                save(img, dst, quality=quality, protect=[p])
            ledger[dst.name] = sig
            tmp = ledger_path.with_name(ledger_path.name + ".tmp")
            tmp.write_text(json.dumps(ledger, indent=1), encoding="utf-8")
            os.replace(tmp, ledger_path)
            results.append({"file": p.name, "output": dst.name, "status": "done"})
        except RawluxError as err:
            results.append({"file": p.name, "status": "error", "error": str(err)})
    if progress:
        progress(n, n, "")
    return results
