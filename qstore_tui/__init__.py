"""qstore-tui: the Textual control room for the qstore engine."""

from engine import __version__

__all__ = ["__version__"]
