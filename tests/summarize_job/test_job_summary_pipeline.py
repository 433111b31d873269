"""atokio.pipelines.job_summary: the record of one log, and of a job id, as library calls."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import anyio
import pytest
from sj_data import write_darshan_log, write_slurm_cache

from atokio.cli import summarize_job as sj
from atokio.collectors.darshanlog import DarshanLogError
from atokio.pipelines import job_summary

LOG_NAME = "me_myapp_id1234_1-28-10-1_1.darshan"


def test_summarize_log_gives_the_record_summarize_job_prints(
    workdir: Path, darshan_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = str(write_darshan_log(workdir / "logs", LOG_NAME))
    assert sj.main(["-j", log]) == 0
    (printed,) = json.loads(capsys.readouterr().out)
    record = job_summary.summarize_log(log)
    assert record["_datetime_start"] == datetime.datetime(2018, 1, 28, 0, 0, 10)
    assert job_summary.record_as_json(record) == printed
    assert printed["_file_system"] == "testfs" and printed["fs_tot_bytes_written"] == 210.0
    # the async form, under trio as under asyncio
    on_trio = anyio.run(job_summary.asummarize_log, log, backend="trio")
    assert job_summary.record_as_json(on_trio) == printed


def test_an_unreadable_log_gives_an_empty_record(workdir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-log.darshan"
    bad.write_bytes(b"")
    assert job_summary.summarize_log(str(bad), reader="direct", silent_errors=True) == {}
    with pytest.raises(DarshanLogError, match=f"{bad}: invalid log file: empty file"):
        job_summary.summarize_log(str(bad), reader="direct")


def test_summarize_jobid_fetches_every_source_and_names_the_failed_ones(
    workdir: Path, darshan_bin: Path, site_config: dict
) -> None:
    log_dir = workdir / "darshanlogs"
    log = write_darshan_log(log_dir / "2018" / "1" / "28", LOG_NAME)
    site_config["darshan_log_dirs"] = str(log_dir)
    slurm = str(write_slurm_cache(workdir / "slurm.json"))
    record = job_summary.summarize_jobid("1234", cache_file=slurm)
    assert record["_failed_sources"] == {}
    assert record["_jobid"] == "1234"
    # the job's own times, not the log's
    assert record["_datetime_start"] == datetime.datetime(2018, 1, 28, 0, 0, 5)
    assert record["_datetime_end"] == datetime.datetime(2018, 1, 28, 0, 0, 40)
    assert record["_darshan_logs"] == [str(log)]
    assert record["_file_system"] == "testfs"  # from the log's busiest mount
    from_log = job_summary.summarize_log(str(log))
    assert {k: v for k, v in record.items() if k.startswith("darshan_")} == {
        k: v for k, v in from_log.items() if k.startswith("darshan_")
    }
    # the TTS rows of 00:00:10, 00:00:20 and 00:00:30 (the 10 s rows in [00:00:05, 00:00:40))
    assert record["fs_tot_bytes_written"] == 30 + 70 + 110
    # a job without logs: the other sources still answer, the Darshan one is named
    write_slurm_cache(workdir / "other.json", jobid="999")
    other = job_summary.summarize_jobid("999", cache_file=str(workdir / "other.json"))
    assert other["_darshan_logs"] == []
    assert other["_failed_sources"] == {
        "darshan": "FileNotFoundError: no Darshan log of job 999 in the configured log dirs"
    }
    assert not [k for k in other if k.startswith(("darshan_", "fs_"))]
    with_fs = job_summary.summarize_jobid(
        "999", cache_file=str(workdir / "other.json"), file_system="testfs"
    )
    assert with_fs["fs_tot_bytes_written"] == record["fs_tot_bytes_written"]


def test_summarize_jobid_of_an_unknown_job(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no sacct
    monkeypatch.delenv("ATOKIO_SACCT", raising=False)
    record = job_summary.summarize_jobid("4321")
    assert set(record) == {"_jobid", "_failed_sources"}
    assert list(record["_failed_sources"]) == ["jobinfo"]
    assert record["_failed_sources"]["jobinfo"].startswith(
        "ConfigError: No valid job id provider found for job 4321 (slurm: "
    )
