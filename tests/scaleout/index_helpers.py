"""Inputs and database dumps for the Dask index tests (no corpus needed)."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import pytest

#: Logs the ``darshan`` package installs that have POSIX or STDIO activity.
PACKAGE_LOGS = ("sample", "noposixopens", "ior_hdf5_example")


def package_log(stem: str) -> Path:
    """A log installed with the ``darshan`` package (skips the test when it is missing)."""
    spec = importlib.util.find_spec("darshan")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the darshan package is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    for folder in (root / "tests" / "input", root / "examples" / "example_logs"):
        if (folder / f"{stem}.darshan").exists():
            return folder / f"{stem}.darshan"
    pytest.skip(f"the darshan package has no {stem}.darshan")


def make_logs(folder: Path, count: int, bad: int = 0) -> list[str]:
    """``count`` copies of the package logs under distinct Darshan names, then ``bad`` broken ones.

    Broken logs alternate between an empty file and a file that is not a log.
    """
    folder.mkdir(parents=True, exist_ok=True)
    data = {stem: package_log(stem).read_bytes() for stem in PACKAGE_LOGS}
    paths = []
    for i in range(count):
        stem = PACKAGE_LOGS[i % len(PACKAGE_LOGS)]
        path = (
            folder / f"user{i % 5}_{stem.replace('_', '')}_id{1000 + i}_3-20-{i}-{7 * i}_1.darshan"
        )
        path.write_bytes(data[stem])
        paths.append(str(path))
    for i in range(bad):
        path = folder / f"broken{i}_x_id{9000 + i}_1-1-1-1_1.darshan"
        path.write_bytes(b"" if i % 2 == 0 else b"not a darshan log\n" * 40)
        paths.append(str(path))
    return paths


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three index tables, ids included, in id order."""
    with sqlite3.connect(db) as conn:
        return {
            "mounts": conn.execute("SELECT * FROM mounts ORDER BY fs_id").fetchall(),
            "headers": conn.execute("SELECT * FROM headers ORDER BY log_id").fetchall(),
            "summaries": conn.execute("SELECT * FROM summaries ORDER BY log_id, fs_id").fetchall(),
        }


def duplicates(db: Path) -> list[tuple[Any, ...]]:
    """Basenames with more than one header row, and (log, fs) pairs with more than one summary."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT filename, COUNT(*) FROM headers GROUP BY filename HAVING COUNT(*) > 1 "
            "UNION ALL SELECT log_id || '/' || fs_id, COUNT(*) FROM summaries "
            "GROUP BY log_id, fs_id HAVING COUNT(*) > 1"
        ).fetchall()
