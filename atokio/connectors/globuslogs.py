"""Globus / GridFTP server transfer logs, one record per transfer (``tokio.connectors.globuslogs``).

Globus logs are ASCII files of one transfer per line, ``KEY=value`` pairs
separated by spaces::

    DATE=20190809091437.927804 HOST=dtn11.nersc.gov PROG=globus-gridftp-server NL.EVNT=FTP_INFO START=20190809091437.884224 USER=glock FILE=/home/g/glock/results0.tar.gz BUFFER=235104 BLOCK=262144 NBYTES=35616 VOLUME=/ STREAMS=4 STRIPES=1 DEST=[0.0.0.0] TYPE=RETR CODE=226

:class:`GlobusLog` is the list of these transfers, one dict per line, parsed
by :class:`atokio.parsers.globus.GlobusLogParser` (where the value types and
the decisions on file names holding spaces and ``=``, on ``NL.EVNT`` and on
the time zone are documented).  In short: keys exactly as in the log;
``DATE``/``START`` float epoch seconds read as **UTC** (GridFTP's zone; the
reference read them as local time); ``BUFFER``, ``BLOCK``, ``NBYTES``,
``STREAMS``, ``STRIPES`` ints; ``DEST`` a list of strings; everything else,
``CODE`` included, a string.
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from atokio.collectors.files import aparse_file_ranges, open_binary
from atokio.collectors.sync import run_sync
from atokio.connectors.common import SubprocessOutputList, _TextLog, gc_paused
from atokio.parsers.base import ParseError
from atokio.parsers.globus import GlobusColumns, GlobusLogParser, listify_ips, records_of

__all__ = ["GlobusLog"]

logger = logging.getLogger(__name__)

#: Size from which a log file is parsed on every core.  Starting the worker
#: processes costs about as much as parsing 20-30 MB here, and handing the
#: columns over adds about a third to the CPU time in all; with the one-process
#: parser at some 50 MB/s, smaller files are done sooner here, and much sooner
#: when other programs keep the cores busy.
PARALLEL_BYTES = 128 << 20


def _listify_ips(ip_str: str) -> list[str]:
    """Breaks a string encoding a list of destinations (``"[0.0.0.0, 1.2.3.4]"``) into a list of str."""
    return listify_ips(ip_str)


class GlobusLog(_TextLog, SubprocessOutputList):
    """Interface into a Globus transfer log: a list of dicts, one per transfer line.

    Each element looks like::

        {"DATE": 1564558244.992375, "HOST": "dtn11.nersc.gov",
         "PROG": "globus-gridftp-server", "NL.EVNT": "FTP_INFO",
         "START": 1564558230.432241, "USER": "glock", "FILE": "/home/c/glock/...",
         "BUFFER": 87040, "BLOCK": 262144, "NBYTES": 2753284040, "VOLUME": "/",
         "STREAMS": 1, "STRIPES": 1, "DEST": ["192.101.102.150"], "TYPE": "STOR",
         "CODE": "226"}

    Keys are kept as the log spells them; what they mean is left to the
    reader (``DATE`` is the end of the
    transfer, ``START`` its beginning, ``TYPE`` ``STOR``/``RETR``, ``CODE``
    the FTP reply code).  Arguments as for
    :class:`~atokio.connectors.common.SubprocessOutputList`; a ``.gz`` file
    is decompressed, and the JSON that ``save_cache()`` writes loads back.
    A line that is not ``KEY=value`` pairs, or whose numbers or time stamps do
    not convert, raises :class:`~atokio.parsers.base.ParseError` after the
    lines before it were stored (``silent_errors=True`` logs it instead).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load()

    def __repr__(self) -> str:
        return f"<GlobusLog {len(self)} transfers>"

    @classmethod
    def from_file(cls, cache_file: str) -> GlobusLog:
        """Instantiates from a log file (plain or gzip)."""
        return cls(cache_file=cache_file)

    @classmethod
    def from_str(cls, input_str: str) -> GlobusLog:
        """Instantiates from a string."""
        return cls(from_string=input_str)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Parse a log file (plain or gzip), or the JSON that ``save_cache`` wrote.

        A plain file of at least :data:`PARALLEL_BYTES` is parsed by worker
        processes on every core, a range of it each, into columns
        (:class:`~atokio.parsers.globus.GlobusColumns`) from which this
        process builds the dicts while they parse the next ranges (see
        :func:`atokio.collectors.files.aparse_file_ranges`); smaller files
        are streamed through the parser here.  The records are the same.
        """
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        name = os.fspath(path)
        if os.path.getsize(name) < PARALLEL_BYTES or _compressed_or_json(name):
            super().load_cache(name)
            return

        before = len(self)

        def take(batches: list[GlobusColumns], _lines_before: int) -> None:
            self._apply_records(records_of(batches))

        try:
            with gc_paused():
                run_sync(
                    aparse_file_ranges,
                    name,
                    functools.partial(GlobusLogParser, name, columns=True),
                    take,
                )
        except ParseError as error:
            if not self.silent_errors:
                raise
            logger.debug("%s", error)
        except BrokenProcessPool:
            logger.warning("%s: worker processes failed; parsing in this process", name)
            del self[before:]
            super().load_cache(name)

    def load_str(self, input_str: str | bytes) -> None:
        """Parses text from a Globus FTP log: each line becomes a dict of its key-value pairs."""
        super().load_str(input_str)

    def _make_parser(self, source: str = "<string>") -> GlobusLogParser:
        return GlobusLogParser(source=source)

    def _apply_records(self, records: list[Any]) -> None:
        self.extend(records)

    def _apply_json(self, data: Any) -> None:
        if not isinstance(data, list):
            raise ValueError("GlobusLog cache must hold a JSON array")
        self.extend(data)


def _compressed_or_json(path: str) -> bool:
    """Whether the file is gzip, or starts, after blanks, with ``[`` or ``{``."""
    with open_binary(path) as handle:
        if isinstance(handle, gzip.GzipFile):
            return True
        while block := handle.read(1 << 16):
            head = block.lstrip()
            if head:
                return head[:1] in (b"[", b"{")
    return False
