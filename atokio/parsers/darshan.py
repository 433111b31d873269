"""Streaming parser for ``darshan-parser`` text (``--base``, ``--total``, ``--perf``).

Reads the text of darshan-util 3.1.x, 3.4.x and 3.5.x alike (docs/formats.md#darshan-logs
and ``corpus/darshan/README.md`` list the differences) and produces the records
of :mod:`atokio.parsers.darshan_records`; :func:`build_darshan_dict` turns them
into the documented dict of :class:`atokio.connectors.darshan.Darshan`.

Rules (the reference's, with its open points decided):

* Header lines map to the documented keys (``# run time:`` -> ``walltime``,
  kept an ``int``: 3.4+ prints ``117.0000``, taken as ``int(float(text))``).
  ``exe`` is the whitespace-split argv; ``metadata`` a list of ``"k = v"``.
* Mount lines ``# mount entry:\\t<mount>\\t<fstype>``; a repeated mount point
  keeps the last fs type.
* Module banners ``# <NAME> module data`` (``_`` allowed in the name, so
  ``PNETCDF_FILE`` and ``DXT_POSIX`` are modules of their own).
* ``--base`` lines have exactly eight TAB-separated fields; consecutive lines
  with the same module, rank and record id form one :class:`BaseRecord`.
  Counter names lose their module prefix.
* Values: an integer where the text is one, else a float where it is one,
  else the text itself (``N/A``, ``raid0``, pool names of darshan 3.4.6+).
* ``--perf`` keys: ``total_bytes``, ``agg_perf_by_<x>``, ``<k>_unique_files``,
  ``<k>_shared_files``; a trailing unit comment (`` # MiB/s``) is dropped.
  ``agg_time_by_slowest`` (3.4+) is not one of the reference's keys and is
  skipped, so every version gives the same key set for the same metrics.
* Blank lines separate blocks; they never end the input.
* Incomplete-module warnings (``# *WARNING*: The X module contains incomplete
  data!``) become :class:`Warning_` records so that callers can surface them.
* A non-comment line that is neither a base record nor a total is an error
  (:class:`~atokio.parsers.base.ParseError` with the line number).

Speed: ``--base`` text is parsed a block at a time. A block is a run of data
lines between comments; it is split into fields with one ``str.split`` call,
the columns are sliced out, record boundaries are found with C-level
comparisons, and the values are converted by one ``json.loads`` of the whole
value column.  The Python work is per record (a few dozen to a few hundred
lines), not per line.
"""

from __future__ import annotations

import json
import mmap
import re
from collections.abc import Iterable
from itertools import compress
from operator import ne, or_
from typing import Any

from atokio.parsers.base import LineParser, ParseError
from atokio.parsers.darshan_records import (
    BaseRecord,
    DarshanRecord,
    Header,
    Module,
    Mount,
    Perf,
    Total,
    Value,
    Warning_,
    counter_prefix,
    module_key,
)

__all__ = [
    "DarshanParser",
    "build_darshan_dict",
    "convert_value",
    "merge_darshan_dicts",
    "parse_base_counters",
    "parse_header",
    "parse_mounts",
    "parse_perf_counters",
    "parse_total_counters",
    "record_boundary_after",
    "split_points",
]

_BANNER = re.compile(r"^# ([A-Z0-9_/-]+) module data\s*$")
_INCOMPLETE = re.compile(r"^# \*WARNING\*: The (\S+) module contains incomplete data!")

#: ``# <label>:`` header prefixes -> (documented key, converter name)
_HEADER_KEYS: dict[str, str] = {
    "darshan log version": "version",
    "compression method": "compression",
    "exe": "exe",
    "uid": "uid",
    "jobid": "jobid",
    "start_time": "start_time",
    "start_time_asci": "start_time_string",
    "end_time": "end_time",
    "end_time_asci": "end_time_string",
    "nprocs": "nprocs",
    "run time": "walltime",
    "metadata": "metadata",
}
#: Characters of what JSON reads other than as numbers: its words (true, false,
#: null, NaN, Infinity), containers and strings.  A value column holding any of
#: them is converted value by value (:func:`convert_value`).
_JSON_WORD_CHARS = 'tfnNI[{"'
_INT_HEADERS = frozenset({"uid", "start_time", "end_time", "nprocs"})


