"""Per-file-system summaries of Darshan logs, as ``index_darshanlogs`` stores them.

Pure computation (no I/O).  A log is reduced to one header row and one row per
mount point (FORMATS.md section 1.6):

* integer counters are summed over every POSIX and STDIO record on the mount
  (a counter a module lacks counts 0); ``posix_files`` / ``stdio_files`` count
  the records;
* ``f_*_start_timestamp`` take the minimum and ``f_*_end_timestamp`` the
  maximum over those records, keeping Darshan's ``-1`` / ``0.0`` "not
  recorded" values as they are;
* a record's mount is the longest mount-table entry that is a string prefix of
  its file name; ``<STDOUT>``-style names and names without ``/`` (obfuscated
  logs) go to the pseudo-mount ``UNKNOWN``;
* mounts with no activity (``bytes_read + bytes_written + reads + writes +
  opens + stats == 0``) are dropped;
* the file-system name comes from the ``mount_to_fsname`` regexes (matched at
  the start of the mount point; the last matching entry wins), else it is the
  mount point itself.

Both Darshan read paths feed it: :func:`summarize_records` takes the records
of either reader, :func:`summarize_arrays` the counter arrays the direct
reader hands over without building per-record dicts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy

from atokio.parsers.darshan_records import BaseRecord, DarshanRecord, Header, ModuleArrays, Mount

__all__ = [
    "END_TIMESTAMPS",
    "INT_COUNTERS",
    "START_TIMESTAMPS",
    "LogSummary",
    "ModuleArrays",
    "compile_mount_to_fsname",
    "fsname_of",
    "header_row",
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
FILE_COUNTS = {"posix": "posix_files", "stdio": "stdio_files"}
ACTIVITY = ("bytes_read", "bytes_written", "reads", "writes", "opens", "stats")
UNKNOWN = "UNKNOWN"


@dataclass
class LogSummary:
    """One log: its header row and its summary row per mount point."""

    headers: dict[str, Any]
    summaries: dict[str, dict[str, Any]]  # mount point -> row
    mounts: dict[str, str]  # mount point -> fsname (for the mounts table)


def compile_mount_to_fsname(mapping: Mapping[str, str] | None) -> list[tuple[re.Pattern[str], str]]:
    """The ``mount_to_fsname`` config as compiled regexes, in order."""
    return [(re.compile(pattern), name) for pattern, name in (mapping or {}).items()]


def fsname_of(mountpt: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    """The logical file system of a mount point: the last matching rule, else the mount point."""
    name = mountpt
    for pattern, fsname in rules:
        if pattern.match(mountpt):
            name = fsname
    return name


def header_row(header: Mapping[str, Any], log_path: str) -> dict[str, Any]:
    """The ``headers`` table row of a log."""
    from atokio.connectors.darshan import parse_filename_metadata

    exe = header.get("exe") or [""]
    meta = parse_filename_metadata(log_path)
    return {
        "filename": os.path.basename(log_path),
        "end_time": header.get("end_time"),
        "exe": exe[0],
        "exename": os.path.basename(exe[0]),
        "jobid": header.get("jobid"),
        "nprocs": header.get("nprocs"),
        "start_time": header.get("start_time"),
        "uid": header.get("uid"),
        "username": meta.get("username"),
        "version": header.get("version"),
        "walltime": header.get("walltime"),
    }


def _mount_index(names: list[str], mountpts: list[str]) -> numpy.ndarray:
    """For each file name, the index of its mount in ``mountpts`` (longest prefix), or -1."""
    by_length = sorted(range(len(mountpts)), key=lambda i: -len(mountpts[i]))
    cache: dict[str, int] = {}
    out = numpy.empty(len(names), dtype=numpy.int64)
    for n, name in enumerate(names):
        found = cache.get(name)
        if found is None:
            found = -1
            if "/" in name and not name.startswith("<"):
                for i in by_length:
                    if name.startswith(mountpts[i]):
                        found = i
                        break
            cache[name] = found
        out[n] = found
    return out


def summarize_arrays(
    header: Mapping[str, Any],
    mount_table: Mapping[str, str],
    modules: Iterable[ModuleArrays],
    log_path: str,
    mount_to_fsname: list[tuple[re.Pattern[str], str]],
) -> LogSummary:
    """Summarise a log from per-module counter arrays (see the module docstring)."""
    mountpts = list(mount_table)
    rows: dict[str, dict[str, Any]] = {}
    for arrays in modules:
        if not arrays.names:
            continue
        where = _mount_index(arrays.names, mountpts)
        for index in numpy.unique(where):
            mountpt = mountpts[index] if index >= 0 else UNKNOWN
            mask = where == index
            row = rows.get(mountpt)
            if row is None:
                row = rows[mountpt] = _empty_row()
            for column in INT_COUNTERS:
                values = arrays.counters.get(column)
                if values is not None:
                    row[column] += int(values[mask].sum())
            row[FILE_COUNTS[arrays.module]] += int(mask.sum())
            for column in START_TIMESTAMPS + END_TIMESTAMPS:
                values = arrays.timestamps.get(column)
                if values is None:
                    continue
                picked = values[mask]
                value = float(picked.min() if column in START_TIMESTAMPS else picked.max())
                current = row[column]
                if current is None:
                    row[column] = value
                elif column in START_TIMESTAMPS:
                    row[column] = min(current, value)
                else:
                    row[column] = max(current, value)
    active = {m: r for m, r in rows.items() if sum(r[c] for c in ACTIVITY) != 0}
    return LogSummary(
        headers=header_row(header, log_path),
        summaries=active,
        mounts={m: fsname_of(m, mount_to_fsname) for m in active},
    )


def _empty_row() -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(INT_COUNTERS, 0)
    row.update(posix_files=0, stdio_files=0)
    row.update(dict.fromkeys(START_TIMESTAMPS + END_TIMESTAMPS))
    return row


def arrays_from_records(
    records: Iterable[DarshanRecord],
) -> tuple[dict[str, Any], dict[str, str], list[ModuleArrays]]:
    """(header, mount table, POSIX/STDIO arrays) from the records of either reader."""
    header: dict[str, Any] = {}
    mounts: dict[str, str] = {}
    columns: dict[str, dict[str, list[Any]]] = {"posix": {}, "stdio": {}}
    names: dict[str, list[str]] = {"posix": [], "stdio": []}
    wanted = [(c, c.upper()) for c in INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS]
    for record in records:
        if isinstance(record, BaseRecord):
            if record.module not in columns:
                continue
            table = columns[record.module]
            names[record.module].append(record.file_name)
            for column, counter in wanted:
                if counter in record.counters:
                    table.setdefault(column, []).append(record.counters[counter])
        elif isinstance(record, Header):
            header[record.key] = record.value
        elif isinstance(record, Mount):
            mounts[record.mountpoint] = record.fstype
    modules = []
    for module, table in columns.items():
        arrays = ModuleArrays(module, names[module])
        for column, values in table.items():
            if len(values) != len(names[module]):
                continue  # a counter some records lack: not a usable column
            if column in INT_COUNTERS:
                arrays.counters[column] = numpy.asarray(values, dtype=numpy.int64)
            else:
                arrays.timestamps[column] = numpy.asarray(values, dtype=numpy.float64)
        modules.append(arrays)
    return header, mounts, modules


def summarize_records(
    records: Iterable[DarshanRecord],
    log_path: str,
    mount_to_fsname: list[tuple[re.Pattern[str], str]],
) -> LogSummary:
    """Summarise a log from its records (either reader)."""
    header, mounts, modules = arrays_from_records(records)
    return summarize_arrays(header, mounts, modules, log_path, mount_to_fsname)
