"""One piece of darshan-parser text in a file, parsed into the documented dict: the worker's part.

:mod:`atokio.collectors.darshantext` cuts the text and merges the pieces; a
worker process runs :func:`parse_text_range` on each.  This module is kept
apart, with only the file reader and the parser as imports, because every
worker imports it before its first piece (the event-loop machinery of
``darshantext`` would cost each of them tens of milliseconds more).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from atokio.collectors.files import parse_range
from atokio.parsers.base import ParseError
from atokio.parsers.darshan import DarshanParser, build_darshan_dict

__all__ = ["FEED", "parse_text_range"]

#: Bytes handed to the parser at once: small enough for the text, its fields
#: and their strings to stay in the CPU caches (128 KB measured 5% faster than
#: 256 KB, and 1 MB 15% slower).
FEED = 1 << 17


def parse_text_range(
    path: str,
    start: int,
    stop: int,
    module: str | None,
    source: str,
    modules: frozenset[str] | None = None,
    counters: frozenset[str] | None = None,
) -> tuple[dict[str, Any], ParseError | None]:
    """The dict of bytes ``[start, stop)`` of darshan-parser text in ``path``.

    ``module`` is the module of the first record there (``None`` at the
    start of the text).  Also the ParseError of a bad line, if any (the dict
    then holds what came before it); its line number counts from ``start``.
    """
    make = partial(
        DarshanParser, source=source, modules=modules, counters=counters, resume_module=module
    )
    records, _parser, error = parse_range(path, start, stop, make, FEED)
    return build_darshan_dict(records), error
