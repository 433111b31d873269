"""Stream files (plain or gzip) into parsers.

Compression is recognised by the name (``.gz``, as pytokio does) or by the
gzip magic bytes, so a renamed file still works.  Files are read in chunks;
the async readers do the reading in a worker thread so an event loop is never
blocked.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import AsyncIterator
from typing import BinaryIO, TypeVar

import anyio

from atokio.parsers.base import Parser

__all__ = ["iter_file", "open_binary", "parse_file", "read_file"]

R = TypeVar("R")

GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading, decompressing gzip (by suffix or magic)."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{os.fspath(path)}: no such file") from error
    magic = handle.read(2)
    if magic == GZIP_MAGIC or os.fspath(path).endswith(".gz"):
        handle.close()
        # opened by name, the gzip file owns its file: closing it closes both
        return gzip.open(path, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def parse_file(
    path: str | os.PathLike[str], parser: Parser[R], *, chunk_size: int = 1 << 20
) -> list[R]:
    """All records of a file (synchronous; for worker processes and scripts)."""
    records: list[R] = []
    with open_binary(path) as handle:
        while chunk := handle.read(chunk_size):
            records.extend(parser.feed(chunk))
    records.extend(parser.close())
    return records


async def iter_file(
    path: str | os.PathLike[str], parser: Parser[R], *, chunk_size: int = 1 << 20
) -> AsyncIterator[list[R]]:
    """Record batches of a file as they complete (reads in a worker thread)."""
    handle = await anyio.to_thread.run_sync(open_binary, path)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(handle.read, chunk_size)
            if not chunk:
                break
            records = parser.feed(chunk)
            if records:
                yield records
        records = parser.close()
        if records:
            yield records
    finally:
        handle.close()


async def read_file(
    path: str | os.PathLike[str], parser: Parser[R], *, chunk_size: int = 1 << 20
) -> list[R]:
    """All records of a file, read without blocking the event loop."""
    records: list[R] = []
    async for batch in iter_file(path, parser, chunk_size=chunk_size):
        records.extend(batch)
    return records
