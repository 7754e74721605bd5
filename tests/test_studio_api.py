"""Studio API and engine: folder confinement, Host/Origin checks, bad inputs, and that what the
studio shows is right (preview = export downscaled, eyedropper neutralises the picked patch,
looks differ, recipes round-trip, exports resume, originals never change)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from rawlux.studio import engine as eng  # noqa: E402
from rawlux.studio.server import create_app  # noqa: E402

CHART = "canon_550d_magiclantern_colorchart.dng"
GREY_PATCH = (0.534, 0.804)  # the mid-grey patch of the ColorChecker's bottom row (preview frame)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.iterdir() if p.is_file() and not p.name.endswith(eng.RECIPE_SUFFIX)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    d = tmp_path_factory.mktemp("studio") / "photos"
    d.mkdir()
    for rel in ("raw/kodak_dc50.kdc", f"raw/{CHART}", "photos/IMG_4120.JPG"):
        shutil.copy(shared_data / rel, d)
    (d / "broken.nef").write_bytes(b"this is not a raw file at all")
    sub = d / "été 2026"
    sub.mkdir()
    shutil.copy(shared_data / "photos/IMG_4120.JPG", sub / "plage à midi.jpg")
    (d / ".hidden.jpg").write_bytes((shared_data / "photos/IMG_4120.JPG").read_bytes())
    outside = d.parent / "secret.jpg"
    outside.write_bytes((shared_data / "photos/IMG_4120.JPG").read_bytes())
    os.symlink(outside, d / "link_out.jpg")
    os.symlink("/etc/passwd", d / "passwd.jpg")
    return d


@pytest.fixture(scope="module")
def client(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    engine = eng.Engine(preview_long_side=800, cache_dir=tmp_path_factory.mktemp("cache"))
    return TestClient(create_app(folder, engine), base_url="http://127.0.0.1:8765")


def _post(client: TestClient, url: str, body: dict, **headers: str):
    return client.post(url, content=json.dumps(body),
                       headers={"Content-Type": "application/json", **headers})


def _decode(data_url: str) -> np.ndarray:
    import base64

    import cv2

    raw = base64.b64decode(data_url.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


# ----------------------------------------------------------------------------- confinement


def test_listing_shows_only_photos_inside(client: TestClient) -> None:
    names = {f["path"] for f in client.get("/api/files").json()["files"]}
    assert names == {"kodak_dc50.kdc", CHART, "IMG_4120.JPG", "broken.nef",
                     "été 2026/plage à midi.jpg"}
    r = client.get("/api/thumb", params={"path": "été 2026/plage à midi.jpg"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("path", ["../secret.jpg", "/etc/passwd", "a/../../secret.jpg", "..",
                                  ".hidden.jpg", "link_out.jpg", "passwd.jpg", "x\\..\\secret.jpg",
                                  "IMG_4120.JPG/../../secret.jpg", "nothere.jpg", "conftest.py"])
def test_no_file_outside_the_folder_is_served(client: TestClient, path: str) -> None:
    for url in ("/api/thumb", "/api/exif", "/api/original", "/api/recipe"):
        r = client.get(url, params={"path": path})
        assert r.status_code in (404, 422), (url, path, r.status_code)
        assert "error" in r.json()
        assert b"root:" not in r.content
    r = _post(client, "/api/preview", {"path": path, "options": {}})
    assert r.status_code in (404, 422)


def test_loopback_host_only(client: TestClient) -> None:
    for host in ("evil.example", "192.168.1.5:8765", "127.0.0.1.evil.example", "localhost.evil"):
        r = client.get("/api/files", headers={"Host": host})
        assert r.status_code == 403 and "loopback" in r.json()["error"]
    assert client.get("/api/files", headers={"Host": "localhost:8765"}).status_code == 200


def test_cross_origin_writes_refused(client: TestClient, folder: Path) -> None:
    body = {"path": "IMG_4120.JPG", "options": {"look": "mono"}}
    r = _post(client, "/api/recipe", body, Origin="http://evil.example")
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = _post(client, "/api/recipe", body, **{"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    # a form post (what a foreign page can send without a preflight) is refused
    r = client.post("/api/recipe", data={"path": "IMG_4120.JPG"})
    assert r.status_code == 415
    assert not (folder / ("IMG_4120.JPG" + eng.RECIPE_SUFFIX)).exists()
    ok = _post(client, "/api/recipe", body, Origin="http://127.0.0.1:8765")
    assert ok.status_code == 200
    (folder / ("IMG_4120.JPG" + eng.RECIPE_SUFFIX)).unlink()


def test_security_headers(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "rawlux studio" in r.text
    assert r.headers["cross-origin-resource-policy"] == "same-origin"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/static/../server.py").status_code == 404


# ----------------------------------------------------------------------------- bad inputs


def test_bad_file_gives_one_clear_error(client: TestClient) -> None:
    r = _post(client, "/api/preview", {"path": "broken.nef", "options": {}})
    assert r.status_code == 422
    msg = r.json()["error"]
    assert msg.startswith("broken.nef:") and "\n" not in msg and "Traceback" not in msg
    assert client.get("/api/thumb", params={"path": "broken.nef"}).status_code == 422


@pytest.mark.parametrize("options, words", [
    ({"exposure": 99}, ["exposure", "99"]),
    ({"look": "../../etc/passwd"}, ["look", "valid"]),
    ({"bogus": 1}, ["bogus"]),
    ({"strength": "lots"}, ["strength", "number"]),
    ({"wb": "9K"}, ["wb"]),
    ({"color_space": "cmyk"}, ["color_space", "srgb"]),
])
def test_bad_options_are_named(client: TestClient, options: dict, words: list[str]) -> None:
    r = _post(client, "/api/preview", {"path": "IMG_4120.JPG", "options": options})
    assert r.status_code == 422
    for w in words:
        assert w in r.json()["error"]


def test_bad_bodies(client: TestClient) -> None:
    r = client.post("/api/preview", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert _post(client, "/api/whitepick", {"path": CHART, "options": {}, "x": 2, "y": 0.5}).status_code == 422
    assert _post(client, "/api/frame", {"path": "IMG_4120.JPG", "options": {}, "layout": "/etc/x"}).status_code == 422
    assert _post(client, "/api/export", {"paths": [], "options": {}}).status_code == 422
    r = _post(client, "/api/portrait", {"path": "IMG_4120.JPG", "options": {}, "aperture": 64})
    assert r.status_code == 422 and "f/64" in r.json()["error"]
    assert _post(client, "/api/export", {"paths": ["IMG_4120.JPG"], "format": "exe"}).status_code == 422


# ----------------------------------------------------------------------------- what is shown


def test_schema_describes_every_control() -> None:
    from rawlux.develop import DevelopOptions
    from rawlux.looks.registry import look_names

    s = eng.schema()
    names = [f["name"] for f in s["develop"]]
    assert set(names) == {f.name for f in dataclasses.fields(DevelopOptions)} - set(eng.HIDDEN)
    by = {f["name"]: f for f in s["develop"]}
    assert set(by["look"]["choices"]) == set(look_names())
    assert by["exposure"]["lo"] < by["exposure"]["hi"] and by["exposure"]["unit"] == "EV"
    assert by["highlights"]["choices"] == ["reconstruct", "clip", "none"]
    assert all(f["doc"] for f in s["develop"])
    assert "50" in s["lenses"] and "bar" in s["layouts"]
    # one source: every bound, unit and doc is the stage params' (rawlux.app.recipe.schema)
    from rawlux.app.recipe import schema as recipe_schema

    for o in recipe_schema()["options"]:
        if o["name"] in by:
            got = by[o["name"]]
            assert (got["lo"], got["hi"], got["unit"], got["doc"], got["targets"]) == (
                o["lo"], o["hi"], o["unit"], o["doc"], o["targets"]), o["name"]
    assert s["aperture"]["lo"] > 0 and s["aperture"]["hi"] >= 16


def test_preview_matches_the_full_develop(shared_data: Path) -> None:
    """The downscaled preview shows what an export gives (PSNR vs the full develop, reduced)."""
    import cv2

    import rawlux

    p = shared_data / "raw" / CHART
    r = eng.Engine(preview_long_side=800).preview(p, {})  # 1734 px: binned, resampled to 800
    full = eng.to_uint8(rawlux.develop(p).data)
    small = cv2.resize(full, (r.rgb.shape[1], r.rgb.shape[0]), interpolation=cv2.INTER_AREA)
    mse = np.mean((small.astype(np.float64) - r.rgb) ** 2)
    assert 10 * np.log10(255.0 ** 2 / mse) > 35.0


def test_eyedropper_neutralises_the_picked_grey(client: TestClient) -> None:
    def patch(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        y, x = int(GREY_PATCH[1] * (h - 1)), int(GREY_PATCH[0] * (w - 1))
        return img[y - 4: y + 5, x - 4: x + 5].reshape(-1, 3).astype(np.float64).mean(0)

    def spread(rgb: np.ndarray) -> float:
        return float((rgb.max() - rgb.min()) / rgb.mean())

    shot = _post(client, "/api/preview", {"path": CHART, "options": {}}).json()
    wb = _post(client, "/api/whitepick", {"path": CHART, "options": {}, "x": GREY_PATCH[0],
                                           "y": GREY_PATCH[1]}).json()["wb"]
    kelvin, tint = (float(v) for v in wb.split(","))
    assert 1700 <= kelvin <= 50000 and -150 <= tint <= 150
    picked = _post(client, "/api/preview", {"path": CHART, "options": {"wb": wb}}).json()
    before, after = spread(patch(_decode(shot["image"]))), spread(patch(_decode(picked["image"])))
    assert before > 0.3  # as-shot leaves this grey visibly orange
    assert after < 0.04


def test_applied_white_is_reported_as_kelvin_that_reproduces_it(shared_data: Path) -> None:
    """The custom white-balance sliders start from the white now applied: as-shot expressed as
    KELVIN,TINT renders the same picture."""
    e = eng.Engine(preview_long_side=800)
    p = shared_data / "raw" / CHART
    shot = e.preview(p, {})
    kelvin = e.preview(p, {"wb": shot.stats["white"]})
    assert np.abs(shot.rgb.astype(np.float64) - kelvin.rgb).mean() < 0.5


def test_look_change_changes_the_preview_and_histogram(client: TestClient) -> None:
    a = _post(client, "/api/preview", {"path": "kodak_dc50.kdc", "options": {}, "overlay": True}).json()
    b = _post(client, "/api/preview", {"path": "kodak_dc50.kdc", "options": {"look": "mono"}}).json()
    ia, ib = _decode(a["image"]), _decode(b["image"])
    assert ia.shape == ib.shape == (a["stats"]["size"][1], a["stats"]["size"][0], 3)
    chroma = lambda im: float(np.abs(im.astype(int) - im.mean(axis=2, keepdims=True)).mean())  # noqa: E731
    assert chroma(ia) > 4 * chroma(ib) and chroma(ib) < 2.0
    assert a["stats"]["r"] != b["stats"]["r"] and max(a["stats"]["l"]) == 1.0
    assert a["stats"]["raw_clipped_percent"] is not None and "overlay" in a


def test_clip_overlay_marks_clipped_pixels(shared_data: Path) -> None:
    e = eng.Engine(preview_long_side=800)
    p = shared_data / "raw" / "kodak_dc50.kdc"
    r = e.preview(p, {"exposure": 5.0})
    ov = e.clip_overlay(p, {"exposure": 5.0}, r.rgb)
    hi = (r.rgb >= 254).any(axis=2)
    assert hi.mean() > 0.1  # +5 EV blows out a good part of the frame
    raw_clip = (ov[..., 0] == 255) & (ov[..., 1] == 0) & (ov[..., 2] == 255)
    assert (ov[..., 3][hi] > 0).all()
    assert (ov[..., 3][~hi & ~(r.rgb <= 1).all(axis=2) & ~raw_clip] == 0).all()
    assert r.stats["clipped_high_percent"] == pytest.approx(100 * hi[::2, ::2].mean(), abs=0.01)


def test_contact_sheet_has_every_look_distinct(shared_data: Path) -> None:
    from rawlux.looks.registry import look_names

    tiles = eng.Engine(preview_long_side=800).contact_sheet(shared_data / "raw" / "kodak_dc50.kdc", {})
    assert sorted(n for n, _ in tiles) == sorted(look_names())
    # "camera" is the camera profile's rendering: without a DCP/DNG profile (this KDC) it
    # falls back to neutral, so it is left out of the pairs
    tiles = [t for t in tiles if t[0] != "camera"]
    imgs = [t.astype(np.float64) for _, t in tiles]
    for i in range(len(imgs)):
        for j in range(i + 1, len(imgs)):
            assert np.abs(imgs[i] - imgs[j]).mean() > 1.0, (tiles[i][0], tiles[j][0])


def test_newer_request_supersedes_older(shared_data: Path) -> None:
    e = eng.Engine(preview_long_side=400)
    p = shared_data / "raw" / "kodak_dc50.kdc"
    old = e.begin(p)
    new = e.begin(p)
    with pytest.raises(eng.Superseded):
        e.preview(p, {"look": "vivid"}, old)
    assert e.preview(p, {"look": "vivid"}, new).rgb.size > 0


def test_portrait_and_frame(client: TestClient) -> None:
    base = _decode(_post(client, "/api/preview", {"path": "IMG_4120.JPG", "options": {}}).json()["image"])
    framed = _post(client, "/api/frame", {"path": "IMG_4120.JPG", "options": {}, "layout": "polaroid"}).json()
    fr = _decode(framed["image"])
    assert fr.shape[0] > base.shape[0] and fr.shape[1] >= base.shape[1]
    por = _post(client, "/api/portrait", {"path": "IMG_4120.JPG", "options": {}, "lens": "50",
                                          "aperture": 1.4, "focus": [0.5, 0.5]})
    assert por.status_code == 200
    assert _post(client, "/api/portrait", {"path": "IMG_4120.JPG", "options": {}, "lens": "../x"}).status_code == 422


# ----------------------------------------------------------------------------- writes


def test_recipe_round_trip_and_export_resume(client: TestClient, folder: Path) -> None:
    before = _digest(folder)
    opts = {"look": "sepia", "exposure": 0.5, "wb": "5200,+10", "sharpen": 0.2}
    r = _post(client, "/api/recipe", {"path": "kodak_dc50.kdc", "options": opts})
    assert r.json()["saved"] == "kodak_dc50.kdc" + eng.RECIPE_SUFFIX
    assert client.get("/api/recipe", params={"path": "kodak_dc50.kdc"}).json()["options"] == opts
    # the sidecar is the command line's recipe: `rawlux develop --recipe` reads it
    from rawlux.app.recipe import load_recipe, sidecar_path

    rec = load_recipe(sidecar_path(folder / "kodak_dc50.kdc"))
    assert rec["look"].look == "sepia" and rec["color_transform"].exposure_ev == 0.5
    assert (rec["white_balance"].kelvin, rec["white_balance"].tint) == (5200.0, 10.0)
    assert client.get("/api/recipe", params={"path": "IMG_4120.JPG"}).json()["options"] is None
    listed = {f["path"]: f["recipe"] for f in client.get("/api/files").json()["files"]}
    assert listed["kodak_dc50.kdc"] and not listed["IMG_4120.JPG"]

    def run_export() -> dict:
        job = _post(client, "/api/export", {"paths": ["kodak_dc50.kdc", "IMG_4120.JPG"],
                                            "use_saved_recipes": True, "format": "jpg"}).json()
        for _ in range(600):
            j = client.get(f"/api/jobs/{job['id']}").json()
            if j["finished"]:
                return j
            time.sleep(0.1)
        raise AssertionError("export did not finish")

    j = run_export()
    assert [x["status"] for x in j["results"]] == ["done", "done"], j
    out = folder / "rawlux-export" / "kodak_dc50.jpg"
    from rawlux.io.photo import open_photo

    sepia = open_photo(out).data
    assert np.abs(sepia[..., 0] - sepia[..., 2]).mean() > 0.03  # the saved sepia look was used
    assert [x["status"] for x in run_export()["results"]] == ["skipped", "skipped"]
    assert _digest(folder) == before  # originals untouched
    listing = {f["path"] for f in client.get("/api/files").json()["files"]}
    assert not any(p.startswith("rawlux-export") for p in listing)


# ----------------------------------------------------------------------------- command line


def test_cli_serves_on_loopback_and_prints_the_address(folder: Path, tmp_path: Path) -> None:
    import re
    import subprocess
    import sys
    import urllib.request

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "rawlux.cli.app", "studio", str(folder),
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/api/files", timeout=20) as r:
            assert {f["path"] for f in json.loads(r.read())["files"]} >= {"kodak_dc50.kdc"}
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_refuses_a_missing_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "rawlux.cli.app", "studio", str(tmp_path / "nope"),
                        "--no-browser"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and "nope" in r.stderr and "not a folder" in r.stderr


def test_sharper_refinement_size(client: TestClient) -> None:
    r = _post(client, "/api/preview", {"path": CHART, "options": {}, "size": 1024, "overlay": True})
    img = _decode(r.json()["image"])
    assert max(img.shape[:2]) == 1734 and _decode(r.json()["overlay"]).shape[:2] == img.shape[:2]
    for bad in (10, 99999, 1.5, "big", True):
        r = _post(client, "/api/preview", {"path": CHART, "options": {}, "size": bad})
        assert r.status_code == 422 and "size" in r.json()["error"]


def test_superseded_render_answers_409(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = client.app.state.engine

    def replaced(*a, **k):
        raise eng.Superseded("render of IMG_4120.JPG replaced by a newer one")

    monkeypatch.setattr(engine, "preview", replaced)
    r = _post(client, "/api/preview", {"path": "IMG_4120.JPG", "options": {}})
    assert r.status_code == 409 and r.json() == {"superseded": True}


def test_p3_preview_carries_its_profile(client: TestClient) -> None:
    import base64
    import io

    from PIL import Image as PILImage

    from rawlux.core.image import ColorSpace
    from rawlux.io.icc import identify_profile

    for space, want in (("p3", ColorSpace.DISPLAY_P3), ("srgb", None)):
        r = _post(client, "/api/preview", {"path": "kodak_dc50.kdc", "options": {"color_space": space}})
        data = base64.b64decode(r.json()["image"].split(",", 1)[1])
        icc = PILImage.open(io.BytesIO(data)).info.get("icc_profile")
        assert (identify_profile(icc) if icc else None) == want


def test_opening_and_export_checks_are_the_commands(shared_data: Path, tmp_path: Path) -> None:
    """The studio opens and checks outputs through the application layer: a metadata-only DNG
    is refused as ``rawlux develop`` refuses it, a bad export format before any pixel work."""
    from rawlux.core.errors import CorruptInput, OutputError

    engine = eng.Engine(preview_long_side=400, cache_dir=tmp_path / "cache")
    empty = shared_data / "raw/iphone12pro_proraw_metadata_only.dng"
    with pytest.raises(CorruptInput, match="no image to develop") as err:
        engine.preview(empty, {})
    assert empty.name in str(err.value) and "\n" not in str(err.value)
    photo = shared_data / "photos/IMG_4120.JPG"
    with pytest.raises(OutputError, match="unknown output extension"):
        engine.export([photo], {}, tmp_path / "out", fmt="xyz")
    assert not any((tmp_path / "out").glob("*.xyz"))


def test_export_in_a_frame(client: TestClient, folder: Path, tmp_path: Path) -> None:
    """Export with the Frame mode's layout: the saved photo is the picture in that frame
    (bigger than the photo, a light border as the polaroid layout has); layouts by name only."""
    from rawlux.io.photo import open_photo

    r = _post(client, "/api/export", {"paths": ["IMG_4120.JPG"], "frame": "../../etc/x.toml"})
    assert r.status_code == 422 and "frame" in r.json()["error"]
    engine = eng.Engine(preview_long_side=400, cache_dir=tmp_path / "cache")
    src = folder / "IMG_4120.JPG"
    res = engine.export([src], {}, tmp_path / "plain")
    res_framed = engine.export([src], {}, tmp_path / "framed", frame="polaroid")
    assert [x["status"] for x in res + res_framed] == ["done", "done"]
    plain = open_photo(tmp_path / "plain/IMG_4120.jpg").data
    framed = open_photo(tmp_path / "framed/IMG_4120.jpg").data
    assert framed.shape[0] > plain.shape[0] and framed.shape[1] > plain.shape[1]
    assert framed[-5:].mean() > 0.85 and framed[:, :3].mean() > 0.85  # the white border


def test_export_goes_through_batch(folder: Path, tmp_path: Path) -> None:
    """With the batch engine installed, an export is a ``rawlux.batch.run`` (its ledger in the
    export folder, resumable), not the studio's fallback loop."""
    from rawlux.studio.export import LEDGER, batch_runner

    if batch_runner() is None:
        pytest.skip("rawlux.batch.run is not installed in this checkout")
    engine = eng.Engine(preview_long_side=400, cache_dir=tmp_path / "cache")
    out = tmp_path / "out"
    res = engine.export([folder / "IMG_4120.JPG"], {"look": "mono"}, out)
    assert [r["status"] for r in res] == ["done"]
    assert (out / ".rawlux" / "ledger.sqlite").is_file() and not (out / LEDGER).exists()
    assert [r["status"] for r in engine.export([folder / "IMG_4120.JPG"], {"look": "mono"}, out)
            ] == ["skipped"]


