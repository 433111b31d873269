"""How the report service is configured: body limit, bearer token, capacity per source.

Every setting has a default that is safe on a shared machine and can be
changed from the environment (for any ASGI server) or by ``atokio serve``'s
options (which win):

* ``ATOKIO_SERVICE_TOKEN`` — when set, every route asks for
  ``Authorization: Bearer <token>``;
* ``ATOKIO_SERVICE_BODY_LIMIT`` — the largest request body in bytes
  (default 1 GiB); suffixes ``K``, ``M``, ``G`` (powers of 1024) are accepted;
* ``ATOKIO_SERVICE_LIMITS`` — capacity per source as ``name=N`` pairs
  separated by commas, e.g. ``darshan=2,tts=4`` (names: :data:`SOURCES`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from atokio.collectors.workers import default_workers

__all__ = ["DEFAULT_BODY_LIMIT", "SOURCES", "ServiceSettings", "parse_limits", "parse_size"]

#: The default request body limit: 1 GiB.
DEFAULT_BODY_LIMIT = 1 << 30

#: The sources the service reads, each with its own capacity limit.
SOURCES = ("darshan", "tts", "jobinfo", "plots")

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``"1048576"``, ``"512M"``, ``"1G"`` or ``"1GiB"`` (powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"body limit {text!r} is not a size: use bytes or a number with K, M or G")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_limits(text: str) -> dict[str, int]:
    """``{"darshan": 2, ...}`` from ``"darshan=2,tts=4"``; unknown names or bad counts raise."""
    limits: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, count = item.partition("=")
        name = name.strip()
        if not sep or name not in SOURCES:
            raise ValueError(
                f"source limit {item!r}: write NAME=N with NAME one of {', '.join(SOURCES)}"
            )
        try:
            value = int(count)
        except ValueError:
            raise ValueError(f"source limit {item!r}: {count!r} is not a whole number") from None
        if value < 1:
            raise ValueError(f"source limit {item!r}: the capacity must be at least 1")
        limits[name] = value
    return limits


def _default_limits() -> dict[str, int]:
    cores = default_workers()
    return {"darshan": 2 * cores, "tts": 4, "jobinfo": 4, "plots": cores}


@dataclass
class ServiceSettings:
    """The settings of one service instance (see the module docstring)."""

    #: The bearer token every request must carry; ``None``: no authentication.
    token: str | None = None
    #: The largest request body accepted, in bytes (larger ones get 413).
    body_limit: int = DEFAULT_BODY_LIMIT
    #: How many requests may use each source at once (the others wait their turn).
    limits: dict[str, int] = field(default_factory=_default_limits)
    #: How many finished reports the pages keep for their images (oldest dropped first).
    reports_kept: int = 64

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Settings from ``ATOKIO_SERVICE_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        settings = cls()
        settings.token = env.get("ATOKIO_SERVICE_TOKEN") or None
        if env.get("ATOKIO_SERVICE_BODY_LIMIT"):
            settings.body_limit = parse_size(env["ATOKIO_SERVICE_BODY_LIMIT"])
        if env.get("ATOKIO_SERVICE_LIMITS"):
            settings.limits.update(parse_limits(env["ATOKIO_SERVICE_LIMITS"]))
        return settings
