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

# Feature modules, each exposing ``register(app)``. Missing optional features are skipped.
FEATURES = ("develop", "info", "looks", "night", "portrait", "frame", "hdr", "batch")


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
