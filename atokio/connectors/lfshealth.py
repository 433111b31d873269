"""Lustre health from the clients' view: ``lfs df`` and ``lctl dl -t`` (``tokio.connectors.lfshealth``).

* :class:`LfsOstFullness` — ``lfs df`` as ``{file_system: {target: {"total_kib",
  "used_kib", "remaining_kib", "mount_pt", "role", "target_index"}}}``;
* :class:`LfsOstMap` — ``lctl dl -t`` as
  ``{file_system: {target: {"index", "status", "role", "role_id", "uuid",
  "ref_count", "target_ip", "nid"}}}``, with :meth:`LfsOstMap.get_failovers`.

Both are :class:`~atokio.connectors.common.SubprocessOutputDict`: with no
arguments they run the command (``lfs df`` / ``lctl dl -t``) and parse its
stdout as it streams; ``cache_file=`` parses a saved output (plain or gzip; a
JSON dump of the dict is accepted too); ``from_string=`` parses text.  The
parsing rules are those of :mod:`atokio.parsers.lfs_df` and
:mod:`atokio.parsers.lfs_lctl` (docs/formats.md#lfs-df and docs/formats.md#lctl-dl).  ``str()``/``repr()`` and :meth:`save_cache` give text in the
command's own format, which loads back to the same dict.

[decide] A non-zero exit status of the command or bad output is a warning, as
for every subprocess connector; what was parsed is kept.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from atokio.collectors.files import open_binary
from atokio.connectors.common import SubprocessOutputDict, _TextDump
from atokio.parsers.base import Parser
from atokio.parsers.lfs import Target
from atokio.parsers.lfs_df import DF_LINE, LfsDfParser
from atokio.parsers.lfs_lctl import LCTL_LINE, LctlDlParser

__all__ = [
    "LCTL",
    "LCTL_DL_T",
    "LFS",
    "LFS_DF",
    "LfsOstFullness",
    "LfsOstMap",
    "failovers",
    "format_lctl_dl",
    "format_lfs_df",
]

#: The commands the connectors run, as pytokio names them.  Each is read when
#: a connector is created, so assigning another program (or a stand-in script)
#: takes effect on the next one.  An assigned ``LCTL``/``LFS`` is used with the
#: usual arguments while ``LCTL_DL_T``/``LFS_DF`` keep their default lists.
LCTL = "lctl"
LCTL_DL_T = [LCTL, "dl", "-t"]
LFS = "lfs"
LFS_DF = [LFS, "df"]

#: The regular expressions of one ``lfs df`` target line and of one
#: ``lctl dl -t`` device line (the same objects as in
#: :mod:`atokio.connectors.nersc_lfsstate`).
_REX_LFS_DF = DF_LINE
_REX_OST_MAP = LCTL_LINE


def _argv(kind: str) -> list[str]:
    """The command line for ``"df"`` or ``"dl"``, from the module attributes now."""
    if kind == "df":
        if LFS_DF == ["lfs", "df"] and LFS != "lfs":
            return [LFS, "df"]
        return list(LFS_DF)
    if LCTL_DL_T == ["lctl", "dl", "-t"] and LCTL != "lctl":
        return [LCTL, "dl", "-t"]
    return list(LCTL_DL_T)


def _percent_used(used: int, remaining: int) -> int:
    """``lfs df``'s Use%: used / (used + available), rounded (not used / total)."""
    denominator = used + remaining
    if denominator <= 0:
        return 0
    return int(100.0 * used / denominator + 0.5)


def format_lfs_df(data: dict[str, dict[str, dict[str, Any]]]) -> str:
    """``{fs: {target: fields}}`` as ``lfs df`` target lines (single spaces, ``%3d%%``)."""
    out = []
    for fs, targets in data.items():
        for target, rec in targets.items():
            out.append(
                "%s-%s_UUID %d %d %d %3d%% %s[%s:%d]\n"
                % (
                    fs,
                    target,
                    rec["total_kib"],
                    rec["used_kib"],
                    rec["remaining_kib"],
                    _percent_used(rec["used_kib"], rec["remaining_kib"]),
                    rec["mount_pt"],
                    str(rec["role"]).upper(),
                    rec["target_index"],
                )
            )
    return "".join(out)


def format_lctl_dl(data: dict[str, dict[str, dict[str, Any]]]) -> str:
    """``{fs: {target: fields}}`` as ``lctl dl -t`` lines (``"%3d %2s %3s %s %s %d %s"``)."""
    out = []
    for targets in data.values():
        for rec in targets.values():
            out.append(
                "%3d %2s %3s %s %s %d %s\n"
                % (
                    rec["index"],
                    str(rec["status"]).upper(),
                    rec["role"],
                    rec["role_id"],
                    rec["uuid"],
                    rec["ref_count"],
                    rec["nid"],
                )
            )
    return "".join(out)


