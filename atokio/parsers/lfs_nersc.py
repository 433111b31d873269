"""Streaming parsers of NERSC's ``BEGIN <epoch>`` concatenations of ``lfs df`` / ``lctl dl -t``.

NERSC's cron jobs append ``BEGIN $(date +%s)`` and then one command output,
every few minutes (docs/formats.md#nersc-lfs-state-files).  :class:`NerscFullnessParser`
(``lfs df``, rules of :mod:`atokio.parsers.lfs_df`) and
:class:`NerscOstMapParser` (``lctl dl -t``, rules of
:mod:`atokio.parsers.lfs_lctl`) give one :class:`LfsBlock` per block: the
epoch and the whole output nested as ``{file_system: {target: fields}}``.

A line starting with ``BEGIN`` opens a block; its second token must be an
integer epoch (else :class:`~atokio.parsers.base.ParseError`).  Blank lines
before the first ``BEGIN`` are ignored, any other text there is a
:class:`~atokio.parsers.base.ParseError`.  The last block ends at the end of
the input and is returned by ``close()`` (the reference drops it for ``lctl``
files).  A block with no target lines gives an empty dict.  Repeated time
stamps are reported by the connectors, which let the later block win.

Speed.  Each block is kept as bytes and what repeats from one sample to the
next is exploited.  An ``lfs df`` block is split into tokens once (each line
break marks the token before it) and matched against the *layout* of an
earlier block with as many tokens: the same UUIDs and mount points at the
same places, the other lines starting alike, the line breaks where they
were; the numbers are then checked and converted in one numpy call and each
target's dict is a copy of a template from the layout (the total is reused
while it is unchanged).  An ``lctl dl -t`` block equal to the previous one is
a copy of the previous result, and other blocks look their lines up among
the lines seen before.  Anything these paths cannot vouch for (a new or
irregular layout, a number too large for int64, text that is not ASCII) goes
through the per-line regular expressions, which define the rules and locate
errors.  For worker processes, :func:`parse_segment` returns blocks in a
compact form (:class:`DfValues`, :class:`MapTemplates`) that
:func:`expand_block` turns into the dicts.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy

from atokio.parsers.base import ParseError
from atokio.parsers.lfs import located_error, nest_targets
from atokio.parsers.lfs_df import DF_LINE, DF_LOOKS_LIKE_TARGET, df_lines_slowly
from atokio.parsers.lfs_lctl import lctl_lines_slowly

__all__ = [
    "DfValues",
    "LfsBlock",
    "MapTemplates",
    "NerscFullnessParser",
    "NerscOstMapParser",
    "expand_block",
    "parse_segment",
]


class LfsBlock(NamedTuple):
    """One ``BEGIN <epoch>`` block of a NERSC concatenation."""

    #: The epoch seconds of the ``BEGIN`` line.
    timestamp: int
    #: ``{file_system: {target: fields}}``
    data: dict[str, dict[str, dict[str, Any]]]
    #: Line number of the ``BEGIN`` line.
    line_number: int


Nested = dict[str, dict[str, dict[str, Any]]]

_MARK = b"\nBEGIN"
#: A block's line breaks become this byte, ending the last token of each line in the
#: block's token list (``\x00`` is not whitespace; a line without tokens gives ``b"\x00"``).
_SEP = b"\x00"
_LINE_BREAK = b"\x00 "
_DIGITS_SPACE = b"0123456789 "
_INT64_MAX = 2**63 - 1
#: Whitespace to ``str.split`` and ``re`` but not to ``bytes.split``.
_STR_ONLY_SPACE = re.compile(rb"[\x1c-\x1f]")
#: Longest number the layouts take (Python's ``int`` refuses over 4300 digits).
_MAX_DIGITS = 4000
#: Bounds of the per-parser caches (cleared when full).
_LAYOUTS_KEPT = 64
_LINES_KEPT = 1 << 16


def _body_lines(body: bytes) -> list[str]:
    """The decoded lines of a block body (which ends with a line break, unless empty)."""
    lines = body.decode("utf-8", errors="replace").split("\n")
    lines.pop()
    return lines


# -- lfs df blocks: a layout per distinct block shape ------------------------------------
class _DfRun(NamedTuple):
    """Consecutive target lines of one file system, as laid out in a block's tokens."""

    start: int  # token index of the first UUID
    stop: int  # token index after the last line break
    file_system: str
    uuids: list[bytes]
    mounts: list[bytes]
    #: the total column's tokens, and the fields of each line with those totals
    #: (``used_kib`` and ``remaining_kib`` are filled in per block)
    totals: list[bytes]
    targets: list[str]
    templates: list[dict[str, Any]]


