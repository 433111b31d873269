"""Sans-IO incremental parsers, one module per input format.

Every parser follows the contract of :mod:`atokio.parsers.base`: ``feed(bytes)``
returns the records completed so far, ``close()`` flushes or raises
:class:`~atokio.parsers.base.ParseError`.  Parsers never do I/O.
"""

from atokio.parsers.base import LineParser, ParseError, Parser, parse_all

__all__ = ["LineParser", "ParseError", "Parser", "parse_all"]
