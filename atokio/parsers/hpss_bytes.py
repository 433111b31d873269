"""The HPSS logs read from the bytes of a whole block of lines, without a string per field.

:func:`ftp_block` and :func:`hsi_block` give the :class:`~atokio.parsers.hpss_columns.Columns`
of a block of ASCII lines (:func:`text_array`), using
:mod:`atokio.parsers.bytefields`: the fields of all lines are located at once and
each field that a record uses is read in one numpy pass.  They decline
(``None``) a block holding anything the line-by-line path of
:mod:`atokio.parsers.hpss` must see (a line it reports, skips by a rule not
coded here or may recover, a value in another form than the plain ones read
here), so that the records never depend on which path read a line.  Dates out
of range raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from atokio.parsers import bytefields
from atokio.parsers.bytefields import text_array
from atokio.parsers.hpss_columns import Columns
from atokio.parsers.timecolumns import ctime_naive_codes, naive_seconds

__all__ = ["RESOLUTIONS", "RESOLUTION_ARRAY", "Block", "ftp_block", "hsi_block", "text_array"]

#: ``10.0 ** -k`` for k decimals (the same values for the scalar and the vectorised form).
RESOLUTIONS = tuple(10.0**-k for k in range(330))
RESOLUTION_ARRAY = np.array(RESOLUTIONS)
_RESOLUTION = RESOLUTIONS
_RESOLUTION_ARRAY = RESOLUTION_ARRAY


@dataclass
class Block:
    """What a block gave: ``[(line indexes, columns), ...]``, lines skipped, lines read."""

    parts: list[tuple[list[int], Columns]]
    skipped: int
    lines: int


# -- FTP log ----------------------------------------------------------------------

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: The month names as three bytes in an int64 (big-endian), sorted, and their numbers.
_MONTH_CODES = np.array(
    sorted(int.from_bytes(name.encode(), "big") for name in _MONTH_NAMES), dtype=np.int64
)
_MONTH_NUMBERS = np.array(
    [_MONTH_NAMES.index(code.to_bytes(3, "big").decode()) + 1 for code in _MONTH_CODES.tolist()]
)


def _ctime_fields(
    text: np.ndarray, field: Callable[[int], tuple[np.ndarray, np.ndarray]]
) -> np.ndarray | None:
    """Naive seconds of the ``ctime()`` date in fields 1-4 (``Aug``, ``9``, ``00:05:01``,
    ``2019``) of each row, as :meth:`LocalClock.naive_epochs` gives them; ``None`` for
    another form, ``ValueError`` for a date out of range."""
    month_start, month_end = field(1)
    day = bytefields.integers(text, *field(2))
    year = bytefields.integers(text, *field(4))
    hms_start, hms_end = field(3)
    if (
        day is None
        or year is None
        or ((month_end - month_start) != 3).any()
        or ((hms_end - hms_start) != 8).any()
        or (day < 0).any()
        or (year < 0).any()
    ):
        return None
    month_code = text[month_start[:, None] + np.arange(3)].astype(np.int64) @ np.array(
        [65536, 256, 1]
    )
    slot = np.minimum(np.searchsorted(_MONTH_CODES, month_code), 11)
    hms = text[hms_start[:, None] + np.arange(8)].astype(np.int64) - 48
    digits = hms[:, [0, 1, 3, 4, 6, 7]]
    if (
        (_MONTH_CODES[slot] != month_code).any()
        or (digits < 0).any()
        or (digits > 9).any()
        or (hms[:, 2] != 10).any()
        or (hms[:, 5] != 10).any()
    ):
        return None
    return naive_seconds(
        year,
        _MONTH_NUMBERS[slot],
        day,
        digits[:, 0] * 10 + digits[:, 1],
        digits[:, 2] * 10 + digits[:, 3],
        digits[:, 4] * 10 + digits[:, 5],
    )


def ftp_block(text: np.ndarray) -> Block | None:
    """A block of ASCII lines (:func:`bytefields.text_array`) without a string per field.

    The whitespace-separated tokens of all lines are found at once and each
    field used is read from the bytes in one numpy pass
    (:mod:`atokio.parsers.bytefields`).  Declines (``None``, nothing changed)
    for a block that the line-by-line path must see: a line it reports or
    may recover (a path holding spaces), or a value in another form than
    the plain ones read here.
    """
    found = bytefields.tokens(text)
    if found is None:
        return None
    starts, ends, first, counts = found
    candidates = np.flatnonzero(counts >= 14)
    head = first[candidates]
    shaped = bytefields.matches(
        text, starts[head + 13], ends[head + 13], b"ftp"
    ) & bytefields.ends_with(text, starts[head + 11], ends[head + 11], b"_Cmd")
    tokens = counts[candidates]
    if (shaped & (tokens == 14)).any() or (~shaped & (tokens >= 16)).any():
        return None
    rows = candidates[shaped]
    f = first[rows]

    def field(k: int) -> tuple[np.ndarray, np.ndarray]:
        return starts[f + k], ends[f + k]

    naive = _ctime_fields(text, field)
    duration = bytefields.decimals(text, *field(5))
    nbytes = bytefields.integers(text, *field(7))
    if naive is None or duration is None or nbytes is None or (nbytes < 0).any():
        return None
    resolution = _RESOLUTION_ARRAY[np.minimum(duration[1], len(_RESOLUTION) - 1)]
    rate = nbytes.astype(np.float64) / np.maximum(duration[0], resolution)
    columns = Columns(
        "ftp",
        naive,
        {"duration": duration[0], "resolution": resolution, "rate": rate},
        {"bytes": nbytes},
        {
            "host": bytefields.strings(text, *field(6)),
            "path": bytefields.strings(text, *field(8)),
            "user": bytefields.strings(text, *field(14)),
            "command": bytefields.strings(text, *field(11)),
        },
    )
    skipped = len(counts) - len(rows) - int(np.count_nonzero(counts == 0))
    return Block([(rows.tolist(), columns)], skipped, len(counts))


# -- HSI / HTAR log -------------------------------------------------------------------


def hsi_block(text: np.ndarray) -> Block | None:
    """A block of ASCII lines (:func:`bytefields.text_array`) without a string per field.

    The TAB-separated fields of all lines are located at once, the head
    (``date host app uid pid``, single spaces) by the last four spaces of
    the first field, and each field used is read from the bytes in one
    numpy pass.  Declines (``None``, nothing changed) for a block holding
    a line that :meth:`parse_batch` would decline, or a value in another
    form than the plain ones read here.
    """
    # Every TAB, line break and space in one pass over the bytes; any other
    # control character declines the block.
    blanks = np.flatnonzero(text <= 32)
    kind = text[blanks]
    if ((kind != 9) & (kind != 10) & (kind != 32)).any():
        return None
    is_space = kind == 32
    seps = blanks[~is_space]
    breaks = blanks[kind == 10]
    spaces = blanks[is_space]
    last = np.searchsorted(seps, breaks)  # each line's line break, as a separator
    first = np.empty_like(last)  # each line's first separator
    first[0] = 0
    first[1:] = last[:-1] + 1
    fields = last - first + 1
    begin = np.empty_like(breaks)
    begin[0] = 0
    begin[1:] = breaks[:-1] + 1
    if fields.min() < 2:
        return None
    head_end = seps[first]
    at = np.searchsorted(spaces, head_end)
    if at.min() < 4:
        return None
    cut = [spaces[at - k] for k in (4, 3, 2, 1)]  # before host, app, uid, pid
    if (
        (cut[0] <= begin).any()
        or ((cut[0] - begin != 23) & (cut[0] - begin != 24)).any()
        or (np.diff(np.stack([*cut, head_end]), axis=0) < 2).any()
        or (text[cut[0] - 1] == 32).any()
    ):
        return None
    window = begin[:, None] + np.arange(25)
    naive = ctime_naive_codes(text[np.minimum(window, len(text) - 1)])
    if naive is None:
        return None
    app = (cut[1] + 1, cut[2])
    hsi = bytefields.matches(text, *app, b"hsi")
    htar = bytefields.matches(text, *app, b"htar")

    def field(k: np.ndarray | int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = first[rows] + k
        return seps[index - 1] + 1, seps[index]

    head = {
        "pid": (cut[3] + 1, head_end),
        "uid": (cut[2] + 1, cut[3]),
        "host": (cut[0] + 1, cut[1]),
    }
    parts: list[tuple[list[int], Columns]] = []
    rows = np.flatnonzero(hsi)
    if len(rows):
        op = field(1, rows)
        fu = bytefields.matches(text, *op, b"FU")
        fr = bytefields.matches(text, *op, b"FR")
        need = np.where(fu, 8, np.where(fr, 9, 10))
        if (fields[rows] < need).any():
            return None
        columns = _hsi_columns(text, rows, field, head, naive, fu, fr)
        if columns is None:
            return None
        parts.append((rows.tolist(), columns))
    rows = np.flatnonzero(htar)
    if len(rows):
        width = fields[rows]
        if ((width != 10) & (width != 11)).any():
            return None
        columns = _htar_columns(text, rows, field, head, naive, width == 11)
        if columns is None:
            return None
        parts.append((rows.tolist(), columns))
    return Block(parts, len(fields) - int(np.count_nonzero(hsi | htar)), len(fields))


def _hsi_columns(
    text: np.ndarray,
    rows: np.ndarray,
    field: Callable[..., tuple[np.ndarray, np.ndarray]],
    head: dict[str, tuple[np.ndarray, np.ndarray]],
    naive: np.ndarray,
    fu: np.ndarray,
    fr: np.ndarray,
) -> Columns | None:
    """The ``hsi`` columns of ``rows`` of a block (see :meth:`_parse_text`)."""
    n = len(rows)
    ints: dict[str, np.ndarray | None] = {}
    for name, where in (("rc", 2), ("bytes", 4), ("cos", 6)):
        ints[name] = bytefields.integers(text, *field(where, rows))
    for name in ("pid", "uid"):
        ints[name] = bytefields.integers(text, head[name][0][rows], head[name][1][rows])
    full = np.flatnonzero(~fu & ~fr)
    ints["account"] = bytefields.integers(text, *field(9, rows[full]))
    account = np.zeros(n, dtype=np.int64)
    latency = bytefields.decimals(text, *field(3, rows))
    rate = bytefields.decimals(text, *field(5, rows))
    if latency is None or rate is None or any(value is None for value in ints.values()):
        return None
    found = cast(dict[str, np.ndarray], ints)
    account[full] = found["account"]
    dest_start, dest_end = field(np.where(fu, 7, 8), rows)
    dest_start[fu] = dest_end[fu]  # FU rows have no dest_path: an empty field
    top = len(_RESOLUTION) - 1
    return Columns(
        "hsi",
        naive[rows],
        {
            "latency": latency[0],
            "latency_res": _RESOLUTION_ARRAY[np.minimum(latency[1], top)],
            "rate": rate[0] * 1000.0,
            "rate_res": _RESOLUTION_ARRAY[np.minimum(rate[1], top)] * 1000.0,
        },
        {
            "pid": found["pid"],
            "rc": found["rc"],
            "bytes": found["bytes"],
            "cos": found["cos"],
            "account": account,
            "uid": found["uid"],
            "no_account": (fu | fr).astype(np.int64),
            "no_dest": fu.astype(np.int64),
        },
        {
            "op": bytefields.strings(text, *field(1, rows)),
            "source": bytefields.strings(text, *field(7, rows)),
            "dest": bytefields.strings(text, dest_start, dest_end),
            "host": bytefields.strings(text, head["host"][0][rows], head["host"][1][rows]),
        },
    )


def _htar_columns(
    text: np.ndarray,
    rows: np.ndarray,
    field: Callable[..., tuple[np.ndarray, np.ndarray]],
    head: dict[str, tuple[np.ndarray, np.ndarray]],
    naive: np.ndarray,
    wide: np.ndarray,
) -> Columns | None:
    """The ``htar`` columns of ``rows`` of a block (see :meth:`_parse_text`)."""
    extra = wide.astype(np.int64)
    ints: dict[str, np.ndarray | None] = {}
    for name, where in (("rc", 3), ("bytes", 4), ("cos", 8 + extra), ("account", 9 + extra)):
        ints[name] = bytefields.integers(text, *field(where, rows))
    for name in ("pid", "uid"):
        ints[name] = bytefields.integers(text, head[name][0][rows], head[name][1][rows])
    duration = bytefields.decimals(text, *field(5, rows))
    rate = bytefields.decimals(text, *field(6, rows))
    if duration is None or rate is None or any(value is None for value in ints.values()):
        return None
    found = cast(dict[str, np.ndarray], ints)
    ftp_start, ftp_end = field(8, rows)
    ftp_end[~wide] = ftp_start[~wide]
    top = len(_RESOLUTION) - 1
    return Columns(
        "htar",
        naive[rows],
        {
            "duration": duration[0],
            "duration_res": _RESOLUTION_ARRAY[np.minimum(duration[1], top)],
            "rate": rate[0],
            "rate_res": _RESOLUTION_ARRAY[np.minimum(rate[1], top)],
        },
        {
            **found,
            "wide": extra,
        },
        {
            "htar_op": bytefields.strings(text, *field(1, rows)),
            "op": bytefields.strings(text, *field(2, rows)),
            "path": bytefields.strings(text, *field(7, rows)),
            "ftp_host": bytefields.strings(text, ftp_start, ftp_end),
            "host": bytefields.strings(text, head["host"][0][rows], head["host"][1][rows]),
        },
    )
