"""Rows of ``mmperfmon query`` tables: time stamps, compact columns, the documented dict.

:class:`~atokio.parsers.mmperfmon.MmperfmonParser` turns the rows of a table
into :class:`Sample` records; :class:`~atokio.parsers.mmperfmon.MmperfmonTableParser`
gives the same rows as :class:`RowChunk` records instead: the time stamp text
of every row, one list per value column and a *layout* naming the
``(host, metric key, instance)`` of every column.  Chunks are small to send
from one process to another (lists of numbers and a few strings), and
:func:`merge_chunks` makes of them exactly the dict that the samples of the
same rows give through :func:`merge_samples`: the same keys in the same
order, the same values and types.

Time stamps are converted with :func:`parse_timestamp` (local time), where
the dict is built: the text is checked where it is parsed
(:func:`check_timestamps`), so that a bad stamp is reported with its line.
"""

from __future__ import annotations

import datetime
import functools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from atokio.parsers.base import ParseError

__all__ = [
    "Layout",
    "RowChunk",
    "Sample",
    "build_rows",
    "check_timestamps",
    "merge_chunks",
    "merge_samples",
    "parse_timestamp",
    "plan_of",
]

_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2}):(\d{2}):(\d{2})$", re.ASCII)

#: A run of valid time stamps, one a line, each right-aligned (29 February is
#: left to :func:`datetime.datetime`, which knows the leap years).
_STAMP_RUN = re.compile(
    r"(?: *\d{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)-(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\n|\Z))+",
    re.ASCII,
)

#: ``(host, metric key, instance or None)`` of every value column of a chunk.
Layout = tuple[tuple[str, str, "str | None"], ...]

#: Columns grouped by host, then by metric key: ``[(host, [(key, how, instances)])]``;
#: ``how`` is a column index (no instance), an itemgetter of columns (``instances``
#: is their tuple) or ``None`` (``instances`` lists ``(index, instance)`` of a key
#: that has columns both with and without an instance).
_Plan = list[tuple[str, list[tuple[str, Any, Any]]]]


class Sample(NamedTuple):
    """One table line: its epoch time stamp and ``{host: {metric: value | {instance: value}}}``."""

    timestamp: int
    data: dict[str, dict[str, Any]]


class RowChunk(NamedTuple):
    """Rows of a table as columns (see the module docstring).

    ``first_line`` is the line number of the first row; ``stamps`` the time
    stamp text of each row as cut from its line; ``columns[k][r]`` the value of
    column ``k`` in row ``r`` (``None``: no sample); ``layout[k]`` what column
    ``k`` holds; ``complete`` tells that no value is ``None`` (``False``: not
    known).
    """

    first_line: int
    stamps: list[str]
    columns: list[list[Any]]
    layout: Layout
    complete: bool = False


# -- time stamps ------------------------------------------------------------------------


