"""NerscJobsDb against SQLite (corpus and generated) and a real MariaDB server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus import INPUTS
from lmt.lmt_mariadb import MariaDbServer, find_binaries
from slurm_data import JOBSDB_CONCURRENT, JOBSDB_ROWS, make_jobsdb

from atokio.connectors.cachingdb import HIT_CACHE, HIT_REMOTE, CachingDb
from atokio.connectors.nersc_jobsdb import NerscJobsDb


@pytest.fixture
def jobsdb_file(tmp_path: Path) -> Path:
    return make_jobsdb(tmp_path / "jobs.sqlite3")


def test_corpus_sample(corpus_jobsdb: Path) -> None:
    jobsdb = NerscJobsDb(cache_file=str(corpus_jobsdb))
    assert isinstance(jobsdb, CachingDb)
    assert jobsdb.get_job_startend("4472230", "edison") == (1490000045, 1490000984)
    assert jobsdb.get_job_startend("4478544", "edison") == (1490000342, 1490001098)
    assert jobsdb.get_concurrent_jobs(1490000000, 1490000300, "edison") == {
        "nodehrs": 406.2366666666667,
        "numnodes": 4891,
        "numjobs": 378,
    }
    assert jobsdb.get_job_startend("4472230", "cori") == (None, None)
    assert jobsdb.get_concurrent_jobs(1490000000, 1490000300, "cori") == {
        "nodehrs": 0.0, "numnodes": 0, "numjobs": 0,
    }  # fmt: skip
    total = sqlite3.connect(corpus_jobsdb).execute("SELECT COUNT(*) FROM summary").fetchone()
    assert total == (485,)


def test_generated_database(jobsdb_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    jobsdb = NerscJobsDb(cache_file=str(jobsdb_file))
    assert jobsdb.get_concurrent_jobs(1500, 3000, "edison") == JOBSDB_CONCURRENT
    assert jobsdb.get_job_startend(101, "edison") == (1600, 1700)
    # two rows for job 106: the one completing last, with a warning
    assert jobsdb.get_job_startend("106", "edison") == (1000, 5100)
    assert "job 106 on edison has 2 rows" in caplog.text
    assert jobsdb.get_job_startend("10", "edison") == (None, None)  # not a prefix match


def test_datetimes_are_local_time(jobsdb_file: Path) -> None:
    import datetime

    jobsdb = NerscJobsDb(cache_file=str(jobsdb_file))
    t0 = datetime.datetime.fromtimestamp(1500)
    t1 = datetime.datetime.fromtimestamp(3000)
    assert jobsdb.get_concurrent_jobs(t0, t1, "edison") == JOBSDB_CONCURRENT


def test_repeated_queries_come_from_memory(jobsdb_file: Path) -> None:
    jobsdb = NerscJobsDb(cache_file=str(jobsdb_file))
    first = jobsdb.get_concurrent_jobs(1500, 3000, "edison")
    jobsdb.cache_db.execute("DELETE FROM summary")  # type: ignore[union-attr]
    assert jobsdb.get_concurrent_jobs(1500, 3000, "edison") == first
    assert len(jobsdb.query_cache) == 1
    query, variables = next(iter(jobsdb.query_cache))
    assert jobsdb.query(query, variables, nocache=True) == ()
    jobsdb.drop_cache()
    assert jobsdb.query_cache == {} and jobsdb.saved_results == {}
    assert jobsdb.get_concurrent_jobs(1500, 3000, "edison")["numjobs"] == 0


def test_save_cache_merges(jobsdb_file: Path, tmp_path: Path) -> None:
    jobsdb = NerscJobsDb(cache_file=str(jobsdb_file))
    jobsdb.get_concurrent_jobs(1500, 3000, "edison")
    jobsdb.get_concurrent_jobs(1500, 3000, "edison")  # from memory: not saved twice
    out = tmp_path / "out.sqlite"
    jobsdb.save_cache(str(out))
    jobsdb.get_job_startend("105", "cori")
    jobsdb.save_cache(str(out))  # merged into: insert-or-replace by STEPID
    with sqlite3.connect(out) as db:
        rows = db.execute("SELECT * FROM summary ORDER BY STEPID").fetchall()
        schema = db.execute("SELECT sql FROM sqlite_master WHERE name='summary'").fetchone()[0]
    assert [row[0] for row in rows] == ["100.edison", "101.edison", "102.edison", "105.cori",
                                        "106.edison", "106.edison-2"]  # fmt: skip
    assert rows[0] == JOBSDB_ROWS[0]
    assert "PRIMARY KEY(STEPID)" in schema
    assert NerscJobsDb(cache_file=str(out)).get_concurrent_jobs(1500, 3000, "edison") == (
        JOBSDB_CONCURRENT
    )


def test_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NERSC_JOBSDB_HOST", "127.0.0.1")  # the other three are unset
    jobsdb = NerscJobsDb()
    assert jobsdb.remote_db is None
    with pytest.raises(RuntimeError, match="No databases available to query"):
        jobsdb.get_concurrent_jobs(0, 1, "edison")
    with pytest.raises(FileNotFoundError):
        NerscJobsDb(cache_file="/nonexistent/jobs.sqlite")


# -- a real MariaDB server ------------------------------------------------------------


@pytest.fixture(scope="module")
def jobs_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private MariaDB holding the generated jobs table (and the corpus one if present)."""
    binaries = find_binaries()
    if binaries is None:
        pytest.skip("MariaDB server binaries not found; run scripts/ensure-mariadb")
    server = MariaDbServer(tmp_path_factory.mktemp("jobs-mariadb"), binaries)
    server.start()
    try:
        sample = INPUTS / "sample_nersc_jobsdb.sqlite3"
        statements = [
            "CREATE DATABASE jobs",
            "CREATE TABLE jobs.summary (stepid VARCHAR(64) PRIMARY KEY, hostname VARCHAR(32), "
            "start BIGINT, completion BIGINT, numnodes INT)",
        ]
        rows = list(JOBSDB_ROWS)
        if sample.exists():
            statements += ["CREATE DATABASE corpus_jobs",
                           "CREATE TABLE corpus_jobs.summary LIKE jobs.summary"]  # fmt: skip
        server.execute(statements)
        inserts = [f"INSERT INTO jobs.summary VALUES ('{r[0]}', '{r[1]}', {r[2]}, {r[3]}, {r[4]})"
                   for r in rows]  # fmt: skip
        if sample.exists():
            with sqlite3.connect(sample) as db:
                for r in db.execute("SELECT * FROM summary"):
                    inserts.append(f"INSERT INTO corpus_jobs.summary VALUES "
                                   f"('{r[0]}', '{r[1]}', {r[2]}, {r[3]}, {r[4]})")  # fmt: skip
        server.execute(inserts)
        yield {
            "NERSC_JOBSDB_HOST": f"{server.host}:{server.port}",
            "NERSC_JOBSDB_USER": server.user,
            "NERSC_JOBSDB_PASSWORD": server.password,
            "NERSC_JOBSDB_DB": "jobs",
            "corpus": "corpus_jobs" if sample.exists() else "",
        }
    finally:
        server.stop()


