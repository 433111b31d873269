"""The sans-IO parser contract shared by every format.

A parser is a plain object with no I/O and no event loop, in the style of h11:

* ``feed(data)`` takes the next chunk of bytes (any size, split anywhere) and
  returns the records that are complete now;
* ``close()`` says the input has ended: it returns the records that were still
  pending, or raises :class:`ParseError` when the input was cut short.

Feeding the same bytes in one chunk, byte by byte, or in any other chunking
gives the same records in the same order.  Memory is bounded by the largest
record (plus one line), never by the length of the input.

:class:`LineParser` does the line splitting and line numbering for the many
line-oriented formats; a format only implements :meth:`LineParser.parse_line`
(or overrides :meth:`LineParser.parse_lines` to work on a whole batch of lines,
which is how the fast parsers vectorise).

:class:`BatchLineParser` is that batch form made general: a batch whose lines
share one layout is converted in one pass (:meth:`BatchLineParser.parse_batch`),
any other batch is sorted into groups of one layout (:meth:`~BatchLineParser.classify`,
:func:`group_rows`) and converted a group at a time, column by column
(:meth:`~BatchLineParser.build`).  The numpy helpers that turn columns of date
fields into epoch seconds live in :mod:`atokio.parsers.timecolumns` (and are
re-exported here: :class:`LocalClock`, :func:`naive_seconds`, :func:`char_codes`,
:func:`digit_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from atokio.parsers.timecolumns import LocalClock, char_codes, digit_columns, naive_seconds

__all__ = [
    "CONVERSION_ERRORS",
    "EXCERPT_CHARS",
    "BatchLineParser",
    "Groups",
    "LineParser",
    "LocalClock",
    "ParseError",
    "Parser",
    "char_codes",
    "digit_columns",
    "group_rows",
    "in_line_order",
    "naive_seconds",
    "parse_all",
]

R = TypeVar("R")

#: Longest excerpt of an offending line quoted in a :class:`ParseError`.
EXCERPT_CHARS = 80


class ParseError(ValueError):
    """Bad or truncated input, with the source, line number and offending text.

    ``str(error)`` reads ``source:line: message: 'text...'`` so that a user can
    go straight to the line.  The attributes stay available for programs.

    ``records`` holds the records that the failing ``feed()``/``close()`` call
    had completed before the bad line, so that nothing delivered is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line_number: int | None = None,
        text: str | bytes | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line_number = line_number
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.text = text
        self.records: list[object] = []
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<input>"
        if self.line_number is not None:
            where = f"{where}:{self.line_number}"
        out = f"{where}: {self.message}"
        if self.text is not None:
            excerpt = self.text
            if len(excerpt) > EXCERPT_CHARS:
                excerpt = excerpt[:EXCERPT_CHARS] + "..."
            out += f": {excerpt!r}"
        return out

    def __reduce__(self):  # keep keyword-only state across process boundaries
        return (_rebuild_parse_error, (self.message, self.source, self.line_number, self.text))


def _rebuild_parse_error(
    message: str, source: str | None, line_number: int | None, text: str | None
) -> ParseError:
    return ParseError(message, source=source, line_number=line_number, text=text)


class Parser(Protocol[R]):
    """What every parser offers (see the module docstring)."""

    source: str

    def feed(self, data: bytes) -> list[R]: ...

    def close(self) -> list[R]: ...


