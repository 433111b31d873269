"""Fixtures of the scale-out tests: real Dask clusters on loopback, small inputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from dask_processes import DaskProcesses


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[str]:
    """The address of a LocalCluster of two worker processes, one thread each."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        memory_limit=0,
        host="127.0.0.1",
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[DaskProcesses]:
    """A ``dask scheduler`` and two ``dask worker`` processes, started for this test."""
    with DaskProcesses(tmp_path / "dask") as cluster:
        yield cluster
