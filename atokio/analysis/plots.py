"""Pictures the command-line tools draw: file-system rates over time and job UMAMI diagrams.

* :func:`plot_tts_rates` — a TOKIO Time Series file (or H5LMT) as rates over
  time, one panel per column group (``datatargets``: bytes read and written
  per second; ``mdtargets``: metadata operations per second), each line the
  sum over the group's columns (OSTs, MDTs).  ``summarize_tts --plot``.
* :func:`job_umami` and :func:`plot_job_summary` — the records of
  ``summarize_job`` (one flat dict per Darshan log or window) as an UMAMI
  diagram: one row per measured quantity, one point per record in time
  order, the last one highlighted.

Both write a PNG (or any format matplotlib knows from the file name) and
return its path; both draw without a display (the Agg backend).
"""

from __future__ import annotations

import datetime
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from atokio.analysis.umami import Umami, UmamiMetric
from atokio.archive.schema import MD_OPS

__all__ = ["JOB_METRICS", "job_umami", "plot_job_summary", "plot_tts_rates"]

logger = logging.getLogger(__name__)

GIB = 1024.0**3

#: Column groups of a TTS file: (group, title, [(dataset, line label, scale)], y-axis label).
_RATE_GROUPS: tuple[tuple[str, str, tuple[tuple[str, str, float], ...], str], ...] = (
    (
        "datatargets",
        "Data targets (OSTs)",
        (("readrates", "read", GIB), ("writerates", "write", GIB)),
        "GiB/s",
    ),
    (
        "mdtargets",
        "Metadata targets (MDTs)",
        tuple((f"{op}rates", op, 1.0) for op in MD_OPS),
        "ops/s",
    ),
)

#: summarize_job keys drawn by :func:`job_umami`: (key, label, big is good).
#: Keys a record lacks are left out; rows need at least one value.
JOB_METRICS: tuple[tuple[str, str, bool], ...] = (
    ("darshan_agg_perf_by_slowest_posix", "Job I/O rate\n(MiB/s)", True),
    ("darshan_total_gibs_posix", "Job I/O volume\n(GiB)", True),
    ("darshan_walltime", "Job wall time\n(s)", False),
    ("fs_ave_gibs_read_per_sec", "FS read rate\n(GiB/s)", True),
    ("fs_ave_gibs_write_per_sec", "FS write rate\n(GiB/s)", True),
    ("fs_ave_oss_cpu", "OSS CPU load\n(%)", False),
    ("fs_ave_mds_cpu", "MDS CPU load\n(%)", False),
    ("fs_tot_open_ops", "FS opens", True),
    ("fshealth_ost_most_full_pct", "Fullest OST\n(%)", False),
    ("fshealth_ost_overloaded_pct", "OSTs failed over\n(%)", False),
    ("jobsdb_concurrent_nodehrs", "Node-hours of\nconcurrent jobs", False),
    ("topology_job_max_radius", "Job radius\n(hops)", False),
)


def _agg() -> Any:
    """pyplot on the Agg backend unless a backend was chosen already."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_tts_rates(hdf5_file: Any, output_file: str, title: str | None = None) -> str:
    """Draw the rates of a TTS (or H5LMT) file over time into ``output_file``; return its path.

    ``hdf5_file`` is a path or an open :class:`atokio.connectors.hdf5.Hdf5`.
    One panel per column group present in the file, one line per rate
    dataset of the group (summed over its columns; missing cells count as
    zero).  Metadata operations that never happen are left out.  Raises
    ``ValueError`` naming the file when it holds none of the rate datasets.
    """
    import matplotlib.dates as mdates

    from atokio.connectors.hdf5 import Hdf5

    h5 = Hdf5(hdf5_file, "r") if isinstance(hdf5_file, str) else hdf5_file
    try:
        panels = []
        for group, group_title, datasets, unit in _RATE_GROUPS:
            lines = []
            for leaf, label, scale in datasets:
                name = f"{group}/{leaf}"
                if h5.get(name) is None:
                    continue
                frame = h5.to_dataframe(name)
                total = frame.clip(lower=0.0).sum(axis=1) / scale
                if group != "datatargets" and not total.any():
                    continue
                lines.append((label, total))
            if lines:
                panels.append((group_title, unit, lines))
        source = getattr(h5, "filename", str(hdf5_file))
    finally:
        if isinstance(hdf5_file, str):
            h5.close()
    if not panels:
        raise ValueError(
            f"{source}: no rate datasets (datatargets/readrates, writerates, "
            "mdtargets/<op>rates) to plot; is it a TOKIO Time Series or H5LMT file?"
        )
    plt = _agg()
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(8.0, 2.8 * len(panels)), sharex=True, squeeze=False
    )
    for ax, (group_title, unit, lines) in zip(axes[:, 0], panels, strict=True):
        for label, total in lines:
            ax.plot(total.index.to_pydatetime(), total.to_numpy(), label=label, linewidth=1)
        ax.set_title(group_title, fontsize=10)
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.4)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    locator = mdates.AutoDateLocator()
    bottom = axes[-1, 0]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    figure.suptitle(title or f"Rates over time: {source}", fontsize=11)
    figure.tight_layout()
    figure.savefig(output_file)
    plt.close(figure)
    logger.info("wrote %s", output_file)
    return output_file


def _when(record: Mapping[str, Any]) -> float | None:
    """A record's time as epoch seconds: its ``_datetime_start`` (datetime or number)."""
    stamp = record.get("_datetime_start")
    if isinstance(stamp, datetime.datetime):
        return stamp.timestamp()
    if isinstance(stamp, int | float):
        return float(stamp)
    return None


def job_umami(
    records: Iterable[Mapping[str, Any]],
    metrics: Sequence[tuple[str, str, bool]] = JOB_METRICS,
) -> Umami:
    """An :class:`Umami` of ``summarize_job`` records: one row per metric they carry.

    Records are put in time order (``_datetime_start``); records without a
    start time are left out.  A metric becomes a row when at least one record
    has a number for it; a record without it leaves a gap (NaN).
    """
    dated = sorted(
        ((when, record) for record in records if (when := _when(record)) is not None),
        key=lambda item: item[0],
    )
    umami = Umami()
    for key, label, big_is_good in metrics:
        values = [record.get(key) for _, record in dated]
        numbers = [float(v) if isinstance(v, int | float) else float("nan") for v in values]
        if all(number != number for number in numbers):  # all NaN (or no records)
            continue
        umami[key] = UmamiMetric([when for when, _ in dated], numbers, label, big_is_good)
    return umami


def plot_job_summary(records: Iterable[Mapping[str, Any]], output_file: str) -> str:
    """Draw the UMAMI diagram of ``summarize_job`` records into ``output_file``; return its path.

    ``ValueError`` when no record has any of :data:`JOB_METRICS`.
    """
    umami = job_umami(records)
    if not umami:
        raise ValueError(
            "nothing to plot: no summarize_job record has a start time and any of "
            + ", ".join(key for key, _, _ in JOB_METRICS)
        )
    plt = _agg()
    axes = umami.plot(output_file, figsize=(8.0, 1.6))
    plt.close(axes[0].figure)
    logger.info("wrote %s", output_file)
    return output_file
