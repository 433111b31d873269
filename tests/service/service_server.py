"""For the tests: the report service as a real server process on a free loopback port.

:class:`ServiceProcess` starts ``python -m atokio.cli.serve`` in a working
directory, waits until ``/api/v1/health`` answers, and stops it by its pid
(SIGTERM, then SIGKILL if it does not stop).  Its log (stderr: the request
log and warnings) is kept in a file for the tests to read.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from corpus import DARSHAN, INPUTS

#: The darshan package's own sample logs (found without the corpus).
PACKAGE_LOGS = ("example.darshan", "ior_hdf5_example.darshan")

#: The fields a stand-in ``sacct`` knows, by job: job 4478544 wrote the corpus logs of 2017-03-20,
#: job 4487503 has only the 0-byte placeholder logs of 2017-03-21.
SACCT_JOBS = {
    "4478544": {
        "jobidraw": "4478544",
        "jobname": "tokioabc",
        "start": "2017-03-20T02:07:00",
        "end": "2017-03-20T02:13:00",
        "state": "COMPLETED",
        "nodelist": "nid0[1000-1063]",
    },
    "4487503": {
        "jobidraw": "4487503",
        "jobname": "tokioabc",
        "start": "2017-03-21T04:02:34",
        "end": "2017-03-21T04:10:01",
        "state": "COMPLETED",
        "nodelist": "nid0[0010-0012]",
    },
}

SACCT = r"""#!{python}
import json, sys
jobs = json.loads({jobs!r})
argv = sys.argv[1:]
opts = {{}}
for i, arg in enumerate(argv):
    if arg.startswith("--") and "=" in arg:
        key, value = arg[2:].split("=", 1)
        opts[key] = value
    elif arg in ("--jobs", "-j", "--format", "-o") and i + 1 < len(argv):
        opts[arg.lstrip("-")] = argv[i + 1]
wanted = opts.get("jobs") or opts.get("j") or ""
fields = [f.strip().lower() for f in (opts.get("format") or opts.get("o") or "jobidraw,start,end").split(",")]
names = {{"jobidraw": "JobIDRaw", "nodelist": "NodeList", "jobname": "JobName"}}
print("|".join(names.get(f, f.capitalize()) for f in fields))
for jobid, job in jobs.items():
    if jobid in wanted.split(","):
        print("|".join(str(job.get(f, "")) for f in fields))
"""


def package_log(name: str) -> Path:
    """One of the darshan package's sample logs, or skip when the package is missing."""
    try:
        import darshan.examples.example_logs as logs
    except ImportError:
        pytest.skip("the darshan package (and its sample logs) is not installed")
    path = Path(logs.__file__).parent / name
    if not path.exists():
        pytest.skip(f"the darshan package has no sample log {name}")
    return path


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_sacct(bin_dir: Path) -> Path:
    """A stand-in ``sacct`` in ``bin_dir`` answering for :data:`SACCT_JOBS`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "sacct"
    path.write_text(SACCT.format(python=sys.executable, jobs=json.dumps(SACCT_JOBS)))
    path.chmod(0o755)
    return path


def make_site(work: Path) -> Path:
    """A working directory laid out like the corpus folder, for the corpus ``site.json``.

    The TTS sample is linked where ``hdf5_files`` looks for ``scratch1``
    (``inputs/2018-01-28/snx11025.hdf5``) and the dated Darshan log tree
    where ``darshan_log_dirs`` points.  Without the corpus the folder holds a
    ``site.json`` with no sources (the tests that need the corpus skip).
    """
    work.mkdir(parents=True, exist_ok=True)
    if not DARSHAN.is_dir():
        (work / "site.json").write_text(json.dumps({"lmt_timestep": 5, "hdf5_files": {}}))
        return work
    shutil.copy(INPUTS / "site.json", work / "site.json")
    (work / "inputs" / "2018-01-28").mkdir(parents=True)
    (work / "inputs" / "2018-01-28" / "snx11025.hdf5").symlink_to(
        INPUTS / "snx11025_2018-01-28.hdf5"
    )
    (work / "inputs" / "darshanlogs").symlink_to(INPUTS / "darshanlogs")
    return work


class ServiceProcess:
    """``atokio serve`` in ``workdir`` on a free loopback port (a context manager)."""

    def __init__(
        self,
        workdir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"service-{self.port}.log"
        self.token = token
        self.env = {
            **os.environ,
            "TZ": "America/Los_Angeles",
            "ATOKIO_CONFIG": str(workdir / "site.json"),
            "PATH": f"{workdir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            **(env or {}),
        }
        self.env.pop("ATOKIO_SERVICE_TOKEN", None)
        if token is not None:
            self.env["ATOKIO_SERVICE_TOKEN"] = token
        self.args = ["--port", str(self.port), *args]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The headers every request needs (the bearer token, when one is set)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def log(self) -> str:
        """What the service has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServiceProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "atokio.cli.serve", *self.args],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60.0
        with httpx.Client(headers=self.headers) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"atokio serve exited early:\n{self.log()}")
                try:
                    if client.get(f"{self.url}/api/v1/health", timeout=2.0).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"atokio serve did not answer in 60 s:\n{self.log()}")
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
