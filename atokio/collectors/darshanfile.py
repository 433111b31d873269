"""What a Darshan log's header promises, checked before libdarshan-util sees the file.

:func:`check_file` reads the header (version string, magic number, the table
of regions: the name table, then one region per module slot), checks that
every region lies inside the file and that the name table decompresses: a
truncated log makes the C library misbehave (crash, or try to unlink the
file), a corrupt name table makes it crash, so it never gets one.
:meth:`LogFile.holds` compares a size with the decompressed size of the
module regions, which bounds how many records and stripes a log can hold: a count read from
the log that exceeds it is corruption, reported before anything is allocated
for it.  Decompression here produces a MiB at a time and drops it: memory
stays bounded whatever the file claims.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field

__all__ = ["DarshanLogError", "LogFile", "check_file"]

#: Compression methods by the byte darshan writes in the log header.
_COMPRESSION = {0: "ZLIB", 1: "BZIP2", 2: "NONE", 3: "LIBZSTD"}
_VERSION = re.compile(rb"^\d+\.\d+")
#: darshan's log magic number, and the header bytes checked (up to 16 module slots).
_MAGIC = 6567223
_HEADER_CHECKED = 24 + 16 + 16 * 16
#: (slot in the header's region table, name) of the regions checked before reading:
#: the name table, whose corruption crashes libdarshan-util.  (Corrupt module data
#: makes the library return an error, which the reader reports.)
_CHECKED_REGIONS = [(0, "name table")]
#: The most a byte of zstd data can expand to, as a bound where no zstd decoder is at hand.
_ZSTD_RATIO = 32768


class DarshanLogError(RuntimeError):
    """A file that cannot be read as a Darshan log (the message names the file and the cause)."""


@dataclass
class LogFile:
    """A log whose header was checked: its version, compression and regions."""

    path: str
    version: str
    compression: str
    size: int
    #: ``(offset, length)`` of the name table (slot 0), then of module slot ``i`` at ``i + 1``.
    regions: list[tuple[int, int]]
    _sizes: dict[int, int | None] = field(default_factory=dict, repr=False)

    def region_size(self, slot: int) -> int | None:
        """Bytes region ``slot`` holds once decompressed (None: no bound known)."""
        if slot not in self._sizes:
            self._sizes[slot] = self._region_size(slot)
        return self._sizes[slot]

    def module_data_size(self) -> int:
        """Bytes all module regions hold once decompressed: no module's records exceed it.

        (A module's own region is not used: libdarshan-util renumbers the
        modules of older log formats, so its index does not name the slot.)
        """
        return sum(
            self.region_size(slot) or 0
            for slot in range(1, len(self.regions))
            if self.regions[slot][1]
        )

    def holds(self, nbytes: int) -> bool:
        """Whether the module data can hold ``nbytes`` (cheap unless ``nbytes`` exceeds the file)."""
        return nbytes <= self.size or nbytes <= self.module_data_size()

    def _region_size(self, slot: int) -> int | None:
        offset, length = self.regions[slot]
        if self.compression == "NONE":
            return length
        if self.compression == "LIBZSTD":
            return length * _ZSTD_RATIO
        try:
            with open(self.path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(length)
        except OSError as error:
            raise DarshanLogError(f"{self.path}: cannot read: {error.strerror}") from error
        try:
            return _zlib_size(data) if self.compression == "ZLIB" else _bzip2_size(data)
        except Exception as error:
            raise DarshanLogError(
                f"{self.path}: corrupt log: the module data at byte {offset} "
                f"does not decompress ({error})"
            ) from None


def check_file(path: str) -> LogFile:
    """The checked header of ``path``; raises :class:`DarshanLogError` for non-logs."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEADER_CHECKED)
            size = os.fstat(handle.fileno()).st_size
            if not head:
                raise DarshanLogError(f"{path}: invalid log file: empty file")
            if len(head) < _HEADER_CHECKED or not _VERSION.match(head):
                raise DarshanLogError(
                    f"{path}: invalid log file: not a Darshan log (no version in its header)"
                )
            order = "<" if struct.unpack("<q", head[8:16])[0] == _MAGIC else ">"
            if struct.unpack(order + "q", head[8:16])[0] != _MAGIC:
                raise DarshanLogError(f"{path}: invalid log file: bad magic number")
            flat = struct.unpack(order + "34Q", head[24:_HEADER_CHECKED])
            regions = list(zip(flat[0::2], flat[1::2], strict=True))
            for offset, length in regions:
                if length and offset + length > size:
                    raise DarshanLogError(
                        f"{path}: truncated log: a region ends at byte {offset + length}, "
                        f"the file has {size}"
                    )
            compression = head[16]
            checked = [
                (regions[slot][0], regions[slot][1], what)
                for slot, what in _CHECKED_REGIONS
                if regions[slot][1]
            ]
            if checked and compression in (0, 1):
                first = min(offset for offset, _length, _what in checked)
                handle.seek(first)
                span = handle.read(
                    max(offset + length for offset, length, _what in checked) - first
                )
                for offset, length, what in checked:
                    region = span[offset - first : offset - first + length]
                    _check_compressed(path, what, region, compression)
    except OSError as error:
        raise DarshanLogError(f"{path}: cannot open: {error.strerror}") from error
    version = head[:8].split(b"\0", 1)[0].decode("ascii", errors="replace")
    return LogFile(path, version, _COMPRESSION.get(compression, str(compression)), size, regions)


def _check_compressed(path: str, what: str, data: bytes, compression: int) -> None:
    """Raise DarshanLogError unless ``data`` is whole compressed streams (zlib or bzip2)."""
    try:
        if compression == 0:
            _zlib_size(data)
        elif compression == 1:
            _bzip2_size(data)
        # else: stored uncompressed, or zstd (no checker at hand): the library checks
    except Exception as error:
        raise DarshanLogError(
            f"{path}: corrupt log: the {what} region does not decompress ({error})"
        ) from None


def _zlib_size(data: bytes) -> int:
    """Decompressed size of back-to-back zlib streams; raises for bad or cut data."""
    import zlib

    total = 0
    rest = data
    while rest:  # a region is one or more zlib streams, back to back
        stream = zlib.decompressobj()
        while True:
            out = stream.decompress(rest, 1 << 20)
            total += len(out)
            rest = stream.unconsumed_tail
            if stream.eof:
                rest = stream.unused_data
                break
            if not rest and not out:
                raise ValueError("the data ends inside a compressed stream")
    return total


def _bzip2_size(data: bytes) -> int:
    """Decompressed size of back-to-back bzip2 streams; raises for bad or cut data."""
    import bz2

    total = 0
    rest = data
    while rest:
        stream = bz2.BZ2Decompressor()
        total += len(stream.decompress(rest, 1 << 20))
        while not stream.eof:
            if stream.needs_input:
                raise ValueError("the data ends inside a compressed stream")
            total += len(stream.decompress(b"", 1 << 20))
        rest = stream.unused_data
    return total
