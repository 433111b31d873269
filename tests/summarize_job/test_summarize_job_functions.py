"""The module functions of summarize_job (REFERENCE-INDEX 1.D), on inputs made in code."""

from __future__ import annotations

import datetime
import json
import math
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sj_data import (
    JOBSDB_ROWS,
    NODE_POSITIONS,
    START_TIME,
    write_jobsdb,
    write_nodemap,
    write_slurm_cache,
)

from atokio.cli import summarize_job as sj

GIB = 2.0**30


# -- merge_dicts / serialize_datetime --------------------------------------------------------
def test_merge_dicts_prefix_and_duplicates() -> None:
    one = {"a": 1, "x_b": 2}
    sj.merge_dicts(one, {"c": 3})
    assert one == {"a": 1, "x_b": 2, "c": 3}
    sj.merge_dicts(one, {"d": 4, "e": 5}, prefix="x_")
    assert one == {"a": 1, "x_b": 2, "c": 3, "x_d": 4, "x_e": 5}
    with pytest.raises(KeyError, match="x_b"):
        sj.merge_dicts(one, {"z": 0, "b": 9}, prefix="x_")
    with pytest.raises(AssertionError):
        sj.merge_dicts(one, {"a": 0})
    assert one == {"a": 1, "x_b": 2, "c": 3, "x_d": 4, "x_e": 5}  # untouched by a failed merge
    sj.merge_dicts(one, {"a": 10, "b": 20}, assertion=False, prefix=None)
    assert one["a"] == 10 and one["b"] == 20


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC", "Asia/Tokyo"])
def test_serialize_datetime_reads_local_time_as_utc(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    value = sj.serialize_datetime(datetime.datetime(2018, 1, 28, 0, 1, 0))
    assert value == 1517097660.0 and isinstance(value, float)
    assert sj.serialize_datetime(datetime.datetime(2018, 1, 28, 0, 1, 0, 500000)) == 1517097660.5
    aware = datetime.datetime(2018, 1, 28, 8, 1, tzinfo=datetime.UTC)
    assert sj.serialize_datetime(aware) == 1517126460.0
    assert sj.serialize_datetime(np.int64(7)) == 7
    with pytest.raises(TypeError):
        sj.serialize_datetime(object())
    text = json.dumps({"t": datetime.datetime(2018, 1, 28, 0, 1)}, default=sj.serialize_datetime)
    assert text == '{"t": 1517097660.0}'


# -- Darshan summaries -------------------------------------------------------------------------
MOUNTS = {"/scratch1": "lustre", "/scratch10": "lustre", "/": "rootfs", "/home/me/": "nfs"}


def test_identify_fs_from_path() -> None:
    assert sj._identify_fs_from_path("/scratch1/run/a", MOUNTS) == "/scratch1"
    assert sj._identify_fs_from_path("/scratch10/a", MOUNTS) == "/scratch10"
    assert sj._identify_fs_from_path("/scratch100/a", MOUNTS) == "/"
    assert sj._identify_fs_from_path("/scratch1", list(MOUNTS)) == "/scratch1"
    assert sj._identify_fs_from_path("/home/me/x", MOUNTS) == "/home/me/"
    assert sj._identify_fs_from_path("<STDOUT>", MOUNTS) is None
    assert sj._identify_fs_from_path("/a", []) is None


def darshan_dict() -> dict[str, Any]:
    return {
        "header": {
            "exe": ["/opt/bin/app.x", "arg"],
            "jobid": "77",
            "start_time": 100,
            "end_time": 160,
            "nprocs": 8,
            "walltime": 61,
        },
        "mounts": MOUNTS,
        "counters": {
            "posix": {
                "/scratch1/a": {
                    "-1": {"BYTES_READ": 10, "BYTES_WRITTEN": 500, "OPENS": 8, "F_READ_TIME": 0.5}
                },
                "/scratch10/b": {
                    "0": {"BYTES_READ": 900, "BYTES_WRITTEN": 0, "OPENS": 1, "F_READ_TIME": 1.5},
                    "1": {"BYTES_READ": 100, "BYTES_WRITTEN": 0, "OPENS": -1, "F_READ_TIME": 0.0},
                },
                "_perf": {
                    "total_bytes": 1510,
                    "agg_perf_by_slowest": 12.5,
                    "slowest_rank_io_time_unique_files": 1.25,
                    "time_by_slowest_shared_files": 0.5,
                },
                "_total": {"BYTES_READ": 1010},
            },
            "mpiio": {"/scratch1/a": {"-1": {"BYTES_READ": 10, "BYTES_WRITTEN": 500}}},
            "stdio": {"<STDOUT>": {"0": {"BYTES_READ": 0, "BYTES_WRITTEN": 5000}}},
            "lustre": {"/scratch1/a": {"-1": {"STRIPE_WIDTH": 4}}},
        },
    }


def test_get_biggest_api() -> None:
    assert sj.get_biggest_api(darshan_dict()) == {
        "biggest_read_api": "posix",
        "biggest_read_api_bytes": 1010,
        "biggest_read_api_files": 2,
        "biggest_write_api": "stdio",
        "biggest_write_api_bytes": 5000,
        "biggest_write_api_files": 1,
    }
    assert sj.get_biggest_api({"counters": {"lustre": {"/a": {"-1": {"OSTS": 1}}}}}) == {}


def test_get_biggest_api_tie_goes_to_the_first_module() -> None:
    data = darshan_dict()
    del data["counters"]["stdio"]
    data["counters"]["mpiio"]["/scratch1/a"]["-1"]["BYTES_WRITTEN"] = 500
    result = sj.get_biggest_api(data)
    assert result["biggest_write_api"] == "posix" and result["biggest_write_api_bytes"] == 500


def test_get_biggest_fs_counts_posix_and_stdio_per_mount() -> None:
    # stdio's <STDOUT> is on no mount; mpiio is not counted (it would double POSIX)
    assert sj.get_biggest_fs(darshan_dict()) == {
        "biggest_read_fs": "/scratch10",
        "biggest_read_fs_bytes": 1000,
        "biggest_write_fs": "/scratch1",
        "biggest_write_fs_bytes": 500,
    }
    assert sj.get_biggest_fs({"mounts": {}, "counters": {}}) == {}


def test_summarize_darshan_posix() -> None:
    result = sj.summarize_darshan_posix(darshan_dict())
    assert result["total_gibs_posix"] == 1510 / GIB
    assert result["agg_perf_by_slowest_posix"] == 12.5
    assert result["io_time"] == 1.75
    # three records; OPENS -1 ("not recorded") is left out
    assert {k: v for k, v in result.items() if k.endswith("_opens_posix")} == {
        "tot_opens_posix": 9,
        "num_opens_posix": 2,
        "ave_opens_posix": 4.5,
        "min_opens_posix": 1,
        "max_opens_posix": 8,
    }
    assert result["tot_bytes_read_posix"] == 1010
    assert result["num_bytes_read_posix"] == 3
    assert result["ave_bytes_read_posix"] == 1010 / 3
    assert (result["min_bytes_read_posix"], result["max_bytes_read_posix"]) == (10, 900)
    assert result["tot_f_read_time_posix"] == 2.0
    # a counter no record holds: only tot and num
    assert result["tot_stats_posix"] == 0 and result["num_stats_posix"] == 0
    assert "ave_stats_posix" not in result and "max_stats_posix" not in result
    # 3 perf keys, tot+num for 13 counters, ave+min+max for the 4 that have values
    assert len(result) == 3 + 13 * 2 + 4 * 3
    assert sj.summarize_darshan_posix({"counters": {"stdio": {}}}) == {}


def test_summarize_darshan() -> None:
    result = sj.summarize_darshan(darshan_dict())
    assert {k: result[k] for k in ("walltime", "end_time", "start_time", "jobid", "nprocs")} == {
        "walltime": 61,
        "end_time": 160,
        "start_time": 100,
        "jobid": "77",
        "nprocs": 8,
    }
    assert result["app"] == "app.x"
    assert result["biggest_write_api"] == "stdio" and result["biggest_read_fs"] == "/scratch10"
    assert result["io_time"] == 1.75
    assert sj.summarize_darshan({}) == {}


# -- TTS summaries ---------------------------------------------------------------------------
def frame(values: list[list[float]], step: int = 5, columns: Any = None) -> pd.DataFrame:
    index = pd.date_range("2018-01-28 00:00:00", periods=len(values), freq=f"{step}s")
    return pd.DataFrame(np.array(values, dtype=float), index=index, columns=columns)


NAN = float("nan")


def test_summarize_byterate_df() -> None:
    data = frame([[0, 100], [NAN, 50], [0, 0], [NAN, NAN]], step=5)
    result = sj.summarize_byterate_df(data, "read")
    assert result == {
        "tot_bytes_read": 150.0,
        "tot_gibs_read": 150.0 / GIB,
        "ave_bytes_read_per_sec": 10.0,  # rows 100, 50, 0 (the all-missing row is skipped) / 5 s
        "ave_gibs_read_per_sec": 10.0 / GIB,
        "max_bytes_read_per_sec": 20.0,
        "max_gibs_read_per_sec": 20.0 / GIB,
        "min_bytes_read_per_sec": 0.0,
        "min_gibs_read_per_sec": 0.0,
        "frac_zero_read": 0.6,  # 3 of the 5 non-missing cells
    }
    assert all(type(v) is float for v in result.values())
    assert sj.summarize_byterate_df(data, "written", timestep=10)["max_bytes_written_per_sec"] == 10


def test_summarize_byterate_df_all_missing_and_one_row() -> None:
    assert sj.summarize_byterate_df(frame([[NAN], [NAN]]), "read") == {
        "tot_bytes_read": 0.0,
        "tot_gibs_read": 0.0,
    }
    with pytest.raises(ValueError, match="timestep"):
        sj.summarize_byterate_df(frame([[1.0]]), "read")
    assert (
        sj.summarize_byterate_df(frame([[8.0]]), "read", timestep=4)["ave_bytes_read_per_sec"]
        == 2.0
    )


def test_summarize_cpu_df() -> None:
    assert sj.summarize_cpu_df(frame([[1, 2], [NAN, 9]]), "oss") == {
        "ave_oss_cpu": 4.0,
        "max_oss_cpu": 9.0,
    }
    assert sj.summarize_cpu_df(frame([[NAN]]), "mds") == {}


def test_summarize_mds_ops_df() -> None:
    per_mdt = frame([[1, 3], [10, 10], [NAN, 2]], step=2)
    assert sj.summarize_mds_ops_df(per_mdt, "open") == {
        "tot_open_ops": 26.0,
        "ave_open_ops_per_sec": 26.0 / 3 / 2,
        "max_open_ops_per_sec": 10.0,
        "min_open_ops_per_sec": 1.0,
    }
    wide = frame([[1, 100], [3, 100]], step=1, columns=["open", "close"])
    assert sj.summarize_mds_ops_df(wide, "open") == {
        "tot_open_ops": 4.0,
        "ave_open_ops_per_sec": 2.0,
        "max_open_ops_per_sec": 3.0,
        "min_open_ops_per_sec": 1.0,
    }


def test_summarize_missing_df() -> None:
    assert sj.summarize_missing_df(frame([[1, NAN], [NAN, NAN]])) == {"frac_missing": 0.75}
    assert sj.summarize_missing_df(frame([[0.0]])) == {"frac_missing": 0.0}
    assert sj.summarize_missing_df(pd.DataFrame()) == {}


# -- retrieve_* ------------------------------------------------------------------------------
#: The window of the made-up job (naive local times; the tests run in America/Los_Angeles).
WINDOW = {
    "_datetime_start": datetime.datetime(2018, 1, 28, 0, 0, 10),
    "_datetime_end": datetime.datetime(2018, 1, 28, 0, 0, 35),
}


def test_retrieve_jobid(tmp_path: Path) -> None:
    results: dict[str, Any] = {"_jobid": "1"}
    assert sj.retrieve_jobid(results, None, 3) is results and results == {"_jobid": "1"}
    assert sj.retrieve_jobid(results, "99", 1) == {"_jobid": "99"}
    cache = write_slurm_cache(tmp_path / "job.slurm", jobid="4321")
    assert sj.retrieve_jobid({}, str(cache), 0) == {"_jobid": "4321"}
    with pytest.raises(ValueError, match="more than one"):
        sj.retrieve_jobid({}, "99", 2)


def test_retrieve_concurrent_job_data(tmp_path: Path) -> None:
    db = write_jobsdb(tmp_path / "jobs.sqlite3")
    results = dict(WINDOW)
    sj.retrieve_concurrent_job_data(results, "edison", str(db))
    # job 1: 5 s on 2 nodes, job 2: 15 s on 4 nodes; job 3 ended before, job 4 is on cori
    assert {k: v for k, v in results.items() if k.startswith("jobsdb_")} == {
        "jobsdb_concurrent_jobs": 2,
        "jobsdb_concurrent_nodes": 6,
        "jobsdb_concurrent_nodehrs": (5 * 2 + 15 * 4) / 3600.0,
    }
    assert len(JOBSDB_ROWS) == 4
    untouched = dict(WINDOW)
    assert sj.retrieve_concurrent_job_data(untouched, None, str(db)) == WINDOW
    assert sj.retrieve_concurrent_job_data({}, "edison", str(db)) == {}


def test_retrieve_topology_data(tmp_path: Path) -> None:
    cache = write_slurm_cache(tmp_path / "job.slurm")
    nodemap = write_nodemap(tmp_path / "xtdb2proc.txt")
    results: dict[str, Any] = {"_jobid": "1234"}
    sj.retrieve_topology_data(results, str(cache), str(nodemap))
    # nodes at (0,0,0), (4,0,0), (0,3,0); centre (4/3, 1, 0)
    distances = [5 / 3, math.sqrt(73) / 3, math.sqrt(52) / 3]
    assert results["topology_job_min_radius"] == pytest.approx(min(distances), rel=1e-12)
    assert results["topology_job_max_radius"] == pytest.approx(max(distances), rel=1e-12)
    assert results["topology_job_avg_radius"] == pytest.approx(sum(distances) / 3, rel=1e-12)
    assert len(results) == 4 and len(NODE_POSITIONS) == 3
    assert sj.retrieve_topology_data({}, str(cache), str(nodemap)) == {}  # no job id


def fake_lfsstatus(calls: list[tuple[str, Any, Any, dict]]) -> types.ModuleType:
    module = types.ModuleType("atokio.tools.lfsstatus")

    def get_fullness(file_system: str, datetime_target: Any, **kwargs: Any) -> dict:
        calls.append(("fullness", file_system, datetime_target, kwargs))
        return {
            "ost_count": 8,
            "ost_most_full_pct": 80.5,
            "ost_actual_timestamp": START_TIME - 100,
            "ost_requested_timestamp": START_TIME,
        }

    def get_failures(file_system: str, datetime_target: Any, **kwargs: Any) -> dict:
        calls.append(("failures", file_system, datetime_target, kwargs))
        return {
            "ost_overloaded_ost_count": 2,
            "ost_overloaded_oss_count": 1,
            "ost_actual_timestamp": datetime.datetime.fromtimestamp(START_TIME - 40),
            "ost_requested_timestamp": START_TIME,
        }

    module.get_fullness = get_fullness  # type: ignore[attr-defined]
    module.get_failures = get_failures  # type: ignore[attr-defined]
    return module


def test_retrieve_ost_data(monkeypatch: pytest.MonkeyPatch, site_config: dict) -> None:
    calls: list[tuple[str, Any, Any, dict]] = []
    fake = fake_lfsstatus(calls)
    monkeypatch.setattr("atokio.tools.lfsstatus.get_fullness", fake.get_fullness)
    monkeypatch.setattr("atokio.tools.lfsstatus.get_failures", fake.get_failures)
    site_config["fsname_to_backend_name"] = {"testfs": "snx1"}
    results = {**WINDOW, "_file_system": "testfs"}
    sj.retrieve_ost_data(results, True, "full.txt.gz", None)
    start = WINDOW["_datetime_start"]
    assert calls == [
        ("fullness", "testfs", start, {"cache_file": "full.txt.gz"}),
        ("failures", "testfs", start, {}),
    ]
    assert {k: v for k, v in results.items() if k.startswith("fshealth_")} == {
        "fshealth_ost_count": 8,
        "fshealth_ost_most_full_pct": 80.5,
        "fshealth_ost_actual_timestamp": START_TIME - 40,  # the failure pass wins
        "fshealth_ost_requested_timestamp": START_TIME,
        "fshealth_ost_overloaded_ost_count": 2,
        "fshealth_ost_overloaded_oss_count": 1,
        "fshealth_ost_fullness_lead_secs": 100,
        "fshealth_ost_failures_lead_secs": 40,
        "fshealth_ost_overloaded_pct": 25.0,
    }
    calls.clear()
    for skipped in (
        {**WINDOW, "_file_system": "unmapped"},  # not in fsname_to_backend_name
        dict(WINDOW),  # no file system
        {"_file_system": "testfs"},  # no window
    ):
        before = dict(skipped)
        assert sj.retrieve_ost_data(skipped, True) == before
    assert sj.retrieve_ost_data({**WINDOW, "_file_system": "testfs"}, False) == {
        **WINDOW,
        "_file_system": "testfs",
    }
    assert calls == []