def test_mariadb_from_environment(
    jobs_mariadb: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in jobs_mariadb.items():
        if name.startswith("NERSC"):
            monkeypatch.setenv(name, value)
    with NerscJobsDb() as jobsdb:
        assert jobsdb.remote_db is not None and jobsdb.placeholder() == "%s"
        assert jobsdb.get_concurrent_jobs(1500, 3000, "edison") == JOBSDB_CONCURRENT
        assert jobsdb.last_hit == HIT_REMOTE
        assert jobsdb.get_job_startend("106", "edison") == (1000, 5100)
        out = tmp_path / "from-mysql.sqlite"
        jobsdb.save_cache(str(out))
    with NerscJobsDb(cache_file=str(out)) as cached:
        assert cached.get_concurrent_jobs(1500, 3000, "edison") == JOBSDB_CONCURRENT
        assert cached.last_hit == HIT_CACHE


def test_mariadb_corpus_rows(jobs_mariadb: dict[str, str]) -> None:
    if not jobs_mariadb["corpus"]:
        pytest.skip("corpus jobs database not found")
    jobsdb = NerscJobsDb(
        dbhost=jobs_mariadb["NERSC_JOBSDB_HOST"],
        dbuser=jobs_mariadb["NERSC_JOBSDB_USER"],
        dbpassword=jobs_mariadb["NERSC_JOBSDB_PASSWORD"],
        dbname=jobs_mariadb["corpus"],
    )
    try:
        assert jobsdb.get_concurrent_jobs(1490000000, 1490000300, "edison") == {
            "nodehrs": 406.2366666666667, "numnodes": 4891, "numjobs": 378,
        }  # fmt: skip
        assert jobsdb.get_job_startend("4472230", "edison") == (1490000045, 1490000984)
    finally:
        jobsdb.close()
