"""Pictures: summarize_tts --plot (rates per column group) and the summarize_job UMAMI diagram."""

from __future__ import annotations

import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import numpy
import pytest

from atokio.analysis.plots import JOB_METRICS, job_umami, plot_job_summary, plot_tts_rates
from atokio.archive.timeseries import TimeSeries
from atokio.cli import summarize_tts
from atokio.connectors.hdf5 import Hdf5

START = datetime.datetime(2019, 1, 6, 10)
END = datetime.datetime(2019, 1, 6, 11)
STEP = 60


def make_tts(path: Path, with_rates: bool = True) -> Path:
    """A one-hour TTS file: 3 OSTs (read/write rates) and 1 MDT (open and close rates)."""
    rows = (END - START).seconds // STEP
    names = ["datatargets/readrates", "datatargets/writerates", "mdtargets/openrates"]
    names += ["mdtargets/closerates", "mdtargets/unlinkrates"]
    if not with_rates:
        names = ["dataservers/cpuload"]
    with Hdf5(str(path), "w") as out:
        for number, name in enumerate(names):
            columns = ["mdt0"] if name.startswith("mdtargets") else ["ost0", "ost1", "ost2"]
            ts = TimeSeries(name, START, END, STEP, len(columns))
            ts.set_columns(columns)
            ramp = numpy.arange(rows, dtype=float)[:, None] * (number + 1) * 2.0**30
            ts.dataset[:] = numpy.repeat(ramp, len(columns), axis=1)
            if name.endswith("unlinkrates"):
                ts.dataset[:] = 0.0  # never happens: left out of the picture
            out.commit_timeseries(ts)
    return path


def assert_png(path: Path, min_width: int, min_height: int) -> None:
    """A real picture: PNG signature, at least this size, and not a blank canvas."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(str(path))
    height, width = pixels.shape[:2]
    assert width >= min_width and height >= min_height, (width, height)
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05  # lines, text and axes, not one colour
    assert (rgb < 0.5).any(axis=-1).mean() > 0.005  # some ink


def test_plot_tts_rates_panels(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    tts = make_tts(tmp_path / "fs.hdf5")
    out = tmp_path / "rates.png"
    assert plot_tts_rates(str(tts), str(out)) == str(out)
    assert_png(out, 700, 450)
    assert not plt.get_fignums()  # the figure is closed once saved


def test_plot_tts_rates_without_rates(tmp_path: Path) -> None:
    tts = make_tts(tmp_path / "cpu.hdf5", with_rates=False)
    with pytest.raises(ValueError, match=r"cpu\.hdf5: no rate datasets"):
        plot_tts_rates(str(tts), str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()


def test_summarize_tts_plot_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tts = make_tts(tmp_path / "fs.hdf5")
    out = tmp_path / "cli.png"
    assert summarize_tts.main([str(tts), "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[-1] == f"Plot written to {out}"
    assert_png(out, 700, 450)


def records() -> list[dict[str, object]]:
    day = datetime.datetime(2017, 3, 20, 2, 7, 47)
    out: list[dict[str, object]] = []
    for n in range(5):
        out.append(
            {
                "_datetime_start": day + datetime.timedelta(days=n),
                "darshan_agg_perf_by_slowest_posix": 20000.0 + 1000 * n,
                "darshan_total_gibs_posix": 2048.0 - n,
                "fshealth_ost_most_full_pct": 70.0 + n,
                "darshan_app": "vpicio_uni",  # not a number: never a row
            }
        )
    out.append({"darshan_total_gibs_posix": 1.0})  # no start time: left out
    return out


def test_job_umami_rows_in_time_order() -> None:
    shuffled = records()
    shuffled.reverse()
    umami = job_umami(shuffled)
    assert list(umami) == [
        "darshan_agg_perf_by_slowest_posix",
        "darshan_total_gibs_posix",
        "fshealth_ost_most_full_pct",
    ]
    perf = umami["darshan_agg_perf_by_slowest_posix"]
    assert perf.values == [20000.0, 21000.0, 22000.0, 23000.0, 24000.0]
    assert perf.timestamps == sorted(perf.timestamps) and len(perf.timestamps) == 5
    assert umami["fshealth_ost_most_full_pct"].big_is_good is False
    assert {key for key, _, _ in JOB_METRICS} >= set(umami)


def test_plot_job_summary(tmp_path: Path) -> None:
    out = tmp_path / "job.png"
    assert plot_job_summary(records(), str(out)) == str(out)
    assert_png(out, 600, 350)
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_job_summary([{"darshan_app": "x"}], str(tmp_path / "empty.png"))
