"""Bundles of ``mmperfmon query`` outputs parsed on every core.

A day of mmperfmon outputs is often an uncompressed tar of a few thousand
independent text files.  :func:`load_tar_bundle` lists the members of such a
tar (their data offsets and sizes), hands groups of members to the worker
processes (:mod:`atokio.collectors.workers`), which read their own bytes from
the tar and parse them with
:class:`~atokio.parsers.mmperfmon.MmperfmonTableParser` into compact
:class:`~atokio.parsers.mmperfmon.RowChunk` columns, and merges the chunks
into the documented dict here, in member order, while the workers parse the
next groups (:func:`~atokio.parsers.mmperfmon.merge_chunks`).  The result
equals a one-process load of the members one after the other.

Members named ``*.gz`` are decompressed by the workers.  A member with bad
text ends the load with its :class:`~atokio.parsers.base.ParseError` (naming
the member and line) after the members before it, and its rows before the bad
line, were merged.  With one core, from a script that cannot start worker
processes, or while other work keeps the cores busy, the same parse and merge
runs in this process alone.  A compressed tar (which cannot be read from the
middle) or a small one is left to the caller's reader.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NamedTuple

from atokio.collectors.workers import (
    default_workers,
    discard_pool,
    machine_busy,
    process_pool,
    processes_can_start,
    warm_up,
)
from atokio.parsers.base import ParseError
from atokio.parsers.mmperfmon import MmperfmonTableParser, RowChunk, merge_chunks

__all__ = [
    "GROUP_BYTES",
    "PARALLEL_BYTES",
    "TarMember",
    "load_tar_bundle",
    "parse_tar_members",
    "plain_tar_members",
]

logger = logging.getLogger(__name__)

#: A bundle smaller than this (bytes of its members) is left to the caller's reader.
PARALLEL_BYTES = 4 << 20

#: Bytes of members handed to a worker at once.
GROUP_BYTES = 1 << 20

#: Bytes fed to a parser at once.
_FEED = 1 << 20


class TarMember(NamedTuple):
    """A regular file in a plain tar: its name, where its data starts and its size."""

    name: str
    offset: int
    size: int


#: Type flags of regular files, and of entries without data that are skipped.
_REGULAR = (b"0", b"\0", b"7")
_NO_DATA = (b"1", b"2", b"3", b"4", b"5", b"6")


def _ustar_members(path: str) -> list[TarMember] | None:
    """The regular files of a plain tar read from its ustar headers directly, or ``None``
    for anything but plain ustar/GNU headers with octal fields (``tarfile`` reads those)."""
    members: list[TarMember] = []
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        fd = handle.fileno()
        offset = 0
        while True:
            header = os.pread(fd, 512, offset)
            if len(header) < 512 or header == bytes(512):
                return members if members or offset else None  # the end of the archive
            if header[257:262] != b"ustar":
                return None
            stored = header[148:156].split(b"\0", 1)[0].strip()
            if not stored or sum(header[:148]) + 256 + sum(header[156:]) != int(stored, 8):
                return None
            kind = header[156:157]
            length_field = header[124:136]
            if length_field[:1] in (b"\x80", b"\xff"):
                return None  # base-256 size
            length = int(length_field.split(b"\0", 1)[0].strip() or b"0", 8)
            name = os.fsdecode(header[:100].split(b"\0", 1)[0])
            prefix = os.fsdecode(header[345:500].split(b"\0", 1)[0])
            if prefix:
                name = prefix + "/" + name
            data = offset + 512
            if kind in _REGULAR and not (kind == b"\0" and name.endswith("/")):
                if data + length > size:
                    return None  # cut short: tarfile reports it
                members.append(TarMember(name, data, length))
            elif length or (kind not in _NO_DATA and kind != b"\0"):
                return None  # long names, pax headers, sparse files, ...
            offset = data + -(-length // 512) * 512


def plain_tar_members(path: str) -> list[TarMember] | None:
    """The regular files of an uncompressed tar, in archive order.

    ``None`` when ``path`` is a compressed tar or holds a sparse file (their
    bytes cannot be read in place), and when it is no tar or a damaged one.
    """
    try:
        fast = _ustar_members(path)
    except ValueError:  # a field that is not octal
        fast = None
    if fast is not None:
        return fast
    members: list[TarMember] = []
    try:
        with tarfile.open(path, "r:") as bundle:
            for member in bundle:
                if not member.isfile():
                    continue
                if member.issparse():
                    return None
                members.append(TarMember(member.name, member.offset_data, member.size))
    except tarfile.TarError:
        return None  # compressed, cut short or no tar: the caller's reader says what is wrong
    return members


def _member_pieces(handle: Any, member: TarMember) -> Iterator[bytes]:
    """The bytes of ``member`` from an open tar, in pieces (decompressed if named ``*.gz``)."""
    if member.name.endswith(".gz"):
        data = os.pread(handle.fileno(), member.size, member.offset)
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as unzipped:
            while piece := unzipped.read(_FEED):
                yield piece
        return
    done = 0
    while done < member.size:
        piece = os.pread(handle.fileno(), min(_FEED, member.size - done), member.offset + done)
        if not piece:
            return  # the tar is shorter than its header says: the parser reports the cut
        done += len(piece)
        yield piece


#: What a worker gives for a member: its name in errors, its chunks and the error
#: that ended it (the chunks then hold the rows before the bad line).
MemberResult = tuple[str, list[RowChunk], "Exception | None"]


def parse_tar_members(path: str, members: list[TarMember], prefix: str) -> list[MemberResult]:
    """Parse ``members`` of the tar at ``path`` (runs in a worker process).

    A member is named ``prefix + name`` in errors (its bare name if that is
    absolute).  No member after one that failed (a bad line, an unreadable
    ``.gz``) is parsed.
    """
    results: list[MemberResult] = []
    with open(path, "rb") as handle:
        for member in members:
            source = member.name if os.path.isabs(member.name) else prefix + member.name
            parser = MmperfmonTableParser(source)
            chunks: list[RowChunk] = []
            try:
                for piece in _member_pieces(handle, member):
                    chunks += parser.feed(piece)
                chunks += parser.close()
            except ParseError as error:
                chunks += error.records  # type: ignore[arg-type]
                error.records = []  # sent back once, as the member's chunks
                results.append((source, chunks, error))
                break
            except (OSError, EOFError) as error:  # a bad .gz member
                results.append((source, chunks, error))
                break
            results.append((source, chunks, None))
    return results


def _merge_results(
    results: list[MemberResult], into: dict[int, Any], stamps: dict[str, int]
) -> None:
    """Merge what :func:`parse_tar_members` gave, in order; raise the error that ended it."""
    for source, chunks, error in results:
        merge_chunks(chunks, into, stamps, source)
        if error is not None:
            raise error


def _groups(members: list[TarMember], size: int) -> list[list[TarMember]]:
    groups: list[list[TarMember]] = []
    current: list[TarMember] = []
    held = 0
    for member in members:
        current.append(member)
        held += member.size
        if held >= size:
            groups.append(current)
            current, held = [], 0
    if current:
        groups.append(current)
    return groups


def _load_in_pool(
    path: str,
    groups: list[list[TarMember]],
    prefix: str,
    into: dict[int, Any],
    stamps: dict[str, int],
    workers: int,
) -> None:
    """Parse ``groups`` in the worker processes and merge their results here, in order.

    A few groups per worker are handed out ahead of the one merged next, so the
    workers parse while this process merges, and memory stays bounded.  This is
    a plain wait on the pool's futures, without an event loop: the call is
    synchronous anyway, and this way costs this process least.
    """
    pool = process_pool()
    ahead = 3 * workers  # groups handed out beyond the one merged next
    futures: dict[int, Future[list[MemberResult]]] = {}
    try:
        for number in range(min(ahead, len(groups))):
            futures[number] = pool.submit(parse_tar_members, path, groups[number], prefix)
        for number in range(len(groups)):
            results = futures.pop(number).result()
            later = number + ahead
            if later < len(groups):
                futures[later] = pool.submit(parse_tar_members, path, groups[later], prefix)
            _merge_results(results, into, stamps)
    finally:
        for future in futures.values():
            future.cancel()


def _start_workers(workers: int) -> None:
    try:
        warm_up(workers)
    except Exception as error:  # reported by the first call in a worker
        logger.debug("worker processes did not start: %s", error)


def load_tar_bundle(
    path: str,
    into: dict[int, Any],
    prefix: str,
    *,
    stamps: dict[str, int] | None = None,
    workers: int | None = None,
) -> bool:
    """Merge the outputs in the plain tar ``path`` into ``into``, parsed on every core.

    Members are named ``prefix + name`` in errors (see :func:`parse_tar_members`);
    ``stamps`` caches time stamp text -> epoch.  With one core, from a script
    that cannot start worker processes, or while the machine is busy
    (:func:`machine_busy`), the members are parsed and merged here, group by
    group, the same way.  Returns ``False`` when the tar is not for this
    function (compressed or small; nothing was merged) or when the worker
    processes broke down (what was merged is merged again unchanged): the
    caller then loads it its own way.
    """
    workers = workers or default_workers()
    members = plain_tar_members(path)
    total = sum(member.size for member in members) if members is not None else 0
    if members is None or total < PARALLEL_BYTES:
        return False
    stamps = {} if stamps is None else stamps
    groups = _groups(members, max(min(GROUP_BYTES, total // (8 * workers)), 1))
    if workers < 2 or not processes_can_start() or machine_busy(workers):
        for group in groups:
            _merge_results(parse_tar_members(path, group, prefix), into, stamps)
        return True
    # the worker processes start in a thread (a fresh pool takes a few tenths of a
    # second); meanwhile the first groups are parsed here
    starter = threading.Thread(target=_start_workers, args=(workers,), name="atokio-warm-up")
    starter.start()
    try:
        done = 0
        while starter.is_alive() and done < len(groups) - workers:
            _merge_results(parse_tar_members(path, groups[done], prefix), into, stamps)
            done += 1
    finally:
        starter.join()
    logger.debug(
        "%s: %d members, %d groups here and %d on %d workers",
        path,
        len(members),
        done,
        len(groups) - done,
        workers,
    )
    if done < len(groups):
        try:
            _load_in_pool(path, groups[done:], prefix, into, stamps, workers)
        except BrokenProcessPool as error:
            discard_pool(process_pool())  # the next call starts a fresh pool
            # merging the same members again changes nothing: the caller starts over
            logger.warning("%s: worker processes failed (%s); loading in this process", path, error)
            return False
    return True
