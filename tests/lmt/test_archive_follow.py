"""archive_lmtdb --follow: catch-up, midnight roll-over, a source outage, SIGTERM."""

from __future__ import annotations

import datetime
import glob
import os
import sys
from pathlib import Path

import anyio
import h5py
import numpy as np
import pytest
from fixtures_common import follow_until_sigterm
from lmt_data import make_cycled
from lmt_mariadb import MariaDbServer, find_binaries, lmtdb_args, load_sqlite

from atokio.archive.daily import FollowOptions
from atokio.collectors.follow import FollowState
from atokio.common import to_epoch
from atokio.connectors.lmtdb import LmtDb
from atokio.pipelines.archive_lmtdb import CONFIG, afollow_lmtdb, day_template, read_window

STEP = 5


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) & (np.signbit(a) == np.signbit(b))))


def expected(db: LmtDb, start: datetime.datetime, end: datetime.datetime) -> dict:
    """What a one-shot archive of [start, end) gives (name -> TimeSeries)."""
    return dict(anyio.run(read_window, db, start, end, STEP))


def day_rows(path: str, name: str, start: datetime.datetime, end: datetime.datetime) -> tuple:
    """(columns, rows of [start, end)) of a dataset in a day file."""
    with h5py.File(path, "r") as h5:
        stamps = h5[name.split("/")[0] + "/timestamps"][...]
        first = int(np.searchsorted(stamps, to_epoch(start)))
        last = int(np.searchsorted(stamps, to_epoch(end)))
        columns = [c.decode() for c in h5[name].attrs["columns"]]
        return columns, h5[name][first:last], h5[name][...]


def test_day_template() -> None:
    assert day_template("output.hdf5") == "output-%Y-%m-%d.hdf5"
    assert day_template("arch/%Y-%m-%d/snx.hdf5") == "arch/%Y-%m-%d/snx.hdf5"


