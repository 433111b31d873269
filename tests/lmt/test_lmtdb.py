"""atokio.connectors.cachingdb and atokio.connectors.lmtdb: SQLite cache and MariaDB agree."""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from lmt_mariadb import MariaDbServer, lmtdb_args
from lmt_paths import RESET_SQLITE, SNX_SQLITE

from atokio.connectors.cachingdb import (
    HIT_CACHE,
    HIT_NONE,
    HIT_REMOTE,
    CachingDb,
    get_paramstyle_symbol,
)
from atokio.connectors.lmtdb import LMT_TABLES, LmtBatch, LmtDb

T0 = datetime.datetime(2018, 1, 28, 0, 0, 0)
T1 = datetime.datetime(2018, 1, 28, 0, 5, 0)
BACKENDS = ["asyncio", "trio"]


def direct(path: Path, query: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return list(db.execute(query, args))


def normalise(rows: tuple | list) -> list[tuple]:
    """Rows with the TIMESTAMP as text (SQLite gives text, MySQL a datetime), sorted."""
    out = []
    for row in rows:
        stamp = row[0]
        if isinstance(stamp, datetime.datetime):
            stamp = stamp.strftime("%Y-%m-%d %H:%M:%S")
        out.append((stamp, *row[1:]))
    return sorted(out)


@pytest.fixture
def sqlite_lmtdb(lmt_corpus: Path) -> Iterator[LmtDb]:
    db = LmtDb(cache_file=SNX_SQLITE)
    yield db
    db.close_cache()


@pytest.fixture
def mysql_lmtdb(mariadb: MariaDbServer) -> Iterator[LmtDb]:
    db = LmtDb(**lmtdb_args(mariadb, "snx11025"))
    yield db
    db.close()


# -- cachingdb ------------------------------------------------------------------------


def test_paramstyle_symbols() -> None:
    assert get_paramstyle_symbol("qmark") == "?"
    assert get_paramstyle_symbol("format") == "%s"
    assert get_paramstyle_symbol("pyformat") == "%s"
    with pytest.raises(ValueError):
        get_paramstyle_symbol("bogus")


def test_no_database(tmp_path: Path) -> None:
    db = CachingDb()
    assert db.last_hit == HIT_NONE
    with pytest.raises(RuntimeError, match="No databases available to query"):
        db.query("SELECT 1")
    with pytest.raises(FileNotFoundError):
        CachingDb(cache_file=tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_cache_query_save_and_merge(lmt_corpus: Path, tmp_path: Path) -> None:
    db = CachingDb(cache_file=SNX_SQLITE)
    assert db.cache_db_ps == "qmark"
    rows = db.query(
        "SELECT TS_ID, TIMESTAMP FROM TIMESTAMP_INFO WHERE TS_ID <= ?",
        (8921900,),
        table="TIMESTAMP_INFO",
        table_schema="CREATE TABLE IF NOT EXISTS TIMESTAMP_INFO (TS_ID, TIMESTAMP, PRIMARY KEY(TS_ID))",
    )
    assert db.last_hit == HIT_CACHE
    assert rows == (
        (8921898, "2018-01-28 00:00:00"),
        (8921899, "2018-01-28 00:00:05"),
        (8921900, "2018-01-28 00:00:10"),
    )
    assert db.saved_results["TIMESTAMP_INFO"]["rows"] == list(rows)
    out = tmp_path / "out.sqlite"
    db.save_cache(out)
    assert direct(out, "SELECT * FROM TIMESTAMP_INFO ORDER BY TS_ID") == list(rows)
    # merging: a second save replaces by primary key and adds new rows
    db.drop_cache()
    assert db.saved_results == {}
    db.query(
        "SELECT TS_ID, TIMESTAMP FROM TIMESTAMP_INFO WHERE TS_ID BETWEEN ? AND ?",
        (8921900, 8921901),
        table="TIMESTAMP_INFO",
        table_schema="CREATE TABLE IF NOT EXISTS TIMESTAMP_INFO (TS_ID, TIMESTAMP, PRIMARY KEY(TS_ID))",
    )
    db.save_cache(out)
    assert [r[0] for r in direct(out, "SELECT TS_ID FROM TIMESTAMP_INFO ORDER BY TS_ID")] == [
        8921898,
        8921899,
        8921900,
        8921901,
    ]
    db.drop_cache(["TIMESTAMP_INFO"])
    db.close_cache()
    assert db.cache_db is None and db.cache_file is None and db.cache_db_ps is None


def test_remote_results_saved_as_lmt_text(mariadb: MariaDbServer, tmp_path: Path) -> None:
    db = CachingDb(**lmtdb_args(mariadb, "snx11025"))
    assert db.remote_db_ps == "pyformat"
    rows = db.query(
        "SELECT TS_ID, TIMESTAMP FROM TIMESTAMP_INFO WHERE TS_ID <= %s",
        (8921899,),
        table="TIMESTAMP_INFO",
        table_schema="CREATE TABLE IF NOT EXISTS TIMESTAMP_INFO (TS_ID, TIMESTAMP, PRIMARY KEY(TS_ID))",
    )
    assert db.last_hit == HIT_REMOTE
    assert rows == (
        (8921898, datetime.datetime(2018, 1, 28, 0, 0, 0)),
        (8921899, datetime.datetime(2018, 1, 28, 0, 0, 5)),
    )
    db.save_cache(tmp_path / "remote.sqlite")
    assert direct(tmp_path / "remote.sqlite", "SELECT * FROM TIMESTAMP_INFO ORDER BY 1") == [
        (8921898, "2018-01-28 00:00:00"),
        (8921899, "2018-01-28 00:00:05"),
    ]
    db.close()
    assert db.remote_db is None and db.remote_db_ps is None


def test_cache_file_wins_over_remote(mariadb: MariaDbServer) -> None:
    db = CachingDb(**lmtdb_args(mariadb, "lmtdb_reset"), cache_file=SNX_SQLITE)
    assert db.query("SELECT FILESYSTEM_NAME FROM FILESYSTEM_INFO") == (("snx11025",),)
    assert db.last_hit == HIT_CACHE
    db.close_cache()
    assert db.query("SELECT FILESYSTEM_NAME FROM FILESYSTEM_INFO") == (("snx11168",),)
    assert db.last_hit == HIT_REMOTE
    db.close()


# -- lmtdb: documented API --------------------------------------------------------------


def test_info_tables(sqlite_lmtdb: LmtDb) -> None:
    db = sqlite_lmtdb
    assert db.ost_names == tuple(f"snx11025-OST{i:04x}" for i in range(24))
    assert db.ost_id_map[1] == "snx11025-OST0000" and db.ost_id_map[24] == "snx11025-OST0017"
    assert db.oss_names[:2] == ("snx11025n004", "snx11025n005") and len(db.oss_names) == 24
    assert db.mds_names == ("snx11025n003",)
    assert db.mds_id_map == {1: "snx11025n003"}
    assert len(db.mds_op_names) == 81
    assert db.mds_op_names[:3] == ("open", "close", "mknod")
    assert db.mds_op_id_map[37] == "getattr"
    assert db.operation_ids(["open", "statfs", "getattr"]) == {
        "open": 1,
        "statfs": 26,
        "getattr": 37,
    }


def test_reset_sample_info(lmt_corpus: Path) -> None:
    db = LmtDb(cache_file=RESET_SQLITE)
    assert db.ost_names == ("snx11168-OST00ad",)
    assert db.mds_names == (
        "snx11168n003",
        "snx11168n252",
        "snx11168n253",
        "snx11168n254",
        "snx11168n255",
    )


def test_get_ts_ids(sqlite_lmtdb: LmtDb) -> None:
    assert sqlite_lmtdb.get_ts_ids(T0, T1) == (8921898, 8921958)
    # inclusive at both ends
    assert sqlite_lmtdb.get_ts_ids(
        datetime.datetime(2018, 1, 28, 0, 0, 5), datetime.datetime(2018, 1, 28, 0, 0, 10)
    ) == (8921899, 8921900)
    with pytest.raises(ValueError):
        sqlite_lmtdb.get_ts_ids(datetime.datetime(2019, 1, 1), datetime.datetime(2019, 1, 2))


@pytest.mark.parametrize(
    "method,table",
    [
        ("get_ost_data", "OST_DATA"),
        ("get_oss_data", "OSS_DATA"),
        ("get_mds_data", "MDS_DATA"),
        ("get_mds_ops_data", "MDS_OPS_DATA"),
    ],
)
def test_get_data_matches_direct_sql(sqlite_lmtdb: LmtDb, method: str, table: str) -> None:
    rows, names = getattr(sqlite_lmtdb, method)(T0, T1)
    assert names == ["TIMESTAMP", *LMT_TABLES[table]]
    columns = ", ".join(f"d.{c}" for c in LMT_TABLES[table])
    expected = direct(
        SNX_SQLITE,
        f"SELECT t.TIMESTAMP, {columns} FROM {table} d JOIN TIMESTAMP_INFO t ON t.TS_ID = d.TS_ID "
        "WHERE t.TIMESTAMP >= '2018-01-28 00:00:00' AND t.TIMESTAMP < '2018-01-28 00:05:00'",
    )
    assert isinstance(rows, tuple) and all(isinstance(r, tuple) for r in rows)
    assert sorted(rows) == sorted(expected)
    assert len(rows) == {"OST_DATA": 1440, "OSS_DATA": 1440, "MDS_DATA": 60}.get(table, 1260)
    # the time chunks only split the work
    small, _ = getattr(sqlite_lmtdb, method)(T0, T1, timechunk=datetime.timedelta(seconds=35))
    assert sorted(small) == sorted(rows)


@pytest.mark.parametrize("database,path", [("snx11025", SNX_SQLITE), ("lmtdb_reset", RESET_SQLITE)])
@pytest.mark.parametrize(
    "method", ["get_ost_data", "get_oss_data", "get_mds_data", "get_mds_ops_data"]
)
def test_mysql_and_sqlite_give_the_same_rows(
    mariadb: MariaDbServer, database: str, path: Path, method: str
) -> None:
    lite = LmtDb(cache_file=path)
    remote = LmtDb(**lmtdb_args(mariadb, database))
    try:
        (start,) = direct(path, "SELECT MIN(TIMESTAMP) FROM TIMESTAMP_INFO")[0]
        start_dt = datetime.datetime.fromisoformat(start)
        end_dt = start_dt + datetime.timedelta(minutes=6)
        chunk = datetime.timedelta(minutes=1)
        lite_rows, lite_names = getattr(lite, method)(start_dt, end_dt, timechunk=chunk)
        remote_rows, remote_names = getattr(remote, method)(start_dt, end_dt, timechunk=chunk)
        assert remote.last_hit == HIT_REMOTE
        assert lite_names == remote_names
        assert isinstance(remote_rows[0][0], datetime.datetime)
        assert normalise(remote_rows) == normalise(lite_rows)
        assert len(lite_rows) > 0
        assert remote.get_ts_ids(start_dt, end_dt) == lite.get_ts_ids(start_dt, end_dt)
        for attribute in ("ost_names", "oss_names", "mds_names", "mds_op_names", "ost_id_map"):
            assert getattr(remote, attribute) == getattr(lite, attribute)
    finally:
        remote.close()


# -- lmtdb: streaming batches -------------------------------------------------------------


async def collect(db: LmtDb, **kwargs: Any) -> list[LmtBatch]:
    batches = []
    async with db.stream_batches(**kwargs) as stream:
        async for batch in stream:
            batches.append(batch)
    return batches


def as_rows(batches: list[LmtBatch]) -> list[tuple]:
    rows = []
    for batch in batches:
        for i in range(len(batch)):
            extra = () if batch.extra is None else (int(batch.extra[i]),)
            rows.append(
                (int(batch.epochs[i]), int(batch.ids[i]), *extra, *batch.values[i].tolist())
            )
    return sorted(rows)


def expected_batch_rows(
    path: Path, table: str, id_col: str, cols: list[str], where: str = ""
) -> list:
    query = (
        f"SELECT t.TIMESTAMP, d.{id_col}, {', '.join('d.' + c for c in cols)} FROM {table} d "
        "JOIN TIMESTAMP_INFO t ON t.TS_ID = d.TS_ID "
        "WHERE t.TIMESTAMP >= '2018-01-28 00:01:00' AND t.TIMESTAMP < '2018-01-28 00:04:00'" + where
    )
    out = []
    for stamp, key, *values in direct(path, query):
        epoch = int(datetime.datetime.fromisoformat(stamp).timestamp())
        out.append((epoch, key, *[float(v) for v in values]))
    return sorted(out)


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.parametrize("source", ["sqlite", "mysql"])
@pytest.mark.anyio
async def test_stream_batches(
    request: pytest.FixtureRequest, anyio_backend: str, source: str
) -> None:
    db = request.getfixturevalue(f"{source}_lmtdb")
    start = datetime.datetime(2018, 1, 28, 0, 1)
    end = datetime.datetime(2018, 1, 28, 0, 4)
    cols = ["READ_BYTES", "WRITE_BYTES", "KBYTES_USED", "PCT_CPU"]
    batches = await collect(
        db,
        table="OST_DATA",
        id_column="OST_ID",
        value_columns=cols,
        datetime_start=start,
        datetime_end=end,
        timechunk=datetime.timedelta(seconds=50),
        batch_rows=100,
    )
    assert all(len(b) <= 100 for b in batches)
    assert all(b.values.dtype == np.float64 and b.epochs.dtype == np.int64 for b in batches)
    assert as_rows(batches) == expected_batch_rows(SNX_SQLITE, "OST_DATA", "OST_ID", cols)
    # the per-row epoch is local time (America/Los_Angeles)
    assert min(int(b.epochs.min()) for b in batches) == 1517126460

    ops = await collect(
        db,
        table="MDS_OPS_DATA",
        id_column="MDS_ID",
        value_columns=["SAMPLES"],
        datetime_start=start,
        datetime_end=end,
        extra_column="OPERATION_ID",
        extra_values=[1, 37],
    )
    expected = direct(
        SNX_SQLITE,
        "SELECT t.TIMESTAMP, d.MDS_ID, d.OPERATION_ID, d.SAMPLES FROM MDS_OPS_DATA d "
        "JOIN TIMESTAMP_INFO t ON t.TS_ID = d.TS_ID WHERE t.TIMESTAMP >= '2018-01-28 00:01:00' "
        "AND t.TIMESTAMP < '2018-01-28 00:04:00' AND d.OPERATION_ID IN (1, 37)",
    )
    assert as_rows(ops) == sorted(
        (int(datetime.datetime.fromisoformat(t).timestamp()), k, op, float(s))
        for t, k, op, s in expected
    )
    assert len(expected) == 72

    empty = await collect(
        db,
        table="OSS_DATA",
        id_column="OSS_ID",
        value_columns=["PCT_CPU"],
        datetime_start=datetime.datetime(2019, 1, 1),
        datetime_end=datetime.datetime(2019, 1, 2),
    )
    assert empty == []


def test_stream_batches_rejects_unknown_columns(sqlite_lmtdb: LmtDb) -> None:
    async def go() -> None:
        await collect(
            sqlite_lmtdb,
            table="OST_DATA",
            id_column="OST_ID",
            value_columns=["NOPE"],
            datetime_start=T0,
            datetime_end=T1,
        )

    with pytest.raises(ValueError, match="NOPE"):
        anyio.run(go)


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_stopping_a_stream_early_leaves_no_async_generator_behind(
    mysql_lmtdb: LmtDb, anyio_backend: str
) -> None:
    # issue 13 item 11: lmtdb._shaped was left to the garbage collector when the body broke off
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with mysql_lmtdb.stream_batches(
            table="OST_DATA",
            id_column="OST_ID",
            value_columns=["READ_BYTES"],
            datetime_start=datetime.datetime(2018, 1, 28, 0, 1),
            datetime_end=datetime.datetime(2018, 1, 28, 0, 4),
            batch_rows=10,
        ) as stream:
            async for _batch in stream:
                break
        del stream, _batch  # the last references: anything unfinished is collected now
        gc.collect()
        await anyio.sleep(0.05)
    assert [str(w.message) for w in caught if "generator" in str(w.message)] == []
