"""Summarize a job's I/O and what the file system did meanwhile (``summarize_job``, docs/cli.md#summarize_job).

For each Darshan log (or one explicit time window) it gathers one row of
numbers from every source the site has configured (the work is done by
:mod:`atokio.pipelines.job_summary`, whose names this module re-exports) — the log itself, the
file system's TTS telemetry, Lustre health, the job's place in the network
and the jobs that ran beside it — so the job and the system around it can
be read together.

One record (a flat dict) is made per Darshan log, or one for an explicit
window (``--start-time``/``--end-time``), from these sources:

* ``darshan_*`` — the Darshan log (``retrieve_darshan_data``, one
  ``--perf`` and one ``--base`` read): header fields, POSIX counter
  statistics (``summarize_darshan_posix``), the biggest API
  (``get_biggest_api``) and file system (``get_biggest_fs``);
* ``fs_*`` — the TOKIO Time Series (TTS or H5LMT) archive of the file system
  over ``[_datetime_start, _datetime_end)`` (``retrieve_lmt_data``);
* ``fshealth_*`` — Lustre OST fullness and failover at the job's start
  (``-o``, ``retrieve_ost_data``, through :mod:`atokio.tools.lfsstatus`);
* ``topology_*`` — the job's spread on a Cray XC network (``-t``,
  ``retrieve_topology_data``, through :mod:`atokio.tools.topology`);
* ``jobsdb_*`` — jobs running concurrently (``-c``,
  ``retrieve_concurrent_job_data``, the NERSC jobs database).

Plus ``_datetime_start``, ``_datetime_end`` (naive local datetimes),
``_jobid`` and ``_file_system``.

Choices made where the reference leaves room:

* The window of a Darshan log is its ``start_time`` to its ``end_time`` plus
  the config key ``lmt_timestep`` (default 5 s); ``_datetime_end`` holds that
  padded end, so every ``fs_`` key covers exactly ``[_datetime_start,
  _datetime_end)``.  ``--start-time``/``--end-time`` (``YYYY-MM-DD
  HH:MM:SS``, local time) are used as given and win over the log's window.
  With neither a log nor a window, a ``--slurm-jobid`` gives the window
  through :func:`atokio.tools.jobinfo.get_job_startend`.
* Statistics that come out undefined (NaN: a window with only missing TTS
  cells) are left out of the record rather than written as NaN.
* CSV columns are sorted by name (the first column, ``index``, aside), so the
  header does not depend on which sources answered first.
* Positionals and options may be interleaved freely
  (``parse_intermixed_args``); the optional-value options still take the
  next token unless it starts with ``-``.
* Running with no Darshan log, no window and no ``--slurm-jobid`` is a usage
  error (exit 2).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any

from atokio.cli._common import add_common_arguments, run_main, setup_logging
from atokio.connectors.darshan import READER_POLICY, READERS
from atokio.pipelines.job_summary import (
    MDS_OPS,
    POSIX_COUNTERS,
    _identify_fs_from_path,
    get_biggest_api,
    get_biggest_fs,
    merge_dicts,
    retrieve_concurrent_job_data,
    retrieve_darshan_data,
    retrieve_jobid,
    retrieve_lmt_data,
    retrieve_ost_data,
    retrieve_topology_data,
    serialize_datetime,
    summarize_byterate_df,
    summarize_cpu_df,
    summarize_darshan,
    summarize_darshan_posix,
    summarize_job,
    summarize_mds_ops_df,
    summarize_missing_df,
)
from atokio.pipelines.job_summary import guess_file_system as _guess_file_system

__all__ = [
    "DATETIME_FMT",
    "MDS_OPS",
    "POSIX_COUNTERS",
    "_guess_file_system",
    "_identify_fs_from_path",
    "get_biggest_api",
    "get_biggest_fs",
    "main",
    "merge_dicts",
    "retrieve_concurrent_job_data",
    "retrieve_darshan_data",
    "retrieve_jobid",
    "retrieve_lmt_data",
    "retrieve_ost_data",
    "retrieve_topology_data",
    "serialize_datetime",
    "summarize_byterate_df",
    "summarize_cpu_df",
    "summarize_darshan",
    "summarize_darshan_posix",
    "summarize_mds_ops_df",
    "summarize_missing_df",
]

#: The format of ``--start-time`` and ``--end-time`` (a space, not ``T``).
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"


# -- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``summarize_job`` (docs/cli.md#summarize_job)."""
    parser = argparse.ArgumentParser(
        prog="summarize_job",
        description=(
            "For each Darshan log, or for one explicit time window, gather one row of scalar "
            "metrics from Darshan, the file system's TOKIO Time Series archive, Lustre health, "
            "network topology and concurrent jobs, and print the rows as CSV (or JSON)."
        ),
        epilog=(
            "-t, -c, --ost-fullness and --ost-map take an optional value: the next argument is "
            "taken as their value unless it starts with '-'; put such a flag after the log "
            "files, or end it with '--', to use it without a value. Config keys: lmt_timestep, "
            "mount_to_fsname, hdf5_files, fsname_to_backend_name, lfsstatus_*, "
            "jobinfo_jobnodes_providers; NERSC_JOBSDB_* variables for -c without a file."
        ),
    )
    parser.add_argument(
        "files", nargs="*", default=[], help="Darshan logs to process (one output row per log)"
    )
    parser.add_argument(
        "-t",
        "--topology",
        nargs="?",
        const="",
        default=None,
        metavar="NODEMAP",
        help="add job diameter metrics; NODEMAP is saved xtdb2proc output "
        "(without it, xtdb2proc is run)",
    )
    parser.add_argument(
        "-c",
        "--concurrentjobs",
        nargs="?",
        const="",
        default=None,
        metavar="JOBSDB",
        help="add counts of concurrently running jobs (needs --jobhost); JOBSDB is a NERSC "
        "jobs database SQLite cache (without it, MySQL is used)",
    )
    parser.add_argument(
        "-o",
        "--ost",
        action="store_true",
        help="add Lustre OST fullness and failover metrics (not an output option)",
    )
    parser.add_argument("-j", "--json", action="store_true", help="output JSON instead of CSV")
    parser.add_argument(
        "-f",
        "--file-system",
        type=str,
        default=None,
        help="logical file system name (a key of hdf5_files); guessed from the Darshan log "
        "when not given",
    )
    parser.add_argument(
        "--start-time",
        type=str,
        default=None,
        help="window start, 'YYYY-MM-DD HH:MM:SS' local time (with --end-time, when no "
        "Darshan log gives the window)",
    )
    parser.add_argument(
        "--end-time",
        type=str,
        default=None,
        help="window end, 'YYYY-MM-DD HH:MM:SS' local time (with --start-time)",
    )
    parser.add_argument(
        "--slurm-jobid",
        type=str,
        default=None,
        help="job id, or a Slurm cache file (its first job): overrides the Darshan job id and "
        "gives the nodes for -t",
    )
    parser.add_argument(
        "--jobhost", type=str, default=None, help="system name for -c (e.g. edison)"
    )
    parser.add_argument(
        "--ost-fullness",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="lfs df collection file for -o (default: the lfsstatus_fullness_files of the config)",
    )
    parser.add_argument(
        "--ost-map",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="lctl dl -t collection file for -o (default: the lfsstatus_map_files of the config)",
    )
    parser.add_argument(
        "--silent-errors",
        action="store_true",
        help="skip a Darshan log that cannot be read (status 0) instead of failing",
    )
    parser.add_argument(
        "--reader",
        choices=READERS,
        default="auto",
        help=f"how to read Darshan logs: {READER_POLICY}",
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        default=None,
        help="also draw the records' UMAMI diagram (dated axis) into this PNG file",
    )
    add_common_arguments(parser)
    return parser


