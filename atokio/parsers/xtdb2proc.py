"""Streaming parser for the Cray service database's processor table (``xtdb2proc -f -``).

The format (docs/formats.md#cray-xtdb2proc): lines starting with ``#`` are comments,
blank lines are ignored, and every other line is one record of
comma-separated ``key=value`` pairs with no spaces::

    cpu=0,slot=2,cage=0,cabinet=null,...,processor_status='up',...,processor_id=5000,...

Each pair is split at its first ``=``.  Values are typed as the reference
does: a single-quoted string loses its quotes, ``null`` becomes ``None`` and a
decimal integer becomes ``int``.  Anything else (a case the reference does
not describe, e.g. an unquoted word) is kept as the text.

Every record is a ``dict`` in the line's field order.  A record must carry a
``processor_id`` (the node's nid number, which keys the connector's dict); a
line without one, or a field without ``=``, is a
:class:`~atokio.parsers.base.ParseError` naming the source and line.
"""

from __future__ import annotations

import sys

from atokio.parsers.base import LineParser, ParseError

__all__ = ["Xtdb2procParser", "Xtdb2procRecord", "format_value", "parse_value"]

#: One processor record: field name -> int, str or None, in the line's order.
Xtdb2procRecord = dict[str, int | str | None]

_DIGITS = frozenset("0123456789")


def parse_value(text: str) -> int | str | None:
    """A field value as its type: ``'up'`` -> ``"up"``, ``null`` -> ``None``, ``13`` -> ``13``.

    ``ValueError`` for an integer longer than Python converts
    (``sys.get_int_max_str_digits()``, 4300 digits by default).
    """
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1]
    if text == "null":
        return None
    body = text[1:] if text[:1] == "-" else text
    if body and _DIGITS.issuperset(body):
        limit = sys.get_int_max_str_digits()
        if limit and len(body) > limit:
            raise ValueError(f"expected an integer of at most {limit} digits")
        return int(text)
    return text


def format_value(value: int | str | None) -> str:
    """The inverse of :func:`parse_value`: how xtdb2proc writes a value."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


class Xtdb2procParser(LineParser[Xtdb2procRecord]):
    """Sans-IO parser of ``xtdb2proc -f -`` text; one record per processor line."""

    def parse_lines(self, lines: list[str]) -> list[Xtdb2procRecord]:
        out: list[Xtdb2procRecord] = []
        value_of = parse_value
        try:
            for line in lines:
                self.line_number += 1
                line = line.strip()
                if not line or line[0] == "#":
                    continue
                record: Xtdb2procRecord = {}
                for pair in line.split(","):
                    key, sep, text = pair.partition("=")
                    if not sep or not key:
                        raise self.error("expected key=value", line)
                    try:
                        record[key] = value_of(text)
                    except ValueError as error:
                        raise self.error(f"{key}: {error}", line) from None
                if "processor_id" not in record:
                    raise self.error("record has no processor_id", line)
                out.append(record)
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out
