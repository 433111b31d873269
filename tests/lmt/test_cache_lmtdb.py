"""The cache_lmtdb tool (CLI.md 3.10): from SQLite and from MariaDB, compared with direct SQL."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import pytest
from lmt_mariadb import MariaDbServer
from lmt_paths import SNX_SQLITE

from atokio.cli import cache_lmtdb
from atokio.cli._common import as_program
from atokio.connectors.lmtdb import LMT_TABLES, LmtDb

WINDOW = ["2018-01-28T00:01:00", "2018-01-28T00:02:00"]


def dump(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}


def expected_window(path: Path, lo: str, hi: str) -> dict[str, list[tuple]]:
    """What the cache of [lo, hi] must hold, from direct SQL on the source."""
    out = {}
    with sqlite3.connect(path) as db:
        ts_min, ts_max = db.execute(
            "SELECT MIN(TS_ID), MAX(TS_ID) FROM TIMESTAMP_INFO WHERE TIMESTAMP >= ? AND TIMESTAMP <= ?",
            (lo.replace("T", " "), hi.replace("T", " ")),
        ).fetchone()
        for table, columns in LMT_TABLES.items():
            query = f"SELECT {', '.join(columns)} FROM {table}"
            if "TS_ID" in columns:
                query += f" WHERE TS_ID >= {ts_min} AND TS_ID <= {ts_max}"
            rows = sorted(db.execute(query), key=repr)
            if rows:
                out[table] = rows
    return out


def schema(path: Path, table: str) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]


def test_from_sqlite(lmt_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "small.sqlite"
    assert cache_lmtdb.main(["-i", str(SNX_SQLITE), "-o", str(out), *WINDOW]) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    got = dump(out)
    assert got == expected_window(SNX_SQLITE, *WINDOW)
    assert len(got["TIMESTAMP_INFO"]) == 13  # both ends inclusive
    assert len(got["OST_DATA"]) == 13 * 24
    assert sorted(got) == sorted(LMT_TABLES)
    assert schema(out, "OST_DATA") == (
        "CREATE TABLE OST_DATA (OST_ID, TS_ID, READ_BYTES, WRITE_BYTES, PCT_CPU, KBYTES_FREE, "
        "KBYTES_USED, INODES_FREE, INODES_USED, PRIMARY KEY(OST_ID, TS_ID))"
    )
    # archive_lmtdb's reader accepts the result
    small = LmtDb(cache_file=out)
    window = [datetime.datetime.fromisoformat(text) for text in WINDOW]
    assert small.get_ts_ids(*window) == (8921910, 8921922)
    small.close_cache()


def test_merge_limit_and_default_name(
    lmt_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lmtdb-0.sqlite").write_bytes(b"")
    assert cache_lmtdb.main(["-i", str(SNX_SQLITE), "-l", "5", *WINDOW]) == 0
    out = tmp_path / "lmtdb-1.sqlite"
    first = dump(out)
    assert all(len(rows) == 5 for rows in first.values() if len(rows) >= 5)
    assert len(first["FILESYSTEM_INFO"]) == 1
    # a second run over a later window merges into the same file
    later = ["2018-01-28T00:03:00", "2018-01-28T00:03:10"]
    assert cache_lmtdb.main(["-i", str(SNX_SQLITE), "-o", str(out), *later]) == 0
    merged = dump(out)
    assert len(merged["TIMESTAMP_INFO"]) == 5 + 3
    assert len(merged["OPERATION_INFO"]) == 81


def test_failures(
    lmt_corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for variable in cache_lmtdb.ENV_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    out = tmp_path / "none.sqlite"
    # no time stamp in the window: ValueError, exit 1, no file
    assert (
        as_program(
            cache_lmtdb.main,
            ["-i", str(SNX_SQLITE), "-o", str(out), "2019-01-01T00:00:00", "2019-01-02T00:00:00"],
        )
        == 1
    )
    assert capsys.readouterr().err == (
        "cache_lmtdb: no LMT time stamps between 2019-01-01 00:00:00 and 2019-01-02 00:00:00\n"
    )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    # a missing input file is reported, not created
    missing = tmp_path / "missing.sqlite"
    assert as_program(cache_lmtdb.main, ["-i", str(missing), "-o", str(out), *WINDOW]) == 1
    assert capsys.readouterr().err == (
        f"cache_lmtdb: input file does not exist: {missing}: check the path\n"
    )
    assert not missing.exists()
    # nothing to read from
    assert as_program(cache_lmtdb.main, ["-o", str(out), *WINDOW]) == 1
    assert "No databases available to query" in capsys.readouterr().err
    # bad time format, bad --limit: usage errors
    with pytest.raises(SystemExit) as usage:
        cache_lmtdb.main(["-i", str(SNX_SQLITE), "2018-01-28 00:00:00", WINDOW[1]])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as usage:
        cache_lmtdb.main(["-i", str(SNX_SQLITE), "-l", "x", *WINDOW])
    assert usage.value.code == 2


def test_from_mariadb_with_environment(
    mariadb: MariaDbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTOKIO_LMT_HOST", f"{mariadb.host}:{mariadb.port}")
    monkeypatch.setenv("PYTOKIO_LMT_USER", mariadb.user)
    monkeypatch.setenv("PYTOKIO_LMT_PASSWORD", "wrong")
    monkeypatch.setenv("PYTOKIO_LMT_DB", "snx11025")
    out = tmp_path / "remote.sqlite"
    # the explicit option wins over the environment
    args = ["--password", mariadb.password, "-o", str(out), *WINDOW]
    assert cache_lmtdb.main(args) == 0
    assert dump(out) == expected_window(SNX_SQLITE, *WINDOW)
    # and an explicit -i wins over a complete set of MySQL values
    lite = tmp_path / "lite.sqlite"
    args = ["-i", str(SNX_SQLITE), "--pass", mariadb.password, "-o", str(lite), *WINDOW]
    assert cache_lmtdb.main(args) == 0
    assert dump(lite) == dump(out)
