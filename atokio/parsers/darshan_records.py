"""Records produced from a Darshan log, by the text parser and the direct reader alike.

Both ways of reading a log (``darshan-parser`` text through
:class:`atokio.parsers.darshan.DarshanParserText`, or the binary log through
:mod:`atokio.collectors.darshanlog`) give these records, so everything built on
them (the documented dict, the index summaries) is the same whichever path
produced them.

Names follow the documented dict (docs/formats.md#the-darshan-dict): module keys are
lower-case with ``-`` and ``/`` removed (``MPI-IO`` -> ``mpiio``); counter names
have their module prefix removed (``POSIX_BYTES_READ`` -> ``BYTES_READ``); ranks
are strings (``"-1"`` for shared records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Value = int | float | str


@dataclass(slots=True)
class Header:
    """One job-header item under its documented key (``exe`` and ``metadata`` are lists)."""

    key: str
    value: object


@dataclass(slots=True)
class Mount:
    """One mount-table entry."""

    mountpoint: str
    fstype: str


@dataclass(slots=True)
class Module:
    """A module banner: the records that follow belong to ``name``."""

    name: str


@dataclass(slots=True)
class BaseRecord:
    """All ``--base`` counters of one (module, rank, record) run."""

    module: str
    rank: str
    file_name: str
    mount_pt: str
    fs_type: str
    counters: dict[str, Value] = field(default_factory=dict)


@dataclass(slots=True)
class Total:
    """One ``--total`` line: ``total_<MOD>_<COUNTER>: value``."""

    module: str
    counter: str
    value: Value


@dataclass(slots=True)
class Perf:
    """One ``--perf`` metric under its documented key (``time_by_slowest_shared_files``, ...)."""

    module: str
    key: str
    value: Value


@dataclass(slots=True)
class Warning_:
    """A warning the log itself carries (e.g. an incomplete-module notice)."""

    module: str | None
    text: str


@dataclass(slots=True)
class ModuleArrays:
    """Selected counters of one module's base records, one array element per record.

    A compact hand-over for summaries (the index), without a dict per record.
    ``counters`` and ``timestamps`` are keyed by lower-case column names
    (``bytes_read``, ``f_open_start_timestamp``), values are numpy arrays.
    """

    module: str
    names: list[str]
    counters: dict[str, Any] = field(default_factory=dict)
    timestamps: dict[str, Any] = field(default_factory=dict)


DarshanRecord = Header | Mount | Module | BaseRecord | Total | Perf | Warning_


def module_key(banner_name: str) -> str:
    """The dict key of a module as printed in a banner or record (``MPI-IO`` -> ``mpiio``)."""
    return banner_name.replace("-", "").replace("/", "").lower()


def counter_prefix(banner_name: str) -> str:
    """The prefix carried by a module's counter names (``MPI-IO`` -> ``MPIIO_``)."""
    return banner_name.replace("-", "").replace("/", "") + "_"
