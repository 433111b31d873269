#!/usr/bin/env python3
"""Index a year of Darshan logs on Slurm nodes, with Dask workers from dask-jobqueue.

This script runs on a login node (or in a small Slurm job).  It asks Slurm
for ``--jobs`` worker jobs through ``dask_jobqueue.SLURMCluster``, each a
whole node running ``--cores`` single-threaded Dask worker processes, waits
for the first of them, then indexes every log under the given directories
(for example ``/global/darshanlogs/2019``, whose ``M/D`` subdirectories hold a
day each) into one SQLite database or Parquet dataset written here, by this
process.  The workers read the logs where they lie (they need the same paths
and an environment with atokio installed); only the small summary rows come
back.  Rerunning the same command resumes: logs already in the index are
skipped.

Try it without Slurm on one machine with ``--local N`` (N worker processes)::

    python slurm_index_darshanlogs.py --local 4 -o logs.db /path/to/darshanlogs

On a cluster (dask-jobqueue installed: ``pip install dask-jobqueue``)::

    python slurm_index_darshanlogs.py --jobs 8 --cores 32 --memory 64GB \\
        --queue regular --account m888 --walltime 02:00:00 \\
        --format parquet -o darshan-2019.parquet /global/darshanlogs/2019
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def find_logs(roots: list[str]) -> list[str]:
    """Every ``*.darshan`` file under the given directories (or the files themselves)."""
    logs = []
    for root in roots:
        if os.path.isfile(root):
            logs.append(root)
            continue
        for folder, _subfolders, names in os.walk(root):
            logs += [os.path.join(folder, n) for n in names if n.endswith(".darshan")]
    return sorted(logs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", help="directories of Darshan logs (searched deeply)")
    parser.add_argument(
        "-o", "--output", default="darshanlogs.db", help="index to create or extend"
    )
    parser.add_argument("--format", choices=("sqlite", "parquet"), default="sqlite")
    parser.add_argument("--local", type=int, metavar="N", help="N local workers instead of Slurm")
    parser.add_argument("--jobs", type=int, default=4, help="Slurm jobs (nodes) of workers")
    parser.add_argument("--cores", type=int, default=32, help="worker processes per node")
    parser.add_argument("--memory", default="64GB", help="memory per node")
    parser.add_argument("--walltime", default="01:00:00", help="time limit of a worker job")
    parser.add_argument("--queue", default=None, help="Slurm partition / QOS (-p)")
    parser.add_argument("--account", default=None, help="Slurm account (-A)")
    parser.add_argument("--constraint", default=None, help="Slurm node constraint (-C)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    from atokio.pipelines.darshan_index import index_darshanlogs

    logs = find_logs(args.logs)
    print(f"{len(logs)} logs to index into {args.output}", file=sys.stderr)
    if args.local:
        counts = index_darshanlogs(
            logs, args.output, scheduler=f"local:{args.local}", format=args.format, quiet=True
        )
    else:
        from dask_jobqueue import SLURMCluster
        from distributed import Client

        cluster = SLURMCluster(
            queue=args.queue,
            account=args.account,
            cores=args.cores,  # one thread per worker process: the reading is CPU-bound Python
            processes=args.cores,
            memory=args.memory,
            walltime=args.walltime,
            job_extra_directives=[f"--constraint={args.constraint}"] if args.constraint else [],
        )
        cluster.scale(jobs=args.jobs)
        with cluster, Client(cluster) as client:
            client.wait_for_workers(1)  # the others join while the first ones work
            counts = index_darshanlogs(
                logs, args.output, scheduler=client, format=args.format, quiet=True
            )
    print(
        f"indexed {counts['indexed']}, already indexed {counts['skipped']}, "
        f"unreadable or empty {counts['failed']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
