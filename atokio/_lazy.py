"""Submodules that load on first use (``atokio.connectors.darshan`` after ``import atokio``)."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["submodule"]


def submodule(package: str, name: str) -> ModuleType:
    """``package.name`` imported now, for a package's module ``__getattr__``.

    As in pytokio, a script may reach ``tokio.tools.hdf5`` through the
    package it imported; atokio imports the module at that moment instead of
    loading every connector up front.  Unknown names raise AttributeError.
    """
    if not name.startswith("__"):
        try:
            found = importlib.util.find_spec(f"{package}.{name}") is not None
        except (ImportError, ValueError):
            found = False
        if found:
            return importlib.import_module(f"{package}.{name}")
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
