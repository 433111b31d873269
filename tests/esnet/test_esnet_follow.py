"""archive_esnet_snmp --follow: midnight roll-over, an interface caught up, an outage, SIGTERM."""

from __future__ import annotations

import datetime
import glob
import json
import os
import sys
from pathlib import Path

import anyio
import h5py
import numpy as np
import pytest
from esnet_data import NERSC
from esnet_server import Data, EsnetServer, make_data, serve
from fixtures_common import follow_until_sigterm

from atokio.archive.daily import FollowOptions
from atokio.collectors.follow import FollowState
from atokio.collectors.http import RetryPolicy
from atokio.common import to_epoch
from atokio.pipelines.archive_esnet_snmp import afollow_esnet_snmp, resume_point

PAIRS = [(e, i) for e, names in NERSC.items() for i in names]
COLUMNS = [f"{e}:{i}" for e, i in PAIRS]
NO_RETRY = RetryPolicy(retries=0, backoff=0)
#: 2019-02-11 23:55 to 2019-02-12 00:05 PST, every 30 s
BEFORE_MIDNIGHT = datetime.datetime(2019, 2, 11, 23, 55)
MIDNIGHT = datetime.datetime(2019, 2, 12)
AFTER_MIDNIGHT = datetime.datetime(2019, 2, 12, 0, 5)


@pytest.fixture
def data() -> Data:
    return make_data(to_epoch(BEFORE_MIDNIGHT), 21, NERSC)  # 23:55:00 .. 00:05:00


def run_follow(
    server: EsnetServer, template: str, **kwargs: object
) -> tuple[datetime.datetime, FollowState]:
    state = FollowState(next_start=BEFORE_MIDNIGHT)
    options: dict = {
        "start": BEFORE_MIDNIGHT,
        "until": AFTER_MIDNIGHT,
        "now": lambda: AFTER_MIDNIGHT + datetime.timedelta(minutes=10),  # all data is there
        "handle_signals": False,
        "state": state,
        "url": server.url,
        "retry": NO_RETRY,
        "retry_initial": 0.01,
        "retry_max": 0.02,
        "max_window": 120.0,
    }
    options.update(kwargs)
    source = {
        name: options.pop(name) for name in ("url", "retry", "max_backlog") if name in options
    }
    follow = FollowOptions(**options)
    stopped = anyio.run(lambda: afollow_esnet_snmp(PAIRS, template, 30, follow, **source))
    return stopped, state


def day_contents(
    path: str,
) -> tuple[list[str], dict[int, np.ndarray], dict[int, np.ndarray], tuple]:
    """(columns, {epoch: readrates row}, {epoch: writerates row}, shape) of the rows holding data."""
    with h5py.File(path, "r") as h5:
        stamps = h5["datatargets/timestamps"][...]
        columns = [c.decode() for c in h5["datatargets/readrates"].attrs["columns"]]
        assert [c.decode() for c in h5["datatargets/writerates"].attrs["columns"]] == columns
        assert h5["datatargets"].attrs["source"] == "esnet_snmp"
        assert h5["datatargets/readrates"].attrs["units"] == "bytes/sec"
        rows = []
        for name in ("readrates", "writerates"):
            matrix = h5["datatargets/" + name][...]
            present = ~np.all((matrix == 0) & np.signbit(matrix), axis=1)
            rows.append({int(t): matrix[i] for i, t in enumerate(stamps) if present[i]})
        return columns, rows[0], rows[1], h5["datatargets/readrates"].shape


def expected_rows(data: Data, direction: str, low: int, high: int) -> dict[int, list[float]]:
    stamps = sorted(data["sunn-cr5"]["to_nersc_ip-b"][direction])
    return {t: [data[e][i][direction][t] for e, i in PAIRS] for t in stamps if low <= t < high}


def check_days(tmp_path: Path, data: Data) -> None:
    for day, low, high in (
        ("2019-02-11", BEFORE_MIDNIGHT, MIDNIGHT),
        ("2019-02-12", MIDNIGHT, AFTER_MIDNIGHT),
    ):
        columns, read, write, shape = day_contents(str(tmp_path / day / "esnet.hdf5"))
        assert columns == COLUMNS and shape == (2880, 5)
        for got, direction in ((read, "in"), (write, "out")):
            want = expected_rows(data, direction, to_epoch(low), to_epoch(high))
            assert {t: row.tolist() for t, row in got.items()} == want, (day, direction)


