"""Connect to Slurm through its accounting command, ``sacct`` (``tokio.connectors.slurm``).

:class:`Slurm` is a dict keyed by *task id* — ``<jobid>``, ``<jobid>.batch``,
``<jobid>.extern``, ``<jobid>.<step>`` — whose values are dicts of Slurm
fields named as ``sacct --format`` names them, lower-cased (docs/formats.md#slurm-sacct)::

    {"4478544.0": {"jobidraw": "4478544.0", "start": datetime, "end": datetime,
                   "nodelist": {"nid05301", ...}}, ...}

Only ``start`` and ``end`` (naive local datetimes) and ``nodelist`` (a set of
host names) are converted from the text sacct prints; every other field stays
a string.  Node lists parsed from sacct text are sets, one per record.  Where the job lookup comes from:

* ``Slurm(jobid)`` runs ``sacct --jobs <jobid>
  --format=jobidraw,start,end,nodelist --parsable2``; its stdout is streamed
  into :class:`atokio.parsers.sacct.SacctParser` by the collector core
  (:func:`atokio.collectors.subprocess.run_command`), never read whole;
* ``Slurm(cache_file=path)`` loads a saved copy: a JSON cache (such as the
  corpus ``sample.slurm``, or what :meth:`Slurm.save_cache` and
  ``cache_slurm -j`` write) or saved sacct text (plain or gzip); JSON is tried
  first, then sacct text;
* ``Slurm(from_string=text)`` does the same with a string.

Node lists are expanded and compacted natively
(:mod:`atokio.parsers.hostlist`), so nothing here needs ``scontrol``.  The
``sacct`` program is ``$ATOKIO_SACCT``, else the config key ``sacct``, else
``sacct`` on ``PATH``.

Decisions on points the reference leaves open (docs/formats.md#slurm-sacct):

* ``Unknown`` / ``None`` times (a running or never-started job) become
  ``None`` and are written back as ``Unknown``; :meth:`Slurm.get_job_startend`
  ignores them (``None`` when no step has a time);
* ``None assigned`` node lists become an empty set and are written back as
  ``None assigned``;
* node lists loaded from a JSON cache stay lists, in their saved order (only
  strings are converted, as in the reference), so that a JSON cache is
  written back byte for byte; sets are written to JSON sorted;
* compacted node lists use the standard Slurm spelling ``nid[05301-05428]``
  (input may also be spelled ``nid0[5301-5428]``);
* :meth:`Slurm.to_dataframe` keeps ``jobidraw`` a string;
* malformed sacct text raises :class:`~atokio.parsers.base.ParseError` naming
  the source and line; a non-zero exit of ``sacct`` is a warning (as in the
  reference) and keeps whatever it printed; a file or string that starts
  with ``{`` but is not valid JSON is a ``ParseError`` too (sacct text never
  starts that way).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from atokio import config
from atokio.collectors.files import open_binary
from atokio.collectors.subprocess import run_command
from atokio.collectors.sync import run_sync
from atokio.common import JSONEncoder, atomic_output
from atokio.connectors.common import SubprocessOutputDict, gc_paused
from atokio.parsers.base import ParseError
from atokio.parsers.hostlist import NO_NODES, compact_hostlist, expand_hostlist
from atokio.parsers.sacct import (
    TIME_FORMAT,
    SacctParser,
    SacctRecord,
    build_sacct_dict,
    format_sacct_time,
    parse_sacct_time,
)

__all__ = [
    "DEFAULT_KEYS",
    "Slurm",
    "SlurmEncoder",
    "compact_nodelist",
    "expand_nodelist",
    "aget_job",
    "arun_sacct",
    "get_job",
    "jobs_running_between",
    "parse_sacct",
    "run_sacct",
    "sacct_executable",
]

logger = logging.getLogger(__name__)

#: The fields ``Slurm(jobid)`` asks sacct for.
DEFAULT_KEYS = ("jobidraw", "start", "end", "nodelist")

#: The fields :func:`jobs_running_between` asks for by default.
RUNNING_KEYS = ("jobidraw", "start", "end")

_READ_CHUNK = 1 << 20


def expand_nodelist(node_string: str) -> set[str]:
    """Expand a Slurm compact node list into a set of node names.

    ``"nid0[5032-5159]"`` (or ``"nid[05032-05159]"``) -> ``{"nid05032", ...,
    "nid05159"}``.  Done natively, with the ``scontrol show hostnames``
    grammar (see :mod:`atokio.parsers.hostlist`); ``"None assigned"`` gives an
    empty set.  Raises ``ValueError`` for a malformed list.
    """
    return set(expand_hostlist(node_string))


def compact_nodelist(node_string: str | Iterable[str]) -> str:
    """Convert node names into Slurm's compact node-list notation.

    Takes a comma-separated string (``"nid05032,nid05033,..."``) or any
    iterable of names, and returns e.g. ``"nid[05032-05159]"``: the inverse of
    :func:`expand_nodelist`, done natively (the ``scontrol show hostlist``
    spelling).  No names give ``""``.
    """
    return compact_hostlist(node_string)


#: How each recast key turns from sacct text into Python and back:
#: ``value[0]`` casts the sacct text to Python, ``value[1]`` casts it back to text.
_RECAST_KEY_MAP: dict[str, tuple[Callable[[Any], Any], Callable[[Any], str]]] = {
    "start": (parse_sacct_time, format_sacct_time),
    "end": (parse_sacct_time, format_sacct_time),
    "nodelist": (expand_nodelist, compact_nodelist),
}


class SlurmEncoder(JSONEncoder):
    """Encode sets as (sorted) lists and datetimes as ISO 8601 (``YYYY-MM-DDTHH:MM:SS``).

    Takes the documented constructor signature of
    :class:`atokio.common.JSONEncoder` (``encoding`` included, positionally
    too; it is ignored, JSON text being Unicode in Python 3).
    """

    def default(self, o: Any) -> Any:
        """Sets/frozensets -> sorted lists, datetimes -> ``%Y-%m-%dT%H:%M:%S``."""
        if isinstance(o, set | frozenset):
            try:
                return sorted(o)
            except TypeError:
                return list(o)
        if isinstance(o, datetime.datetime):
            return o.strftime(TIME_FORMAT)
        if isinstance(o, datetime.date):
            return o.isoformat()
        return super().default(o)


#: The sacct command, as pytokio names it.  Assigning another path (or a
#: stand-in script) takes effect on the next run, ahead of ``$ATOKIO_SACCT``
#: and the ``sacct`` config key, which are consulted only while this keeps its
#: default value.
SACCT = "sacct"


def sacct_executable() -> str:
    """The ``sacct`` to run, looked up at each call.

    :data:`SACCT` when a caller has assigned it, else ``$ATOKIO_SACCT``, else
    the config key ``sacct``, else ``"sacct"``.
    """
    if SACCT != "sacct":
        return SACCT
    return os.environ.get("ATOKIO_SACCT") or str(config.CONFIG.get("sacct") or "") or SACCT


async def arun_sacct(
    args: Sequence[str],
    *,
    recast: bool = True,
    timeout: float | None = None,
    silent_errors: bool = False,
) -> list[SacctRecord]:
    """Run ``sacct <args>`` and return its parsed lines (async; any anyio backend).

    The output must be ``--parsable``/``--parsable2`` text.  A missing program
    raises ``FileNotFoundError("sacct: command not found")``; ``timeout``
    (seconds) raises ``TimeoutError`` after killing sacct; malformed output
    raises :class:`~atokio.parsers.base.ParseError`.  A non-zero exit status is
    logged as a warning (debug with ``silent_errors``) and what was printed is
    kept.
    """
    argv = [sacct_executable(), *args]
    parser = SacctParser(source=" ".join(argv), recast=recast)
    result = await run_command(argv, parser, timeout=timeout)
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-2:]
        (logger.debug if silent_errors else logger.warning)(
            "%s exited with status %s%s",
            " ".join(argv),
            result.returncode,
            (": " + " / ".join(tail)) if tail else "",
        )
    elif result.stderr.strip():
        logger.debug("%s: %s", " ".join(argv), result.stderr.strip())
    if result.error is not None:
        raise result.error
    return result.records


def _with_jobidraw(keys: Iterable[str]) -> list[str]:
    """``keys`` with ``jobidraw`` first (the first column keys the records)."""
    rest = [key for key in keys if key.strip().lower() != "jobidraw"]
    return ["jobidraw", *rest]


class Slurm(SubprocessOutputDict):
    """A job's Slurm accounting records, as a dict keyed by task id.

    Keyed by task id (``jobid``, ``jobid.<step>``, ``jobid.batch``,
    ``jobid.extern``); see the module docstring for the value layout and the
    sources.  Arguments: ``jobid`` (run sacct for it unless a cache or string
    is given), and those of :class:`~atokio.connectors.common.SubprocessOutputDict`
    (``cache_file``, ``from_string``, ``silent_errors``); beyond the
    reference, ``timeout`` bounds each sacct run (seconds).

    Attribute ``jobid``: the job id this object describes (taken from the
    data when not given and the data hold exactly one job).
    """

    def __init__(
        self,
        jobid: str | int | None = None,
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.jobid: str | None = None if jobid is None else str(jobid)
        self.timeout = timeout
        self.subprocess_cmd = [sacct_executable()]
        self.load()
        if self.jobid is None:
            ids = self.get_job_ids()
            if len(ids) == 1:
                self.jobid = ids[0]

    # -- text form ----------------------------------------------------------------
    def _columns(self) -> list[str]:
        first = next(iter(self.values()))
        return _with_jobidraw(first.keys() if isinstance(first, dict) else ())

    @staticmethod
    def _cell(name: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        recast = _RECAST_KEY_MAP.get(name)
        if recast is not None and (value is not None or name in ("start", "end")):
            text = recast[1](value)
            if name == "nodelist" and not text:
                return NO_NODES
            return text
        return "" if value is None else str(value)

    def __repr__(self) -> str:
        """Serialize self in the same format as ``sacct --parsable2``.

        A header line (``jobidraw|start|end|nodelist``: the first record's
        fields, ``jobidraw`` first), then one line per job or step; times as
        ``YYYY-MM-DDTHH:MM:SS``, node lists compacted.  No newline at the end.
        Loading this text gives back the same object (the round trip).
        """
        if not self:
            return ""
        columns = self._columns()
        lines = ["|".join(columns)]
        cell = self._cell
        for key, record in self.items():
            values = [cell("jobidraw", record.get("jobidraw", key))]
            values.extend(cell(name, record.get(name)) for name in columns[1:])
            lines.append("|".join(values))
        return "\n".join(lines)

    # -- loading ------------------------------------------------------------------
    def load(self, cache_file: str | None = None) -> None:
        """Initialize values either from the cache file or string, or by running sacct."""
        path = cache_file or self.cache_file
        if path:
            self.load_cache(path)
        elif self.from_string is not None:
            self.load_str(self.from_string)
        elif self.jobid is not None:
            self.load_keys(*DEFAULT_KEYS)

    def _make_parser(self, source: str = "<string>") -> SacctParser:
        return SacctParser(source=source)

    def _apply_records(self, records: list[Any], source: str = "<sacct>") -> None:
        build_sacct_dict(records, into=self, source=source)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Load a JSON cache or saved sacct text (plain or gzip); JSON is tried first."""
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        source = os.fspath(path)
        with open_binary(path) as handle, gc_paused():
            head = handle.read(_READ_CHUNK)
            if head.lstrip()[:1] == b"{":
                self._load_json_text((head + handle.read()).decode("utf-8", "replace"), source)
                return
            else:
                parser = self._make_parser(source)
                records = parser.feed(head)
                while chunk := handle.read(_READ_CHUNK):
                    records.extend(parser.feed(chunk))
                records.extend(parser.close())
        self._apply_records(records, source)

    def _parse_bytes(self, data: bytes, source: str) -> list[SacctRecord]:
        parser = self._make_parser(source)
        view = memoryview(data)
        records: list[SacctRecord] = []
        for start in range(0, len(data), _READ_CHUNK):
            records.extend(parser.feed(bytes(view[start : start + _READ_CHUNK])))
        records.extend(parser.close())
        return records

    def load_str(self, input_str: str | bytes) -> None:
        """Load from either a JSON cache or the output of sacct (a string)."""
        text = input_str.decode("utf-8") if isinstance(input_str, bytes) else input_str
        if text.lstrip()[:1] == "{":
            self._load_json_text(text, "<string>")
            return
        with gc_paused():
            self._apply_records(self._parse_bytes(text.encode("utf-8"), "<string>"), "<string>")

    def _load_json_text(self, text: str, source: str) -> None:
        """Load a JSON cache; text that starts like JSON but is not is a ParseError.

        (sacct text never starts with ``{``, so there is nothing to fall back to.)
        """
        try:
            self.from_json(text)
        except json.JSONDecodeError as error:
            raise ParseError(
                f"not a valid JSON cache: {error.msg} (column {error.colno})",
                source=source,
                line_number=error.lineno,
            ) from None

    def from_json(self, json_string: str) -> None:
        """Initialize self from a JSON-encoded string (then recast its string fields)."""
        data = json.loads(json_string)
        if not isinstance(data, dict):
            raise ValueError("a Slurm JSON cache must be a JSON object")
        self.update(data)
        self._recast_keys()

    def load_keys(self, *keys: str) -> None:
        """Run sacct for these fields of the job and merge them into self.

        Always runs ``sacct --jobs <jobid> --format=<keys> --parsable2`` (with
        ``jobidraw`` put first), even when the object came from a cache, so it
        can overwrite cached fields.  ``keys`` are valid ``sacct --format``
        names.
        """
        if self.jobid is None:
            raise ValueError("Slurm.load_keys needs a jobid")
        fields = _with_jobidraw(keys or DEFAULT_KEYS)
        args = ["--jobs", self.jobid, "--format=" + ",".join(fields), "--parsable2"]
        records = run_sync(arun_sacct, args, timeout=self.timeout, silent_errors=self.silent_errors)
        self._apply_records(records, f"sacct --jobs {self.jobid}")

    def _recast_keys(self, *target_keys: str) -> None:
        """Turn the string values of the recast keys into Python objects.

        Converts the string values of the keys of ``_RECAST_KEY_MAP``
        (``start``, ``end``, ``nodelist``) — only ``target_keys`` when given.
        Values that are not strings are left alone, so this can run twice and
        a JSON-loaded node list stays a list.
        """
        names = [name for name in (target_keys or _RECAST_KEY_MAP) if name in _RECAST_KEY_MAP]
        for task, record in self.items():
            if not isinstance(record, dict):
                continue
            for name in names:
                value = record.get(name)
                if isinstance(value, str):
                    try:
                        record[name] = _RECAST_KEY_MAP[name][0](value)
                    except ValueError as error:
                        raise ValueError(f"{task}: bad {name} value {value!r}: {error}") from None

    # -- saving -------------------------------------------------------------------
    def save_cache(self, output_file: str | None = None, **kwargs: Any) -> None:
        """Write self as a JSON cache: compact to ``output_file``, or indented and sorted to stdout."""
        if output_file is None:
            sys.stdout.write(self.to_json(indent=4, sort_keys=True, **kwargs) + "\n")
            return
        with atomic_output(output_file) as output:
            output.write(self.to_json(**kwargs))

    def to_json(self, **kwargs: Any) -> str:
        """Return a JSON-encoded string representation of self.

        Sets become lists, datetimes ``YYYY-MM-DDTHH:MM:SS`` strings
        (:class:`SlurmEncoder`); ``kwargs`` go to :func:`json.dumps`.
        """
        kwargs.setdefault("cls", SlurmEncoder)
        return json.dumps(self, **kwargs)

    def to_dataframe(self) -> Any:
        """Convert self into a pandas DataFrame with the same schema as the sacct output.

        The text of :meth:`__repr__` read back with pandas: a default
        RangeIndex, the columns of the text (``jobidraw, start, end,
        nodelist``), ``start``/``end`` as ``datetime64`` (``Unknown`` ->
        ``NaT``), ``nodelist`` a compact string, ``jobidraw`` kept a string,
        other columns typed as pandas infers them.
        """
        import pandas as pd

        text = repr(self)
        if not text:
            return pd.DataFrame()
        frame = pd.read_csv(
            io.StringIO(text),
            sep="|",
            dtype={"jobidraw": str, "nodelist": str},
            quoting=csv.QUOTE_NONE,
        )
        for name in ("start", "end"):
            if name in frame.columns:
                frame[name] = pd.to_datetime(frame[name], format=TIME_FORMAT, errors="coerce")
        return frame

    # -- queries ------------------------------------------------------------------
    def get_job_ids(self) -> list[str]:
        """The top-level job id(s) in self: the task ids without a ``.<step>`` part."""
        return [task for task in self if "." not in task]

    def get_job_nodes(self) -> set[str]:
        """The set of all node names used, across all tasks in self."""
        nodes: set[str] = set()
        for record in self.values():
            value = record.get("nodelist") if isinstance(record, dict) else None
            if value is None:
                continue
            nodes.update(expand_nodelist(value) if isinstance(value, str) else value)
        return nodes

    def get_job_startend(self) -> tuple[Any, Any]:
        """``(earliest start, latest end)`` over the job and all its tasks.

        In whatever type the ``start``/``end`` values hold (datetimes once
        recast).  Unknown times are skipped; ``None`` stands for "no time at
        all" (e.g. an empty object, or a job that has not ended).
        """
        starts = [r["start"] for r in self.values() if r.get("start") is not None]
        ends = [r["end"] for r in self.values() if r.get("end") is not None]
        return (min(starts) if starts else None, max(ends) if ends else None)


