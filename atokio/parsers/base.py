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
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

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
        return self._parse_block(block[:-1])

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
