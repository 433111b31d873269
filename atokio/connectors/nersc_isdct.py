"""Connect to NERSC's Intel Data Center Tool for SSDs outputs (``tokio.connectors.nersc_isdct``).

Processes and aggregates the outputs of the Intel SSD Data Center Tool (ISDCT)
in the form NERSC's daily script collects them: the script runs ISDCT on every
burst-buffer node and gathers each node's output text files into a directory
named after the node (``nid01234/*.txt``), optionally with an empty
``timestamp_YYYYMMDDHHMMSS`` file at the top; the whole tree may be packed as a
``.tar``, ``.tgz`` or ``.tar.gz`` (docs/formats.md#intel-isdct-dumps).

:class:`NerscIsdct` is a dict keyed by device serial number; each value is a
dict of counters (keys normalised to snake_case and values typed by
:mod:`atokio.parsers.isdct`), plus ``node_name``, ``timestamp`` and the
synthesised metrics of :meth:`NerscIsdct._synthesize_metrics`.  It can also be
loaded from its own JSON cache (plain or gzip).

Each member file is streamed into an :class:`~atokio.parsers.isdct.IsdctParser`;
a member that cannot be parsed is a warning naming the member and line, and
the devices read before the bad line are kept.  Files of a directory bundle
are read in sorted order; a tar bundle's members in the order they were
stored.  When two files give the same counter of the same device, the later
file wins (as in the reference; which one that is depends on member order).
"""

from __future__ import annotations

import datetime
import logging
import os
import tarfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from atokio.common import to_epoch
from atokio.connectors.common import CacheableDict, walk_file_collection
from atokio.parsers.base import ParseError
from atokio.parsers.isdct import (
    IsdctDevice,
    IsdctParser,
    normalize_key,
    recast_value,
    rekey_smart_buffer,
)

__all__ = [
    "DATA_UNIT_BYTES",
    "NerscIsdct",
    "SMART_WRITE_UNIT_BYTES",
    "normalize_key",
    "parse_counters_fileobj",
    "recast_value",
]

logger = logging.getLogger(__name__)

#: Bytes per NVMe "data unit" (1000 sectors of 512 bytes).
DATA_UNIT_BYTES = 1000 * 512
#: Bytes per unit of the SMART ``*_bytes_written`` raw counters (32 MiB).
SMART_WRITE_UNIT_BYTES = 32 * 1024 * 1024

_TIMESTAMP_PREFIX = "timestamp_"
_TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
_CHUNK = 1 << 16


def _decode_nersc_nid(path: str) -> str | None:
    """The node name of an ISDCT output file: the name of the directory holding it.

    ``sample_nersc_isdct_dir/nid00842/ssd1_drive_info.txt`` -> ``nid00842``;
    ``None`` for a file at the top of the bundle.
    """
    parent = os.path.basename(os.path.dirname(os.path.normpath(path)))
    return parent or None


def _normalize_key(key: str) -> str:
    """Convert Intel's mixed camelCase/snake_case counter names to snake_case.

    See :func:`atokio.parsers.isdct.normalize_key`.
    """
    return normalize_key(key)


def _rekey_smart_buffer(smart_buffer: dict[str, Any]) -> dict[str, Any]:
    """Turn the values of one SMART register into unique ``smart_<description>_<key>`` counters.

    See :func:`atokio.parsers.isdct.rekey_smart_buffer`.
    """
    return rekey_smart_buffer(smart_buffer)


