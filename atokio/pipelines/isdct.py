"""Compare two NERSC ISDCT dumps of the same SSD fleet: the engine of ``compare_isdct``.

:func:`compare_isdct` (async form :func:`acompare_isdct`) loads both dumps
(anything :class:`~atokio.connectors.nersc_isdct.NerscIsdct` reads: a
directory, tar, tgz or JSON cache; older first) and diffs them: the devices
that appeared or were removed, the numeric counters whose values changed and
the string counters whose contents changed.  The rest turns a diff into what
the tool shows: :func:`reduce_diff` (statistics over all devices),
:func:`convert_byte_keys` (``_bytes`` counters to GiB), :func:`discover_errors`
(devices whose error counters changed) and :func:`summary_text` (the
human-readable report).

Two behaviours of the reference are deliberately corrected: a device is
listed under "Errors Detected" only when an error counter actually changed
(the reference lists every device with ``report_zeros``), and with ``gibs``
the report's read and written volumes are converted to TiB as labelled (the
reference prints GiB labelled TiB).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atokio.collectors.sync import run_sync

__all__ = [
    "ERROR_COUNTERS",
    "IsdctComparison",
    "acompare_isdct",
    "compare_isdct",
    "convert_byte_keys",
    "discover_errors",
    "errors_lines",
    "reduce_diff",
    "reduced_lines",
    "summary_text",
]

#: Counters whose change suggests failing hardware.
ERROR_COUNTERS = (
    "crc_error_count",
    "critical_warnings",
    "end_to_end_error_detection_count",
    "erase_fail_count",
    "media_errors",
    "number_of_error_info_log_entries",
    "pci_link_gen_speed",
    "pci_link_width",
    "program_fail_count",
    "smart_crc_error_count_raw",
    "smart_endto_end_error_detection_count_raw",
    "smart_erase_fail_count_raw",
    "smart_pli_lock_loss_count_raw",
    "smart_program_fail_count_raw",
    "thermal_throttle_count",
)

_GIB = 2.0**-30
_TIB = 2.0**-40
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _convert_counters(
    counters: dict[str, Any], conversion_factor: float, label: str, *, scale_counts: bool = True
) -> dict[str, Any]:
    """Convert one flat dict of byte counters to another unit, in place (and return it).

    Every key ending in ``_bytes`` is renamed to end in ``_<label>`` and its
    numeric value multiplied by ``conversion_factor``; other keys are kept.
    With ``scale_counts=False`` keys starting with ``count_`` are renamed but
    not scaled (for :func:`reduce_diff` output).
    """
    converted: dict[str, Any] = {}
    for key, value in counters.items():
        if key.endswith("_bytes"):
            new_key = key[: -len("bytes")] + label
            if _is_number(value) and (scale_counts or not key.startswith("count_")):
                value = value * conversion_factor
            converted[new_key] = value
        else:
            converted[key] = value
    counters.clear()
    counters.update(converted)
    return counters


def convert_byte_keys(
    input_dict: dict[str, Any],
    conversion_factor: float = 9.313225746154785e-10,
    label: str = "gibs",
) -> dict[str, Any]:
    """Rename the ``*_bytes`` counters and rescale their values (to GiB by default).

    Accepts either the raw diff dict of :meth:`NerscIsdct.diff` (every
    device's counters are converted) or the reduced dict of
    :func:`reduce_diff` (whose ``count_*`` values are only renamed).  The dict
    is converted in place and returned.
    """
    devices = input_dict.get("devices")
    if isinstance(devices, dict):
        for counters in devices.values():
            if isinstance(counters, dict):
                _convert_counters(counters, conversion_factor, label)
    else:
        _convert_counters(input_dict, conversion_factor, label, scale_counts=False)
    return input_dict


def reduce_diff(diff_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce the per-device output of ``.diff()`` to counts and statistics over all devices.

    For every counter *c*: ``count_c`` (the number of devices reporting it);
    for every numeric counter also ``sum_c``, ``min_c``, ``max_c`` and
    ``ave_c`` (``sum_c / count_c``).
    """
    reduced: dict[str, Any] = {}
    sums: dict[str, Any] = {}
    for counters in diff_dict.get("devices", {}).values():
        for counter, value in counters.items():
            count_key = "count_" + counter
            reduced[count_key] = reduced.get(count_key, 0) + 1
            if not _is_number(value):
                continue
            if counter in sums:
                sums[counter] += value
                reduced["min_" + counter] = min(reduced["min_" + counter], value)
                reduced["max_" + counter] = max(reduced["max_" + counter], value)
            else:
                sums[counter] = value
                reduced["min_" + counter] = value
                reduced["max_" + counter] = value
    for counter, total in sums.items():
        reduced["sum_" + counter] = total
        reduced["ave_" + counter] = total / reduced["count_" + counter]
    return reduced


def _has_changed(value: Any) -> bool:
    return value != 0 if _is_number(value) else bool(value)


def _device_errors(diff_dict: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(serial, counter, change)`` for every error counter that changed."""
    found = []
    for serial, counters in diff_dict.get("devices", {}).items():
        for counter in ERROR_COUNTERS:
            if counter in counters and _has_changed(counters[counter]):
                found.append((serial, counter, counters[counter]))
    return found


def discover_errors(diff_dict: Mapping[str, Any]) -> list[str]:
    """Serial numbers of devices whose counter changes may indicate a hardware issue.

    A device is listed when one of :data:`ERROR_COUNTERS` changed (a change
    that is not 0 or ``""``), in the order of ``diff_dict["devices"]``.
    """
    serials: list[str] = []
    for serial, _, _ in _device_errors(diff_dict):
        if serial not in serials:
            serials.append(serial)
    return serials


def _node_name(isdct_data: Mapping[str, Any], serial: str) -> str:
    counters = isdct_data.get(serial) or {}
    return str(counters.get("node_name", "unknown"))


def errors_lines(diff_dict: Mapping[str, Any], isdct_data: Mapping[str, Any]) -> list[str]:
    """The "Errors Detected" block of the report, as lines (``[]`` when no error counter changed).

    ``*** Errors Detected! ***``, then ``<node_name> <serial> <counter>
    <change>`` per changed error counter (node names from ``isdct_data``).
    """
    errors = _device_errors(diff_dict)
    if not errors:
        return []
    lines = ["*** Errors Detected! ***"]
    lines.extend(
        f"{_node_name(isdct_data, serial)} {serial} {counter} {change}"
        for serial, counter, change in errors
    )
    return lines


def reduced_lines(reduced_diffs: Mapping[str, Any]) -> list[str]:
    """The workload block of a reduced diff, as lines (``[]`` when it has none of its figures).

    Data read and written (TiB) with the host read and write commands
    (millions), and the largest change of the write amplification factor.
    """

    def volume(stem: str) -> float | None:
        if stem + "_bytes" in reduced_diffs:
            return float(reduced_diffs[stem + "_bytes"]) * _TIB
        if stem + "_gibs" in reduced_diffs:  # after convert_byte_keys(): GiB -> TiB
            return float(reduced_diffs[stem + "_gibs"]) / 1024.0
        return None

    read = volume("sum_data_units_read")
    written = volume("sum_data_units_written")
    read_ops = reduced_diffs.get("sum_host_read_commands")
    write_ops = reduced_diffs.get("sum_host_write_commands")
    waf = reduced_diffs.get("max_write_amplification_factor")
    if all(value is None for value in (read, written, read_ops, write_ops, waf)):
        return []
    return [
        "=== Workload Statistics ===",
        f"Read:    {read or 0.0:10.2f} TiB, {(read_ops or 0) / 1e6:10.2f} MOps",
        f"Written: {written or 0.0:10.2f} TiB, {(write_ops or 0) / 1e6:10.2f} MOps",
        f"WAF:     {waf or 0.0:+10.4f}",
        "",
    ]


def _dump_time(isdct_data: Mapping[str, Any]) -> str:
    """The ``timestamp`` of the dump's first device as local time (``unknown`` without one)."""
    for counters in isdct_data.values():
        stamp: Any = counters.get("timestamp") if isinstance(counters, dict) else None
        if _is_number(stamp):
            return datetime.datetime.fromtimestamp(stamp).strftime(_TIME_FORMAT)
        break
    return "unknown"


def summary_text(
    old_isdctfile: Mapping[str, Any], new_isdctfile: Mapping[str, Any], diff_dict: Mapping[str, Any]
) -> str:
    """A human-readable summary of ``diff_dict`` (the text ``compare_isdct -s`` prints).

    ``old_isdctfile`` and ``new_isdctfile`` are the two loaded dumps
    (:class:`~atokio.connectors.nersc_isdct.NerscIsdct`).  Blocks, each
    printed only when it has content and preceded by a blank line: the title
    with both dumps' times (``timestamp`` of their first device, local time),
    the errors (:func:`errors_lines`), the devices removed and installed
    (``<node_name> <serial>``), and the workload statistics
    (:func:`reduced_lines`).
    """
    lines = [f"=== ISDCT Summary: {_dump_time(old_isdctfile)} - {_dump_time(new_isdctfile)} ==="]
    removed = [
        f"{_node_name(old_isdctfile, serial)} {serial}"
        for serial in diff_dict.get("removed_devices", [])
    ]
    added = [
        f"{_node_name(new_isdctfile, serial)} {serial}"
        for serial in diff_dict.get("added_devices", [])
    ]
    blocks = [
        errors_lines(diff_dict, new_isdctfile),
        ["=== Devices Removed ===", *removed] if removed else [],
        ["=== Devices Installed ===", *added] if added else [],
        reduced_lines(reduce_diff(diff_dict)),
    ]
    for block in blocks:
        if block:
            lines.append("")
            lines.extend(block)
    return "\n".join(lines)


@dataclass
class IsdctComparison:
    """Two loaded dumps and the diff of the newer against the older."""

    old: Any
    new: Any
    diff: dict[str, Any]


def _require_dumps(*paths: str) -> None:
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"Input file {path} does not exist")


async def acompare_isdct(
    old_isdctfile: str,
    new_isdctfile: str,
    *,
    report_zeros: bool = False,
    gibs: bool = False,
) -> IsdctComparison:
    """Load two dumps (at once, in worker threads) and diff the newer against the older.

    ``report_zeros`` keeps unchanged counters in the diff; ``gibs`` converts
    the ``_bytes`` counters to GiB (:func:`convert_byte_keys`).  A missing
    input raises ``FileNotFoundError`` naming it.
    """
    import anyio

    from atokio.connectors.nersc_isdct import NerscIsdct

    _require_dumps(old_isdctfile, new_isdctfile)
    loaded: dict[str, Any] = {}

    async def load(which: str, path: str) -> None:
        loaded[which] = await anyio.to_thread.run_sync(NerscIsdct, path)

    async with anyio.create_task_group() as group:
        group.start_soon(load, "old", old_isdctfile)
        group.start_soon(load, "new", new_isdctfile)
    diff_dict = loaded["new"].diff(loaded["old"], report_zeros=report_zeros)
    if gibs:
        convert_byte_keys(diff_dict)
    return IsdctComparison(loaded["old"], loaded["new"], diff_dict)


def compare_isdct(
    old_isdctfile: str,
    new_isdctfile: str,
    *,
    report_zeros: bool = False,
    gibs: bool = False,
) -> IsdctComparison:
    """Load two dumps and diff them (sync form of :func:`acompare_isdct`)."""
    return run_sync(
        acompare_isdct, old_isdctfile, new_isdctfile, report_zeros=report_zeros, gibs=gibs
    )
