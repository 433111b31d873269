#!/usr/bin/env python3
"""Benchmark and model: ``index_darshanlogs`` locally and on Dask workers.

Input: the ``index_darshanlogs`` workload of ``shared/bench/workloads.py``
scaled to ``--logs`` logs (default 5,000: copies of the five small corpus logs
under distinct Darshan names).

Measured, each as the command a user runs (``python -m
atokio.cli.index_darshanlogs -q -o OUT LOGDIR``, start to exit, from an empty
output, best of ``--repeat``):

* local: ``-t 1`` and ``-t 2`` worker processes (SQLite);
* Dask: ``--scheduler tcp://...`` against a ``dask scheduler`` with 1 and then
  2 ``dask worker`` processes (one thread each), started before the timing
  (their start-up is reported apart); SQLite, and Parquet on 2 workers.

Then the costs the model is built from:

* per log, on a worker: ``summarize_batch`` over every log in this process;
* per task: no-op tasks through :func:`atokio.pipelines.scaleout.run_tasks` on
  the 2-worker cluster (scheduler, transfer and client round trip);
* per log, on the client: unpickling a log's results, and writing them with
  the SQLite writer (batches of 256 logs, one transaction each) or the Parquet
  writer; per batch: the cost of one SQLite transaction (batches of 1 vs 256).

The model: 10^6 logs on 1, 8 and 64 nodes of ``--cores-per-node`` worker
processes.  The run takes the longest of three pipelines working at once —
the workers reading logs, the scheduler handing out tasks, and the one client
receiving and writing rows — plus the start-up.  The table shows where it stops
scaling: the node count beyond which the single writer, not the workers,
sets the pace, for the SQLite writer and for the Parquet one.  Reading the
logs from a parallel file system is taken to scale with the nodes; a real
file system's metadata rate may cap it first (not modelled).

The machine is shared: the load average is printed before and after each
timing; compare figures taken under the same load only.

    python bench/bench_dask_index.py [--logs 5000] [--repeat 1] [--cores-per-node 32]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORKLOADS = SHARED / "bench" / "workloads.py"
sys.path.insert(0, str(ROOT / "tests" / "scaleout"))  # DaskProcesses: the tests' cluster helper

#: Logs in the model's run, and its node counts.
MODEL_LOGS = 1_000_000
MODEL_NODES = (1, 8, 64)


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return "load %.2f %.2f %.2f" % os.getloadavg()


def build_workload(logs: int, cache: Path) -> Path:
    """The directory of ``logs`` Darshan logs made by workloads.py (cached between runs)."""
    if not WORKLOADS.exists():
        sys.exit(f"{WORKLOADS} not found: the shared benchmark inputs sit beside the repository")
    subprocess.run(
        [sys.executable, str(WORKLOADS), "--only", "index_darshanlogs", "--scale",
         str(logs / 500), "--cache-dir", str(cache)],
        check=True,
    )  # fmt: skip
    manifest = json.loads((cache / "manifest.json").read_text())
    return Path(manifest["workloads"]["index_darshanlogs"]["files"][0])


def run_cli(logs: Path, output: Path, *options: str) -> float:
    """Seconds of one ``index_darshanlogs`` run from an empty output."""
    if output.is_dir():
        shutil.rmtree(output)
    elif output.exists():
        output.unlink()
    argv = [sys.executable, "-m", "atokio.cli.index_darshanlogs", "-q", *options,
            "-o", str(output), str(logs)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def best(repeat: int, what: str, count: int, call: Any) -> float:
    """Best of ``repeat`` timings of ``call()``, printed with the load."""
    times = []
    for _ in range(repeat):
        before = load()
        times.append(call())
        print(f"  {what:<34} {times[-1]:7.2f} s  {count / times[-1]:7.0f} logs/s  "
              f"({before} -> {load()})", flush=True)  # fmt: skip
    return min(times)


def noop(x: int) -> int:
    """The task of the per-task overhead measurement."""
    return x


def task_overhead(address: str, tasks: int, in_flight: int | None = None) -> float:
    """Seconds per no-op task through run_tasks (submit, schedule, run, gather, hand back).

    With the default window (four tasks per worker thread) this is the latency
    a task adds; with every task in flight, the scheduler's and client's cost
    per task (their throughput), which is what limits a large cluster.
    """
    from atokio.pipelines.scaleout import run_tasks

    start = time.perf_counter()
    with run_tasks(
        noop, [(i,) for i in range(tasks)], scheduler=address, max_in_flight=in_flight
    ) as outcomes:
        done = sum(1 for o in outcomes if o.ok)
    elapsed = time.perf_counter() - start
    assert done == tasks
    return elapsed / tasks


def per_log_costs(logs: Path, work: Path) -> dict[str, float]:
    """Reading one log; receiving one log's results; writing them (SQLite, Parquet); a commit."""
    from atokio import config
    from atokio.pipelines.darshan_index import IndexWriter, summarize_batch
    from atokio.pipelines.index_parquet import ParquetIndexWriter

    paths = sorted(str(p) for p in logs.iterdir())
    mapping = config.CONFIG.get("mount_to_fsname")
    summarize_batch(paths[:16], "direct", mapping)  # load libdarshan-util first
    start = time.perf_counter()
    results = []
    for first in range(0, len(paths), 64):
        results += summarize_batch(paths[first : first + 64], "direct", mapping)
    read = (time.perf_counter() - start) / len(paths)
    outcomes = [o for _log, o in results if isinstance(o, dict) and o["summaries"]]
    blob = pickle.dumps(results)
    start = time.perf_counter()
    pickle.loads(blob)
    receive = (time.perf_counter() - start) / len(results)

    def write_sqlite(batch: int, items: list[dict[str, Any]]) -> float:
        db = work / f"costs-{batch}.db"
        if db.exists():
            db.unlink()
        with IndexWriter(str(db), batch_logs=batch) as writer:  # opening: a one-off cost
            start = time.perf_counter()
            for outcome in items:
                writer.add(outcome)
            writer.flush()
            return time.perf_counter() - start

    write_sqlite(256, outcomes[:300])  # warm-up: first-use costs are not per log
    sqlite = write_sqlite(256, outcomes) / len(outcomes)
    few = outcomes[:500]
    per_commit = (write_sqlite(1, few) - write_sqlite(256, few)) / (len(few) - 2)
    folder = work / "costs.parquet"
    with ParquetIndexWriter(work / "warm-up.parquet") as parquet_writer:  # first-use costs
        for outcome in outcomes[:300]:
            parquet_writer.add(outcome)
        parquet_writer.flush()
    with ParquetIndexWriter(folder) as parquet_writer:
        start = time.perf_counter()
        for outcome in outcomes:
            parquet_writer.add(outcome)
        parquet_writer.flush()
    parquet = (time.perf_counter() - start) / len(outcomes)
    heavy = SHARED / "corpus" / "darshan" / "sample-badost.darshan"  # 2,048 ranks
    read_heavy = 0.0
    if heavy.exists():
        summarize_batch([str(heavy)], "direct", mapping)
        start = time.perf_counter()
        summarize_batch([str(heavy)] * 5, "direct", mapping)
        read_heavy = (time.perf_counter() - start) / 5
    return {
        "read": read,
        "read_heavy": read_heavy,
        "receive": receive,
        "sqlite": sqlite,
        "parquet": parquet,
        "commit": per_commit,
        "indexed_share": len(outcomes) / len(results),
    }


