"""The Darshan log index as a Parquet dataset (``index_darshanlogs --format parquet``).

The same three tables as the SQLite index (``headers``, ``mounts``,
``summaries``; docs/formats.md#the-log-index), with the same columns and the same
``log_id`` / ``fs_id`` numbering, written as a directory that DuckDB, pandas,
pyarrow and Spark read directly::

    OUTPUT/
      headers/day=2017-03-20/part-000001.parquet     one row per log
      summaries/day=2017-03-20/part-000001.parquet   one row per (log, file system)
      mounts/part-000001.parquet                     one row per mount point
      _commits/000001.json                           written last: part 1 is complete

``headers`` and ``summaries`` are partitioned (Hive style) by ``day``, the UTC
date of the job's start, so a query of a few days reads only their files; the
``day`` column appears when the dataset is read with Hive partitioning, e.g.
``duckdb.sql("SELECT * FROM read_parquet('OUTPUT/summaries/*/*.parquet',
hive_partitioning = true)")`` or ``pandas.read_parquet("OUTPUT/summaries")``.

The writer has the interface of the SQLite index writer: :meth:`~ParquetIndexWriter.add`
takes one log's results; every ``flush_logs`` logs (and on
:meth:`~ParquetIndexWriter.flush`) they go out as one *part* (one transaction),
each file written under a hidden temporary name, synced and renamed, and the
part's marker in ``_commits/`` last.  Opening the dataset again deletes the files
of a part without a marker (a run killed while writing), so a rerun indexes
those logs again, without duplicates.  One process writes a dataset at a time.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any

from atokio.tools.darshan_summary import SUMMARY_COLUMNS

__all__ = [
    "HEADER_TYPES",
    "ParquetIndexWriter",
    "day_of",
    "read_parquet_table",
]

logger = logging.getLogger(__name__)

#: The ``headers`` columns in table order, with their type (``str`` or ``int``),
#: as the SQLite table declares them.
HEADER_TYPES: dict[str, type] = {
    "log_id": int,
    "filename": str,
    "end_time": int,
    "exe": str,
    "exename": str,
    "jobid": str,
    "nprocs": int,
    "start_time": int,
    "uid": int,
    "username": str,
    "version": str,
    "walltime": int,
}
MOUNT_TYPES: dict[str, type] = {"fs_id": int, "mountpt": str, "fsname": str}
SUMMARY_TYPES: dict[str, type] = {
    "log_id": int,
    "fs_id": int,
    **{c: float if c.endswith("_timestamp") else int for c in SUMMARY_COLUMNS},
}
TABLES = ("headers", "mounts", "summaries")
#: Logs held before a part is written (fewer, larger files read faster).
FLUSH_LOGS = 8192
_PART = re.compile(r"^part-(\d+)\.parquet$")
_MARKER = re.compile(r"^(\d+)\.json$")


def _schema(types: Mapping[str, type]) -> Any:
    import pyarrow as pa

    arrow = {int: pa.int64(), float: pa.float64(), str: pa.string()}
    return pa.schema([(name, arrow[kind]) for name, kind in types.items()])


@functools.lru_cache(maxsize=4096)
def day_of(start_time: Any) -> str:
    """The ``day`` partition (``YYYY-MM-DD``, UTC) of a job starting at ``start_time`` (epoch s).

    A log without a usable start time goes to ``day=unknown``.
    """
    try:
        moment = datetime.datetime.fromtimestamp(int(start_time), tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return "unknown"
    return moment.date().isoformat()


def read_parquet_table(path: str | os.PathLike[str], table: str) -> Any:
    """One table of a Parquet index as a ``pyarrow.Table`` (with ``day`` where partitioned).

    An index with no rows in that table gives an empty table of its columns.
    """
    if table not in TABLES:
        raise ValueError(f"unknown index table {table!r}: use one of {', '.join(TABLES)}")
    folder = Path(path) / table
    types = {"headers": HEADER_TYPES, "mounts": MOUNT_TYPES, "summaries": SUMMARY_TYPES}[table]
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        return _schema(types).empty_table()
    import pyarrow.dataset as ds  # imports pandas: only when there is something to read

    partitioning = None if table == "mounts" else "hive"
    return ds.dataset(folder, format="parquet", partitioning=partitioning).to_table()


def _read_columns(folder: Path, columns: Sequence[str]) -> dict[str, list[Any]]:
    """``columns`` of every part file under ``folder``, as lists (no partition columns)."""
    import pyarrow.parquet as pq

    found: dict[str, list[Any]] = {name: [] for name in columns}
    for file in sorted(folder.rglob("part-*.parquet")):
        table = pq.ParquetFile(file).read(columns=list(columns))
        for name in columns:
            found[name] += table.column(name).to_pylist()
    return found


class ParquetIndexWriter:
    """Writes index results into a Parquet dataset directory (see the module docstring).

    An outcome handed to :meth:`add` is what the log summaries give per log:
    ``{"headers": row, "mounts": {mountpt: fsname}, "summaries": {mountpt:
    row}}``.  ``indexed`` counts the logs written.  Use it as a context
    manager, or call :meth:`close`; :meth:`flush` before closing keeps the
    logs still queued.
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_logs: int = FLUSH_LOGS) -> None:
        if flush_logs < 1:
            raise ValueError(f"flush_logs must be at least 1, not {flush_logs}")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(
                f"{self.path} exists and is not a directory: a Parquet index is a directory "
                f"(give another output name, or --format sqlite for an SQLite file)"
            )
        self.flush_logs = flush_logs
        for folder in (*TABLES, "_commits"):
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        self.part = self._recover()
        mounts = _read_columns(self.path / "mounts", ["mountpt", "fs_id"])
        self.mount_ids: dict[str, int] = dict(zip(mounts["mountpt"], mounts["fs_id"], strict=True))
        headers = _read_columns(self.path / "headers", ["log_id", "filename"])
        self.filenames: set[str] = set(headers["filename"])
        self.next_log_id = max(headers["log_id"], default=0) + 1
        self.pending: list[Mapping[str, Any]] = []
        #: Logs written by this writer (flushed).
        self.indexed = 0

    # -- opening -------------------------------------------------------------------------

    def _recover(self) -> int:
        """Delete the files of parts without a marker; return the last complete part number."""
        committed = {
            int(m.group(1))
            for entry in (self.path / "_commits").iterdir()
            if (m := _MARKER.match(entry.name))
        }
        for table in TABLES:
            for file in (self.path / table).rglob("*"):
                if not file.is_file():
                    continue
                match = _PART.match(file.name)
                if match is None or int(match.group(1)) not in committed:
                    logger.warning("%s: removing %s, left by an unfinished run", self.path, file)
                    file.unlink()
        return max(committed, default=0)

    def existing_logs(self) -> set[str]:
        """Basenames of the logs indexed already (as ``get_existing_logs`` for SQLite)."""
        return set(self.filenames)

    # -- writing -------------------------------------------------------------------------

    def add(self, outcome: Mapping[str, Any]) -> None:
        """Queue one log's rows; write a part once ``flush_logs`` logs are queued."""
        self.pending.append(outcome)
        if len(self.pending) >= self.flush_logs:
            self.flush()

    def flush(self) -> None:
        """Write the held results as one part (nothing when none are held)."""
        if not self.pending:
            return
        part = self.part + 1
        # rows as tuples in column order (a summary row's counters taken by one itemgetter)
        headers: dict[str, list[tuple[Any, ...]]] = {}
        summaries: dict[str, list[tuple[Any, ...]]] = {}
        mounts: list[tuple[Any, ...]] = []
        header_names = list(HEADER_TYPES)[1:]
        counters = itemgetter(*SUMMARY_COLUMNS)
        next_log_id = self.next_log_id
        mount_ids = dict(self.mount_ids)
        filenames = set(self.filenames)
        for result in self.pending:
            for mountpt, fsname in result["mounts"].items():
                if mountpt not in mount_ids:
                    mount_ids[mountpt] = max(mount_ids.values(), default=0) + 1
                    mounts.append((mount_ids[mountpt], mountpt, fsname))
            header = result["headers"]
            if header["filename"] in filenames:
                logger.warning(
                    "%s: %s is indexed already; not added again", self.path, header["filename"]
                )
                continue
            filenames.add(header["filename"])
            day = day_of(header.get("start_time"))
            log_id = next_log_id
            next_log_id += 1
            headers.setdefault(day, []).append((log_id, *(header.get(n) for n in header_names)))
            rows = summaries.setdefault(day, [])
            for mountpt, summary in result["summaries"].items():
                rows.append((log_id, mount_ids[mountpt], *counters(summary)))
        written = []
        for day, rows in summaries.items():
            written.append(self._write(f"summaries/day={day}", part, rows, SUMMARY_TYPES))
        if mounts:
            written.append(self._write("mounts", part, mounts, MOUNT_TYPES))
        for day, rows in headers.items():
            written.append(self._write(f"headers/day={day}", part, rows, HEADER_TYPES))
        for temporary, final in written:
            os.replace(temporary, final)
        marker = self.path / "_commits" / f"{part:06d}.json"
        _write_synced(
            marker, json.dumps({"logs": next_log_id - self.next_log_id, "written": len(written)})
        )
        _sync_directory(marker.parent)
        self.part = part
        self.indexed += next_log_id - self.next_log_id
        self.next_log_id = next_log_id
        self.mount_ids = mount_ids
        self.filenames = filenames
        self.pending.clear()

    def _write(
        self, folder: str, part: int, rows: Sequence[tuple[Any, ...]], types: Mapping[str, type]
    ) -> tuple[Path, Path]:
        """Write ``rows`` to a hidden temporary file; return ``(temporary, final)`` paths."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        directory = self.path / folder
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"part-{part:06d}.parquet"
        temporary = directory / f".part-{part:06d}.parquet.tmp"
        try:
            schema = _schema(types)
            columns = zip(*rows, strict=True)
            table = pa.Table.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(f"{final}: a value does not fit its column: {error}") from error
        with open(temporary, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        return temporary, final

    def close(self) -> None:
        """Forget what was not flushed (as a killed run would); :meth:`flush` first to keep it."""
        self.pending.clear()

    def __enter__(self) -> ParquetIndexWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _write_synced(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
