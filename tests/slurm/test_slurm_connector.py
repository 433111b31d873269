"""The Slurm connector: caches, text round trips, sacct through real subprocesses."""

from __future__ import annotations

import datetime
import gzip
import json
import logging
from pathlib import Path

import anyio
import pandas as pd
import pytest
from slurm_data import (
    JOBID,
    NODES,
    OTHER_JOB,
    SAMPLE_END,
    SAMPLE_JOB,
    SAMPLE_START,
    sacct_calls,
    sacct_text,
)

from atokio.connectors import slurm as slurm_module
from atokio.connectors.slurm import (
    _RECAST_KEY_MAP,
    Slurm,
    SlurmEncoder,
    get_job,
    jobs_running_between,
    parse_sacct,
)
from atokio.parsers.base import ParseError

HEADER = "jobidraw|start|end|nodelist"
JOB_LINE = "4478544|2017-03-20T01:59:02|2017-03-20T02:11:38|nid[05301-05428]"
BATCH_LINE = "4478544.batch|2017-03-20T01:59:02|2017-03-20T02:11:38|nid05301"


def _check_sample(slurm: Slurm) -> None:
    assert len(slurm) == 11
    assert slurm.get_job_startend() == (SAMPLE_START, SAMPLE_END)
    nodes = slurm.get_job_nodes()
    assert isinstance(nodes, set) and len(nodes) == 128 and nodes == set(NODES)
    assert slurm.get_job_ids() == [JOBID]
    assert slurm.jobid == JOBID
    assert slurm["4478544.batch"]["start"] == SAMPLE_START


def test_corpus_cache(corpus_slurm: Path) -> None:
    slurm = Slurm(cache_file=str(corpus_slurm))
    _check_sample(slurm)
    # from JSON the node lists stay lists, in the saved order
    assert isinstance(slurm["4478544.extern"]["nodelist"], list)
    # ... so the cache is written back byte for byte
    assert slurm.to_json() == corpus_slurm.read_text()


def test_generated_sample_matches_the_corpus(corpus_slurm: Path) -> None:
    corpus = json.loads(corpus_slurm.read_text())
    assert list(corpus) == list(SAMPLE_JOB)
    for task, record in corpus.items():
        assert {**record, "nodelist": sorted(record["nodelist"])} == {
            **SAMPLE_JOB[task],
            "nodelist": sorted(SAMPLE_JOB[task]["nodelist"]),  # type: ignore[arg-type]
        }


def test_json_cache_round_trip(sample_cache: Path) -> None:
    slurm = Slurm(cache_file=str(sample_cache))
    _check_sample(slurm)
    assert slurm.to_json() == sample_cache.read_text()
    again = Slurm(from_string=slurm.to_json())
    assert again == slurm


def test_repr_is_sacct_text_and_round_trips(sample_cache: Path) -> None:
    slurm = Slurm(cache_file=str(sample_cache))
    text = repr(slurm)
    lines = text.split("\n")
    assert lines[0] == HEADER
    assert lines[7] == JOB_LINE and lines[10] == BATCH_LINE
    assert len(lines) == 12 and not text.endswith("\n")
    assert str(slurm) == text
    reloaded = Slurm(from_string=text)
    _check_sample(reloaded)
    assert isinstance(reloaded["4478544"]["nodelist"], set)
    assert repr(reloaded) == text
    assert reloaded.get_job_nodes() == slurm.get_job_nodes()


def test_sacct_text_cache_files(tmp_path: Path) -> None:
    plain = tmp_path / "job.txt"
    plain.write_text(sacct_text(SAMPLE_JOB, parsable2=False))
    _check_sample(Slurm(cache_file=str(plain)))
    zipped = tmp_path / "job.txt.gz"
    zipped.write_bytes(gzip.compress(sacct_text(SAMPLE_JOB).encode()))
    _check_sample(Slurm(cache_file=str(zipped)))


