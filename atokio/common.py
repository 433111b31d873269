"""Common convenience routines (``tokio.common``).

Time-zone policy (the reference's, kept for compatibility): a *naive*
``datetime`` means local time, i.e. the zone of the process (``TZ``).
:func:`to_epoch` converts it with the C library's ``mktime``, so a day has 23
or 25 hours on daylight-saving changes; an *aware* datetime is converted by
its own zone.  Epoch seconds are absolute.  The reference's test data assume
``TZ=America/Los_Angeles``.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gzip
import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ConfigError",
    "JSONEncoder",
    "atomic_output",
    "atomic_path",
    "check_output_path",
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


def check_output_path(path: str) -> str:
    """``path`` when a file may be written there, else an :class:`OSError` naming it.

    The folder must exist (it is never created) and ``path`` must not be a
    directory.  Returns ``path`` unchanged, so it serves as an argument type.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "output folder does not exist", folder)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "output is a directory", path)
    return path


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the file system allows it)."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def new_file_mode() -> int:
    """The permissions a new file gets under the process's umask (for files made by mkstemp)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def process_running(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts: it cannot be signalled,
    but it is there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


@contextlib.contextmanager
def atomic_output(path: str, mode: str = "w", *, replace: bool = True) -> Iterator[Any]:
    """A file object whose contents appear at ``path`` only when the block completes.

    The data goes to a new temporary file in ``path``'s folder (created
    exclusively, so no symlink is followed), which is flushed to disk and
    renamed over ``path`` at the end of the block; when the block raises,
    the temporary file is removed and ``path`` is left as it was.  A name
    ending in ``.gz`` is written gzip-compressed.  ``mode`` is ``"w"``
    (UTF-8 text) or ``"wb"``.  With ``replace=False`` an existing ``path``
    is kept and :class:`FileExistsError` raised instead.  The folder must
    exist (:func:`check_output_path`).
    """
    check_output_path(path)
    folder, name = os.path.split(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, new_file_mode())
        with os.fdopen(handle, "wb") as raw:
            packed = gzip.GzipFile(fileobj=raw, mode="wb") if path.endswith(".gz") else None
            binary: Any = packed if packed is not None else raw
            if "b" in mode:
                yield binary
            else:
                text = io.TextIOWrapper(binary, encoding="utf-8")
                yield text
                text.flush()
                text.detach()
            if packed is not None:
                packed.close()
            raw.flush()
            os.fsync(raw.fileno())
        if not replace and os.path.exists(path):
            raise FileExistsError(errno.EEXIST, "output exists and is kept", path)
        os.replace(temporary, path)
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def atomic_path(path: str, *, copy_existing: bool = False) -> Iterator[str]:
    """The name of a scratch file that becomes ``path`` only when the block completes.

    For writers that need a file name (SQLite, HDF5): the scratch file is
    created exclusively in ``path``'s folder, starts as a copy of an
    existing ``path`` with ``copy_existing`` (else empty), and is renamed
    over ``path`` at the end of the block; when the block raises it is
    removed and ``path`` is left as it was.  The folder must exist.
    """
    import shutil

    check_output_path(path)
    folder, name = os.path.split(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, new_file_mode())
        if copy_existing and os.path.isfile(path):
            with open(path, "rb") as source, os.fdopen(handle, "wb") as target:
                shutil.copyfileobj(source, target)
        else:
            os.close(handle)
        yield temporary
        with open(temporary, "rb+") as done:
            os.fsync(done.fileno())
        os.replace(temporary, path)
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
