"""Task functions run on the Dask workers by the scale-out tests (importable there)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path


def double(x: int) -> int:
    """``2 * x``; 3 raises ``ValueError("three is not welcome")``."""
    if x == 3:
        raise ValueError("three is not welcome")
    return 2 * x


def fail_first_time(marker: str, value: int) -> int:
    """Raise ``OSError`` on the first call (leaving ``marker``), return ``value`` after that."""
    if not os.path.exists(marker):
        Path(marker).write_text("tried once\n")
        raise OSError(f"{marker}: first attempt fails")
    return value


def worker_pid(x: int) -> tuple[int, int]:
    """``(x, pid of the worker process)``."""
    return x, os.getpid()


def write_day(spec: dict[str, object], day: datetime.date, options: dict[str, str]) -> str:
    """A stand-in ``archive_day``: one file per day; a day listed in ``spec["bad"]`` fails."""
    if day in spec.get("bad", ()):  # type: ignore[operator]
        raise OSError(f"{spec['source']} has no data for {day}")
    path = Path(day.strftime(options["template"]))
    with open(path, "a") as handle:  # appending shows a day that ran twice
        handle.write(f"{spec['source']} {day.isoformat()}\n")
    return str(path)
