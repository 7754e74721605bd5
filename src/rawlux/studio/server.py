"""FastAPI app of the studio: JSON API + the vendored static front end.

Security: only loopback ``Host`` headers are answered (DNS rebinding), state-changing requests
must be JSON and same-origin (``Origin``, when a browser sends one, must be this server), only
files inside the opened folder are served (:func:`rawlux.studio.folder.resolve_inside`), and the
server writes only new files (recipes beside photos, exports in ``rawlux-export/``), never an
original. Every rawlux call goes through :class:`rawlux.studio.engine.Engine`.
"""

from __future__ import annotations

import base64
import itertools
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from rawlux.core.errors import InvalidParameter, RawluxError
from rawlux.studio import engine as eng
from rawlux.studio.folder import EXPORT_DIR, list_photos, resolve_inside

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
SAFE_METHODS = ("GET", "HEAD")
EXPORT_FORMATS = ("jpg", "png", "tif", "heic", "avif")
SECURITY_HEADERS = {
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}


def _hostname(hostport: str) -> str:
    h = hostport.strip().lower()
    if h.startswith("["):
        return h[: h.find("]") + 1] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _error(status: int, message: str, root: Path | None = None) -> JSONResponse:
    if root is not None:
        message = message.replace(str(root) + "/", "")
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def _status(err: RawluxError) -> int:
    from rawlux.core.errors import InputError, MissingInput

    if isinstance(err, MissingInput):
        return 404
    if isinstance(err, (InputError, InvalidParameter)):
        return 422
    return 500


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def create_app(folder: str | Path, engine: eng.Engine | None = None) -> FastAPI:
    """The studio app serving ``folder`` (must exist)."""
    root = Path(folder).resolve()
    if not root.is_dir():
        from rawlux.core.errors import MissingInput

        raise MissingInput("not a folder", root)
    engine = engine or eng.Engine()
    app = FastAPI(title="rawlux studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.root = root
    app.state.engine = engine
    jobs: dict[str, dict[str, Any]] = {}
    job_ids = itertools.count(1)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = request.headers.get("host", "")
        if _hostname(host) not in LOOPBACK:
            return _error(403, f"refused: Host {host!r} is not this computer (loopback only)")
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{host}":
                return _error(403, f"refused: cross-origin request from {origin}")
            site = request.headers.get("sec-fetch-site")
            if site is not None and site not in ("same-origin", "none"):
                return _error(403, f"refused: cross-site request ({site})")
            ctype = request.headers.get("content-type", "")
            if not ctype.startswith("application/json"):
                return _error(415, "requests that change anything must send JSON")
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise InvalidParameter("request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidParameter("request body must be a JSON object")
        return data

    def photo(rel: Any) -> Path:
        if not isinstance(rel, str):
            raise InvalidParameter("missing 'path' (a file of the folder)")
        return resolve_inside(root, rel)

    async def guarded(fn: Any) -> Response:
        try:
            out = await fn()
        except eng.Superseded:
            return JSONResponse({"superseded": True}, status_code=409)
        except RawluxError as err:
            return _error(_status(err), str(err), root)
        except MemoryError:
            return _error(507, "out of memory")
        return out

    # ------------------------------------------------------------------ pages

    @app.get("/")
    async def index() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}")
    async def static(name: str) -> Response:
        allowed = {p.name: p for p in STATIC.iterdir() if p.is_file()}
        if name not in allowed:
            return _error(404, "no such file")
        mime = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                ".html": "text/html"}.get(allowed[name].suffix, "application/octet-stream")
        return FileResponse(allowed[name], media_type=mime)

    # ------------------------------------------------------------------ browse

    @app.get("/api/schema")
    async def api_schema() -> Response:
        return await guarded(lambda: run_in_threadpool(lambda: JSONResponse(
            {**eng.schema(), "preview_size": engine.preview_long_side})))

    @app.get("/api/files")
    async def api_files() -> Response:
        async def go() -> Response:
            files = await run_in_threadpool(list_photos, root)
            items = []
            for rel in files:
                p = root / rel
                rec = engine.recipe_path(p).is_file()
                items.append({"path": rel, "name": Path(rel).name, "recipe": rec,
                              "raw": rel.lower().endswith(eng_raw_exts())})
            return JSONResponse({"folder": root.name, "files": items})
        return await guarded(go)

    @app.get("/api/thumb")
    async def api_thumb(path: str) -> Response:
        async def go() -> Response:
            p = photo(path)
            rgb = await run_in_threadpool(engine.thumbnail, p)
            data = eng.encode_jpeg(rgb, None, 85)
            return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=60"})
        return await guarded(go)

    @app.get("/api/exif")
    async def api_exif(path: str) -> Response:
        async def go() -> Response:
            p = photo(path)
            return JSONResponse(await run_in_threadpool(engine.exif, p))
        return await guarded(go)

    @app.get("/api/original")
    async def api_original(path: str) -> Response:
        """The original photo's bytes (JPEG/AVIF/HEIC), for the browser to show an Ultra HDR
        gain map natively. Never a raw."""
        async def go() -> Response:
            p = photo(path)
            mime = eng.browser_mime(p)
            if mime is None:
                raise InvalidParameter(f"{p.name} is not a format the browser shows directly")
            return FileResponse(p, media_type=mime)
        return await guarded(go)

    # ------------------------------------------------------------------ develop

    @app.post("/api/preview")
    async def api_preview(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            opts = eng.develop_options(b.get("options"))
            before = bool(b.get("before", False))
            size = b.get("size")
            if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                     or not 480 <= size <= 4096):
                raise InvalidParameter(
                    f"size must be a whole number of pixels 480..4096, got {size!r}")
            ticket = engine.begin(p) if not before else None

            def work() -> dict[str, Any]:
                r = engine.preview(p, opts, ticket, before=before, size=size)
                out = {"image": _data_url(eng.encode_jpeg(r.rgb, r.space, 90), "image/jpeg"),
                       "ms": round(r.ms), "stats": r.stats}
                if b.get("overlay"):
                    ov = engine.clip_overlay(p, opts, r.rgb, size)
                    out["overlay"] = _data_url(eng.encode_png(ov), "image/png")
                return out
            return JSONResponse(await run_in_threadpool(work))
        return await guarded(go)

    @app.post("/api/full")
    async def api_full(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            opts = eng.develop_options(b.get("options"))
            before = bool(b.get("before", False))
            use = {"look": "neutral"} if before else opts
            r = await run_in_threadpool(engine.full, p, use)
            return Response(eng.encode_jpeg(r.rgb, r.space, 92), media_type="image/jpeg",
                            headers={"X-Render-Ms": str(round(r.ms))})
        return await guarded(go)

    @app.post("/api/sheet")
    async def api_sheet(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            opts = eng.develop_options(b.get("options"))
            import time

            t0 = time.perf_counter()
            tiles = await run_in_threadpool(engine.contact_sheet, p, opts)
            ms = (time.perf_counter() - t0) * 1000
            return JSONResponse({"ms": round(ms), "tiles": [
                {"look": name, "image": _data_url(eng.encode_jpeg(rgb, None, 85), "image/jpeg")}
                for name, rgb in tiles]})
        return await guarded(go)

    @app.post("/api/whitepick")
    async def api_whitepick(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            opts = eng.develop_options(b.get("options"))
            x, y = _point(b.get("x"), b.get("y"))
            wb = await run_in_threadpool(engine.pick_white, p, opts, x, y)
            return JSONResponse({"wb": wb})
        return await guarded(go)

    @app.post("/api/portrait")
    async def api_portrait(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            opts = eng.develop_options(b.get("options"))
            focus = None
            if b.get("focus") is not None:
                f = b["focus"]
                if not isinstance(f, list) or len(f) != 2:
                    raise InvalidParameter("focus must be [x, y] fractions")
                focus = _point(f[0], f[1])
            aperture = b.get("aperture", 0.0)
            if isinstance(aperture, bool) or not isinstance(aperture, (int, float)):
                raise InvalidParameter("aperture must be a number")
            lens = str(b.get("lens", "50"))
            ticket = engine.begin(p)
            r = await run_in_threadpool(lambda: engine.portrait(
                p, opts, lens=lens, aperture=float(aperture), focus=focus, ticket=ticket))
            image = _data_url(eng.encode_jpeg(r.rgb, r.space, 90), "image/jpeg")
            return JSONResponse({"image": image, "ms": round(r.ms),
                                 "note": r.stats.get("note", ""), "stats": r.stats})
        return await guarded(go)

    @app.post("/api/frame")
    async def api_frame(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            opts = eng.develop_options(b.get("options"))
            layout = b.get("layout")
            if not isinstance(layout, str):
                raise InvalidParameter("missing 'layout'")
            ticket = engine.begin(p)
            r = await run_in_threadpool(lambda: engine.frame(p, opts, layout, ticket=ticket))
            image = _data_url(eng.encode_jpeg(r.rgb, r.space, 90), "image/jpeg")
            return JSONResponse({"image": image, "ms": round(r.ms), "stats": r.stats})
        return await guarded(go)

    # ------------------------------------------------------------------ recipes, export

    @app.get("/api/recipe")
    async def api_recipe(path: str) -> Response:
        async def go() -> Response:
            p = photo(path)
            return JSONResponse({"options": await run_in_threadpool(engine.load_recipe, p)})
        return await guarded(go)

    @app.post("/api/recipe")
    async def api_recipe_save(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            p = photo(b.get("path"))
            dst = await run_in_threadpool(engine.save_recipe, p, b.get("options") or {})
            return JSONResponse({"saved": dst.relative_to(root).as_posix()})
        return await guarded(go)

    @app.post("/api/export")
    async def api_export(request: Request) -> Response:
        async def go() -> Response:
            b = await body(request)
            rels = b.get("paths")
            if not isinstance(rels, list) or not rels or len(rels) > 5000:
                raise InvalidParameter("'paths' must list the files to export")
            paths = [photo(r) for r in rels]
            own = bool(b.get("use_saved_recipes", False))
            opts = None if own else eng.develop_options(b.get("options"))
            fmt = str(b.get("format", "jpg")).lower()
            if fmt not in EXPORT_FORMATS:
                raise InvalidParameter(f"format {fmt!r} is not one of: {', '.join(EXPORT_FORMATS)}")
            quality = b.get("quality", 92)
            if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
                raise InvalidParameter("quality must be an integer 1..100")
            hdr = b.get("hdr", False)
            if not isinstance(hdr, bool):
                raise InvalidParameter("hdr must be true or false")
            if hdr and (fmt != "jpg" or not eng.export_hdr_available()):
                raise InvalidParameter(
                    "Ultra HDR export needs the JPEG format and the gain-map writer")
            frame = b.get("frame")
            if frame is not None and frame not in eng.layout_names():  # names only, no paths
                raise InvalidParameter(f"frame {frame!r} is not one of: "
                                       f"{', '.join(eng.layout_names())}")
            jid = str(next(job_ids))
            job = {"id": jid, "done": 0, "total": len(paths), "current": "", "finished": False,
                   "results": [], "error": None, "out_dir": EXPORT_DIR, "cancel": False}
            jobs[jid] = job

            def progress(i: int, n: int, name: str) -> None:
                job.update(done=i, total=n, current=name)

            def run() -> None:
                try:
                    job["results"] = engine.export(paths, opts, root / EXPORT_DIR, fmt, quality,
                                                   progress, lambda: job["cancel"], hdr=hdr,
                                                   frame=frame)
                except RawluxError as err:
                    job["error"] = str(err).replace(str(root) + "/", "")
                except Exception as exc:  # noqa: BLE001 - shown in the page, never a traceback
                    job["error"] = f"internal error: {type(exc).__name__}: {exc}"
                job["finished"] = True

            threading.Thread(target=run, name=f"rawlux-export-{jid}", daemon=True).start()
            return JSONResponse({k: v for k, v in job.items() if k != "cancel"})
        return await guarded(go)

    @app.get("/api/jobs/{jid}")
    async def api_job(jid: str) -> Response:
        job = jobs.get(jid)
        if job is None:
            return _error(404, f"no export job {jid}")
        return JSONResponse({k: v for k, v in job.items() if k != "cancel"})

    @app.post("/api/jobs/{jid}/cancel")
    async def api_job_cancel(jid: str) -> Response:
        job = jobs.get(jid)
        if job is None:
            return _error(404, f"no export job {jid}")
        job["cancel"] = True
        return JSONResponse({"cancelling": True})

    return app


def _point(x: Any, y: Any) -> tuple[float, float]:
    for v in (x, y):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
            raise InvalidParameter(f"point ({x}, {y}) must be two numbers within 0..1")
    return float(x), float(y)


def eng_raw_exts() -> tuple[str, ...]:
    from rawlux.studio.folder import RAW_EXTENSIONS

    return RAW_EXTENSIONS


def serve(folder: str | Path, port: int = 0, open_browser: bool = True,
          announce: Any = print, preview_long_side: int = eng.PREVIEW_LONG_SIDE) -> None:
    """Run the studio on 127.0.0.1 (``port`` 0 = a free port), print its address, block.
    ``preview_long_side``: pixels of the live preview's long side."""
    import socket
    import webbrowser

    import uvicorn

    app = create_app(folder, eng.Engine(preview_long_side=preview_long_side))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)  # connections queue from now on: the printed address works at once
    except OSError as exc:
        from rawlux.core.errors import OutputError

        raise OutputError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    announce(f"rawlux studio: {url}  (folder {app.state.root}; Ctrl+C stops)")
    if open_browser:
        threading.Timer(0.8, lambda: webbrowser.open(url)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
