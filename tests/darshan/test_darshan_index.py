"""index_darshanlogs: rows, schema, resume, bad logs, directory arguments, both readers."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from darshan_corpus import (
    EMPTY_LOGS,
    INPUTS,
    SMALL_LOGS,
    corpus_log,
    expected_index,
    need_corpus,
    package_logs,
)

from atokio.cli import index_darshanlogs as cli
from atokio.cli._common import as_program
from atokio.pipelines import darshan_index, darshan_index_db
from atokio.tools.darshan_summary import SUMMARY_COLUMNS

HEADER_COLUMNS = (
    "filename", "end_time", "exe", "exename", "jobid", "nprocs", "start_time", "uid",
    "username", "version", "walltime",
)  # fmt: skip


def db_rows(db: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{log file name: {mount point: summary row}}`` of an index."""
    conn = sqlite3.connect(db)
    columns = ", ".join(f"summaries.{c}" for c in SUMMARY_COLUMNS)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in conn.execute(
        f"SELECT headers.filename, mounts.mountpt, {columns} FROM summaries "
        "JOIN headers ON summaries.log_id = headers.log_id "
        "JOIN mounts ON summaries.fs_id = mounts.fs_id"
    ):
        out.setdefault(row[0], {})[row[1]] = dict(zip(SUMMARY_COLUMNS, row[2:], strict=True))
    conn.close()
    return out