def failovers(targets: dict[str, dict[str, Any]], file_system: str = "") -> dict[str, Any]:
    """``{"mode": int, "abnormal_ips": {ip: [target, ...]}}`` for one file system's map.

    Counts the ``osc`` targets served by each ``target_ip``; the most common
    count is ``mode`` (on a tie, the count met first in input order) and the
    IPs whose count differs are abnormal, with their targets in input order.
    Raises ``KeyError`` when the file system has no ``osc`` target.
    """
    by_ip: dict[str, list[str]] = {}
    for target, rec in targets.items():
        if rec.get("role") == "osc":
            by_ip.setdefault(rec["target_ip"], []).append(target)
    if not by_ip:
        raise KeyError(f"{file_system or 'file system'} has no osc targets in the map")
    mode = Counter(len(osts) for osts in by_ip.values()).most_common(1)[0][0]
    return {
        "mode": mode,
        "abnormal_ips": {ip: osts for ip, osts in by_ip.items() if len(osts) != mode},
    }


class _LfsOutput(_TextDump, SubprocessOutputDict):
    """What the two connectors share: nesting records, command-like text caches, JSON caches."""

    command: tuple[str, ...] = ()
    _kind = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subprocess_cmd = _argv(self._kind)
        self.load()

    def _source(self) -> str:
        if self.cache_file:
            return str(self.cache_file)
        if self.from_string is not None:
            return "<string>"
        return " ".join(self.subprocess_cmd)

    def _apply_records(self, records: list[Target]) -> None:
        for fs, target, fields in records:
            known = self.get(fs)
            if known is None:
                self[fs] = {target: fields}
            else:
                known[target] = fields

    def load_cache(self, cache_file: str | None = None) -> None:
        """Load a saved output (plain or gzip), or a JSON dump of the dict."""
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        with open_binary(path) as handle:
            head = handle.read(64).lstrip()
        if head.startswith(b"{"):
            with open_binary(path) as handle:
                self.update(json.loads(handle.read()))
            return
        super().load_cache(path)


class LfsOstFullness(_LfsOutput):
    """``lfs df`` as ``{file_system: {ost_name: {keys: values}}}`` (docs/formats.md#lfs-df).

    ``LfsOstFullness(cache_file=None, from_string=None, silent_errors=False)``;
    with neither a file nor a string, ``lfs df`` is run.
    """

    command = ("lfs", "df")
    _kind = "df"

    def _make_parser(self) -> Parser[Target]:
        return LfsDfParser(source=self._source())

    def load_str(self, input_str: str | bytes) -> None:
        """Parse the output of ``lfs df`` to initialise self."""
        super().load_str(input_str)

    def _text(self) -> str:
        return format_lfs_df(self)

    def __repr__(self) -> str:
        """``lfs df``-like text, e.g. ``snx11025-OST0001_UUID 90767651352 63381521692 26424604184  71% /scratch1[OST:1]``."""
        return self._text()


class LfsOstMap(_LfsOutput):
    """``lctl dl -t`` as ``{file_system: {ost_name: {keys: values}}}`` (docs/formats.md#lctl-dl).

    ``LfsOstMap(cache_file=None, from_string=None, silent_errors=False)``;
    with neither a file nor a string, ``lctl dl -t`` is run.
    """

    command = ("lctl", "dl", "-t")
    _kind = "dl"

    def _make_parser(self) -> Parser[Target]:
        return LctlDlParser(source=self._source())

    def load_str(self, input_str: str | bytes) -> None:
        """Parse the output of ``lctl dl -t`` to initialise self."""
        super().load_str(input_str)

    def _text(self) -> str:
        return format_lctl_dl(self)

    def __repr__(self) -> str:
        """``lctl dl -t``-like text (index, status, role, role_id, uuid, ref_count, nid)."""
        return self._text()

    def get_failovers(self) -> dict[str, dict[str, Any]]:
        """OSSes serving an abnormal number of OSTs, per file system.

        ``{fs: {"mode": int, "abnormal_ips": {ip: [ost, ...]}}}``: ``mode`` is
        the usual number of OSTs per OSS and ``abnormal_ips`` the OSS IPs whose
        count differs (see :func:`failovers`).  ``KeyError`` for a file system
        without ``osc`` targets.
        """
        return {fs: failovers(targets, fs) for fs, targets in self.items()}
