"""The scale-out layer on real Dask clusters: scheduler resolution, run_tasks, arun_tasks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import anyio
import pytest
from scaleout_tasks import double, fail_first_time, worker_pid

from atokio.pipelines.scaleout import (
    SCHEDULER_ENV,
    SchedulerSpec,
    TaskOutcome,
    arun_tasks,
    dask_client,
    resolve_scheduler,
    run_tasks,
)

# -- resolving --scheduler --------------------------------------------------------------


def test_resolve_addresses_and_local_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert resolve_scheduler(None) is None
    assert resolve_scheduler("") is None
    assert resolve_scheduler("tcp://10.1.2.3:8786") == SchedulerSpec(address="tcp://10.1.2.3:8786")
    assert resolve_scheduler(" tls://node7:8786 ") == SchedulerSpec(address="tls://node7:8786")
    assert resolve_scheduler("local:3") == SchedulerSpec(workers=3)
    assert str(resolve_scheduler("local:3")) == "local:3"
    assert resolve_scheduler("local") == SchedulerSpec(workers=len(os.sched_getaffinity(0)))
    assert resolve_scheduler("local:2").is_local  # type: ignore[union-attr]


def test_resolve_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:9999")
    assert resolve_scheduler(None) == SchedulerSpec(address="tcp://127.0.0.1:9999")
    assert resolve_scheduler("local:1") == SchedulerSpec(workers=1)  # the option wins
    assert resolve_scheduler(None, environ={}) is None


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("node7:8786", "--scheduler"),
        ("http://node7:8786", "--scheduler"),
        ("local:x", "--scheduler"),
    ],
)
def test_resolve_rejects_what_is_not_a_scheduler(value: str, where: str) -> None:
    with pytest.raises(ValueError) as caught:
        resolve_scheduler(value)
    assert str(caught.value) == (
        f"{where} {value!r} is not a Dask scheduler: give its address with the scheme "
        f"(tcp://host:8786) or local[:N] for N worker processes on this machine"
    )


def test_resolve_rejects_zero_local_workers() -> None:
    with pytest.raises(ValueError, match=r"^\$ATOKIO_DASK_SCHEDULER 'local:0': a local cluster"):
        resolve_scheduler(None, environ={SCHEDULER_ENV: "local:0"})


def test_unreachable_scheduler_is_named() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConnectionError, match=f"cannot reach the Dask scheduler at {address}"):
        with dask_client(address, timeout=1):
            pass


# -- running tasks ----------------------------------------------------------------------


def test_run_tasks_streams_values_and_reports_each_failure(local_cluster: str) -> None:
    with run_tasks(
        double, [(i,) for i in range(12)], scheduler=local_cluster, retries=0, max_in_flight=3
    ) as outcomes:
        got = {o.label: o for o in outcomes}
    assert sorted(got) == list(range(12))
    assert {k: o.value for k, o in got.items() if o.ok} == {i: 2 * i for i in range(12) if i != 3}
    failed = got[3]
    assert not failed.ok and failed.value is None
    assert isinstance(failed.error, ValueError)
    assert failed.describe_error() == "ValueError: three is not welcome"


def test_ordered_outcomes_and_labels(local_cluster: str) -> None:
    labels = [f"day-{i}" for i in range(9)]
    with run_tasks(
        double,
        [(i,) for i in range(9)],
        scheduler=local_cluster,
        labels=labels,
        ordered=True,
        retries=0,
        max_in_flight=2,
    ) as outcomes:
        got = [(o.label, o.value) for o in outcomes]
    assert got == [(f"day-{i}", None if i == 3 else 2 * i) for i in range(9)]


def test_retries_rerun_a_task_that_raised(local_cluster: str, tmp_path: Path) -> None:
    marker = tmp_path / "attempt"
    with run_tasks(fail_first_time, [(str(marker), 42)], scheduler=local_cluster) as outcomes:
        assert [(o.value, o.error) for o in outcomes] == [(42, None)]
    marker.unlink()
    with run_tasks(
        fail_first_time, [(str(marker), 42)], scheduler=local_cluster, retries=0
    ) as outcomes:
        (outcome,) = list(outcomes)
    assert outcome.describe_error() == f"OSError: {marker}: first attempt fails"


def test_both_workers_take_tasks(local_cluster: str) -> None:
    with run_tasks(worker_pid, [(i,) for i in range(40)], scheduler=local_cluster) as outcomes:
        got = [o.value for o in outcomes]
    assert sorted(x for x, _pid in got) == list(range(40))  # type: ignore[misc]
    assert len({pid for _x, pid in got}) == 2  # type: ignore[misc]
    assert os.getpid() not in {pid for _x, pid in got}  # type: ignore[misc]


def test_leaving_early_cancels_the_rest(local_cluster: str) -> None:
    from distributed import Client

    with run_tasks(double, [(i,) for i in range(1000)], scheduler=local_cluster) as outcomes:
        first = next(iter(outcomes))
    assert isinstance(first, TaskOutcome)
    with Client(local_cluster) as client:  # the cluster holds no tasks of that run any more
        client.run_on_scheduler(lambda dask_scheduler: None)
        assert not [k for k in client.who_has() if str(k).startswith("double-")]


def test_invalid_limits(local_cluster: str) -> None:
    with pytest.raises(ValueError, match="^max_in_flight must be at least 1, not 0$"):
        with run_tasks(double, [(1,)], scheduler=local_cluster, max_in_flight=0):
            pass
    with pytest.raises(ValueError, match="^retries must be 0 or more, not -1$"):
        with run_tasks(double, [(1,)], scheduler=local_cluster, retries=-1):
            pass


def test_a_local_cluster_from_its_spec() -> None:
    with run_tasks(worker_pid, [(i,) for i in range(6)], scheduler="local:2") as outcomes:
        got = sorted(o.value for o in outcomes)  # type: ignore[type-var]
    assert [x for x, _pid in got] == list(range(6))


# -- the async form ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_arun_tasks_under_both_event_loops(local_cluster: str, backend: str) -> None:
    async def main() -> dict[object, object]:
        got = {}
        async with arun_tasks(
            double, [(i,) for i in range(8)], scheduler=local_cluster, retries=0
        ) as outcomes:
            async for outcome in outcomes:
                got[outcome.label] = outcome.value if outcome.ok else outcome.describe_error()
        return got

    assert anyio.run(main, backend=backend) == {
        **{i: 2 * i for i in range(8)},
        3: "ValueError: three is not welcome",
    }


def test_arun_tasks_stops_early_and_raises_client_errors(local_cluster: str) -> None:
    async def first_two() -> list[object]:
        seen = []
        async with arun_tasks(
            double, [(i,) for i in range(500)], scheduler=local_cluster, ordered=True
        ) as outcomes:
            async for outcome in outcomes:
                seen.append(outcome.value)
                if len(seen) == 2:
                    break
        return seen

    assert anyio.run(first_two) == [0, 2]

    async def bad() -> None:
        async with arun_tasks(double, [(1,)], scheduler="nowhere:1") as outcomes:
            async for _ in outcomes:
                pass

    with pytest.raises(ValueError, match="is not a Dask scheduler"):
        anyio.run(bad)
