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

:class:`MmperfmonTableParser` reads the same text into
:class:`~atokio.parsers.mmperfmon_rows.RowChunk` records instead: value
columns with a layout, and time stamps checked but left as text, compact
enough to send from a worker process; :func:`merge_chunks` makes of them the
dict that :func:`merge_samples` makes of the samples.  It holds a table back
until the table ends, so that the blocks of a wrapped table come out as one
chunk.

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
same records.  Legend lines and header layouts repeat from one output to the
next (same servers, same metrics) and are worked out once.
"""

from __future__ import annotations

import functools
import json
import re
from operator import itemgetter
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

from atokio.parsers.base import LineParser, ParseError
from atokio.parsers.mmperfmon_rows import (
    Layout,
    RowChunk,
    Sample,
    _Plan,
    build_rows,
    check_timestamps,
    merge_chunks,
    merge_samples,
    parse_timestamp,
    plan_of,
)

__all__ = [
    "LegendEntry",
    "MmperfmonParser",
    "MmperfmonTableParser",
    "RowChunk",
    "Sample",
    "UNIT_MULTIPLIERS",
    "get_col_pos",
    "merge_chunks",
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
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
_WORD = re.compile(r"\S+")

_SPACE, _COMMA, _LETTER_B = 32, 44, ord("B")
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


# -- the parser -------------------------------------------------------------------------


class _Layout:
    """Where a block's columns are and what they hold: shared by every block with the
    same header line and legend entries (outputs of the same kind repeat them)."""

    __slots__ = (
        "entries",
        "extents",
        "filled",
        "layouts",
        "leads",
        "line_length",
        "relative_leads",
        "relative_starts",
        "row_stop",
        "tails",
        "timestamp_extent",
        "unit_starts",
        "value_start",
        "value_stop",
        "wide",
    )

    def __init__(self, header: str, entries: tuple[LegendEntry, ...]) -> None:
        words = get_col_pos(header, align="right")
        extents = words[2:]
        self.entries = entries
        self.extents = extents  # of the value columns (right-aligned, contiguous)
        self.line_length = len(header)
        self.row_stop = words[0][1]
        self.timestamp_extent = words[1]
        self.value_start = extents[0][0]
        self.value_stop = extents[-1][1]
        self.leads = np.array([start for start, _ in extents], dtype=np.intp)
        self.tails = np.array([stop - 1 for _, stop in extents], dtype=np.intp)
        # never blank in a row: the last character of each value, row label and time stamp
        ends = [self.row_stop - 1, self.timestamp_extent[1] - 1]
        self.filled = np.concatenate([self.tails, np.array(ends, dtype=np.intp)])
        # within the values region: separators, column starts, where "<space><X>B" would start
        self.relative_leads = self.leads - self.value_start
        self.relative_starts = self.relative_leads.copy()
        self.unit_starts = self.tails - self.value_start - 2
        # wide enough for "<digit> <X>B" plus its separator
        self.wide = np.array([stop - start >= 5 for start, stop in extents], dtype=bool)
        self.layouts: dict[tuple[int, ...], Layout] = {}

    def layout(self, unit_columns: tuple[int, ...]) -> Layout:
        """``(host, metric key, instance)`` of each column (``_bytes`` keys for the unit columns)."""
        known = self.layouts.get(unit_columns)
        if known is None:
            units = set(unit_columns)
            known = self.layouts[unit_columns] = tuple(
                (
                    entry.host,
                    entry.metric + "_bytes" if k in units else entry.metric,
                    entry.instance,
                )
                for k, entry in enumerate(self.entries)
            )
        return known


@functools.lru_cache(maxsize=1024)
def _layout_of(header: str, entries: tuple[LegendEntry, ...]) -> _Layout:
    return _Layout(header, entries)


@functools.lru_cache(maxsize=8192)
def _legend_entry(line: str) -> LegendEntry | None:
    """The entry of a legend line, ``None`` if it is none."""
    match = _LEGEND_LINE.match(line)
    parts = match.group(2).split("|") if match else []
    if match is None or len(parts) < 3 or not all(parts[:2]) or not parts[-1]:
        return None
    instance = "|".join(parts[2:-1]) if len(parts) > 3 else None
    return LegendEntry(int(match.group(1)), parts[0], parts[1], instance, parts[-1])


@functools.lru_cache(maxsize=1024)
def _header_extents(line: str) -> tuple[tuple[int, int], ...] | None:
    """The value column extents of a table header line, ``None`` if it is none."""
    words = get_col_pos(line, align="right")
    exact = get_col_pos(line)
    if len(words) < 3 or line[exact[1][0] : exact[1][1]] != "Timestamp":
        return None
    return tuple(words[2:])


class _Block:
    """A table block: its layout, where it starts and how many rows it had."""

    __slots__ = (
        "entries",
        "extents",
        "first_line",
        "layout",
        "leads",
        "line_length",
        "row_stop",
        "rows",
        "shape",
        "tails",
        "timestamp_extent",
        "value_start",
        "value_stop",
    )

    def __init__(self, shape: _Layout, line: int) -> None:
        self.shape = shape
        self.layout = shape.layout
        self.entries = shape.entries
        self.extents = shape.extents
        self.line_length = shape.line_length
        self.row_stop = shape.row_stop
        self.timestamp_extent = shape.timestamp_extent
        self.value_start = shape.value_start
        self.value_stop = shape.value_stop
        self.leads = shape.leads
        self.tails = shape.tails
        self.first_line = line
        self.rows = 0

    def plan(self, unit_columns: tuple[int, ...]) -> _Plan:
        """Columns grouped by host, then by metric key (for the given unit columns)."""
        return plan_of(self.layout(unit_columns))


R = TypeVar("R")


class _TableReader(LineParser[R], Generic[R]):
    """What both parsers share: legend, headers, value conversion; rows go to :meth:`_emit`."""

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        self._reset()

    def _reset(self) -> None:
        self._legend: dict[int, LegendEntry] = {}
        self._legend_open = False
        self._seen_legend = False
        self._block: _Block | None = None
        self._blocks: list[_Block] = []
        self._columns_done = 0  # value columns of the blocks before the current one
        self._row_texts: dict[str, str] = {}  # row label of the first block -> stamp text

    # -- for the two parsers ------------------------------------------------------------
    def _emit(
        self,
        block: _Block,
        texts: list[str],
        labels: list[str],
        columns: list[list[Any]],
        units: tuple[int, ...],
        lines: list[str],
        first_line: int,
        out: list[R],
    ) -> None:
        """Hand on rows of ``block``: their stamp texts, labels and value columns."""
        raise NotImplementedError

    def _check_stamp(self, text: str, line: str) -> None:
        """Raise the ParseError of a bad time stamp text (current line)."""
        raise NotImplementedError

    def _table_done(self, out: list[R]) -> None:
        """Called when a complete table ends (before a new legend, at the end)."""

    # -- LineParser hooks ---------------------------------------------------------------
    def parse_lines(self, lines: list[str]) -> list[R]:
        out: list[R] = []
        try:
            self._parse(lines, out)
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out

    def finish(self) -> list[R]:
        self._check_table_complete()
        if self._seen_legend and not self._blocks:
            raise self.error("the output ended before its table (truncated?)")
        out: list[R] = []
        self._table_done(out)
        return out

    # -- line classification ------------------------------------------------------------
    def _parse(self, lines: list[str], out: list[R]) -> None:
        count = len(lines)
        i = 0
        while i < count:
            if self._legend_open:  # a run of legend entries
                legend = self._legend
                start = i
                while i < count:
                    entry = _legend_entry(lines[i])
                    if entry is None:
                        break
                    legend[entry.number] = entry
                    i += 1
                self.line_number += i - start
                if i > start:
                    continue
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

    def _line(self, line: str, out: list[R]) -> None:
        stripped = line.strip()
        if not stripped:
            self._legend_open = False
            return
        if stripped == "Legend:":
            self._check_table_complete()
            self._table_done(out)
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
        entry = _legend_entry(line)
        if entry is None:
            raise self.error(
                "expected a legend entry '<n>: <host>|<group>[|<instance>]|<metric>'", line
            )
        self._legend[entry.number] = entry

    def _header(self, line: str) -> None:
        extents = _header_extents(line)
        if extents is None:
            raise self.error("expected a header 'Row Timestamp <metric> ...'", line)
        if not self._seen_legend:
            raise self.error("table header before any 'Legend:'", line)
        if self._block is not None:
            self._columns_done += len(self._block.entries)
        entries: list[LegendEntry] = []
        for k in range(len(extents)):
            number = self._columns_done + k + 1
            entry = self._legend.get(number)
            if entry is None:
                raise self.error(f"value column {number} has no legend entry", line)
            entries.append(entry)
        self._block = _Block(_layout_of(line, tuple(entries)), self.line_number)
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
    def _rows(self, lines: list[str], first_line: int, out: list[R]) -> None:
        """Rows of the current block, all as wide as its header: the vectorised path."""
        block = self._block
        assert block is not None
        values, units = self._convert(lines, block)
        if values is None:
            for offset, line in enumerate(lines):
                self.line_number = first_line + offset
                self._row_slowly(line, self.line_number, out)
            return
        ts_start, ts_stop = block.timestamp_extent
        texts = list(map(itemgetter(slice(ts_start, ts_stop)), lines))
        labels = list(map(itemgetter(slice(0, block.row_stop)), lines))
        if block is self._blocks[0]:
            self._row_texts.update(zip(labels, texts, strict=True))
        else:  # a later block takes the time stamp of its row in the first block
            known = list(map(self._row_texts.get, labels))
            if None in known:
                known = [k if k is not None else t for k, t in zip(known, texts, strict=True)]
            texts = known
        width = len(block.entries)
        columns = [values[k::width] for k in range(width)]
        self._emit(block, texts, labels, columns, units, lines, first_line, out)
        block.rows += len(lines)

    def _convert(self, lines: list[str], block: _Block) -> tuple[list[Any] | None, tuple[int, ...]]:
        """All values of a batch of rows in one go, or ``(None, ())`` when it does not fit."""
        count = len(lines)
        try:
            raw = "".join(lines).encode("ascii")
        except UnicodeEncodeError:
            return None, ()
        shape = block.shape
        grid = np.frombuffer(raw, dtype=np.uint8).reshape(count, shape.line_length)
        # every value right-aligned in its column, with a space before it
        if (grid[:, shape.leads] != _SPACE).any() or (grid[:, shape.filled] == _SPACE).any():
            return None, ()
        region = grid[:, shape.value_start : shape.value_stop].copy()
        units: tuple[int, ...] = ()
        factors: np.ndarray | None = None
        words_left = False
        if region.max() >= _FIRST_LETTER:
            lettered = region >= _FIRST_LETTER
            # columns with letters: "<number> <X>B" in every row makes a unit column
            at = np.asarray(lettered.any(axis=0))
            with_letters = np.logical_or.reduceat(at, shape.relative_starts)
            candidates = np.flatnonzero(with_letters & shape.wide)
            if candidates.size:
                first = shape.unit_starts[candidates]
                prefix = region[:, first + 1]
                fit = (region[:, first] == _SPACE).all(axis=0) & (
                    region[:, first + 2] == _LETTER_B
                ).all(axis=0)
                at[first + 1] = False
                at[first + 2] = False
                clean = ~np.logical_or.reduceat(at, shape.relative_starts)[candidates]
                chosen = fit & clean
                if chosen.any():
                    factors = _PREFIX_MULT[prefix[:, chosen]]
                    if (factors == 0).any():
                        return None, ()
                    picked = first[chosen]
                    region[:, picked + 1] = _SPACE
                    region[:, picked + 2] = _SPACE
                    units = tuple(candidates[chosen].tolist())
            words_left = bool((region >= _FIRST_LETTER).any()) if units else True
        region[:, shape.relative_leads] = _COMMA
        payload = region.tobytes()
        if b'"' in payload:
            return None, ()
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
        if factors is not None:
            for index, k in enumerate(units):
                column = values[k::width]
                if None in column:
                    return None, ()
                values[k::width] = (
                    np.asarray(column, dtype=np.float64) * factors[:, index]
                ).tolist()
        return values, units

    def _row_slowly(self, line: str, line_number: int, out: list[R]) -> None:
        """One row, cut by the header's column extents (the reference's way)."""
        block = self._block
        assert block is not None
        self.line_number = line_number
        if len(line.rstrip()) < block.value_stop:
            raise self.error("row is shorter than its header (truncated?)", line)
        label = line[: block.row_stop]
        stamp = line[slice(*block.timestamp_extent)]
        if block is self._blocks[0]:
            self._row_texts[label] = stamp
        else:
            stamp = self._row_texts.get(label, stamp)
        self._check_stamp(stamp, line)
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
        columns = [[value] for value in values]
        self._emit(block, [stamp], [label], columns, tuple(units), [line], line_number, out)
        block.rows += 1


class MmperfmonParser(_TableReader[Sample]):
    """Incremental parser of ``mmperfmon query`` output into :class:`Sample` records
    (one per table line); see the module docstring."""

    def __init__(self, source: str = "<input>", *, stamps: dict[str, int] | None = None) -> None:
        """``stamps``: a cache of time stamp text -> epoch that parsers of outputs read
        together (in the same time zone) may share, since their time stamps repeat."""
        super().__init__(source)
        self._stamps: dict[str, int] = {} if stamps is None else stamps

    def _stamp(self, text: str, line: str) -> int:
        stamp = self._stamps.get(text)
        if stamp is None:
            try:
                stamp = parse_timestamp(text.strip())
            except ValueError as error:
                raise self.error(str(error), line) from None
            self._stamps[text] = stamp
        return stamp

    def _check_stamp(self, text: str, line: str) -> None:
        self._stamp(text, line)

    def _emit(
        self,
        block: _Block,
        texts: list[str],
        labels: list[str],
        columns: list[list[Any]],
        units: tuple[int, ...],
        lines: list[str],
        first_line: int,
        out: list[Sample],
    ) -> None:
        found = list(map(self._stamps.get, texts))
        if None in found:
            for index, text in enumerate(texts):
                if found[index] is None:
                    self.line_number = first_line + index
                    found[index] = self._stamp(text, lines[index])
        rows = build_rows(columns, block.plan(units), len(texts))
        out.extend(map(Sample, found, rows))  # type: ignore[arg-type]


class MmperfmonTableParser(_TableReader[RowChunk]):
    """Incremental parser of ``mmperfmon query`` output into :class:`RowChunk` records.

    The rows are those :class:`MmperfmonParser` reads, as columns, with their
    time stamps checked but left as text (:func:`merge_chunks` converts them
    where the dict is built).  A table is held back until it ends; then, when
    its blocks have the same rows and no missing value, it comes out as one
    chunk whose columns are those of all its blocks (their merged rows are
    the rows' dicts), else as a chunk per batch of rows of each block.
    """

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        self._pending: list[tuple[int, list[str], RowChunk]] = []

    def parse_lines(self, lines: list[str]) -> list[RowChunk]:
        try:
            return super().parse_lines(lines)
        except ParseError as error:
            self._pending_into(error)
            raise

    def finish(self) -> list[RowChunk]:
        try:
            return super().finish()
        except ParseError as error:
            self._pending_into(error)
            raise

    def _pending_into(self, error: ParseError) -> None:
        """The rows held back go with an error, after the records it carries."""
        records = list(error.records)
        error.records = records + [chunk for _, _, chunk in self._pending]
        self._pending = []

    def _check_stamp(self, text: str, line: str) -> None:
        bad = check_timestamps([text])
        if bad is not None:
            raise self.error(bad[1], line)

    def _emit(
        self,
        block: _Block,
        texts: list[str],
        labels: list[str],
        columns: list[list[Any]],
        units: tuple[int, ...],
        lines: list[str],
        first_line: int,
        out: list[RowChunk],
    ) -> None:
        checked = block is not self._blocks[0] and all(map(self._row_texts.__contains__, labels))
        bad = None if checked else check_timestamps(texts)  # else all from the first block
        if bad is not None:
            self.line_number = first_line + bad[0]
            raise self.error(bad[1], lines[bad[0]])
        complete = not any(None in column for column in columns)
        chunk = RowChunk(first_line, texts, columns, block.layout(units), complete)
        self._pending.append((len(self._blocks) - 1, labels, chunk))  # rows of the last block

    def _table_done(self, out: list[RowChunk]) -> None:
        pending, self._pending = self._pending, []
        if pending:
            combined = _combine(pending)
            out.extend([chunk for _, _, chunk in pending] if combined is None else [combined])


def _combine(pending: list[tuple[int, list[str], RowChunk]]) -> RowChunk | None:
    """One chunk for all the blocks of a table, or ``None`` when their merge is not a plain
    concatenation (other rows, a missing value, a key with and without instance)."""
    blocks: dict[int, list[tuple[list[str], RowChunk]]] = {}
    for index, labels, chunk in pending:
        blocks.setdefault(index, []).append((labels, chunk))
    if len(blocks) < 2:
        return None
    first_labels: list[str] | None = None
    stamps: list[str] = []
    columns: list[list[Any]] = []
    layout: list[tuple[str, str, str | None]] = []
    for parts in blocks.values():
        own = parts[0][1].layout
        if any(chunk.layout != own for _, chunk in parts):
            return None
        labels = [label for part_labels, _ in parts for label in part_labels]
        if first_labels is None:
            if len(set(labels)) != len(labels):
                return None
            first_labels = labels
            stamps = [text for _, chunk in parts for text in chunk.stamps]
        elif labels != first_labels:
            return None
        if len(parts) == 1:
            columns += parts[0][1].columns
        else:
            columns += [
                [value for column in pieces for value in column]
                for pieces in zip(*(chunk.columns for _, chunk in parts), strict=True)
            ]
        layout += own
    if not all(chunk.complete for _, _, chunk in pending):
        return None
    whole = tuple(layout)
    if any(how is None for _, steps in plan_of(whole) for _, how, _ in steps):
        return None
    return RowChunk(pending[0][2].first_line, stamps, columns, whole, True)
