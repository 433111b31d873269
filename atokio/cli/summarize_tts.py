"""Read and write volumes and completeness of one TTS file (``summarize_tts``, docs/cli.md#summarize_tts).

Reads ``datatargets/readbytes`` and ``datatargets/writebytes`` (derived from
the rate datasets when only those are stored; H5LMT files work through the
connector's mapping).  Missing data are the -0.0 cells of ``readbytes``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy

from atokio.cli._common import add_common_arguments, naming, require_input, run_main

__all__ = [
    "humanize_units",
    "main",
    "print_column_summary",
    "print_timestep_summary",
    "print_tts_hdf5_summary",
    "summarize_columns",
    "summarize_timesteps",
    "summarize_tts_hdf5",
]

READ = "/datatargets/readbytes"
WRITE = "/datatargets/writebytes"
UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def humanize_units(byte_count: float, divisor: float = 1024.0) -> tuple[float, str]:
    """``(value, unit)`` by repeated division by ``divisor``: bytes, KiB, MiB, GiB, TiB (no higher)."""
    value = float(byte_count)
    index = 0
    while abs(value) >= divisor and index < len(UNITS) - 1:
        value /= divisor
        index += 1
    return value, UNITS[index]


def _open(hdf5_file: Any) -> Any:
    from atokio.connectors.hdf5 import Hdf5

    return Hdf5(hdf5_file) if isinstance(hdf5_file, str) else hdf5_file


def _values(h5: Any, name: str) -> numpy.ndarray:
    return numpy.asarray(h5[name][...], dtype=numpy.float64)


def summarize_tts_hdf5(hdf5_file: Any) -> dict[str, Any]:
    """Totals: read/write bytes, missing and expected points, first/last non-empty rows."""
    h5 = _open(hdf5_file)
    read, write = _values(h5, READ), _values(h5, WRITE)
    missing = (read == 0.0) & numpy.signbit(read)
    present_rows = numpy.flatnonzero((~missing).any(axis=1))
    total = int(read.size)
    return {
        "read_bytes": float(read.sum()),
        "write_bytes": float(write.sum()),
        "missing_pts": int(missing.sum()),
        "total_pts": total,
        "missing_pct": 100.0 * float(missing.sum()) / total if total else 0.0,
        "first_nonzero_idx": int(present_rows[0]) if len(present_rows) else -1,
        "last_nonzero_idx": int(present_rows[-1]) if len(present_rows) else -1,
    }


def summarize_timesteps(hdf5_file: Any) -> dict[str, dict[str, float]]:
    """Read/write bytes per time step, keyed by epoch seconds (as strings)."""
    h5 = _open(hdf5_file)
    read, write = _values(h5, READ), _values(h5, WRITE)
    stamps = numpy.asarray(h5.get_timestamps(READ)[...])[: read.shape[0]]
    reads, writes = read.sum(axis=1), write.sum(axis=1)
    return {
        str(int(t)): {"read_bytes": float(r), "write_bytes": float(w)}
        for t, r, w in zip(stamps, reads, writes, strict=True)
    }


def summarize_columns(hdf5_file: Any) -> dict[str, dict[str, float]]:
    """Read/write bytes per column (OST, device, ...)."""
    h5 = _open(hdf5_file)
    read, write = _values(h5, READ), _values(h5, WRITE)
    names = list(h5.get_columns(READ))
    names += [f"column{i}" for i in range(len(names), read.shape[1])]
    return {
        str(name): {"read_bytes": float(read[:, i].sum()), "write_bytes": float(write[:, i].sum())}
        for i, name in enumerate(names[: read.shape[1]])
    }


def print_tts_hdf5_summary(results: dict[str, Any]) -> None:
    """Print :func:`summarize_tts_hdf5` results as text."""
    for label, key in (("Data Read:", "read_bytes"), ("Data Written:", "write_bytes")):
        value, unit = humanize_units(results[key])
        print("%-22s%5.1f %s" % (label, value, unit))
    print("%-22s%9d" % ("Missing data points:", results["missing_pts"]))
    print("%-22s%9d" % ("Expected data points:", results["total_pts"]))
    print("%-22s%9.1f%%" % ("Percent data missing:", results["missing_pct"]))
    print("%-22s%9d" % ("First non-empty row:", results["first_nonzero_idx"]))
    print("%-22s%9d" % ("Last non-empty row:", results["last_nonzero_idx"]))


def print_timestep_summary(summary: dict[str, dict[str, float]]) -> None:
    """Print :func:`summarize_timesteps` results, one line per time step."""
    for epoch in sorted(summary, key=int):
        row = summary[epoch]
        when = datetime.datetime.fromtimestamp(int(epoch)).strftime("%Y-%m-%d %H:%M:%S")
        print("%s %14.2f read, %14.2f written" % (when, row["read_bytes"], row["write_bytes"]))


def print_column_summary(results: dict[str, dict[str, float]]) -> None:
    """Print :func:`summarize_columns` results, one line per column."""
    for name, row in results.items():
        print("%12s %14.2f read, %14.2f written" % (name, row["read_bytes"], row["write_bytes"]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="summarize_tts",
        description="Summarise the read/write volumes and completeness of a TTS HDF5 file.",
    )
    parser.add_argument("file", type=str, help="TTS HDF5 file (or H5LMT)")
    parser.add_argument("-j", "--json", action="store_true", help="JSON output")
    parser.add_argument(
        "--timesteps", action="store_true", help="add read/write bytes per time step"
    )
    parser.add_argument("--columns", action="store_true", help="add read/write bytes per column")
    parser.add_argument(
        "--plot",
        metavar="PNG",
        type=str,
        default=None,
        help="also draw the rates over time per column group into this picture file",
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from atokio.connectors.hdf5 import Hdf5

    require_input(args.file)
    with naming(args.file):
        h5 = Hdf5(args.file, mode="r")
    with h5:
        results: dict[str, Any] = {"total": summarize_tts_hdf5(h5)}
        if args.timesteps:
            results["timesteps"] = summarize_timesteps(h5)
        if args.columns:
            results["columns"] = summarize_columns(h5)
        if args.plot:
            from atokio.analysis.plots import plot_tts_rates

            plot_tts_rates(h5, args.plot, title=f"Rates over time: {args.file}")
    if args.json:
        print(json.dumps(results, indent=4, sort_keys=True))
        return 0
    print_tts_hdf5_summary(results["total"])
    if args.timesteps:
        print_timestep_summary(results["timesteps"])
    if args.columns:
        print_column_summary(results["columns"])
    if args.plot:
        print(f"Plot written to {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
