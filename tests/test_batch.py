"""``rawlux batch``: exactly once, resumable after kill -9, failures recorded, executors agree.

Inputs are small: synthetic DNGs (``rawlux.synth.sample``), a real photo and a real raw copied
from the shared data, a truncated DNG and a text file.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rawlux.batch as batch
from rawlux.batch.ledger import Ledger
from rawlux.batch.plan import Source, discover, group_bursts, plan_outputs
from rawlux.core.errors import InvalidParameter, OutputError

RAWLUX = [sys.executable, "-m", "rawlux_launcher"]
N_SYNTH = 4


def synth_raw(seed: int, h: int = 128, w: int = 192):
    """A small noisy RGGB raw of smooth random colour fields (synthetic camera of synth.burst)."""
    import cv2

    from rawlux.synth.burst import NOISE_LEVELS, add_noise, frame_raw, mosaic_rggb, quantise, unprocess

    rng = np.random.default_rng(seed)
    rgb = cv2.resize(rng.random((5, 7, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    a, b = NOISE_LEVELS["mild"]
    clean = np.minimum(mosaic_rggb(unprocess(np.clip(rgb, 0, 1), level=0.2)), 1.0)
    return frame_raw(quantise(add_noise(np.ascontiguousarray(clean), a, b, rng)), (a, b), seed)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared_data) -> Path:
    """A folder tree: 4 synthetic DNGs (2 in a sub-folder), a real JPEG and KDC, a truncated
    DNG (corrupt) and a text file (not an image: ignored in folders)."""
    from rawlux.io.dng import write_dng

    d = tmp_path_factory.mktemp("in")
    (d / "sub").mkdir()
    for i in range(N_SYNTH):
        write_dng(synth_raw(i), d / ("sub" if i >= 2 else "") / f"img_{i}.dng")
    shutil.copy(shared_data / "photos" / "IMG_4120.JPG", d / "phone.jpg")
    shutil.copy(shared_data / "raw" / "kodak_dc50.kdc", d / "kodak.kdc")
    blob = (d / "img_0.dng").read_bytes()
    (d / "broken.dng").write_bytes(blob[: len(blob) // 3])
    (d / "notes.txt").write_text("not an image\n")
    return d


GOOD = {"img_0.jpg", "img_1.jpg", "sub/img_2.jpg", "sub/img_3.jpg", "phone.jpg", "kodak.jpg"}


def outputs(out: Path) -> dict[str, bytes]:
    """Every visible file under ``out`` (outside the ledger folder) -> bytes."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and ".rawlux" not in p.relative_to(out).parts}


@pytest.fixture(scope="module")
def clean(tmp_path_factory, inputs) -> dict[str, bytes]:
    """Reference: one uninterrupted inline run."""
    out = tmp_path_factory.mktemp("clean")
    res = batch.run([inputs], out, recursive=True, executor="inline")
    assert {r.output for r in res if r.status == "done"} == GOOD
    return outputs(out)


def done_counts(out: Path) -> dict[str, int]:
    with Ledger(out / ".rawlux" / "ledger.sqlite") as led:
        return led.event_counts("done")


def assert_exactly_once(out: Path, clean: dict[str, bytes]) -> None:
    got = outputs(out)
    assert set(got) == GOOD, sorted(got)  # no duplicates, no temp files, nothing missing
    for k in GOOD:
        assert got[k] == clean[k], f"{k} differs from the clean run"
    assert done_counts(out) == {k: 1 for k in GOOD}  # nothing committed twice
    assert not any((out / ".rawlux" / "tmp").iterdir())
    assert not [p for p in out.rglob(".*") if p.name != ".rawlux" and ".rawlux" not in p.parts[:-1]]


