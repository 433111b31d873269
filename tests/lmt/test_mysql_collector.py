"""atokio.collectors.mysql against a real MariaDB: pool, streaming cursor, chunks, trio bridge."""

from __future__ import annotations

import datetime
import sqlite3
import threading
import time

import anyio
import pytest
from lmt_mariadb import MariaDbServer
from lmt_paths import SNX_SQLITE

from atokio.collectors.mysql import (
    AsyncioThread,
    MySQLParams,
    MySQLPool,
    time_chunks,
    wait_future,
)

BACKENDS = ["asyncio", "trio"]


def params(server: MariaDbServer, database: str = "snx11025") -> MySQLParams:
    return MySQLParams(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        database=database,
    )


def sqlite_rows(query: str) -> list[tuple]:
    with sqlite3.connect(SNX_SQLITE) as db:
        return list(db.execute(query))


OST_QUERY = "SELECT OST_ID, TS_ID, READ_BYTES, WRITE_BYTES, PCT_CPU FROM OST_DATA"


def test_params_host_forms() -> None:
    assert MySQLParams(host="db:3307").connect_kwargs()["port"] == 3307
    assert MySQLParams(host="db:3307").connect_kwargs()["host"] == "db"
    assert MySQLParams(host="db").connect_kwargs()["port"] == 3306
    socket_form = MySQLParams(host="/run/mysqld/mysqld.sock").connect_kwargs()
    assert socket_form["unix_socket"] == "/run/mysqld/mysqld.sock"
    assert MySQLParams(host="db:3307", port=4000).connect_kwargs()["port"] == 4000
    assert "secret" not in MySQLParams(host="db", user="u", password="secret").describe()


def test_time_chunks() -> None:
    start = datetime.datetime(2018, 1, 28, 0, 0)
    chunks = time_chunks(
        start, start + datetime.timedelta(minutes=150), datetime.timedelta(hours=1)
    )
    assert chunks == [
        (start, start + datetime.timedelta(hours=1)),
        (start + datetime.timedelta(hours=1), start + datetime.timedelta(hours=2)),
        (start + datetime.timedelta(hours=2), start + datetime.timedelta(minutes=150)),
    ]
    assert time_chunks(start, start, datetime.timedelta(hours=1)) == []
    with pytest.raises(ValueError):
        time_chunks(start, start, datetime.timedelta(0))


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_query_and_stream(mariadb: MariaDbServer, anyio_backend: str) -> None:
    expected = sorted(sqlite_rows(OST_QUERY))
    async with MySQLPool(params(mariadb), size=2) as pool:
        assert pool.bridged() is (anyio_backend == "trio")
        assert sorted(await pool.query(OST_QUERY)) == expected
        sizes = []
        rows = []
        async for batch in pool.stream(OST_QUERY, batch_rows=100):
            sizes.append(len(batch))
            rows.extend(batch)
        assert sorted(rows) == expected
        assert sizes == [100] * 14 + [64]  # 1464 rows, never more than a batch at a time
        count = await pool.query("SELECT COUNT(*) FROM OST_DATA WHERE OST_ID = %s", (3,))
        assert count == [(61,)]


@pytest.mark.anyio
async def test_forced_bridge_under_asyncio(mariadb: MariaDbServer) -> None:
    async with MySQLPool(params(mariadb), bridge=True) as pool:
        assert pool.bridged()
        rows = []
        async for batch in pool.stream(OST_QUERY, batch_rows=500):
            rows.extend(batch)
        assert sorted(rows) == sorted(sqlite_rows(OST_QUERY))
        assert [b for b in pool.stream_sync("SELECT COUNT(*) FROM MDS_DATA")] == [[(61,)]]


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_stream_many_chunks(mariadb: MariaDbServer, anyio_backend: str) -> None:
    query = OST_QUERY + " WHERE TS_ID >= %s AND TS_ID <= %s"
    bounds = [(8921898, 8921917), (8921918, 8921937), (8921938, 8921958)]
    async with MySQLPool(params(mariadb), size=3) as pool:
        pieces: dict[int, list[tuple]] = {0: [], 1: [], 2: []}
        async with pool.stream_many([(query, b) for b in bounds], batch_rows=50) as batches:
            async for index, rows in batches:
                assert len(rows) <= 50
                pieces[index].extend(rows)
    for index, (lo, hi) in enumerate(bounds):
        assert sorted(pieces[index]) == sorted(
            sqlite_rows(OST_QUERY + f" WHERE TS_ID >= {lo} AND TS_ID <= {hi}")
        )


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_failure_is_raised_plainly_and_pool_recovers(
    mariadb: MariaDbServer, anyio_backend: str
) -> None:
    import asyncmy.errors

    async with MySQLPool(params(mariadb), size=2) as pool:
        with pytest.raises(asyncmy.errors.ProgrammingError):
            async with pool.stream_many(
                [(OST_QUERY, ()), ("SELECT * FROM NO_SUCH_TABLE", ())], batch_rows=10
            ) as batches:
                async for _ in batches:
                    pass
        # leaving a half-read stream early discards that connection, nothing hangs
        async for _batch in pool.stream(OST_QUERY, batch_rows=10):
            break
        async with pool.stream_many([(OST_QUERY, ())] * 3, batch_rows=10) as batches:
            async for _ in batches:
                break
        assert await pool.query("SELECT 41 + 1") == [(42,)]


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_cancellation(mariadb: MariaDbServer, anyio_backend: str) -> None:
    async with MySQLPool(params(mariadb), size=1) as pool:
        with anyio.move_on_after(0.2) as scope:
            await pool.query("SELECT SLEEP(5)")
        assert scope.cancelled_caught
        assert await pool.query("SELECT 1") == [(1,)]


