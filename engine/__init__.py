"""qstore-tui engine: circuits, simulator, compiler, IonQ client, trainer, store. No UI imports."""

__version__ = "0.1.0"