def _json_values(raw_values: list[str], count: int) -> list[Value] | None:
    """The ``count`` values of a column converted by one ``json.loads``, or ``None``.

    JSON numbers are exactly int()/float() numbers; JSON's words (true,
    false, null, NaN, Infinity) and separators inside a value are not, so
    such columns take the value-by-value path (``None``).  ``N/A``, which
    darshan-util 3.4+ prints for Lustre layouts it does not know, is read as
    the JSON string ``"N/A"`` (a value that merely contains it then fails to
    parse and the column goes value by value).
    """
    joined = ",".join(raw_values)
    probe = joined
    if "N/A" in joined:
        probe = joined.replace("N/A", "")
        joined = joined.replace("N/A", '"N/A"')
    if any(ch in probe for ch in _JSON_WORD_CHARS):
        return None
    try:
        values = json.loads("[" + joined + "]")
    except ValueError:
        return None
    return values if len(values) == count else None


def convert_value(text: str) -> Value:
    """A counter value as the most precise type it spells: int, then float, then str."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_header(line: str) -> tuple[str | None, Any]:
    """``(key, value)`` of a job-header line, or ``(None, None)`` if it is not one.

    ``exe`` comes back as a list and ``metadata`` as its single ``"k = v"``
    string (the dict builder appends it to the list).
    """
    if not line.startswith("# "):
        return None, None
    label, sep, rest = line[2:].partition(": ")
    if not sep:
        if line.endswith(":"):  # e.g. "# exe:" with nothing after it
            label, rest = line[2:-1], ""
        else:
            return None, None
    key = _HEADER_KEYS.get(label)
    if key is None:
        return None, None
    rest = rest.rstrip("\n")
    value: Any
    if key == "version":
        parts = rest.split()
        value = parts[-1] if parts else ""
    elif key == "exe":
        value = rest.split()
    elif key in _INT_HEADERS:
        try:
            value = int(rest)
        except ValueError:
            return None, None
    elif key == "walltime":
        try:
            value = int(float(rest))
        except ValueError:
            return None, None
    else:
        value = rest.strip() if key in ("compression", "jobid") else rest
    return key, value


def parse_mounts(line: str) -> tuple[str | None, str | None]:
    """``(mount point, fs type)`` of a ``# mount entry:`` line, else ``(None, None)``."""
    if not line.startswith("# mount entry:"):
        return None, None
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3:
        # darshan 2 style: "# mount entry:  /path  type" separated by spaces
        fields = line[len("# mount entry:") :].split()
        if len(fields) < 2:
            return None, None
        return fields[0], fields[-1]
    return parts[1], parts[2]


def parse_base_counters(
    line: str,
) -> tuple[Any, Any, Any, Any, Any, Any, Any, Any]:
    """The 8 fields of a ``--base`` counter line, value converted; eight ``None`` otherwise.

    Returns ``(module, rank, record_id, counter, value, file_name, mount_pt,
    fs_type)`` exactly as printed (the counter keeps its module prefix here).
    """
    if line.startswith("#"):
        return (None,) * 8
    fields = line.rstrip("\n").split("\t")
    if len(fields) != 8:
        return (None,) * 8
    module, rank, record_id, counter, value, file_name, mount_pt, fs_type = fields
    return (module, rank, record_id, counter, convert_value(value), file_name, mount_pt, fs_type)


