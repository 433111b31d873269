"""HPSS log records as columns: the stage a worker process computes, and the records built from it.

The two log parsers of :mod:`atokio.parsers.hpss` convert a batch of lines
column by column.  What they convert is kept in a :class:`Columns` (numpy
arrays for the floats, lists for the integers and strings, and the end times
as naive seconds, before the time zone is applied); the documented record
dicts are built from it by :func:`records_of`, in one list comprehension per
bucket.  Splitting there lets a worker process do all the converting and the
process that keeps the records do only the dict building: a :class:`Columns`
pickles compactly (integers as one int64 array when they fit, a string column
of few distinct values as codes into a small table, other string columns as
one joined string), and the records are built where they are used.  The time
zone is applied by the building process (:meth:`LocalClock.localize`), so the
``TZ`` of the process that reads the log is the one that counts, as for the
one-process path.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from typing import Any

import numpy as np

from atokio.parsers.timecolumns import LocalClock

__all__ = ["FTP_OPNAMES", "Columns", "ftp_protocol", "pairs_of", "records_of"]

#: Command -> ``opname`` of the FTP log (other ``*_Cmd`` commands get none).
FTP_OPNAMES = {
    "STOR_Cmd": "LH",
    "PSTO_Cmd": "LH",
    "LFSTO_Cmd": "LH",
    "RETR_Cmd": "HL",
    "PRTR_Cmd": "HL",
    "LFRTR_Cmd": "HL",
}


def ftp_protocol(command: str) -> str:
    """``"pftp"`` for parallel-FTP commands (``P...``, ``LF...``), else ``"ftp"``."""
    return "pftp" if command.startswith(("P", "LF")) else "ftp"


class Columns:
    """The converted fields of records of one layout family, one column per field, in line order.

    ``layout`` is ``"ftp"``, ``"hsi"`` or ``"htar"`` (which builder of
    :func:`records_of` applies); ``naive`` holds the end times as naive
    seconds (int64, :meth:`LocalClock.naive_epochs`); ``floats`` maps names to
    float64 arrays, ``ints`` to lists of ints (or int64 arrays) and ``strs`` to
    lists of str (or one string of the values joined by line breaks, for
    columns of mostly distinct values).
    """

    __slots__ = ("floats", "ints", "layout", "naive", "strs")

    def __init__(
        self,
        layout: str,
        naive: np.ndarray,
        floats: dict[str, np.ndarray],
        ints: dict[str, Any],
        strs: dict[str, Any],
    ) -> None:
        self.layout = layout
        self.naive = naive
        self.floats = floats
        self.ints = ints
        self.strs = strs

    def __len__(self) -> int:
        return len(self.naive)

    def __repr__(self) -> str:
        return f"<Columns {self.layout}: {len(self)} rows>"

    def __getstate__(self) -> tuple[Any, ...]:
        ints = {name: _pack_ints(values) for name, values in self.ints.items()}
        strs = {name: _pack_strs(values) for name, values in self.strs.items()}
        return (self.layout, self.naive, self.floats, ints, strs)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.layout, self.naive, self.floats, ints, strs = state
        self.ints = {name: _unpack_ints(values) for name, values in ints.items()}
        self.strs = {name: _unpack_strs(values) for name, values in strs.items()}

    @classmethod
    def merged(cls, parts: Sequence[tuple[Sequence[int], Columns]]) -> tuple[list[int], Columns]:
        """Parts of one layout ``[(line indexes, columns), ...]`` merged in line order."""
        if len(parts) == 1:
            index, only = parts[0]
            return list(index), only
        index = [i for lines, _ in parts for i in lines]
        order = np.argsort(np.array(index, dtype=np.int64), kind="stable")
        positions = order.tolist()
        first = parts[0][1]

        def concat(values: list[Any]) -> list[Any]:
            whole = [item for part in map(_as_list, values) for item in part]
            return list(map(whole.__getitem__, positions))

        merged = cls(
            first.layout,
            np.concatenate([part.naive for _, part in parts])[order],
            {
                name: np.concatenate([part.floats[name] for _, part in parts])[order]
                for name in first.floats
            },
            {name: concat([part.ints[name] for _, part in parts]) for name in first.ints},
            {name: concat([part.strs[name] for _, part in parts]) for name in first.strs},
        )
        return sorted(index), merged


def _pack_ints(values: Any) -> Any:
    """A list of ints as an int64 array when every value fits (it pickles as raw bytes)."""
    if isinstance(values, np.ndarray):
        return values
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return values


def _unpack_ints(values: Any) -> list[int]:
    return values.tolist() if isinstance(values, np.ndarray) else values


def _pack_strs(values: Any) -> tuple[Any, ...]:
    """A string column as ``("codes", table, codes)`` when few values are distinct, else
    ``("joined", text)`` (values joined by line breaks, which no field of a line holds)."""
    if isinstance(values, str):
        return ("joined", values)
    n = len(values)
    distinct = dict.fromkeys(values)
    if len(distinct) * 4 <= n:
        table = list(distinct)
        position = {value: number for number, value in enumerate(table)}
        codes = np.fromiter(map(position.__getitem__, values), dtype=np.int32, count=n)
        return ("codes", table, codes)
    joined = "\n".join(values)
    if n and joined.count("\n") == n - 1:
        return ("joined", joined)
    return ("list", values)


def _unpack_strs(packed: tuple[Any, ...]) -> list[str]:
    if packed[0] == "codes":
        table = np.empty(len(packed[1]), dtype=object)
        table[:] = packed[1]
        return table[packed[2]].tolist()
    if packed[0] == "joined":
        return _split(packed[1])
    return packed[1]


def _split(joined: str) -> list[str]:
    return joined.split("\n")


def _as_list(values: Any) -> list[Any]:
    """A column of any of the forms a :class:`Columns` holds, as a list."""
    if isinstance(values, np.ndarray):
        return values.tolist()
    if isinstance(values, str):
        return _split(values)
    return values


def _as_lists(columns: Columns) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """The integer and string columns as lists."""
    ints = {name: _as_list(values) for name, values in columns.ints.items()}
    strs = {name: _as_list(values) for name, values in columns.strs.items()}
    return ints, strs


Built = tuple["str | list[str]", list[dict[str, Any]]]


def records_of(columns: Columns, clock: LocalClock) -> Built:
    """The record dicts of ``columns`` and their bucket: one name for all, or one per record.

    End times are made local with ``clock`` (the ``TZ`` of this process).
    """
    if not len(columns):
        return columns.layout, []
    end = clock.localize(columns.naive).astype(np.float64)
    ints, strs = _as_lists(columns)
    if columns.layout == "ftp":
        return _ftp_records(columns.floats, ints, strs, end)
    if columns.layout == "hsi":
        return "hsi", _hsi_records(columns.floats, ints, strs, end.tolist())
    return "htar", _htar_records(columns.floats, ints, strs, end.tolist())


def pairs_of(columns: Columns, clock: LocalClock) -> list[tuple[str, dict[str, Any]]]:
    """``(bucket, record)`` pairs of ``columns``, in line order (see :func:`records_of`)."""
    bucket, records = records_of(columns, clock)
    if isinstance(bucket, str):
        return list(zip(repeat(bucket), records))
    return list(zip(bucket, records, strict=True))


def _ftp_records(
    f: dict[str, np.ndarray], i: dict[str, list[int]], s: dict[str, list[str]], end: np.ndarray
) -> Built:
    duration = f["duration"]
    start = (end - duration).tolist()
    commands = s["command"]
    opnames = list(map(FTP_OPNAMES.get, commands))
    records = [
        {
            "end_timestamp": e,
            "opname": o,
            "duration_sec": d,
            "duration_sec_resolution": r,
            "remote_host": h,
            "bytes": b,
            "hpss_path": p,
            "hpss_uid": u,
            "start_timestamp": s,
            "bytes_sec": bs,
        }
        for e, o, d, r, h, b, p, u, s, bs in zip(
            end.tolist(), opnames, duration.tolist(), f["resolution"].tolist(),
            s["host"], i["bytes"], s["path"], s["user"], start, f["rate"].tolist(), strict=True,
        )
    ]  # fmt: skip
    if None in opnames:
        for record in compress(records, map(_is_none, opnames)):
            del record["opname"]
    protocol = {command: ftp_protocol(command) for command in set(commands)}
    if len(protocol) == 1:
        return next(iter(protocol.values())), records
    return list(map(protocol.__getitem__, commands)), records


def _is_none(value: object) -> bool:
    return value is None


def _hsi_records(
    f: dict[str, np.ndarray], i: dict[str, list[int]], s: dict[str, list[str]], end: list[float]
) -> list[dict[str, Any]]:
    records = [
        {
            "client_pid": p,
            "opname": o,
            "return_code": rc,
            "access_latency_sec": la,
            "access_latency_sec_resolution": lr,
            "bytes": b,
            "bytes_sec": r,
            "bytes_sec_resolution": rr,
            "cos_id": cs,
            "source_path": sp,
            "dest_path": dp,
            "account_id": ac,
            "hpss_uid": u,
            "remote_host": h,
            "end_timestamp": e,
        }
        for p, o, rc, la, lr, b, r, rr, cs, sp, dp, ac, u, h, e in zip(
            i["pid"], s["op"], i["rc"], f["latency"].tolist(), f["latency_res"].tolist(),
            i["bytes"], f["rate"].tolist(), f["rate_res"].tolist(), i["cos"], s["source"],
            s["dest"], i["account"], i["uid"], s["host"], end, strict=True,
        )
    ]  # fmt: skip
    # FR records have no account_id, FU records neither account_id nor dest_path
    no_account, no_dest = i["no_account"], i["no_dest"]
    if any(no_account):
        for record in compress(records, no_account):
            del record["account_id"]
        for record in compress(records, no_dest):
            del record["dest_path"]
    return records


def _htar_records(
    f: dict[str, np.ndarray], i: dict[str, list[int]], s: dict[str, list[str]], end: list[float]
) -> list[dict[str, Any]]:
    records = [
        {
            "client_pid": p,
            "htar_op": op,
            "opname": o,
            "return_code": rc,
            "bytes": b,
            "duration_sec": d,
            "duration_sec_resolution": dr,
            "bytes_sec": r,
            "bytes_sec_resolution": rr,
            "hpss_path": path,
            "cos_id": cs,
            "account_id": acct,
            "hpss_uid": u,
            "remote_host": h,
            "end_timestamp": e,
        }
        for p, op, o, rc, b, d, dr, r, rr, path, cs, acct, u, h, e in zip(
            i["pid"], s["htar_op"], s["op"], i["rc"], i["bytes"], f["duration"].tolist(),
            f["duration_res"].tolist(), f["rate"].tolist(), f["rate_res"].tolist(), s["path"],
            i["cos"], i["account"], i["uid"], s["host"], end, strict=True,
        )
    ]  # fmt: skip
    wide = i["wide"]
    if any(wide):
        for record, ftp_host in compress(zip(records, s["ftp_host"], strict=True), wide):
            record["remote_ftp_host"] = ftp_host
    return records