class _DfLayout(NamedTuple):
    """What stays the same from one ``lfs df`` block to the next: all but the numbers.

    A block has this layout when it has as many tokens (each line break is a
    :data:`_SEP` ending the token before it, or a token of its own), its line
    breaks are where they were, the UUID and mount tokens of the target lines
    are the same (the mount token with the line break: no trailing blanks), and
    each other line starts with the same token (for a line starting with a
    UUID: has the same tokens) and holds no other line break.  Such a block parses exactly like the one the layout
    was made from, except for the numbers, which are validated and converted.
    """

    runs: tuple[_DfRun, ...]
    #: number of lines
    lines: int
    #: ``(start, stop, tokens)`` of the other lines: ``tokens[stop]`` ends with their
    #: line break, ``tokens[start:start + len(tokens)]`` must equal ``tokens``
    skipped: tuple[tuple[int, int, list[bytes]], ...]


def _df_layout(tokens: list[bytes]) -> _DfLayout | None:
    """The layout of an ASCII block's tokens, or None if a line is irregular (slow path)."""
    runs: list[_DfRun] = []
    skipped: list[tuple[int, int, list[bytes]]] = []
    current: _DfRun | None = None
    start = 0
    ends = [position for position, token in enumerate(tokens) if token.endswith(_SEP)]
    for stop in ends:
        raw = tokens[start : stop + 1]  # the last one ends with the line break
        line = raw[:-1]
        if raw[-1] != _SEP:
            line.append(raw[-1][:-1])
        if line and line[0].endswith(b"_UUID"):
            text = b" ".join(line).decode("ascii")
            match = DF_LINE.fullmatch(text)
            if match is None:
                if DF_LOOKS_LIKE_TARGET.match(text):
                    return None  # a malformed line: the slow path reports it
                skipped.append((start, stop, raw))
                current = None
            elif len(raw) != 6:
                return None  # a mount point with spaces, or trailing blanks
            else:
                fs, target, total, _, _, mount, role, index = match.groups()
                if max(len(total), len(index)) > _MAX_DIGITS:
                    return None  # more digits than int() converts: the slow path reports it
                if current is None or current.file_system != fs:
                    current = _DfRun(start, stop + 1, fs, [], [], [], [], [])
                    runs.append(current)
                else:
                    current = runs[-1] = current._replace(stop=stop + 1)
                current.uuids.append(raw[0])
                current.mounts.append(raw[5])
                current.totals.append(line[1])
                current.targets.append(target)
                current.templates.append(
                    {
                        "total_kib": int(total),
                        "used_kib": 0,
                        "remaining_kib": 0,
                        "mount_pt": mount,
                        "role": role.lower(),
                        "target_index": int(index),
                    }
                )
        else:
            skipped.append((start, stop, raw[:1]))
            current = None
        start = stop + 1
    if start != len(tokens):
        return None  # text after the last line break
    lines = len(skipped) + sum(len(run.uuids) for run in runs)
    return _DfLayout(tuple(runs), lines, tuple(skipped))


def _percents_valid(percents: list[bytes]) -> bool:
    """Every token is ASCII digits followed by one ``%``."""
    joined = b" ".join(percents) + b" "
    if joined.count(b"% ") != len(percents):
        return False
    bare = joined.replace(b"% ", b" ")
    return not bare.translate(None, _DIGITS_SPACE) and bare[:1] != b" " and b"  " not in bare


class DfValues(NamedTuple):
    """An ``lfs df`` block reduced to its numbers (what a worker process sends back).

    :meth:`build` gives the nested dicts; the layout travels once per batch
    of blocks (pickle shares it), the numbers as one int64 array.
    """

    layout: _DfLayout
    #: used and remaining KiB of each run, then the totals of the runs whose totals changed
    values: numpy.ndarray
    #: per run: are the totals those of the layout?
    same_totals: tuple[bool, ...]

    def build(self) -> Nested:
        """``{file_system: {target: fields}}``."""
        return _df_build(self.layout, self.values.tolist(), self.same_totals)


