"""The collector core, under asyncio and trio: subprocesses, files, fan-out, workers, sync bridge."""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
from pathlib import Path

import anyio
import pytest
import trio

from atokio.collectors.fanout import SourceFailure, gather
from atokio.collectors.files import open_binary, parse_file, read_file
from atokio.collectors.subprocess import CommandError, iter_command, run_command
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import map_in_workers, run_in_worker
from atokio.parsers.base import LineParser, ParseError

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


class Lines(LineParser[str]):
    """Each line is a record; a line 'BAD' is an error."""

    def parse_line(self, line: str) -> list[str]:
        if line == "BAD":
            raise self.error("bad line", line)
        return [line]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers; look at its state
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


async def test_streams_stdout_and_captures_stderr(anyio_backend: str) -> None:
    code = "import sys\nfor i in range(5000): print('line', i)\nsys.stderr.write('done\\n')\nsys.exit(3)"
    result = await run_command(python(code), Lines("test"))
    assert result.records == [f"line {i}" for i in range(5000)]
    assert result.returncode == 3
    assert result.stderr == "done\n"
    assert result.error is None
    with pytest.raises(CommandError, match="exited with status 3: done"):
        await run_command(python(code), Lines("test"), check=True)


async def test_records_arrive_while_the_command_runs(anyio_backend: str) -> None:
    code = "import sys, time\nprint('first', flush=True)\ntime.sleep(30)\nprint('second')"
    async with iter_command(python(code), Lines("test")) as stream:
        async for batch in stream:
            assert batch == ["first"]
            break  # leaving early kills the child
    pid = stream.process.pid
    assert not alive(pid)


async def test_parse_error_keeps_earlier_records(anyio_backend: str) -> None:
    result = await run_command(
        python("print('a'); print('b'); print('BAD'); print('c')"), Lines("cmd")
    )
    assert result.records == ["a", "b"]
    assert isinstance(result.error, ParseError)
    assert str(result.error) == "cmd:3: bad line: 'BAD'"
    assert result.returncode == 0


