"""The rawlux version (also in ``pyproject.toml``); written into every output's Software tag."""

__version__ = "0.1.0"