def _df_match(tokens: list[bytes], layout: _DfLayout, line_breaks: int) -> DfValues | None:
    """The numbers of a block of this layout, or None if the block does not fit it.

    ``line_breaks`` is the number of line breaks in the block: as many as the
    layout's lines, all at the tokens where the layout has them, means that
    no line break is anywhere else.
    """
    if line_breaks != layout.lines:
        return None
    for start, stop, expected in layout.skipped:
        if not tokens[stop].endswith(_SEP) or tokens[start : start + len(expected)] != expected:
            return None
    numbers: list[bytes] = []
    percents: list[bytes] = []
    new_totals: list[bytes] = []
    same_totals: list[bool] = []
    for run in layout.runs:
        start, stop = run.start, run.stop
        # equal UUIDs and mounts (with their line break) and numbers and percents
        # without one: the lines are where they were
        if tokens[start:stop:6] != run.uuids or tokens[start + 5 : stop : 6] != run.mounts:
            return None
        numbers += tokens[start + 2 : stop : 6]
        numbers += tokens[start + 3 : stop : 6]
        percents += tokens[start + 4 : stop : 6]
        totals = tokens[start + 1 : stop : 6]
        same = totals == run.totals  # capacities rarely change: keep the layout's ints
        same_totals.append(same)
        if not same:
            new_totals += totals
    if percents and not _percents_valid(percents):
        return None
    numbers += new_totals
    joined = b" ".join(numbers)
    if joined.translate(None, _DIGITS_SPACE):
        return None
    values = numpy.fromstring(joined, dtype=numpy.int64, sep=" ")
    if len(values) != len(numbers) or (len(values) and values.max() == _INT64_MAX):
        return None  # too large for int64 (it saturates): the slow path uses Python ints
    return DfValues(layout, values, tuple(same_totals))


def _df_build(layout: _DfLayout, values: list[int], same_totals: tuple[bool, ...]) -> Nested:
    """The nested targets of a block of ``layout`` with these numbers."""
    out: Nested = {}
    offset = 0
    total_offset = sum(2 * len(run.targets) for run in layout.runs)
    for run, same in zip(layout.runs, same_totals, strict=True):
        count = len(run.targets)
        middle, end = offset + count, offset + 2 * count
        targets: dict[str, dict[str, Any]] = {}
        if same:
            for target, template, used, remaining in zip(
                run.targets, run.templates, values[offset:middle], values[middle:end], strict=True
            ):
                targets[target] = fields = template.copy()
                fields["used_kib"] = used
                fields["remaining_kib"] = remaining
        else:
            for target, template, total, used, remaining in zip(
                run.targets, run.templates, values[total_offset : total_offset + count],
                values[offset:middle], values[middle:end], strict=True,
            ):  # fmt: skip
                targets[target] = fields = template.copy()
                fields["total_kib"] = total
                fields["used_kib"] = used
                fields["remaining_kib"] = remaining
            total_offset += count
        offset = end
        known = out.get(run.file_system)
        if known is None:
            out[run.file_system] = targets
        else:
            known.update(targets)
    return out


class _DfBlocks:
    """Parses ``lfs df`` block bodies, remembering the layouts seen."""

    def __init__(self) -> None:
        self.layouts: dict[int, _DfLayout] = {}

    def match(self, body: bytes) -> DfValues | None:
        """The block's numbers and layout, or None when only the slow path can tell."""
        if _SEP in body:
            return None
        tokens = body.replace(b"\n", _LINE_BREAK).split()
        key = len(tokens)
        layout = self.layouts.get(key)
        line_breaks = body.count(b"\n")
        found = None if layout is None else _df_match(tokens, layout, line_breaks)
        if found is None and body.isascii() and not _STR_ONLY_SPACE.search(body):
            layout = _df_layout(tokens)
            if layout is not None:
                if len(self.layouts) >= _LAYOUTS_KEPT:
                    self.layouts.clear()
                self.layouts[key] = layout
                found = _df_match(tokens, layout, line_breaks)
        return found

    def parse(
        self, body: bytes, first_line: int, source: str, compact: bool = False
    ) -> tuple[Any, int]:
        """The nested targets (or, if ``compact``, the :class:`DfValues` when the block is
        regular) and the number of lines."""
        found = self.match(body)
        if found is not None:
            return (found if compact else found.build()), found.layout.lines
        lines = _body_lines(body)
        return nest_targets(*df_lines_slowly(lines, first_line, source)), len(lines)


# -- lctl dl -t blocks: outputs and lines repeat ----------------------------------------
_SKIP: tuple[()] = ()
_MapEntry = tuple[str, str, dict[str, Any]] | tuple[()]


