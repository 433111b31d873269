"""collectd documents from Elasticsearch: pages of hits -> TTS records (sans-IO).

Two pure pieces, no I/O and no event loop (docs/formats.md#elasticsearch, docs/formats.md#collectd-documents and docs/formats.md#streaming-parsers):

* :class:`CollectdParser` reads a JSON cache of pages of hits through
  :class:`~atokio.parsers.espages.PageParser` (re-exported here, with
  :func:`~atokio.parsers.espages.page_hits`) and turns each page into
  :class:`Records` as soon as it is complete.
* :func:`hits_to_records` turns the hits of one page into :class:`Records`:
  parallel numpy arrays of dataset index, epoch seconds, column name and
  value, one entry per TTS cell written.  Time stamps are parsed for the
  whole page in one numpy call.

Mapping (docs/formats.md#collectd-in-tts):

* ``disk`` / ``disk_octets`` with both ``read`` and ``write`` ->
  ``datatargets/readrates`` and ``writerates``; ``disk_ops`` ->
  ``datatargets/readoprates`` and ``writeoprates``; column
  ``<hostname>:<plugin_instance>``.  A hit lacking either value is skipped.
* ``cpu`` (needs ``value``): ``idle`` -> ``dataservers/cpuload`` gets
  ``100 - value``; ``user`` -> ``cpuuser``; ``system`` -> ``cpusys``; column
  ``<hostname>``.  These cells are *summed* per (row, host) and divided by the
  number of core samples by the consumer (:data:`SUMMED_DATASETS`).
* ``memory`` (needs ``value``): ``cached``, ``buffered``, ``free``, ``used``,
  ``slab_recl``, ``slab_unrecl`` -> ``dataservers/memcached``, ...,
  ``memslab``, ``memslab_unrecl``; column ``<hostname>``.
* A hit without ``_source`` is skipped (counted in ``Records.no_source``);
  other plugins and other type instances are ignored.

Time stamps: ``@timestamp`` is ISO 8601 (Elasticsearch writes UTC with a
``Z``); a string with another offset is converted by that offset, one without
zone is taken as UTC (how Elasticsearch stores it), and a number is epoch
milliseconds (Elasticsearch's ``epoch_millis``).  Records carry *absolute*
epoch seconds.  The reference converts to a naive local datetime first and
back with ``mktime``; that gives the same row everywhere except in the
repeated hour of a daylight-saving fall-back, where a naive local time is
ambiguous and atokio keeps the true instant.  A hit whose time stamp cannot
be read is skipped (``Records.bad_timestamp``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atokio.parsers.base import ParseError
from atokio.parsers.espages import PageParser, page_hits

__all__ = [
    "CPU_DATASETS",
    "DATASETS",
    "SOURCE_FIELDS",
    "SUMMED_DATASETS",
    "UNITS",
    "CollectdParser",
    "PageParser",
    "Records",
    "epoch_seconds",
    "hits_to_records",
    "page_hits",
]

#: The ``_source`` fields asked for, also the columns of ``CollectdEs.to_dataframe()``.
SOURCE_FIELDS: tuple[str, ...] = (
    "@timestamp",
    "hostname",
    "plugin",
    "collectd_type",
    "type_instance",
    "plugin_instance",
    "value",
    "longterm",
    "midterm",
    "shortterm",
    "majflt",
    "minflt",
    "if_octets",
    "if_packets",
    "if_errors",
    "rx",
    "tx",
    "read",
    "write",
    "io_time",
)

#: Every TTS dataset archive_collectdes writes, in a fixed order (indices of ``Records.datasets``).
DATASETS: tuple[str, ...] = (
    "datatargets/readrates",
    "datatargets/writerates",
    "datatargets/readoprates",
    "datatargets/writeoprates",
    "dataservers/memcached",
    "dataservers/membuffered",
    "dataservers/memfree",
    "dataservers/memused",
    "dataservers/memslab",
    "dataservers/memslab_unrecl",
    "dataservers/cpuload",
    "dataservers/cpuuser",
    "dataservers/cpusys",
)

#: ``units`` attribute of each dataset (docs/cli.md#archive_collectdes).
UNITS: dict[str, str] = {
    **{name: "bytes/sec" for name in DATASETS[:2]},
    **{name: "ops/sec" for name in DATASETS[2:4]},
    **{name: "bytes" for name in DATASETS[4:10]},
    **{name: "%" for name in DATASETS[10:]},
}

#: Datasets filled from per-core CPU samples: summed per cell, then averaged.
CPU_DATASETS: tuple[str, ...] = DATASETS[10:]
SUMMED_DATASETS = frozenset(CPU_DATASETS)

_INDEX = {name: i for i, name in enumerate(DATASETS)}
_DISK = {
    "disk_octets": (_INDEX["datatargets/readrates"], _INDEX["datatargets/writerates"]),
    "disk_ops": (_INDEX["datatargets/readoprates"], _INDEX["datatargets/writeoprates"]),
}
#: type_instance -> (dataset index, idle: store 100 - value)
_CPU = {
    "idle": (_INDEX["dataservers/cpuload"], True),
    "user": (_INDEX["dataservers/cpuuser"], False),
    "system": (_INDEX["dataservers/cpusys"], False),
}
#: type_instance -> (dataset index, False): stored as is
_MEMORY = {
    "cached": (_INDEX["dataservers/memcached"], False),
    "buffered": (_INDEX["dataservers/membuffered"], False),
    "free": (_INDEX["dataservers/memfree"], False),
    "used": (_INDEX["dataservers/memused"], False),
    "slab_recl": (_INDEX["dataservers/memslab"], False),
    "slab_unrecl": (_INDEX["dataservers/memslab_unrecl"], False),
}
#: plugin -> its gauge table: one value per hit, one dataset per type_instance
_GAUGES = {"cpu": _CPU, "memory": _MEMORY}


@dataclass
class Records:
    """TTS cells from collectd hits, as parallel arrays (see the module docstring).

    ``datasets`` holds indices into :data:`DATASETS`; ``epochs`` absolute
    epoch seconds (float, milliseconds kept); ``columns`` column names
    (object array of str); ``values`` float64; ``hit_index`` the position
    of the hit each record came from (within its page).  The counters say
    how many hits were seen, and how many were skipped and why.
    """

    datasets: np.ndarray
    epochs: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    hit_index: np.ndarray
    hits: int = 0
    no_source: int = 0
    incomplete: int = 0
    bad_timestamp: int = 0

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def empty(cls) -> Records:
        """No records."""
        return cls(
            np.empty(0, dtype=np.int16),
            np.empty(0, dtype=np.float64),
            np.empty(0, dtype=object),
            np.empty(0, dtype=np.float64),
            np.empty(0, dtype=np.int64),
        )

    @classmethod
    def concat(cls, parts: Sequence[Records]) -> Records:
        """All records of ``parts``, in order."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.datasets for p in parts]),
            np.concatenate([p.epochs for p in parts]),
            np.concatenate([p.columns for p in parts]),
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.hit_index for p in parts]),
            hits=sum(p.hits for p in parts),
            no_source=sum(p.no_source for p in parts),
            incomplete=sum(p.incomplete for p in parts),
            bad_timestamp=sum(p.bad_timestamp for p in parts),
        )

    def select(self, dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(epochs, columns, values)`` of one dataset, in hit order."""
        chosen = self.datasets == _INDEX[dataset]
        return self.epochs[chosen], self.columns[chosen], self.values[chosen]

    def present(self) -> list[str]:
        """Names of the datasets that have at least one record, in :data:`DATASETS` order."""
        return [DATASETS[int(i)] for i in np.unique(self.datasets)]


def _one_epoch(stamp: Any) -> float:
    """Epoch seconds of one ``@timestamp`` value (NaN when it cannot be read)."""
    if isinstance(stamp, bool) or stamp is None:
        return float("nan")
    try:
        if isinstance(stamp, int | float):
            return float(stamp) / 1000.0
        if not isinstance(stamp, str):
            return float("nan")
        parsed = datetime.datetime.fromisoformat(stamp)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.timestamp()
    except (ValueError, OverflowError, OSError):
        return float("nan")


def epoch_seconds(stamps: Sequence[Any]) -> np.ndarray:
    """Absolute epoch seconds of ``@timestamp`` values (NaN where unreadable); see the module docstring.

    The common case — every value a string ending in ``Z`` — is parsed in
    one numpy call.
    """
    if not len(stamps):
        return np.empty(0, dtype=np.float64)
    if all(type(s) is str and s.endswith("Z") for s in stamps):
        try:
            parsed = np.array([s[:-1] for s in stamps], dtype="datetime64[us]")
        except (ValueError, OverflowError):
            pass
        else:
            return parsed.astype(np.int64) / 1e6
    return np.array([_one_epoch(s) for s in stamps], dtype=np.float64)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: Any) -> str:
    """A field that names something: a string, or ``""`` for any other JSON shape."""
    return value if isinstance(value, str) else ""


def hits_to_records(hits: Iterable[Any]) -> Records:
    """The TTS cells of collectd hits, in hit order (see the module docstring)."""
    sets: list[int] = []
    stamp_of: list[int] = []
    hit_of: list[int] = []
    columns: list[str] = []
    values: list[float] = []
    stamps: list[Any] = []
    count = no_source = incomplete = 0
    for hit in hits:
        count += 1
        source = hit.get("_source") if isinstance(hit, Mapping) else None
        if not isinstance(source, Mapping):
            no_source += 1
            continue
        plugin = _text(source.get("plugin"))
        host = source.get("hostname")
        if plugin == "disk":
            targets = _DISK.get(_text(source.get("collectd_type")))
            if targets is None:
                continue
            read = _number(source.get("read"))
            write = _number(source.get("write"))
            if read is None or write is None or host is None:
                incomplete += 1
                continue
            column = f"{host}:{source.get('plugin_instance')}"
            index = len(stamps)
            stamps.append(source.get("@timestamp"))
            sets += targets
            stamp_of += (index, index)
            hit_of += (count - 1, count - 1)
            columns += (column, column)
            values += (read, write)
        elif (gauges := _GAUGES.get(plugin)) is not None:
            target = gauges.get(_text(source.get("type_instance")))
            if target is None:
                continue
            value = _number(source.get("value"))
            if value is None or host is None:
                incomplete += 1
                continue
            stamp_of.append(len(stamps))
            hit_of.append(count - 1)
            stamps.append(source.get("@timestamp"))
            sets.append(target[0])
            columns.append(str(host))
            values.append(100.0 - value if target[1] else value)
    epochs = epoch_seconds(stamps)[np.asarray(stamp_of, dtype=np.int64)]
    records = Records(
        np.asarray(sets, dtype=np.int16),
        epochs,
        np.asarray(columns, dtype=object),
        np.asarray(values, dtype=np.float64),
        np.asarray(hit_of, dtype=np.int64),
        hits=count,
        no_source=no_source,
        incomplete=incomplete,
    )
    bad = np.isnan(records.epochs)
    if bad.any():
        keep = ~bad
        per_hit = np.unique(np.asarray(stamp_of)[bad]).size
        records = Records(
            records.datasets[keep],
            records.epochs[keep],
            records.columns[keep],
            records.values[keep],
            records.hit_index[keep],
            hits=count,
            no_source=no_source,
            incomplete=incomplete,
            bad_timestamp=per_hit,
        )
    return records


class CollectdParser:
    """A JSON cache of collectd pages, fed as bytes -> one :class:`Records` per page."""

    def __init__(self, source: str = "<input>") -> None:
        self.source = source
        self._pages = PageParser(source)

    def feed(self, data: bytes) -> list[Records]:
        """Records of the pages completed by ``data``."""
        return self._pass(self._pages.feed, data)

    def close(self) -> list[Records]:
        """Records of the last pages; :class:`ParseError` on a truncated input."""
        return self._pass(lambda _: self._pages.close(), b"")

    def _pass(self, step: Any, data: bytes) -> list[Records]:
        try:
            pages = step(data)
        except ParseError as error:  # the pages before the fault become records too
            error.records = self._records(error.records, self._pages.page_lines)  # type: ignore[assignment]
            raise
        return self._records(pages, self._pages.page_lines)

    def _records(self, pages: list[Any], lines: list[int]) -> list[Records]:
        out: list[Records] = []
        for page, line in zip(pages, lines, strict=False):
            try:
                out.append(hits_to_records(page_hits(page)))
            except TypeError as error:  # a page of another shape
                failure = ParseError(
                    f"expected a page of hits: {error}", source=self.source, line_number=line
                )
                failure.records = list(out)
                raise failure from None
        return out