async def aget_job(
    jobid: str | int, keys: Sequence[str] = DEFAULT_KEYS, timeout: float | None = None
) -> Slurm:
    """A job's :class:`Slurm` record, fetched without blocking the event loop (async API)."""
    slurm = Slurm()
    slurm.jobid = str(jobid)
    fields = _with_jobidraw(keys)
    args = ["--jobs", str(jobid), "--format=" + ",".join(fields), "--parsable2"]
    slurm._apply_records(await arun_sacct(args, timeout=timeout), f"sacct --jobs {jobid}")
    return slurm


#: The names :func:`arun_sacct` and :func:`aget_job` had before the naming rule
#: of :mod:`atokio.pipelines` (still awaitable).
run_sacct = arun_sacct
get_job = aget_job


def jobs_running_between(
    start: datetime.datetime,
    end: datetime.datetime,
    keys: Sequence[str] | None = None,
    state: str | None = "R",
    timeout: float | None = None,
) -> Slurm:
    """Slurm jobs that ran at some time between ``start`` and ``end``.

    Runs ``sacct --parsable --starttime <start> --endtime <end> --state <state>
    --allusers --format <keys>``: jobs that ended at or after ``start`` and
    started at or before ``end``.  ``keys`` are the sacct fields to return
    (default ``jobidraw, start, end``; ``jobidraw`` is always first);
    ``state`` is any valid sacct state (``None`` = all states).  Returns a
    :class:`Slurm` object.
    """
    fields = _with_jobidraw(keys or RUNNING_KEYS)
    args = [
        "--parsable",
        "--starttime",
        start.strftime(TIME_FORMAT),
        "--endtime",
        end.strftime(TIME_FORMAT),
    ]
    if state:
        args += ["--state", state]
    args += ["--allusers", "--format", ",".join(fields)]
    slurm = Slurm()
    slurm._apply_records(run_sync(arun_sacct, args, timeout=timeout), "sacct")
    return slurm


def parse_sacct(sacct_str: str | bytes) -> dict[str, dict[str, str]]:
    """Convert the output of ``sacct -p`` (or ``-P``) into a dictionary of raw strings.

    Keyed by the first column (the Slurm job/task id); each value maps the
    lower-cased field names to the text sacct printed.  Raises
    :class:`~atokio.parsers.base.ParseError` for malformed text.
    """
    data = sacct_str.encode("utf-8") if isinstance(sacct_str, str) else sacct_str
    parser = SacctParser(source="<sacct>", recast=False)
    records = parser.feed(data)
    records.extend(parser.close())
    return build_sacct_dict(records)
