"""Streaming parser for ``sacct --parsable`` / ``--parsable2`` text (docs/formats.md#slurm-sacct).

Input: a header line naming the ``--format`` fields as sacct spells them
(``JobIDRaw|Start|End|NodeList``), then one line per job and per step, fields
separated by ``|``.  ``--parsable`` (``-p``) ends every line with a ``|``,
``--parsable2`` (``-P``) does not; both are read.

Records: one ``dict`` per job or step line, keyed by the lower-cased header
names (an empty name, such as the one after ``-p``'s trailing ``|``, is
skipped), in header order.  With ``recast=True`` (the default) the fields the
documented Slurm structure converts are converted as each line is read:

* ``start``, ``end``: ``YYYY-MM-DDTHH:MM:SS``
  -> naive local :class:`datetime.datetime`; sacct's ``Unknown`` / ``None``
  (a job still running, or one that never started) and an empty field
  -> ``None``;
* ``nodelist``: a Slurm hostlist -> ``set`` of host names, as documented
  (:mod:`atokio.parsers.hostlist`; ``None assigned`` -> empty set).  Each
  record gets a set of its own; a node-list text seen before (a job and its
  steps) is expanded once and copied (a C-level copy of a frozen set).

With ``recast=False`` every value stays the string sacct printed (what
:func:`atokio.connectors.slurm.parse_sacct` returns).  :func:`build_sacct_dict`
keys the records by their first column (``jobidraw``); a repeated key logs a
warning and the later line wins.

Decisions where the reference is silent or fails:

* a line whose field count differs from the header's is a
  :class:`~atokio.parsers.base.ParseError` naming the source and line (a
  ``|`` inside a value, or output cut short);
* a time that is neither a timestamp nor one of the placeholders above is a
  ``ParseError`` too;
* blank lines are skipped; a second copy of the header line (two outputs
  concatenated) is skipped;
* lines are split on ``\\n`` only (``\\r\\n`` is accepted).

Speed: lines are handled a batch (one ``feed()``) at a time: one
``str.split`` per line, the converted fields a whole column at a time
(``datetime.fromisoformat`` over the column; node lists looked up in a
bounded per-parser memo), then ``dict(zip(...))`` per line.  Any line that
does not fit (a blank line, a bad field count, a bad value) sends the batch
down a line-by-line path that skips or reports it, so every chunking gives
the same records and the same errors.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any

from atokio.parsers.base import LineParser, ParseError
from atokio.parsers.hostlist import HostlistError, expand_hostlist

__all__ = [
    "NO_TIME",
    "TIME_FIELDS",
    "SacctParser",
    "SacctRecord",
    "build_sacct_dict",
    "format_sacct_time",
    "parse_sacct_time",
]

logger = logging.getLogger(__name__)

#: A parsed line: lower-cased field name -> value.
SacctRecord = dict[str, Any]

#: Fields holding ``YYYY-MM-DDTHH:MM:SS`` times.
TIME_FIELDS = frozenset({"start", "end"})

#: What sacct prints where a time is not known; these read as ``None``.
NO_TIME = frozenset({"Unknown", "None", ""})

#: What ``None`` times are written back as.
UNKNOWN_TIME = "Unknown"

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

#: How many distinct node lists one parser remembers expanded.
NODELIST_MEMO = 16384

_fromisoformat = datetime.datetime.fromisoformat
_tzinfo = attrgetter("tzinfo")


def parse_sacct_time(text: str) -> datetime.datetime | None:
    """A sacct time (``2017-03-20T01:59:02``) as a naive local datetime; placeholders -> None.

    Raises ``ValueError`` for anything else.
    """
    if text in NO_TIME:
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a YYYY-MM-DDTHH:MM:SS time") from None
    if value.tzinfo is not None:
        raise ValueError(f"{text!r} has a time zone; sacct times are local")
    return value


def format_sacct_time(value: datetime.datetime | None) -> str:
    """The inverse of :func:`parse_sacct_time` (``None`` -> ``Unknown``)."""
    if value is None:
        return UNKNOWN_TIME
    return value.strftime(TIME_FORMAT)


class SacctParser(LineParser[SacctRecord]):
    """Sans-IO parser of sacct's pipe-delimited output; ``feed()`` gives line dicts.

    ``source`` names the input in errors; ``recast`` converts times and node
    lists (see the module docstring).
    """

    def __init__(self, source: str = "<sacct>", recast: bool = True) -> None:
        super().__init__(source)
        self.recast = recast
        #: The lower-cased field names of the header (empty names included).
        self.header: list[str] | None = None
        self._header_line: str | None = None
        self._names: list[str] = []
        self._keep: list[int] | None = None
        self._width = 0
        self._converters: list[tuple[str, Callable[[str], Any]]] = []
        self._column_converters: list[tuple[int, Callable[[tuple[str, ...]], list[Any]]]] = []
        self._memo: dict[str, frozenset[str]] = {}

    # -- header -------------------------------------------------------------------
    def _set_header(self, line: str) -> None:
        fields = [name.strip().lower() for name in line.split("|")]
        names = [name for name in fields if name]
        if not names:
            raise self.error("sacct header names no field", line)
        if len(set(names)) != len(names):
            raise self.error("sacct header repeats a field name", line)
        self.header = fields
        self._header_line = line
        self._width = len(fields)
        kept = [index for index, name in enumerate(fields) if name]
        # zip() drops trailing empty names by itself; others need picking out
        self._keep = None if kept == list(range(len(kept))) else kept
        self._names = names
        self._converters = []
        self._column_converters = []
        if self.recast:
            for index, name in enumerate(names):
                if name in TIME_FIELDS:
                    self._converters.append((name, parse_sacct_time))
                    self._column_converters.append((index, self._times))
                elif name == "nodelist":
                    self._converters.append((name, self._expand))
                    self._column_converters.append((index, self._nodelists))

    def _expanded(self, text: str) -> frozenset[str]:
        found = self._memo.get(text)
        if found is None:
            found = frozenset(expand_hostlist(text))
            if len(self._memo) >= NODELIST_MEMO:
                self._memo.clear()
            self._memo[text] = found
        return found

    def _expand(self, text: str) -> set[str]:
        return set(self._expanded(text))

    # -- lines --------------------------------------------------------------------
    def parse_lines(self, lines: list[str]) -> list[SacctRecord]:
        if self.header is None:
            for position, line in enumerate(lines):
                self.line_number += 1
                if line.strip():
                    self._set_header(line)
                    lines = lines[position + 1 :]
                    break
            else:
                return []
        if not lines:
            return []
        return self._rows(lines, self.line_number + 1)

    def _is_record(self, fields: list[str], line: str) -> bool:
        """Whether a split line is a record (False: skip it); raises for a bad line."""
        if len(fields) == self._width and line != self._header_line:
            return True
        if not line.strip() or line == self._header_line:
            return False
        raise self.error(
            f"expected {self._width} '|'-separated fields as in the header, found {len(fields)}",
            line,
        )

    def _split(self, lines: list[str], first: int) -> list[list[str]]:
        """The fields of every record line of a batch (blank lines and repeated headers skipped)."""
        rows = [line.split("|") for line in lines]
        if set(map(len, rows)) == {self._width} and self._header_line not in lines:
            return rows
        kept: list[list[str]] = []
        for offset, (fields, line) in enumerate(zip(rows, lines, strict=True)):
            self.line_number = first + offset
            try:
                if self._is_record(fields, line):
                    kept.append(fields)
            except ParseError as error:
                done = self._build(kept, first, lines) if kept else []
                self.line_number = first + offset
                error.records = list(done)
                raise
        return kept

    def _rows(self, lines: list[str], first: int) -> list[SacctRecord]:
        rows = self._split(lines, first)
        records = self._build(rows, first, lines) if rows else []
        self.line_number = first + len(lines) - 1
        return records

    def _build(self, rows: list[list[str]], first: int, lines: list[str]) -> list[SacctRecord]:
        """Records from split lines, converting whole columns at a time."""
        names = self._names
        if self._keep is not None:
            keep = self._keep
            rows = [[fields[index] for index in keep] for fields in rows]
        if not self._converters:
            return [dict(zip(names, fields, strict=False)) for fields in rows]
        columns: list[Any] = list(zip(*rows, strict=False))
        try:
            for index, convert in self._column_converters:
                columns[index] = convert(columns[index])
        except (ValueError, HostlistError):
            # find the offending line: convert record by record
            records = [dict(zip(names, fields, strict=False)) for fields in rows]
            self._convert(records, first, lines)
            return records  # pragma: no cover - _convert raised
        return [dict(zip(names, values, strict=False)) for values in zip(*columns, strict=False)]

    @staticmethod
    def _times(column: tuple[str, ...]) -> list[datetime.datetime | None]:
        if set(map(len, column)) == {19}:
            values = list(map(_fromisoformat, column))
            if not any(map(_tzinfo, values)):
                return values  # type: ignore[return-value]
        return [parse_sacct_time(text) for text in column]

    def _nodelists(self, column: tuple[str, ...]) -> list[set[str]]:
        known = self._memo.get
        expand = self._expanded
        return [set(known(text) or expand(text)) for text in column]

    def _convert(self, records: list[SacctRecord], first: int, lines: list[str]) -> None:
        converters = self._converters
        for index, record in enumerate(records):
            for name, convert in converters:
                try:
                    record[name] = convert(record[name])
                except (ValueError, HostlistError) as exc:
                    self.line_number = first + self._offset_of(index, lines)
                    error = self.error(f"bad {name} value: {exc}")
                    error.records = list(records[:index])
                    raise error from None

    def _offset_of(self, index: int, lines: list[str]) -> int:
        """The offset in ``lines`` of the ``index``-th record made from them."""
        seen = -1
        for offset, line in enumerate(lines):
            fields = line.split("|")
            if len(fields) == self._width and line != self._header_line:
                seen += 1
                if seen == index:
                    return offset
        return index  # pragma: no cover - the records came from these lines


def build_sacct_dict(
    records: Iterable[SacctRecord], into: dict[str, Any] | None = None, source: str = "<sacct>"
) -> dict[str, Any]:
    """Key sacct records by their first field (``jobidraw``): ``{key: record}``.

    A key seen twice logs a warning and the later record wins.  ``into``
    updates an existing dict (records for a key already there are merged
    into it, field by field).
    """
    out: dict[str, Any] = {} if into is None else into
    batch = records if isinstance(records, list) else list(records)
    if batch and all(batch):
        first = next(iter(batch[0]))
        try:
            keyed = {str(record[first]): record for record in batch}
        except KeyError:
            keyed = {}
        if len(keyed) == len(batch) and out.keys().isdisjoint(keyed):
            out.update(keyed)  # the common case: new, distinct keys
            return out
    seen: set[str] = set()
    for record in batch:
        if not record:
            continue
        key = str(next(iter(record.values())))
        if key in seen:
            logger.warning(
                "%s: job/step %s appears more than once; the later line wins", source, key
            )
            out[key] = record
            continue
        seen.add(key)
        existing = out.get(key)
        if existing is None:
            out[key] = record
        else:
            existing.update(record)
    return out
