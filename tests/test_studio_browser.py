"""The studio in a real browser (Debian's chromium driven by Playwright): browse -> develop ->
change look -> compare -> export, checking what the page shows from screenshots."""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")


def _shot(locator) -> np.ndarray:
    from PIL import Image as PILImage

    return np.asarray(PILImage.open(io.BytesIO(locator.screenshot())).convert("RGB"), np.float64)


def _chroma(img: np.ndarray) -> float:
    return float(np.abs(img - img.mean(axis=2, keepdims=True)).mean())


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    import uvicorn

    from rawlux.studio.engine import Engine
    from rawlux.studio.server import create_app

    folder = tmp_path_factory.mktemp("browser") / "shoot"
    folder.mkdir()
    for rel in ("raw/kodak_dc50.kdc", "photos/IMG_4120.JPG", "raw/canon_eos_6d.dng"):
        shutil.copy(shared_data / rel, folder)
    (folder / "broken.nef").write_bytes(b"not a raw")
    app = create_app(folder, Engine(preview_long_side=900,
                                    cache_dir=tmp_path_factory.mktemp("thumbcache")))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", folder
    server.should_exit = True
    t.join(10)
    sock.close()


def test_browse_develop_look_compare_export(studio) -> None:
    url, folder = studio
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)

        # browse: one tile per file, thumbnails drawn, the bad file says why
        page.wait_for_selector(".tile img[src]")
        assert page.locator(".tile").count() == 4
        page.wait_for_selector(".tile[data-path='broken.nef'] .err")
        why = page.locator(".tile[data-path='broken.nef'] .err").inner_text()
        assert "neither a photo nor a raw" in why
        page.hover(".tile[data-path='canon_eos_6d.dng']")
        page.wait_for_selector(".tile[data-path='canon_eos_6d.dng'] .exif.ready")
        assert "EOS 6D" in page.locator(".tile[data-path='canon_eos_6d.dng'] .exif").inner_text()

        # develop: the photo appears, controls come from the schema
        page.click(".tile[data-path='kodak_dc50.kdc']")
        page.wait_for_selector("#dev-img[src^='data:']", timeout=120_000)
        for name in ("look", "strength", "exposure", "wb", "highlights", "denoise", "sharpen"):
            assert page.locator(f"#opt-{name}").count() == 1, name
        first = page.locator("#dev-img").get_attribute("src")
        colour = _shot(page.locator("#dev-img"))
        assert "preview" in page.locator("#status-right").inner_text()

        # change look: the preview turns grey (a newer request replaces an older one)
        page.click("#opt-look button[data-value='vivid']")
        page.click("#opt-look button[data-value='mono']")
        for _ in range(200):
            src = page.locator("#dev-img").get_attribute("src")
            if src != first and "mono" in page.locator("#status-left").inner_text():
                break
            time.sleep(0.1)
        page.wait_for_timeout(200)
        mono = _shot(page.locator("#dev-img"))
        assert _chroma(colour) > 4 * _chroma(mono) and _chroma(mono) < 2.5
        # hold B: the photo before any change (neutral, in colour); release: back to mono
        page.keyboard.down("b")
        page.wait_for_selector("#dev-hint:not([hidden])")
        assert _chroma(_shot(page.locator("#dev-img"))) > 4 * _chroma(mono)
        page.keyboard.up("b")
        page.wait_for_timeout(200)
        assert _chroma(_shot(page.locator("#dev-img"))) < 2.5

        # compare: one tile per look, all different; the split view shows before and after
        page.click("#tabs button[data-view='compare']")
        page.wait_for_selector(".look-tile img")
        from rawlux.looks.registry import look_names

        tiles = page.locator(".look-tile")
        assert tiles.count() == len(look_names())
        shots = [_shot(tiles.nth(i).locator("img")) for i in range(tiles.count())]
        assert page.locator(".look-tile.on .lbl").inner_text() == "mono"
        for i in range(len(shots)):
            for j in range(i + 1, len(shots)):
                a, b = shots[i], shots[j]
                h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
                assert np.abs(a[:h, :w] - b[:h, :w]).mean() > 1.0, (i, j)
        page.click("#cmp-side")
        page.wait_for_selector("#img-after[src^='data:']")
        page.wait_for_timeout(300)
        before, after = _shot(page.locator("#pane-a")), _shot(page.locator("#pane-b"))
        assert _chroma(before) > 2 * _chroma(after)  # neutral before, mono after
        # synchronised pan: dragging one pane moves both images by the same offset
        t0 = page.locator("#img-before").get_attribute("style")
        page.mouse.move(300, 400)
        page.mouse.down()
        page.mouse.move(360, 430)
        page.mouse.up()
        sa, sb = (page.locator(s).get_attribute("style") for s in ("#img-before", "#img-after"))
        assert sa == sb and sa != t0

        # export: progress reaches the end and the file exists
        page.click("#export-open")
        page.click("#export-go")
        for _ in range(600):
            if "exported" in page.locator("#export-status").inner_text():
                break
            time.sleep(0.1)
        assert "1 exported" in page.locator("#export-status").inner_text()
        out = folder / "rawlux-export" / "kodak_dc50.jpg"
        assert out.is_file()
        from rawlux.io.photo import open_photo

        assert _chroma(open_photo(out).data * 255) < 2.5  # the mono look chosen in the page
        # moving to another photo and back keeps this photo's edits
        page.click("#export-close")
        page.click("#tabs button[data-view='develop']")
        page.keyboard.press("ArrowLeft")
        page.wait_for_selector("#photo-title:has-text('canon_eos_6d.dng')")
        assert page.locator("#opt-look button.on").inner_text() == "authentic"
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("#photo-title:has-text('kodak_dc50.kdc')")
        assert page.locator("#opt-look button.on").inner_text() == "mono"
        assert not errors, errors
        browser.close()
