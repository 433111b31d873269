"""NERSC's cron-collected ``lfs df`` / ``lctl dl -t`` files (``tokio.connectors.nersc_lfsstate``).

NERSC's Lustre health cron jobs append, every few minutes::

    echo "BEGIN $(date +%s)" >> osts.txt;    /usr/bin/lfs df >> osts.txt
    echo "BEGIN $(date +%s)" >> ost-map.txt; /usr/sbin/lctl dl -t >> ost-map.txt

* :class:`NerscLfsOstFullness` — ``{timestamp: {file_system: {target: fields}}}``
  with the ``lfs df`` fields of :class:`atokio.connectors.lfshealth.LfsOstFullness`;
* :class:`NerscLfsOstMap` — ``{timestamp: LfsOstMap}`` with the ``lctl dl -t``
  fields, and :meth:`NerscLfsOstMap.get_failovers`.

Time stamps are the ``int`` epochs of the ``BEGIN`` lines.  Files are plain
text or gzip (by the ``.gz`` name or the gzip magic) and are streamed through
the sans-IO parsers of :mod:`atokio.parsers.lfs_nersc`, one block at a time;
a large plain file is cut into pieces before ``BEGIN`` lines that worker
processes parse on every core (:func:`read_blocks`, :data:`PARALLEL_BYTES`).

Decided points (docs/formats.md#nersc-lfs-state-files): the last block of a file is kept for
both kinds (the reference drops it for ``lctl`` files); a repeated time stamp
gives a warning and the later block wins; an empty block (a ``BEGIN`` line
followed by no target line) is kept as an empty dict; text before the first
``BEGIN`` (other than blank lines) or a ``BEGIN`` without an integer epoch is a
:class:`~atokio.parsers.base.ParseError`.  ``cache_file=None`` gives an empty
dict (there is no command to run for a concatenation).  A small file whose
content is the relative path of another file (a symbolic link checked out as a
plain file, as in some copies of the sample corpus) is followed.
"""

from __future__ import annotations

import functools
import logging
import os
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from atokio.collectors.files import aparse_file_ranges, parse_file
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import default_workers, machine_busy
from atokio.connectors.common import _TextDump, gc_paused
from atokio.connectors.lfshealth import LfsOstMap, failovers, format_lctl_dl, format_lfs_df
from atokio.parsers.lfs_df import DF_LINE
from atokio.parsers.lfs_lctl import LCTL_LINE
from atokio.parsers.lfs_nersc import (
    DfValues,
    LfsBlock,
    MapTemplates,
    NerscFullnessParser,
    NerscOstMapParser,
)

__all__ = ["NerscLfsOstFullness", "NerscLfsOstMap", "read_blocks", "resolve_link_stub"]

logger = logging.getLogger(__name__)

#: The documented module attributes: the regular expressions of one ``lfs df``
#: target line and of one ``lctl dl -t`` device line (MGC, LOV and LMV lines
#: are left out by the parser, not by the expression).  Unlike the
#: reference's, the ``lfs df`` one does not require names to start with ``snx``.
_REX_LFS_DF = DF_LINE
_REX_OST_MAP = LCTL_LINE

CHUNK = 1 << 20
#: Bytes per piece that a worker process reads and parses.
SEGMENT = 8 << 20
#: Size from which a file is parsed on every core by default, unless other
#: programs keep the cores busy (:func:`~atokio.collectors.workers.machine_busy`).
#: This process builds every dict either way (some 40% of the work) and
#: parses the first pieces itself while the worker processes start, so on
#: free cores a file of a few pieces already loads sooner (100 MB on an idle
#: two-core machine: 1.16-1.20 s against 1.41-1.48 s in one process); on busy
#: cores the workers' start and the results they send cost more than they save.
PARALLEL_BYTES = 32 << 20
#: Largest file taken for a symbolic link stored as a plain file.
LINK_STUB_MAX = 1024


