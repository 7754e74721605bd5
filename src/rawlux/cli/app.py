"""The ``rawlux`` command: a typer app; each feature registers its commands from its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="rawlux",
    help="rawlux: raw captures in, finished photographs out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.callback()
def _global_options(
    max_megapixels: float = typer.Option(
        None, "--max-megapixels", min=0.001, envvar="RAWLUX_MAX_MEGAPIXELS", show_envvar=True,
        help="memory budget: refuse images (and canvases, depth maps, bursts) needing more than "
             "this many megapixels of a develop (default: from the available RAM)"),
) -> None:
    """rawlux: raw captures in, finished photographs out."""
    import os

    if max_megapixels is not None:
        os.environ["RAWLUX_MAX_MEGAPIXELS"] = f"{max_megapixels:g}"


# Feature modules, each exposing ``register(app)``. Missing optional features are skipped.
FEATURES = ("develop", "info", "looks", "night", "portrait", "frame", "hdr", "batch", "studio")


def _register_all() -> None:
    for name in FEATURES:
        try:
            mod = importlib.import_module(f"rawlux.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rawlux.cli.{name}":
                continue
            raise
        mod.register(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
