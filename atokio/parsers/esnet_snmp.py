"""The ESnet SNMP REST API's JSON answer, parsed as it streams (docs/formats.md#esnet-snmp).

One answer is a JSON object such as::

    {"agg": "30", "begin_time": 1517471100, "end_time": 1517471910, "cf": "average",
     "data": [[1517471100, 5997486471.266666], ..., [1517471910, 189300026.8]]}

:class:`EsnetSnmpParser` is a sans-IO parser (no I/O, no event loop): feed it
the body in chunks of any size and it returns, as soon as each is complete,

* a :class:`Point` for every ``[epoch, bytes_per_second]`` pair of ``data``
  (epoch as int; the value a float, or ``None`` where the service sent
  ``null``), and
* a :class:`Field` for every other top-level member (``agg``, ``cf``,
  ``calc``, ``calc_func``, ``begin_time``, ``end_time``, or anything else the
  service adds), with its JSON value.

Records come in the order of the body.  The tokenising is done by ``ijson``
(an incremental JSON parser), so memory stays bounded by the largest
top-level member other than ``data``, whatever the number of points.  Any
chunking of the same bytes gives the same records.  A body that is not JSON,
is cut short, is not an object, or whose ``data`` is not a list of
``[epoch, number-or-null]`` pairs raises :class:`~atokio.parsers.base.ParseError`
naming the source, the line and the :data:`BLOCK` of bytes where the fault
was found, the same at any chunking (the tokenizer is fed pieces that never
cross a block boundary, so a fault is always found in the same block).

:func:`interval_of` reads the time step of an answer from its fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ijson
from ijson.common import ObjectBuilder

from atokio.parsers.base import ParseError

__all__ = ["BLOCK", "EsnetSnmpParser", "Field", "Point", "interval_of", "parse_response"]

#: Errors are located to a block of this many bytes of the body (and the line it starts on).
BLOCK = 1024


@dataclass(frozen=True, slots=True)
class Point:
    """One sample: epoch seconds and bytes per second.

    ``value`` is the number as the JSON spells it (an int stays an int, as
    with :func:`json.loads`), or ``None`` where the service sent ``null``.
    """

    timestamp: int
    value: float | int | None


@dataclass(frozen=True, slots=True)
class Field:
    """A top-level member of the answer other than ``data``."""

    name: str
    value: Any


Record = Point | Field


def _number(value: Any) -> float:
    return float(value) if isinstance(value, Decimal) else value


class EsnetSnmpParser:
    """Incremental parser of one ESnet SNMP REST answer (see the module docstring)."""

    def __init__(self, source: str = "<esnet-snmp>") -> None:
        self.source = source
        self._events = ijson.sendable_list()
        self._coro = ijson.parse_coro(self._events, use_float=True)
        self._depth = 0  # nesting depth before the current event
        self._seen_root = False
        self._key: str | None = None  # the top-level member being read
        self._builder: ObjectBuilder | None = None
        self._pair: list[Any] | None = None
        self._bytes = 0  # bytes handed to the tokenizer
        self._lines_before_block = 0  # newlines before the current block
        self._block_newlines = 0  # newlines read in the current block
        self._closed = False
        self.points = 0  #: points delivered so far

    # -- the parser contract ----------------------------------------------------
    def feed(self, data: bytes) -> list[Record]:
        """Take the next chunk; return the records it completes."""
        if self._closed:
            raise RuntimeError(f"{self.source}: feed() after close()")
        out: list[Record] = []
        view = memoryview(data)
        at = 0
        while at < len(view):
            # pieces never cross a BLOCK boundary of the whole body: an error is
            # found in the same block, so reported alike, at any chunking
            piece = bytes(view[at : at + BLOCK - self._bytes % BLOCK])
            try:
                self._coro.send(piece)
            except (ijson.JSONError, ValueError, OverflowError) as error:
                failure = self._error(f"invalid JSON: {_first_line(error)}")
                try:
                    failure.records = [*out, *self._drain()]
                except ParseError as inner:
                    inner.records = [*out, *inner.records]
                    raise inner from error
                raise failure from error
            try:
                out += self._drain()
            except ParseError as error:
                error.records = [*out, *error.records]
                raise
            self._advance(piece)
            at += len(piece)
        return out

    def _advance(self, piece: bytes) -> None:
        """Count ``piece`` as read (bytes, and the lines before the current block)."""
        self._bytes += len(piece)
        self._block_newlines += piece.count(b"\n")
        if self._bytes % BLOCK == 0:
            self._lines_before_block += self._block_newlines
            self._block_newlines = 0

    def close(self) -> list[Record]:
        """The input has ended: the last records, or ``ParseError`` if it was cut short."""
        if self._closed:
            return []
        self._closed = True
        try:
            self._coro.close()
        except (ijson.JSONError, ValueError, OverflowError) as error:
            pending = self._drain()
            if isinstance(error, ijson.IncompleteJSONError):
                message = (
                    "empty answer"
                    if not self._seen_root
                    else f"truncated answer: {_first_line(error)}"
                )
            else:
                message = f"invalid JSON: {_first_line(error)}"
            failure = self._error(message)
            failure.records = list(pending)
            raise failure from error
        records = self._drain()
        if not self._seen_root:
            raise self._error("empty answer")
        return records

    # -- internals --------------------------------------------------------------
    def _error(self, message: str) -> ParseError:
        """An error located in the block being read: its first line and its bytes."""
        start = self._bytes - self._bytes % BLOCK
        return ParseError(
            f"{message} (within bytes {start + 1}-{start + BLOCK})",
            source=self.source,
            line_number=self._lines_before_block + 1,
        )

    def _drain(self) -> list[Record]:
        out: list[Record] = []
        try:
            for prefix, event, value in self._events:
                self._event(prefix, event, value, out)
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        finally:
            del self._events[:]
        return out

    def _event(self, prefix: str, event: str, value: Any, out: list[Record]) -> None:
        opening = event in ("start_map", "start_array")
        closing = event in ("end_map", "end_array")
        depth = self._depth
        if closing:
            self._depth -= 1
            depth = self._depth
        elif opening:
            self._depth += 1

        if depth == 0:  # the root value itself
            if event != "start_map" and not closing:
                raise self._error(f"the answer is not a JSON object (it starts with {event})")
            self._seen_root = True
            return
        if depth == 1 and event == "map_key":
            self._key = value
            return

        if self._key == "data":
            self._data_event(depth, event, value, out)
            return
        # any other member: rebuild its (small) value and hand it over once complete
        if self._builder is None:
            self._builder = ObjectBuilder()
        self._builder.event(event, value)
        if depth == 1 and not opening:
            out.append(Field(str(self._key), self._builder.value))
            self._builder = None

    def _data_event(self, depth: int, event: str, value: Any, out: list[Record]) -> None:
        if depth == 1:  # data itself
            if event in ("start_array", "end_array"):
                return
            if event == "null":  # "data": null is an answer without points
                return
            raise self._error(f"'data' must be a list of [epoch, value] pairs, not {event}")
        if depth == 2:  # one pair
            if event == "start_array":
                self._pair = []
                return
            if event == "end_array" and self._pair is not None:
                pair, self._pair = self._pair, None
                if len(pair) != 2 or not _finite(pair[0]):
                    raise self._error(f"a point must be [epoch, value], not {_short(pair)}")
                out.append(Point(int(pair[0]), pair[1]))
                self.points += 1
                return
            raise self._error(f"a point must be a [epoch, value] list, not {event}")
        # depth 3: the members of a pair
        if self._pair is None or event not in ("number", "null"):
            raise self._error(f"a point must hold two numbers, not {event}")
        self._pair.append(None if value is None else _number(value))


def _finite(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_line(error: Exception) -> str:
    """The first line of the tokenizer's message (the rest quotes its buffer: chunk-dependent)."""
    first = error.args[0] if error.args else ""
    text = (first.decode(errors="replace") if isinstance(first, bytes) else str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


def parse_response(data: bytes, source: str = "<esnet-snmp>") -> list[Record]:
    """Every record of a whole answer held in memory (for tests and small inputs)."""
    parser = EsnetSnmpParser(source)
    return [*parser.feed(data), *parser.close()]


def interval_of(fields: Mapping[str, Any] | Iterable[Record]) -> int | None:
    """The time step (seconds) of an answer: ``agg`` (a string), else ``calc``; ``None`` if neither.

    Takes the answer's top-level members as a mapping (the raw JSON object)
    or its records (only the :class:`Field` records are looked at).
    """
    members = (
        fields
        if isinstance(fields, Mapping)
        else {r.name: r.value for r in fields if isinstance(r, Field)}
    )
    for key in ("agg", "calc"):
        value = members.get(key)
        if value is None or value == "":
            continue
        try:
            return int(float(value))
        except (TypeError, ValueError):
            continue
    return None
