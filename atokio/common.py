"""Common convenience routines (``tokio.common``).

Time-zone policy (the reference's, kept for compatibility): a *naive*
``datetime`` means local time, i.e. the zone of the process (``TZ``).
:func:`to_epoch` converts it with the C library's ``mktime``, so a day has 23
or 25 hours on daylight-saving changes; an *aware* datetime is converted by
its own zone.  Epoch seconds are absolute.  The reference's test data assume
``TZ=America/Los_Angeles``.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

__all__ = [
    "ConfigError",
    "JSONEncoder",
    "humanize_bytes",
    "isstr",
    "recast_string",
    "to_epoch",
]


class ConfigError(RuntimeError):
    """No valid provider or configuration for what was asked (e.g. job lookups)."""


class JSONEncoder(json.JSONEncoder):
    """JSON encoder for common atokio types.

    datetimes and dates become ISO 8601 strings; sets and frozensets become
    lists (sorted when their items can be sorted); numpy scalars and arrays
    become Python numbers and lists; bytes are decoded as UTF-8.

    The constructor takes the documented (Python 2 era) signature,
    positionally too: ``skipkeys, ensure_ascii, check_circular, allow_nan,
    sort_keys, indent, separators, encoding, default``.  ``encoding`` is
    accepted and ignored: JSON text is always Unicode in Python 3.
    """

    def __init__(
        self,
        skipkeys: bool = False,
        ensure_ascii: bool = True,
        check_circular: bool = True,
        allow_nan: bool = True,
        sort_keys: bool = False,
        indent: int | str | None = None,
        separators: tuple[str, str] | None = None,
        encoding: str = "utf-8",
        default: Any = None,
    ) -> None:
        super().__init__(
            skipkeys=skipkeys,
            ensure_ascii=ensure_ascii,
            check_circular=check_circular,
            allow_nan=allow_nan,
            sort_keys=sort_keys,
            indent=indent,
            separators=separators,
            default=default,
        )
        self.encoding = encoding

    def default(self, o: Any) -> Any:
        """datetimes/dates as ISO 8601, sets as lists, numpy values as Python ones, bytes as text."""
        if isinstance(o, datetime.datetime | datetime.date | datetime.time):
            return o.isoformat()
        if isinstance(o, set | frozenset):
            try:
                return sorted(o)
            except TypeError:
                return list(o)
        if isinstance(o, bytes):
            return o.decode("utf-8", errors="replace")
        tolist = getattr(o, "tolist", None)  # numpy scalars and arrays
        if callable(tolist):
            return tolist()
        return super().default(o)


_BASE2_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_BASE10_UNITS = ("bytes", "KB", "MB", "GB", "TB", "PB", "EB")


def humanize_bytes(bytect: float, base10: bool = False, fmt: str | None = "%.1f %s") -> str:
    """A byte count as a quantity and unit: ``humanize_bytes(1536) == '1.5 KiB'``.

    Base-2 units (``bytes``, ``KiB``, ``MiB``, ... ``EiB``) by default; base-10
    (``KB``, ``MB``, ...) with ``base10=True``.  ``fmt`` takes the quantity and
    the unit; ``None`` means ``"%.1f %s"``.
    """
    divisor = 1000.0 if base10 else 1024.0
    units = _BASE10_UNITS if base10 else _BASE2_UNITS
    value = float(bytect)
    index = 0
    while abs(value) >= divisor and index < len(units) - 1:
        value /= divisor
        index += 1
    return (fmt or "%.1f %s") % (value, units[index])


def isstr(obj: Any) -> bool:
    """Whether ``obj`` is a string."""
    return isinstance(obj, str)


def recast_string(value: Any) -> Any:
    """The most precise value a string spells: int, then float, then bool, else the string.

    ``"12"`` -> 12, ``"1.5"`` -> 1.5, ``"true"``/``"false"`` (any case) -> bool;
    anything else, and non-strings (``None`` included), come back unchanged.
    """
    if not isinstance(value, str):
        return value
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        pass
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return value


def to_epoch(datetime_obj: datetime.datetime, astype: type = int) -> Any:
    """Seconds since the epoch of a datetime; naive datetimes are local time.

    ``astype`` (``int`` or ``float``) is applied to the result.
    """
    if datetime_obj.tzinfo is not None:
        return astype(datetime_obj.timestamp())
    seconds = time.mktime(datetime_obj.timetuple()) + datetime_obj.microsecond / 1e6
    return astype(seconds)
