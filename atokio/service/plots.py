"""The report page's images: the UMAMI diagram and the file system's rates around a job.

Both are drawn with matplotlib's Agg backend into PNG bytes.  The functions
take and return plain picklable values so that the service can run them in
worker processes, away from its event loop.

The UMAMI diagram (:mod:`atokio.analysis.umami`) has one row per metric of
:data:`UMAMI_METRICS` that the records hold, one point per record in time
order (a job with several Darshan logs gives several points), the last one
highlighted.  The highlight's colour tells its quartile only from
:data:`QUARTILE_POINTS` points on; with fewer it is neutral (one value is
not "the worst quartile" of itself).  The rates plot shows the file system's read and write rates
(GiB/s, all OSTs together, from the TTS archive) from :data:`CONTEXT` before
the job's start to :data:`CONTEXT` after its end, the job's window shaded.
"""

from __future__ import annotations

import datetime
import io
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["CONTEXT", "NEUTRAL", "QUARTILE_POINTS", "UMAMI_METRICS", "rates_png", "umami_png"]

#: (record key, row label, whether bigger is better) of the UMAMI rows, top to bottom.
UMAMI_METRICS: tuple[tuple[str, str, bool], ...] = (
    ("darshan_agg_perf_by_slowest_posix", "POSIX rate\n(MiB/s)", True),
    ("darshan_total_gibs_posix", "POSIX data\n(GiB)", True),
    ("darshan_io_time", "I/O time\n(s)", False),
    ("darshan_walltime", "Walltime\n(s)", False),
    ("fs_ave_gibs_read_per_sec", "FS read\n(GiB/s)", True),
    ("fs_ave_gibs_written_per_sec", "FS write\n(GiB/s)", True),
    ("fs_max_oss_cpu", "Max OSS\nCPU (%)", False),
    ("fs_frac_missing", "FS data\nmissing", False),
)

#: The fewest points for which the highlighted value is coloured by its quartile.
QUARTILE_POINTS = 4

#: The highlight's colour when there are too few points to rank it.
NEUTRAL = "#555555"

#: How much of the file system's activity is shown before and after the job.
CONTEXT = datetime.timedelta(minutes=15)

_GIB = 2.0**30
# pyplot keeps global state: one diagram at a time when this runs in threads
_PYPLOT = threading.Lock()


def _agg() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)


def _message_png(text: str) -> bytes:
    """A small image holding one line of text (when there is nothing to plot)."""
    _agg()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 1.0), dpi=100)
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="#555555")
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def umami_png(records: Sequence[dict[str, Any]]) -> bytes:
    """The UMAMI diagram of ``records`` (summary records, any order) as PNG bytes."""
    from atokio.analysis.umami import DEFAULT_COLORSCALE, Umami, UmamiMetric

    def when(record: dict[str, Any]) -> float:
        value = record.get("darshan_start_time", record.get("_datetime_start", 0.0))
        return float(value) if isinstance(value, int | float) else 0.0

    ordered = sorted(records, key=when)
    umami = Umami()
    for key, label, big_is_good in UMAMI_METRICS:
        points = [
            (when(record), float(record[key]))
            for record in ordered
            if isinstance(record.get(key), int | float) and not isinstance(record.get(key), bool)
        ]
        if points:
            umami[key] = UmamiMetric(
                [t for t, _ in points], [v for _, v in points], label, big_is_good=big_is_good
            )
    if not umami:
        return _message_png("no metrics to draw: the records hold no rates or times")
    _agg()
    import matplotlib.pyplot as plt

    with _PYPLOT:
        few = max(len(metric) for metric in umami.values()) < QUARTILE_POINTS
        colors = [NEUTRAL] * 4 if few else list(DEFAULT_COLORSCALE)
        axes = umami.plot(figsize=(6.0, 0.9), fontsize=9, colorscale=colors)
        figure = axes[0].figure
        try:
            out = io.BytesIO()
            figure.savefig(out, format="png", dpi=90, bbox_inches="tight")
        finally:
            plt.close(figure)
    return out.getvalue()


def _rates(fsname: str, dataset: str, start: datetime.datetime, end: datetime.datetime) -> Any:
    """GiB/s of the whole file system per time step (a pandas Series), or None."""
    from atokio.tools.hdf5 import get_dataframe_from_time_range

    frame = get_dataframe_from_time_range(fsname, dataset, start, end)
    if frame is None or len(frame.index) < 2:
        return None
    step = (frame.index[1] - frame.index[0]).total_seconds() or 1.0
    return frame.sum(axis=1, min_count=1) / step / _GIB


def rates_png(
    fsname: str | None,
    job_start: datetime.datetime | None,
    job_end: datetime.datetime | None,
) -> bytes:
    """The read/write rates of ``fsname`` around ``[job_start, job_end)`` as PNG bytes.

    Without a file system, a window or any TTS rows in range, the image
    says so instead.
    """
    if not fsname or job_start is None or job_end is None:
        return _message_png("no file system or job window known: no rates to show")
    start, end = job_start - CONTEXT, job_end + CONTEXT
    try:
        read = _rates(fsname, "datatargets/readbytes", start, end)
        write = _rates(fsname, "datatargets/writebytes", start, end)
    except (KeyError, OSError) as error:
        return _message_png(f"no TTS data for {fsname}: {error}")
    if read is None and write is None:
        return _message_png(f"no TTS data for {fsname} from {start:%Y-%m-%d %H:%M} to {end:%H:%M}")
    _agg()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 2.6), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for series, label, color in ((read, "read", "#2C69A9"), (write, "write", "#DA0017")):
        if series is not None:
            axes.plot(series.index, series.to_numpy(), label=label, color=color, linewidth=1)
    span: Any = (job_start, job_end)  # matplotlib takes datetimes on a date axis
    axes.axvspan(*span, color="#40A43A", alpha=0.15, label="job")
    axes.set_ylabel("GiB/s")
    axes.set_title(f"{fsname}: read and write rates around the job", fontsize=10)
    axes.legend(loc="upper right", fontsize=8)
    axes.grid(True, alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