def test_catch_up_and_midnight_roll_over(lmt_corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "lmt.sqlite3"
    t0 = datetime.datetime(2018, 1, 28, 23, 50)
    make_cycled(source, 241, start=t0)  # 23:50:00 .. 00:10:00
    end = t0 + datetime.timedelta(minutes=20)
    template = str(tmp_path / "%Y-%m-%d" / "snx11025.hdf5")
    midnight = datetime.datetime(2018, 1, 29)

    def run(start: datetime.datetime | None, until: datetime.datetime) -> tuple:
        state = FollowState(next_start=t0)
        stopped = anyio.run(
            lambda: afollow_lmtdb(
                lambda: LmtDb(cache_file=source),
                template,
                STEP,
                FollowOptions(
                    start=start,
                    until=until,
                    now=lambda: end + datetime.timedelta(minutes=5),  # the data are all there
                    handle_signals=False,
                    state=state,
                ),
            )
        )
        return stopped, state

    # up to midnight, then a restart that resumes where the files end
    stopped, state = run(t0, midnight)
    assert stopped == midnight and state.failures == 0
    assert not (tmp_path / "2018-01-29").exists()
    stopped, state = run(None, end)
    assert stopped == end and state.windows[0] == (midnight, end)
    reference = expected(LmtDb(cache_file=source), t0, end)
    files = {
        "before": (str(tmp_path / "2018-01-28" / "snx11025.hdf5"), t0, midnight),
        "after": (str(tmp_path / "2018-01-29" / "snx11025.hdf5"), midnight, end),
    }
    for path, lo, hi in files.values():
        with h5py.File(path, "r") as h5:
            day = datetime.datetime.combine(lo.date(), datetime.time())
            assert int(h5.attrs["start"]) == to_epoch(day)
            assert int(h5.attrs["end"]) == to_epoch(day + datetime.timedelta(days=1))
            assert h5["datatargets/readbytes"].shape == (17280, 24)
        for name in CONFIG:
            series = reference[name]
            columns, rows, whole = day_rows(path, name, lo, hi)
            assert columns == series.columns, name  # LMT's (hex) natural order
            first = int((to_epoch(lo) - to_epoch(t0)) // STEP)
            want = series.dataset[first : first + rows.shape[0]]
            assert same(rows, want), (path, name)
            assert int(np.count_nonzero(~((whole == 0) & np.signbit(whole)))) == int(
                np.count_nonzero(~((want == 0) & np.signbit(want)))
            )  # nothing outside the followed interval


@pytest.mark.skipif(find_binaries() is None, reason="MariaDB server binaries not found")
def test_outage_is_retried_then_caught_up(lmt_corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "lmt.sqlite3"
    t0 = datetime.datetime(2018, 1, 28, 0, 0)
    make_cycled(source, 121, start=t0)  # ten minutes
    end = t0 + datetime.timedelta(minutes=10)
    server = MariaDbServer(tmp_path / "outage-db")
    server.start()
    try:
        load_sqlite(server, source, "lmt")
        port = server.port
        server.stop()  # the source is down when following starts
        state = FollowState(next_start=t0)
        template = str(tmp_path / "out-%Y-%m-%d.hdf5")

        async def scenario() -> datetime.datetime:
            async def bring_back() -> None:
                while state.failures < 2:
                    await anyio.sleep(0.02)
                await anyio.to_thread.run_sync(lambda: server.start(port=port))

            async with anyio.create_task_group() as group:
                group.start_soon(bring_back)
                stopped = await afollow_lmtdb(
                    lambda: LmtDb(**lmtdb_args(server, "lmt")),
                    template,
                    STEP,
                    FollowOptions(
                        start=t0,
                        until=end,
                        now=lambda: end + datetime.timedelta(minutes=1),
                        retry_initial=0.05,
                        retry_max=0.2,
                        handle_signals=False,
                        state=state,
                    ),
                )
            return stopped

        assert anyio.run(scenario) == end
        assert state.failures >= 2
        reference = expected(LmtDb(cache_file=source), t0, end)
        for name in CONFIG:
            columns, rows, _ = day_rows(template.replace("%Y-%m-%d", "2018-01-28"), name, t0, end)
            assert columns == reference[name].columns
            assert same(rows, reference[name].dataset), name
    finally:
        server.stop()


def test_sigterm_stops_cleanly(lmt_corpus: Path, tmp_path: Path) -> None:
    """A real run of the tool on live (1-second) data, stopped with SIGTERM."""
    start = datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(seconds=30)
    source = tmp_path / "live.sqlite3"
    make_cycled(source, 180, start=start, timestep=1)  # data until 2.5 minutes from now
    output = tmp_path / "live-%Y-%m-%d.hdf5"
    env = dict(os.environ, TZ="America/Los_Angeles")
    command = [sys.executable, "-m", "atokio.cli.archive_lmtdb", "--follow", "--debug"]
    command += ["--timestep", "1"]
    command += ["-i", str(source), "-o", str(output), start.strftime("%Y-%m-%dT%H:%M:%S")]
    # stopped a few polls after the first one has run
    done = follow_until_sigterm(command, env, str(tmp_path / "live-*.hdf5"), settle=2.5)
    assert done.returncode == 0, done.stderr
    assert "INFO: Initialized datatargets/readbytes in / with size (86400, 24)" in done.stderr
    # everything polled was committed at shutdown, and matches a one-shot read
    stopped = datetime.datetime.now()
    reference = expected_1s(source, start, stopped)
    files = sorted(glob.glob(str(tmp_path / "live-*.hdf5")))
    written = 0
    for name in ("datatargets/readbytes", "dataservers/cpuload", "mdtargets/opens"):
        got: list[tuple[int, np.ndarray]] = []
        for path in files:
            with h5py.File(path, "r") as h5:
                stamps = h5[name.split("/")[0] + "/timestamps"][...]
                data = h5[name][...]
                present = ~np.all((data == 0) & np.signbit(data), axis=1)
                got.extend(zip(stamps[present].tolist(), data[present], strict=True))
        assert got, name
        series = reference[name]
        index = {int(t): i for i, t in enumerate(series.timestamps)}
        for stamp, row in got:
            assert same(row, series.dataset[index[stamp]]), (name, stamp)
        stamps = [t for t, _ in got]
        assert stamps == list(range(stamps[0], stamps[-1] + 1))  # no hole
        assert stamps[0] <= to_epoch(start) + 2
        written = max(written, len(stamps))
    assert written >= 3


def expected_1s(source: Path, start: datetime.datetime, end: datetime.datetime) -> dict:
    return dict(anyio.run(read_window, LmtDb(cache_file=source), start, end, 1))