def model(costs: dict[str, float], cores: int, start_up: float) -> list[str]:
    """Lines of the 10^6-log prediction for MODEL_NODES nodes (see the module docstring)."""
    from atokio.pipelines.index_dask import LOGS_PER_TASK

    n = MODEL_LOGS
    share = costs["indexed_share"]
    client_sqlite = n * (costs["receive"] + share * costs["sqlite"])
    client_parquet = n * (costs["receive"] + share * costs["parquet"])
    lines = [
        f"Model: {n:,} logs, {cores} worker processes per node, start-up {start_up:.1f} s",
        f"  per log: read {costs['read'] * 1e3:.3f} ms (one core); on the client: receive "
        f"{costs['receive'] * 1e6:.1f} us, write SQLite {costs['sqlite'] * 1e6:.1f} us or "
        f"Parquet {costs['parquet'] * 1e6:.1f} us",
        f"  per task: {costs['task'] * 1e3:.2f} ms (scheduler and client throughput, no-op tasks)",
        f"  per SQLite batch (one transaction): {costs['commit'] * 1e3:.2f} ms",
        f"  client (the one writer), for all logs: SQLite {client_sqlite:.0f} s, "
        f"Parquet {client_parquet:.0f} s",
    ]
    for per_task in sorted({64, LOGS_PER_TASK, 1024}):
        scheduler = n / per_task * costs["task"]
        lines.append(
            f"  {per_task} logs per task{' (the default)' if per_task == LOGS_PER_TASK else ''}: "
            f"scheduler {scheduler:.0f} s for all tasks"
        )
        lines.append("    nodes  workers(s)  T SQLite(s)  T Parquet(s)  bound")
        for nodes in MODEL_NODES:
            workers = n * (costs["read"] + costs["task"] / per_task) / (nodes * cores)
            t_sqlite = start_up + max(workers, scheduler, client_sqlite)
            t_parquet = start_up + max(workers, scheduler, client_parquet)
            bound = max((workers, "workers"), (scheduler, "scheduler"), (client_sqlite, "writer"))[
                1
            ]
            lines.append(
                f"    {nodes:5d}  {workers:10.1f}  {t_sqlite:11.0f}  {t_parquet:12.0f}  {bound}"
            )
        for name, client in (("SQLite", client_sqlite), ("Parquet", client_parquet)):
            limit = max(client, scheduler)
            nodes_max = n * costs["read"] / (cores * limit)
            by = "the single writer" if client >= scheduler else "the scheduler"
            lines.append(
                f"    {name}: stops scaling at about {nodes_max:.1f} nodes "
                f"({n / limit:,.0f} logs/s, set by {by})"
            )
    if costs.get("read_heavy"):
        limit = max(client_sqlite, n / LOGS_PER_TASK * costs["task"])
        nodes_max = n * costs["read_heavy"] / (cores * limit)
        lines.append(
            f"  Logs like sample-badost (2,048 ranks; read {costs['read_heavy'] * 1e3:.1f} ms): "
            f"the workers need {n * costs['read_heavy'] / cores:.0f} s on one node, and the "
            f"run scales to about {nodes_max:.0f} nodes before the single SQLite writer "
            f"({LOGS_PER_TASK} logs per task)"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=int, default=5000, help="logs to index (default 5000)")
    parser.add_argument("--repeat", type=int, default=1, help="timings per setup (best is kept)")
    parser.add_argument("--cores-per-node", type=int, default=32, help="model: workers per node")
    parser.add_argument("--noop-tasks", type=int, default=2000, help="tasks of the overhead run")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("ATOKIO_BENCH_DIR", "/tmp/atokio-bench-dask")),
        help="where workloads.py puts the logs",
    )
    args = parser.parse_args()
    from dask_processes import DaskProcesses

    logs = build_workload(args.logs, args.cache_dir)
    count = sum(1 for _ in logs.iterdir())
    print(f"{count} logs in {logs}; {os.cpu_count()} cores; {load()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-dask-index-"))
    figures: dict[str, float] = {}
    try:
        db = work / "index.db"
        for threads in (1, 2):
            figures[f"local-{threads}"] = best(
                args.repeat, f"local -t {threads}", count,
                lambda threads=threads: run_cli(logs, db, "-t", str(threads)),
            )  # fmt: skip
        start_up = 0.0
        for workers in (1, 2):
            started = time.perf_counter()
            with DaskProcesses(work / f"dask-{workers}", workers=workers) as cluster:
                start_up = time.perf_counter() - started
                print(f"  scheduler + {workers} worker(s) up in {start_up:.1f} s", flush=True)
                address = cluster.address
                figures[f"dask-{workers}"] = best(
                    args.repeat, f"dask, {workers} worker(s), sqlite", count,
                    lambda address=address: run_cli(logs, db, "--scheduler", address),
                )  # fmt: skip
                if workers == 2:
                    figures["dask-2-parquet"] = best(
                        args.repeat, "dask, 2 workers, parquet", count,
                        lambda address=address: run_cli(logs, work / "index.parquet",
                                                        "--scheduler", address,
                                                        "--format", "parquet"),
                    )  # fmt: skip
                    figures["task latency"] = task_overhead(address, args.noop_tasks)
                    figures["task"] = task_overhead(address, args.noop_tasks, args.noop_tasks)
        costs = per_log_costs(logs, work)
        costs["task"] = figures["task"]
        from atokio.pipelines.index_dask import LOGS_PER_TASK

        tasks = -(-count // LOGS_PER_TASK)
        print(f"\nlogs/s ({count} logs): " + ", ".join(
            f"{name} {count / seconds:.0f}" for name, seconds in figures.items()
            if not name.startswith("task")
        ))  # fmt: skip
        print(
            f"Dask over local, 1 worker: {(figures['dask-1'] - figures['local-1']) / tasks * 1e3:+.1f}"
            f" ms per task of {LOGS_PER_TASK} logs "
            f"({(figures['dask-1'] - figures['local-1']) / count * 1e3:+.3f} ms per log)"
        )
        print(
            f"no-op tasks through run_tasks: {figures['task latency'] * 1e3:.2f} ms per task "
            f"with {4 * 2} in flight (latency), {figures['task'] * 1e3:.2f} ms per task with "
            f"all {args.noop_tasks} in flight (scheduler and client throughput)"
        )
        print()
        for line in model(costs, args.cores_per_node, start_up):
            print(line)
        print(f"\n{load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
