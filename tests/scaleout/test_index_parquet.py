"""The Parquet index writer: the SQLite tables' rows, partitioned by day, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atokio.pipelines.index_parquet import (
    HEADER_TYPES,
    ParquetIndexWriter,
    day_of,
    read_parquet_table,
)
from atokio.tools.darshan_summary import SUMMARY_COLUMNS

pytest.importorskip("pyarrow", reason="the dask extra (pyarrow) is not installed")


def outcome(name: str, start: int, mounts: dict[str, str], value: int) -> dict[str, Any]:
    """A log's results as the summaries give them, with made-up numbers."""
    header = {
        "filename": name,
        "end_time": start + 60,
        "exe": f"/bin/{name}",
        "exename": name,
        "jobid": str(1000 + value),
        "nprocs": 4,
        "start_time": start,
        "uid": 500,
        "username": "alice",
        "version": "3.41",
        "walltime": 60,
    }
    summaries = {
        mountpt: {c: (0.5 * value if c.endswith("_timestamp") else value) for c in SUMMARY_COLUMNS}
        for mountpt in mounts
    }
    return {"headers": header, "mounts": mounts, "summaries": summaries, "reason": ""}


DAY1 = 1490000867  # 2017-03-20 09:07:47 UTC
DAY2 = DAY1 + 86400


def rows(path: Path, table: str) -> list[dict[str, Any]]:
    return sorted(
        read_parquet_table(path, table).to_pylist(), key=lambda r: tuple(map(str, r.values()))
    )


def test_day_of() -> None:
    assert day_of(DAY1) == "2017-03-20"
    assert day_of(86399) == "1970-01-01"
    assert day_of(None) == "unknown"
    assert day_of("x") == "unknown"


def test_rows_ids_and_partitions(tmp_path: Path) -> None:
    out = tmp_path / "index.parquet"
    with ParquetIndexWriter(out, flush_logs=2) as writer:
        assert writer.existing_logs() == set()
        writer.add(outcome("a.darshan", DAY1, {"/scratch": "scratch", "/home": "home"}, 1))
        writer.add(outcome("b.darshan", DAY2, {"/scratch": "scratch"}, 2))  # part 1 written
        writer.add(outcome("c.darshan", DAY2, {"/proj": "project"}, 3))
        writer.flush()  # part 2
        assert writer.indexed == 3
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == [
        "headers/day=2017-03-20/part-000001.parquet",
        "headers/day=2017-03-21/part-000001.parquet",
        "headers/day=2017-03-21/part-000002.parquet",
        "mounts/part-000001.parquet",
        "mounts/part-000002.parquet",
        "summaries/day=2017-03-20/part-000001.parquet",
        "summaries/day=2017-03-21/part-000001.parquet",
        "summaries/day=2017-03-21/part-000002.parquet",
    ]
    assert rows(out, "mounts") == [
        {"fs_id": 1, "mountpt": "/scratch", "fsname": "scratch"},
        {"fs_id": 2, "mountpt": "/home", "fsname": "home"},
        {"fs_id": 3, "mountpt": "/proj", "fsname": "project"},
    ]
    headers = read_parquet_table(out, "headers")
    assert headers.column_names == [*HEADER_TYPES, "day"]
    assert sorted((r["log_id"], r["filename"], r["day"]) for r in headers.to_pylist()) == [
        (1, "a.darshan", "2017-03-20"),
        (2, "b.darshan", "2017-03-21"),
        (3, "c.darshan", "2017-03-21"),
    ]
    summaries = read_parquet_table(out, "summaries")
    assert summaries.column_names == ["log_id", "fs_id", *SUMMARY_COLUMNS, "day"]
    got = sorted(
        (r["log_id"], r["fs_id"], r["bytes_read"], r["f_open_start_timestamp"])
        for r in summaries.to_pylist()
    )
    assert got == [(1, 1, 1, 0.5), (1, 2, 1, 0.5), (2, 1, 2, 1.0), (3, 3, 3, 1.5)]


