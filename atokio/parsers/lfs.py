"""Streaming parsers for Lustre ``lfs df``, ``lctl dl -t`` and NERSC's concatenations.

Three input forms (FORMATS.md section 3):

* one ``lfs df`` output (:class:`LfsDfParser`) and one ``lctl dl -t`` output
  (:class:`LctlDlParser`): each record is a ``(file_system, target, fields)``
  triple, in input order;
* NERSC's cron-made concatenations of many such outputs, each preceded by a
  ``BEGIN <epoch>`` line (:class:`NerscFullnessParser`,
  :class:`NerscOstMapParser`): each record is an :class:`LfsBlock` holding the
  epoch and the whole output nested as ``{file_system: {target: fields}}``.

Fields of an ``lfs df`` target (``snx11035-OST0000_UUID 90767651352
65371112780 24440205704  73% /scratch2[OST:0]``): ``total_kib``, ``used_kib``,
``remaining_kib`` (ints, KiB), ``mount_pt``, ``role`` (``ost``/``mdt``, the
bracketed role lower-cased) and ``target_index`` (int); the percent column is
not kept.  Fields of an ``lctl dl -t`` device (``  4 UP osc
snx11035-OST0014-osc-ffff885f81a64000 8dbdc7f6-... 5 10.100.101.25@o2ib2``):
``index``, ``status`` (lower-cased), ``role`` (the device type), ``role_id``
(the device name), ``uuid``, ``ref_count``, ``target_ip`` and ``nid``.  The
file system and target are the first two ``-``-separated parts of the UUID or
device name.

Rules, with the reference's open points decided:

* Any ``<fsname>-<target>_UUID`` is accepted, not only Cray's ``snx<digits>``
  names; likewise any ``<fsname>-<target>-<type>-<instance>`` device name.
* ``lfs df``: header lines, blank lines, ``filesystem summary:`` lines and
  status lines such as ``snx11168-OST0005_UUID : inactive device`` are skipped.
  A line that starts like a target line (a ``..._UUID`` name followed by a
  number) but is not a complete one is a :class:`ParseError` (typically a
  truncated file).
* ``lctl dl -t``: only devices with a target NID (``<ip>@<net>``, the seventh
  column) are kept, so ``mgc``/``lov``/``lmv`` lines are skipped, as are
  NID-carrying lines whose name is not ``<fs>-<target>-...``.  A line with a
  NID whose index or reference count is not an integer is a
  :class:`ParseError`.
* A target seen twice in one output (a file system mounted twice) keeps the
  later fields, at the position of its first appearance.
* Concatenations: a line starting with ``BEGIN`` opens a block; its second
  token must be an integer epoch (else :class:`ParseError`).  Blank lines
  before the first ``BEGIN`` are ignored, any other text there is a
  :class:`ParseError`.  The last block ends at the end of the input and is
  returned by ``close()`` (the reference drops it for ``lctl`` files).
  A block with no target lines gives an empty dict.  Repeated time stamps are
  reported by the connectors, which let the later block win.

Speed: the hot path works on whole batches of lines.  Target lines are picked
with one substring test each, split into tokens with a single ``str.split``
of the joined lines, the numeric columns are validated with ``str.isdigit`` on
their concatenation and converted by numpy in one call, names and mount
points are parsed once per distinct value (they repeat in every block of a
file), and the nesting by file system is done per run of lines.  Only a batch
that does not fit this regular shape goes through the per-line regular
expressions, which also locate errors.
"""

from __future__ import annotations

import re
from itertools import compress
from operator import ne
from typing import Any, NamedTuple

import numpy

from atokio.parsers.base import EXCERPT_CHARS, LineParser, ParseError

__all__ = [
    "FULLNESS_KEYS",
    "MAP_KEYS",
    "LctlDlParser",
    "LfsBlock",
    "LfsDfParser",
    "NerscFullnessParser",
    "NerscOstMapParser",
    "Target",
    "nest_targets",
    "parse_lctl_dl_lines",
    "parse_lfs_df_lines",
]

