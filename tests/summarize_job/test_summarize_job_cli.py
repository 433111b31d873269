"""The summarize_job command line (CLI.md 3.22) on inputs made in code."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sj_data import START_TIME, write_darshan_log, write_jobsdb, write_nodemap, write_slurm_cache

from atokio.cli import summarize_job as sj
from atokio.cli._common import as_program

GIB = 2.0**30

#: fs_ keys of the TTS rows 00:00:10, 00:00:20, 00:00:30 of the generated file (10 s rows),
#: worked out by hand from the matrices in sj_data.
FS_EXPECTED: dict[str, float] = {
    # read bytes: [0, 1000], [missing, 500], [0, 0] -> row totals 1000, 500, 0
    "fs_tot_bytes_read": 1500.0,
    "fs_tot_gibs_read": 1500.0 / GIB,
    "fs_ave_bytes_read_per_sec": 50.0,
    "fs_ave_gibs_read_per_sec": 50.0 / GIB,
    "fs_max_bytes_read_per_sec": 100.0,
    "fs_max_gibs_read_per_sec": 100.0 / GIB,
    "fs_min_bytes_read_per_sec": 0.0,
    "fs_min_gibs_read_per_sec": 0.0,
    "fs_frac_zero_read": 0.6,
    "fs_frac_missing": 1 / 6,
    # write bytes: [10, 20], [30, 40], [50, 60]
    "fs_tot_bytes_written": 210.0,
    "fs_tot_gibs_written": 210.0 / GIB,
    "fs_ave_bytes_written_per_sec": 7.0,
    "fs_ave_gibs_written_per_sec": 7.0 / GIB,
    "fs_max_bytes_written_per_sec": 11.0,
    "fs_max_gibs_written_per_sec": 11.0 / GIB,
    "fs_min_bytes_written_per_sec": 3.0,
    "fs_min_gibs_written_per_sec": 3.0 / GIB,
    "fs_frac_zero_written": 0.0,
    # OSS CPU [1, 2], [3, 4], [5, 6]; MDS CPU 7, 8, 9
    "fs_ave_oss_cpu": 3.5,
    "fs_max_oss_cpu": 6.0,
    "fs_ave_mds_cpu": 8.0,
    "fs_max_mds_cpu": 9.0,
    # opens 10, 20, 30 per 10 s
    "fs_tot_open_ops": 60.0,
    "fs_ave_open_ops_per_sec": 2.0,
    "fs_max_open_ops_per_sec": 3.0,
    "fs_min_open_ops_per_sec": 1.0,
}

WINDOW_ARGS = ["--start-time", "2018-01-28 00:00:10", "--end-time", "2018-01-28 00:00:40"]


def csv_text(records: list[dict[str, Any]]) -> str:
    """The expected CSV: ``index`` then the sorted union of keys; floats in repr, blanks for missing."""
    columns = sorted({key for record in records for key in record})

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        text = repr(value) if isinstance(value, float) else str(value)
        return f'"{text}"' if "," in text else text

    lines = [",".join(["index", *columns])]
    for number, record in enumerate(records):
        lines.append(",".join([str(number)] + [cell(record.get(c)) for c in columns]))
    return "\n".join(lines) + "\n"


def test_window_csv(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sj.main([*WINDOW_ARGS, "-f", "testfs"]) == 0
    captured = capsys.readouterr()
    expected = {
        "_datetime_start": datetime.datetime(2018, 1, 28, 0, 0, 10),
        "_datetime_end": datetime.datetime(2018, 1, 28, 0, 0, 40),
        "_file_system": "testfs",
        **FS_EXPECTED,
    }
    assert captured.out == csv_text([expected]) + "\n"  # one empty line after CSV on stdout
    # the generated file has no mdtargets/closes ... getattrs: one warning, for the first
    assert captured.err.count("WARNING") == 1
    assert "no TTS data for mdtargets/closes of testfs" in captured.err


def test_window_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sj.main(["-j", *WINDOW_ARGS, "--file-system", "testfs"]) == 0
    out = capsys.readouterr().out
    expected = {
        # local wall-clock time read as UTC
        "_datetime_start": datetime.datetime(
            2018, 1, 28, 0, 0, 10, tzinfo=datetime.UTC
        ).timestamp(),
        "_datetime_end": 1517097640.0,
        "_file_system": "testfs",
        **FS_EXPECTED,
    }
    assert expected["_datetime_start"] == 1517097610.0
    assert out == json.dumps([expected], indent=4, sort_keys=True) + "\n"


def test_window_without_tts_data(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--start-time", "2018-02-01 00:00:00", "--end-time", "2018-02-01 00:01:00"]
    assert sj.main(["-j", *args, "-f", "testfs"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [
        {"_datetime_start": 1517443200.0, "_datetime_end": 1517443260.0, "_file_system": "testfs"}
    ]
    assert captured.err.count("WARNING") == 1
    assert "no TTS data for datatargets/readbytes of testfs" in captured.err


DARSHAN_EXPECTED = {
    "darshan_walltime": 21,
    "darshan_start_time": START_TIME,
    "darshan_end_time": START_TIME + 20,
    "darshan_jobid": "1234",
    "darshan_nprocs": 4,
    "darshan_app": "myapp",
    "darshan_total_gibs_posix": 6500 / GIB,
    "darshan_agg_perf_by_slowest_posix": 0.001459,
    "darshan_io_time": 4.25,
    "darshan_tot_opens_posix": 6,
    "darshan_num_opens_posix": 3,
    "darshan_ave_opens_posix": 2.0,
    "darshan_min_opens_posix": 1,
    "darshan_max_opens_posix": 4,
    "darshan_tot_stats_posix": 3,  # 2, -1 (not recorded), 1
    "darshan_num_stats_posix": 2,
    "darshan_ave_stats_posix": 1.5,
    "darshan_tot_bytes_written_posix": 4000,
    "darshan_ave_bytes_written_posix": 4000 / 3,
    "darshan_tot_f_write_time_posix": 2.5,
    "darshan_max_f_meta_time_posix": 0.75,
    "darshan_biggest_read_api": "posix",
    "darshan_biggest_read_api_bytes": 2500,
    "darshan_biggest_read_api_files": 2,
    "darshan_biggest_write_api": "posix",
    "darshan_biggest_write_api_bytes": 4000,
    "darshan_biggest_write_api_files": 1,
    "darshan_biggest_read_fs": "/",
    "darshan_biggest_read_fs_bytes": 1500,
    "darshan_biggest_write_fs": "/scratch1",
    "darshan_biggest_write_fs_bytes": 4000,
}

DARSHAN_KEYS = (
    {f"darshan_{k}" for k in ("walltime", "start_time", "end_time", "jobid", "nprocs", "app")}
    | {f"darshan_{k}" for k in ("total_gibs_posix", "agg_perf_by_slowest_posix", "io_time")}
    | {
        f"darshan_{s}_{c}_posix"
        for s in ("tot", "ave", "num", "min", "max")
        for c in sj.POSIX_COUNTERS
    }
    | {f"darshan_biggest_{rw}_api{x}" for rw in ("read", "write") for x in ("", "_bytes", "_files")}
    | {f"darshan_biggest_{rw}_fs{x}" for rw in ("read", "write") for x in ("", "_bytes")}
)


def test_darshan_logs_json(
    workdir: Path, darshan_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_darshan_log(workdir / "logs", "me_myapp_id1234_1-28-10-1_1.darshan")
    second = write_darshan_log(
        workdir / "logs", "me_other_id5678_1-28-10-2_1.darshan", jobid="5678", posix=False
    )
    assert sj.main(["-j", str(first), str(second)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 2
    one, two = records
    # window: the log's start to its end + lmt_timestep (5 s), i.e. TTS rows 1-3
    assert one["_datetime_start"] == 1517097610.0 and one["_datetime_end"] == 1517097635.0
    assert one["_jobid"] == "1234"
    assert one["_file_system"] == "testfs"  # /scratch1 wrote most; first regex that matches
    assert {k: one[k] for k in DARSHAN_EXPECTED} == DARSHAN_EXPECTED
    assert {k for k in one if k.startswith("darshan_")} == DARSHAN_KEYS
    assert {k: one[k] for k in FS_EXPECTED} == pytest.approx(FS_EXPECTED, rel=1e-12)
    # the STDIO-only log names no file system: no fs_ keys
    assert two["_jobid"] == "5678" and "_file_system" not in two
    assert not [k for k in two if k.startswith("fs_") or k.endswith("_posix")]
    assert two["darshan_biggest_write_api"] == "stdio"
    assert two["darshan_biggest_write_api_bytes"] == 700


def test_plot_writes_the_umami_png(
    workdir: Path, darshan_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    log = write_darshan_log(workdir / "logs", "me_myapp_id1234_1-28-10-1_1.darshan")
    png = workdir / "job.png"
    assert sj.main(["-j", "--plot", str(png), str(log)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["_jobid"] == "1234"  # the record is printed as before
    assert captured.err.endswith(f"Wrote plot to {png}\n")
    with Image.open(png) as image:
        assert image.width > 300 and image.height > 100
        assert len(image.convert("L").getcolors(maxcolors=1 << 16) or ()) > 2  # not blank


def test_darshan_logs_csv(
    workdir: Path, darshan_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_darshan_log(workdir / "logs", "me_myapp_id1234_1-28-10-1_1.darshan")
    second = write_darshan_log(
        workdir / "logs", "me_other_id5678_1-28-10-2_1.darshan", jobid="5678", posix=False
    )
    assert sj.main([str(first), str(second)]) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n\n")
    rows = list(csv.DictReader(io.StringIO(out.rstrip("\n"))))
    header = out.splitlines()[0].split(",")
    assert header[0] == "index" and header[1:] == sorted(header[1:])
    assert [row["index"] for row in rows] == ["0", "1"]
    assert rows[0]["_datetime_start"] == "2018-01-28 00:00:10"
    assert rows[0]["_datetime_end"] == "2018-01-28 00:00:35"
    assert rows[0]["darshan_tot_opens_posix"] == "6"  # ints stay ints
    assert rows[0]["darshan_ave_bytes_written_posix"] == repr(4000 / 3)
    assert rows[0]["fs_tot_bytes_read"] == "1500.0"
    assert rows[1]["_jobid"] == "5678"
    assert rows[1]["darshan_tot_opens_posix"] == "" and rows[1]["_file_system"] == ""


def test_unreadable_log_gives_no_record(
    workdir: Path, darshan_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = workdir / "broken.darshan"
    bad.write_bytes(b"")
    assert sj.main(["-j", "--silent-errors", str(bad)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "[]\n"
    assert "invalid log file" not in captured.err
    assert as_program(sj.main, ["-j", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"summarize_job: {bad}: darshan-parser --")
    assert "exited with status 255" in captured.err and len(captured.err.splitlines()) == 1
    assert sj.main(["--silent-errors", str(bad)]) == 0
    assert capsys.readouterr().out == "index\n\n"  # no record: the bare CSV header


def test_slurm_jobid_topology_and_concurrent_jobs(
    workdir: Path, darshan_bin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_darshan_log(workdir / "logs", "me_myapp_id1234_1-28-10-1_1.darshan", jobid="99")
    cache = write_slurm_cache(workdir / "job.slurm", jobid="1234")
    nodemap = write_nodemap(workdir / "xtdb2proc.txt")
    jobsdb = write_jobsdb(workdir / "jobs.sqlite3")
    argv = ["-j", "--slurm-jobid", str(cache), "-t", str(nodemap), "-c", str(jobsdb)]
    assert sj.main([*argv, "--jobhost", "edison", str(log)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["_jobid"] == "1234" and record["darshan_jobid"] == "99"
    assert record["topology_job_min_radius"] == pytest.approx(5 / 3, rel=1e-12)
    assert record["topology_job_max_radius"] == pytest.approx(73**0.5 / 3, rel=1e-12)
    assert {k: v for k, v in record.items() if k.startswith("jobsdb_")} == {
        "jobsdb_concurrent_jobs": 2,
        "jobsdb_concurrent_nodes": 6,
        "jobsdb_concurrent_nodehrs": 70 / 3600,
    }
    # -c without --jobhost is skipped silently
    assert sj.main(["-j", "-c", str(jobsdb), str(log)]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert not [k for k in record if k.startswith(("jobsdb_", "topology_"))]


def test_slurm_jobid_alone_gives_the_window(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = write_slurm_cache(workdir / "job.slurm", jobid="1234")
    assert sj.main(["-j", "--slurm", str(cache), "--file", "testfs"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["_jobid"] == "1234"
    # 00:00:05 to 00:00:40 (the Slurm job's start and end): TTS rows 1-3 again
    assert record["_datetime_start"] == 1517097605.0 and record["_datetime_end"] == 1517097640.0
    assert record["fs_tot_bytes_read"] == 1500.0


def test_guess_takes_the_first_matching_regex(site_config: dict) -> None:
    record = {
        "darshan_biggest_write_fs": "/global/cscratch1",
        "darshan_biggest_write_fs_bytes": 10,
        "darshan_biggest_read_fs": "/home",
        "darshan_biggest_read_fs_bytes": 11,
    }
    site_config["mount_to_fsname"] = {"^/home/x": "x", "home": "homes", "^/home": "home2"}
    assert sj._guess_file_system(record) == "homes"  # reads are larger; searched anywhere
    record["darshan_biggest_read_fs_bytes"] = 10
    site_config["mount_to_fsname"] = {"scratch": "cscratch", "^/global": "global"}
    assert sj._guess_file_system(record) == "cscratch"
    site_config["mount_to_fsname"] = {"^/nothing": "x"}
    assert sj._guess_file_system(record) is None
    assert sj._guess_file_system({}) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start-time", "2018-01-28 00:00:10"], "must be given together"),
        (["--end-time", "2018-01-28 00:00:10", "-f", "testfs"], "must be given together"),
        ([*WINDOW_ARGS, "a.darshan", "b.darshan"], "more than one Darshan log"),
        (["--slurm-jobid", "1", "a.darshan", "b.darshan"], "more than one Darshan log"),
        (
            ["--start-time", "2018-01-28T00:00:10", "--end-time", "2018-01-28 00:00:40"],
            "'YYYY-MM-DD HH:MM:SS'",
        ),
    ],
)
def test_failures_exit_1(
    argv: list[str], message: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert as_program(sj.main, argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_usage_errors_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        sj.main([])
    assert stop.value.code == 2
    assert "give Darshan logs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        sj.main(["--o", "x.darshan"])  # ambiguous: --ost, --ost-fullness, --ost-map
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        sj.main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for option in ("--topology", "--concurrentjobs", "--ost-fullness", "--silent-errors"):
        assert option in text


def test_optional_values_and_abbreviations() -> None:
    parse = sj.build_parser().parse_intermixed_args
    args = parse(["-t", "x.darshan"])
    assert (args.topology, args.files) == ("x.darshan", [])  # the value swallows the log
    args = parse(["x.darshan", "-t"])
    assert (args.topology, args.files) == ("", ["x.darshan"])
    args = parse(["-t", "--", "x.darshan"])
    assert (args.topology, args.files) == ("", ["x.darshan"])
    args = parse(["-c", "-j", "a", "--ost-f", "--ost-map", "m.gz", "-o", "b"])
    assert (args.concurrentjobs, args.json, args.ost_fullness, args.ost_map, args.ost) == (
        "",
        True,
        "",
        "m.gz",
        True,
    )
    assert args.files == ["a", "b"]
    args = parse(["--con", "db.sqlite", "--job", "edison", "--start", "s", "--end", "e"])
    assert (args.concurrentjobs, args.jobhost, args.start_time, args.end_time) == (
        "db.sqlite",
        "edison",
        "s",
        "e",
    )
    args = parse([])
    assert (args.topology, args.concurrentjobs, args.ost_fullness, args.ost_map) == (None,) * 4
    assert (args.ost, args.json, args.silent_errors, args.file_system) == (
        False,
        False,
        False,
        None,
    )


def test_runs_as_a_program(workdir: Path) -> None:
    env = {**os.environ, "PYTOKIO_SKIP_CONFIG": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.summarize_job", "--start-time", "2018-01-28 00:00:00"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "must be given together" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.summarize_job", "--bogus"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2 and "unrecognized arguments: --bogus" in done.stderr
