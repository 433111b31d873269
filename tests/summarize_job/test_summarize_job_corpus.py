"""The documented summarize_job examples (CLI.md 3.22) on the corpus, values worked out independently.

The corpus's ``site.json`` has relative paths (``inputs/%Y-%m-%d/...``), so
each test runs in a scratch directory laid out like the corpus folder, with
links to the corpus files: the TTS sample as ``inputs/2018-01-28/snx11025.hdf5``
(where ``hdf5_files`` looks for ``scratch1``), the NERSC lfs collections as
``inputs/2017-03-20/osts.txt.gz`` and ``ost-map.txt.gz``, and the Slurm,
xtdb2proc, jobs-database and Darshan inputs by their plain names.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from corpus import DARSHAN, INPUTS, need_corpus
from standin import install_darshan_parser

from atokio.cli import summarize_job as sj

LOG_NAME = "glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan"
GIB = 2.0**30


@pytest.fixture
def corpus_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site_config: dict) -> Path:
    """A working directory laid out like the corpus folder, with the corpus site.json loaded."""
    need_corpus()
    work = tmp_path / "work"
    (work / "inputs" / "2018-01-28").mkdir(parents=True)
    (work / "inputs" / "2017-03-20").mkdir(parents=True)
    links = {
        "inputs/2018-01-28/snx11025.hdf5": INPUTS / "snx11025_2018-01-28.hdf5",
        "inputs/2017-03-20/osts.txt.gz": INPUTS / "sample_ost-fullness.txt.gz",
        "inputs/2017-03-20/ost-map.txt.gz": INPUTS / "sample_ost-map.txt.gz",
        "sample.slurm": INPUTS / "sample.slurm",
        "sample.xtdb2proc.gz": INPUTS / "sample.xtdb2proc.gz",
        "sample_nersc_jobsdb.sqlite3": INPUTS / "sample_nersc_jobsdb.sqlite3",
        "sample_ost-fullness.txt.gz": INPUTS / "sample_ost-fullness.txt.gz",
        "sample_ost-map.txt.gz": INPUTS / "sample_ost-map.txt.gz",
        LOG_NAME: DARSHAN / "sample.darshan",
    }
    for name, target in links.items():
        (work / name).symlink_to(target)
    site_config.update(json.loads((INPUTS / "site.json").read_text()))
    monkeypatch.chdir(work)
    return work


# -- example 2: a window on scratch1 ------------------------------------------------------------
def tts_expected(start: datetime.datetime, end: datetime.datetime) -> dict[str, float]:
    """The fs_ keys for [start, end), computed with h5py/numpy straight from the corpus file."""
    out: dict[str, float] = {}
    with h5py.File(INPUTS / "snx11025_2018-01-28.hdf5", "r") as h5:

        def rows(name: str) -> tuple[np.ndarray, int]:
            stamps = h5[name.split("/")[0] + "/timestamps"][...]
            step = int(stamps[1] - stamps[0])
            lo, hi = start.timestamp(), end.timestamp()
            keep = (stamps >= lo) & (stamps < hi)
            values = np.array(h5[name][...], dtype=float)[keep]
            values[(values == 0) & np.signbit(values)] = np.nan
            return values, step

        for name, rw in (("datatargets/readbytes", "read"), ("datatargets/writebytes", "written")):
            values, step = rows(name)
            per_row = np.where(
                np.isnan(values).all(axis=1), np.nan, np.nansum(values, axis=1)
            ) / float(step)
            total = float(np.nansum(values))
            out[f"fs_tot_bytes_{rw}"] = total
            out[f"fs_tot_gibs_{rw}"] = total / GIB
            for stat, func in (("ave", np.nanmean), ("max", np.nanmax), ("min", np.nanmin)):
                out[f"fs_{stat}_bytes_{rw}_per_sec"] = float(func(per_row))
                out[f"fs_{stat}_gibs_{rw}_per_sec"] = float(func(per_row)) / GIB
            present = values[~np.isnan(values)]
            out[f"fs_frac_zero_{rw}"] = float((present == 0).sum()) / present.size
            if rw == "read":
                out["fs_frac_missing"] = float(np.isnan(values).sum()) / values.size
        for name, kind in (("dataservers/cpuload", "oss"), ("mdservers/cpuload", "mds")):
            values, _ = rows(name)
            out[f"fs_ave_{kind}_cpu"] = float(np.nanmean(values))
            out[f"fs_max_{kind}_cpu"] = float(np.nanmax(values))
        for op in sj.MDS_OPS:
            values, step = rows(f"mdtargets/{op}s")
            per_row = np.nansum(values, axis=1)
            out[f"fs_tot_{op}_ops"] = float(per_row.sum())
            out[f"fs_ave_{op}_ops_per_sec"] = float(per_row.mean()) / step
            out[f"fs_max_{op}_ops_per_sec"] = float(per_row.max()) / step
            out[f"fs_min_{op}_ops_per_sec"] = float(per_row.min()) / step
    return out


EXAMPLE_2 = ["--start-time", "2018-01-28 00:01:00", "--end-time", "2018-01-28 00:03:00"]


def test_example_window_json(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sj.main([*EXAMPLE_2, "-f", "scratch1", "-j"]) == 0
    captured = capsys.readouterr()
    (record,) = json.loads(captured.out)
    expected = tts_expected(
        datetime.datetime(2018, 1, 28, 0, 1), datetime.datetime(2018, 1, 28, 0, 3)
    )
    assert len(expected) == 9 * 2 + 1 + 4 + 4 * 12
    assert record.pop("_datetime_start") == 1517097660.0
    assert record.pop("_datetime_end") == 1517097780.0
    assert record.pop("_file_system") == "scratch1"
    assert record == pytest.approx(expected, rel=1e-12, abs=1e-300)
    # spot checks against figures read off the file by hand
    assert record["fs_tot_bytes_read"] == 2530205696.0
    assert record["fs_tot_bytes_written"] == 52253918617.0
    assert record["fs_tot_open_ops"] == 662201.0
    assert captured.err == ""  # every dataset is there: no warning


def test_example_window_csv(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sj.main([*EXAMPLE_2, "-f", "scratch1"]) == 0
    out = capsys.readouterr().out
    (row,) = list(csv.DictReader(io.StringIO(out.rstrip("\n"))))
    expected = tts_expected(
        datetime.datetime(2018, 1, 28, 0, 1), datetime.datetime(2018, 1, 28, 0, 3)
    )
    assert row.pop("index") == "0"
    assert row.pop("_datetime_start") == "2018-01-28 00:01:00"
    assert row.pop("_datetime_end") == "2018-01-28 00:03:00"
    assert row.pop("_file_system") == "scratch1"
    assert {k: float(v) for k, v in row.items()} == pytest.approx(expected, rel=1e-12, abs=1e-300)


# -- example 1: a Darshan log with --slurm-jobid, -t and -o ----------------------------------------
def posix_expected() -> dict[str, Any]:
    """Some darshan_ keys of sample.darshan, from its recorded darshan-parser text."""
    sums: dict[str, float] = {}
    for line in (DARSHAN / "sample.base.txt").read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 8 and fields[0] == "POSIX":
            sums[fields[3]] = sums.get(fields[3], 0) + float(fields[4])
    perf: dict[str, float] = {}
    for line in (DARSHAN / "sample.perf.txt").read_text().splitlines():
        if line.startswith("# total_bytes:") and "total_bytes" not in perf:
            perf["total_bytes"] = float(line.split(":")[1])
        if line.startswith("# agg_perf_by_slowest:") and "agg" not in perf:
            perf["agg"] = float(line.split(":")[1].split("#")[0])
        if line.startswith("# shared files: time_by_slowest:") and "shared" not in perf:
            perf["shared"] = float(line.rsplit(":", 1)[1])
        if line.startswith("# unique files: slowest_rank_io_time:") and "unique" not in perf:
            perf["unique"] = float(line.rsplit(":", 1)[1])
    return {
        "darshan_tot_bytes_written_posix": sums["POSIX_BYTES_WRITTEN"],
        "darshan_tot_opens_posix": sums["POSIX_OPENS"],
        "darshan_tot_writes_posix": sums["POSIX_WRITES"],
        "darshan_tot_f_write_time_posix": sums["POSIX_F_WRITE_TIME"],
        "darshan_total_gibs_posix": perf["total_bytes"] / GIB,
        "darshan_agg_perf_by_slowest_posix": perf["agg"],
        "darshan_io_time": perf["unique"] + perf["shared"],
    }


def topology_expected() -> dict[str, float]:
    """Job 4478544's radii from sample.slurm's node lists and sample.xtdb2proc's coordinates."""
    nodes: set[str] = set()
    for record in json.loads((INPUTS / "sample.slurm").read_text()).values():
        nodes.update(record["nodelist"])
    coords: dict[int, tuple[int, int, int]] = {}
    with gzip.open(INPUTS / "sample.xtdb2proc.gz", "rt") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            pairs = dict(pair.split("=", 1) for pair in line.strip().split(","))
            coords[int(pairs["processor_id"])] = (
                int(pairs["x_coord"]),
                int(pairs["y_coord"]),
                int(pairs["z_coord"]),
            )
    points = np.array([coords[int(node[3:])] for node in nodes], dtype=float)
    distances = np.linalg.norm(points - points.mean(axis=0), axis=1)
    return {
        "topology_job_min_radius": float(distances.min()),
        "topology_job_max_radius": float(distances.max()),
        "topology_job_avg_radius": float(distances.mean()),
    }


