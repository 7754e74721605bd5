"""``rawlux hdr``: merge an exposure bracket (raw frames, or developed JPEGs) into one photo,
a scene-referred raw (.dng) or scene-referred float (.exr / .tif)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rawlux.cli.common import run_guarded


def read_exposures(path: Path) -> dict[str, float]:
    """``exposures.txt``: lines ``FILENAME SECONDS`` (``#`` comments; ``1/250`` allowed)."""
    from fractions import Fraction

    from rawlux.core.errors import InvalidParameter

    out: dict[str, float] = {}
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            t = float(Fraction(parts[-1]))
        except (ValueError, ZeroDivisionError):
            raise InvalidParameter(f"{path}:{n}: {parts[-1]!r} is not an exposure time in seconds") from None
        out[" ".join(parts[:-1])] = t
    return out


def _times(frames: list[Path], exposures: Optional[Path], metas: list) -> list[float]:
    from rawlux.core.errors import InvalidParameter

    table = None
    if exposures is None:
        cand = frames[0].parent / "exposures.txt"
        if cand.is_file() and all(m.exposure_time is None for m in metas):
            exposures = cand
    if exposures is not None:
        table = read_exposures(exposures)
    times = []
    for f, m in zip(frames, metas):
        t = table.get(f.name) if table is not None else None
        if t is None:
            t = m.exposure_time
        if t is None:
            raise InvalidParameter(f"{f}: no exposure time (no EXIF ExposureTime and not listed in "
                                   f"{exposures or 'an exposures.txt'}); pass --exposures FILE")
        times.append(float(t))
    return times


def hdr_merge(frames: list[Path], output: Path, *, look: Optional[str] = None,
              color_space: str = "srgb", hdr: bool = False, exposures: Optional[Path] = None,
              headroom: Optional[float] = None, quality: int = 92) -> Path:
    """Merge ``frames`` (raws by content, else developed photos) and write ``output``."""
    from rawlux.core.errors import InvalidParameter, OutputError
    from rawlux.io.probe import input_kind
    from rawlux.io.write import save, supported_extensions

    ext = output.suffix.lower()
    if ext != ".dng" and ext not in supported_extensions():
        raise OutputError(f"unknown output extension {ext or '(none)'!r}; use .dng, .exr, .tif or "
                          f"a photo format: {', '.join(supported_extensions())}", output)
    scene_out = ext in (".exr",)
    if hdr:
        from rawlux.hdr.render import check_hdr_outputs

        check_hdr_outputs([output])
    if len(frames) < 2:
        raise InvalidParameter(f"a bracket merge needs at least two frames, got {len(frames)}")
    for f in frames:
        if not f.is_file():
            from rawlux.core.errors import MissingInput

            raise MissingInput("no such file", f)
    kinds = {input_kind(f) for f in frames}
    if len(kinds) > 1:
        raise InvalidParameter("a bracket is all raw files or all developed photos, not a mix")
    from rawlux.develop import DEFAULT_LOOK
    from rawlux.hdr.render import HdrParams

    hp = HdrParams(headroom=headroom) if hdr else None
    if kinds == {"raw"}:
        from rawlux.hdr.merge import merge_brackets

        if exposures is not None:
            raise InvalidParameter("--exposures is for developed (JPEG) brackets; raw frames carry "
                                   "their exposure in EXIF")
        merged = merge_brackets(frames)
        if ext == ".dng":
            from rawlux.io.dng import write_dng

            write_dng(merged, output, black=1024.0, white=65535.0)
            return output
        from rawlux.burst.merge import to_dn
        from rawlux.develop import develop

        scene = develop(to_dn(merged), scene_referred=True)  # linear Rec.2020, upright
        if scene_out:
            return save(scene, output, protect=frames)
        from rawlux.core.image import ColorSpace
        from rawlux.hdr.render import render_scene

        img = render_scene(scene.data, ColorSpace.REC2020, scene.metadata, look=look or DEFAULT_LOOK,
                           color_space=color_space, hdr=hp)
        return save(img, output, protect=frames, quality=quality)
    if ext == ".dng":
        raise OutputError("developed photos merge into a photo or scene-referred .exr/.tif, not "
                          "a raw .dng", output)
    import numpy as np

    from rawlux.core.image import ColorSpace, Encoding, Image, Referred
    from rawlux.hdr.render import render_scene
    from rawlux.hdr.response import merge_developed
    from rawlux.io.photo import open_photo

    photos = [open_photo(f) for f in frames]
    times = _times(frames, exposures, [p.metadata for p in photos])
    spaces = {p.space for p in photos}
    if len(spaces) > 1:
        raise InvalidParameter("the frames are in different colour spaces")
    images = [np.clip(np.rint(p.data * 255.0), 0, 255).astype(np.uint8) for p in photos]
    space = photos[0].space
    meta = photos[int(np.argsort(times)[len(times) // 2])].metadata
    del photos
    radiance, _g, _info = merge_developed(images, times)
    if scene_out:
        from rawlux.color.spaces import rgb_to_rgb

        m = rgb_to_rgb(space, ColorSpace.REC2020)
        data = (radiance.reshape(-1, 3) @ m.T).reshape(radiance.shape).astype(np.float32)
        img = Image(np.maximum(data, 0.0), ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE,
                    metadata=meta)
        return save(img, output, protect=frames)
    img = render_scene(radiance, space, meta, look=look or DEFAULT_LOOK, color_space=color_space,
                       hdr=hp)
    return save(img, output, protect=frames, quality=quality)


def register(app: typer.Typer) -> None:
    @app.command()
    def hdr(
        frames: list[Path] = typer.Argument(..., help="bracket frames: raws (same camera) or developed JPEGs"),
        output: Path = typer.Option(..., "-o", "--output",
                                    help="photo (.jpg ...), .dng (raw frames: merged raw) or .exr (scene-referred)"),
        look: Optional[str] = typer.Option(None, "--look", help="look of the finished photo"),
        color_space: str = typer.Option("srgb", "--color-space", help="srgb | p3"),
        ultra: bool = typer.Option(False, "--hdr", help="Ultra HDR JPEG: the photo plus a gain map"),
        headroom: Optional[float] = typer.Option(None, "--headroom", min=0.0, max=6.0,
                                                 help="with --hdr: stops over SDR white (default: "
                                                      "what the scene needs, at most 3)"),
        exposures: Optional[Path] = typer.Option(None, "--exposures",
                                                 help="developed frames without EXIF: a file of "
                                                      "'FILENAME SECONDS' lines"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
    ) -> None:
        """Merge an exposure bracket into one high-dynamic-range photo or raw."""
        run_guarded(lambda: hdr_merge(frames, output, look=look, color_space=color_space, hdr=ultra,
                                      exposures=exposures, headroom=headroom, quality=quality),
                    context="hdr")
