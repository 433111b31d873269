"""Fixtures of the report-service tests: a site folder and running servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_server import ServiceProcess, make_site, write_sacct


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the corpus (see :func:`make_site`), with a stand-in sacct."""
    work = make_site(tmp_path_factory.mktemp("site"))
    write_sacct(work / "bin")
    return work


@pytest.fixture(scope="module")
def service(site: Path) -> Iterator[ServiceProcess]:
    """The service on asyncio with the default settings, cwd the site folder."""
    with ServiceProcess(site) as server:
        yield server