def test_a_stopped_export_writes_nothing_more(folder: Path, tmp_path: Path) -> None:
    engine = eng.Engine(preview_long_side=400, cache_dir=tmp_path / "cache")
    asked = []
    res = engine.export([folder / "IMG_4120.JPG"], {}, tmp_path / "out",
                        cancelled=lambda: asked.append(1) or True)
    assert res == [] and asked and not (tmp_path / "out" / "IMG_4120.jpg").exists()


def test_ultra_hdr_export(folder: Path, tmp_path: Path) -> None:
    """The export dialog's Ultra HDR choice writes a JPEG with a gain map (the develop ``hdr``
    option); the previews stay SDR (no hdr control on the page)."""
    if not eng.export_hdr_available():
        pytest.skip("this build has no gain-map writer")
    from rawlux.io.thumb import has_gain_map

    assert "hdr" not in {f["name"] for f in eng.schema()["develop"]} and eng.schema()["export_hdr"]
    engine = eng.Engine(preview_long_side=400, cache_dir=tmp_path / "cache")
    res = engine.export([folder / "kodak_dc50.kdc"], {}, tmp_path / "hdr", hdr=True)
    sdr = engine.export([folder / "kodak_dc50.kdc"], {}, tmp_path / "sdr")
    assert [r["status"] for r in res + sdr] == ["done", "done"], res + sdr
    assert has_gain_map(tmp_path / "hdr/kodak_dc50.jpg")
    assert not has_gain_map(tmp_path / "sdr/kodak_dc50.jpg")