def resolve_link_stub(path: str) -> str:
    """``path``, or the file it names when it is a symbolic link checked out as a plain file.

    A checkout without symbolic-link support stores a link as a small file
    holding the target's relative path (``../sample_ost-fullness.txt.gz``);
    such a file is followed when the named file exists.
    """
    try:
        if os.path.islink(path) or os.path.getsize(path) > LINK_STUB_MAX:
            return path
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError:
        return path
    if not content or b"\0" in content or b"\n" in content.rstrip(b"\n"):
        return path
    try:
        target = content.decode("utf-8").strip()
    except UnicodeDecodeError:
        return path
    candidate = os.path.normpath(os.path.join(os.path.dirname(path), target))
    if target and candidate != os.path.normpath(path) and os.path.isfile(candidate):
        logger.debug("%s names %s (a link stored as a file); reading that", path, candidate)
        return candidate
    return path


def read_blocks(
    path: str,
    parser: NerscFullnessParser | NerscOstMapParser,
    workers: int | None = None,
) -> list[LfsBlock]:
    """Every block of a concatenation file, streamed through a parser of ``parser``'s kind.

    With ``workers`` worker processes (``0``: one per usable core; ``None``:
    so for a file of :data:`PARALLEL_BYTES` or more when the cores are not
    busy, else ``1``), a plain
    file is cut into pieces of about :data:`SEGMENT` bytes before ``BEGIN``
    lines, which the workers read and parse into compact blocks
    (:func:`~atokio.parsers.lfs_nersc.expand_block`) while this process turns
    the blocks before them into dicts; a gzip file, a file of one piece, a
    script without the ``if __name__ == "__main__":`` guard of
    :mod:`multiprocessing`, or ``workers=1`` is parsed in this process.
    ``parser`` names the format and the source.  A bad line raises its
    :class:`~atokio.parsers.base.ParseError`, numbered in the whole file.
    """
    path = resolve_link_stub(path)
    if workers is None:
        large = os.path.getsize(path) >= PARALLEL_BYTES
        workers = 0 if large and not machine_busy(default_workers()) else 1
    if workers == 1:
        return parse_file(path, parser, chunk_size=CHUNK)
    make = functools.partial(type(parser), parser.source, 1, True)
    blocks: list[LfsBlock] = []

    def take(found: list[LfsBlock], lines_before: int) -> None:
        for block in found:
            blocks.append(
                block._replace(
                    data=block.data.build(), line_number=block.line_number + lines_before
                )
                if isinstance(block.data, DfValues | MapTemplates)
                else block._replace(line_number=block.line_number + lines_before)
            )

    try:
        run_sync(
            aparse_file_ranges,
            path,
            make,
            take,
            piece=SEGMENT,
            workers=workers or None,
            boundary=b"\nBEGIN",
        )
    except BrokenProcessPool:
        logger.warning("%s: worker processes failed; parsing in this process", path)
        return parse_file(path, type(parser)(parser.source), chunk_size=CHUNK)
    return blocks


class _Concatenation(_TextDump, dict):
    """A dict keyed by ``BEGIN`` epoch, loaded from a NERSC concatenation file (``BEGIN``-separated text)."""

    def __init__(self, cache_file: str | None = None, *, workers: int | None = None) -> None:
        super().__init__()
        self.cache_file = cache_file
        #: worker processes to parse the file with (``None``: by size; see :func:`read_blocks`)
        self.workers = workers

    def _store(self, blocks: list[LfsBlock], wrap: Any = None) -> None:
        for block in blocks:
            if block.timestamp in self:
                logger.warning(
                    "%s:%d: time stamp %d seen before; the later block wins",
                    self.cache_file,
                    block.line_number,
                    block.timestamp,
                )
            self[block.timestamp] = block.data if wrap is None else wrap(block.data)