class MapTemplates(NamedTuple):
    """An ``lctl dl -t`` block as shared field dicts (what a worker process sends back).

    Blocks with the same output share one; :meth:`build` gives fresh copies.
    """

    nested: Nested

    def build(self) -> Nested:
        """``{file_system: {target: fields}}`` (new dicts)."""
        return {
            fs: {target: fields.copy() for target, fields in targets.items()}
            for fs, targets in self.nested.items()
        }


class _MapBlocks:
    """Parses ``lctl dl -t`` block bodies.

    The device list of a client rarely changes between two samples, so a body
    equal to the previous one gives a copy of the previous result, and the
    lines of other bodies are looked up among the lines seen before.  The
    cached field dicts are never handed out, only copies of them.
    """

    def __init__(self) -> None:
        self.lines: dict[bytes, _MapEntry] = {}
        self.previous: bytes | None = None
        self.previous_data = MapTemplates({})
        self.previous_lines = 0

    def learn(self, line: bytes, line_number: int, source: str) -> _MapEntry:
        text = line.decode("utf-8", errors="replace")
        columns = lctl_lines_slowly([text], line_number, source)
        entry: _MapEntry = (columns[0][0], columns[1][0], columns[2][0]) if columns[0] else _SKIP
        if len(self.lines) >= _LINES_KEPT:
            self.lines.clear()
        self.lines[line] = entry
        return entry

    def parse(
        self, body: bytes, first_line: int, source: str, compact: bool = False
    ) -> tuple[Any, int]:
        """The nested targets (or, if ``compact``, the :class:`MapTemplates`) and the number
        of lines."""
        if body != self.previous:
            lines = body.split(b"\n")
            lines.pop()
            entries = list(map(self.lines.get, lines))
            if None in entries:
                for offset, entry in enumerate(entries):
                    if entry is None:
                        entries[offset] = self.learn(lines[offset], first_line + offset, source)
            nested: Nested = {}
            for entry in entries:
                if entry:
                    fs, target, fields = entry
                    known = nested.get(fs)
                    if known is None:
                        nested[fs] = {target: fields}
                    else:
                        known[target] = fields
            self.previous, self.previous_data = body, MapTemplates(nested)
            self.previous_lines = len(lines)
        data = self.previous_data if compact else self.previous_data.build()
        return data, self.previous_lines


# -- splitting the stream into blocks ----------------------------------------------------
class _ConcatenationParser:
    """Splits a byte stream at lines starting with ``BEGIN``; each block is parsed whole.

    Blocks stay bytes: only the ``BEGIN`` line, and the lines that the fast
    paths cannot vouch for, are decoded.  Memory is bounded by the largest
    block (one command output) plus one chunk.
    """

    def __init__(self, source: str, first_line: int = 1, compact: bool = False) -> None:
        self.source = source
        self.compact = compact
        # a virtual newline in front, so that a BEGIN on the first line is found like the others
        self._buffer = bytearray(b"\n")
        self._scan = 0
        self._started = False
        self._line = first_line  # line number of the first line of the open block (or preamble)
        self._closed = False

    @property
    def line_number(self) -> int:
        """The number of the last line of the blocks and blank lines parsed so far."""
        return self._line - 1

    # subclasses give the body parser
    def _parse_body(self, body: bytes, first_line: int) -> tuple[Any, int]:
        """The parsed body (which ends with a line break unless empty) and its number of lines."""
        raise NotImplementedError

    def _preamble(self, data: bytes) -> None:
        """The text before the first BEGIN line (after the virtual line break): blank only."""
        self._started = True
        lines = data.decode("utf-8", errors="replace").split("\n")
        for offset, line in enumerate(lines):
            if line.strip():
                raise located_error(
                    self.source, self._line + offset - 1, "data before the first BEGIN line", line
                )
        self._line += len(lines) - 1

    def _block(self, data: bytes, start: int, stop: int) -> LfsBlock:
        """One complete block: ``data[start:stop]`` is its bytes after the leading ``BEGIN``,
        through the line break that ends it (absent at the end of the input)."""
        line = self._line
        cut = data.find(b"\n", start, stop)
        if cut < 0:
            head, body = data[start:stop], b""
        else:
            head, body = data[start:cut], data[cut + 1 : stop]
            if body and body[-1:] != b"\n":
                body += b"\n"
            if b"\r" in body:
                body = body.replace(b"\r\n", b"\n")
        if head[-1:] == b"\r" and cut >= 0:
            head = head[:-1]
        head_text = "BEGIN" + head.decode("utf-8", errors="replace")
        fields = head_text.split()
        try:
            timestamp = int(fields[1])
        except (IndexError, ValueError):
            raise located_error(
                self.source, line, "BEGIN line without an integer epoch", head_text
            ) from None
        data_, lines = self._parse_body(body, line + 1)
        self._line += 1 + lines
        return LfsBlock(timestamp, data_, line)

    def _segments(self, data: bytes, final: bool) -> list[LfsBlock]:
        """The blocks of ``data``, which starts with a line break; each ``\\nBEGIN`` in it
        starts a block that ends at the next one or at the end of ``data``.  Unless
        ``final``, ``data`` ends with the line break of the next (open) block's mark."""
        records: list[LfsBlock] = []
        try:
            mark = data.find(_MARK)
            if not self._started:
                end = mark if mark >= 0 else len(data) if final else len(data) - 1
                self._preamble(data[:end])
            elif mark != 0:
                raise AssertionError("a block must start at a BEGIN line")
            while mark >= 0:
                following = data.find(_MARK, mark + 1)
                stop = len(data) if following < 0 else following + 1
                records.append(self._block(data, mark + len(_MARK), stop))
                mark = following
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
        last = data.rfind(_MARK)
        if last >= 0:  # a mark inside the new bytes (not the open block's): one copy, no growth
            complete = b"".join((buffer, memoryview(data)[: last + 1]))
            self._buffer = bytearray(memoryview(data)[last:])
            self._scan = 1
            return self._segments(complete, final=False)
        buffer += data
        last = buffer.rfind(_MARK, self._scan)
        if last <= 0:
            if last == 0:
                self._started = True
            self._scan = max(1, len(buffer) - len(_MARK) + 1)
            return []
        # everything before the last mark is complete blocks (plus the preamble)
        complete = bytes(buffer[: last + 1])
        del buffer[:last]
        self._scan = 1
        return self._segments(complete, final=False)

    def close(self) -> list[LfsBlock]:
        """End of input: the last block (nothing for an empty input)."""
        if self._closed:
            return []
        self._closed = True
        data = bytes(self._buffer)
        self._buffer = bytearray()
        if not self._started and not data.strip():
            return []
        return self._segments(data, final=True)