def _parse_time(text: str, option: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not in the form 'YYYY-MM-DD HH:MM:SS'") from None


def _records_to_csv(records: list[dict[str, Any]]) -> str:
    import pandas

    columns = sorted({key for record in records for key in record})
    frame = pandas.DataFrame(records, columns=columns, dtype=object)
    text: str = frame.to_csv(index_label="index")
    return text


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    if (
        not args.files
        and args.start_time is None
        and args.end_time is None
        and not args.slurm_jobid
    ):
        parser.error("give Darshan logs, or --start-time and --end-time (or --slurm-jobid)")
    setup_logging()
    records = summarize_job(
        args.files,
        file_system=args.file_system,
        start_time=None
        if args.start_time is None
        else _parse_time(args.start_time, "--start-time"),
        end_time=None if args.end_time is None else _parse_time(args.end_time, "--end-time"),
        slurm_jobid=args.slurm_jobid,
        ost=args.ost,
        ost_fullness=args.ost_fullness,
        ost_map=args.ost_map,
        topology=args.topology,
        concurrentjobs=args.concurrentjobs,
        jobhost=args.jobhost,
        silent_errors=args.silent_errors,
        reader=args.reader,
    )
    if args.json:
        sys.stdout.write(
            json.dumps(records, indent=4, sort_keys=True, default=serialize_datetime) + "\n"
        )
    else:
        print(_records_to_csv(records))
    if args.plot:
        from atokio.analysis.plots import plot_job_summary  # matplotlib only when asked

        print(f"Wrote plot to {plot_job_summary(records, args.plot)}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
