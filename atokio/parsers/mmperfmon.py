"""Streaming parser for GPFS ``mmperfmon query`` text output (docs/formats.md#gpfs-mmperfmon).

An output is a numbered legend followed by one or more fixed-width tables::

    Legend:
     1:\\tngfsv468.nersc.gov|CPU|cpu_user
     5:\\tngfsv468.nersc.gov|Network|lo|net_r

    Row           Timestamp cpu_user ...     net_r
      1 2019-01-11-10:00:00      0.2 ...    1.7 kB

* **Legend** lines ``<n>:<TAB or spaces><host>|<group>[|<instance>...]|<metric>``
  give the identity of value column *n* (1-based, counting the value columns
  of every block of the table one after the other): header words repeat
  (``gpfs_nsdds_bytes_read`` x 42), so only the legend says which host, metric
  and instance a column holds.  Everything between the group and the metric
  is the instance and may contain ``|``.  A legend entry needs at least
  ``host|group|metric``.
* **Tables** start with a header line ``Row  Timestamp  <metric> ...``.
  Columns are right-aligned under the header words and values may hold a
  space (``31371.0 MB``), so rows are cut by position (:func:`get_col_pos`),
  never split on whitespace.  Wide outputs wrap into several blocks, each
  with its own header and the same row numbers; row *r* of a later block
  continues row *r* of the first block and takes its time stamp from there.
* **Values**: integers and floats as written (``int`` where the text is an
  integer, else ``float``), ``<number> <unit>`` with binary units (``kB`` =
  2**10, ``MB`` = 2**20, ...: :func:`value_unit_to_bytes`), which turns the
  metric into ``<metric>_bytes`` holding bytes as a ``float``, and ``null``
  (no sample), which is dropped.  Hexadecimal or other words are errors
  (the reference tried a hexadecimal cast last; atokio refuses such a value
  rather than guess).
* **Time stamps** ``YYYY-MM-DD-HH:MM:SS`` are the server's local time, no zone,
  and become epoch seconds through local time (``time.mktime``, as
  :func:`atokio.common.to_epoch`); they mark the *end* of the interval a value
  covers.
* Another ``Legend:`` line starts a new output (legend, blocks and row
  numbers are reset), so concatenated outputs parse too.

Records: one :class:`Sample` per table line, holding that line's share of
the documented structure ``{host: {metric: value | {instance: value}}}`` for
its time stamp.  Rows are complete as soon as they are read (the merge of
the blocks of one time stamp is a dict merge, :func:`merge_samples`), so no
row is held back and memory stays bounded by one chunk of input plus the
row-number -> time stamp map of the current table.

Errors (:class:`~atokio.parsers.base.ParseError`, with source and line):
a line that is neither legend, header, row nor blank; a legend entry
without ``host|group|metric``; a header column without a legend entry; a
row shorter than its header (a cut line) or with a value that is not a
number; a bad time stamp; and at :meth:`MmperfmonParser.close`, a table
that ended before all its legend columns or all its rows had been read
(a truncated output).

Speed: the rows of a block are handled a batch at a time.  The batch becomes
one numpy byte matrix; the separator column before every value is turned
into a comma, unit suffixes are blanked (their multipliers looked up per
cell in one vectorised step) and the whole batch is converted by a single
``json.loads``, which yields ``int``/``float``/``None`` exactly as the
per-value rules do.  Rows are then assembled through a per-block plan that
groups the columns by host and metric, so the Python work is per row and
per (host, metric), not per value.  Batches that do not fit the fast path
(irregular lines, odd values) take the line-by-line path, which gives the
same records.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Iterable
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from atokio.parsers.base import LineParser, ParseError

__all__ = [
    "LegendEntry",
    "MmperfmonParser",
    "Sample",
    "UNIT_MULTIPLIERS",
    "get_col_pos",
    "merge_samples",
    "parse_timestamp",
    "parse_value",
    "value_unit_to_bytes",
]

#: Unit suffix -> bytes; mmperfmon's units are binary multiples however they are spelt.
UNIT_MULTIPLIERS: dict[str, int] = {
    "B": 1,
    "kB": 2**10,
    "KB": 2**10,
    "MB": 2**20,
    "GB": 2**30,
    "TB": 2**40,
    "PB": 2**50,
    "EB": 2**60,
}

_LEGEND_LINE = re.compile(r"^\s*(\d+):\s*(\S.*?)\s*$")
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2}):(\d{2}):(\d{2})$", re.ASCII)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
_WORD = re.compile(r"\S+")

_SPACE, _QUOTE, _COMMA, _LETTER_B = 32, 34, 44, ord("B")
#: bytes >= this are letters (digits, '.', '+', '-', ' ' and ',' are below)
_FIRST_LETTER = ord("A")
#: multiplier of the unit "<X>B" by the byte X (0 = not a unit)
_PREFIX_MULT = np.zeros(256, dtype=np.float64)
for _unit, _mult in UNIT_MULTIPLIERS.items():
    if len(_unit) == 2:
        _PREFIX_MULT[ord(_unit[0])] = float(_mult)


class LegendEntry(NamedTuple):
    """One legend line: what value column ``number`` holds (``instance`` may be ``None``)."""

    number: int
    host: str
    group: str
    instance: str | None
    metric: str


class Sample(NamedTuple):
    """One table line: its epoch time stamp and ``{host: {metric: value | {instance: value}}}``."""

    timestamp: int
    data: dict[str, dict[str, Any]]


# -- helpers of the documented API ------------------------------------------------------


def get_col_pos(line: str, align: str | None = None) -> list[tuple[int, int]]:
    """Column offsets ``(start inclusive, stop exclusive)`` of a text table's header line.

    ``align=None`` gives the exact extent of each run of non-space text:
    ``get_col_pos("Row           Timestamp cpu_user")`` is
    ``[(0, 3), (14, 23), (24, 32)]`` (the reference's docstring prints these
    one position too far right).  ``align="right"`` (values right-aligned
    under the header words, as mmperfmon prints them) makes the columns
    contiguous: each ends where its word ends and starts where the previous
    word ended (the first at 0).  ``align="left"``: each starts where its word
    starts and ends where the next word starts (the last at the end of the
    line).
    """
    spans = [match.span() for match in _WORD.finditer(line)]
    if align is None or not spans:
        return spans
    if align in ("right", "r"):
        starts = [0] + [stop for _, stop in spans[:-1]]
        return [(start, stop) for start, (_, stop) in zip(starts, spans, strict=True)]
    if align in ("left", "l"):
        stops = [start for start, _ in spans[1:]] + [len(line)]
        return [(start, stop) for (start, _), stop in zip(spans, stops, strict=True)]
    raise ValueError(f"align must be 'left', 'right' or None, not {align!r}")


def value_unit_to_bytes(value_unit: str) -> float:
    """Bytes represented by ``"<number> <unit>"``; units are binary (``"1 MB"`` -> 1048576).

    Known units: ``B``, ``kB``/``KB``, ``MB``, ``GB``, ``TB``, ``PB``, ``EB``.
    The result is a ``float`` (``"1.7 kB"`` is 1740.8 bytes); ``ValueError``
    for a string that is not a number and a known unit.
    """
    number, _, unit = value_unit.strip().rpartition(" ")
    multiplier = UNIT_MULTIPLIERS.get(unit)
    if multiplier is None or not _NUMBER.match(number.strip()):
        raise ValueError(f"not a '<number> <unit>' value: {value_unit!r}")
    return float(number) * multiplier


def parse_value(text: str) -> tuple[int | float | None, bool]:
    """``(value, had_unit)`` of one table cell (already stripped).

    ``null`` -> ``(None, False)``; ``"12"`` -> ``(12, False)``; ``"0.5"`` ->
    ``(0.5, False)``; ``"1.7 kB"`` -> ``(1740.8, True)``.  ``ValueError``
    for anything else.
    """
    if text == "null":
        return None, False
    if " " in text:
        return value_unit_to_bytes(text), True
    if not _NUMBER.match(text):
        raise ValueError(f"not a number: {text!r}")
    try:
        return int(text), False
    except ValueError:
        return float(text), False


def parse_timestamp(text: str) -> int:
    """Epoch seconds of a ``YYYY-MM-DD-HH:MM:SS`` stamp read as local time; ``ValueError`` if bad."""
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError(f"not a YYYY-MM-DD-HH:MM:SS time stamp: {text!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    when = datetime.datetime(year, month, day, hour, minute, second)
    return int(time.mktime(when.timetuple()))


def merge_samples(
    samples: Iterable[Sample], into: dict[int, dict[str, dict[str, Any]]] | None = None
) -> dict[int, dict[str, dict[str, Any]]]:
    """The documented ``{epoch: {host: {metric: value | {instance: value}}}}`` of samples.

    Samples of the same time stamp (the blocks of a wrapped table, or other
    outputs of the same hour) are merged: instance dicts are updated, other
    values replaced.  Loading the same data twice changes nothing.  The
    samples' dicts are taken over, not copied.
    """
    result: dict[int, dict[str, dict[str, Any]]] = {} if into is None else into
    for stamp, data in samples:
        known = result.get(stamp)
        if known is None:
            result[stamp] = data
            continue
        for host, metrics in data.items():
            mine = known.get(host)
            if mine is None:
                known[host] = metrics
                continue
            if mine.keys().isdisjoint(metrics):  # other metrics of the host (another output)
                mine.update(metrics)
                continue
            for key, value in metrics.items():
                if type(value) is dict:
                    current = mine.get(key)
                    if type(current) is dict:
                        current.update(value)
                        continue
                mine[key] = value
    return result


# -- the parser -------------------------------------------------------------------------

_Plan = list[tuple[str, list[tuple[str, Any, Any]]]]


class _Block:
    """A table block: where its columns are and what they hold."""

    __slots__ = (
        "entries",
        "extents",
        "first_line",
        "leads",
        "line_length",
        "plans",
        "row_stop",
        "rows",
        "tails",
        "timestamp_extent",
        "value_start",
        "value_stop",
    )

    def __init__(
        self, header: str, entries: list[LegendEntry], extents: list[tuple[int, int]], line: int
    ) -> None:
        self.entries = entries
        self.extents = extents  # of the value columns (right-aligned, contiguous)
        self.line_length = len(header)
        self.first_line = line
        self.rows = 0
        words = get_col_pos(header, align="right")
        self.row_stop = words[0][1]
        self.timestamp_extent = words[1]
        self.value_start = extents[0][0]
        self.value_stop = extents[-1][1]
        self.leads = np.array([start for start, _ in extents], dtype=np.intp)
        self.tails = np.array([stop - 1 for _, stop in extents], dtype=np.intp)
        self.plans: dict[tuple[int, ...], _Plan] = {}

    def plan(self, unit_columns: tuple[int, ...]) -> _Plan:
        """Columns grouped by host, then by metric key (for the given unit columns)."""
        known = self.plans.get(unit_columns)
        if known is not None:
            return known
        units = set(unit_columns)
        hosts: dict[str, dict[str, list[tuple[int, str | None]]]] = {}
        for index, entry in enumerate(self.entries):
            key = entry.metric + "_bytes" if index in units else entry.metric
            hosts.setdefault(entry.host, {}).setdefault(key, []).append((index, entry.instance))
        plan: _Plan = []
        for host, metrics in hosts.items():
            steps: list[tuple[str, Any, Any]] = []
            for key, columns in metrics.items():
                if len(columns) == 1 and columns[0][1] is None:
                    steps.append((key, columns[0][0], None))
                    continue
                if any(instance is None for _, instance in columns):
                    # a metric both with and without instance: cell by cell
                    steps.append((key, None, columns))
                    continue
                indices = [index for index, _ in columns]
                instances = tuple(instance for _, instance in columns)
                getter: Callable[[list[Any]], Any]
                if len(indices) == 1:
                    only = indices[0]

                    def getter(values: list[Any], only: int = only) -> tuple[Any, ...]:
                        return (values[only],)

                else:
                    getter = itemgetter(*indices)
                steps.append((key, getter, instances))
            plan.append((host, steps))
        self.plans[unit_columns] = plan
        return plan


def _build_rows(
    values: list[Any], plan: _Plan, count: int, width: int
) -> list[dict[str, dict[str, Any]]] | None:
    """:func:`_build_row` of ``count`` rows of ``width`` values, a column at a time.

    ``None`` (the caller then builds row by row) when a value is missing
    (``null``) or a metric has cells both with and without instance.
    """
    if None in values or any(how is None for _, steps in plan for _, how, _ in steps):
        return None
    rows = list(zip(*[iter(values)] * width, strict=True)) if width else [()] * count
    per_host: list[list[dict[str, Any]]] = []
    for _host, steps in plan:
        keys: list[str] = []
        columns: list[Any] = []
        for key, how, instances in steps:
            keys.append(key)
            if instances is None:
                columns.append(values[how::width])
            else:
                picked = map(how, rows)
                columns.append(list(map(dict, map(zip, repeat(instances), picked))))
        per_host.append(list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True)))))
    hosts = [host for host, _ in plan]
    if len(hosts) == 1:
        return [{hosts[0]: metrics} for metrics in per_host[0]] if keys else [{} for _ in rows]
    return [
        {host: metrics for host, metrics in zip(hosts, row, strict=True) if metrics}
        for row in zip(*per_host, strict=True)
    ]


def _build_row(values: list[Any], plan: _Plan) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = {}
    for host, steps in plan:
        metrics: dict[str, Any] = {}
        for key, how, instances in steps:
            if instances is None:
                value = values[how]
                if value is not None:
                    metrics[key] = value
            elif how is None:  # mixed scalar/instance columns under one key
                for index, instance in instances:
                    value = values[index]
                    if value is None:
                        continue
                    if instance is None:
                        metrics[key] = value
                    else:
                        slot = metrics.get(key)
                        if type(slot) is not dict:
                            slot = metrics[key] = {}
                        slot[instance] = value
            else:
                picked = how(values)
                if None in picked:
                    found = {i: v for i, v in zip(instances, picked, strict=True) if v is not None}
                    if found:
                        metrics[key] = found
                else:
                    metrics[key] = dict(zip(instances, picked, strict=True))
        if metrics:
            data[host] = metrics
    return data


class MmperfmonParser(LineParser[Sample]):
    """Incremental parser of ``mmperfmon query`` output; see the module docstring."""

    def __init__(self, source: str = "<input>", *, stamps: dict[str, int] | None = None) -> None:
        """``stamps``: a cache of time stamp text -> epoch that parsers of outputs read
        together (in the same time zone) may share, since their time stamps repeat."""
        super().__init__(source)
        self._stamps: dict[str, int] = {} if stamps is None else stamps
        self._reset()

    def _reset(self) -> None:
        self._legend: dict[int, LegendEntry] = {}
        self._legend_open = False
        self._seen_legend = False
        self._block: _Block | None = None
        self._blocks: list[_Block] = []
        self._columns_done = 0  # value columns of the blocks before the current one
        self._row_stamps: dict[str, int] = {}  # row label of the first block -> epoch

    # -- LineParser hooks ---------------------------------------------------------------
    def parse_lines(self, lines: list[str]) -> list[Sample]:
        out: list[Sample] = []
        try:
            self._parse(lines, out)
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out

    def finish(self) -> list[Sample]:
        self._check_table_complete()
        if self._seen_legend and not self._blocks:
            raise self.error("the output ended before its table (truncated?)")
        return []

    # -- line classification ------------------------------------------------------------
    def _parse(self, lines: list[str], out: list[Sample]) -> None:
        count = len(lines)
        i = 0
        while i < count:
            line = lines[i]
            block = self._block
            if block is not None and not self._legend_open and len(line) == block.line_length:
                # a run of rows of the current block, as long as the lines keep its width
                width = block.line_length
                label_end = block.row_stop - 1  # digits in rows, the "w" of "Row" in headers
                j = i + 1
                while (
                    j < count
                    and len(lines[j]) == width
                    and lines[j][label_end] != "w"
                    and lines[j][:1] != "L"
                ):
                    j += 1
                if line[label_end] != "w" and line[:1] != "L":
                    first = self.line_number + 1
                    self._rows(lines[i:j], first, out)
                    self.line_number = first + (j - i) - 1
                    i = j
                    continue
            self.line_number += 1
            i += 1
            self._line(line, out)

    def _line(self, line: str, out: list[Sample]) -> None:
        stripped = line.strip()
        if not stripped:
            self._legend_open = False
            return
        if stripped == "Legend:":
            self._check_table_complete()
            self._reset()
            self._legend_open = True
            self._seen_legend = True
            return
        if stripped.startswith("Row"):
            self._legend_open = False
            self._header(line)
            return
        if self._legend_open:
            self._legend_line(line)
            return
        if self._block is None:
            raise self.error(
                "expected 'Legend:', a 'Row Timestamp ...' header or a blank line", line
            )
        self._row_slowly(line, self.line_number, out)

    def _legend_line(self, line: str) -> None:
        match = _LEGEND_LINE.match(line)
        parts = match.group(2).split("|") if match else []
        if match is None or len(parts) < 3 or not all(parts[:2]) or not parts[-1]:
            raise self.error(
                "expected a legend entry '<n>: <host>|<group>[|<instance>]|<metric>'", line
            )
        number = int(match.group(1))
        instance = "|".join(parts[2:-1]) if len(parts) > 3 else None
        self._legend[number] = LegendEntry(number, parts[0], parts[1], instance, parts[-1])

    def _header(self, line: str) -> None:
        words = get_col_pos(line, align="right")
        exact = get_col_pos(line)
        if len(words) < 3 or line[exact[1][0] : exact[1][1]] != "Timestamp":
            raise self.error("expected a header 'Row Timestamp <metric> ...'", line)
        if not self._seen_legend:
            raise self.error("table header before any 'Legend:'", line)
        if self._block is not None:
            self._columns_done += len(self._block.entries)
        extents = words[2:]
        entries: list[LegendEntry] = []
        for k in range(len(extents)):
            number = self._columns_done + k + 1
            entry = self._legend.get(number)
            if entry is None:
                raise self.error(f"value column {number} has no legend entry", line)
            entries.append(entry)
        self._block = _Block(line, entries, extents, self.line_number)
        self._blocks.append(self._block)

    def _check_table_complete(self) -> None:
        """A table must cover every legend column, and every block the same rows."""
        if not self._blocks:
            return
        last = self._blocks[-1]
        covered = self._columns_done + len(last.entries)
        if covered < len(self._legend):
            raise self.error(
                f"the table ended after {covered} of its {len(self._legend)} legend columns (truncated?)"
            )
        first_rows = self._blocks[0].rows
        for block in self._blocks[1:]:
            if block.rows != first_rows:
                raise self.error(
                    f"the block at line {block.first_line} has {block.rows} rows, "
                    f"the first block {first_rows} (truncated?)"
                )

    # -- rows -------------------------------------------------------------------------------
    def _stamp(self, text: str, line: str) -> int:
        stamp = self._stamps.get(text)
        if stamp is None:
            try:
                stamp = parse_timestamp(text.strip())
            except ValueError as error:
                raise self.error(str(error), line) from None
            self._stamps[text] = stamp
        return stamp

    def _row_stamp(self, block: _Block, line: str) -> int:
        label = line[: block.row_stop]
        if block is self._blocks[0]:
            start, stop = block.timestamp_extent
            stamp = self._stamp(line[start:stop], line)
            self._row_stamps[label] = stamp
            return stamp
        known = self._row_stamps.get(label)
        if known is not None:
            return known
        start, stop = block.timestamp_extent
        return self._stamp(line[start:stop], line)

    def _rows(self, lines: list[str], first_line: int, out: list[Sample]) -> None:
        """Rows of the current block, all as wide as its header: the vectorised path."""
        block = self._block
        assert block is not None
        values, units = self._convert(lines, block)
        if values is None:
            for offset, line in enumerate(lines):
                self.line_number = first_line + offset
                self._row_slowly(line, self.line_number, out)
            return
        width = len(block.entries)
        plan = block.plan(units)
        first_block = block is self._blocks[0]
        stamps = self._stamps
        row_stamps = self._row_stamps
        row_stop = block.row_stop
        ts_start, ts_stop = block.timestamp_extent
        if first_block:
            texts = list(map(itemgetter(slice(ts_start, ts_stop)), lines))
            found = list(map(stamps.get, texts))
        else:
            found = list(map(row_stamps.get, map(itemgetter(slice(0, row_stop)), lines)))
        if None in found:
            for index, line in enumerate(lines):
                if found[index] is None:
                    self.line_number = first_line + index
                    found[index] = self._stamp(line[ts_start:ts_stop], line)
        if first_block:
            labels = map(itemgetter(slice(0, row_stop)), lines)
            row_stamps.update(zip(labels, found, strict=True))  # type: ignore[arg-type]
        rows = _build_rows(values, plan, len(lines), width)
        if rows is None:
            rows = [
                _build_row(values[base : base + width], plan)
                for base in range(0, len(lines) * width, width)
            ]
        out.extend(map(Sample, found, rows))  # type: ignore[arg-type]
        block.rows += len(lines)

    def _convert(self, lines: list[str], block: _Block) -> tuple[list[Any] | None, tuple[int, ...]]:
        """All values of a batch of rows in one go, or ``(None, ())`` when it does not fit."""
        count = len(lines)
        try:
            raw = "".join(lines).encode("ascii")
        except UnicodeEncodeError:
            return None, ()
        grid = np.frombuffer(raw, dtype=np.uint8).reshape(count, block.line_length)
        # every value right-aligned in its column, with a space before it
        if (grid[:, block.leads] != _SPACE).any() or (grid[:, block.tails] == _SPACE).any():
            return None, ()
        row_end = block.row_stop - 1
        if (grid[:, row_end] == _SPACE).any() or (
            grid[:, block.timestamp_extent[1] - 1] == _SPACE
        ).any():
            return None, ()
        region = grid[:, block.value_start : block.value_stop].copy()
        lettered = region >= _FIRST_LETTER
        units: list[int] = []
        multipliers: list[np.ndarray] = []
        if lettered.any():
            offset = block.value_start
            has_letters: np.ndarray = np.asarray(lettered.any(axis=0))
            for k, (start, stop) in enumerate(block.extents):
                if not has_letters[start - offset : stop - offset].any():
                    continue
                if stop - start < 5:  # too narrow for "<digit> <X>B" plus its separator
                    continue
                tail = region[:, stop - offset - 3 : stop - offset]
                if (
                    (tail[:, 0] == _SPACE).all()
                    and (tail[:, 2] == _LETTER_B).all()
                    and not lettered[:, start - offset : stop - offset - 2].any()
                ):
                    factor = _PREFIX_MULT[tail[:, 1]]
                    if (factor == 0).any():
                        return None, ()
                    units.append(k)
                    multipliers.append(factor)
                    tail[:, :] = _SPACE
        if (region == _QUOTE).any():
            return None, ()
        words_left = bool((region >= _FIRST_LETTER).any()) if units or lettered.any() else False
        region[:, block.leads - block.value_start] = _COMMA
        payload = region.tobytes()
        try:
            values = json.loads(b"[" + payload[1:] + b"]")
        except ValueError:
            return None, ()
        width = len(block.entries)
        if len(values) != count * width:
            return None, ()
        if words_left:
            # JSON words other than null (true, false) and nested values are no mmperfmon values
            for value in values:
                kind = type(value)
                if kind is not int and kind is not float and value is not None:
                    return None, ()
        for k, factor in zip(units, multipliers, strict=True):
            column = values[k::width]
            if None in column:
                return None, ()
            values[k::width] = (np.asarray(column, dtype=np.float64) * factor).tolist()
        return values, tuple(units)

    def _row_slowly(self, line: str, line_number: int, out: list[Sample]) -> None:
        """One row, cut by the header's column extents (the reference's way)."""
        block = self._block
        assert block is not None
        self.line_number = line_number
        if len(line.rstrip()) < block.value_stop:
            raise self.error("row is shorter than its header (truncated?)", line)
        stamp = self._row_stamp(block, line)
        values: list[Any] = []
        units: list[int] = []
        for k, ((start, stop), entry) in enumerate(zip(block.extents, block.entries, strict=True)):
            text = line[start:stop].strip()
            if not text:
                raise self.error(f"no value in column {entry.number} ({entry.metric})", line)
            try:
                value, had_unit = parse_value(text)
            except ValueError as error:
                raise self.error(str(error), line) from None
            values.append(value)
            if had_unit:
                units.append(k)
        out.append(Sample(stamp, _build_row(values, block.plan(tuple(units)))))
        block.rows += 1