def test_clean_run_outputs_and_failures(inputs, clean, tmp_path):
    from PIL import Image as PILImage

    out = tmp_path / "out"
    res = batch.run([inputs], out, recursive=True, executor="inline")
    # mirrors the tree, text file ignored, corrupt input recorded with its one-line reason
    assert {r.output for r in res} == GOOD | {"broken.jpg"}
    bad = [r for r in res if r.status == "failed"]
    assert [r.output for r in bad] == ["broken.jpg"] and not res.ok
    assert "broken.dng" in bad[0].reason and "\n" not in bad[0].reason
    # deterministic: same bytes as the other clean run
    assert outputs(out) == clean
    with PILImage.open(out / "phone.jpg") as im:
        assert im.size == (500, 375)  # the photo keeps its pixels
    with PILImage.open(out / "img_0.jpg") as im:
        assert im.size == (192, 128) and np.asarray(im).std() > 10  # a real picture, not blank
    with Ledger(out / ".rawlux" / "ledger.sqlite") as led:
        assert led.rows()["broken.jpg"].state == "failed"
        assert led.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rerun_skips_recipe_change_redoes(inputs, clean, tmp_path):
    out = tmp_path / "out"
    batch.run([inputs], out, recursive=True, executor="inline")
    again = batch.run([inputs], out, recursive=True, executor="inline")
    assert {r.output for r in again if r.status == "skipped"} == GOOD
    assert [r.output for r in again if r.status == "failed" and r.earlier] == ["broken.jpg"]
    assert done_counts(out) == {k: 1 for k in GOOD}

    recipe = tmp_path / "bright.toml"
    recipe.write_text('rawlux_recipe = 1\n[options]\nexposure = 1.0\nlook = "authentic"\n')
    brighter = batch.run([inputs], out, recursive=True, executor="inline", recipe=recipe)
    assert {r.output for r in brighter if r.status == "done"} == GOOD - {"phone.jpg"} | {"phone.jpg"}
    got = outputs(out)
    raws = GOOD - {"phone.jpg"}
    for k in raws:  # +1 EV really changed every developed raw
        assert got[k] != clean[k]
    assert got["phone.jpg"] == clean["phone.jpg"]  # a photo has no raw recipe to apply
    # an equivalent recipe (defaults spelled out, other order, JSON) hashes the same: skipped
    same = tmp_path / "same.json"
    same.write_text('{"rawlux_recipe": 1, "options": {"look": "authentic", "exposure": 1.0, "denoise": 0.5}}')
    r = batch.run([inputs], out, recursive=True, executor="inline", recipe=same)
    assert {x.output for x in r if x.status == "skipped"} == GOOD

    # a touched input is redone, alone
    p = inputs / "img_1.dng"
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        r = batch.run([inputs], out, recursive=True, executor="inline", recipe=same)
        assert [x.output for x in r if x.status == "done"] == ["img_1.jpg"]
        # --content-hash: the bytes did not change; after one run that records hashes, skipped
        batch.run([inputs], out, recursive=True, executor="inline", recipe=same, content_hash=True)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
        r = batch.run([inputs], out, recursive=True, executor="inline", recipe=same, content_hash=True)
        assert not [x for x in r if x.status == "done"]
    finally:
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))

    # --retry-failed runs only the failure; --force redoes all
    r = batch.run([inputs], out, recursive=True, executor="inline", recipe=same, retry_failed=True)
    with Ledger(out / ".rawlux" / "ledger.sqlite") as led:
        last = led.run
        started = [k for run, k, ev, _ in led.events() if run == last and ev == "start"]
    assert started == [] and [x.output for x in r if x.status == "failed"] == ["broken.jpg"]
    r = batch.run([inputs], out, recursive=True, executor="inline", recipe=same, force=True)
    assert {x.output for x in r if x.status == "done"} == GOOD


def test_deleted_output_redone_and_unknown_recipe_option(inputs, tmp_path):
    out = tmp_path / "out"
    batch.run([inputs / "img_0.dng", inputs / "phone.jpg"], out, executor="inline")
    (out / "img_0.jpg").unlink()
    r = batch.run([inputs / "img_0.dng", inputs / "phone.jpg"], out, executor="inline")
    assert [(x.output, x.status) for x in r] == [("img_0.jpg", "done"), ("phone.jpg", "skipped")]
    bad = tmp_path / "bad.toml"
    bad.write_text("rawlux_recipe = 1\n[options]\nexposur = 1\n")
    with pytest.raises(InvalidParameter, match="exposur"):
        batch.run([inputs], out, recipe=bad, executor="inline")
    with pytest.raises(InvalidParameter, match="exposure"):
        batch.run([inputs], out, recipe={"exposure": 99.0}, executor="inline")


