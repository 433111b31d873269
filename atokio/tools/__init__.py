"""atokio.tools."""

from __future__ import annotations

from types import ModuleType

from atokio._lazy import submodule


def __getattr__(name: str) -> ModuleType:
    """Submodules load on first use (``atokio.tools.<module>`` after ``import atokio``)."""
    return submodule(__name__, name)
