"""``rawlux portrait``: subject mask + depth + lens bokeh on a raw or a photo."""

from __future__ import annotations

from pathlib import Path

import typer

from rawlux.cli.common import run_guarded
from rawlux.core.limits import terminal_safe


def parse_focus(text: str | None) -> tuple[float, float] | None:
    """``"X,Y"`` as fractions of width/height (0..1) -> tuple; None passes through."""
    if text is None:
        return None
    from rawlux.core.errors import InvalidParameter

    parts = text.replace(" ", "").split(",")
    try:
        x, y = (float(v) for v in parts)
    except ValueError:
        raise InvalidParameter(f"--focus {text!r} must be X,Y fractions of the frame, e.g. 0.5,0.4") from None
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise InvalidParameter(f"--focus {text!r}: X and Y must be in [0, 1]")
    return x, y




def _note(msg: str) -> None:
    typer.echo(f"rawlux: {terminal_safe(msg)}", err=True)


def run_portrait(src: Path, dst: Path, *, lens: str = "50", aperture: float = 0.0,
                 focus: str | None = None, depth: Path | None = None, look: str | None = None,
                 save_mask: Path | None = None, save_depth: Path | None = None,
                 mask_file: Path | None = None, framing: float | None = None, quality: int = 92,
                 use_original: bool = True, depth_white: str = "far", subject: str = "auto",
                 verbose: bool = True) -> None:
    """Read ``src`` (raw or photo), render the portrait, write ``dst`` (+ mask/depth files)."""
    import numpy as np

    from rawlux.core.errors import InvalidParameter, OutputError
    from rawlux.cli.common import load_raw
    from rawlux.io.photo import open_photo
    from rawlux.io.probe import input_kind
    from rawlux.io.write import save, supported_extensions
    from rawlux.portrait.lens import load_lens
    from rawlux.portrait.render import SCENE_FRAMING, grey_image, portrait

    from rawlux.portrait.mask import SUBJECT_MODES

    point = parse_focus(focus)
    if subject not in SUBJECT_MODES:
        raise InvalidParameter(f"--subject {subject!r} must be one of {', '.join(SUBJECT_MODES)}")
    if depth_white not in ("far", "near"):
        raise InvalidParameter(f"--depth-white {depth_white!r} must be 'far' or 'near'")
    from rawlux.io.safety import check_outputs

    lens_p = load_lens(lens)
    inputs = [p for p in (src, depth, mask_file) if p is not None]
    check_outputs([dst, save_mask, save_depth], inputs)
    for out in (dst, save_mask, save_depth):
        if out is not None and out.suffix.lower() not in supported_extensions():
            raise OutputError(f"unknown output extension {out.suffix or '(none)'!r}; "
                              f"supported: {', '.join(supported_extensions())}", out)
    is_photo = input_kind(src) == "photo"  # by content, the decision every command shares
    if is_photo:
        img = open_photo(src)
        if look:
            _note("--look applies to raw input only; the photo keeps its rendering")
    else:
        from rawlux.develop import develop

        img = develop(load_raw(src), **({"look": look} if look else {}))

    from rawlux.io.depth import read_depth_image, read_embedded_depth, read_embedded_original

    dmap = None
    if depth is not None:
        dmap = read_depth_image(depth, near_is_white=depth_white == "near")
    elif is_photo:
        dmap = read_embedded_depth(src)
        if dmap is not None and verbose:
            _note(f"using the depth map embedded in {src.name} ({dmap.source})")
    if is_photo and use_original and dmap is not None and dmap.source == "gdepth":
        orig = read_embedded_original(src)
        if orig is not None and orig.shape[:2] == (img.height, img.width):
            img = img.with_data(orig)
            if verbose:
                _note("rendering from the unblurred original kept in the file (GImage)")
    mask = None
    if mask_file is not None:
        m = open_photo(mask_file)
        mask = np.asarray(m.data.mean(axis=2), np.float32)
        if mask.shape != (img.height, img.width):
            raise InvalidParameter(f"{mask_file}: mask is {mask.shape[1]}x{mask.shape[0]}, "
                                   f"image is {img.width}x{img.height}")
    if mask is None and is_photo:  # HEIC only: the reader checks the content
        from rawlux.io.depth import read_embedded_matte

        matte = read_embedded_matte(src)
        if matte is not None:
            import cv2

            mask = cv2.resize(matte, (img.width, img.height), interpolation=cv2.INTER_LINEAR)
            if verbose:
                _note(f"using the portrait matte embedded in {src.name}")
    res = portrait(img, lens=lens_p, aperture=aperture, focus=point, depth=dmap, mask=mask,
                   framing=framing, subject=subject, need_mask=save_mask is not None)
    if res.note and verbose and subject == "auto":
        where = "the --focus point" if point is not None else "the frame centre"
        _note(f"{src.name}: no person or clear subject found ({res.note}); focusing at "
              f"{where} with scene depth, framing {framing or SCENE_FRAMING:g} m "
              "(--subject salient forces the most salient region, --focus X,Y the point)")
    save(res.image, dst, protect=inputs, quality=quality)
    if save_mask is not None and res.mask is not None:
        save(grey_image(res.mask), save_mask, protect=inputs, exif=False)
    if save_depth is not None:
        save(grey_image(res.depth.to_image()), save_depth, protect=inputs, exif=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def portrait(
        input: Path = typer.Argument(..., help="raw file or photo (JPEG/HEIC/PNG/TIFF)"),
        output: Path = typer.Option(..., "-o", "--output", help="output photo (.jpg .png .tif .heic ...)"),
        lens: str = typer.Option("50", "--lens", help="35 | 50 | 75 | 90 or a lens .toml file"),
        aperture: float = typer.Option(0.0, "--aperture", help="f-number (default: the lens' own)"),
        focus: str | None = typer.Option(None, "--focus", help="X,Y focal point as fractions 0..1"),
        depth: Path | None = typer.Option(None, "--depth", help="depth picture (see --depth-white)"),
        depth_white: str = typer.Option("far", "--depth-white",
                                        help="what white means in --depth: far (Google) | near"),
        look: str | None = typer.Option(None, "--look", help="look for raw input"),
        save_mask: Path | None = typer.Option(None, "--save-mask", help="write the subject mask"),
        save_depth: Path | None = typer.Option(None, "--save-depth", help="write the depth used"),
        mask_file: Path | None = typer.Option(None, "--mask", help="use this subject mask (grey)"),
        framing: float | None = typer.Option(None, "--framing",
                                             help="scene height at the focal plane, metres "
                                                  "(default 1; 10 for a scene without a subject)"),
        quality: int = typer.Option(92, "--quality", min=1, max=100, help="JPEG/HEIC/AVIF quality"),
        original: bool = typer.Option(True, "--original/--no-original",
                                      help="render from a Lens Blur file's unblurred original"),
        subject: str = typer.Option("auto", "--subject",
                                    help="auto (a clear subject or none) | salient (always the "
                                         "most salient region) | none (scene depth only)"),
    ) -> None:
        """Portrait mode: blur the background like a 35/50/75/90 mm lens."""
        run_guarded(lambda: run_portrait(
            input, output, lens=lens, aperture=aperture, focus=focus, depth=depth, look=look,
            save_mask=save_mask, save_depth=save_depth, mask_file=mask_file, framing=framing,
            quality=quality, use_original=original, depth_white=depth_white,
            subject=subject), context=str(input))
