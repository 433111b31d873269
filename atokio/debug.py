"""Debug and error messages (``tokio.debug``), on the :mod:`logging` module.

Messages go to the ``atokio`` logger; when nothing configured logging, they
are written to stderr as the reference does.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["DEBUG", "debug_print", "error", "warning"]

#: When true, :func:`debug_print` messages are shown.
DEBUG = False

logger = logging.getLogger("atokio")


def _emit(level: int, string: str) -> None:
    if logger.hasHandlers():
        logger.log(level, "%s", string)
    else:
        sys.stderr.write(string.rstrip("\n") + "\n")


def debug_print(string: str) -> None:
    """Print a debug message if :data:`DEBUG` is on."""
    if DEBUG:
        _emit(logging.DEBUG, string)


def error(string: str) -> None:
    """Report an error (to stderr; no exception is raised)."""
    _emit(logging.ERROR, string)


def warning(string: str) -> None:
    """Report a warning (to stderr)."""
    _emit(logging.WARNING, string)
