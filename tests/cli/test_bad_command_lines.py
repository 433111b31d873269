"""Bad command lines over every tool: a non-zero status, one clear line, no file touched.

Each case runs a tool in this process through :func:`as_program` (what the
installed command does) in a folder holding an empty file, a file of random
bytes, an existing output whose bytes must not change and nothing else.  A
failure must end with status 1 and exactly one line from the tool
(``tool: what failed: the path or value: what to do``), after at most one
library warning per bad input; a usage error with status 2 and argparse's
``tool: error: ...``.  No traceback, no exception class name, no HDF5
internals, and afterwards the folder holds exactly what it held before.  A
few cases run as real processes too.
"""

from __future__ import annotations

import importlib
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from atokio.cli._common import as_program

ROOT = Path(__file__).resolve().parents[2]
WINDOW = ["2019-01-11T00:00:00", "2019-01-11T01:00:00"]
GOOD = '{"kept": true}'
NOWHERE = "/nonexistent-dir/x.out"
SECRET = "pw-never-shown"

#: What no message may show: exception class names, wrappers, HDF5 internals, tracebacks.
FORBIDDEN = re.compile(
    r"Traceback|\b[A-Z][A-Za-z]*(?:Error|Exception|Group)\b|errno =|synchronously|"
    r"\bsub-exception|File \""
)