def test_follow_rolls_over_at_midnight(server: EsnetServer, data: Data, tmp_path: Path) -> None:
    template = str(tmp_path / "%Y-%m-%d" / "esnet.hdf5")
    stopped, state = run_follow(server, template)
    assert stopped == AFTER_MIDNIGHT and state.failures == 0 and state.polls == 5
    check_days(tmp_path, data)
    assert resume_point(template, AFTER_MIDNIGHT, 30) == AFTER_MIDNIGHT
    assert resume_point(template, MIDNIGHT + datetime.timedelta(days=5), 30) is None
    # restarting without a start resumes after the last row archived
    stopped, state = run_follow(
        server, template, start=None, until=AFTER_MIDNIGHT + datetime.timedelta(seconds=30)
    )
    assert state.windows == [(AFTER_MIDNIGHT, AFTER_MIDNIGHT + datetime.timedelta(seconds=30))]


def test_a_failing_interface_is_caught_up(
    server: EsnetServer, data: Data, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = "sunn-cr5:to_nersc_ip-b:in"
    server.fault(broken, statuses=[500, 500])  # the first two polls
    server.fault("sacr-cr5:to_nersc_ip-e:out", drop=1)
    template = str(tmp_path / "%Y-%m-%d" / "esnet.hdf5")
    stopped, state = run_follow(server, template)
    assert stopped == AFTER_MIDNIGHT and state.failures == 0  # never a whole outage
    check_days(tmp_path, data)
    begins = [int(q["begin"]) for key, q in server.queries if key == broken]
    first = to_epoch(BEFORE_MIDNIGHT)
    assert begins[:3] == [first, first, first]  # asked again from where its data stopped
    assert "without sunn-cr5:to_nersc_ip-b (asked again at the next poll)" in caplog.text


def test_an_outage_is_retried_then_caught_up(
    server: EsnetServer, data: Data, tmp_path: Path
) -> None:
    server.fault("*", statuses=[503] * 25)  # more than a whole poll's requests
    template = str(tmp_path / "%Y-%m-%d" / "esnet.hdf5")
    stopped, state = run_follow(server, template)
    assert stopped == AFTER_MIDNIGHT and state.failures >= 2
    check_days(tmp_path, data)


def test_an_interface_that_never_answers(
    server: EsnetServer, data: Data, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.fault("sacr-cr5:to_nersc_ip-e:in", status=500)
    template = str(tmp_path / "out-%Y-%m-%d.hdf5")
    stopped, _ = run_follow(server, template, max_backlog=300.0)
    assert stopped == AFTER_MIDNIGHT
    assert "stopped without the data of sacr-cr5:to_nersc_ip-e from" in caplog.text
    assert "giving up on its data before" in caplog.text
    _, read, write, _ = day_contents(template.replace("%Y-%m-%d", "2019-02-12"))
    assert all(np.signbit(row[4]) and row[4] == 0 for row in read.values())  # never written
    assert [row[4] for row in write.values()] == [
        data["sacr-cr5"]["to_nersc_ip-e"]["out"][t] for t in sorted(write)
    ]


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """A real run of the tool on live (1-second) data from the loopback server, stopped with SIGTERM."""
    start = datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(seconds=20)
    live = make_data(to_epoch(start), 300, {"sunn-cr5": ["to_nersc_ip-b"]}, step=1)
    with serve(live) as server:
        site = tmp_path / "site.json"
        site.write_text(json.dumps({"esnet_snmp_url": server.url}))
        env = dict(
            os.environ, TZ="America/Los_Angeles", ATOKIO_CONFIG=str(site), PYTOKIO_CONFIG=str(site)
        )
        output = tmp_path / "live-%Y-%m-%d.hdf5"
        command = [
            sys.executable,
            "-m",
            "atokio.cli.archive_esnet_snmp",
            "--follow",
            "--debug",
            "--timestep",
            "1",
        ]
        command += [
            "-o",
            str(output),
            start.strftime("%Y-%m-%dT%H:%M:%S"),
            "sunn-cr5:to_nersc_ip-b",
        ]
        # stopped a few polls after the first one has run
        done = follow_until_sigterm(
            command, env, str(tmp_path / "live-*.hdf5"), settle=2.2, poll=0.05
        )
    assert done.returncode == 0, done.stderr
    assert "INFO: Initialized datatargets/readrates in / with size (86400, 1)" in done.stderr
    series = live["sunn-cr5"]["to_nersc_ip-b"]
    got: dict[int, float] = {}
    for path in sorted(glob.glob(str(tmp_path / "live-*.hdf5"))):
        with h5py.File(path, "r") as h5:
            stamps = h5["datatargets/timestamps"][...]
            column = h5["datatargets/readrates"][:, 0]
            present = ~((column == 0) & np.signbit(column))
            got.update(zip(stamps[present].tolist(), column[present].tolist(), strict=True))
    assert got, done.stderr
    stamps = sorted(got)
    assert stamps[0] == to_epoch(start) and stamps == list(
        range(stamps[0], stamps[-1] + 1)
    )  # no hole
    assert [got[t] for t in stamps] == [series["in"][t] for t in stamps]
    assert len(stamps) >= 15