def _stamp_time(text: str) -> datetime.datetime:
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError(f"not a YYYY-MM-DD-HH:MM:SS time stamp: {text!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    return datetime.datetime(year, month, day, hour, minute, second)


def parse_timestamp(text: str) -> int:
    """Epoch seconds of a ``YYYY-MM-DD-HH:MM:SS`` stamp read as local time; ``ValueError`` if bad."""
    return int(time.mktime(_stamp_time(text).timetuple()))


def check_timestamps(texts: Sequence[str]) -> tuple[int, str] | None:
    """``None`` when every text is a valid stamp (spaces around it allowed), else
    ``(index, message)`` of the first bad one."""
    if _STAMP_RUN.fullmatch("\n".join(texts)):
        return None
    for index, text in enumerate(texts):
        try:
            _stamp_time(text.strip())
        except ValueError as error:
            return index, str(error)
    return None


# -- from columns to row dicts ------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def plan_of(layout: Layout) -> _Plan:
    """The columns of ``layout`` grouped by host, then by metric key (first appearance order)."""
    hosts: dict[str, dict[str, list[tuple[int, str | None]]]] = {}
    for index, (host, key, instance) in enumerate(layout):
        hosts.setdefault(host, {}).setdefault(key, []).append((index, instance))
    plan: _Plan = []
    for host, metrics in hosts.items():
        steps: list[tuple[str, Any, Any]] = []
        for key, columns in metrics.items():
            if len(columns) == 1 and columns[0][1] is None:
                steps.append((key, columns[0][0], None))
                continue
            if any(instance is None for _, instance in columns):
                steps.append((key, None, columns))  # cell by cell
                continue
            indices = [index for index, _ in columns]
            instances = tuple(instance for _, instance in columns)
            getter: Callable[[Sequence[Any]], Any]
            if len(indices) == 1:
                only = indices[0]

                def getter(values: Sequence[Any], only: int = only) -> tuple[Any, ...]:
                    return (values[only],)

            else:
                getter = itemgetter(*indices)
            steps.append((key, getter, instances))
        plan.append((host, steps))
    return plan


def _is_mixed(plan: _Plan) -> bool:
    return any(how is None for _, steps in plan for _, how, _ in steps)


def build_rows(
    columns: list[list[Any]], plan: _Plan, count: int
) -> list[dict[str, dict[str, Any]]]:
    """The ``{host: {metric: value | {instance: value}}}`` of each of ``count`` rows.

    Built a column at a time; row by row (:func:`_build_row`) when a value is
    missing (``None``) or a metric has cells both with and without instance.
    """
    if not columns:
        return [{} for _ in range(count)]
    if _is_mixed(plan) or any(None in column for column in columns):
        return [_build_row(row, plan) for row in zip(*columns, strict=True)]
    per_host = _metrics_by_host(columns, plan)
    if len(plan) == 1:
        host = plan[0][0]
        return [{host: metrics} for metrics in per_host[0]]
    hosts = [host for host, _ in plan]
    return [
        {host: metrics for host, metrics in zip(hosts, row, strict=True) if metrics}
        for row in zip(*per_host, strict=True)
    ]


def _metrics_by_host(columns: list[list[Any]], plan: _Plan) -> list[list[dict[str, Any]]]:
    """For each host of ``plan``, the metrics dict of every row (no value missing)."""
    per_host: list[list[dict[str, Any]]] = []
    for _host, steps in plan:
        keys: list[str] = []
        values: list[Any] = []
        for key, how, instances in steps:
            keys.append(key)
            if instances is None:
                values.append(columns[how])
            else:
                values.append(
                    list(map(dict, map(zip, repeat(instances), zip(*how(columns), strict=True))))
                )
        if len(keys) == 1:
            key = keys[0]
            per_host.append([{key: value} for value in values[0]])
        else:
            per_host.append(list(map(dict, map(zip, repeat(keys), zip(*values, strict=True)))))
    return per_host


def _build_row(values: Sequence[Any], plan: _Plan) -> dict[str, dict[str, Any]]:
    """One row's dict from its values in column order (``None`` values are left out)."""
    data: dict[str, dict[str, Any]] = {}
    for host, steps in plan:
        metrics: dict[str, Any] = {}
        for key, how, instances in steps:
            if instances is None:
                value = values[how]
                if value is not None:
                    metrics[key] = value
            elif how is None:  # mixed scalar/instance columns under one key
                for index, instance in instances:
                    value = values[index]
                    if value is None:
                        continue
                    if instance is None:
                        metrics[key] = value
                    else:
                        slot = metrics.get(key)
                        if type(slot) is not dict:
                            slot = metrics[key] = {}
                        slot[instance] = value
            else:
                picked = how(values)
                if None in picked:
                    found = {i: v for i, v in zip(instances, picked, strict=True) if v is not None}
                    if found:
                        metrics[key] = found
                else:
                    metrics[key] = dict(zip(instances, picked, strict=True))
        if metrics:
            data[host] = metrics
    return data


# -- merging ------------------------------------------------------------------------------


def merge_samples(
    samples: Iterable[tuple[int, dict[str, dict[str, Any]]]],
    into: dict[int, dict[str, dict[str, Any]]] | None = None,
) -> dict[int, dict[str, dict[str, Any]]]:
    """The documented ``{epoch: {host: {metric: value | {instance: value}}}}`` of samples.

    Samples of the same time stamp (the blocks of a wrapped table, or other
    outputs of the same hour) are merged: instance dicts are updated, other
    values replaced.  Loading the same data twice changes nothing.  The
    samples' dicts are taken over, not copied.
    """
    result: dict[int, dict[str, dict[str, Any]]] = {} if into is None else into
    for stamp, data in samples:
        known = result.get(stamp)
        if known is None:
            result[stamp] = data
            continue
        for host, metrics in data.items():
            mine = known.get(host)
            if mine is None:
                known[host] = metrics
                continue
            if mine.keys().isdisjoint(metrics):  # other metrics of the host (another output)
                mine.update(metrics)
                continue
            for key, value in metrics.items():
                if type(value) is dict:
                    current = mine.get(key)
                    if type(current) is dict:
                        current.update(value)
                        continue
                mine[key] = value
    return result


def merge_chunks(
    chunks: Iterable[RowChunk],
    into: dict[int, dict[str, dict[str, Any]]],
    stamps: dict[str, int],
    source: str,
) -> dict[int, dict[str, dict[str, Any]]]:
    """Merge the rows of ``chunks`` into ``into`` as :func:`merge_samples` merges their samples.

    ``stamps`` caches time stamp text -> epoch (local time, as
    :func:`parse_timestamp`).  A stamp that cannot be converted raises a
    :class:`ParseError` naming ``source`` and the row's line, after the rows
    before it were merged.
    """
    for chunk in chunks:
        texts = chunk.stamps
        found = list(map(stamps.get, texts))
        count = len(texts)
        if None in found:
            for index, text in enumerate(texts):
                if found[index] is not None:
                    continue
                try:
                    found[index] = stamps[text] = parse_timestamp(text.strip())
                except (ValueError, OverflowError) as error:
                    rows = build_rows(chunk.columns, plan_of(chunk.layout), count)
                    merge_samples(zip(found[:index], rows[:index], strict=True), into)  # type: ignore[arg-type]
                    raise ParseError(
                        str(error), source=source, line_number=chunk.first_line + index
                    ) from None
        plan = plan_of(chunk.layout)
        complete = chunk.complete or not any(None in column for column in chunk.columns)
        if len(plan) == 1 and complete and not _is_mixed(plan):
            _merge_host(into, found, plan[0][0], _metrics_by_host(chunk.columns, plan)[0])  # type: ignore[arg-type]
            continue
        rows = build_rows(chunk.columns, plan, count)
        merge_samples(zip(found, rows, strict=True), into)  # type: ignore[arg-type]
    return into


def _merge_host(
    into: dict[int, dict[str, dict[str, Any]]],
    stamps: list[int],
    host: str,
    rows: list[dict[str, Any]],
) -> None:
    """:func:`merge_samples` of rows of one host (the usual case, without a dict per row)."""
    get = into.get
    for stamp, metrics in zip(stamps, rows, strict=True):
        known = get(stamp)
        if known is None:
            into[stamp] = {host: metrics}
        elif host not in known:
            known[host] = metrics
        else:
            merge_samples(((stamp, {host: metrics}),), into)