def test_bad_cache_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(sacct_text(SAMPLE_JOB) + "4478544.9|2017\n")
    with pytest.raises(ParseError, match=r"bad\.txt:13: expected 4"):
        Slurm(cache_file=str(bad))
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"4478544": {"jobidraw": ')
    with pytest.raises(ParseError, match=r"broken\.json:1"):
        Slurm(cache_file=str(broken_json))
    with pytest.raises(FileNotFoundError):
        Slurm(cache_file=str(tmp_path / "missing.slurm"))


def test_to_json_sets_and_datetimes() -> None:
    slurm = Slurm(from_string=sacct_text(OTHER_JOB))
    data = json.loads(slurm.to_json())
    assert data["4487503"] == {
        "jobidraw": "4487503",
        "start": "2017-03-21T04:02:34",
        "end": "2017-03-21T04:10:01",
        "nodelist": ["nid00010", "nid00011", "nid00012", "nid00020"],
    }
    assert data["4487503.0"]["end"] is None
    assert json.dumps({"t": datetime.datetime(2020, 1, 2, 3, 4, 5), "s": {"b", "a"}},
                      cls=SlurmEncoder) == '{"t": "2020-01-02T03:04:05", "s": ["a", "b"]}'  # fmt: skip
    # a running step: the job's end is still known from the other records
    assert slurm.get_job_startend() == (
        datetime.datetime(2017, 3, 21, 4, 2, 34),
        datetime.datetime(2017, 3, 21, 4, 10, 1),
    )
    assert "4487503.0|2017-03-21T04:02:40|Unknown|nid[00010-00012,00020]" in repr(slurm)


def test_to_dataframe(sample_cache: Path) -> None:
    frame = Slurm(cache_file=str(sample_cache)).to_dataframe()
    assert list(frame.columns) == ["jobidraw", "start", "end", "nodelist"]
    assert isinstance(frame.index, pd.RangeIndex) and len(frame) == 11
    assert pd.api.types.is_datetime64_any_dtype(frame["start"])
    assert pd.api.types.is_datetime64_any_dtype(frame["end"])
    row = frame.iloc[6]
    assert (row["jobidraw"], row["nodelist"]) == ("4478544", "nid[05301-05428]")
    assert row["end"] == pd.Timestamp("2017-03-20 02:11:38")
    # numeric-looking ids stay strings
    assert frame.iloc[2]["jobidraw"] == "4478544.0"
    assert Slurm().to_dataframe().empty


def test_recast_keys_only_touches_strings() -> None:
    slurm = Slurm()
    slurm.update({"1": {"jobidraw": "1", "start": "2017-03-20T01:00:00", "nodelist": "n[1-2]",
                        "end": "Unknown", "state": "RUNNING"}})  # fmt: skip
    slurm._recast_keys("start")
    assert slurm["1"]["start"] == datetime.datetime(2017, 3, 20, 1)
    assert slurm["1"]["nodelist"] == "n[1-2]"
    assert slurm.get_job_nodes() == {"n1", "n2"}  # strings are expanded on the fly
    slurm._recast_keys()
    slurm._recast_keys()  # idempotent
    assert slurm["1"]["nodelist"] == {"n1", "n2"} and slurm["1"]["end"] is None
    assert slurm["1"]["state"] == "RUNNING"
    assert set(_RECAST_KEY_MAP) == {"start", "end", "nodelist"}
    assert _RECAST_KEY_MAP["nodelist"][1]({"n1", "n2"}) == "n[1-2]"


def test_parse_sacct_raw() -> None:
    data = parse_sacct(sacct_text(SAMPLE_JOB, parsable2=False))
    assert data["4478544.batch"] == {"jobidraw": "4478544.batch", "start": "2017-03-20T01:59:02",
                                     "end": "2017-03-20T02:11:38", "nodelist": "nid05301"}  # fmt: skip
    assert list(data) == list(SAMPLE_JOB)


# -- the sacct subprocess ------------------------------------------------------------


def test_slurm_jobid_runs_sacct(sacct_bin: Path) -> None:
    slurm = Slurm(JOBID)
    _check_sample(slurm)
    assert sacct_calls(sacct_bin) == [
        ["--jobs", JOBID, "--format=jobidraw,start,end,nodelist", "--parsable2"]
    ]
    assert isinstance(slurm["4478544.0"]["nodelist"], set)
    job, step = slurm["4478544.0"]["nodelist"], slurm["4478544.1"]["nodelist"]
    assert job == step and job is not step  # equal, but a set of its own each


def test_load_keys_always_runs_sacct(sacct_bin: Path, sample_cache: Path) -> None:
    slurm = Slurm(JOBID, cache_file=str(sample_cache))
    assert sacct_calls(sacct_bin) == []  # the cache answered
    slurm["4478544"]["end"] = "overwritten"
    slurm.load_keys("end", "jobname")
    assert sacct_calls(sacct_bin) == [
        ["--jobs", JOBID, "--format=jobidraw,end,jobname", "--parsable2"]
    ]
    assert slurm["4478544"]["end"] == datetime.datetime(2017, 3, 20, 2, 11, 38)
    assert slurm["4478544"]["jobname"] == ""
    assert slurm["4478544"]["start"] == SAMPLE_START  # kept from the cache


def test_jobs_running_between(sacct_bin: Path) -> None:
    running = jobs_running_between(
        datetime.datetime(2017, 3, 21, 4, 5), datetime.datetime(2017, 3, 21, 5, 0)
    )
    assert sacct_calls(sacct_bin) == [[
        "--parsable", "--starttime", "2017-03-21T04:05:00", "--endtime", "2017-03-21T05:00:00",
        "--state", "R", "--allusers", "--format", "jobidraw,start,end",
    ]]  # fmt: skip
    assert isinstance(running, Slurm)
    assert list(running) == ["4487503", "4487503.batch", "4487503.0"]
    assert list(running["4487503"]) == ["jobidraw", "start", "end"]
    running = jobs_running_between(
        datetime.datetime(2017, 3, 20, 2, 11, 35),
        datetime.datetime(2017, 3, 20, 2, 11, 38),
        keys=["start", "nodelist"],
        state=None,
    )
    assert sacct_calls(sacct_bin)[-1][-1] == "jobidraw,start,nodelist"
    assert "--state" not in sacct_calls(sacct_bin)[-1]
    assert sorted(running) == ["4478544", "4478544.batch", "4478544.extern"]


def test_unknown_job_gives_an_empty_object(sacct_bin: Path) -> None:
    slurm = Slurm("999")
    assert len(slurm) == 0 and slurm.get_job_startend() == (None, None)
    assert slurm.get_job_nodes() == set() and repr(slurm) == ""


def test_sacct_failure_is_a_warning(
    sacct_bin: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STANDIN_SACCT_FAIL", "Problem talking to the database")
    with caplog.at_level(logging.WARNING):
        slurm = Slurm(JOBID)
    assert len(slurm) == 0
    assert "exited with status 1: sacct: error: Problem talking to the database" in caplog.text


def test_bad_sacct_output_is_an_error(sacct_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_SACCT_GARBLE", "1")
    with pytest.raises(ParseError, match=r"sacct --jobs 4478544 .*:13: expected 4"):
        Slurm(JOBID)


def test_missing_sacct(no_sacct: None) -> None:
    with pytest.raises(FileNotFoundError, match="sacct: command not found"):
        Slurm(JOBID)


def test_sacct_from_the_config(sacct_bin: Path, site_config: dict, no_sacct: None) -> None:
    site_config["sacct"] = str(sacct_bin.parent / "sacct")
    assert slurm_module.sacct_executable() == site_config["sacct"]
    _check_sample(Slurm(JOBID))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sync_api_inside_a_running_loop(sacct_bin: Path, backend: str) -> None:
    async def notebook_cell() -> Slurm:
        return Slurm(JOBID)  # sync call while a loop runs in this thread

    _check_sample(anyio.run(notebook_cell, backend=backend))


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_get_job(sacct_bin: Path, backend: str) -> None:
    async def service() -> list[Slurm]:
        results: list[Slurm] = []
        async with anyio.create_task_group() as group:
            for job in (JOBID, "4487503"):
                group.start_soon(lambda j=job: _append(results, j))
        return results

    async def _append(results: list[Slurm], job: str) -> None:
        results.append(await get_job(job, timeout=60))

    jobs = {slurm.jobid: slurm for slurm in anyio.run(service, backend=backend)}
    _check_sample(jobs[JOBID])
    assert sorted(jobs["4487503"]) == ["4487503", "4487503.0", "4487503.batch"]


def test_save_cache(tmp_path: Path, sample_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slurm = Slurm(cache_file=str(sample_cache))
    out = tmp_path / "saved.slurm"
    slurm.save_cache(str(out))
    assert out.read_text() == sample_cache.read_text()
    slurm.save_cache()
    printed = capsys.readouterr().out
    assert printed.endswith("}\n") and json.loads(printed) == json.loads(sample_cache.read_text())
