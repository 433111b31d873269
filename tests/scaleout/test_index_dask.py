"""index_darshanlogs on Dask: the local run's database, Parquet output, a killed worker, the CLI."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from dask_processes import DaskProcesses
from index_helpers import dump, duplicates, make_logs

from atokio.cli import index_darshanlogs as cli
from atokio.pipelines import index_dask
from atokio.pipelines.darshan_index import index_darshanlogs
from atokio.pipelines.index_parquet import day_of, read_parquet_table
from atokio.pipelines.scaleout import SCHEDULER_ENV


@pytest.fixture
def no_fsnames(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``mount_to_fsname`` rules: file-system names are the mount points."""
    from atokio import config

    monkeypatch.setitem(config.CONFIG, "mount_to_fsname", {})


@pytest.fixture
def small_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks of 3 logs, so that a small input makes many tasks."""
    monkeypatch.setattr(index_dask, "LOGS_PER_TASK", 3)


def local_index(logs: list[str], db: Path) -> dict[str, int]:
    return index_darshanlogs(logs, str(db), threads=1, quiet=True)


def test_dask_processes_give_the_local_database(
    dask_processes: DaskProcesses, tmp_path: Path, no_fsnames: None, small_tasks: None,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    absolute = make_logs(tmp_path / "logs", 30, bad=2)
    local = local_index(absolute, tmp_path / "local.db")
    monkeypatch.chdir(tmp_path)  # relative paths: the Dask workers run in another directory
    logs = [os.path.relpath(log) for log in absolute]
    assert local == {"indexed": 30, "skipped": 0, "failed": 2}
    ticks: list[int] = []
    with caplog.at_level(logging.WARNING):
        counts = index_darshanlogs(
            logs, str(tmp_path / "dask.db"), scheduler=dask_processes.address, progress=ticks.append
        )
    assert counts == local
    assert sum(ticks) == 32
    assert dump(tmp_path / "dask.db") == dump(tmp_path / "local.db")
    unreadable = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(unreadable) == 2
    assert all(f"{os.sep}logs{os.sep}broken" in message for message in unreadable)
    # a second run resumes: nothing is read again
    again = index_darshanlogs(logs, str(tmp_path / "dask.db"), scheduler=dask_processes.address)
    assert again == {"indexed": 0, "skipped": 30, "failed": 2}
    assert dump(tmp_path / "dask.db") == dump(tmp_path / "local.db")


def test_resuming_a_partial_index_on_a_local_cluster(
    local_cluster: str, tmp_path: Path, no_fsnames: None, small_tasks: None
) -> None:
    logs = make_logs(tmp_path / "logs", 24)
    local_index(logs, tmp_path / "local.db")
    db = tmp_path / "dask.db"
    local_index(logs[:10], db)
    counts = index_darshanlogs(logs, str(db), scheduler=local_cluster)
    assert counts == {"indexed": 14, "skipped": 10, "failed": 0}
    assert dump(db) == dump(tmp_path / "local.db")


def test_a_killed_worker_loses_no_rows(
    dask_processes: DaskProcesses, tmp_path: Path, no_fsnames: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_dask, "LOGS_PER_TASK", 1)
    logs = make_logs(tmp_path / "logs", 60)
    local_index(logs, tmp_path / "local.db")
    killed: list[int] = []

    def kill_once(done: int) -> None:
        if not killed:  # the first results are in: the other tasks are queued or running
            dask_processes.kill_worker(0)
            killed.append(done)

    db = tmp_path / "dask.db"
    counts = index_darshanlogs(logs, str(db), scheduler=dask_processes.address, progress=kill_once)
    assert killed
    assert dask_processes.workers[0].returncode == -9
    assert counts == {"indexed": 60, "skipped": 0, "failed": 0}
    assert duplicates(db) == []
    assert dump(db) == dump(tmp_path / "local.db")
    from distributed import Client

    with Client(dask_processes.address) as client:
        assert len(client.scheduler_info()["workers"]) == 1


def test_parquet_has_the_sqlite_rows(
    local_cluster: str, tmp_path: Path, no_fsnames: None, small_tasks: None
) -> None:
    logs = make_logs(tmp_path / "logs", 20, bad=1)
    local_index(logs, tmp_path / "local.db")
    out = tmp_path / "index.parquet"
    counts = index_darshanlogs(logs, str(out), scheduler=local_cluster, format="parquet")
    assert counts == {"indexed": 20, "skipped": 0, "failed": 1}
    expected = dump(tmp_path / "local.db")
    for table in ("mounts", "headers", "summaries"):
        got = read_parquet_table(out, table)
        if table != "mounts":
            got = got.drop(["day"])
        assert sorted(tuple(r.values()) for r in got.to_pylist()) == expected[table], table
    headers = read_parquet_table(out, "headers").to_pylist()
    days = {r["log_id"]: r["day"] for r in headers}
    assert all(r["day"] == day_of(r["start_time"]) for r in headers)
    assert len(set(days.values())) > 1  # the package logs ran on different days
    summaries = read_parquet_table(out, "summaries").to_pylist()
    assert all(r["day"] == days[r["log_id"]] for r in summaries)
    again = index_darshanlogs(logs, str(out), scheduler=local_cluster, format="parquet")
    assert again == {"indexed": 0, "skipped": 20, "failed": 1}
    # without Dask too
    local_out = tmp_path / "local.parquet"
    assert index_darshanlogs(logs, str(local_out), format="parquet") == counts
    assert sorted(map(str, read_parquet_table(local_out, "summaries").to_pylist())) == sorted(
        map(str, summaries)
    )


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^unknown index format 'csv': use sqlite or parquet$"):
        index_darshanlogs([], str(tmp_path / "x"), format="csv")


# -- the command line -----------------------------------------------------------------------


def test_cli_scheduler_and_format(
    local_cluster: str, tmp_path: Path, no_fsnames: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_logs(tmp_path / "logs", 9)
    local_index([str(tmp_path / "logs")], tmp_path / "local.db")  # a directory: sorted
    db = tmp_path / "cli.db"
    assert (
        cli.main(["-q", "--scheduler", local_cluster, "-o", str(db), str(tmp_path / "logs")]) == 0
    )
    assert dump(db) == dump(tmp_path / "local.db")
    monkeypatch.setenv(SCHEDULER_ENV, local_cluster)
    out = tmp_path / "cli.parquet"
    assert cli.main(["-q", "--format", "parquet", "-o", str(out), str(tmp_path / "logs")]) == 0
    assert read_parquet_table(out, "headers").num_rows == 9


def test_cli_rejects_a_bad_scheduler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with pytest.raises(SystemExit) as caught:
        cli.main(["--scheduler", "node7:8786", "-o", str(tmp_path / "x.db"), str(tmp_path)])
    assert caught.value.code == 2
    assert "error: --scheduler 'node7:8786' is not a Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_the_slurm_example_runs_on_a_local_cluster(tmp_path: Path) -> None:
    import subprocess
    import sys

    example = (
        Path(__file__).resolve().parents[2] / "docs" / "examples" / "slurm_index_darshanlogs.py"
    )
    logs = make_logs(tmp_path / "logs" / "2017" / "3", 7)
    (tmp_path / "logs" / "2017" / "4").mkdir()
    for log in logs[4:]:  # a tree of day directories, as sites keep them
        Path(log).rename(tmp_path / "logs" / "2017" / "4" / Path(log).name)
    db = tmp_path / "example.db"
    done = subprocess.run(
        [sys.executable, str(example), "--local", "1", "-o", str(db), str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "indexed 7, already indexed 0, unreadable or empty 0\n"
    assert len(dump(db)["headers"]) == 7
