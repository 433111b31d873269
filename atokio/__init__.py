"""atokio: Total Knowledge of I/O, an async collector with streaming parsers.

The documented pytokio interface lives under the same module paths
(``tokio.connectors.darshan`` is ``atokio.connectors.darshan``).  Importing
atokio loads the site configuration (:mod:`atokio.config`); the subpackages are
imported when first used, so ``import atokio`` stays light.
"""

from __future__ import annotations

from types import ModuleType

from atokio import config
from atokio._lazy import submodule
from atokio.common import ConfigError

__version__ = "0.1.0"

__all__ = ["ConfigError", "__version__", "config"]


def __getattr__(name: str) -> ModuleType:
    """Subpackages and modules load on first use (``atokio.tools.hdf5`` after ``import atokio``)."""
    return submodule(__name__, name)