def test_sync_calls_in_scripts_and_in_a_running_loop(mariadb: MariaDbServer) -> None:
    pool = MySQLPool(params(mariadb))
    assert pool.query_sync("SELECT COUNT(*) FROM TIMESTAMP_INFO") == [(61,)]

    async def inside_a_loop() -> list[tuple]:
        # a notebook cell: sync code while an event loop runs in this thread
        return pool.query_sync("SELECT COUNT(*) FROM OSS_DATA")

    assert anyio.run(inside_a_loop) == [(1464,)]
    pool.close_sync()
    with pytest.raises(RuntimeError):
        pool.query_sync("SELECT 1")


def test_bad_credentials(mariadb: MariaDbServer) -> None:
    import asyncmy.errors

    bad = MySQLParams(
        host=mariadb.host, port=mariadb.port, user=mariadb.user, password="wrong", database="x"
    )
    pool = MySQLPool(bad)
    with pytest.raises(asyncmy.errors.OperationalError):
        pool.connect_check_sync()
    pool.close_sync()


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_helper_thread_future(anyio_backend: str) -> None:
    helper = AsyncioThread("atokio-test-helper")
    try:
        seen = []

        async def on_helper() -> str:
            import sniffio

            seen.append((threading.current_thread().name, sniffio.current_async_library()))
            return "done"

        assert await helper.run(on_helper()) == "done"
        assert seen == [("atokio-test-helper", "asyncio")]
        with anyio.move_on_after(0.1):
            import asyncio

            future = helper.submit(asyncio.sleep(10))
            await wait_future(future)
        assert future.cancelled()
    finally:
        helper.stop()


def test_connections_close_with_their_event_loop(mariadb: MariaDbServer) -> None:
    """Each anyio.run gets its own connections; they are closed when that loop ends."""
    watcher = MySQLPool(params(mariadb), size=1)

    def connected() -> int:
        rows = watcher.query_sync("SHOW STATUS LIKE 'Threads_connected'")
        return int(rows[0][1])

    before = connected()
    pool = MySQLPool(params(mariadb), size=3)

    async def use() -> None:
        async with pool.stream_many([(OST_QUERY, ())] * 3, batch_rows=200) as batches:
            async for _ in batches:
                pass

    for _ in range(5):
        anyio.run(use)
    deadline = time.monotonic() + 5
    while connected() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connected() == before
    watcher.close_sync()


@pytest.mark.parametrize("anyio_backend", BACKENDS)
@pytest.mark.anyio
async def test_a_frozen_server_ends_at_the_query_deadline(
    mariadb: MariaDbServer, anyio_backend: str
) -> None:
    from atokio.collectors.mysql import QueryTimeout

    frozen = MySQLParams(
        host=mariadb.host,
        port=mariadb.port,
        user=mariadb.user,
        password=mariadb.password,
        database="snx11025",
        query_timeout=1.0,
    )
    where = f"{mariadb.user}@{mariadb.host}:{mariadb.port}/snx11025"
    async with MySQLPool(frozen, size=1) as pool:
        assert await pool.query("SELECT 1") == [(1,)]  # a pooled connection, then a freeze
        mariadb.pause()
        try:
            with pytest.raises(QueryTimeout) as caught:
                await pool.query("SELECT COUNT(*) FROM OST_DATA")
            with pytest.raises(QueryTimeout):
                async for _ in pool.stream(OST_QUERY, batch_rows=10):
                    pass
        finally:
            mariadb.resume()
        assert str(caught.value) == (
            f"{where}: no answer within 1 s (query_timeout) to: SELECT COUNT(*) FROM OST_DATA; "
            "is the database server up and responsive?"
        )
        assert await pool.query("SELECT 2") == [(2,)]  # the frozen connection was dropped


def test_the_password_is_never_in_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = MySQLParams(host="db", user="lmt", password="s3cr3t-pw", database="x")
    assert "s3cr3t-pw" not in repr(secret) and "s3cr3t-pw" not in secret.describe()
    monkeypatch.setenv("ATOKIO_MYSQL_DEADLINE", "45")
    assert secret.deadline() == (45.0, "ATOKIO_MYSQL_DEADLINE")