def test_reopening_resumes_numbering_and_skips_known_logs(tmp_path: Path) -> None:
    out = tmp_path / "index.parquet"
    with ParquetIndexWriter(out) as writer:
        writer.add(outcome("a.darshan", DAY1, {"/scratch": "scratch"}, 1))
        writer.flush()
    with ParquetIndexWriter(out) as writer:
        assert writer.existing_logs() == {"a.darshan"}
        writer.add(outcome("a.darshan", DAY1, {"/scratch": "scratch"}, 9))  # known: not again
        writer.add(outcome("b.darshan", DAY1, {"/home": "home", "/scratch": "scratch"}, 2))
        writer.flush()
        assert writer.indexed == 1
    assert [(r["log_id"], r["filename"]) for r in rows(out, "headers")] == [
        (1, "a.darshan"),
        (2, "b.darshan"),
    ]
    assert rows(out, "mounts") == [
        {"fs_id": 1, "mountpt": "/scratch", "fsname": "scratch"},
        {"fs_id": 2, "mountpt": "/home", "fsname": "home"},
    ]
    assert sorted((r["log_id"], r["fs_id"]) for r in rows(out, "summaries")) == [
        (1, 1),
        (2, 1),
        (2, 2),
    ]


def test_an_unfinished_part_is_removed_on_reopening(tmp_path: Path) -> None:
    out = tmp_path / "index.parquet"
    with ParquetIndexWriter(out) as writer:
        writer.add(outcome("a.darshan", DAY1, {"/scratch": "scratch"}, 1))
        writer.flush()
        writer.add(outcome("b.darshan", DAY2, {"/home": "home"}, 2))
        writer.flush()
    (out / "_commits" / "000002.json").unlink()  # killed before the marker of part 2
    (out / "summaries" / "day=2017-03-21" / ".part-000003.parquet.tmp").write_bytes(b"half")
    with ParquetIndexWriter(out) as writer:
        assert writer.existing_logs() == {"a.darshan"}
        writer.add(outcome("b.darshan", DAY2, {"/home": "home"}, 2))
        writer.flush()
    assert [(r["log_id"], r["filename"]) for r in rows(out, "headers")] == [
        (1, "a.darshan"),
        (2, "b.darshan"),
    ]
    assert len(rows(out, "summaries")) == 2
    assert not list(out.rglob(".*.tmp"))


def test_close_without_flush_drops_the_queue(tmp_path: Path) -> None:
    out = tmp_path / "index.parquet"
    with ParquetIndexWriter(out) as writer:
        writer.add(outcome("a.darshan", DAY1, {"/scratch": "scratch"}, 1))
    assert read_parquet_table(out, "headers").num_rows == 0
    assert read_parquet_table(out, "summaries").column_names == [
        "log_id",
        "fs_id",
        *SUMMARY_COLUMNS,
    ]


def test_errors_name_the_problem(tmp_path: Path) -> None:
    file = tmp_path / "index.db"
    file.write_text("")
    with pytest.raises(ValueError, match=f"^{file} exists and is not a directory: a Parquet index"):
        ParquetIndexWriter(file)
    with pytest.raises(ValueError, match="^flush_logs must be at least 1, not 0$"):
        ParquetIndexWriter(tmp_path / "x", flush_logs=0)
    with pytest.raises(
        ValueError, match="^unknown index table 'logs': use one of headers, mounts, summaries$"
    ):
        read_parquet_table(tmp_path, "logs")
    bad = outcome("a.darshan", DAY1, {"/scratch": "scratch"}, 1)
    bad["headers"]["nprocs"] = "many"
    with ParquetIndexWriter(tmp_path / "bad") as writer:
        writer.add(bad)
        with pytest.raises(ValueError, match="a value does not fit its column"):
            writer.flush()
