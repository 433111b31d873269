"""CachingDb and NerscJobsDb: what pytokio scripts read from them, and saving their caches."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from atokio.connectors.cachingdb import HIT_CACHE_DB, CachingDb
from atokio.connectors.nersc_jobsdb import HIT_MEMORY, NerscJobsDb

ROWS = [
    ("100.edison", "edison", 1000, 4600, 4),
    ("101.edison", "edison", 2000, 9200, 2),
    ("102.cori", "cori", 1500, 3000, 8),
]


@pytest.fixture
def jobs_cache(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE summary (stepid TEXT PRIMARY KEY, hostname TEXT, start INTEGER, "
            "completion INTEGER, numnodes INTEGER)"
        )
        db.executemany("INSERT INTO summary VALUES (?, ?, ?, ?, ?)", ROWS)
    db.close()
    return path


def read_table(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        rows = sorted(db.execute(f"SELECT * FROM {table}").fetchall())
    db.close()
    return rows


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE TABLE summary (stepid, hostname, start, completion, numnodes)",
        {"stepid": "TEXT", "hostname": "TEXT", "start": "INT", "completion": "INT", "numnodes": ""},
        ["stepid", "hostname", "start", "completion", "numnodes"],
        {"summary": "CREATE TABLE summary (stepid PRIMARY KEY, hostname, start, completion, n)"},
        None,  # taken from the open cache
    ],
)
def test_save_cache_writes_the_cached_tables(
    jobs_cache: Path, tmp_path: Path, schema: object
) -> None:
    db = CachingDb(cache_file=str(jobs_cache))
    rows = db.query("SELECT * FROM summary WHERE hostname = ?", ("edison",), "summary", schema)
    assert rows == tuple(ROWS[:2])
    assert db.last_hit == HIT_CACHE_DB
    output = tmp_path / "saved.sqlite3"
    db.save_cache(str(output))
    assert read_table(output, "summary") == ROWS[:2]


def test_save_cache_rejects_a_schema_it_cannot_use(jobs_cache: Path, tmp_path: Path) -> None:
    db = CachingDb(cache_file=str(jobs_cache))
    db.query("SELECT * FROM summary", (), "summary", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="table summary: a schema is a CREATE TABLE statement"):
        db.save_cache(str(tmp_path / "saved.sqlite3"))


def test_nersc_jobsdb_layers_and_save_cache(jobs_cache: Path, tmp_path: Path) -> None:
    db = NerscJobsDb(cache_file=str(jobs_cache))
    assert db.cached_queries == {} and db.last_results == ()
    assert db.get_job_startend(101, "edison") == (2000, 9200)
    assert db.last_hit == HIT_CACHE_DB
    assert db.last_results == (ROWS[1],)
    assert len(db.cached_queries) == 1
    assert db.get_job_startend(101, "edison") == (2000, 9200)
    assert db.last_hit == HIT_MEMORY
    assert db.get_concurrent_jobs(0, 5000, "edison")["numjobs"] == 2
    assert len(db.cached_queries) == 2
    output = tmp_path / "saved.sqlite3"
    db.save_cache(str(output))
    assert read_table(output, "summary") == ROWS[:2]
    again = NerscJobsDb(cache_file=str(output))
    assert again.get_job_startend(100, "edison") == (1000, 4600)
