"""tools.jobinfo: providers tried in order, ConfigError when none works."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest
from slurm_data import JOBID, NODES, SAMPLE_END, SAMPLE_START, make_jobsdb, sacct_calls

from atokio.common import ConfigError
from atokio.tools import jobinfo


def test_slurm_provider_from_sacct(sacct_bin: Path, site_config: dict) -> None:
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    assert jobinfo.get_job_startend(JOBID) == (SAMPLE_START, SAMPLE_END)
    assert jobinfo.get_job_startend(int(JOBID)) == (SAMPLE_START, SAMPLE_END)
    assert jobinfo.get_job_nodes(JOBID) == set(NODES)
    assert len(sacct_calls(sacct_bin)) == 3


def test_slurm_provider_from_cache(sample_cache: Path, no_sacct: None, site_config: dict) -> None:
    site_config.pop("jobinfo_jobid_providers", None)  # default: slurm
    site_config.pop("jobinfo_jobnodes_providers", None)
    assert jobinfo.get_job_startend(JOBID, cache_file=str(sample_cache)) == (
        SAMPLE_START,
        SAMPLE_END,
    )
    nodes = jobinfo.get_job_nodes(JOBID, cache_file=str(sample_cache))
    assert isinstance(nodes, set) and len(nodes) == 128


def test_corpus_caches(corpus_slurm: Path, corpus_jobsdb: Path, no_sacct: None,
                       site_config: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    assert jobinfo.get_job_startend(JOBID, cache_file=str(corpus_slurm)) == (
        SAMPLE_START,
        SAMPLE_END,
    )
    monkeypatch.setenv("NERSC_HOST", "edison")
    # slurm cannot read the SQLite file, so the jobs database answers
    assert jobinfo.get_job_startend(JOBID, cache_file=str(corpus_jobsdb)) == (
        datetime.datetime(2017, 3, 20, 1, 59, 2),
        datetime.datetime(2017, 3, 20, 2, 11, 38),
    )


def test_falls_back_to_the_jobs_database(tmp_path: Path, no_sacct: None, site_config: dict) -> None:
    database = make_jobsdb(tmp_path / "jobs.sqlite3")
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    site_config["nersc_host"] = "edison"
    start, end = jobinfo.get_job_startend("101", cache_file=str(database))
    assert (start, end) == (
        datetime.datetime.fromtimestamp(1600),
        datetime.datetime.fromtimestamp(1700),
    )


def test_order_is_respected(sacct_bin: Path, tmp_path: Path, site_config: dict) -> None:
    database = make_jobsdb(tmp_path / "jobs.sqlite3", [(f"{JOBID}.edison", "edison", 10, 20, 1)])
    site_config["nersc_host"] = "edison"
    site_config["jobinfo_jobid_providers"] = ["nersc_jobsdb", "slurm"]
    assert jobinfo.get_job_startend(JOBID, cache_file=str(database)) == (
        datetime.datetime.fromtimestamp(10), datetime.datetime.fromtimestamp(20),
    )  # fmt: skip
    assert sacct_calls(sacct_bin) == []  # slurm was never asked
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    assert jobinfo.get_job_startend(JOBID) == (SAMPLE_START, SAMPLE_END)


def test_unknown_job_goes_to_the_next_provider(sacct_bin: Path, tmp_path: Path,
                                               site_config: dict) -> None:  # fmt: skip
    database = make_jobsdb(tmp_path / "jobs.sqlite3", [("777.edison", "edison", 10, 20, 1)])
    site_config["nersc_host"] = "edison"
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    # sacct knows nothing of job 777 (it prints only its header), and without a
    # cache file the jobs database provider has no database to ask
    with pytest.raises(ConfigError, match="slurm: JobNotFound: Slurm has no record of job 777"):
        jobinfo.get_job_startend("777")
    assert jobinfo.get_job_startend("777", cache_file=str(database))[1] == (
        datetime.datetime.fromtimestamp(20)
    )


def test_config_error_when_nothing_works(no_sacct: None, site_config: dict,
                                         caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    with pytest.raises(ConfigError) as caught:
        jobinfo.get_job_startend(JOBID)
    message = str(caught.value)
    assert message.startswith(f"No valid job id provider found for job {JOBID}")
    assert "slurm: FileNotFoundError: sacct: command not found" in message
    assert "nersc_jobsdb: ConfigError: set nersc_host" in message
    assert isinstance(caught.value, RuntimeError)

    site_config["jobinfo_jobid_providers"] = ["pbs"]
    with caplog.at_level(logging.WARNING):
        with pytest.raises(ConfigError, match="pbs: not a job id provider"):
            jobinfo.get_job_startend(JOBID)
    assert "unknown job id provider 'pbs'" in caplog.text

    site_config["jobinfo_jobid_providers"] = []
    with pytest.raises(ConfigError, match="lists no provider"):
        jobinfo.get_job_startend(JOBID)

    site_config["jobinfo_jobnodes_providers"] = ["nersc_jobsdb"]  # knows no node lists
    with pytest.raises(ConfigError, match="nersc_jobsdb: not a job nodes provider"):
        jobinfo.get_job_nodes(JOBID)


def test_cache_of_several_jobs_keeps_the_asked_one(tmp_path: Path, no_sacct: None) -> None:
    from slurm_data import OTHER_JOB, SAMPLE_JOB, sacct_text

    cache = tmp_path / "two.txt"
    cache.write_text(sacct_text({**SAMPLE_JOB, **OTHER_JOB}))
    assert jobinfo.get_job_startend(JOBID, cache_file=str(cache)) == (SAMPLE_START, SAMPLE_END)
    assert jobinfo.get_job_nodes("4487503", cache_file=str(cache)) == {
        "nid00010", "nid00011", "nid00012", "nid00020",
    }  # fmt: skip
