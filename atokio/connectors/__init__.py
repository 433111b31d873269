"""atokio.connectors."""

from __future__ import annotations

from types import ModuleType

from atokio._lazy import submodule


def __getattr__(name: str) -> ModuleType:
    """Submodules load on first use (``atokio.connectors.<module>`` after ``import atokio``)."""
    return submodule(__name__, name)
