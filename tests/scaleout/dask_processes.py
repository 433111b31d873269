"""Real Dask clusters for the scale-out tests: a LocalCluster, or separate `dask` processes.

:class:`DaskProcesses` starts ``dask scheduler`` and two ``dask worker``
processes (one thread each, no nanny, so that a killed worker stays dead) on
loopback, from this interpreter's environment, and stops them again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
#: Seconds allowed for the scheduler and its workers to come up.
START_TIMEOUT = 60.0


def dask_command() -> list[str]:
    """The ``dask`` command of this interpreter's environment."""
    found = shutil.which("dask", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the dask command is not installed (pip install 'atokio[dask]')")
    return [found]


class DaskProcesses:
    """A scheduler and ``workers`` worker processes started as separate ``dask`` commands."""

    def __init__(self, folder: Path, workers: int = 2) -> None:
        self.folder = folder
        self.wanted = workers
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def _start(self, argv: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")
        # the tests' helper modules (task functions pickled by reference) import on the workers
        path = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
        env = dict(os.environ, PYTHONPATH=path)
        try:
            return subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, env=env
            )
        finally:
            log.close()

    def start(self) -> DaskProcesses:
        """Start the scheduler, then the workers; return once all workers have joined."""
        self.folder.mkdir(parents=True, exist_ok=True)
        scheduler_file = self.folder / "scheduler.json"
        dask = dask_command()
        self.scheduler = self._start(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)],
            "scheduler",
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not scheduler_file.exists():
            self._check_alive(self.scheduler, "scheduler", deadline)
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written whole; give it a moment to be closed
        self.address = json.loads(scheduler_file.read_text())["address"]
        for n in range(self.wanted):
            self.workers.append(
                self._start(
                    [*dask, "worker", self.address, "--nthreads", "1", "--no-nanny",
                     "--no-dashboard", "--memory-limit", "0", "--name", f"worker-{n}",
                     "--host", "127.0.0.1"],
                    f"worker-{n}",
                )
            )  # fmt: skip
        from distributed import Client

        with Client(self.address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(self.wanted, timeout=START_TIMEOUT)
        return self

    def _check_alive(self, process: subprocess.Popen[bytes], name: str, deadline: float) -> None:
        if process.poll() is not None:
            log = (self.folder / f"{name}.log").read_text(errors="replace")
            raise RuntimeError(f"dask {name} exited with status {process.returncode}:\n{log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"dask {name} did not start within {START_TIMEOUT:g} s")

    def kill_worker(self, n: int) -> None:
        """SIGKILL worker ``n`` (it is not restarted) and reap it."""
        process = self.workers[n]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the workers, then the scheduler (SIGTERM, SIGKILL after 10 s)."""
        for process in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def __enter__(self) -> DaskProcesses:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
