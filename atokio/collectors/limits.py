"""Configurable bounds of time and size for everything that reads untrusted sources.

One home for the defaults and their settings: a value comes from the
environment variable ``ATOKIO_<NAME>`` (``PYTOKIO_<NAME>`` also works), else
from the configuration key ``<name>`` (lower case), else the default here.

Sizes accept a plain number of bytes or a number with a binary suffix
(``512K``, ``300M``, ``2G``, ``1T``; ``KiB``/``MiB``/... and ``KB``/``MB``/...
mean the same); durations are seconds (``90``, ``2.5``).  ``0``, ``none`` and
``unlimited`` switch a bound off.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = [
    "DEFAULTS",
    "LimitExceeded",
    "format_size",
    "parse_duration",
    "parse_size",
    "setting_duration",
    "setting_size",
]

#: The bounds atokio applies unless told otherwise.
DEFAULTS: dict[str, Any] = {
    # the child process reading a Darshan log: address space and wall-clock time
    "DARSHAN_MEMORY_LIMIT": 2 << 30,
    "DARSHAN_TIME_LIMIT": 300.0,
    # one HTTP request: whole exchange, and the body
    "HTTP_DEADLINE": 300.0,
    "HTTP_MAX_BODY": 1 << 30,
    # one database query, from sending it to its last row
    "MYSQL_DEADLINE": 3600.0,
    # one command: wall-clock time until it exits (its stderr is kept to its last
    # atokio.collectors.subprocess.STDERR_KEEP bytes; its stdout is streamed)
    "COMMAND_DEADLINE": 3600.0,
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
_OFF = {"0", "none", "unlimited", "off", ""}


class LimitExceeded(RuntimeError):
    """A bound of time or size was hit (the message names the source, the bound and its setting)."""


def parse_size(text: str | int | float | None, what: str = "size") -> int | None:
    """Bytes for ``"2G"``, ``"512M"``, ``1048576`` ...; None for no bound.

    Raises ValueError naming ``what`` for anything else.
    """
    if text is None:
        return None
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text) if text > 0 else None
    value = str(text)
    if value.strip().lower() in _OFF:
        return None
    found = _SIZE.match(value)
    if found is None:
        raise ValueError(
            f"{what}: {value!r} is not a size: give bytes or a number with K, M, G or T"
        )
    scale = 1 << (10 * "kmgtp".find(found.group(2).lower()) + 10) if found.group(2) else 1
    return int(float(found.group(1)) * scale) or None


def parse_duration(text: str | int | float | None, what: str = "duration") -> float | None:
    """Seconds for ``"90"``, ``2.5`` ...; None for no bound.  Raises ValueError naming ``what``."""
    if text is None:
        return None
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text) if text > 0 else None
    value = str(text).strip().lower()
    if value in _OFF:
        return None
    try:
        seconds = float(value.rstrip("s"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number of seconds") from None
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"{what}: {text!r} is not a number of seconds")
    return seconds or None


def _raw(name: str) -> Any:
    for prefix in ("ATOKIO_", "PYTOKIO_"):
        value = os.environ.get(prefix + name)
        if value is not None:
            return value, prefix + name
    from atokio import config

    key = name.lower()
    if key in config.CONFIG:
        return config.CONFIG[key], f"configuration key {key!r}"
    return DEFAULTS[name], None


def setting_size(name: str) -> int | None:
    """The size bound ``name`` (a key of :data:`DEFAULTS`) in bytes, or None for none."""
    value, where = _raw(name)
    return parse_size(value, where or f"ATOKIO_{name}")


def setting_duration(name: str) -> float | None:
    """The time bound ``name`` (a key of :data:`DEFAULTS`) in seconds, or None for none."""
    value, where = _raw(name)
    return parse_duration(value, where or f"ATOKIO_{name}")


def format_size(size: int) -> str:
    """``size`` bytes for a message (``2 GiB``, ``300 MiB``, ``512 bytes``)."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"