def parse_total_counters(line: str) -> tuple[str | None, Value | None]:
    """``(counter, value)`` of a ``total_<MOD>_<COUNTER>: value`` line, else ``(None, None)``.

    The counter keeps its ``total_<MOD>_`` prefix here; the parser strips it.
    """
    if not line.startswith("total_"):
        return None, None
    key, sep, value = line.rstrip("\n").partition(": ")
    if not sep:
        return None, None
    return key, convert_value(value.strip())


def parse_perf_counters(line: str) -> tuple[str | None, Value | None]:
    """``(key, value)`` of a ``--perf`` metric line, else ``(None, None)``.

    ``# unique files: K: V`` -> ``K_unique_files``; ``# shared files: K: V`` ->
    ``K_shared_files``; ``# total_bytes: V`` and ``# agg_perf_by_X: V`` keep
    their names.  A trailing unit comment is dropped.
    """
    if line.startswith("# unique files: "):
        suffix, body = "_unique_files", line[len("# unique files: ") :]
    elif line.startswith("# shared files: "):
        suffix, body = "_shared_files", line[len("# shared files: ") :]
    elif line.startswith("# total_bytes: ") or line.startswith("# agg_perf_by"):
        suffix, body = "", line[2:]
    else:
        return None, None
    key, sep, value = body.rstrip("\n").partition(": ")
    if not sep:
        return None, None
    tokens = value.split()
    if not tokens:
        return None, None
    return key + suffix, convert_value(tokens[0])


class _Run:
    """The base record being collected; it may continue in the next chunk."""

    __slots__ = ("counters", "fields", "line_number", "values")

    def __init__(
        self,
        fields: tuple[str, ...],
        line_number: int,
        counters: list[str],
        values: list[Value],
    ) -> None:
        self.fields = fields  # (module, rank, record id, file name, mount pt, fs type)
        self.counters = counters
        self.values = values
        self.line_number = line_number


