"""index_darshanlogs, darshan_scoreboard and summarize_darshanlogs."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from corpus import DARSHAN, INPUTS, darshan_text, need_corpus
from standin import install_darshan_parser, path_with

from atokio.cli import darshan_scoreboard, index_darshanlogs, summarize_darshanlogs
from atokio.parsers.base import parse_all
from atokio.parsers.darshan import DarshanParser, build_darshan_dict

EXAMPLE_LOGS = Path(
    __import__("darshan.examples.example_logs").examples.example_logs.__file__
).parent
SUMMED = ("bytes_read", "bytes_written", "reads", "writes", "opens", "stats", "seeks", "flushes")


def expected_rows(log: str) -> dict[str, dict[str, int]]:
    """Sums per mount computed straight from the recorded 3.5.0 text (longest mount prefix)."""
    parsed = build_darshan_dict(parse_all(DarshanParser(), darshan_text(log, "base")))
    mounts = sorted(parsed["mounts"], key=len, reverse=True)
    rows: dict[str, dict[str, int]] = {}
    for module in ("posix", "stdio"):
        for name, ranks in parsed["counters"].get(module, {}).items():
            if name.startswith("_"):
                continue
            mount = "UNKNOWN"
            if "/" in name and not name.startswith("<"):
                mount = next((m for m in mounts if name.startswith(m)), "UNKNOWN")
            for counters in ranks.values():
                row = rows.setdefault(
                    mount, dict.fromkeys((*SUMMED, "posix_files", "stdio_files"), 0)
                )
                for column in SUMMED:
                    row[column] += counters.get(column.upper(), 0)
                row[f"{module}_files"] += 1
    return {m: r for m, r in rows.items() if sum(r[c] for c in SUMMED[:6]) != 0}


def db_rows(db: Path) -> dict[str, dict[str, dict[str, int]]]:
    conn = sqlite3.connect(db)
    cols = ", ".join(f"summaries.{c}" for c in (*SUMMED, "posix_files", "stdio_files"))
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in conn.execute(
        f"SELECT headers.filename, mounts.mountpt, {cols} FROM summaries "
        "JOIN headers ON summaries.log_id = headers.log_id JOIN mounts ON summaries.fs_id = mounts.fs_id"
    ):
        out.setdefault(row[0], {})[row[1]] = dict(
            zip((*SUMMED, "posix_files", "stdio_files"), row[2:], strict=True)
        )
    conn.close()
    return out


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    need_corpus()
    folder = tmp_path / "logs"
    folder.mkdir()
    for log in ("sample", "sample-2", "sample-goodost", "noposix", "noposixopens"):
        shutil.copy(DARSHAN / f"{log}.darshan", folder / f"{log}.darshan")
    return folder


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> None:
    from atokio import config

    need_corpus()
    monkeypatch.setitem(
        config.CONFIG,
        "mount_to_fsname",
        json.loads((INPUTS / "site.json").read_text())["mount_to_fsname"],
    )


def test_index_rows_schema_and_headers(logs: Path, tmp_path: Path, site: None) -> None:
    db = tmp_path / "index.db"
    assert index_darshanlogs.main(["-o", str(db), str(logs)]) == 0
    rows = db_rows(db)
    assert sorted(rows) == sorted(p.name for p in logs.iterdir())
    for name in rows:
        assert rows[name] == expected_rows(name[: -len(".darshan")]), name
    conn = sqlite3.connect(db)
    assert [r[1] for r in conn.execute("PRAGMA table_info(headers)")] == [
        "log_id", "filename", "end_time", "exe", "exename", "jobid", "nprocs", "start_time",
        "uid", "username", "version", "walltime",
    ]  # fmt: skip
    reference = sqlite3.connect(INPUTS / "darshanlogs.db")
    for table in ("mounts", "headers", "summaries"):
        mine = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}
        theirs = {r[1]: r[2] for r in reference.execute(f"PRAGMA table_info({table})")}
        assert mine == theirs, table
    assert conn.execute("SELECT filename, exe, exename, jobid, nprocs, walltime, version FROM headers WHERE filename='sample.darshan'").fetchone() == (
        "sample.darshan",
        "/global/project/projectdirs/m888/glock/tokio-abc-results/bin.edison/vpicio_uni",
        "vpicio_uni", "4478544", 2048, 117, "3.10",
    )  # fmt: skip
    assert dict(conn.execute("SELECT mountpt, fsname FROM mounts")) == {
        "UNKNOWN": "UNKNOWN",
        "/scratch2": "scratch2",
        "/scratch1": "scratch1",
        "/global/cscratch1": "cscratch",
        "/global/project": "project2",
    }
    timestamps = conn.execute(
        "SELECT f_open_start_timestamp, f_write_end_timestamp FROM summaries JOIN headers USING (log_id) "
        "JOIN mounts USING (fs_id) WHERE filename='sample.darshan' AND mountpt='/scratch2'"
    ).fetchone()
    posix = build_darshan_dict(parse_all(DarshanParser(), darshan_text("sample", "base")))[
        "counters"
    ]["posix"]
    (vpic,) = posix.values()
    assert timestamps == (vpic["-1"]["F_OPEN_START_TIMESTAMP"], vpic["-1"]["F_WRITE_END_TIMESTAMP"])
    assert not (tmp_path / "index.db-wal").exists()  # one self-contained file is left


def test_unreadable_logs_are_reported_and_skipped(
    logs: Path, tmp_path: Path, site: None, caplog: pytest.LogCaptureFixture
) -> None:
    (logs / "empty.darshan").write_bytes(b"")
    (logs / "notes.txt").write_text("not a darshan log, just some notes about the logs\n" * 20)
    (logs / "cut.darshan").write_bytes((DARSHAN / "sample-badost.darshan").read_bytes()[:20000])
    db = tmp_path / "index.db"
    with caplog.at_level(logging.WARNING, logger="atokio"):
        counts = index_darshanlogs.index_darshanlogs([str(logs)], str(db), threads=2)
    assert counts == {"indexed": 5, "skipped": 0, "failed": 3}
    messages = sorted(r.getMessage() for r in caplog.records)
    assert len(messages) == 3
    assert f"{logs / 'cut.darshan'}: truncated log" in messages[0]
    assert f"{logs / 'empty.darshan'}: invalid log file: empty file" in messages[1]
    assert f"{logs / 'notes.txt'}: invalid log file: not a Darshan log" in messages[2]
    assert len(db_rows(db)) == 5
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="atokio"):
        index_darshanlogs.index_darshanlogs([str(logs)], str(db), quiet=True)
    assert caplog.records == []


def test_resume_indexes_only_what_is_missing(logs: Path, tmp_path: Path, site: None) -> None:
    db = tmp_path / "index.db"
    first = sorted(str(p) for p in logs.iterdir())[:2]
    assert index_darshanlogs.index_darshanlogs(first, str(db)) == {
        "indexed": 2,
        "skipped": 0,
        "failed": 0,
    }
    everything = sorted(str(p) for p in logs.iterdir())
    assert index_darshanlogs.index_darshanlogs(everything, str(db), threads=2) == {
        "indexed": 3,
        "skipped": 2,
        "failed": 0,
    }
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM headers").fetchone() == (5,)
    assert conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT log_id || '-' || fs_id) FROM summaries"
    ).fetchone() == (10, 10)
    assert sorted(index_darshanlogs.get_existing_logs(conn)) == sorted(
        p.name for p in logs.iterdir()
    )


def test_both_readers_give_the_same_rows(
    logs: Path, tmp_path: Path, site: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    install_darshan_parser(bin_dir)
    monkeypatch.setenv("PATH", path_with(bin_dir))
    direct, parser = tmp_path / "direct.db", tmp_path / "parser.db"
    index_darshanlogs.index_darshanlogs([str(logs)], str(direct), reader="direct")
    index_darshanlogs.index_darshanlogs(
        [str(logs)], str(parser), reader="darshan-parser", threads=2
    )
    assert db_rows(direct) == db_rows(parser)
    columns = "filename, end_time, exe, exename, jobid, nprocs, start_time, uid, username, version, walltime"
    query = f"SELECT {columns} FROM headers ORDER BY filename"
    assert (
        sqlite3.connect(direct).execute(query).fetchall()
        == sqlite3.connect(parser).execute(query).fetchall()
    )


def test_index_of_package_example_logs_without_the_corpus(tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    logs = [str(EXAMPLE_LOGS / "example.darshan"), str(EXAMPLE_LOGS / "ior_hdf5_example.darshan")]
    assert index_darshanlogs.index_darshanlogs(logs, str(db)) == {
        "indexed": 2,
        "skipped": 0,
        "failed": 0,
    }
    conn = sqlite3.connect(db)
    assert conn.execute(
        "SELECT bytes_written, posix_files FROM summaries JOIN headers USING (log_id) JOIN mounts USING (fs_id) "
        "WHERE filename = 'example.darshan' AND mountpt = '/scratch2'"
    ).fetchone() == (2199023259968, 1)
    assert conn.execute("SELECT version FROM headers ORDER BY filename").fetchall() == [
        ("3.10",),
        ("3.21",),
    ]


def test_get_file_mount(site: None) -> None:
    mounts = ["/", "/global/cscratch1", "/global/cscratch1/sd"]
    assert index_darshanlogs.get_file_mount("/global/cscratch1/sd/x", mounts) == (
        "/global/cscratch1/sd",
        "cscratch",
    )
    assert index_darshanlogs.get_file_mount("/tmp/x", mounts) == ("/", "/")
    assert index_darshanlogs.get_file_mount("relative", mounts) is None


# ---------------------------------------------------------------------------
# darshan_scoreboard on the reference's own index


def reference_sums(group: str) -> list[list]:
    conn = sqlite3.connect(INPUTS / "darshanlogs.db")
    rows = conn.execute(
        f"SELECT SUM(bytes_read), SUM(bytes_written), COUNT(DISTINCT filename), {group} FROM summaries "
        "JOIN headers USING (log_id) JOIN mounts USING (fs_id) "
        f"GROUP BY {group} ORDER BY SUM(bytes_read) + SUM(bytes_written) DESC"
    ).fetchall()
    return [list(r) for r in rows]


def test_scoreboard_json(capsys: pytest.CaptureFixture[str]) -> None:
    need_corpus()
    assert darshan_scoreboard.main(["--json", str(INPUTS / "darshanlogs.db")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out) == ["per_exe", "per_fs", "per_user", "per_user_exe_fs"]
    assert out["per_user"] == reference_sums("username")
    assert out["per_exe"] == reference_sums("exename")
    assert [row[:3] for row in out["per_fs"]] == [
        row[:3] for row in reference_sums("fsname, mountpt")
    ]
    assert out["per_fs"][0][3:] == ["cscratch", "/global/cscratch1"]
    top = out["per_user_exe_fs"][0]
    assert top[3] == "ztbmj73pgr|1280436894|cscratch"


def test_scoreboard_text_and_filters(capsys: pytest.CaptureFixture[str]) -> None:
    need_corpus()
    db = str(INPUTS / "darshanlogs.db")
    assert darshan_scoreboard.main(["--max-show", "2", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == " #                                     Users  Read(GiB) Write(GiB)   # Jobs"
    assert lines[1] == "=" * 75
    user = reference_sums("username")[0]
    assert lines[2] == "%2d. %40s %10.1f %10.1f %8d" % (
        1,
        user[3],
        user[0] / 2**30,
        user[1] / 2**30,
        user[2],
    )
    assert lines[4] == ""
    assert lines[5].endswith("File Systems  Read(GiB) Write(GiB)   # Jobs")
    assert lines[7].split()[:2] == ["1.", "cscratch"]
    assert lines[-1].split()[1:4] == ["wgrmxn3ydw,", "272998019,", "homes-u2"]
    darshan_scoreboard.main(["--json", "--limit-fs", "homes%", "--exclude-user", "nobody", db])
    filtered = json.loads(capsys.readouterr().out)
    assert filtered["per_fs"] == [
        row for row in reference_sums("fsname, mountpt") if row[3].startswith("homes")
    ]
    assert len(filtered["per_fs"]) == 1
    darshan_scoreboard.main(["--json", "--limit-user", "zt%,wg%", db])
    users = [row[3] for row in json.loads(capsys.readouterr().out)["per_user"]]
    assert users == ["ztbmj73pgr", "wgrmxn3ydw"]
    with pytest.raises(SystemExit) as caught:
        darshan_scoreboard.main(["--limit-exe", "a", "--exclude-exe", "b", db])
    assert caught.value.code == 2
    # a pattern is bound, never pasted into the SQL
    darshan_scoreboard.main(["--json", "--limit-user", "x' OR '1'='1", db])
    assert json.loads(capsys.readouterr().out)["per_user"] == []


def test_summarize_darshanlogs(site: None, capsys: pytest.CaptureFixture[str]) -> None:
    need_corpus()
    logs = [str(DARSHAN / "sample.darshan"), str(DARSHAN / "noposixopens.darshan")]
    assert summarize_darshanlogs.main(logs) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        log: {
            mount: {"read_bytes": row["bytes_read"], "write_bytes": row["bytes_written"]}
            for mount, row in expected_rows(Path(log).stem).items()
        }
        for log in logs
    }
    assert out[logs[0]]["/scratch2"] == {"read_bytes": 0, "write_bytes": 2199023259968}