@pytest.fixture(params=["darshan-parser", "direct"])
def reader(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read the log through the stand-in darshan-parser, or directly (no darshan-parser on PATH)."""
    if request.param == "darshan-parser":
        bin_dir = tmp_path / "bin"
        install_darshan_parser(bin_dir)
        monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    else:
        pytest.importorskip("darshan", reason="the direct reader needs the darshan package")
        monkeypatch.setenv("PATH", "/nonexistent")
    return str(request.param)


def test_example_darshan_log(
    corpus_dir: Path, reader: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-j", "--slurm-jobid", "sample.slurm", "-t", "sample.xtdb2proc.gz", LOG_NAME]
    assert sj.main(argv) == 0
    captured = capsys.readouterr()
    (record,) = json.loads(captured.out)
    # 2017-03-20 02:07:47 PDT (1490000867) to 02:09:43 + 5 s, written as if they were UTC
    assert record["_datetime_start"] == 1490000867 - 7 * 3600
    assert record["_datetime_end"] == 1490000983 + 5 - 7 * 3600
    assert record["_jobid"] == "4478544"
    assert record["_file_system"] == "scratch2"  # /scratch2 took the writes; ^/scratch2
    assert {
        k: record[k] for k in ("darshan_app", "darshan_jobid", "darshan_nprocs", "darshan_walltime")
    } == {
        "darshan_app": "vpicio_uni",
        "darshan_jobid": "4478544",
        "darshan_nprocs": 2048,
        "darshan_walltime": 117,
    }
    assert (record["darshan_start_time"], record["darshan_end_time"]) == (1490000867, 1490000983)
    assert {k: record[k] for k in posix_expected()} == pytest.approx(posix_expected(), rel=1e-12)
    assert record["darshan_biggest_write_fs"] == "/scratch2"
    assert record["darshan_biggest_write_fs_bytes"] == 2199023259968
    assert record["darshan_biggest_write_api"] == "posix"
    assert {k: record[k] for k in topology_expected()} == pytest.approx(
        topology_expected(), rel=1e-12
    )
    # scratch2 has no TTS file in the corpus: one warning, no fs_ keys
    assert not [k for k in record if k.startswith("fs_")]
    assert captured.err.count("WARNING") == 1 and "no TTS data" in captured.err


def test_example_darshan_log_ost(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("atokio.tools.lfsstatus", reason="atokio.tools.lfsstatus is not built yet")
    pytest.importorskip("darshan", reason="the direct reader needs the darshan package")
    argv = ["-j", "--slurm-jobid", "sample.slurm", "-t", "sample.xtdb2proc.gz", "-o", LOG_NAME]
    assert sj.main(argv) == 0
    (record,) = json.loads(capsys.readouterr().out)
    start = 1490000867

    def stamps(name: str) -> list[int]:
        with gzip.open(INPUTS / name, "rt") as handle:
            return [int(line.split()[1]) for line in handle if line.startswith("BEGIN")]

    # the sample taken last before the job started, in each collection
    fullness_at = max(t for t in stamps("sample_ost-fullness.txt.gz") if t < start)
    map_at = max(t for t in stamps("sample_ost-map.txt.gz") if t < start)
    assert record["fshealth_ost_fullness_lead_secs"] == start - fullness_at
    assert record["fshealth_ost_failures_lead_secs"] == start - map_at
    assert record["fshealth_ost_actual_timestamp"] == map_at  # the failure pass wins
    assert record["fshealth_ost_count"] == 24  # snx11035 has 24 OSTs
    assert record["fshealth_ost_overloaded_pct"] == pytest.approx(
        100.0 * record["fshealth_ost_overloaded_ost_count"] / 24
    )
    for key in ("ost_most_full_pct", "ost_least_full_pct", "ost_overloaded_oss_count"):
        assert "fshealth_" + key in record
    # the same samples when the collection files are named (the bare flags mean "not given")
    explicit = [
        "--ost-fullness",
        "sample_ost-fullness.txt.gz",
        "--ost-map",
        "sample_ost-map.txt.gz",
    ]
    assert sj.main([*argv[:-1], *explicit, LOG_NAME]) == 0
    (again,) = json.loads(capsys.readouterr().out)
    assert again == record
    assert sj.main([*argv[:-1], LOG_NAME, "--ost-fullness", "--ost-map"]) == 0
    assert json.loads(capsys.readouterr().out) == [record]


def test_concurrent_jobs_from_the_corpus_db(
    corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("darshan", reason="the direct reader needs the darshan package")
    argv = ["-j", "-c", "sample_nersc_jobsdb.sqlite3", "--jobhost", "edison", LOG_NAME]
    assert sj.main(argv) == 0
    (record,) = json.loads(capsys.readouterr().out)
    t0, t1 = 1490000867, 1490000983 + 5
    with sqlite3.connect(INPUTS / "sample_nersc_jobsdb.sqlite3") as db:
        rows = db.execute(
            "SELECT start, completion, numnodes FROM summary "
            "WHERE hostname = 'edison' AND completion > ? AND start < ?",
            (t0, t1),
        ).fetchall()
    assert record["jobsdb_concurrent_jobs"] == len(rows)
    assert record["jobsdb_concurrent_nodes"] == sum(r[2] for r in rows)
    assert record["jobsdb_concurrent_nodehrs"] == pytest.approx(
        sum(n * (min(c, t1) - max(s, t0)) for s, c, n in rows) / 3600.0, rel=1e-12
    )