class NerscFullnessParser(_ConcatenationParser):
    """NERSC ``osts.txt``: ``BEGIN <epoch>`` blocks of ``lfs df`` output -> :class:`LfsBlock`."""

    def __init__(
        self, source: str = "<osts.txt>", first_line: int = 1, compact: bool = False
    ) -> None:
        super().__init__(source, first_line, compact)
        self._blocks = _DfBlocks()

    def _parse_body(self, body: bytes, first_line: int) -> tuple[Any, int]:
        return self._blocks.parse(body, first_line, self.source, self.compact)


class NerscOstMapParser(_ConcatenationParser):
    """NERSC ``ost-map.txt``: ``BEGIN <epoch>`` blocks of ``lctl dl -t`` output -> :class:`LfsBlock`."""

    def __init__(
        self, source: str = "<ost-map.txt>", first_line: int = 1, compact: bool = False
    ) -> None:
        super().__init__(source, first_line, compact)
        self._blocks = _MapBlocks()

    def _parse_body(self, body: bytes, first_line: int) -> tuple[Any, int]:
        return self._blocks.parse(body, first_line, self.source, self.compact)


# -- blocks parsed in worker processes ---------------------------------------------------
_KINDS: dict[str, type[_ConcatenationParser]] = {
    "fullness": NerscFullnessParser,
    "map": NerscOstMapParser,
}


def parse_segment(kind: str, data: bytes, first_line: int, source: str) -> list[LfsBlock]:
    """The blocks of ``data`` in compact form (see :func:`expand_block`), for a worker process.

    ``data`` is a piece of a concatenation cut at block boundaries (it starts
    at the file's start or at a ``BEGIN`` line and ends at a line break or the
    file's end); ``first_line`` is its line number in the file.  ``kind`` is
    ``"fullness"`` (``lfs df``) or ``"map"`` (``lctl dl -t``).  The numbers
    of regular ``lfs df`` blocks come back as one int64 array per block and
    repeated ``lctl`` outputs as one shared structure, which is much cheaper
    to send between processes than the dicts.
    """
    parser = _KINDS[kind](source, first_line, compact=True)
    return [*parser.feed(data), *parser.close()]


def expand_block(block: LfsBlock) -> LfsBlock:
    """A block from :func:`parse_segment` with its ``data`` as the nested dicts."""
    data: Any = block.data
    if isinstance(data, DfValues | MapTemplates):
        return block._replace(data=data.build())
    return block
