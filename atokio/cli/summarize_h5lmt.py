"""Binned read/write volumes, CPU load and missing data of file-system telemetry (``summarize_h5lmt``).

docs/cli.md#summarize_h5lmt.  Works on H5LMT and TTS files alike (through
:class:`atokio.connectors.hdf5.Hdf5`); with ``--start``/``--end`` the first
argument is a file system name whose day files come from ``hdf5_files``.
Missing cells are counted from the -0.0 convention of TTS files (H5LMT files
have none, so their missing counts are 0).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import numpy

from atokio.cli._common import (
    add_common_arguments,
    date_arg,
    naming,
    parse_date,
    positive_int,
    require_input,
    run_main,
    setup_logging,
)

__all__ = [
    "bin_dataset",
    "bin_datasets",
    "main",
    "print_data_summary",
    "print_datum",
    "summarize_reduced_data",
]

logger = logging.getLogger(__name__)

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%d"
DATE_FMT_STR = "YYYY-MM-DDTHH:MM:SS"

DATASETS = {
    "ost_read": "datatargets/readbytes",
    "ost_write": "datatargets/writebytes",
    "oss_cpu": "dataservers/cpuload",
    "mds_cpu": "mdservers/cpuload",
}
UNIT_DIVISORS = {"bytes": 1.0, "kibs": 2.0**10, "mibs": 2.0**20, "gibs": 2.0**30, "tibs": 2.0**40}
UNIT_LABELS = {"bytes": "bytes", "kibs": "KiB", "mibs": "MiB", "gibs": "GiB", "tibs": "TiB"}


def _key_of(dataset_name: str) -> str:
    for key, name in DATASETS.items():
        if name == dataset_name.strip("/"):
            return key
    return dataset_name.strip("/").replace("/", "_")


def bin_dataset(hdf5_file: Any, dataset_name: str, num_bins: int) -> list[dict[str, Any]]:
    """Per-bin summaries (max, min, sum, average, missing) of one dataset."""
    key = _key_of(dataset_name)
    values = numpy.asarray(hdf5_file[dataset_name][...], dtype=numpy.float64)
    if values.ndim == 1:
        values = values[:, None]
    stamps = numpy.asarray(hdf5_file.get_timestamps(dataset_name)[...])
    rows = values.shape[0] - 1 if hdf5_file.get_version() == "0" else values.shape[0]
    per_bin = rows // num_bins
    if per_bin * num_bins != rows:
        logger.warning("%s: %d rows do not split into %d equal bins", dataset_name, rows, num_bins)
    bins = []
    for b in range(num_bins if per_bin else 0):
        first, last = b * per_bin, (b + 1) * per_bin
        chunk = values[first:last]
        missing = int(((chunk == 0.0) & numpy.signbit(chunk)).sum())
        total = float(chunk.sum())
        datum: dict[str, Any] = {
            "index0": first,
            "indexf": last,
            "tstart": int(stamps[first]),
            "tend": int(stamps[last - 1]),
            f"max_{key}": float(chunk.max()),
            f"min_{key}": float(chunk.min()),
            f"sum_{key}": total,
            f"ave_{key}": total / chunk.shape[0] / chunk.shape[1],
            f"missing_{key}": missing,
            f"num_{key}": int(chunk.size),
            f"frac_missing_{key}": missing / chunk.size,
        }
        if key in ("ost_read", "ost_write"):
            for agg in ("max", "min", "ave", "sum"):
                for unit, divisor in UNIT_DIVISORS.items():
                    datum[f"{agg}_{key}_{unit}"] = datum[f"{agg}_{key}"] / divisor
        bins.append(datum)
    return bins


def bin_datasets(
    hdf5_file: Any, dataset_names: Sequence[str], orient: str = "columns", num_bins: int = 24
) -> dict[str, list[Any]] | list[dict[str, Any]]:
    """Bin several datasets; ``orient='columns'``: ``{key: [value per bin]}``, ``'index'``: list of bins."""
    merged: list[dict[str, Any]] = []
    for name in dataset_names:
        try:
            bins = bin_dataset(hdf5_file, name, num_bins)
        except KeyError:
            continue
        for i, datum in enumerate(bins):
            if i >= len(merged):
                merged.append({})
            merged[i].update(datum)
    if orient == "index":
        return merged
    keys = sorted({k for datum in merged for k in datum})
    return {k: [datum.get(k) for datum in merged] for k in keys}


def summarize_reduced_data(data: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    """Totals over every bin (``data`` maps bin start -> bin)."""
    bins = list(data.values())
    rows = sum(b["indexf"] - b["index0"] for b in bins)
    summary: dict[str, Any] = {"n": rows}
    for direction, key in (("read", "ost_read"), ("write", "ost_write")):
        total = sum(b.get(f"sum_{key}", 0.0) for b in bins)
        summary[f"sum_bytes_{direction}"] = total
        for unit, divisor in UNIT_DIVISORS.items():
            if unit != "bytes":
                summary[f"sum_{unit}_{direction}"] = total / divisor
        summary[f"ave_bytes_{direction}_per_dt"] = total / rows
        summary[f"ave_gibs_{direction}_per_dt"] = total / rows / 2.0**30
        summary[f"ave_tibs_{direction}_per_dt"] = total / rows / 2.0**40
    for key, label in (("oss_cpu", "oss"), ("mds_cpu", "mds")):
        present = [b for b in bins if f"ave_{key}" in b]
        if present:
            summary[f"{label}_ave"] = sum(b[f"ave_{key}"] for b in present) / len(present)
            summary[f"{label}_max"] = max(b[f"max_{key}"] for b in present)
    for key in DATASETS:
        if any(f"num_{key}" in b for b in bins):
            missing = sum(b.get(f"missing_{key}", 0) for b in bins)
            num = sum(b.get(f"num_{key}", 0) for b in bins)
            summary[f"missing_{key}"] = missing
            summary[f"num_{key}"] = num
            summary[f"frac_missing_{key}"] = missing / num if num else 0.0
    return summary


def print_datum(datum: dict[str, Any] | None = None, units: str = "GiB") -> None:
    """Print one bin (or, without a bin, the header line)."""
    unit = (
        units.lower()
        if units.lower() in UNIT_DIVISORS
        else {v: k for k, v in UNIT_LABELS.items()}[units]
    )
    if datum is None:
        print(
            "%28s %12s %12s %5s %5s %5s %5s %5s"
            % ("date/time", f"{unit} read", f"{unit} writ", "ossav", "ossmx", "mdsav", "mdsmx", "mssng")
        )  # fmt: skip
        return
    start = datetime.datetime.fromtimestamp(datum["tstart"])
    end = datetime.datetime.fromtimestamp(datum["tend"])
    cpu = []
    for key in ("ave_oss_cpu", "max_oss_cpu", "ave_mds_cpu", "max_mds_cpu"):
        cpu.append("%5.1f" % datum[key] if key in datum else " " * 5)
    missing = datum.get("missing_ost_read", 0) + datum.get("missing_ost_write", 0)
    num = datum.get("num_ost_read", 0) + datum.get("num_ost_write", 0)
    print(
        "%s-%s %12.2f %12.2f %s %6.1f"
        % (
            start.strftime("%Y-%m-%d %H:%M:%S"),
            end.strftime("%H:%M:%S"),
            datum.get(f"sum_ost_read_{unit}", 0.0),
            datum.get(f"sum_ost_write_{unit}", 0.0),
            " ".join(cpu),
            100.0 * missing / num if num else 0.0,
        )
    )


def print_data_summary(data: dict[str, Any], units: str = "TiB") -> None:
    """Print the totals of :func:`summarize_reduced_data`."""
    unit = {v: k for k, v in UNIT_LABELS.items()}.get(units, units.lower())
    for direction, key in (("read", "ost_read"), ("write", "ost_write")):
        line = "%-16s%14.2f %s" % (
            f"Total {direction}:",
            data[f"sum_bytes_{direction}"] / UNIT_DIVISORS[unit],
            UNIT_LABELS[unit],
        )
        if f"frac_missing_{key}" in data:
            line += ", %.1f%% missing" % (100.0 * data[f"frac_missing_{key}"])
        print(line)
    for label, key in (("Average OSS CPU:", "oss_ave"), ("Max OSS CPU:", "oss_max"),
                       ("Average MDS CPU:", "mds_ave"), ("Max MDS CPU:", "mds_max")):  # fmt: skip
        if key in data:
            print("%-16s%6.2f%%" % (label, data[key]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="summarize_h5lmt",
        description="Bin a day of file-system telemetry (H5LMT or TTS) and summarise each bin.",
    )
    parser.add_argument(
        "h5lmt",
        nargs="+",
        type=str,
        help="H5LMT/TTS files (or, with --start/--end, a file system name)",
    )
    parser.add_argument("--summary", action="store_true", help="also print totals over all bins")
    units = parser.add_mutually_exclusive_group()
    for unit in ("bytes", "kibs", "mibs", "gibs", "tibs"):
        units.add_argument(
            f"--{unit}", action="store_true", help=f"show volumes in {UNIT_LABELS[unit]}"
        )
    parser.add_argument("--bins", type=positive_int, default=24, help="bins per file (default 24)")
    parser.add_argument(
        "--start", type=date_arg, default=None, help="first day (YYYY-MM-DD), with --end"
    )
    parser.add_argument(
        "--end",
        type=date_arg,
        default=None,
        help="day after the last day (YYYY-MM-DD), with --start",
    )
    parser.add_argument("--json", action="store_true", help="JSON output")
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    import os

    from atokio.connectors.hdf5 import Hdf5

    unit = next((u for u in ("bytes", "kibs", "mibs", "tibs") if getattr(args, u)), "gibs")
    files = list(args.h5lmt)
    if args.start and args.end:
        from atokio.tools.hdf5 import enumerate_hdf5

        start, end = parse_date(args.start), parse_date(args.end)
        fsname = os.path.basename(files[0])
        files = (
            [] if end <= start else enumerate_hdf5(fsname, start, end - datetime.timedelta(days=1))
        )
    bins: dict[int, dict[str, Any]] = {}
    for path in files:
        require_input(path)
        with naming(path):
            h5 = Hdf5(path, mode="r")
        with h5:
            binned = bin_datasets(h5, list(DATASETS.values()), orient="index", num_bins=args.bins)
            assert isinstance(binned, list)
            for datum in binned:
                bins.setdefault(int(datum["tstart"]), {}).update(datum)
    ordered = dict(sorted(bins.items()))
    if args.json:
        out: dict[str, Any] = {"bins": {str(k): v for k, v in ordered.items()}}
        if args.summary:
            out["summary"] = summarize_reduced_data(ordered)
        print(json.dumps(out, indent=4, sort_keys=True))
        return 0
    print_datum(None, UNIT_LABELS[unit])
    for datum in ordered.values():
        print_datum(datum, UNIT_LABELS[unit])
    if args.summary:
        print_data_summary(summarize_reduced_data(ordered), UNIT_LABELS[unit])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