class LineParser(Generic[R]):
    """Base class for line-oriented formats.

    Splits the byte stream on ``\\n`` only (a ``\\r`` before it is removed), so
    file names holding other Unicode line separators stay whole; decodes each
    complete line as UTF-8 (undecodable bytes are replaced, never fatal) and
    hands batches of lines to :meth:`parse_lines`.  An unterminated last line
    is parsed at :meth:`close`.

    ``self.line_number`` is the 1-based number of the last line handed to the
    subclass, for error messages.
    """

    #: Encoding of the text; subclasses may change it.
    encoding = "utf-8"

    def __init__(self, source: str = "<input>") -> None:
        self.source = source
        self.line_number = 0
        self._buffer = bytearray()
        self._closed = False

    # -- the contract -----------------------------------------------------
    def feed(self, data: bytes) -> list[R]:
        if self._closed:
            raise RuntimeError(f"{self.source}: feed() after close()")
        if not data:
            return []
        cut = data.rfind(b"\n")
        if cut < 0:
            self._buffer += data
            return []
        if self._buffer:
            self._buffer += data[: cut + 1]
            block = bytes(self._buffer)
            self._buffer = bytearray(data[cut + 1 :])
        else:
            block = bytes(data[: cut + 1])
            self._buffer = bytearray(data[cut + 1 :])
        # the line end is \n or \r\n, wherever the chunk boundaries fall
        return self._parse_block(block[:-2] if block.endswith(b"\r\n") else block[:-1])

    def close(self) -> list[R]:
        if self._closed:
            return []
        self._closed = True
        records: list[R] = []
        if self._buffer:
            records.extend(self._parse_block(bytes(self._buffer)))
            self._buffer = bytearray()
        records.extend(self.finish())
        return records

    # -- for subclasses -----------------------------------------------------
    def _parse_block(self, block: bytes) -> list[R]:
        text = block.decode(self.encoding, errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        return self.parse_lines(lines)

    def parse_lines(self, lines: list[str]) -> list[R]:
        """Parse a batch of complete lines (without line ends)."""
        out: list[R] = []
        try:
            for line in lines:
                self.line_number += 1
                out.extend(self.parse_line(line))
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out

    def parse_line(self, line: str) -> list[R]:
        """Parse one line and return the records it completes."""
        raise NotImplementedError

    def finish(self) -> list[R]:
        """Called once at :meth:`close` after the last line: flush or raise."""
        return []

    def error(self, message: str, text: str | None = None) -> ParseError:
        """A :class:`ParseError` located at the current line."""
        return ParseError(message, source=self.source, line_number=self.line_number, text=text)


# -- batches of lines converted column by column ----------------------------------

#: What a failed conversion of a column (or of one row) raises.
CONVERSION_ERRORS = (ValueError, KeyError, IndexError, TypeError, OverflowError)

#: ``{kind: (line indexes, rows)}``: the lines of a batch grouped by layout.
Groups = dict[Any, tuple[list[int], list[Any]]]


def group_rows(kinds: list[Any], rows: list[Any], skip: Any = None) -> Groups:
    """``{kind: (line indexes, rows)}`` of rows labelled by ``kinds`` (rows of kind ``skip`` dropped).

    Grouping is done with C-level scans (one ``list.count`` for a batch of a
    single kind, one comparison per kind otherwise), not a Python loop per row.
    """
    if not kinds:
        return {}
    first = kinds[0]
    if kinds.count(first) == len(kinds):
        return {} if first == skip else {first: (list(range(len(rows))), rows)}
    codes = {kind: number for number, kind in enumerate(set(kinds))}
    coded = np.fromiter(map(codes.__getitem__, kinds), dtype=np.int64, count=len(kinds))
    groups: Groups = {}
    for kind, number in codes.items():
        if kind == skip:
            continue
        index = np.flatnonzero(coded == number).tolist()
        groups[kind] = (index, [rows[i] for i in index])
    return groups


def in_line_order(parts: Sequence[tuple[list[int], list[Any]]]) -> list[Any]:
    """The items of ``[(line indexes, items), ...]`` (each part in line order) merged by line."""
    if len(parts) == 1:
        return list(parts[0][1])
    index: list[int] = []
    items: list[Any] = []
    for lines, part in parts:
        index.extend(lines)
        items.extend(part)
    order = np.argsort(np.array(index, dtype=np.int64), kind="stable")
    return list(map(items.__getitem__, order.tolist()))


class BatchLineParser(LineParser[R]):
    """A line parser that converts a batch of lines column by column.

    :meth:`parse_batch` may convert a whole batch in one pass when its lines
    share a layout (it returns ``None`` to decline, having changed nothing).
    Otherwise :meth:`classify` sorts the lines of a batch into groups of one
    layout (and names the first bad line, if any); :meth:`build` turns the
    rows of a group into records, vectorised.  When a group does not convert,
    the batch is converted again row by row so that the first row that fails
    is reported as a :class:`ParseError` with its line number, the records
    before it in ``error.records``.  ``build`` must give for a group the
    records it gives for its rows one at a time, and ``parse_batch`` what the
    groups give: that is what makes the output independent of the chunking.
    """

    #: What a record is called in error messages.
    what = "log"

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        #: Lines that were not records of a known kind (not errors), so far.
        self.skipped = 0

    def parse_lines(self, lines: list[str]) -> list[R]:
        base = self.line_number
        try:
            fast = self.parse_batch(lines)
        except CONVERSION_ERRORS:
            fast = None
        if fast is not None:
            self.line_number = base + len(lines)
            return fast
        groups, failure = self.classify(lines)
        try:
            out = self._convert(groups)
        except CONVERSION_ERRORS:
            out = self._convert_slowly(groups, base, lines)
        if failure is not None:
            index, message = failure
            self.line_number = base + index + 1
            error = self.error(message, lines[index])
            error.records = list(out)
            raise error
        self.line_number = base + len(lines)
        return out

    def parse_batch(self, lines: list[str]) -> list[R] | None:
        """The records of a whole batch in one pass, or ``None`` (then :meth:`classify` runs).

        It must return exactly what :meth:`classify` and :meth:`build` give, and
        change no state (``skipped`` included) unless it returns records; a
        conversion error it raises counts as ``None``.
        """
        return None

    def classify(self, lines: list[str]) -> tuple[Groups, tuple[int, str] | None]:
        """Group the lines by layout: ``{kind: (line indexes, rows)}`` and the first bad line.

        Only the lines before the first bad line (``(index, message)``) are grouped.
        """
        raise NotImplementedError

    def build(self, kind: Any, rows: list[Any]) -> list[R]:
        """The records of the rows of one group (one record per row)."""
        raise NotImplementedError

    def _convert(self, groups: Groups) -> list[R]:
        if len(groups) == 1:
            ((kind, (_, rows)),) = groups.items()
            return self.build(kind, rows)
        return in_line_order(
            [(index, self.build(kind, rows)) for kind, (index, rows) in groups.items()]
        )

    def _convert_slowly(self, groups: Groups, base: int, lines: list[str]) -> list[R]:
        """Row by row, in line order, to name the first row that does not convert."""
        rows = sorted(
            (
                (line, kind, row)
                for kind, (index, group) in groups.items()
                for line, row in zip(index, group, strict=True)
            ),
            key=lambda item: item[0],
        )
        out: list[R] = []
        for line, kind, row in rows:
            try:
                out.extend(self.build(kind, [row]))
            except CONVERSION_ERRORS as exc:
                self.line_number = base + line + 1
                error = self.error(f"bad {self.what} record ({exc})", lines[line])
                error.records = list(out)
                raise error from None
        return out


def parse_all(parser: Parser[R], data: bytes, chunk_size: int = 1 << 20) -> list[R]:
    """Feed ``data`` to ``parser`` in chunks and close it: the records, in order.

    A convenience for tests and small in-memory inputs; real data is streamed
    by the collectors.
    """
    records: list[R] = []
    view = memoryview(data)
    for start in range(0, len(data), chunk_size):
        records.extend(parser.feed(bytes(view[start : start + chunk_size])))
    records.extend(parser.close())
    return records
