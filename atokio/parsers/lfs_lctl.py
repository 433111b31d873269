"""Streaming parser of one Lustre ``lctl dl -t`` output (docs/formats.md#lctl-dl).

Each record is a ``(file_system, target, fields)`` triple
(:data:`atokio.parsers.lfs.Target`), in input order.  Fields of a device
(``  4 UP osc snx11035-OST0014-osc-ffff885f81a64000 8dbdc7f6-... 5
10.100.101.25@o2ib2``): ``index``, ``status`` (lower-cased), ``role`` (the
device type), ``role_id`` (the device name), ``uuid``, ``ref_count``,
``target_ip`` and ``nid``.  The file system and target are the first two
``-``-separated parts of the device name.

Only devices with a target NID (``<ip>@<net>``, the seventh column) are kept,
so ``mgc``/``lov``/``lmv`` lines are skipped, as are NID-carrying lines whose
name is not ``<fs>-<target>-...``.  A line with a NID whose index or
reference count is not an integer is a :class:`~atokio.parsers.base.ParseError`.
See :mod:`atokio.parsers.lfs` for the rules shared with ``lfs df``.

Speed: a batch of lines is split at once, the numbers validated and converted
together, device names and NIDs parsed once per distinct value; anything
irregular goes through the per-line regular expression (:func:`lctl_lines_slowly`).
"""

from __future__ import annotations

import re
from itertools import compress
from typing import Any

from atokio.parsers.base import LineParser
from atokio.parsers.lfs import Columns, Target, all_digits, digit_ints, located_error

__all__ = ["LCTL_LINE", "MAP_KEYS", "LctlDlParser", "lctl_lines_slowly", "parse_lctl_dl_lines"]

#: Keys of one ``lctl dl -t`` device, in order.
MAP_KEYS = ("index", "status", "role", "role_id", "uuid", "ref_count", "target_ip", "nid")

_DEVICE_NAME = re.compile(r"([^\s-]+)-([^\s-]+)-\S+")
#: The rule of one device line (``nersc_lfsstate._REX_OST_MAP``); MGC, LOV and LMV lines
#: are left out by the parser, not by the expression.
LCTL_LINE = re.compile(r"\s*(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(([^\s@]+)@\S+)\s*")
_LCTL_HAS_NID = re.compile(r"\s*(?:\S+\s+){6}\S*@\S*\s*")


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
    if None in ips or not all_digits([*index, *refs]):
        return None
    parsed = memo.learn_names(name)
    count = len(rows)
    numbers = digit_ints([*index, *refs])
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


def lctl_lines_slowly(lines: list[str], first_line: int, source: str) -> Columns:
    """Line-by-line ``lctl dl -t`` parsing: the reference rules, with error locations.

    A number too long for Python's ``int`` conversion is a :class:`ParseError`.
    """
    file_systems: list[str] = []
    targets: list[str] = []
    fields: list[dict[str, Any]] = []
    for offset, line in enumerate(lines):
        match = LCTL_LINE.fullmatch(line)
        if match is None:
            if _LCTL_HAS_NID.fullmatch(line):
                raise located_error(
                    source, first_line + offset, "malformed lctl dl -t device line", line
                )
            continue
        index, status, role, name, uuid, refs, nid, ip = match.groups()
        device = _DEVICE_NAME.fullmatch(name)
        if device is None:
            continue
        try:
            record = {
                "index": int(index),
                "status": status.lower(),
                "role": role,
                "role_id": name,
                "uuid": uuid,
                "ref_count": int(refs),
                "target_ip": ip,
                "nid": nid,
            }
        except ValueError as error:  # more digits than int() converts
            raise located_error(
                source, first_line + offset, f"number out of range ({error})", line
            ) from None
        file_systems.append(device.group(1))
        targets.append(device.group(2))
        fields.append(record)
    return file_systems, targets, fields


def parse_lctl_dl_lines(
    lines: list[str], first_line: int = 1, source: str = "<input>", memo: _MapMemo | None = None
) -> Columns:
    """``(file_systems, targets, fields)`` columns of complete ``lctl dl -t`` lines."""
    fast = _map_fast(lines, memo if memo is not None else _MapMemo())
    if fast is not None:
        return fast
    return lctl_lines_slowly(lines, first_line, source)


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