#: (tool, argv, status); ``E``/``G`` are the empty and random files, ``O`` the existing output.
CASES: list[tuple[str, list[str], int]] = [
    # Darshan logs
    ("cache_darshan", ["missing.darshan"], 1),
    ("cache_darshan", ["E"], 1),
    ("cache_darshan", ["G"], 1),
    ("cache_darshan", ["-o", "O", "missing.darshan"], 1),
    ("cache_darshan", ["-o", "O", "G"], 1),
    ("cache_darshan", ["-o", NOWHERE, "G"], 2),
    ("cache_darshan", ["--reader", "magic", "G"], 2),
    ("darshan_bad_ost", ["missing.darshan"], 1),
    ("darshan_bad_ost", ["G"], 1),
    ("darshan_bad_ost", ["-p", "x", "G"], 2),
    ("summarize_job", ["missing.darshan"], 1),
    ("summarize_job", ["-j", "G"], 1),
    ("summarize_darshanlogs", ["missing.darshan"], 1),
    ("summarize_darshanlogs", ["-o", "O", "G"], 1),
    ("summarize_darshanlogs", ["-t", "-1", "G"], 2),
    ("summarize_darshanlogs", ["-o", NOWHERE, "G"], 2),
    ("index_darshanlogs", ["-t", "-2", "-o", "O", "G"], 2),
    ("index_darshanlogs", ["-o", NOWHERE, "G"], 2),
    ("find_darshanlogs", ["-s", "20190111"], 2),
    ("find_darshanlogs", ["-u", "someone"], 2),
    ("find_darshanlogs", ["--logdir", "missing-dir", "-s", "2019-01-11"], 1),
    ("darshan_scoreboard", ["missing.db"], 1),
    ("darshan_scoreboard", ["G"], 1),
    ("darshan_scoreboard", ["--max-show", "-3", "G"], 2),
    # jobs and topology
    ("cache_slurm", ["missing.json"], 1),
    ("cache_slurm", ["E"], 1),
    ("cache_slurm", ["-o", "O", "G"], 1),
    ("cache_slurm", ["-o", NOWHERE, "E"], 2),
    ("cache_topology", ["--jobinfo-cache", "missing.json", "--nodemap-cache", "G"], 1),
    ("cache_topology", ["-o", "O", "--jobinfo-cache", "G", "--nodemap-cache", "G"], 1),
    ("cache_nersc_jobsdb", ["-i", "missing.sqlite", *WINDOW, "edison"], 1),
    ("cache_nersc_jobsdb", ["-i", "G", "-o", "O", *WINDOW, "edison"], 1),
    ("cache_nersc_jobsdb", ["-i", "G", "2019-01-11", WINDOW[1], "edison"], 2),
    # LMT, TTS and Lustre
    ("cache_lmtdb", ["-i", "missing.sqlite", "-o", "O", *WINDOW], 1),
    ("cache_lmtdb", ["-i", "G", "-o", "O", *WINDOW], 1),
    ("cache_lmtdb", ["-i", "E", "-o", "O", *WINDOW], 1),
    ("cache_lmtdb", ["-i", "G", "-o", NOWHERE, *WINDOW], 2),
    # a database that does not answer (nothing listens on port 1); the password stays hidden
    (
        "cache_lmtdb",
        [
            "--host",
            "127.0.0.1:1",
            "--user",
            "u",
            "--password",
            SECRET,
            "--database",
            "lmt",
            "-o",
            "O",
            *WINDOW,
        ],
        1,
    ),  # fmt: skip
    ("cache_lmtdb", ["-i", "G", "-l", "-1", *WINDOW], 2),
    ("cache_lmtdb", ["-i", "G", "yesterday", WINDOW[1]], 2),
    ("summarize_h5lmt", ["missing.hdf5"], 1),
    ("summarize_h5lmt", ["G"], 1),
    ("summarize_h5lmt", ["E"], 1),
    ("summarize_h5lmt", ["--bins", "0", "G"], 2),
    ("summarize_h5lmt", ["--start", "2019-13-01", "--end", "2019-01-02", "x"], 2),
    ("summarize_tts", ["missing.hdf5"], 1),
    ("summarize_tts", ["G"], 1),
    ("cache_lfsstatus", ["--fullness", "missing.txt", "scratch1", WINDOW[0]], 1),
    ("cache_lfsstatus", ["-o", "O", "--failure", "E", "scratch1", WINDOW[0]], 1),
    ("cache_lfsstatus", ["--failure", "E", "scratch1", "noon"], 2),
    # mmperfmon, ISDCT
    ("cache_mmperfmon", ["missing.txt"], 1),
    ("cache_mmperfmon", ["E"], 1),
    ("cache_mmperfmon", ["-o", "O", "G"], 1),
    ("cache_mmperfmon", ["-c", "G"], 2),
    ("cache_isdct", ["missing.tgz"], 1),
    ("cache_isdct", ["-o", "O", "E"], 1),
    ("cache_isdct", ["-o", "O", "G"], 1),
    ("compare_isdct", ["missing.tgz", "G"], 1),
    ("compare_isdct", ["G", "G"], 1),
    # HTTP and Elasticsearch sources
    ("cache_esnet_snmp", ["-i", "missing.json", "sunn-cr5:to_nersc_ip-b"], 1),
    ("cache_esnet_snmp", ["-i", "G", "-o", "O", "sunn-cr5:to_nersc_ip-b"], 1),
    ("cache_esnet_snmp", ["--timeout", "-1", "sunn-cr5:to_nersc_ip-b"], 2),
    ("cache_esnet_snmp", ["--retries", "-1", "sunn-cr5:to_nersc_ip-b"], 2),
    ("cache_esnet_snmp", ["-s", "2019-01-11 00:00", "sunn-cr5:to_nersc_ip-b"], 2),
    ("cache_collectdes", ["--input", "missing.json", *WINDOW], 1),
    ("cache_collectdes", ["--input", "G", "-o", "O", *WINDOW], 1),
    ("cache_collectdes", ["--timeout", "0", *WINDOW], 2),
    ("cache_collectdes", [WINDOW[1], WINDOW[0]], 2),
    ("cache_nersc_globuslogs", ["--input", "missing.json", *WINDOW], 1),
    ("cache_nersc_globuslogs", ["--input", "G", "-o", "O", *WINDOW], 1),
    ("cache_nersc_globuslogs", ["-o", NOWHERE, *WINDOW], 2),
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder with ``E`` (empty), ``G`` (random bytes) and ``O`` (an existing output)."""
    (tmp_path / "E").write_bytes(b"")
    (tmp_path / "G").write_bytes(random.Random(13).randbytes(4096))
    (tmp_path / "O").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTOKIO_SKIP_CONFIG", "1")
    for variable in ("PYTOKIO_LMT_HOST", "NERSC_JOBSDB_HOST", "ATOKIO_TRACEBACK"):
        monkeypatch.delenv(variable, raising=False)
    yield tmp_path


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` and its bytes."""
    return {
        str(item.relative_to(path)): item.read_bytes() for item in path.rglob("*") if item.is_file()
    }


def check_failure(tool: str, status: int, err: str, argv: list[str]) -> None:
    """One line from the tool (after at most one warning per input), nothing a user cannot read."""
    lines = err.splitlines()
    assert lines, (tool, argv)
    assert not FORBIDDEN.search(err), (tool, argv, err)
    if status == 2:
        assert lines[-1].startswith(f"{tool}: error: "), (tool, argv, err)
        return
    own = [line for line in lines if not line.startswith("WARNING: ")]
    assert own == [lines[-1]], (tool, argv, err)
    assert len(lines) <= 2, (tool, argv, err)
    assert re.fullmatch(rf"{tool}: [^:]+.*: .+", lines[-1]), (tool, argv, err)


@pytest.mark.parametrize(("tool", "argv", "status"), CASES, ids=lambda v: str(v))
def test_bad_command_line(
    folder: Path, capsys: pytest.CaptureFixture[str], tool: str, argv: list[str], status: int
) -> None:
    before = snapshot(folder)
    main = importlib.import_module(f"atokio.cli.{tool}").main
    try:
        got = as_program(main, argv)
    except SystemExit as stop:
        got = stop.code
    out, err = capsys.readouterr()
    assert got == status, (tool, argv, out, err)
    check_failure(tool, status, err, argv)
    assert SECRET not in out + err
    assert "Caching to" not in out or status == 1
    assert snapshot(folder) == before  # no output, no partial or scratch file, O unchanged
    assert not os.path.exists(os.path.dirname(NOWHERE))


def test_every_tool_is_swept() -> None:
    from atokio.cli import TOOLS

    archive_tools = {tool for tool in TOOLS if tool.startswith("archive_")}
    assert set(TOOLS) - archive_tools - {"cache_darshanlogs"} == {tool for tool, _, _ in CASES}


def test_output_that_is_a_folder_is_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from atokio.cli import cache_darshan

    with pytest.raises(SystemExit) as stop:
        cache_darshan.main(["-o", str(folder), "G"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"cache_darshan: error: argument -o/--output: output is a directory: {folder}\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_unwritable_output_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from atokio.cli import cache_isdct

    locked = folder / "locked"
    locked.mkdir()
    dump = folder / "dump.json"
    dump.write_text('{"SN1": {"a": 1}}')
    locked.chmod(0o500)
    try:
        assert as_program(cache_isdct.main, ["-o", str(locked / "out.json"), str(dump)]) == 1
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert err.startswith(f"cache_isdct: permission denied: {locked}/")
    assert err.endswith(": check its permissions\n") and err.count("\n") == 1
    assert list(locked.iterdir()) == []


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A tool as a real process, in ``cwd``, without a site configuration."""
    env = {**os.environ, "PYTOKIO_SKIP_CONFIG": "1"}
    env.pop("ATOKIO_TRACEBACK", None)
    return subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_real_processes(folder: Path) -> None:
    missing = run(
        "atokio.cli.cache_darshan", "--reader", "direct", "-o", "O", "missing.darshan", cwd=folder
    )
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        "cache_darshan: missing.darshan: cannot open: No such file or directory: "
        "check that it is a complete Darshan log\n"
    )
    assert (folder / "O").read_text() == GOOD
    bins = run("atokio.cli.summarize_h5lmt", "--bins", "0", "G", cwd=folder)
    assert bins.returncode == 2
    assert bins.stderr.splitlines()[-1] == (
        "summarize_h5lmt: error: argument --bins: '0' is out of range: use a value greater than 0"
    )
    nowhere = run("atokio.cli.cache_isdct", "-o", NOWHERE, "G", cwd=folder)
    assert nowhere.returncode == 2
    assert nowhere.stderr.splitlines()[-1] == (
        "cache_isdct: error: argument -o/--output: output folder does not exist: /nonexistent-dir"
    )
    assert not os.path.exists("/nonexistent-dir")
    hdf5 = run("atokio.cli.summarize_tts", "G", cwd=folder)
    assert (hdf5.returncode, hdf5.stderr) == (
        1,
        "summarize_tts: not a readable HDF5 file: G: check that it is an HDF5 file and not damaged\n",
    )


def test_debug_shows_the_traceback(folder: Path) -> None:
    done = run("atokio.cli.cache_darshan", "--reader", "direct", "--debug", "G", cwd=folder)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert done.stderr.splitlines()[-1].startswith("cache_darshan: G: invalid log file: ")