#: Keys of one ``lfs df`` target, in order.
FULLNESS_KEYS = ("total_kib", "used_kib", "remaining_kib", "mount_pt", "role", "target_index")
#: Keys of one ``lctl dl -t`` device, in order.
MAP_KEYS = ("index", "status", "role", "role_id", "uuid", "ref_count", "target_ip", "nid")

#: ``(file_system, target, fields)``
Target = tuple[str, str, dict[str, Any]]
Columns = tuple[list[str], list[str], list[dict[str, Any]]]

_UUID = re.compile(r"([^\s_-]+)-([^\s_-]+)_UUID")
_MOUNT = re.compile(r"(\S*)\[([A-Za-z]+):(\d+)\]")
_DF_LINE = re.compile(
    r"\s*([^\s_-]+)-([^\s_-]+)_UUID\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+(.*?)\[([A-Za-z]+):(\d+)\]\s*"
)
_DF_LOOKS_LIKE_TARGET = re.compile(r"\s*\S+_UUID\s+\d")
_DEVICE_NAME = re.compile(r"([^\s-]+)-([^\s-]+)-\S+")
_LCTL_LINE = re.compile(r"\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(([^\s@]+)@\S+)\s*")
_LCTL_HAS_NID = re.compile(r"\s*(?:\S+\s+){6}\S*@\S*\s*")


def _error(source: str, line_number: int, message: str, text: str) -> ParseError:
    return ParseError(
        message, source=source, line_number=line_number, text=text[: EXCERPT_CHARS * 2]
    )


def _ints(tokens: list[str]) -> list[int]:
    """Decimal digit strings (already validated) as Python ints, converted in one numpy call."""
    if len(tokens) < 16:
        return list(map(int, tokens))
    joined = " ".join(tokens)
    return numpy.fromstring(joined, dtype=numpy.int64, sep=" ").tolist()


def _all_digits(tokens: list[str]) -> bool:
    joined = "".join(tokens)
    return joined.isdigit() and joined.isascii() and max(map(len, tokens)) <= 18


