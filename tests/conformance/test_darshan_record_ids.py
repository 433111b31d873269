"""Counters holding 64-bit record ids come out of the direct reader unsigned, as darshan-parser prints them."""

from __future__ import annotations

from pathlib import Path

import pytest

from atokio.collectors.darshanlog import RECORD_ID_COUNTERS, _Log, direct_reader_available
from atokio.connectors.darshan import Darshan


def example_log(name: str) -> Path:
    """A log shipped with the ``darshan`` package (skip when it is not installed)."""
    darshan = pytest.importorskip("darshan")
    if not direct_reader_available():
        pytest.skip("libdarshan-util (the darshan package) cannot be loaded")
    path = Path(darshan.__file__).parent / "examples" / "example_logs" / name
    if not path.is_file():
        pytest.skip(f"{path} is not in this version of the darshan package")
    return path


def test_renamed_from_is_unsigned_and_names_a_record() -> None:
    path = example_log("dxt.darshan")
    with _Log(str(path)) as log:
        names = log.names()
        table = log.generic_records("POSIX")
        counters = list(log.library.counter_names("POSIX"))
        stored = table["counters"][:, counters.index("POSIX_RENAMED_FROM")].tolist()
    signed = sorted(v for v in stored if v != 0)
    assert len(signed) == 8 and sum(v < 0 for v in signed) == 3  # as libdarshan-util stores them
    log = Darshan(str(path), reader="direct")
    log.darshan_parser_base()
    got = sorted(
        values["RENAMED_FROM"]
        for record, ranks in log["counters"]["posix"].items()
        if not record.startswith("_")
        for values in ranks.values()
        if values.get("RENAMED_FROM")
    )
    assert got == sorted(v + (1 << 64) if v < 0 else v for v in signed)
    assert all(0 < value < 1 << 64 for value in got)
    assert all(value in names for value in got)  # each is the id of a record of the log


def test_record_id_counter_names() -> None:
    assert "POSIX_RENAMED_FROM".endswith(RECORD_ID_COUNTERS)
    assert "H5D_FILE_REC_ID".endswith(RECORD_ID_COUNTERS)
    assert not "POSIX_RENAME_SOURCES".endswith(RECORD_ID_COUNTERS)
