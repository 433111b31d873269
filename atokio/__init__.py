"""atokio: Total Knowledge of I/O, an async collector with streaming parsers.

The documented pytokio interface lives under the same module paths
(``tokio.connectors.darshan`` is ``atokio.connectors.darshan``).  Importing
atokio loads the site configuration (:mod:`atokio.config`); the subpackages are
imported when first used, so ``import atokio`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from atokio import config
from atokio.common import ConfigError

__version__ = "0.1.0"

__all__ = ["ConfigError", "__version__", "config"]

_SUBMODULES = frozenset(
    {
        "analysis",
        "archive",
        "cli",
        "collectors",
        "common",
        "connectors",
        "debug",
        "parsers",
        "timeseries",
        "tools",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"atokio.{name}")
    raise AttributeError(f"module 'atokio' has no attribute {name!r}")
