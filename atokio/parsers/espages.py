"""Pages of Elasticsearch hits saved as one JSON array, read incrementally (sans-IO).

The caches that the Elasticsearch tools write (``cache_collectdes``,
``cache_nersc_globuslogs``, the ``es`` connector's ``save_cache``) are one
JSON array whose items are pages: a list of hits, or a whole Elasticsearch
response with a ``hits`` key.  :class:`PageParser` returns each page as soon
as its closing bracket has arrived, from bytes fed in chunks of any size;
memory is bounded by about twice the largest page, never by the file.
:func:`page_hits` gives the hits of a page of either shape.  What a hit means
is up to the format that uses it (:mod:`atokio.parsers.collectd` for collectd
documents).
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Mapping
from typing import Any

from atokio.parsers.base import ParseError

__all__ = ["PageParser", "page_hits"]


def page_hits(page: Any) -> list[Any]:
    """The hits of a page: a list of hits as is, or ``page["hits"]["hits"]`` of a response."""
    if isinstance(page, list):
        return page
    if isinstance(page, Mapping):
        hits = page.get("hits")
        if isinstance(hits, Mapping):
            inner = hits.get("hits")
            if inner is None:
                return []
            if not isinstance(inner, list):
                raise TypeError(f"a response's hits.hits is a list, not {type(inner).__name__}")
            return inner
        if isinstance(hits, list):
            return hits
        return []
    raise TypeError(f"a page is a list of hits or a response dict, not {type(page).__name__}")


_WHITESPACE = " \t\n\r"
#: Characters of the input quoted in an error (ParseError cuts them to its own length).
EXCERPT = 80


class PageParser:
    """Incremental reader of a JSON array of pages (a cache written by ``save_cache``).

    ``feed(data)`` returns the pages completed by ``data``; ``close()``
    returns what is left and raises :class:`ParseError` (with the line) when
    the input is not a JSON array of lists/objects or is cut short.  A page
    is decoded by the standard library's JSON decoder once its text is
    complete; decoding is retried only after the buffered text has doubled,
    so the work stays linear in the input whatever the chunk size.
    """

    def __init__(self, source: str = "<input>") -> None:
        self.source = source
        # undecodable bytes become U+FFFD, as in the line parsers: never fatal, and the
        # same at any chunking (the incremental decoder keeps a split character whole)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._json = json.JSONDecoder()
        self._parts: list[str] = []
        self._size = 0
        self._retry_at = 0
        self._state = "start"  # start -> items -> done
        self._seen_item = False
        self._lines_before = 0  # newlines in the text already consumed
        self._closed = False
        #: The line on which each page returned by the last feed()/close() starts.
        self.page_lines: list[int] = []

    def feed(self, data: bytes) -> list[Any]:
        """Pages completed by ``data``."""
        if self._closed:
            raise RuntimeError(f"{self.source}: feed() after close()")
        text = self._decoder.decode(data)
        if text:
            self._parts.append(text)
            self._size += len(text)
        if self._size < self._retry_at:
            self.page_lines = []
            return []
        return self._drain(final=False)

    def close(self) -> list[Any]:
        """The last pages; raises :class:`ParseError` on a truncated or malformed input."""
        if self._closed:
            return []
        self._closed = True
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._parts.append(tail)
            self._size += len(tail)
        pages = self._drain(final=True)
        error = None
        if self._state == "start":
            error = ParseError("empty input: expected a JSON list of pages", source=self.source)
        elif self._state != "done":
            error = ParseError(
                "truncated input: the JSON list of pages is not closed",
                source=self.source,
                line_number=self._lines_before + 1,
            )
        if error is not None:
            error.records = list(pages)  # the pages completed before the end
            raise error
        return pages

    def _error(self, message: str, text: str, pos: int) -> ParseError:
        line = self._lines_before + text.count("\n", 0, pos) + 1
        excerpt = text[pos : pos + EXCERPT]
        return ParseError(message, source=self.source, line_number=line, text=excerpt)

    def _drain(self, final: bool) -> list[Any]:
        """The pages complete in the buffered text; an error carries those before it."""
        pages: list[Any] = []
        try:
            return self._drain_into(pages, final)
        except ParseError as error:
            error.records = list(pages)
            raise

    def _drain_into(self, pages: list[Any], final: bool) -> list[Any]:
        text = "".join(self._parts)
        pos, end = 0, len(text)
        self.page_lines = []
        line, counted = self._lines_before + 1, 0  # the line at text[counted]

        def early(at: int) -> bool:
            # an error at ``at`` waits until its excerpt is whole (or the input ends),
            # so that its message is the same at any chunking
            return not final and end - at < EXCERPT

        while True:
            while pos < end and text[pos] in _WHITESPACE:
                pos += 1
            if pos >= end:
                break
            char = text[pos]
            if self._state == "start":
                if char != "[":
                    if early(pos):
                        break
                    raise self._error("expected a JSON list of pages", text, pos)
                self._state = "items"
                pos += 1
                continue
            if self._state == "done":
                if early(pos):
                    break
                raise self._error("unexpected data after the list of pages", text, pos)
            if char == "]":
                self._state = "done"
                pos += 1
                continue
            if self._seen_item:
                if char != ",":
                    if early(pos):
                        break
                    raise self._error("expected ',' or ']' between pages", text, pos)
                probe = pos + 1
                while probe < end and text[probe] in _WHITESPACE:
                    probe += 1
                if probe >= end:
                    break  # wait for the next page before consuming the comma
                start = probe
            else:
                start = pos
            try:
                page, stop = self._json.raw_decode(text, start)
            except json.JSONDecodeError as error:
                if final:
                    raise self._error(f"bad JSON: {error.msg}", text, error.pos) from None
                break  # most likely incomplete: wait for more text
            except ValueError:  # an integer over Python's digit limit: more text won't help
                if early(start):
                    break
                limit = sys.get_int_max_str_digits()
                raise self._error(
                    f"bad JSON: an integer of more than {limit} digits", text, start
                ) from None
            except RecursionError:
                if early(start):
                    break
                raise self._error("bad JSON: nested too deeply", text, start) from None
            if not isinstance(page, list | dict):
                if early(start):
                    break
                raise self._error("a page must be a list of hits or an object", text, start)
            pages.append(page)
            line += text.count("\n", counted, start)
            counted = start
            self.page_lines.append(line)
            self._seen_item = True
            pos = stop
        self._lines_before += text.count("\n", 0, pos)
        rest = text[pos:]
        self._parts = [rest] if rest else []
        self._size = len(rest)
        self._retry_at = 2 * self._size if rest else 0
        return pages
