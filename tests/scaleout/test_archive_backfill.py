"""Archive backfills on Dask: one task per day, failures per day, against real dask processes."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Any

import pytest
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
    local_cluster: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
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
        scheduler=local_cluster,
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


# -- archive_lmtdb --scheduler: a real source, real HDF5 day files ---------------------------

START = datetime.datetime(2018, 1, 28, 6, 0)
END = datetime.datetime(2018, 1, 30, 18, 0)
STEP = 600


def lmt_database(tmp_path: Path) -> Path:
    """Three days of LMT data at 10-minute steps, made from the corpus sample."""
    from lmt.lmt_data import SAMPLE, make_cycled

    if not SAMPLE.exists():
        pytest.skip(f"LMT corpus sample not found at {SAMPLE} (it lives beside the repository)")
    db = tmp_path / "lmt.sqlite3"
    make_cycled(db, stamps=3 * 86400 // STEP, start=datetime.datetime(2018, 1, 28), timestep=STEP)
    return db


def h5_contents(path: Path) -> dict[str, Any]:
    """Every dataset (values, attributes) and group attribute of an HDF5 file (not ``updated``)."""
    import h5py
    import numpy as np

    found: dict[str, Any] = {}
    with h5py.File(path, "r") as h5:

        def visit(name: str, item: Any) -> None:
            attrs = {k: np.asarray(v).tolist() for k, v in item.attrs.items() if k != "updated"}
            if isinstance(item, h5py.Dataset):
                found[name] = (np.asarray(item[()]).tobytes(), item.dtype.str, attrs)
            else:
                found[name] = attrs

        h5.visititems(visit)
    return found


def test_lmtdb_backfill_equals_day_by_day_local_runs(local_cluster: str, tmp_path: Path) -> None:
    from atokio.cli import archive_lmtdb as cli
    from atokio.pipelines.archive import DayOptions, SourceSpec, archive_day
    from atokio.pipelines.archive_lmtdb import lmtdb_source

    db = lmt_database(tmp_path)
    spec = SourceSpec(lmtdb_source, {"timestep": STEP, "cache_file": str(db)})
    local_template = str(tmp_path / "local" / "snx11025_%Y-%m-%d.hdf5")
    (tmp_path / "local").mkdir()
    days = days_between(START.date(), END.date())
    for day in days:  # one local run per day
        archive_day(spec, day, DayOptions(local_template, START, END))

    out = tmp_path / "dask"
    argv = ["-i", str(db), "--timestep", str(STEP), "--scheduler", local_cluster,
            "-o", str(out / "snx11025_%Y-%m-%d.hdf5"), START.isoformat(), END.isoformat()]  # fmt: skip
    assert cli.main(argv) == 0
    made = sorted(p.name for p in out.iterdir())
    assert made == [day.strftime("snx11025_%Y-%m-%d.hdf5") for day in days]
    for name in made:
        expected = h5_contents(tmp_path / "local" / name)
        assert len(expected) > 20
        assert h5_contents(out / name) == expected, name
    # a rerun resumes: the files are brought up to date, and stay the same
    assert cli.main(argv) == 0
    for name in made:
        assert h5_contents(out / name) == h5_contents(tmp_path / "local" / name)


def test_lmtdb_backfill_reports_a_failed_day(
    local_cluster: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from atokio.cli import archive_lmtdb as cli

    db = lmt_database(tmp_path)
    out = tmp_path / "dask"
    out.mkdir()
    (out / "snx11025_2018-01-29.hdf5").mkdir()  # this day's file cannot be written
    argv = ["-i", str(db), "--timestep", str(STEP), "--scheduler", local_cluster,
            "-o", str(out / "snx11025_%Y-%m-%d.hdf5"), START.isoformat(), END.isoformat()]  # fmt: skip
    with caplog.at_level(logging.ERROR):
        assert cli.main(argv) == 1
    assert (out / "snx11025_2018-01-28.hdf5").is_file()
    assert (out / "snx11025_2018-01-30.hdf5").is_file()
    assert "day 2018-01-29 failed" in caplog.text
    assert "1 of 3 days failed; run the same command again to retry them" in caplog.text


def test_scheduler_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from atokio.cli import archive_lmtdb as cli

    for extra, message in (
        (["--scheduler", "nowhere"], "--scheduler 'nowhere' is not a Dask scheduler"),
        (["--scheduler", "local:1", "--follow"], "it does not go with --follow"),
    ):
        with pytest.raises(SystemExit) as caught:
            cli.main(["-i", str(tmp_path / "x"), *extra, START.isoformat(), END.isoformat()])
        assert caught.value.code == 2
        assert message in capsys.readouterr().err


# -- archive_esnet_snmp --scheduler: a backfill across midnight ------------------------------

#: The `nersc` interfaces of the ESnet tests' site.
NERSC = {"sunn-cr5": ["to_nersc_ip-b", "to_nersc_ip-d_v4"], "sacr-cr5": ["to_nersc_ip-e"]}


def test_esnet_backfill_across_midnight_equals_local_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import time

    from esnet.esnet_server import make_data

    from atokio.cli import archive_esnet_snmp as cli
    from atokio.pipelines.archive import DayOptions, SourceSpec, archive_day
    from atokio.pipelines.archive_esnet_snmp import EsnetSnmpSource

    monkeypatch.setenv("TZ", "America/Los_Angeles")  # the local cluster's workers inherit it
    time.tzset()
    try:
        start = datetime.datetime(2019, 2, 10, 23, 55)
        end = datetime.datetime(2019, 2, 11, 0, 5)
        cache = tmp_path / "esnet.json"
        cache.write_text(json.dumps(make_data(int(start.timestamp()), 21, NERSC)))
        endpoints = ",".join(f"{e}:{i}" for e, names in NERSC.items() for i in names)
        out = tmp_path / "dask"
        argv = ["-i", str(cache), "--scheduler", "local:1", "-o", str(out / "esnet_%Y-%m-%d.hdf5"),
                start.isoformat(), end.isoformat(), endpoints]  # fmt: skip
        assert cli.main(argv) == 0
        interfaces = [(e, i) for e, names in NERSC.items() for i in names]
        spec = SourceSpec(
            EsnetSnmpSource, {"interfaces": interfaces, "timestep": 30, "input_file": str(cache)}
        )
        local = str(tmp_path / "local" / "esnet_%Y-%m-%d.hdf5")
        (tmp_path / "local").mkdir()
        for day in days_between(start.date(), end.date()):
            archive_day(spec, day, DayOptions(local, start, end))
        names = sorted(p.name for p in out.iterdir())
        assert names == ["esnet_2019-02-10.hdf5", "esnet_2019-02-11.hdf5"]
        for name in names:
            expected = h5_contents(tmp_path / "local" / name)
            assert "datatargets/readrates" in expected
            assert h5_contents(out / name) == expected, name
    finally:
        monkeypatch.undo()
        time.tzset()