def test_output_never_overwrites_input_and_lock(inputs, tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    shutil.copy(inputs / "phone.jpg", d / "phone.jpg")
    before = (d / "phone.jpg").read_bytes()
    with pytest.raises(InvalidParameter, match="output folder is this input folder"):
        batch.run([d], d, executor="inline")
    r = batch.run([d / "phone.jpg"], d, executor="inline")  # same name in the same folder
    assert r.rows[0].status == "failed" and "overwrite an input" in r.rows[0].reason
    assert (d / "phone.jpg").read_bytes() == before
    from rawlux.batch.runner import _Lock

    lock = _Lock(d / ".rawlux" / "lock")
    try:
        with pytest.raises(OutputError, match="another rawlux batch"):
            batch.run([inputs / "phone.jpg"], d, executor="inline")
    finally:
        lock.release()


def test_plan_tree_collisions_and_out_dir_inside_inputs(tmp_path):
    for rel in ("a/x.dng", "a/x.nef", "a/b/y.dng", "out/old.dng", ".hidden/z.dng"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"II*\0")
    src = discover([tmp_path], recursive=True, exclude=tmp_path / "out")
    keys = [p.key for p in plan_outputs([[s] for s in src], ".jpg")]
    assert keys == ["a/x.dng.jpg", "a/x.nef.jpg", "a/b/y.jpg"]
    flat = discover([tmp_path / "a"])
    assert [s.path.name for s in flat] == ["x.dng", "x.nef"]
    globbed = discover([str(tmp_path / "a" / "*.dng")])
    assert [p.key for p in plan_outputs([[s] for s in globbed], ".tif")] == ["x.tif"]


def test_group_bursts_by_time_sequence_and_camera(tmp_path):
    names = ["IMG_0001", "IMG_0002", "IMG_0003", "IMG_0010", "IMG_0011", "DSC_5", "DSC_6", "lone"]
    times = {"IMG_0001": 0.0, "IMG_0002": 0.4, "IMG_0003": 0.9, "IMG_0010": 60.0, "IMG_0011": 60.5}
    cams = {n: ("cam B" if n == "IMG_0011" else "cam A") for n in names}
    src = [Source(tmp_path / f"{n}.dng", tmp_path, True) for n in names]
    groups = group_bursts(src, gap=2.0, info=lambda p: (times.get(p.stem), cams[p.stem]))
    got = [[s.path.stem for s in g] for g in groups]
    assert got == [["IMG_0001", "IMG_0002", "IMG_0003"], ["IMG_0010"], ["IMG_0011"],
                   ["DSC_5", "DSC_6"], ["lone"]]
    planned = plan_outputs(groups, ".jpg")
    assert planned[0].key == "IMG_0001_night.jpg" and planned[0].kind == "burst"
    assert planned[1].kind == "develop"


def test_bursts_merge_equals_night_command(tmp_path):
    from rawlux.synth.burst import make_burst, write_burst

    d = tmp_path / "in"
    d.mkdir()
    frames = write_burst(make_burst("chelsea", 3, noise="high", size=(128, 192), seed=3), d)
    out = tmp_path / "out"
    r = batch.run([d], out, bursts=True, executor="inline")
    assert [(x.output, x.kind, x.status) for x in r] == [("frame_00_night.jpg", "burst", "done")]
    from rawlux.app.night import night_file

    ref = night_file(frames, tmp_path / "ref.jpg")
    assert (out / "frame_00_night.jpg").read_bytes() == Path(ref).read_bytes()
    # a `night --save-recipe` recipe (reference frame 1) applies to bursts as `night --recipe`
    from rawlux.app.night import night_options

    opts, _ = night_options({"reference": 1}, save=tmp_path / "night.toml")
    r = batch.run([d], out, bursts=True, executor="inline", recipe=tmp_path / "night.toml")
    assert [x.status for x in r] == ["done"]
    ref1 = night_file(frames, tmp_path / "ref1.jpg", opts)
    assert (out / "frame_00_night.jpg").read_bytes() == Path(ref1).read_bytes() != Path(ref).read_bytes()


def test_recipe_lut_by_content_frame_on_photos_and_cfa(inputs, tmp_path):
    """A recipe's LUT counts by content (rewritten in place: redone, and darker); a frame applies
    to raws and photos alike while the photo keeps its rendering; ``cfa`` turns a greyscale PNG
    from a photo into a bare Bayer mosaic that is developed in colour."""
    import cv2
    from PIL import Image as PILImage

    from rawlux.app.recipe import Recipe, save_recipe

    cube = tmp_path / "grade.cube"
    cube.write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")
    rec = tmp_path / "r.toml"
    save_recipe(Recipe.default().with_options(lut=str(cube)), rec)
    out = tmp_path / "out"
    src = [inputs / "img_0.dng", inputs / "phone.jpg"]
    batch.run(src, out, executor="inline", recipe={"lut": cube})
    first = outputs(out)
    r = batch.run(src, out, executor="inline", recipe={"lut": str(cube)})
    assert {x.status for x in r} == {"skipped"}
    cube.write_text("LUT_1D_SIZE 2\n0 0 0\n0.5 0.5 0.5\n")  # same path, new content
    r = batch.run(src, out, executor="inline", recipe={"lut": cube})
    assert {x.status for x in r} == {"done"}
    with PILImage.open(out / "img_0.jpg") as a, PILImage.open(io.BytesIO(first["img_0.jpg"])) as b:
        assert np.asarray(a, np.float32).mean() < 0.75 * np.asarray(b, np.float32).mean()
    assert outputs(out)["phone.jpg"] == first["phone.jpg"]  # looks/LUTs apply to raws only
    with pytest.raises(InvalidParameter, match="content changed"):  # the saved recipe's LUT
        batch.run(src, tmp_path / "o2", executor="inline", recipe=rec)

    framed = batch.run(src, tmp_path / "framed", executor="inline", frame="bar")
    assert framed.ok
    with PILImage.open(tmp_path / "framed" / "phone.jpg") as im:
        assert im.size != (500, 375) and im.size[0] >= 500  # the frame adds its border/bar

    mosaic = tmp_path / "m" / "mosaic.png"
    mosaic.parent.mkdir()
    cv2.imwrite(str(mosaic), np.asarray(synth_raw(7).data, np.uint16))
    grey = batch.run([mosaic, inputs / "img_0.dng"], tmp_path / "g", executor="inline")
    colour = batch.run([mosaic, inputs / "img_0.dng"], tmp_path / "c", executor="inline", cfa="gbrg")
    assert grey.ok and colour.ok
    # the pattern is for bare mosaics only: a raw file keeps the CFA it records
    assert (tmp_path / "g" / "img_0.jpg").read_bytes() == (tmp_path / "c" / "img_0.jpg").read_bytes()
    with PILImage.open(tmp_path / "g" / "mosaic.jpg") as g, PILImage.open(tmp_path / "c" / "mosaic.jpg") as c:
        gp, cp = np.asarray(g.convert("RGB"), np.float32), np.asarray(c.convert("RGB"), np.float32)
    assert gp.shape == cp.shape == (128, 192, 3)
    assert np.abs(gp[..., 0] - gp[..., 2]).mean() < 1  # the photo: grey as stored
    assert np.abs(cp[..., 0] - cp[..., 2]).mean() > 5  # demosaiced: colour
    with pytest.raises(InvalidParameter, match="cfa"):
        batch.run([mosaic], tmp_path / "c", executor="inline", cfa="RGBG")


# ------------------------------------------------------------------ kill -9 (real subprocesses)

def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    e = {k: v for k, v in os.environ.items() if k not in ("RAWLUX_DEBUG", "RAWLUX_BATCH_FAULT")}
    e.update(env or {})
    return subprocess.Popen([*RAWLUX, "batch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=e)


def test_kill9_at_fault_points_then_resume(inputs, clean, tmp_path):
    """Killed (SIGKILL) three times in a row at different points, then resumed to the end: after
    a job wrote its temp file, after the ledger said committing (before the rename) and after the
    rename (before the ledger said done)."""
    out = tmp_path / "out"
    args = [str(inputs), "-r", "--out-dir", str(out), "--workers", "1", "--quiet"]
    made = 0
    for fault in ("job.written:2", "commit.before_rename:2", "commit.after_rename:2"):
        p = _cli(*args, env={"RAWLUX_BATCH_FAULT": fault})
        _, err = p.communicate(timeout=120)
        assert p.returncode == -signal.SIGKILL, err
        now = len(outputs(out))
        assert made <= now < len(GOOD)  # progress kept, really stopped part-way
        made = now
    p = _cli(*args)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1 and "broken.dng" in err  # only the corrupt input failed
    assert_exactly_once(out, clean)
    with Ledger(out / ".rawlux" / "ledger.sqlite") as led:
        lost = [d for _, _, ev, d in led.events() if ev == "lost"]
        recovered = [d for _, _, ev, d in led.events() if ev == "done" and d.startswith("recovered")]
    # a job killed while running is redone; a complete temp file or a renamed output is not
    assert lost == ["interrupted while running"]
    assert recovered == ["recovered: renamed after a crash", "recovered: output already in place"]


def test_kill9_mid_write_then_resume(tmp_path, shared_data):
    """An external kill -9 the moment an output is being written (its temp file exists)."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("canon_550d_magiclantern_colorchart.dng", "kodak_dc50.kdc"):
        shutil.copy(shared_data / "raw" / name, d / name)
    ref = tmp_path / "ref"
    batch.run([d], ref, executor="inline")
    for attempt in range(3):  # a busy machine may starve the poller: try again
        out = tmp_path / f"out{attempt}"
        args = [str(d), "--out-dir", str(out), "--workers", "1", "--quiet"]
        p = _cli(*args)
        tmp_dir = out / ".rawlux" / "tmp"
        seen = None
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            try:
                names = os.listdir(tmp_dir)
            except FileNotFoundError:
                continue
            if names:
                os.kill(p.pid, signal.SIGKILL)
                seen = names
                break
        p.communicate(timeout=60)
        if seen:
            break
    assert seen, "the batch finished before any write was observed (3 tries)"
    assert p.returncode == -signal.SIGKILL
    p = _cli(*args)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    got = outputs(out)
    assert got == outputs(ref) and len(got) == 2
    assert set(done_counts(out).values()) == {1} and not any(tmp_dir.iterdir())


# ------------------------------------------------------------------ executors

def test_pool_equals_inline_and_dead_worker_is_retried(inputs, clean, tmp_path, monkeypatch):
    marker = tmp_path / "fired"
    monkeypatch.setenv("RAWLUX_BATCH_FAULT", f"job.before_write:1:{marker}")  # one worker dies once
    out = tmp_path / "out"
    res = batch.run([inputs], out, recursive=True, executor="process", workers=2)
    assert marker.exists() and res.retries == 1
    assert_exactly_once(out, clean)
    with Ledger(out / ".rawlux" / "ledger.sqlite") as led:
        retried = [k for _, k, ev, _ in led.events() if ev == "retry"]
        assert len(retried) == 1 and led.rows()[retried[0]].attempts == 2


def test_dask_localcluster_equals_pool_and_survives_worker_loss(inputs, clean, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "fired"
    monkeypatch.setenv("RAWLUX_BATCH_FAULT", f"job.before_write:1:{marker}")
    with distributed.LocalCluster(host="127.0.0.1", processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "out"
        res = batch.run([inputs], out, recursive=True, scheduler=cluster.scheduler_address)
        assert res.executor == "dask" and marker.exists()  # a worker was killed mid-job ...
        assert_exactly_once(out, clean)  # ... and its job still ran exactly once, same bytes
        with distributed.Client(cluster) as client:  # the API also takes a Client
            again = batch.run([inputs], out, recursive=True, executor=client, force=True)
        assert again.executor == "dask" and outputs(out) == clean


def test_cli_hdr_and_bad_format_fail_before_work(inputs, tmp_path):
    from typer.testing import CliRunner

    from rawlux.cli.app import app

    r = CliRunner().invoke(app, ["batch", str(inputs), "--out-dir", str(tmp_path / "o"), "--format", "gif"])
    assert r.exit_code == 2 and "--format 'gif'" in r.output
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(app, ["batch", str(inputs), "--out-dir", str(tmp_path / "o"), "--hdr",
                                 "--format", "png"])
    assert r.exit_code == 4 and "cannot hold an HDR rendition" in r.output
    assert str(tmp_path / "o") in r.output and "rawlux-batch-check" not in r.output
    assert not (tmp_path / "o").exists()


def test_hdr_raws_get_ultrahdr_photos_keep_theirs(inputs, tmp_path):
    """--hdr: a raw (and its frame) becomes an Ultra HDR JPEG whose base is the SDR develop; a
    photo keeps its own rendering (no HDR made up from 8-bit pixels)."""
    import imagecodecs
    from PIL import Image as PILImage

    from rawlux.io.gainmap import read_jpeg_gainmap

    src = [inputs / "img_0.dng", inputs / "phone.jpg"]
    sdr = batch.run(src, tmp_path / "sdr", executor="inline", frame="bar")
    r = batch.run(src, tmp_path / "hdr", executor="inline", frame="bar", hdr=True)
    assert r.ok and sdr.ok
    data = (tmp_path / "hdr" / "img_0.jpg").read_bytes()
    assert imagecodecs.ultrahdr_check(data) and read_jpeg_gainmap(data) is not None
    base = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"), np.float32)
    plain = np.asarray(PILImage.open(tmp_path / "sdr" / "img_0.jpg").convert("RGB"), np.float32)
    assert base.shape == plain.shape and np.abs(base - plain).mean() < 2  # same framed SDR photo
    assert imagecodecs.ultrahdr_decode(data).shape[:2] == base.shape[:2]
    photo = (tmp_path / "hdr" / "phone.jpg").read_bytes()
    assert read_jpeg_gainmap(photo) is None
    assert photo == (tmp_path / "sdr" / "phone.jpg").read_bytes()


def test_output_that_cannot_be_put_in_place_is_a_recorded_failure(inputs, tmp_path):
    out = tmp_path / "out"
    (out / "img_0.jpg").mkdir(parents=True)  # a folder where the output should go
    r = batch.run([inputs / "img_0.dng", inputs / "img_1.dng"], out, executor="inline")
    assert [(x.output, x.status) for x in r] == [("img_0.jpg", "failed"), ("img_1.jpg", "done")]
    assert "cannot put the output in place" in r.rows[0].reason
    assert not any((out / ".rawlux" / "tmp").iterdir())


def test_scheduler_without_dask_says_what_to_install(inputs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(InvalidParameter, match=r"rawlux\[cluster\]"):
        batch.run([inputs / "img_0.dng"], tmp_path / "o", scheduler="tcp://127.0.0.1:8786")
    assert not (tmp_path / "o").exists()  # refused before any work


def test_ctrl_c_stops_workers_leaves_no_temp_and_resumes(inputs, clean, tmp_path):
    out = tmp_path / "out"
    args = [str(inputs), "-r", "--out-dir", str(out), "--workers", "2", "--quiet"]
    e = {k: v for k, v in os.environ.items() if k not in ("RAWLUX_DEBUG", "RAWLUX_BATCH_FAULT")}
    p = subprocess.Popen([*RAWLUX, "batch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=e, start_new_session=True)
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and outputs(out):  # at least one output committed: interrupt now
            break
        time.sleep(0.01)
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C does: the whole process group
    _, err = p.communicate(timeout=60)
    if p.returncode == 1:  # the machine was fast enough to finish first: nothing to check
        pytest.skip("batch finished before the interrupt")
    assert p.returncode == 130 and err.strip().endswith("rawlux: error: interrupted"), err
    assert not any((out / ".rawlux" / "tmp").iterdir())
    p = _cli(*args)
    p.communicate(timeout=120)
    assert_exactly_once(out, clean)


def test_ledger_state_and_event_change_together(tmp_path):
    """An interruption between a state change and its event (Ctrl-C) leaves neither."""

    class Interrupted(Ledger):
        def _event(self, key: str, event: str, detail: str = "") -> None:
            if event == "done":
                raise KeyboardInterrupt
            super()._event(key, event, detail)

    with Interrupted(tmp_path / "l.sqlite") as led:
        led.start("a.jpg", "develop", ("/x/a.dng",), "[]", "h")
        led.committing("a.jpg", "/tmp/t", "sha", 3, 0.1, "w")
        with pytest.raises(KeyboardInterrupt):
            led.done("a.jpg")
        assert led.rows()["a.jpg"].state == "committing" and led.event_counts("done") == {}


def test_damaged_ledger_is_a_clear_error(inputs, tmp_path):
    (tmp_path / "o" / ".rawlux").mkdir(parents=True)
    (tmp_path / "o" / ".rawlux" / "ledger.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(OutputError, match="ledger is unreadable"):
        batch.run([inputs / "img_0.dng"], tmp_path / "o", executor="inline")