async def test_timeout_kills_the_child(anyio_backend: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    code = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    with pytest.raises(TimeoutError):
        await run_command(python(code), Lines("t"), timeout=1.0)
    assert not alive(int(pidfile.read_text()))


async def test_cancellation_kills_the_child(anyio_backend: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    code = f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    with anyio.move_on_after(1.0) as scope:
        await run_command(python(code), Lines("t"))
    assert scope.cancelled_caught
    assert not alive(int(pidfile.read_text()))


async def test_missing_program(anyio_backend: str) -> None:
    with pytest.raises(FileNotFoundError, match="^no-such-program-xyz: command not found$"):
        await run_command(["no-such-program-xyz"], Lines("t"))


async def test_plain_and_gzip_files(anyio_backend: str, tmp_path: Path) -> None:
    text = "".join(f"row {i}\n" for i in range(10000)).encode()
    plain, packed, renamed = tmp_path / "a.txt", tmp_path / "a.txt.gz", tmp_path / "a.data"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    renamed.write_bytes(gzip.compress(text))
    want = [f"row {i}" for i in range(10000)]
    for path in (plain, packed, renamed):
        assert await read_file(path, Lines(str(path)), chunk_size=997) == want
        assert parse_file(path, Lines(str(path)), chunk_size=4096) == want
        with open_binary(path) as handle:
            assert handle.read() == text
    with pytest.raises(FileNotFoundError, match="nothing.txt: no such file"):
        open_binary(tmp_path / "nothing.txt")


async def test_fanout_reports_failures_and_keeps_the_rest(anyio_backend: str) -> None:
    running = 0
    most = 0

    def job(name: str):
        async def run() -> str:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await anyio.sleep(0.01)
            running -= 1
            if name == "bad":
                raise ValueError("no such interface")
            return name.upper()

        return run

    names = ["a", "b", "bad", "c", "d", "e", "f", "g"]
    outcome = await gather({n: job(n) for n in names}, limit=3)
    assert list(outcome.results) == ["a", "b", "c", "d", "e", "f", "g"]
    assert outcome.results["g"] == "G"
    assert len(outcome.failures) == 1
    failure = outcome.failures[0]
    assert isinstance(failure, SourceFailure) and failure.source == "bad"
    assert str(failure) == "bad: ValueError: no such interface"
    assert most == 3
    with pytest.raises(ValueError, match="no such interface"):
        outcome.raise_first()


def square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError("three")
    return n * n


@pytest.mark.parametrize("workers", [1, 2])
async def test_map_in_workers(anyio_backend: str, workers: int) -> None:
    seen = {}
    async with map_in_workers(square_or_fail, range(8), workers=workers) as results:
        async for item, outcome in results:
            seen[item] = outcome
    assert sorted(seen) == list(range(8))
    assert isinstance(seen.pop(3), ValueError)
    assert seen == {n: n * n for n in range(8) if n != 3}
    assert await run_in_worker(square_or_fail, 12) == 144


def worker_pid(_: object) -> int:
    return os.getpid()


async def test_two_workers_use_other_processes(anyio_backend: str) -> None:
    async with map_in_workers(worker_pid, range(4), workers=2) as results:
        pids = {outcome async for _item, outcome in results}
    assert os.getpid() not in pids


def thread_limits(_: object) -> dict[str, str | None]:
    from atokio.collectors._workerenv import THREAD_LIMITS

    return {name: os.environ.get(name) for name in THREAD_LIMITS}


async def test_workers_run_the_numeric_libraries_on_one_thread(anyio_backend: str) -> None:
    got = await run_in_worker(thread_limits, None)
    assert set(got) == {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert got == {name: os.environ.get(name, "1") for name in got}  # a caller's value is kept
    assert "atokio.collectors._workerenv" not in sys.modules  # this process's is untouched


_OWNER = """
import json, multiprocessing.forkserver, os, signal, sys
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import map_in_workers

def pid(_item):
    return os.getpid()

async def pids():
    async with map_in_workers(pid, range(8), workers=2) as results:  # processes, on any machine
        return sorted({pid async for _item, pid in results})

if __name__ == "__main__":
    workers = run_sync(pids)
    print(json.dumps(workers + [multiprocessing.forkserver._forkserver._forkserver_pid]))
    sys.stdout.flush()
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(0)
"""


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("ending", ["kill", "os._exit"])
def test_worker_processes_end_when_their_owner_dies(tmp_path: Path, ending: str) -> None:
    import json
    import subprocess
    import time

    script = tmp_path / "owner.py"
    script.write_text(_OWNER)
    done = subprocess.run(
        [sys.executable, str(script), ending], capture_output=True, text=True, timeout=120
    )
    pids = json.loads(done.stdout.splitlines()[0])
    assert len(pids) >= 2  # the workers and the fork server
    deadline = time.monotonic() + 30  # a bound on waiting, not a timing assertion
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if running(pid)] == []


def mark_worker(folder: str) -> None:
    import uuid

    Path(folder, f"{os.getpid()}-{uuid.uuid4().hex}").touch()


def test_warm_up_prepares_worker_processes(tmp_path: Path) -> None:
    import time
    from functools import partial

    from atokio.collectors.workers import default_workers, warm_up

    warm_up(default_workers(), partial(mark_worker, str(tmp_path)))
    deadline = time.monotonic() + 60  # a bound on waiting, not a timing assertion
    while len(list(tmp_path.iterdir())) < default_workers() and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = {int(path.name.split("-")[0]) for path in tmp_path.iterdir()}
    assert len(list(tmp_path.iterdir())) == default_workers()  # once per submitted start
    assert pids and os.getpid() not in pids  # in the worker processes


async def double_later(value: int) -> int:
    await anyio.sleep(0)
    return value * 2


def test_run_sync_from_plain_code() -> None:
    assert run_sync(double_later, 21) == 42


def test_run_sync_inside_a_running_asyncio_loop() -> None:
    async def notebook_cell() -> int:
        return run_sync(double_later, 5)  # sync API called with a loop running

    assert asyncio.run(notebook_cell()) == 10


def test_run_sync_inside_trio() -> None:
    async def main() -> int:
        return run_sync(double_later, 7)

    assert trio.run(main) == 14


def test_run_sync_on_trio_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOKIO_BACKEND", "trio")

    async def which() -> str:
        import sniffio

        return sniffio.current_async_library()

    assert run_sync(which) == "trio"
    monkeypatch.setenv("ATOKIO_BACKEND", "curio")
    with pytest.raises(ValueError, match="ATOKIO_BACKEND must be asyncio or trio"):
        run_sync(which)


def test_run_sync_propagates_errors() -> None:
    async def fail() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        run_sync(fail)


def _worker_script(guarded: bool) -> str:
    body = (
        "import os\n"
        "import anyio\n"
        "from atokio.collectors.workers import map_in_workers, processes_can_start\n"
        "os.write(1, b'start\\n')  # one write: lines of several processes do not mix\n"
        "async def work():\n"
        "    async with map_in_workers(abs, range(4), workers=2) as out:\n"
        "        return {value async for _item, value in out}\n"
    )
    run = (
        "results = anyio.run(work)\n"
        "line = f'can_start {processes_can_start()} {sorted(results)}\\n'\n"
        "os.write(1, line.encode())\n"
    )
    if guarded:
        return (
            body
            + 'if __name__ == "__main__":\n'
            + "".join("    " + line + "\n" for line in run.splitlines())
        )
    return body + run


@pytest.mark.parametrize("guarded", [True, False])
def test_unguarded_scripts_get_threads_not_processes(tmp_path: Path, guarded: bool) -> None:
    """A script without a __main__ guard must not be run again by worker processes."""
    import subprocess

    script = tmp_path / "analysis.py"
    script.write_text(_worker_script(guarded))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    lines = done.stdout.splitlines()
    assert [line for line in lines if line != "start"] == [f"can_start {guarded} [0, 1, 2, 3]"]
    if guarded:
        # worker processes did the work: each imported the script again (its top level,
        # outside the guard, printed "start" once more, at whatever moment it started)
        assert lines[0] == "start" and lines.count("start") >= 2
    else:
        assert lines == ["start", "can_start False [0, 1, 2, 3]"]  # ran once, in threads


def test_script_read_from_stdin_gets_threads() -> None:
    """``python - < script``: the workers could not run ``<stdin>`` again."""
    import subprocess

    code = _worker_script(guarded=True)
    done = subprocess.run(
        [sys.executable, "-"], input=code, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == ["start", "can_start False [0, 1, 2, 3]"]


def test_closing_a_gzip_input_closes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "log.txt.gz"
    path.write_bytes(gzip.compress(b"a\nb\n"))
    handle = open_binary(path)
    raw = handle.fileobj  # type: ignore[attr-defined]
    assert handle.read() == b"a\nb\n"
    handle.close()
    assert raw.closed
    plain = tmp_path / "log.txt"
    plain.write_bytes(b"GZ not really\n")
    with open_binary(plain) as handle:
        assert handle.read() == b"GZ not really\n"