def db_headers(db: Path) -> dict[str, dict[str, Any]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(f"SELECT {', '.join(HEADER_COLUMNS)} FROM headers").fetchall()
    conn.close()
    return {row[0]: dict(zip(HEADER_COLUMNS, row, strict=True)) for row in rows}


def table_counts(db: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(db)
    headers, summaries, mounts = (
        conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("headers", "summaries", "mounts")
    )
    conn.close()
    return headers, summaries, mounts


def schema(db: Path) -> dict[str, dict[str, str]]:
    conn = sqlite3.connect(db)
    out = {
        table: {row[1]: row[2] for row in conn.execute(f"PRAGMA table_info({table})")}
        for table in ("mounts", "headers", "summaries")
    }
    out["indexes"] = {
        str(sorted(r[1] for r in conn.execute(f"PRAGMA index_info({i[1]})"))): str(i[2])
        for table in ("mounts", "headers", "summaries")
        for i in conn.execute(f"PRAGMA index_list({table})")
    }
    out["foreign keys"] = {
        f"{table}.{r[3]}": f"{r[2]}.{r[4]}"
        for table in ("summaries",)
        for r in conn.execute(f"PRAGMA foreign_key_list({table})")
    }
    conn.close()
    return out


# -- rows and schema ----------------------------------------------------------------


def test_rows_headers_mounts_and_schema(
    small_logs: Path, tmp_path: Path, site_fsnames: dict
) -> None:
    badost = small_logs / "glock_ior_id6265799_6-20-64779-123456789_1.darshan"
    badost.write_bytes(corpus_log("sample-badost").read_bytes())  # the big one, under a real name
    db = tmp_path / "index.db"
    assert cli.main(["-o", str(db), str(small_logs)]) == 0
    expected = {f"{log}.darshan": expected_index(log) for log in SMALL_LOGS}
    expected[badost.name] = expected_index("sample-badost", badost.name)
    assert db_rows(db) == {name: e["rows"] for name, e in expected.items()}
    headers = db_headers(db)
    for name, e in expected.items():
        assert {k: v for k, v in headers[name].items() if k != "username"} == e["header"]
    assert headers[badost.name]["username"] == "glock"
    assert headers["sample.darshan"]["username"] is None  # the name says nothing
    conn = sqlite3.connect(db)
    assert dict(conn.execute("SELECT mountpt, fsname FROM mounts")) == {
        "/scratch2": "scratch2",
        "/scratch1": "scratch1",
        "/global/cscratch1": "cscratch",
        "/global/project": "project2",
        "UNKNOWN": "UNKNOWN",
    }
    conn.close()
    need_corpus()
    assert schema(db) == schema(INPUTS / "darshanlogs.db")
    assert not Path(f"{db}-wal").exists()  # one self-contained file is left


def test_package_logs_without_the_corpus(tmp_path: Path, no_fsnames: None) -> None:
    logs = package_logs()
    db = tmp_path / "index.db"
    paths = [str(logs[n]) for n in ("sample", "noposixopens", "ior_hdf5_example")]
    assert cli.index_darshanlogs(paths, str(db), threads=2) == {
        "indexed": 3,
        "skipped": 0,
        "failed": 0,
    }
    rows = db_rows(db)
    # as worked out from the corpus's 3.5.0 text of the same logs
    assert rows["sample.darshan"]["/scratch2"]["bytes_written"] == 2199023259968
    assert rows["sample.darshan"]["/scratch2"]["f_close_end_timestamp"] == 115.770358
    assert rows["sample.darshan"]["UNKNOWN"]["stdio_files"] == 129
    assert rows["noposixopens.darshan"]["/global/project"]["bytes_read"] == 603979776
    assert rows["noposixopens.darshan"]["/global/project"]["opens"] == 3035
    assert db_headers(db)["ior_hdf5_example.darshan"]["version"] == "3.21"


# -- resuming -----------------------------------------------------------------------------


def test_index_part_then_all(small_logs: Path, tmp_path: Path, no_fsnames: None) -> None:
    db = tmp_path / "index.db"
    logs = sorted(str(p) for p in small_logs.iterdir())
    assert cli.index_darshanlogs(logs[:2], str(db)) == {"indexed": 2, "skipped": 0, "failed": 0}
    first = db_rows(db)
    assert cli.index_darshanlogs(logs, str(db), threads=2) == {
        "indexed": 3,
        "skipped": 2,
        "failed": 0,
    }
    rows = db_rows(db)
    assert {k: rows[k] for k in first} == first
    assert sorted(rows) == sorted(Path(p).name for p in logs)
    assert table_counts(db)[:2] == (5, 10)
    assert cli.index_darshanlogs([str(small_logs)], str(db)) == {
        "indexed": 0,
        "skipped": 5,
        "failed": 0,
    }
    assert table_counts(db)[:2] == (5, 10)


def test_an_interrupted_run_resumes_without_duplicates(
    small_logs: Path, tmp_path: Path, no_fsnames: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "index.db"
    commits: list[int] = []
    real_commit = darshan_index_db._commit_batch

    def commit_then_fail(conn: Any, results: Any, mount_ids: Any, echo: Any = None) -> None:
        if commits:
            raise KeyboardInterrupt  # as if ^C came during the second batch
        commits.append(len(results))
        real_commit(conn, results, mount_ids, echo)

    monkeypatch.setattr(darshan_index_db, "BATCH_LOGS", 2)
    monkeypatch.setattr(darshan_index_db, "_commit_batch", commit_then_fail)
    with pytest.raises(KeyboardInterrupt):
        cli.index_darshanlogs([str(small_logs)], str(db))
    assert commits == [2]
    assert table_counts(db)[:2] == (2, 4)  # the first batch only, all of it
    monkeypatch.setattr(darshan_index_db, "_commit_batch", real_commit)
    assert cli.index_darshanlogs([str(small_logs)], str(db)) == {
        "indexed": 3,
        "skipped": 2,
        "failed": 0,
    }
    assert table_counts(db)[:2] == (5, 10)
    assert db_rows(db) == {f"{log}.darshan": expected_index(log)["rows"] for log in SMALL_LOGS}


def test_a_killed_run_resumes_without_duplicates(tmp_path: Path, standin_parser: Path) -> None:
    logs = tmp_path / "many"
    logs.mkdir()
    for i in range(20):  # two worker calls' worth (16 logs a call), then the killer
        log = SMALL_LOGS[i % len(SMALL_LOGS)]
        (logs / f"u{i:02d}_{log}_id{i}_1-2-3-4_1.darshan").write_bytes(corpus_log(log).read_bytes())
    (logs / "zz-kill.darshan").write_bytes(b"KILL THE INDEXER " * 100)
    db = tmp_path / "index.db"
    pidfile = tmp_path / "pid"
    env = {**os.environ, "PYTOKIO_SKIP_CONFIG": "1", "STANDIN_KILL_PIDFILE": str(pidfile),
           "STANDIN_KILL_DB": str(db), "STANDIN_KILL_AFTER": "16"}  # fmt: skip
    argv = [sys.executable, "-m", "atokio.cli.index_darshanlogs", "--no-bulk-insert", "-q",
            "--reader", "darshan-parser", "-o", str(db), str(logs)]  # fmt: skip
    # a session of its own: its worker processes outlive a SIGKILL, and are ended with it here
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        pidfile.write_text(str(process.pid))
        process.wait(timeout=60)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == -signal.SIGKILL  # killed by the stand-in, at the last log
    rows = db_rows(db)
    assert 16 <= len(rows) < 20
    assert set(db_headers(db)) == set(rows)  # each log is there with all its rows, or not at all
    for name, log_rows in rows.items():
        assert log_rows == expected_index(name.split("_")[1])["rows"]
    counts = cli.index_darshanlogs([str(logs)], str(db), reader="direct", quiet=True)
    assert counts == {"indexed": 20 - len(rows), "skipped": len(rows), "failed": 1}
    assert table_counts(db)[:2] == (20, 40)
    assert len(db_rows(db)) == 20


# -- bad logs and arguments -------------------------------------------------------------------


def test_bad_logs_are_reported_and_skipped(
    small_logs: Path, tmp_path: Path, no_fsnames: None, caplog: pytest.LogCaptureFixture
) -> None:
    (small_logs / "empty.darshan").write_bytes(b"")
    (small_logs / "notes.txt").write_text("notes about these logs, not a log\n" * 40)
    cut = small_logs / "cut.darshan"
    cut.write_bytes(corpus_log("sample-badost").read_bytes()[:20000])
    placeholder = corpus_log(EMPTY_LOGS[0])
    db = tmp_path / "index.db"
    with caplog.at_level(logging.WARNING, logger="atokio"):
        counts = cli.index_darshanlogs([str(small_logs)], str(db), threads=2)
        counts2 = cli.index_darshanlogs([str(placeholder)], str(db))
    assert counts == {"indexed": 5, "skipped": 0, "failed": 3}
    assert counts2 == {"indexed": 0, "skipped": 0, "failed": 1}
    assert sorted(r.getMessage() for r in caplog.records) == sorted(
        [
            f"skipping unreadable log: {placeholder}: invalid log file: empty file",
            f"skipping unreadable log: {cut}: truncated log: a region ends at byte 135037, "
            "the file has 20000",
            f"skipping unreadable log: {small_logs / 'empty.darshan'}: invalid log file: "
            "empty file",
            f"skipping unreadable log: {small_logs / 'notes.txt'}: invalid log file: not a "
            "Darshan log (no version in its header)",
        ]
    )
    assert sorted(db_rows(db)) == sorted(f"{log}.darshan" for log in SMALL_LOGS)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="atokio"):
        assert cli.index_darshanlogs([str(small_logs)], str(db), quiet=True)["failed"] == 3
    assert caplog.records == []


def test_quiet_and_warnings_on_stderr(small_logs: Path, tmp_path: Path, no_fsnames: None) -> None:
    (small_logs / "empty.darshan").write_bytes(b"")
    db = tmp_path / "index.db"
    run = [sys.executable, "-m", "atokio.cli.index_darshanlogs", "-o", str(db), str(small_logs)]
    env = {**os.environ, "PYTOKIO_SKIP_CONFIG": "1"}
    loud = subprocess.run(run, capture_output=True, text=True, env=env, check=False)
    assert (loud.returncode, loud.stdout) == (1, "")
    assert loud.stderr == (
        f"WARNING: skipping unreadable log: {small_logs / 'empty.darshan'}: "
        "invalid log file: empty file\n"
        "index_darshanlogs: 1 of 6 logs could not be read: "
        "see the warnings above; fix or drop them, or use --silent-errors\n"
    )
    quiet = subprocess.run([*run, "-q"], capture_output=True, text=True, env=env, check=True)
    assert (quiet.stdout, quiet.stderr) == ("", "")


def test_directory_argument(small_logs: Path, tmp_path: Path, no_fsnames: None) -> None:
    nested = small_logs / "2019" / "1" / "2"
    nested.mkdir(parents=True)
    (nested / "deeper.darshan").write_bytes(corpus_log("sample").read_bytes())
    db = tmp_path / "index.db"
    assert cli.index_darshanlogs([str(small_logs)], str(db))["indexed"] == 5
    assert "deeper.darshan" not in db_rows(db)  # not recursive
    # a directory among several arguments is not expanded: it is an unreadable "log"
    counts = cli.index_darshanlogs(
        [str(nested), str(nested / "deeper.darshan")], str(db), quiet=True
    )
    assert counts == {"indexed": 1, "skipped": 0, "failed": 1}
    assert cli.process_log_list(sqlite3.connect(db), [str(nested)]) == []
    assert cli.process_log_list(sqlite3.connect(db), [str(small_logs)]) == []


def test_same_basename_twice_in_one_run(
    small_logs: Path, tmp_path: Path, no_fsnames: None, caplog: pytest.LogCaptureFixture
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "sample.darshan").write_bytes(corpus_log("sample-2").read_bytes())
    db = tmp_path / "index.db"
    logs = [str(small_logs / "sample.darshan"), str(other / "sample.darshan")]
    with caplog.at_level(logging.WARNING, logger="atokio"):
        assert cli.index_darshanlogs(logs, str(db)) == {"indexed": 1, "skipped": 0, "failed": 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping {other / 'sample.darshan'}: another log named sample.darshan is indexed in this run"
    ]
    assert db_rows(db)["sample.darshan"] == expected_index("sample")["rows"]


def test_verbose_output_and_options(small_logs: Path, tmp_path: Path, no_fsnames: None,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    db = tmp_path / "index.db"
    assert cli.main(["-vvvv", "--no-bulk", "-t", "0", "-m", "1", "--output", str(db), str(small_logs)]) == 0  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"Updated {db}"
    assert out[-3] == "Indexed 5 logs, 0 skipped as unreadable or empty, 0 already indexed"
    assert sum(line.startswith("CREATE TABLE IF NOT EXISTS") for line in out) == 3
    assert sum(line.startswith("INSERT OR IGNORE INTO headers") for line in out) == 5
    assert sum(line.startswith("INSERT OR REPLACE INTO summaries") for line in out) == 10
    assert db_rows(db) == {f"{log}.darshan": expected_index(log)["rows"] for log in SMALL_LOGS}
    with pytest.raises(SystemExit) as usage:
        cli.main(["-t", "-1", "-o", str(db), str(small_logs)])
    assert usage.value.code == 2
    assert "argument -t/--threads: '-1' is out of range: use a value 0 or more" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as caught:
        cli.main(["--reader", "magic", str(small_logs)])
    assert caught.value.code == 2


def test_missing_darshan_parser(small_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)
    db = tmp_path / "index.db"
    assert as_program(cli.main, ["--reader", "darshan-parser", "-o", str(db), str(small_logs)]) == 1
    assert capsys.readouterr().err.endswith(
        "darshan-parser: command not found: install it, put it on PATH, "
        "or give a saved file instead\n"
    )


# -- the two readers ----------------------------------------------------------------------


def test_both_readers_give_the_same_rows(
    small_logs: Path, tmp_path: Path, site_fsnames: dict, standin_parser: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    for name in EMPTY_LOGS:
        (small_logs / f"{name}.darshan").write_bytes(b"")
    direct, parser = tmp_path / "direct.db", tmp_path / "parser.db"
    with caplog.at_level(logging.WARNING, logger="atokio"):
        counts = cli.index_darshanlogs([str(small_logs)], str(direct), reader="direct")
        assert (
            cli.index_darshanlogs(
                [str(small_logs)], str(parser), reader="darshan-parser", threads=2
            )
            == counts
            == {"indexed": 5, "skipped": 0, "failed": 2}
        )
    assert db_rows(direct) == db_rows(parser)
    assert db_rows(direct) == {f"{log}.darshan": expected_index(log)["rows"] for log in SMALL_LOGS}
    assert db_headers(direct) == db_headers(parser)
    failures = sorted(
        r.getMessage() for r in caplog.records if "darshan-parser exited" in r.getMessage()
    )
    assert failures == [
        f"skipping unreadable log: {small_logs / name}.darshan: darshan-parser exited with status "
        "255: Error: darshan_log_open failed to read darshan log file header: Success."
        for name in sorted(EMPTY_LOGS)
    ]


def test_the_index_follows_the_connectors_reader_policy(
    standin_parser: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # auto: darshan-parser when it is found, else the direct reader
    assert darshan_index.choose_reader("auto") == str(standin_parser)
    assert darshan_index.choose_reader("darshan-parser") == str(standin_parser)
    assert darshan_index.choose_reader("direct") == "direct"
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert darshan_index.choose_reader("auto") == "direct"
    with pytest.raises(FileNotFoundError, match="darshan-parser: command not found"):
        darshan_index.choose_reader("darshan-parser")
    with pytest.raises(ValueError, match="unknown Darshan reader 'text'"):
        darshan_index.choose_reader("text")


# -- the documented helper functions -----------------------------------------------------


def test_module_functions(small_logs: Path, tmp_path: Path, site_fsnames: dict) -> None:
    summary = cli.summarize_by_fs(str(small_logs / "sample-2.darshan"))
    assert summary["summaries"] == expected_index("sample-2")["rows"]
    assert summary["mounts"] == {"/scratch2": "scratch2", "UNKNOWN": "UNKNOWN"}
    assert summary["headers"]["jobid"] == "4478544"
    mounts = ["/", "/global/cscratch1", "/global/cscratch1/sd"]
    assert cli.get_file_mount("/global/cscratch1/sd/x", mounts) == (
        "/global/cscratch1/sd",
        "cscratch",
    )
    assert cli.get_file_mount("/tmp/x", mounts) == ("/", "/")
    assert cli.get_file_mount("relative", mounts) is None
    assert [p.pattern for p, _ in cli.init_mount_to_fsname()] == list(site_fsnames)
    conn = sqlite3.connect(tmp_path / "new.db")
    cli.create_mount_table(conn)
    cli.create_headers_table(conn)
    cli.create_summaries_table(conn)
    assert cli.get_existing_logs(conn) == []
    ids = cli.update_mount_table(conn, summary["mounts"])
    log_ids = cli.update_headers_table(conn, [summary["headers"]])
    cli.update_summaries_table(
        conn,
        [(log_ids["sample-2.darshan"], ids[m], *(row[c] for c in SUMMARY_COLUMNS))
         for m, row in summary["summaries"].items()],
    )  # fmt: skip
    conn.commit()
    assert cli.get_existing_logs(conn) == ["sample-2.darshan"]
    assert cli.process_log_list(conn, [str(small_logs)]) == sorted(
        str(small_logs / f"{log}.darshan") for log in SMALL_LOGS if log != "sample-2"
    )
    cli.VERBOSITY = 0
    cli.vprint("not shown", 1)


def test_logs_without_rows_are_reported(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_fsnames: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a darshan-parser that prints the "log" itself: any text can be indexed
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "darshan-parser"
    script.write_text('#!/bin/sh\nfor log; do :; done\nexec cat "$log"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)
    header = "# darshan log version: 3.41\n# exe: /bin/true\n# uid: 1\n# jobid: 9\n# nprocs: 1\n"
    mounts = "\n# mounted file systems (mount point and fs type)\n# mount entry:\t/home\tnfs\n"
    record = "POSIX\t-1\t1\tPOSIX_{}\t{}\t/home/a\t/home\tnfs\n"
    logs = tmp_path / "logs"
    logs.mkdir()
    banner = "\n# *******************************************************\n# POSIX module data\n"
    (logs / "idle.darshan").write_text(header + mounts + banner + record.format("SEEKS", 3))
    (logs / "nomounts.darshan").write_text(header + banner + record.format("OPENS", 3))
    (logs / "busy.darshan").write_text(header + mounts + banner + record.format("OPENS", 3))
    db = tmp_path / "index.db"
    with caplog.at_level(logging.WARNING, logger="atokio"):
        counts = cli.index_darshanlogs([str(logs)], str(db), reader="darshan-parser")
    assert counts == {"indexed": 1, "skipped": 0, "failed": 2}
    assert sorted(r.getMessage() for r in caplog.records) == [
        f"skipping {logs / 'idle.darshan'}: no POSIX or STDIO activity",
        f"skipping {logs / 'nomounts.darshan'}: no mount table",
    ]
    assert db_rows(db)["busy.darshan"]["/home"]["opens"] == 3
    assert db_headers(db)["busy.darshan"]["version"] == "3.41"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_inside_a_running_event_loop(
    anyio_backend: str, small_logs: Path, tmp_path: Path, no_fsnames: None
) -> None:
    # as in Jupyter: the sync API called while an event loop runs in this thread
    db = tmp_path / "index.db"
    counts = cli.index_darshanlogs([str(small_logs)], str(db), threads=2)
    assert counts == {"indexed": 5, "skipped": 0, "failed": 0}
    assert db_rows(db) == {f"{log}.darshan": expected_index(log)["rows"] for log in SMALL_LOGS}


# -- the library pipeline: worker function, writer, progress ---------------------------------


def test_summarize_batch_is_picklable_and_gives_each_logs_rows(
    small_logs: Path, tmp_path: Path, no_fsnames: None
) -> None:
    import pickle

    assert pickle.loads(pickle.dumps(darshan_index.summarize_batch)) is (
        darshan_index.summarize_batch
    )
    logs = [str(small_logs / f"{log}.darshan") for log in SMALL_LOGS]
    empty = tmp_path / "empty.darshan"
    empty.write_bytes(b"")
    results = darshan_index.summarize_batch([*logs, str(empty)], "direct", None)
    assert [log for log, _ in results] == [*logs, str(empty)]
    for log, outcome in results[:-1]:
        assert isinstance(outcome, dict)
        assert outcome["summaries"] == expected_index(Path(log).stem)["rows"]
    assert isinstance(results[-1][1], str) and results[-1][1].startswith(f"{empty}: ")
    # the writer commits them, in batches, and knows them afterwards
    db = tmp_path / "index.db"
    with darshan_index.IndexWriter(str(db), batch_logs=2) as writer:
        assert writer.existing_logs() == set()
        for _, outcome in results[:-1]:
            writer.add(outcome)  # type: ignore[arg-type]
        assert writer.indexed == 4  # two full batches; the fifth log waits for flush()
        writer.flush()
        assert writer.indexed == 5
        assert writer.existing_logs() == {f"{log}.darshan" for log in SMALL_LOGS}
    assert db_rows(db) == {f"{log}.darshan": expected_index(log)["rows"] for log in SMALL_LOGS}


def test_progress_goes_to_the_callers_callable_or_bar(
    small_logs: Path, tmp_path: Path, no_fsnames: None
) -> None:
    from atokio.progress import SilentBar

    counted: list[int] = []
    counts = darshan_index.index_darshanlogs(
        [str(small_logs)], str(tmp_path / "a.db"), reader="direct", progress=counted.append
    )
    assert counts == {"indexed": 5, "skipped": 0, "failed": 0}
    assert sum(counted) == 5
    bar = SilentBar()
    darshan_index.index_darshanlogs(
        [str(small_logs)], str(tmp_path / "b.db"), reader="direct", progress=bar
    )
    assert (bar.total, bar.n) == (5, 5)
    messages: list[tuple[str, int]] = []
    darshan_index.index_darshanlogs(
        [str(small_logs)],
        str(tmp_path / "b.db"),
        reader="direct",
        echo=lambda m, n: messages.append((m, n)),
    )
    assert (
        "Indexed 0 logs, 0 skipped as unreadable or empty, 5 already indexed",
        1,
    ) in messages


def test_the_async_form_runs_under_trio(small_logs: Path, tmp_path: Path, no_fsnames: None) -> None:
    import functools

    import anyio

    run = functools.partial(
        darshan_index.aindex_darshanlogs, [str(small_logs)], str(tmp_path / "t.db"), reader="direct"
    )
    assert anyio.run(run, backend="trio") == {"indexed": 5, "skipped": 0, "failed": 0}
    assert db_rows(tmp_path / "t.db") == {
        f"{log}.darshan": expected_index(log)["rows"] for log in SMALL_LOGS
    }
