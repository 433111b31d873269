#!/usr/bin/env python3
"""Benchmark: the report service under a burst of Darshan summaries, health polled meanwhile.

Starts ``atokio serve`` (a real server process on a free loopback port), sends
``--requests`` (64) ``POST /api/v1/darshan/summary`` requests at once, cycling
over the sample logs (the corpus's real logs when ``../shared/corpus`` is
there, else the darshan package's sample logs), while ``GET /api/v1/health``
is asked by another process every ``--poll`` seconds after the previous answer\n(so that the figures are the server's, not this client's event loop's).

Reported:

* **throughput**: summaries answered per second (wall time of the burst);
* **health latency**: worst, median and 99th percentile over the burst, and
  before it, for ``--baseline`` seconds with no other request: the same
  figures for the machine's own noise (other work on a shared machine
  delays a process however idle its event loop is).

Goal: the health endpoint's worst latency under 100 ms on this 2-core
machine (the event loop is never blocked: logs are read in worker
processes behind a capacity limit).  The load average before and after is
printed, since other work on the machine shows up in the figures.

    python bench/bench_service.py [--requests 64] [--loop asyncio|trio] [--poll 0.01]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS_LOGS = ("sample", "sample-2", "sample-badost", "sample-goodost", "noposix", "noposixopens")
GOAL_HEALTH_MS = 100.0


def sample_logs() -> list[Path]:
    """The corpus's real logs, or the darshan package's sample logs."""
    if (CORPUS / "darshan").is_dir():
        return [CORPUS / "darshan" / f"{name}.darshan" for name in CORPUS_LOGS]
    import darshan.examples.example_logs as package

    folder = Path(package.__file__).parent
    return sorted(folder.glob("*.darshan"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def poll_health(url: str, poll: float, stop: Any, out: Any) -> None:
    """Ask for health until ``stop`` is set; send the latencies (ms) to ``out`` (own process)."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = client.get("/api/v1/health")
            latencies.append((time.perf_counter() - started) * 1000.0)
            if answer.status_code != 200:
                raise SystemExit(f"health answered {answer.status_code}")
            time.sleep(poll)
    out.send(latencies)


async def send_summaries(
    url: str, logs: list[Path], requests: int, ready: Any, go: Any
) -> tuple[float, list[int]]:
    """Warm up with one request per log, then send ``requests`` summaries at once."""
    bodies = [(path.name, path.read_bytes()) for path in logs]
    statuses: list[int] = []
    async with httpx.AsyncClient(
        base_url=url, timeout=600, limits=httpx.Limits(max_connections=requests + 4)
    ) as client:
        # one request of each log first: worker processes started, imports done
        for name, body in bodies:
            await client.post("/api/v1/darshan/summary", params={"filename": name}, content=body)
        ready.set()
        await anyio.to_thread.run_sync(go.wait)

        async def one(index: int) -> None:
            name, body = bodies[index % len(bodies)]
            answer = await client.post(
                "/api/v1/darshan/summary", params={"filename": name}, content=body
            )
            statuses.append(answer.status_code)

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for index in range(requests):
                group.start_soon(one, index)
        return time.perf_counter() - started, statuses


def burst_process(
    url: str, logs: list[Path], requests: int, niceness: int, ready: Any, go: Any, out: Any
) -> None:
    """The burst, in its own process below the server's CPU priority (a remote client's place)."""
    if niceness:
        os.nice(niceness)
    out.send(anyio.run(send_summaries, url, logs, requests, ready, go))


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


def measure(
    url: str, logs: list[Path], requests: int, poll: float, baseline: float, niceness: int
) -> dict[str, Any]:
    """Health alone for ``baseline`` seconds, then health during the burst; the figures."""
    context = multiprocessing.get_context("spawn")

    def start_poller() -> tuple[Any, Any, Any]:
        stop = context.Event()
        receive, send = context.Pipe(duplex=False)
        poller = context.Process(target=poll_health, args=(url, poll, stop, send))
        poller.start()
        return poller, stop, receive

    def stop_poller(poller: Any, stop: Any, receive: Any) -> list[float]:
        stop.set()
        latencies: list[float] = sorted(receive.recv())
        poller.join()
        return latencies

    ready, go = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    sender = context.Process(
        target=burst_process, args=(url, logs, requests, niceness, ready, go, send)
    )
    sender.start()
    ready.wait()
    # the baseline: health alone, on this machine as loaded as it is now
    idle = start_poller()
    time.sleep(baseline)
    quiet = stop_poller(*idle)
    busy = start_poller()
    time.sleep(0.5)  # the poller is running before the burst starts
    go.set()
    elapsed, statuses = receive.recv()
    health = stop_poller(*busy)
    sender.join()
    return {
        "idle_polls": len(quiet),
        "idle_worst_ms": quiet[-1],
        "idle_p99_ms": percentile(quiet, 0.99),
        "requests": requests,
        "ok": statuses.count(200),
        "seconds": elapsed,
        "throughput_per_s": requests / elapsed,
        "health_polls": len(health),
        "health_worst_ms": health[-1],
        "health_median_ms": statistics.median(health),
        "health_p99_ms": percentile(health, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--loop", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--poll", type=float, default=0.01, help="pause between health polls (s)")
    parser.add_argument(
        "--baseline",
        type=float,
        default=5.0,
        help="seconds of health polls with no other request first (the machine's own noise)",
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=10,
        help="CPU niceness of the process sending the burst (0: same priority as the server)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    logs = sample_logs()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    before = load()
    with tempfile.TemporaryDirectory() as work:
        Path(work, "site.json").write_text(json.dumps({"lmt_timestep": 5}))
        env = {**os.environ, "ATOKIO_CONFIG": str(Path(work, "site.json"))}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "atokio.cli.serve",
                "--port",
                str(port),
                "--loop",
                args.loop,
                "-q",
            ],
            cwd=work,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("atokio serve did not start")
                time.sleep(0.1)
            figures = measure(url, logs, args.requests, args.poll, args.baseline, args.client_nice)
        finally:
            os.kill(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    figures.update(
        {"loop": args.loop, "logs": len(logs), "load_before": before, "load_after": load()}
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"logs: {len(logs)} sample logs, {args.requests} summaries at once, loop {args.loop}")
    print(f"load average before: {before}   after: {figures['load_after']}")
    print(
        f"throughput: {figures['throughput_per_s']:.1f} summaries/s "
        f"({figures['ok']}/{args.requests} answered 200 in {figures['seconds']:.2f} s)"
    )
    worst = float(figures["health_worst_ms"])
    verdict = "met" if worst < GOAL_HEALTH_MS else "MISSED"
    print(
        f"health latency over {figures['health_polls']} polls: worst {worst:.1f} ms, "
        f"median {figures['health_median_ms']:.1f} ms, p99 {figures['health_p99_ms']:.1f} ms "
        f"(goal < {GOAL_HEALTH_MS:.0f} ms: {verdict})"
    )
    print(
        f"health latency with no other request ({figures['idle_polls']} polls, the machine's "
        f"noise): worst {figures['idle_worst_ms']:.1f} ms, p99 {figures['idle_p99_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