def nest_targets(
    file_systems: list[str], targets: list[str], fields: list[dict[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{file_system: {target: fields}}`` from three parallel columns (later duplicates win)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    count = len(file_systems)
    if not count:
        return out
    starts = [0, *compress(range(1, count), map(ne, file_systems, file_systems[1:])), count]
    for begin, end in zip(starts, starts[1:], strict=False):
        name = file_systems[begin]
        known = out.get(name)
        if known is None:
            out[name] = dict(zip(targets[begin:end], fields[begin:end], strict=True))
        else:
            known.update(zip(targets[begin:end], fields[begin:end], strict=True))
    return out


# -- lfs df ------------------------------------------------------------------------------
class _DfMemo:
    """Per-parser caches of the parsed UUIDs and mount fields (they repeat in every block)."""

    def __init__(self) -> None:
        self.fs: dict[str, str | None] = {}
        self.target: dict[str, str] = {}
        self.mount: dict[str, tuple[str, str, int] | None] = {}

    def learn_uuids(self, uuids: list[str]) -> bool:
        for uuid in uuids:
            if uuid not in self.fs:
                match = _UUID.fullmatch(uuid)
                if match is None:
                    self.fs[uuid] = None
                else:
                    self.fs[uuid], self.target[uuid] = match.group(1), match.group(2)
        return None not in map(self.fs.__getitem__, uuids)

    def learn_mounts(self, mounts: list[str]) -> list[tuple[str, str, int] | None]:
        found = list(map(self.mount.get, mounts))
        if None in found:
            for position, mount in enumerate(mounts):
                if found[position] is None:
                    match = _MOUNT.fullmatch(mount)
                    value = (
                        None
                        if match is None
                        else (match.group(1), match.group(2).lower(), int(match.group(3)))
                    )
                    self.mount[mount] = found[position] = value
        return found


def _df_fast(lines: list[str], memo: _DfMemo) -> Columns | None:
    """The columns of a regular batch of ``lfs df`` lines, or None to take the slow path."""
    picked = [line for line in lines if "_UUID" in line]
    count = len(picked)
    if not count:
        return [], [], []
    tokens = " ".join(picked).split()
    if len(tokens) != 6 * count:
        return None
    numbers = tokens[1::6] + tokens[2::6] + tokens[3::6]
    if not _all_digits(numbers):
        return None
    percents = "".join(tokens[4::6])
    if percents.count("%") != count or not percents.replace("%", "").isdigit():
        return None
    uuids = tokens[0::6]
    if not memo.learn_uuids(uuids):
        return None
    mounts = memo.learn_mounts(tokens[5::6])
    if None in mounts:
        return None
    values = _ints(numbers)
    fields = [
        {
            "total_kib": total,
            "used_kib": used,
            "remaining_kib": remaining,
            "mount_pt": mount[0],
            "role": mount[1],
            "target_index": mount[2],
        }
        for total, used, remaining, mount in zip(
            values[:count], values[count : 2 * count], values[2 * count :], mounts, strict=True
        )
        if mount is not None
    ]
    file_systems: list[str] = list(map(memo.fs.__getitem__, uuids))  # type: ignore[arg-type]
    return file_systems, list(map(memo.target.__getitem__, uuids)), fields


def _df_slow(lines: list[str], first_line: int, source: str) -> Columns:
    """Line-by-line ``lfs df`` parsing: the reference rules, with error locations."""
    file_systems: list[str] = []
    targets: list[str] = []
    fields: list[dict[str, Any]] = []
    for offset, line in enumerate(lines):
        match = _DF_LINE.fullmatch(line)
        if match is None:
            if _DF_LOOKS_LIKE_TARGET.match(line):
                raise _error(source, first_line + offset, "malformed lfs df target line", line)
            continue
        fs, target, total, used, remaining, mount, role, index = match.groups()
        file_systems.append(fs)
        targets.append(target)
        fields.append(
            {
                "total_kib": int(total),
                "used_kib": int(used),
                "remaining_kib": int(remaining),
                "mount_pt": mount,
                "role": role.lower(),
                "target_index": int(index),
            }
        )
    return file_systems, targets, fields


def parse_lfs_df_lines(
    lines: list[str], first_line: int = 1, source: str = "<input>", memo: _DfMemo | None = None
) -> Columns:
    """``(file_systems, targets, fields)`` columns of complete ``lfs df`` lines.

    ``first_line`` is the line number of ``lines[0]`` (for errors).
    """
    fast = _df_fast(lines, memo if memo is not None else _DfMemo())
    if fast is not None:
        return fast
    return _df_slow(lines, first_line, source)


# -- lctl dl -t ----------------------------------------------------------------------
class _MapMemo:
    """Per-parser caches of parsed device names and NIDs."""

    def __init__(self) -> None:
        self.name: dict[str, tuple[str, str] | tuple[()]] = {}
        self.ip: dict[str, str | None] = {}

    def learn_names(self, names: tuple[str, ...]) -> list[tuple[str, str] | tuple[()]]:
        found = list(map(self.name.get, names))
        if None in found:
            for position, name in enumerate(names):
                if found[position] is None:
                    match = _DEVICE_NAME.fullmatch(name)
                    value: tuple[str, str] | tuple[()] = (
                        () if match is None else (match.group(1), match.group(2))
                    )
                    self.name[name] = found[position] = value
        return found  # type: ignore[return-value]

    def learn_nids(self, nids: tuple[str, ...]) -> list[str | None]:
        found = list(map(self.ip.get, nids))
        if None in found:
            for position, nid in enumerate(nids):
                if found[position] is None:
                    ip, at, net = nid.partition("@")
                    value = ip if (at and ip and net) else None
                    self.ip[nid] = value
                    found[position] = value
        return found


def _map_fast(lines: list[str], memo: _MapMemo) -> Columns | None:
    rows = [row for row in map(str.split, lines) if len(row) == 7]
    if not rows:
        return [], [], []
    index, status, role, name, uuid, refs, nid = zip(*rows, strict=True)
    ips = memo.learn_nids(nid)
    if None in ips or not _all_digits([*index, *refs]):
        return None
    parsed = memo.learn_names(name)
    count = len(rows)
    numbers = _ints([*index, *refs])
    fields = [
        {
            "index": idx,
            "status": st,
            "role": rl,
            "role_id": nm,
            "uuid": uu,
            "ref_count": ref,
            "target_ip": ip,
            "nid": ni,
        }
        for idx, st, rl, nm, uu, ref, ip, ni in zip(
            numbers[:count], map(str.lower, status), role, name, uuid, numbers[count:], ips, nid,
            strict=True,
        )
    ]  # fmt: skip
    if () in parsed:  # NID-carrying lines that are not <fs>-<target>-... devices
        keep = list(map(bool, parsed))
        parsed = list(compress(parsed, keep))
        fields = list(compress(fields, keep))
    return [p[0] for p in parsed], [p[1] for p in parsed], fields  # type: ignore[misc]


def _map_slow(lines: list[str], first_line: int, source: str) -> Columns:
    file_systems: list[str] = []
    targets: list[str] = []
    fields: list[dict[str, Any]] = []
    for offset, line in enumerate(lines):
        match = _LCTL_LINE.fullmatch(line)
        if match is None:
            if _LCTL_HAS_NID.fullmatch(line):
                raise _error(source, first_line + offset, "malformed lctl dl -t device line", line)
            continue
        index, status, role, name, uuid, refs, nid, ip = match.groups()
        device = _DEVICE_NAME.fullmatch(name)
        if device is None:
            continue
        file_systems.append(device.group(1))
        targets.append(device.group(2))
        fields.append(
            {
                "index": int(index),
                "status": status.lower(),
                "role": role,
                "role_id": name,
                "uuid": uuid,
                "ref_count": int(refs),
                "target_ip": ip,
                "nid": nid,
            }
        )
    return file_systems, targets, fields


def parse_lctl_dl_lines(
    lines: list[str], first_line: int = 1, source: str = "<input>", memo: _MapMemo | None = None
) -> Columns:
    """``(file_systems, targets, fields)`` columns of complete ``lctl dl -t`` lines."""
    fast = _map_fast(lines, memo if memo is not None else _MapMemo())
    if fast is not None:
        return fast
    return _map_slow(lines, first_line, source)


# -- single outputs --------------------------------------------------------------------
class LfsDfParser(LineParser[Target]):
    """One ``lfs df`` output: ``(file_system, target, fields)`` records in input order."""

    def __init__(self, source: str = "lfs df") -> None:
        super().__init__(source)
        self._memo = _DfMemo()

    def parse_lines(self, lines: list[str]) -> list[Target]:
        first = self.line_number + 1
        self.line_number += len(lines)
        columns = parse_lfs_df_lines(lines, first, self.source, self._memo)
        return list(zip(*columns, strict=True))


class LctlDlParser(LineParser[Target]):
    """One ``lctl dl -t`` output: ``(file_system, target, fields)`` records in input order."""

    def __init__(self, source: str = "lctl dl -t") -> None:
        super().__init__(source)
        self._memo = _MapMemo()

    def parse_lines(self, lines: list[str]) -> list[Target]:
        first = self.line_number + 1
        self.line_number += len(lines)
        columns = parse_lctl_dl_lines(lines, first, self.source, self._memo)
        return list(zip(*columns, strict=True))


# -- NERSC concatenations ----------------------------------------------------------------
class LfsBlock(NamedTuple):
    """One ``BEGIN <epoch>`` block of a NERSC concatenation."""

    #: The epoch seconds of the ``BEGIN`` line.
    timestamp: int
    #: ``{file_system: {target: fields}}``
    data: dict[str, dict[str, dict[str, Any]]]
    #: Line number of the ``BEGIN`` line.
    line_number: int


_MARK = b"\nBEGIN"


class _ConcatenationParser:
    """Splits a byte stream at lines starting with ``BEGIN``; each block is parsed whole.

    Memory is bounded by the largest block (one command output).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        # a virtual newline in front, so that a BEGIN on the first line is found like the others
        self._buffer = bytearray(b"\n")
        self._scan = 0
        self._started = False
        self._line = 1  # line number of the first line of the open block (or preamble)
        self._closed = False

    # subclasses give the body parser
    def _parse_body(self, lines: list[str], first_line: int) -> Columns:
        raise NotImplementedError

    def _preamble(self, text: str) -> None:
        """The text before the first BEGIN line (after the virtual line break): blank only."""
        self._started = True
        lines = text.split("\n")
        for offset, line in enumerate(lines):
            if line.strip():
                raise _error(
                    self.source, self._line + offset - 1, "data before the first BEGIN line", line
                )
        self._line += len(lines) - 1

    def _block(self, rest: str) -> LfsBlock:
        """One complete block; ``rest`` is its text after the leading ``BEGIN``."""
        line = self._line
        if "\r" in rest:
            rest = rest.replace("\r\n", "\n")
        lines = rest.split("\n")
        self._line += len(lines)  # the line break before the next BEGIN is not in ``rest``
        if lines[-1] == "":
            lines.pop()
        head = ("BEGIN" + lines[0]).split()
        try:
            timestamp = int(head[1])
        except (IndexError, ValueError):
            raise _error(
                self.source, line, "BEGIN line without an integer epoch", "BEGIN" + lines[0]
            ) from None
        data = nest_targets(*self._parse_body(lines[1:], line + 1))
        return LfsBlock(timestamp, data, line)

    def _segments(self, text: str, final: bool) -> list[LfsBlock]:
        """Blocks of ``text`` (which starts with a line break, the one before a BEGIN)."""
        parts = text.split("\nBEGIN")
        records: list[LfsBlock] = []
        try:
            if not self._started:
                self._preamble(parts[0])
            elif parts[0]:
                raise AssertionError("a block must start at a BEGIN line")
            last = len(parts) if final else len(parts) - 1
            for part in parts[1:last]:
                records.append(self._block(part))
        except ParseError as error:
            error.records = [*records, *error.records]
            raise
        return records

    def feed(self, data: bytes) -> list[LfsBlock]:
        """Add bytes; returns the blocks completed by them."""
        if self._closed:
            raise RuntimeError(f"{self.source}: feed() after close()")
        if not data:
            return []
        buffer = self._buffer
        buffer += data
        last = buffer.rfind(_MARK, self._scan)
        if last < 0 or (last == 0 and not self._started):
            if last == 0:
                self._started = True
            self._scan = max(1, len(buffer) - len(_MARK) + 1)
            return []
        # everything before the last mark is complete blocks (plus the open block's start)
        text = buffer[:last].decode("utf-8", errors="replace") + "\nBEGIN"
        del buffer[:last]
        self._scan = 1
        return self._segments(text, final=False)

    def close(self) -> list[LfsBlock]:
        """End of input: the last block (nothing for an empty input)."""
        if self._closed:
            return []
        self._closed = True
        text = self._buffer.decode("utf-8", errors="replace")
        self._buffer = bytearray()
        if not self._started and not text.strip():
            return []
        return self._segments(text, final=True)


class NerscFullnessParser(_ConcatenationParser):
    """NERSC ``osts.txt``: ``BEGIN <epoch>`` blocks of ``lfs df`` output -> :class:`LfsBlock`."""

    def __init__(self, source: str = "<osts.txt>") -> None:
        super().__init__(source)
        self._memo = _DfMemo()

    def _parse_body(self, lines: list[str], first_line: int) -> Columns:
        return parse_lfs_df_lines(lines, first_line, self.source, self._memo)


class NerscOstMapParser(_ConcatenationParser):
    """NERSC ``ost-map.txt``: ``BEGIN <epoch>`` blocks of ``lctl dl -t`` output -> :class:`LfsBlock`."""

    def __init__(self, source: str = "<ost-map.txt>") -> None:
        super().__init__(source)
        self._memo = _MapMemo()

    def _parse_body(self, lines: list[str], first_line: int) -> Columns:
        return parse_lctl_dl_lines(lines, first_line, self.source, self._memo)
