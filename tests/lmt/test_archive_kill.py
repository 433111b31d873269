"""kill -9 of archive_lmtdb runs, one-shot and ``--follow``, never changes a row archived before.

Each run is a real subprocess killed (SIGKILL) at several points of its
work, chosen as fractions of the time a complete run of the same command
took; then every dataset's earlier rows must equal, bit for bit (sign of
zero included), what they held before the killed run, the file must open,
and a rerun must succeed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
from lmt_data import make_cycled

from atokio.pipelines.archive_lmtdb import CONFIG

DAY = ["--init-start", "2018-01-28T00:00:00", "--init-end", "2018-01-29T00:00:00"]
FRACTIONS = (0.3, 0.6, 0.9)  #: of a complete run's time (Python's start-up included)
TOOL = [sys.executable, "-m", "atokio.cli.archive_lmtdb"]


def environment() -> dict[str, str]:
    return dict(os.environ, TZ="America/Los_Angeles")


def complete(command: list[str]) -> float:
    """Run ``command`` to its end (it must succeed); return how long it took."""
    began = time.monotonic()
    done = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - began


def killed(command: list[str], after: float) -> None:
    """Start ``command`` and SIGKILL it ``after`` seconds later (unless it ended before)."""
    process = subprocess.Popen(
        command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def rows(path: Path, stop: int) -> dict[str, np.ndarray]:
    """Rows ``[0, stop)`` of every LMT dataset of the file."""
    with h5py.File(path, "r") as h5:
        return {name: h5[name][:stop] for name in CONFIG}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert got.keys() == want.keys()
    for name, values in want.items():
        assert got[name].tobytes() == values.tobytes(), name  # bit for bit, -0.0 included


def test_kill_9_one_shot_keeps_earlier_rows(lmt_corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "lmt.sqlite3"
    make_cycled(source, 4 * 720 + 1)  # 00:00 - 04:00 and the sample after it
    base = tmp_path / "base.hdf5"
    first = [*TOOL, "-i", str(source), *DAY, "2018-01-28T00:00:00", "2018-01-28T02:00:00"]
    complete([*first, "-o", str(base)])
    before = rows(base, 1440)

    second = [*TOOL, "-i", str(source), *DAY, "2018-01-28T02:00:00", "2018-01-28T04:00:00"]
    probe = tmp_path / "probe.hdf5"
    shutil.copyfile(base, probe)
    duration = complete([*second, "-o", str(probe)])
    finished = rows(probe, 2880)
    for index, fraction in enumerate(FRACTIONS):
        work = tmp_path / f"work{index}.hdf5"
        shutil.copyfile(base, work)
        killed([*second, "-o", str(work)], duration * fraction)
        assert_same(rows(work, 1440), before)  # opens, and the earlier rows are intact
        complete([*second, "-o", str(work)])
        assert_same(rows(work, 2880), finished)
        leftovers = [name for name in os.listdir(tmp_path) if name.startswith(f".{work.name}.")]
        assert leftovers == []  # the killed run's scratch file was cleared

    # killed while creating a new file: no file, or a complete one; a rerun works
    fresh_duration = complete([*first, "-o", str(tmp_path / "timing.hdf5")])
    for index, fraction in enumerate(FRACTIONS[1:]):
        new = tmp_path / f"new{index}.hdf5"
        killed([*first, "-o", str(new)], fresh_duration * fraction)
        if new.exists():
            assert_same(rows(new, 1440), before)
        complete([*first, "-o", str(new)])
        assert_same(rows(new, 1440), before)


def test_kill_9_follow_keeps_earlier_rows(lmt_corpus: Path, tmp_path: Path) -> None:
    source = tmp_path / "lmt.sqlite3"
    make_cycled(source, 4 * 720 + 1)
    template = str(tmp_path / "fs-%Y-%m-%d.hdf5")
    day_file = Path(template.replace("%Y-%m-%d", "2018-01-28"))
    follow = [*TOOL, "--follow", "-i", str(source), "-o", template]
    complete([*follow, "2018-01-28T00:00:00", "2018-01-28T01:00:00"])
    before = rows(day_file, 719)  # the row before a poll is rewritten by the next one
    saved = tmp_path / "saved.hdf5"
    shutil.copyfile(day_file, saved)

    rest = [*follow, "2018-01-28T01:00:00", "2018-01-28T04:00:00"]
    duration = complete(rest)
    finished = rows(day_file, 2880)
    for fraction in FRACTIONS:
        shutil.copyfile(saved, day_file)
        killed(rest, duration * fraction)
        assert_same(rows(day_file, 719), before)
        complete(rest)  # a rerun after the kill
        assert_same(rows(day_file, 2880), finished)
