"""cache_slurm, cache_nersc_jobsdb, and find_darshanlogs -j (CLI.md 3.13, 3.14, 3.19)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from slurm_data import JOBID, JOBSDB_ROWS, SAMPLE_JOB, make_jobsdb, sacct_calls

from atokio.cli import cache_nersc_jobsdb, cache_slurm, find_darshanlogs
from atokio.cli._common import as_program

NATIVE = "\n".join(
    ["jobidraw|start|end|nodelist"]
    + [
        f"{task}|{r['start']}|{r['end']}|{'nid05301' if task.endswith('.batch') else 'nid[05301-05428]'}"
        for task, r in SAMPLE_JOB.items()
    ]
)
CSV = ",jobidraw,start,end,nodelist\n" + "".join(
    f"{i},{task},{str(r['start']).replace('T', ' ')},{str(r['end']).replace('T', ' ')},"
    f"{'nid05301' if task.endswith('.batch') else 'nid[05301-05428]'}\n"
    for i, (task, r) in enumerate(SAMPLE_JOB.items())
)


def test_cache_slurm_native(
    sample_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cache_slurm.main([str(sample_cache)]) == 0
    assert capsys.readouterr().out == NATIVE + "\n"
    out = tmp_path / "job.txt"
    assert cache_slurm.main(["-n", "-o", str(out), str(sample_cache)]) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    assert out.read_text() == NATIVE  # no newline at the end of a file
    # the native text loads back
    assert cache_slurm.main(["--json", str(out)]) == 0
    reloaded = json.loads(capsys.readouterr().out)
    assert {k: sorted(v["nodelist"]) for k, v in reloaded.items()} == {
        k: sorted(v["nodelist"])
        for k, v in SAMPLE_JOB.items()  # type: ignore[arg-type]
    }


def test_cache_slurm_json(
    sample_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cache_slurm.main(["-j", str(sample_cache)]) == 0
    assert capsys.readouterr().out == json.dumps(SAMPLE_JOB, indent=4, sort_keys=True) + "\n"
    out = tmp_path / "job.json"
    assert cache_slurm.main(["--json", "--native", "-o", str(out), str(sample_cache)]) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    assert out.read_text() == sample_cache.read_text()  # compact, byte for byte


def test_cache_slurm_csv(
    sample_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cache_slurm.main(["-c", "-j", str(sample_cache)]) == 0
    assert capsys.readouterr().out == CSV + "\n"  # one empty line after CSV on stdout
    out = tmp_path / "job.csv"
    assert cache_slurm.main(["--csv", "-o", str(out), str(sample_cache)]) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    assert out.read_text() == CSV


def test_cache_slurm_corpus(corpus_slurm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cache_slurm.main(["--csv", str(corpus_slurm)]) == 0
    assert capsys.readouterr().out == CSV + "\n"
    assert cache_slurm.main([str(corpus_slurm)]) == 0
    assert capsys.readouterr().out == NATIVE + "\n"


def test_cache_slurm_runs_sacct(
    sacct_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"{JOBID}.slurm"
    assert cache_slurm.main(["-j", "-o", str(out), JOBID]) == 0
    assert sacct_calls(sacct_bin) == [
        ["--jobs", JOBID, "--format=jobidraw,start,end,nodelist", "--parsable2"]
    ]
    saved = json.loads(out.read_text())
    assert list(saved) == list(SAMPLE_JOB)
    assert all(saved[k]["nodelist"] == sorted(v["nodelist"]) for k, v in SAMPLE_JOB.items())  # type: ignore[arg-type]
    capsys.readouterr()
    assert cache_slurm.main([JOBID]) == 0
    assert capsys.readouterr().out == NATIVE + "\n"


def test_cache_slurm_without_sacct(no_sacct: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert as_program(cache_slurm.main, [JOBID]) == 1
    assert "sacct: command not found" in capsys.readouterr().err


def test_cache_slurm_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_slurm.main(["--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    assert "slurm_jobid" in text and "--csv" in text and "--native" in text
    with pytest.raises(SystemExit) as caught:
        cache_slurm.main([])
    assert caught.value.code == 2


def test_cache_slurm_as_a_program(sample_cache: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "atokio.cli.cache_slurm", "--js", str(sample_cache)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(done.stdout) == SAMPLE_JOB


# -- cache_nersc_jobsdb ---------------------------------------------------------------


def _summary(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM summary ORDER BY STEPID").fetchall()


def test_cache_nersc_jobsdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    source = make_jobsdb(tmp_path / "jobs.sqlite3")
    monkeypatch.chdir(tmp_path)
    # epoch 1500..3000 is 1969-12-31T16:25:00..16:50:00 in Los Angeles
    argv = ["-i", str(source), "1969-12-31T16:25:00", "1969-12-31T16:50:00", "edison"]
    assert cache_nersc_jobsdb.main(argv) == 0
    assert capsys.readouterr().out == "Caching to nersc_jobsdb-0.sqlite\n"
    expected = sorted(r for r in JOBSDB_ROWS if r[0] in
                      ("100.edison", "101.edison", "102.edison", "106.edison", "106.edison-2"))  # fmt: skip
    assert _summary(tmp_path / "nersc_jobsdb-0.sqlite") == expected
    assert cache_nersc_jobsdb.main(argv) == 0
    assert capsys.readouterr().out == "Caching to nersc_jobsdb-1.sqlite\n"
    # merging into an existing file
    assert cache_nersc_jobsdb.main([*argv[:2], "1969-12-31T16:20:00", "1969-12-31T16:30:00",
                                    "cori", "-o", "nersc_jobsdb-0.sqlite"]) == 0  # fmt: skip
    assert [r[0] for r in _summary(tmp_path / "nersc_jobsdb-0.sqlite")][3] == "105.cori"


def test_cache_nersc_jobsdb_no_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_jobsdb(tmp_path / "jobs.sqlite3")
    out = tmp_path / "empty.sqlite"
    argv = [
        "-i",
        str(source),
        "-o",
        str(out),
        "2017-03-20T00:00:00",
        "2017-03-20T00:05:00",
        "edison",
    ]
    assert cache_nersc_jobsdb.main(argv) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    assert out.exists() and out.stat().st_size == 0


def test_cache_nersc_jobsdb_corpus(corpus_jobsdb: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "jobs.sqlite"
    argv = [
        "-i",
        str(corpus_jobsdb),
        "-o",
        str(out),
        "2017-03-20T01:53:20",
        "2017-03-20T01:58:20",
        "edison",
    ]  # fmt: skip  (epoch 1490000000 .. 1490000300)
    assert cache_nersc_jobsdb.main(argv) == 0
    rows = _summary(out)
    assert len(rows) == 378 and sum(r[4] for r in rows) == 4891
    with sqlite3.connect(out) as db:
        schema = db.execute("SELECT sql FROM sqlite_master WHERE name = 'summary'").fetchone()[0]
    assert (
        schema
        == "CREATE TABLE summary (STEPID, HOSTNAME, START, COMPLETION, NUMNODES, PRIMARY KEY(STEPID))"
    )


def test_cache_nersc_jobsdb_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.sqlite"
    assert as_program(cache_nersc_jobsdb.main, ["-i", str(missing), "2017-03-20T00:00:00",
                                    "2017-03-20T00:05:00", "edison"]) == 1  # fmt: skip
    assert "does not exist" in capsys.readouterr().err and not missing.exists()
    assert (
        as_program(
            cache_nersc_jobsdb.main, ["2017-03-20T00:00:00", "2017-03-20T00:05:00", "edison"]
        )
        == 1
    )
    assert "No databases available to query" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cache_nersc_jobsdb.main(["2017-03-20 00:00:00", "2017-03-20T00:05:00", "edison"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as caught:
        cache_nersc_jobsdb.main(["2017-03-20T00:00:00"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        cache_nersc_jobsdb.main(["-h"])
    assert caught.value.code == 0
    assert "NERSC_JOBSDB_HOST" in capsys.readouterr().out


# -- finding Darshan logs by job id ----------------------------------------------------


@pytest.fixture
def log_tree(tmp_path: Path, site_config: dict) -> Path:
    """A dated log tree holding (empty) logs of the sample job and of another one."""
    day = tmp_path / "logs" / "2017" / "3" / "20"
    day.mkdir(parents=True)
    for name in (f"glock_vpicio_uni_id{JOBID}_3-20-7667-1_1.darshan",
                 f"glock_dbscan_read_id{JOBID}_3-20-7800-2_1.darshan",
                 "other_app_id99_3-20-100-3_1.darshan"):  # fmt: skip
        (day / name).write_bytes(b"")
    site_config["darshan_log_dirs"] = {"testsystem": str(tmp_path / "logs")}
    site_config["jobinfo_jobid_providers"] = ["slurm"]
    return tmp_path / "logs"


def test_find_darshanlogs_by_jobid_only(log_tree: Path, sacct_bin: Path) -> None:
    from atokio.tools.darshan import find_darshanlogs

    found = sorted(Path(p).name for p in find_darshanlogs(jobid=int(JOBID)))
    assert found == [f"glock_dbscan_read_id{JOBID}_3-20-7800-2_1.darshan",
                     f"glock_vpicio_uni_id{JOBID}_3-20-7667-1_1.darshan"]  # fmt: skip
    assert sacct_calls(sacct_bin)[0][:2] == ["--jobs", JOBID]


def test_find_darshanlogs_cli_jobid(log_tree: Path, sacct_bin: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert find_darshanlogs.main(["-j", JOBID, "--host", "testsystem"]) == 0
    assert sorted(Path(p).name for p in capsys.readouterr().out.split()) == [
        f"glock_dbscan_read_id{JOBID}_3-20-7800-2_1.darshan",
        f"glock_vpicio_uni_id{JOBID}_3-20-7667-1_1.darshan",
    ]


def test_find_darshanlogs_jobid_without_providers(log_tree: Path, no_sacct: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from atokio.common import ConfigError
    from atokio.tools.darshan import find_darshanlogs as find_logs

    with pytest.raises(ConfigError, match="sacct: command not found"):
        find_logs(jobid=JOBID)
    assert as_program(find_darshanlogs.main, ["-j", JOBID]) == 1
    assert capsys.readouterr().err == (
        f"find_darshanlogs: No valid job id provider found for job {JOBID} "
        "(slurm: sacct: command not found): install it, put it on PATH, "
        "or give a saved file instead\n"
    )


def test_load_darshanlogs_by_jobid_corpus(sacct_bin: Path, site_config: dict) -> None:
    from corpus import INPUTS, need_corpus

    from atokio.tools.darshan import load_darshanlogs

    need_corpus()
    site_config["darshan_log_dirs"] = {"testsystem": str(INPUTS / "darshanlogs")}
    site_config["jobinfo_jobid_providers"] = ["slurm", "nersc_jobsdb"]
    logs = load_darshanlogs(jobid=JOBID, which="base", reader="direct")
    assert sorted(Path(p).name for p in logs) == [
        "glock_dbscan_read_id4478544_3-20-7800-15217972833987807816_1.darshan",
        "glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan",
    ]
    for log in logs.values():
        assert log["header"]["jobid"] == JOBID
