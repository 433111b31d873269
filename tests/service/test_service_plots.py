"""The report page's images, drawn in process."""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import pytest
from corpus import INPUTS, need_corpus

from atokio import config
from atokio.service import plots


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


RECORDS = [
    {"darshan_start_time": 100 + i, "darshan_agg_perf_by_slowest_posix": 10.0 * i, "darshan_walltime": 5 + i}
    for i in range(5)
]  # fmt: skip


def test_umami_has_one_row_per_metric_present() -> None:
    width, height = size(plots.umami_png(RECORDS))
    one_width, one_height = size(plots.umami_png(RECORDS[:1]))
    assert width > 300 and height > 100
    assert one_width > 300 and one_height > 100
    _, three_rows = size(plots.umami_png([{**RECORDS[0], "darshan_io_time": 1.5}]))
    assert three_rows > one_height


def test_umami_without_metrics_says_so() -> None:
    assert size(plots.umami_png([{"darshan_app": "x"}])) == (600, 100)


def test_rates_without_a_file_system_say_so() -> None:
    assert size(plots.rates_png(None, None, None)) == (600, 100)


def test_rates_of_the_corpus_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_corpus()
    day = tmp_path / "2018-01-28"
    day.mkdir()
    (day / "snx11025.hdf5").symlink_to(INPUTS / "snx11025_2018-01-28.hdf5")
    monkeypatch.setitem(
        config.CONFIG, "hdf5_files", {"scratch1": [str(tmp_path / "%Y-%m-%d" / "snx11025.hdf5")]}
    )
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    import time

    time.tzset()
    try:
        start = datetime.datetime(2018, 1, 28, 0, 1)
        png = plots.rates_png("scratch1", start, start + datetime.timedelta(minutes=2))
        assert size(png) == (630, 234)
        missing = plots.rates_png("scratch1", start.replace(year=2019), start.replace(year=2019))
        assert size(missing) == (600, 100)
    finally:
        monkeypatch.undo()
        time.tzset()
