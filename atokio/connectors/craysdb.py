"""Connect to the Cray XT/XC service database (SDB) (``tokio.connectors.craysdb``).

This connector gives the processor table of the SDB, i.e. where each node sits
in the network fabric, for topology questions (see
:mod:`atokio.tools.topology`).

:class:`CraySdbProc` is a dict keyed by ``processor_id`` (an ``int``, the
node's nid number); each value is the record of that processor in field order:
``{5000: {"cpu": 0, "slot": 2, "cage": 0, "cabinet": None, ..., "x_coord": 13,
"y_coord": 0, "z_coord": 2, ..., "processor_status": "up", ..., "processor_id":
5000, ...}, ...}`` (value typing in :mod:`atokio.parsers.xtdb2proc`).

Sources, as for every :class:`~atokio.connectors.common.SubprocessOutputDict`:
a saved copy of the ``xtdb2proc -f -`` output (``cache_file``, plain or gzip),
the output as a string (``from_string``), or else the command itself, whose
stdout is streamed into the parser.  ``str(obj)`` (and :meth:`save_cache`) give
the table back in xtdb2proc's format, so a saved table loads again unchanged.
"""

from __future__ import annotations

import sys
from typing import Any

from atokio.common import atomic_output
from atokio.connectors.common import SubprocessOutputDict
from atokio.parsers.base import ParseError
from atokio.parsers.xtdb2proc import Xtdb2procParser, Xtdb2procRecord, format_value

__all__ = ["XTDB2PROC_CMD", "CraySdbProc"]

#: The command that prints the processor table.
XTDB2PROC_CMD = ("xtdb2proc", "-f", "-")


class CraySdbProc(SubprocessOutputDict):
    """The Cray Service Database processor table, as a dict keyed by ``processor_id``.

    Presents the processor table of the Cray Service Database as a dict (see
    the module docstring).  Arguments are those of
    :class:`~atokio.connectors.common.SubprocessOutputDict`: ``cache_file``,
    ``from_string``, ``silent_errors``; with neither of the first two,
    ``xtdb2proc -f -`` is run.

    ``key_order`` holds the field order of the first record, used by
    :meth:`__repr__`.  A ``processor_id`` seen twice raises ``AssertionError``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_order: list[str] = []
        self.subprocess_cmd = list(XTDB2PROC_CMD)
        self.load()

    def __repr__(self) -> str:
        """Serialize self in the format of xtdb2proc's output.

        One ``key=value`` line per processor (fields in :attr:`key_order`, then
        any others the record has), each line ending with a newline; strings
        single-quoted, ``None`` as ``null``.  Loading this text gives back an
        equal object.
        """
        lines = []
        order = self.key_order
        for record in self.values():
            keys = [key for key in order if key in record]
            keys.extend(key for key in record if key not in order)
            lines.append(",".join(f"{key}={format_value(record[key])}" for key in keys))
        return "".join(line + "\n" for line in lines)

    __str__ = __repr__

    def _make_parser(self) -> Xtdb2procParser:
        source = self.cache_file or (
            "<string>" if self.from_string is not None else "xtdb2proc -f -"
        )
        return Xtdb2procParser(source=str(source))

    def _apply_records(self, records: list[Xtdb2procRecord]) -> None:
        for record in records:
            if not self.key_order:
                self.key_order = list(record)
            processor_id = record["processor_id"]
            assert processor_id not in self, f"duplicate processor_id {processor_id!r}"
            self[processor_id] = record

    def load_str(self, input_str: str | bytes) -> None:
        """Load the xtdb2proc data of a Cray system from its text.

        Parses ``input_str`` (the stdout of ``xtdb2proc -f -``) and inserts the
        records into self.  Bad text is a warning (debug message with
        ``silent_errors``); the records before it are kept.
        """
        data = input_str.encode() if isinstance(input_str, str) else input_str
        parser = Xtdb2procParser(source="<string>")
        records: list[Xtdb2procRecord] = []
        try:
            records.extend(parser.feed(data))
            records.extend(parser.close())
        except ParseError as error:
            self._report("%s", error)
            records.extend(error.records)  # type: ignore[arg-type]
        self._apply_records(records)

    def save_cache(self, output_file: str | None = None) -> None:
        """Write the table in xtdb2proc's format to ``output_file`` (``None`` = stdout)."""
        text = repr(self)
        if output_file is None:
            sys.stdout.write(text)
        else:
            with atomic_output(output_file) as output:
                output.write(text)
