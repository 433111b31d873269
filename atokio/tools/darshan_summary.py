"""Per-file-system summaries of Darshan logs, as ``index_darshanlogs`` stores them.

Pure computation (no I/O), shared by ``index_darshanlogs`` and
``summarize_darshanlogs``.  A log is reduced to one header row and one row per
mount point (docs/formats.md#the-log-index):

* integer counters are summed over every POSIX and STDIO record on the mount
  (a counter a module lacks counts 0); ``posix_files`` / ``stdio_files`` count
  the records;
* ``f_*_start_timestamp`` take the minimum and ``f_*_end_timestamp`` the
  maximum over those records, keeping Darshan's ``-1`` / ``0.0`` "not
  recorded" values as they are; the result is the value as darshan-parser
  prints it (``%f``), whichever reader gave the counters;
* a record's mount is the longest mount-table entry that is a string prefix of
  its file name; ``<STDOUT>``-style names and names without ``/`` (obfuscated
  logs) go to the pseudo-mount ``UNKNOWN``;
* mounts with no activity (``bytes_read + bytes_written + reads + writes +
  opens + stats == 0``) are dropped; a log without a mount table gives no
  rows at all (``LogSummary.reason`` says why a log has none);
* the file-system name comes from the ``mount_to_fsname`` regexes (matched at
  the start of the mount point; the last matching entry wins), else it is the
  mount point itself.

Both Darshan read paths feed it: :func:`summarize_records` takes the records
of either reader (the ``darshan-parser`` text path), :func:`summarize_arrays`
the counter arrays the direct reader hands over without building a dict per
record.  Both give equal rows for the same log.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atokio.parsers.darshan_records import BaseRecord, DarshanRecord, Header, ModuleArrays, Mount

__all__ = [
    "ACTIVITY",
    "END_TIMESTAMPS",
    "FILE_COUNTS",
    "INT_COUNTERS",
    "START_TIMESTAMPS",
    "SUMMARY_COLUMNS",
    "UNKNOWN",
    "LogSummary",
    "ModuleArrays",
    "arrays_from_records",
    "compile_mount_to_fsname",
    "fsname_of",
    "header_row",
    "mount_of",
    "summarize_arrays",
    "summarize_records",
]

#: Summed integer counters (column name; the Darshan counter is its upper case).
INT_COUNTERS = (
    "bytes_read",
    "bytes_written",
    "reads",
    "writes",
    "file_not_aligned",
    "consec_reads",
    "consec_writes",
    "mmaps",
    "opens",
    "seeks",
    "stats",
    "fdsyncs",
    "fsyncs",
    "flushes",
    "seq_reads",
    "seq_writes",
    "rw_switches",
)
START_TIMESTAMPS = tuple(f"f_{op}_start_timestamp" for op in ("open", "read", "write", "close"))
END_TIMESTAMPS = tuple(f"f_{op}_end_timestamp" for op in ("open", "read", "write", "close"))
#: The record-count column of each summarised module.
FILE_COUNTS = {"posix": "posix_files", "stdio": "stdio_files"}
#: Columns whose sum tells an active mount from an idle one.
ACTIVITY = ("bytes_read", "bytes_written", "reads", "writes", "opens", "stats")
#: Every column of a summary row, in the order the index writes them.
SUMMARY_COLUMNS = (*INT_COUNTERS, "posix_files", "stdio_files", *START_TIMESTAMPS, *END_TIMESTAMPS)
#: The pseudo-mount of records that are on no mount (``<STDOUT>``, obfuscated names).
UNKNOWN = "UNKNOWN"

#: A log's file name (docs/formats.md#log-names-and-the-dated-tree); group 1 is the user name.
_LOG_NAME = re.compile(r"([^_/]+)_([^/]*?)_id(\d+)_(\d+)-(\d+)-(\d+)-(\d+)_(\d+)\.darshan")
_ACTIVITY_AT = [SUMMARY_COLUMNS.index(c) for c in ACTIVITY]


@dataclass
class LogSummary:
    """One log: its header row and its summary row per mount point.

    ``reason`` says why a log has no summary rows (``"no mount table"``, ``"no
    POSIX or STDIO activity"``); the index skips such logs.
    """

    headers: dict[str, Any]
    summaries: dict[str, dict[str, Any]]  # mount point -> row
    mounts: dict[str, str]  # mount point -> fsname (for the mounts table)
    reason: str | None = None


def compile_mount_to_fsname(mapping: Mapping[str, str] | None) -> list[tuple[re.Pattern[str], str]]:
    """The ``mount_to_fsname`` config as compiled regexes, in order."""
    return [(re.compile(pattern), name) for pattern, name in (mapping or {}).items()]


def fsname_of(mountpt: str, rules: Sequence[tuple[re.Pattern[str], str]]) -> str:
    """The logical file system of a mount point: the last matching rule, else the mount point."""
    name = mountpt
    for pattern, fsname in rules:
        if pattern.match(mountpt):
            name = fsname
    return name


def mount_of(file_name: str, mountpts: Iterable[str]) -> str | None:
    """The longest mount point that is a string prefix of ``file_name``, or None."""
    best: str | None = None
    for mountpt in mountpts:
        if file_name.startswith(mountpt) and (best is None or len(mountpt) > len(best)):
            best = mountpt
    return best


def header_row(header: Mapping[str, Any], log_path: str) -> dict[str, Any]:
    """The ``headers`` table row of a log (``username`` comes from the log's file name)."""
    exe = header.get("exe") or [""]
    match = _LOG_NAME.search(os.path.basename(log_path))
    return {
        "filename": os.path.basename(log_path),
        "end_time": header.get("end_time"),
        "exe": exe[0],
        "exename": os.path.basename(exe[0]),
        "jobid": header.get("jobid"),
        "nprocs": header.get("nprocs"),
        "start_time": header.get("start_time"),
        "uid": header.get("uid"),
        "username": match.group(1) if match else None,
        "version": header.get("version"),
        "walltime": header.get("walltime"),
    }


def _printed(value: float) -> float:
    """A double as darshan-parser prints it (``%f``) and a parser reads it back."""
    return float("%f" % value)


@functools.lru_cache(maxsize=64)
def _mounts_by_length(mountpts: tuple[str, ...]) -> list[tuple[int, frozenset[str]]]:
    """Mount points grouped by length, longest first (logs of one system share a table)."""
    lengths: dict[int, set[str]] = {}
    for mountpt in mountpts:
        lengths.setdefault(len(mountpt), set()).add(mountpt)
    return [(n, frozenset(lengths[n])) for n in sorted(lengths, reverse=True)]


def _mount_groups(names: list[str], mountpts: list[str]) -> dict[str, list[int] | None]:
    """Record positions by mount point (longest prefix; ``UNKNOWN`` for the rest).

    ``None`` stands for all the records (the usual case: one mount).
    """
    by_length = _mounts_by_length(tuple(mountpts))
    where: dict[str, str] = {}
    for name in dict.fromkeys(names):
        mountpt = UNKNOWN
        if "/" in name and not name.startswith("<"):
            for length, candidates in by_length:
                if name[:length] in candidates:
                    mountpt = name[:length]
                    break
        where[name] = mountpt
    if len(set(where.values())) == 1:
        return {next(iter(where.values())): None}
    groups: dict[str, list[int] | None] = {}
    for position, name in enumerate(names):
        positions = groups.setdefault(where[name], [])
        assert positions is not None
        positions.append(position)
    return groups


def summarize_arrays(
    header: Mapping[str, Any],
    mount_table: Mapping[str, str],
    modules: Iterable[ModuleArrays],
    log_path: str,
    mount_to_fsname: Sequence[tuple[re.Pattern[str], str]],
) -> LogSummary:
    """Summarise a log from per-module counter arrays (see the module docstring).

    ``modules`` are POSIX and STDIO :class:`ModuleArrays` (others are
    ignored): per-record file names, integer counters and timestamps keyed by
    lower-case column name.
    """
    import numpy

    mountpts = list(mount_table)
    rows: dict[str, list[Any]] = {}
    for arrays in modules:
        files_column = FILE_COUNTS.get(arrays.module)
        if files_column is None or not arrays.names:
            continue
        files_at = SUMMARY_COLUMNS.index(files_column)
        int_columns = [c for c in INT_COUNTERS if c in arrays.counters]
        int_at = [SUMMARY_COLUMNS.index(c) for c in int_columns]
        ints = (
            numpy.stack([arrays.counters[c] for c in int_columns], axis=1) if int_columns else None
        )
        stamp_columns = [c for c in START_TIMESTAMPS + END_TIMESTAMPS if c in arrays.timestamps]
        stamp_at = [SUMMARY_COLUMNS.index(c) for c in stamp_columns]
        is_start = [c in START_TIMESTAMPS for c in stamp_columns]
        stamps = (
            numpy.stack([arrays.timestamps[c] for c in stamp_columns], axis=1)
            if stamp_columns
            else None
        )
        for mountpt, positions in _mount_groups(arrays.names, mountpts).items():
            row = rows.get(mountpt)
            if row is None:
                row = rows[mountpt] = _empty_row()
            if ints is not None:
                part = ints if positions is None else ints[positions]
                for at, total in zip(int_at, part.sum(axis=0).tolist(), strict=True):
                    row[at] += total
            row[files_at] += len(arrays.names) if positions is None else len(positions)
            if stamps is not None:
                part = stamps if positions is None else stamps[positions]
                lows = numpy.fmin.reduce(part, axis=0).tolist()  # fmin/fmax: NaN = absent
                highs = numpy.fmax.reduce(part, axis=0).tolist()
                for at, start, low, high in zip(stamp_at, is_start, lows, highs, strict=True):
                    value = low if start else high
                    current = row[at]
                    if value != value:  # NaN: no record of this mount has the counter
                        continue
                    if current is None:
                        row[at] = value
                    elif start:
                        row[at] = min(current, value)
                    else:
                        row[at] = max(current, value)
    summaries: dict[str, dict[str, Any]] = {}
    for mountpt, row in rows.items():
        if sum(row[at] for at in _ACTIVITY_AT) == 0:
            continue
        for at in range(len(INT_COUNTERS) + 2, len(SUMMARY_COLUMNS)):
            if row[at] is not None:
                row[at] = _printed(row[at])  # min/max commute with this rounding
        summaries[mountpt] = dict(zip(SUMMARY_COLUMNS, row, strict=True))
    reason = None
    if not mount_table:
        summaries, reason = {}, "no mount table"
    elif not summaries:
        reason = "no POSIX or STDIO activity"
    return LogSummary(
        headers=header_row(header, log_path),
        summaries=summaries,
        mounts={m: fsname_of(m, mount_to_fsname) for m in summaries},
        reason=reason,
    )


def _empty_row() -> list[Any]:
    return [0] * (len(INT_COUNTERS) + 2) + [None] * (len(START_TIMESTAMPS) + len(END_TIMESTAMPS))


def arrays_from_records(
    records: Iterable[DarshanRecord],
) -> tuple[dict[str, Any], dict[str, str], list[ModuleArrays]]:
    """(header, mount table, POSIX/STDIO arrays) from the records of either reader.

    A counter a record lacks counts 0 in sums and is left out of minima and
    maxima (a NaN in the arrays).
    """
    import numpy

    header: dict[str, Any] = {}
    mounts: dict[str, str] = {}
    names: dict[str, list[str]] = {"posix": [], "stdio": []}
    ints: dict[str, list[list[int]]] = {"posix": [], "stdio": []}
    floats: dict[str, list[list[float]]] = {"posix": [], "stdio": []}
    int_names = [c.upper() for c in INT_COUNTERS]
    float_names = [c.upper() for c in START_TIMESTAMPS + END_TIMESTAMPS]
    nan = float("nan")
    for record in records:
        if isinstance(record, BaseRecord):
            if record.module not in names:
                continue
            counters = record.counters
            names[record.module].append(record.file_name)
            ints[record.module].append([counters.get(c, 0) for c in int_names])  # type: ignore[misc]
            floats[record.module].append([counters.get(c, nan) for c in float_names])  # type: ignore[misc]
        elif isinstance(record, Header):
            if record.key == "metadata":
                header.setdefault("metadata", []).append(record.value)
            else:
                header[record.key] = record.value
        elif isinstance(record, Mount):
            mounts[record.mountpoint] = record.fstype
    modules = []
    for module, module_names in names.items():
        arrays = ModuleArrays(module, module_names)
        if module_names:
            int_matrix = numpy.asarray(ints[module], dtype=numpy.int64)
            float_matrix = numpy.asarray(floats[module], dtype=numpy.float64)
            for i, column in enumerate(INT_COUNTERS):
                arrays.counters[column] = int_matrix[:, i]
            for i, column in enumerate(START_TIMESTAMPS + END_TIMESTAMPS):
                arrays.timestamps[column] = float_matrix[:, i]
        modules.append(arrays)
    return header, mounts, modules


def summarize_records(
    records: Iterable[DarshanRecord],
    log_path: str,
    mount_to_fsname: Sequence[tuple[re.Pattern[str], str]],
) -> LogSummary:
    """Summarise a log from its records (either reader)."""
    header, mounts, modules = arrays_from_records(records)
    return summarize_arrays(header, mounts, modules, log_path, mount_to_fsname)