class DarshanParser(LineParser[DarshanRecord]):
    """Incremental parser of ``darshan-parser`` output (any mode or mix of modes).

    ``modules`` / ``counters`` (optional iterables of lower-case module keys and
    prefix-stripped counter names) keep only those in base records, as
    ``cache_darshan --modules/--counters`` do.

    ``resume_module`` / ``resume_line`` start the parser in the middle of an
    output, at a cut made by :func:`split_points` (the module of the records
    there, as printed, and the number of lines before the cut).
    """

    def __init__(
        self,
        source: str = "<input>",
        *,
        modules: Iterable[str] | None = None,
        counters: Iterable[str] | None = None,
        resume_module: str | None = None,
        resume_line: int = 0,
    ) -> None:
        super().__init__(source)
        self.line_number = resume_line
        self.modules = frozenset(modules) if modules is not None else None
        self.counters = frozenset(counters) if counters is not None else None
        self._section = "header" if resume_module is None else "counters"
        self._module: str | None = resume_module  # banner name, e.g. "MPI-IO"
        self._run: _Run | None = None
        self._module_keys: dict[str, tuple[str, str]] = {}
        self._last_raw: list[str] = []
        self._last_names: list[str] = []
        self._record_lines = 1  # lines of the last whole record: the guess for the next

    # -- LineParser hooks ----------------------------------------------------
    def _parse_block(self, block: bytes) -> list[DarshanRecord]:
        text = block.decode(self.encoding, errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        out: list[DarshanRecord] = []
        try:
            self._parse_text(text, out)
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out

    def _parse_text(self, text: str, out: list[DarshanRecord]) -> None:
        pos, end = 0, len(text)
        find = text.find
        while pos <= end:
            first = text[pos] if pos < end else "\n"
            if first == "#" or first == "\n":
                eol = find("\n", pos)
                if eol < 0:
                    eol = end
                self._flush_run(out)
                self.line_number += 1
                self._other_line(text[pos:eol], out)
                pos = eol + 1
                continue
            # The data run ends before the next line that starts with '#'.
            # Searching for the rare '#' alone is a memchr; '\n#' is not.
            hash_at = find("#", pos)
            while hash_at > 0 and text[hash_at - 1] != "\n":
                hash_at = find("#", hash_at + 1)
            stop = hash_at - 1 if hash_at >= 0 else end
            run = text[pos:stop]
            data = run.rstrip("\n")
            self._data_block(data, out)
            blank_lines = len(run) - len(data)
            if blank_lines:
                self._flush_run(out)
                self.line_number += blank_lines
            pos = stop + 1

    def finish(self) -> list[DarshanRecord]:
        out: list[DarshanRecord] = []
        self._flush_run(out)
        return out

    # -- comment, header and mount lines ------------------------------------
    def _other_line(self, line: str, out: list[DarshanRecord]) -> None:
        if not line or line == "#":
            return
        if line.startswith("# ****"):
            self._section = "counters"
            return
        match = _BANNER.match(line)
        if match:
            self._section = "counters"
            self._module = match.group(1)
            out.append(Module(module_key(self._module)))
            return
        if self._section == "counters":
            key, value = parse_perf_counters(line)
            if key is not None and self._module is not None:
                out.append(Perf(module_key(self._module), key, value))  # type: ignore[arg-type]
                return
            warn = _INCOMPLETE.match(line)
            if warn:
                out.append(Warning_(module_key(warn.group(1)), line[2:].strip()))
            return
        if line.startswith("# mount entry:"):
            self._section = "mounts"
            mount, fstype = parse_mounts(line)
            if mount is not None:
                out.append(Mount(mount, fstype or ""))
            return
        if line.startswith("# mounted file systems"):
            self._section = "mounts"
            return
        if self._section == "header":
            key, value = parse_header(line)
            if key is not None:
                out.append(Header(key, value))
                return
        warn = _INCOMPLETE.match(line)
        if warn:
            out.append(Warning_(module_key(warn.group(1)), line[2:].strip()))

    # -- data lines ------------------------------------------------------------
    def _data_block(self, block: str, out: list[DarshanRecord]) -> None:
        if block.startswith("total_"):
            self._data_lines_slowly(block, out)
            return
        fields = block.replace("\n", "\t").split("\t")
        nlines, extra = divmod(len(fields), 8)
        # Every line must hold exactly 8 fields: then the module names sit at
        # every 8th field.  A line with a missing or extra TAB shifts that grid.
        if extra or fields[0::8].count(fields[0]) != nlines:
            self._data_lines_slowly(block, out)
            return
        self._base_columns(fields, nlines, out)

    def _data_lines_slowly(self, block: str, out: list[DarshanRecord]) -> None:
        """Line by line, for a block that mixes kinds or holds a bad line."""
        for line in block.split("\n"):
            if not line:
                self._flush_run(out)
                self.line_number += 1
                continue
            if line.startswith("total_"):
                self._flush_run(out)
                self.line_number += 1
                self._total_line(line, out)
                continue
            fields = line.split("\t")
            if len(fields) != 8:
                self._flush_run(out)
                self.line_number += 1
                raise self.error(
                    f"expected a darshan-parser record of 8 TAB-separated fields, got {len(fields)}",
                    line,
                )
            self._base_columns(fields, 1, out)

    def _total_line(self, line: str, out: list[DarshanRecord]) -> None:
        key, value = parse_total_counters(line)
        if key is None:
            raise self.error("expected a 'total_<COUNTER>: <value>' line", line)
        if self._module is None:
            raise self.error("total counter before any module banner", line)
        prefix = "total_" + counter_prefix(self._module)
        counter = key[len(prefix) :] if key.startswith(prefix) else key[len("total_") :]
        out.append(Total(module_key(self._module), counter, value))  # type: ignore[arg-type]

    def _base_columns(self, fields: list[str], nlines: int, out: list[DarshanRecord]) -> None:
        first_line = self.line_number + 1
        self.line_number += nlines
        ranks = fields[1::8]
        ids = fields[2::8]
        names = fields[3::8]
        raw_values = fields[4::8]
        values = _json_values(raw_values, nlines)
        if values is None:
            values = [convert_value(v) for v in raw_values]
        starts = self._record_starts(ranks, ids, nlines) if nlines > 1 else [0, 1]
        last = len(starts) - 2
        pending = self._run
        self._run = None
        for i in range(last + 1):
            s, e = starts[i], starts[i + 1]
            j = 8 * s
            if pending is not None:
                if pending.fields[:3] == (fields[j], fields[j + 1], fields[j + 2]):
                    pending.counters += names[s:e]
                    pending.values += values[s:e]
                    if i == last:
                        self._run = pending
                    else:
                        self._emit(pending, out)
                    pending = None
                    continue
                self._emit(pending, out)
                pending = None
            run = _Run(
                (
                    fields[j],
                    fields[j + 1],
                    fields[j + 2],
                    fields[j + 5],
                    fields[j + 6],
                    fields[j + 7],
                ),
                first_line + s,
                names[s:e],
                values[s:e],
            )
            if i == last:
                self._run = run
            else:
                self._emit(run, out)

    def _record_starts(self, ranks: list[str], ids: list[str], nlines: int) -> list[int]:
        """The lines where records start (and ``nlines``): where the rank or record id changes
        (the module is the same on every line of a block, see _data_block).

        Records of a module mostly have as many lines as the last whole one, so
        that guess is checked first, with two C-level counts; when it is wrong,
        the lines after the record's first are compared one by one (in C too).
        """
        starts = [0]
        start = 0
        while start < nlines:
            lines = self._record_lines
            stop = start + lines
            rank, record = ranks[start], ids[start]
            if (
                stop <= nlines
                and (stop == nlines or ids[stop] != record or ranks[stop] != rank)
                and ids[start:stop].count(record) == lines
                and ranks[start:stop].count(rank) == lines
            ):
                starts.append(stop)
                start = stop
                continue
            width = 2 * lines + 16
            while True:
                end = min(nlines, start + 1 + width)
                changed = map(
                    or_,
                    map(ne, ids[start + 1 : end], ids[start : end - 1]),
                    map(ne, ranks[start + 1 : end], ranks[start : end - 1]),
                )
                found = next(compress(range(start + 1, end), changed), None)
                if found is not None or end == nlines:
                    break
                width *= 4
            stop = nlines if found is None else found
            if start and stop < nlines:  # a whole record (the first may continue one)
                self._record_lines = stop - start
            starts.append(stop)
            start = stop
        return starts

    def _flush_run(self, out: list[DarshanRecord]) -> None:
        if self._run is not None:
            self._emit(self._run, out)
            self._run = None

    def _emit(self, run: _Run, out: list[DarshanRecord]) -> None:
        module_name, rank, _record_id, file_name, mount_pt, fs_type = run.fields
        keys = self._module_keys.get(module_name)
        if keys is None:
            keys = self._module_keys[module_name] = (
                module_key(module_name),
                counter_prefix(module_name),
            )
        mod, prefix = keys
        if self.modules is not None and mod not in self.modules:
            return
        # Records of one module nearly always list the same counters in the
        # same order: reuse the stripped names of the previous record then.
        raw = run.counters
        if raw == self._last_raw:
            names = self._last_names
        else:
            n = len(prefix)
            names = [c[n:] if c.startswith(prefix) else c for c in raw]
            self._last_raw, self._last_names = raw, names
        counters = dict(zip(names, run.values, strict=True))
        if len(counters) != len(names):
            seen: set[str] = set()
            dup = next(c for c in names if c in seen or seen.add(c))  # type: ignore[func-returns-value]
            raise self._error_at(
                run.line_number,
                f"duplicate counter {dup!r} in one {module_name} record of rank {rank}",
                file_name,
            )
        if self.counters is not None:
            counters = {k: v for k, v in counters.items() if k in self.counters}
        out.append(BaseRecord(mod, rank, file_name, mount_pt, fs_type, counters))

    def _error_at(self, line_number: int, message: str, text: str | None) -> Exception:
        return ParseError(message, source=self.source, line_number=line_number, text=text)


def add_legacy_lustre_names(counters: dict[str, Any]) -> None:
    """Give the Lustre counters of darshan-util 3.4.6+ their 3.1 names too (docs/formats.md#darshan-util-versions).

    Since 3.4.6 a Lustre record describes layout components
    (``COMP<k>_STRIPE_COUNT``, ``COMP<k>_OST_ID_<i>``, ...) where 3.1 had one
    striping (``STRIPE_WIDTH``, ``STRIPE_SIZE``, ``OST_ID_<i>``), which is what
    pytokio-era analyses read.  Both spellings are kept: the first component's
    values are also stored under the old names (``STRIPE_WIDTH`` =
    ``COMP1_STRIPE_COUNT``, ``STRIPE_SIZE`` = ``COMP1_STRIPE_SIZE``,
    ``OST_ID_<i>`` = ``COMP1_OST_ID_<i>``).  The 3.1 counters with no modern
    equivalent (``OSTS``, ``MDTS``, ``STRIPE_OFFSET``) are not made up, and a
    record that already has old names (3.1 text) is left alone.
    """
    if "COMP1_STRIPE_COUNT" not in counters or "STRIPE_WIDTH" in counters:
        return
    counters["STRIPE_WIDTH"] = counters["COMP1_STRIPE_COUNT"]
    if "COMP1_STRIPE_SIZE" in counters:
        counters["STRIPE_SIZE"] = counters["COMP1_STRIPE_SIZE"]
    for name in [name for name in counters if name.startswith("COMP1_OST_ID_")]:
        counters[name[len("COMP1_") :]] = counters[name]


def build_darshan_dict(
    records: Iterable[DarshanRecord], into: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The documented Darshan dict (``header``, ``mounts``, ``counters``) from records.

    ``into`` merges into an existing dict (as successive base/total/perf passes
    of one :class:`~atokio.connectors.darshan.Darshan` do).  ``metadata`` is
    rebuilt by each pass instead of appended to again, so several passes do not
    repeat it.  A counter seen twice for the same (module, file, rank) raises
    ``ValueError("Duplicate counter ...")``, as in the reference.  No records
    (a log that could not be read) leave the dict as it was: ``{}`` when new.
    """
    result: dict[str, Any] = into if into is not None else {}
    records = list(records) if not isinstance(records, list) else records
    if not records:
        return result
    header: dict[str, Any] = result.setdefault("header", {})
    mounts: dict[str, str] = result.setdefault("mounts", {})
    counters: dict[str, Any] = result.setdefault("counters", {})
    fresh_metadata = True
    for rec in records:
        kind = type(rec)
        if kind is BaseRecord:
            assert isinstance(rec, BaseRecord)
            if rec.module == "lustre":
                add_legacy_lustre_names(rec.counters)
            by_rank = counters.setdefault(rec.module, {}).setdefault(rec.file_name, {})
            existing = by_rank.get(rec.rank)
            if existing is None:
                by_rank[rec.rank] = rec.counters
            else:
                clash = existing.keys() & rec.counters.keys()
                if clash:
                    raise ValueError(
                        f"Duplicate counter {sorted(clash)[0]} for {rec.module} "
                        f"{rec.file_name!r} rank {rec.rank}"
                    )
                existing.update(rec.counters)
        elif kind is Total:
            assert isinstance(rec, Total)
            counters.setdefault(rec.module, {}).setdefault("_total", {})[rec.counter] = rec.value
        elif kind is Perf:
            assert isinstance(rec, Perf)
            counters.setdefault(rec.module, {}).setdefault("_perf", {})[rec.key] = rec.value
        elif kind is Header:
            assert isinstance(rec, Header)
            if rec.key == "metadata":
                if fresh_metadata:
                    header["metadata"] = []
                    fresh_metadata = False
                header["metadata"].append(rec.value)
            else:
                header[rec.key] = rec.value
        elif kind is Mount:
            assert isinstance(rec, Mount)
            mounts[rec.mountpoint] = rec.fstype
    return result


def merge_darshan_dicts(into: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Merge the dict of a later piece of the same output into ``into`` (see :func:`split_points`).

    Records of a (module, file, rank) split over two pieces are joined; a
    counter present in both raises ``ValueError("Duplicate counter ...")``.
    """
    if not part:
        return into
    into.setdefault("header", {}).update(part.get("header", {}))
    into.setdefault("mounts", {}).update(part.get("mounts", {}))
    counters = into.setdefault("counters", {})
    for module, records in part.get("counters", {}).items():
        mine = counters.setdefault(module, {})
        for name, value in records.items():
            if name not in mine:
                mine[name] = value
            elif name in ("_total", "_perf"):
                mine[name].update(value)
            else:
                for rank, values in value.items():
                    existing = mine[name].get(rank)
                    if existing is None:
                        mine[name][rank] = values
                        continue
                    clash = existing.keys() & values.keys()
                    if clash:
                        raise ValueError(
                            f"Duplicate counter {sorted(clash)[0]} for {module} {name!r} rank {rank}"
                        )
                    existing.update(values)
    return into


def split_points(
    data: bytes | mmap.mmap, parts: int, *, count_lines: bool = True
) -> list[tuple[int, str | None, int]]:
    """Where ``data`` (darshan-parser text) can be cut into ``parts`` pieces.

    Returns ``(offset, module, line_number)`` for the start of every piece
    (the first is ``(0, None, 0)``).  A cut lies between two ``--base`` lines
    of different records, so each piece parses on its own with
    ``DarshanParser(resume_module=module, resume_line=line_number)`` and the
    records of the pieces, concatenated in order, are the records of the whole.
    Pieces that would be empty or where no such cut exists nearby are merged.
    ``data`` may be an ``mmap`` of a file; ``count_lines=False`` leaves the line
    numbers at 0 (counting them reads everything before each cut).
    """
    size = len(data)
    cuts: list[tuple[int, str | None, int]] = [(0, None, 0)]
    for k in range(1, parts):
        target = size * k // parts
        if target <= cuts[-1][0]:
            continue
        found = record_boundary_after(data, target)
        if found is None or found[0] <= cuts[-1][0] or found[0] >= size:
            continue
        offset, module = found
        lines = data.count(b"\n", 0, offset) if count_lines else 0  # type: ignore[union-attr]
        cuts.append((offset, module, lines))
    return cuts


def record_boundary_after(
    data: bytes | bytearray | mmap.mmap, pos: int, max_lines: int = 100_000
) -> tuple[int, str] | None:
    """Where a piece of darshan-parser text may be cut: the first offset after the line
    holding ``pos`` that starts a ``--base`` line whose previous line is a base line
    of another record, with that line's module as printed (``"POSIX"``).

    ``None`` when there is none among the next ``max_lines`` complete lines of
    ``data``.  A piece starting there parses on its own with
    ``DarshanParser(resume_module=module)``.
    """
    start = data.find(b"\n", pos)
    if start < 0:
        return None
    start += 1
    prev_key: tuple[bytes, ...] | None = None
    for _ in range(max_lines):
        end = data.find(b"\n", start)
        if end < 0:
            return None
        line = bytes(data[start:end])
        if not line or line[:1] == b"#" or line.startswith(b"total_"):
            prev_key = None
        else:
            fields = line.split(b"\t", 3)
            key = tuple(fields[:3])
            if len(fields) == 4 and prev_key is not None and key != prev_key:
                return start, fields[0].decode("utf-8", errors="replace")
            prev_key = key if len(fields) == 4 else None
        start = end + 1
    return None