class NerscLfsOstFullness(_Concatenation):
    """OST fullness over time: ``{timestamp: {file_system: {target: fields}}}``.

    ``cache_file`` is a concatenation of ``lfs df`` outputs (``osts.txt``,
    plain or gzip); it is loaded instead of running ``lfs df``.
    """

    def __init__(self, cache_file: str | None = None, *, workers: int | None = None) -> None:
        """Load the fullness of OSTs from ``cache_file`` (if given).

        ``workers``: worker processes to parse the file with (see
        :func:`read_blocks`).  By default a file of :data:`PARALLEL_BYTES` or
        more is parsed on every core unless other programs keep the cores
        busy (the worker processes find the numbers
        of each block while this process builds the dicts of the blocks
        before; memory stays that of the result), a smaller one here.
        ``workers=0`` uses every core for any plain file larger than one
        piece, which pays once the worker processes run (a service, a second
        call) and the cores are free.
        """
        super().__init__(cache_file, workers=workers)
        if cache_file is not None:
            self.load_ost_fullness_file()

    def load_ost_fullness_file(self) -> None:
        """Parse ``self.cache_file``: ``lfs df`` outputs separated by ``BEGIN <epoch>`` lines."""
        if self.cache_file is None:
            raise ValueError("no cache_file to load")
        parser = NerscFullnessParser(source=self.cache_file)
        with gc_paused():
            self._store(read_blocks(self.cache_file, parser, self.workers))

    def _text(self) -> str:
        return "".join(f"BEGIN {stamp}\n" + format_lfs_df(data) for stamp, data in self.items())

    def __repr__(self) -> str:
        """``lfs df``-like text: ``BEGIN <epoch>`` lines, each followed by its target lines.

        Columns: the UUID (``snx11025-OST0001_UUID``), total, used and available
        KiB, percent used, and mount point with role and index
        (``/scratch1[OST:1]``).
        """
        return self._text()


class NerscLfsOstMap(_Concatenation):
    """OST-to-OSS maps over time: ``{timestamp: LfsOstMap}``.

    ``cache_file`` is a concatenation of ``lctl dl -t`` outputs
    (``ost-map.txt``, plain or gzip); it is loaded instead of running ``lctl``.
    """

    def __init__(self, cache_file: str | None = None, *, workers: int | None = None) -> None:
        """Load the mapping of OSTs to OSSes from ``cache_file`` (if given).

        ``workers``: worker processes to parse the file with (see :func:`read_blocks`).
        """
        super().__init__(cache_file, workers=workers)
        if cache_file is not None:
            self.load_ost_map_file()

    def load_ost_map_file(self) -> None:
        """Parse ``self.cache_file`` into ``{timestamp: {file_system: {target: fields}}}``."""
        if self.cache_file is None:
            raise ValueError("no cache_file to load")
        parser = NerscOstMapParser(source=self.cache_file)
        with gc_paused():
            self._store(read_blocks(self.cache_file, parser, self.workers), wrap=_as_map)

    def _text(self) -> str:
        return "".join(f"BEGIN {stamp}\n" + format_lctl_dl(data) for stamp, data in self.items())

    def __repr__(self) -> str:
        """``lctl dl -t``-like text: ``BEGIN <epoch>`` lines, each followed by fixed-width
        device lines (index, status, role, role_id, uuid, ref_count, nid)."""
        return self._text()

    def get_failovers(self) -> dict[int, dict[str, dict[str, Any]]]:
        """OSSes likely affected by a failover, per time stamp and file system.

        ``{timestamp: {fs: {"mode": int, "abnormal_ips": {ip: [ost, ...]}}}}``
        where ``mode`` is the usual number of OSTs per OSS at that time and
        ``abnormal_ips`` maps each OSS IP whose OST count differs from it to
        its OSTs (iterating it gives the IPs).  ``KeyError`` when a file system
        of some sample has no ``osc`` target.
        """
        return {
            stamp: {fs: failovers(targets, fs) for fs, targets in data.items()}
            for stamp, data in self.items()
        }


def _as_map(data: dict[str, dict[str, dict[str, Any]]]) -> LfsOstMap:
    """A parsed block as an :class:`LfsOstMap` (without running or loading anything)."""
    result = LfsOstMap.__new__(LfsOstMap)
    dict.__init__(result, data)
    result.cache_file = None
    result.from_string = None
    result.silent_errors = False
    result.subprocess_cmd = list(LfsOstMap.command)
    return result
