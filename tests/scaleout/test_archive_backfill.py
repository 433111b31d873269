"""Archive backfills on Dask: one task per day, failures per day, against real dask processes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from dask_processes import DaskProcesses
from scaleout_tasks import write_day

from atokio.pipelines.archive_dask import backfill_days, days_between
from atokio.progress import SilentBar

FIRST = datetime.date(2024, 2, 27)


def test_days_between() -> None:
    assert days_between(FIRST, FIRST) == [FIRST]
    assert days_between(FIRST, datetime.date(2024, 3, 1)) == [
        datetime.date(2024, 2, 27),
        datetime.date(2024, 2, 28),
        datetime.date(2024, 2, 29),
        datetime.date(2024, 3, 1),
    ]
    with pytest.raises(
        ValueError, match="^the last day 2024-02-26 is before the first day 2024-02-27$"
    ):
        days_between(FIRST, datetime.date(2024, 2, 26))


def test_each_day_once_and_a_failed_day_reported(
    dask_processes: DaskProcesses, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    days = days_between(FIRST, FIRST + datetime.timedelta(days=5))
    bad = FIRST + datetime.timedelta(days=2)
    template = str(tmp_path / "lmt_%Y-%m-%d.txt")
    bar = SilentBar(len(days))
    report = backfill_days(
        write_day,
        {"source": "lmtdb", "bad": [bad]},
        days,
        {"template": template},
        scheduler=dask_processes.address,
        progress=bar,
    )
    assert not report.ok
    assert report.failed == {bad: f"OSError: lmtdb has no data for {bad}"}
    assert list(report.done) == [d for d in days if d != bad]
    assert bar.n == len(days)
    for day in report.done:
        path = Path(day.strftime(template))
        assert report.done[day] == str(path)
        assert path.read_text() == f"lmtdb {day.isoformat()}\n"
    assert not Path(bad.strftime(template)).exists()
    assert f"day {bad} failed: OSError: lmtdb has no data for {bad}" in caplog.text
