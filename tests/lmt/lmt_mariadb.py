"""A throwaway MariaDB server for the LMT tests and the benchmark.

:class:`MariaDbServer` finds ``mariadbd`` (or ``mysqld``) and
``mariadb-install-db`` (or ``mysql_install_db``), creates a data directory in
a temporary folder, starts the server as the current user (``--user=root``
when that is root) on a free loopback port and a Unix socket there, waits
until it accepts connections, creates a password-protected user, and stops
it (SIGTERM, then SIGKILL) at the end.  :func:`load_sqlite` copies an LMT
SQLite cache into a database with the MySQL column types of LMT, so that the
same rows can be read from both.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from atokio.collectors.sync import run_sync

#: Typed MySQL definitions of the LMT tables (the SQLite caches are untyped).
#: Gauges are DOUBLE so that SQLite REALs come back bit for bit.
LMT_DDL = {
    "FILESYSTEM_INFO": "FILESYSTEM_ID INT NOT NULL, FILESYSTEM_NAME VARCHAR(128), "
    "FILESYSTEM_MOUNT_NAME VARCHAR(128), SCHEMA_VERSION DOUBLE, PRIMARY KEY (FILESYSTEM_ID)",
    "TIMESTAMP_INFO": "TS_ID BIGINT NOT NULL, TIMESTAMP DATETIME NOT NULL, "
    "PRIMARY KEY (TS_ID), KEY (TIMESTAMP)",
    "OST_INFO": "OST_ID INT NOT NULL, OSS_ID INT, OST_NAME VARCHAR(128), HOSTNAME VARCHAR(128), "
    "OFFLINE INT, DEVICE_NAME VARCHAR(128), PRIMARY KEY (OST_ID)",
    "OSS_INFO": "OSS_ID INT NOT NULL, FILESYSTEM_ID INT, HOSTNAME VARCHAR(128) NOT NULL, "
    "FAILOVERHOST VARCHAR(128), PRIMARY KEY (OSS_ID, HOSTNAME)",
    "MDS_INFO": "MDS_ID INT NOT NULL, FILESYSTEM_ID INT, MDS_NAME VARCHAR(128), "
    "HOSTNAME VARCHAR(128), DEVICE_NAME VARCHAR(128), PRIMARY KEY (MDS_ID)",
    "OPERATION_INFO": "OPERATION_ID INT NOT NULL, OPERATION_NAME VARCHAR(64), UNITS VARCHAR(16), "
    "PRIMARY KEY (OPERATION_ID)",
    "OST_VARIABLE_INFO": "VARIABLE_ID INT NOT NULL, VARIABLE_NAME VARCHAR(64), "
    "VARIABLE_LABEL VARCHAR(64), THRESH_TYPE INT, THRESH_VAL1 DOUBLE, THRESH_VAL2 DOUBLE, "
    "PRIMARY KEY (VARIABLE_ID)",
    "MDS_VARIABLE_INFO": "VARIABLE_ID INT NOT NULL, VARIABLE_NAME VARCHAR(64), "
    "VARIABLE_LABEL VARCHAR(64), THRESH_TYPE INT, THRESH_VAL1 DOUBLE, THRESH_VAL2 DOUBLE, "
    "PRIMARY KEY (VARIABLE_ID)",
    "OST_DATA": "OST_ID INT NOT NULL, TS_ID BIGINT NOT NULL, READ_BYTES BIGINT, "
    "WRITE_BYTES BIGINT, PCT_CPU DOUBLE, KBYTES_FREE BIGINT, KBYTES_USED BIGINT, "
    "INODES_FREE BIGINT, INODES_USED BIGINT, PRIMARY KEY (OST_ID, TS_ID), KEY (TS_ID)",
    "OSS_DATA": "OSS_ID INT NOT NULL, TS_ID BIGINT NOT NULL, PCT_CPU DOUBLE, PCT_MEMORY DOUBLE, "
    "PRIMARY KEY (OSS_ID, TS_ID), KEY (TS_ID)",
    "MDS_DATA": "MDS_ID INT NOT NULL, TS_ID BIGINT NOT NULL, PCT_CPU DOUBLE, KBYTES_FREE BIGINT, "
    "KBYTES_USED BIGINT, INODES_FREE BIGINT, INODES_USED BIGINT, PRIMARY KEY (MDS_ID, TS_ID), "
    "KEY (TS_ID)",
    "MDS_OPS_DATA": "MDS_ID INT NOT NULL, TS_ID BIGINT NOT NULL, OPERATION_ID INT NOT NULL, "
    "SAMPLES BIGINT, SUM BIGINT, SUMSQUARES BIGINT, PRIMARY KEY (MDS_ID, TS_ID, OPERATION_ID), "
    "KEY (TS_ID)",
}

SERVER_NAMES = ("mariadbd", "mysqld")
INSTALL_NAMES = ("mariadb-install-db", "mysql_install_db")
SEARCH_DIRS = ("/usr/sbin", "/usr/libexec", "/usr/local/sbin", "/usr/local/bin", "/usr/bin")

USER = "atokio"
PASSWORD = "lmt-test-pw"


def _which(names: Iterable[str]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
        for folder in SEARCH_DIRS:
            candidate = os.path.join(folder, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def find_binaries() -> tuple[str, str] | None:
    """``(server, install_db)`` paths, or None when MariaDB is not installed."""
    server = _which(SERVER_NAMES)
    install = _which(INSTALL_NAMES)
    if server is None or install is None:
        return None
    return server, install


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MariaDbServer:
    """One private mariadbd: :meth:`start`, use ``host``/``port``/``socket``, :meth:`stop`."""

    def __init__(self, workdir: Path, binaries: tuple[str, str] | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise FileNotFoundError("mariadbd / mariadb-install-db not found")
        self.server_bin, self.install_bin = found
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.socket = str(self.workdir / "mysqld.sock")
        self.host = "127.0.0.1"
        self.port = 0
        self.user = USER
        self.password = PASSWORD
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "mariadbd.log"

    def _user_args(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self, timeout: float = 60.0, port: int | None = None) -> None:
        """Create the data directory, start the server and wait until it answers.

        ``port`` reuses a given port (e.g. to restart after :meth:`stop`);
        by default a free one is picked.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").is_dir():
            subprocess.run(
                [
                    self.install_bin,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                    *self._user_args(),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
            )
        self.port = port or free_port()
        init = self.workdir / "init.sql"
        init.write_text(
            f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';\n"
            f"CREATE USER IF NOT EXISTS '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'localhost';\n"
        )
        command = [
            self.server_bin,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            f"--pid-file={self.workdir / 'mariadbd.pid'}",
            f"--log-error={self.log}",
            f"--init-file={init}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=128M",
            "--innodb-flush-log-at-trx-commit=0",
            "--max-connections=64",
            *self._user_args(),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited at start-up:\n{self._log_tail()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"mariadbd did not start in {timeout} s:\n{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def _ready(self) -> bool:
        if not os.path.exists(self.socket):
            return False
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as probe:
                return bool(probe.recv(1))  # the server greets first
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections hang, as in an outage."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def connect_kwargs(self, database: str | None = None) -> dict[str, Any]:
        """asyncmy keyword arguments for the test user."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": database,
            "autocommit": True,
        }

    def execute(self, statements: list[str]) -> None:
        """Run SQL statements as the test user."""
        run_sync(_execute, self.connect_kwargs(), statements)


async def _execute(kwargs: dict[str, Any], statements: list[str]) -> None:
    import asyncmy

    conn = await asyncmy.connect(**kwargs)
    try:
        async with conn.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement)
    finally:
        conn.close()


async def _load(kwargs: dict[str, Any], database: str, tables: dict[str, list[tuple]]) -> None:
    import asyncmy

    conn = await asyncmy.connect(**kwargs)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute("SET sql_notes = 0")
            await cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            await cursor.execute(f"CREATE DATABASE `{database}`")
            await cursor.execute(f"USE `{database}`")
            for table, ddl in LMT_DDL.items():
                await cursor.execute(f"CREATE TABLE `{table}` ({ddl}) ENGINE=InnoDB")
                rows = tables.get(table, [])
                if not rows:
                    continue
                marks = ", ".join(["%s"] * len(rows[0]))
                for first in range(0, len(rows), 5000):
                    await cursor.executemany(
                        f"INSERT INTO `{table}` VALUES ({marks})", rows[first : first + 5000]
                    )
    finally:
        conn.close()


def read_sqlite(path: str | os.PathLike[str]) -> dict[str, list[tuple]]:
    """Every LMT table of an SQLite file, as lists of rows in the tables' column order."""
    tables: dict[str, list[tuple]] = {}
    with sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True) as db:
        present = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        for table in LMT_DDL:
            if table in present:
                tables[table] = list(db.execute(f"SELECT * FROM {table}"))
    return tables


def load_sqlite(server: MariaDbServer, path: str | os.PathLike[str], database: str) -> None:
    """(Re)create ``database`` on ``server`` with the LMT tables and rows of an SQLite file."""
    load_tables(server, read_sqlite(path), database)


def load_tables(server: MariaDbServer, tables: dict[str, list[tuple]], database: str) -> None:
    """(Re)create ``database`` on ``server`` holding ``tables`` (name -> rows).

    Runs its own event loop, in a thread when the fixture is first set up from
    inside an async test (whose loop is already running in this thread).
    """
    run_sync(_load, server.connect_kwargs(), database, tables)


def lmtdb_args(server: MariaDbServer, database: str) -> dict[str, str]:
    """Keyword arguments of ``LmtDb`` for a database on the test server."""
    return {
        "dbhost": f"{server.host}:{server.port}",
        "dbuser": server.user,
        "dbpassword": server.password,
        "dbname": database,
    }