def _merge_parsed_counters(
    parsed_counters_list: Iterable[dict[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """Merge ``{serial: {counter: value}}`` dicts by serial number.

    Returns a dict keyed by every serial found, each value the union of that
    device's counters; a counter given again by a later element overwrites
    the earlier value.
    """
    merged: dict[str, dict[str, Any]] = {}
    for parsed in parsed_counters_list:
        for serial, counters in parsed.items():
            merged.setdefault(serial, {}).update(counters)
    return merged


def _parse_stream(
    handle: IO[bytes] | IO[str],
    source: str,
    nodename: str | None,
    on_error: Callable[[ParseError], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Stream one ISDCT output into the parser; ``{serial: counters}`` (merged).

    On bad text the devices completed before the bad line are kept; the
    error is then given to ``on_error`` (and the rest of the file skipped),
    or raised when there is no ``on_error``.
    """
    parser = IsdctParser(source=source, nodename=nodename)
    out: dict[str, dict[str, Any]] = {}

    def take(devices: Iterable[IsdctDevice]) -> None:
        for device in devices:
            out.setdefault(device.serial, {}).update(device.counters)

    try:
        while chunk := handle.read(_CHUNK):
            take(parser.feed(chunk.encode() if isinstance(chunk, str) else chunk))
        take(parser.close())
    except ParseError as error:
        take(error.records)  # type: ignore[arg-type]
        if on_error is None:
            raise
        on_error(error)
    return out


def parse_counters_fileobj(
    fileobj: IO[bytes] | IO[str], nodename: str | None = None
) -> dict[str, dict[str, Any]]:
    """Convert the output of one ISDCT command into counters.

    Understands ``isdct show -smart`` (SMART attributes), ``-sensor`` (device
    health sensors), ``-performance`` (performance metrics) and ``-a`` (drive
    info).  ``fileobj`` is a binary or text file object holding the output of
    a single ``isdct`` command; it is read in chunks.  ``nodename`` (if known)
    becomes each device's ``node_name``.

    Returns a dict of dicts keyed by device serial number.  Raises
    :class:`~atokio.parsers.base.ParseError` on text that is not ISDCT output.
    """
    source = str(getattr(fileobj, "name", "<isdct output>"))
    return _parse_stream(fileobj, source, nodename)


def _timestamp_of(name: str) -> int | None:
    """Epoch seconds of a ``timestamp_YYYYMMDDHHMMSS`` member name (local time)."""
    stamp = os.path.basename(name)[len(_TIMESTAMP_PREFIX) :]
    try:
        return int(to_epoch(datetime.datetime.strptime(stamp, _TIMESTAMP_FORMAT)))
    except ValueError:
        logger.warning("%s: not a timestamp_YYYYMMDDHHMMSS name; ignored", name)
        return None


def _warn(error: ParseError) -> None:
    logger.warning("%s (rest of the file skipped)", error)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class NerscIsdct(CacheableDict):
    """NERSC's ISDCT dumps, as a dict keyed by SSD serial number.

    ``input_file`` is a directory, a ``.tar``/``.tgz``/``.tar.gz`` bundle of
    NERSC's ISDCT collection, or a JSON cache written by :meth:`save_cache`
    (plain or gzip).  Keys are device serial numbers; values are dicts of
    counters (module docstring).
    """

    def __init__(self, input_file: str) -> None:
        super().__init__(input_file)

    def load(self, input_file: str | None = None) -> None:
        """Infer the type of input (bundle or JSON cache) and load it.

        A directory or tar file is parsed (:meth:`load_native`); any other file
        is read as a JSON cache.  A missing input raises ``FileNotFoundError``;
        a file that is neither a tar bundle nor JSON raises ``ValueError``.
        """
        path = input_file or self.input_file
        if path is None:
            raise ValueError("no input file given")
        if not os.path.exists(path):
            raise FileNotFoundError(f"Input file {path} does not exist")
        if os.path.isdir(path) or tarfile.is_tarfile(path):
            self.load_native(path)
        else:
            self.load_json(path)

    def load_native(self, input_file: str | None = None) -> None:
        """Load a collection of ISDCT outputs (directory or tar bundle).

        Every file is taken to hold the output of one ``isdct`` invocation and
        to sit in a directory named after its node (``nid00984/somefile.txt``).
        ``timestamp`` is the time of the ``timestamp_YYYYMMDDHHMMSS`` member
        (local time), else the oldest member's mtime, as epoch seconds.
        """
        path = input_file or self.input_file
        if path is None:
            raise ValueError("no input file given")
        parsed: list[dict[str, dict[str, Any]]] = []
        timestamp: int | None = None
        min_mtime: float | None = None
        for member, mtime, handle in walk_file_collection(path):
            min_mtime = mtime if min_mtime is None else min(min_mtime, mtime)
            if os.path.basename(member).startswith(_TIMESTAMP_PREFIX):
                timestamp = _timestamp_of(member) if timestamp is None else timestamp
                continue
            source = member if os.path.isdir(path) else f"{path}:{member}"
            parsed.append(_parse_stream(handle, source, _decode_nersc_nid(member), _warn))
        if timestamp is None and min_mtime is not None:
            timestamp = int(min_mtime)
        merged = _merge_parsed_counters(parsed)
        for counters in merged.values():
            if timestamp is not None:
                counters["timestamp"] = timestamp
        self.update(merged)
        self._synthesize_metrics()

    def _synthesize_metrics(self) -> None:
        """Add the metrics ISDCT does not report.

        * ``data_units_read_bytes``/``data_units_written_bytes``: NVMe data units
          x 512,000 bytes;
        * ``smart_nand_bytes_written_bytes``/``smart_host_bytes_written_bytes``:
          the SMART raw counters x 32 MiB;
        * ``write_amplification_factor``: NAND raw / host raw (when host > 0).
        """
        for counters in self.values():
            for key in ("data_units_read", "data_units_written"):
                value = counters.get(key)
                if _is_number(value):
                    counters[key + "_bytes"] = value * DATA_UNIT_BYTES
            for key in ("smart_nand_bytes_written", "smart_host_bytes_written"):
                value = counters.get(key + "_raw")
                if _is_number(value):
                    counters[key + "_bytes"] = value * SMART_WRITE_UNIT_BYTES
            nand = counters.get("smart_nand_bytes_written_raw")
            host = counters.get("smart_host_bytes_written_raw")
            if _is_number(nand) and _is_number(host) and host > 0:
                counters["write_amplification_factor"] = nand / host

    def diff(
        self, old_isdct: dict[str, dict[str, Any]], report_zeros: bool = True
    ) -> dict[str, Any]:
        """Highlight differences between self and an older NerscIsdct.

        Returns ``{"added_devices": [serial, ...], "removed_devices": [serial,
        ...], "devices": {serial: {counter: change}}}``: devices in self only,
        devices in ``old_isdct`` only, and for every device in both, each
        counter of self that ``old_isdct`` also has: ``new - old`` for numbers
        (booleans count as 0/1), ``"+++<new> ---<old>"`` for a string that
        changed and ``""`` for one that did not.  Unchanged counters (a change
        of 0 or ``""``) are included only when ``report_zeros`` is true (the
        default).  A counter that is a number in self but text in
        ``old_isdct`` raises ``TypeError``, except ``endurance_analyzer``
        (``None`` when it carries a unit), which is then left out.
        """
        result: dict[str, Any] = {
            "added_devices": [serial for serial in self if serial not in old_isdct],
            "removed_devices": [serial for serial in old_isdct if serial not in self],
            "devices": {},
        }
        for serial, counters in self.items():
            old_counters = old_isdct.get(serial)
            if old_counters is None:
                continue
            changes: dict[str, Any] = {}
            for counter, value in counters.items():
                if counter not in old_counters:
                    continue
                old_value = old_counters[counter]
                if isinstance(value, str):
                    change: Any = "" if value == str(old_value) else f"+++{value} ---{old_value}"
                    if change or report_zeros:
                        changes[counter] = change
                    continue
                try:
                    change = value - old_value
                except TypeError:
                    if counter == "endurance_analyzer":
                        continue
                    raise TypeError(
                        f"{serial} {counter}: cannot compare {value!r} with {old_value!r}"
                    ) from None
                if change != 0 or report_zeros:
                    changes[counter] = change
            result["devices"][serial] = changes
        return result

    def to_dataframe(self, only_numeric: bool = False) -> Any:
        """Express self as a DataFrame indexed by ``serial_number``, one column per counter.

        Columns are the union of all devices' counters in first-seen order.
        With ``only_numeric=True`` only ``node_name`` and the int64/float64
        columns whose value is not the same on every device are kept.
        """
        import pandas as pd

        frame = pd.DataFrame.from_dict(self, orient="index")
        frame.index.name = "serial_number"
        if only_numeric:
            keep = []
            for column in frame.columns:
                if column == "node_name":
                    keep.append(column)
                elif (
                    str(frame[column].dtype) in ("int64", "float64") and frame[column].nunique() > 1
                ):
                    keep.append(column)
            frame = frame[keep]
        return frame
