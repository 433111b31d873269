"""UMAMI diagrams: one row per metric, its history and where the latest value stands.

An :class:`Umami` maps metric names to :class:`UmamiMetric` rows.  Each row
holds parallel lists of ``timestamps`` (epoch seconds) and ``values``.
:meth:`Umami.plot` draws, per row, the time series on the left and a box
plot of the same values on the right, with the highlighted measurement
(by default the most recent) marked in a colour that tells which quartile
of the row's values it falls in; ``big_is_good`` says which direction of a
metric is good, so the colour scale reads "worst quartile" to "best
quartile" either way.

Choices where the reference is silent (written down here so that they are
predictable):

* :meth:`UmamiMetric.pop` removes the last measurement and returns it as a
  ``(timestamp, value)`` tuple.
* :meth:`Umami.to_dataframe` is indexed by the timestamps as given (epoch
  seconds, sorted), one column per metric in the Umami's order; a metric
  without a value at a timestamp has NaN there.
* :func:`_serialize_datetime` writes datetimes as ISO 8601 text.
* Plotting uses matplotlib (pyplot), which draws without a display too.
"""

from __future__ import annotations

import collections
import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas

__all__ = ["Umami", "UmamiMetric"]

#: Colours for a highlighted value in the worst, second, third and best quartile.
DEFAULT_COLORSCALE = ["#DA0017", "#FD6A07", "#40A43A", "#2C69A9"]


def _serialize_datetime(obj: Any) -> Any:
    """``json`` ``default=`` hook: datetimes (and dates) as ISO 8601 text."""
    if isinstance(obj, datetime.datetime | datetime.date):
        return obj.isoformat()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class UmamiMetric:
    """One metric of an UMAMI diagram: its history and how to read it.

    ``timestamps`` are epoch seconds and ``values`` the measurements taken
    at them; the two lists always have the same length (:class:`ValueError`
    otherwise).  ``big_is_good`` tells whether a larger value is better.
    """

    def __init__(
        self,
        timestamps: Iterable[Any],
        values: Iterable[Any],
        label: str,
        big_is_good: bool = True,
    ) -> None:
        self.timestamps = list(timestamps)
        self.values = list(values)
        if len(self.timestamps) != len(self.values):
            raise ValueError(
                f"UmamiMetric {label!r}: {len(self.timestamps)} timestamps "
                f"but {len(self.values)} values"
            )
        self.label = label
        self.big_is_good = big_is_good

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return (
            f"UmamiMetric(label={self.label!r}, {len(self)} values, big_is_good={self.big_is_good})"
        )

    def append(self, timestamp: Any, value: Any) -> None:
        """Add one measurement (values can only be added with their timestamp)."""
        self.timestamps.append(timestamp)
        self.values.append(value)

    def pop(self) -> tuple[Any, Any]:
        """Remove the last measurement and return it as ``(timestamp, value)``."""
        if not self.values:
            raise IndexError("pop from empty UmamiMetric")
        return self.timestamps.pop(), self.values.pop()

    def to_dict(self) -> dict[str, Any]:
        """The row as a dict: ``timestamps``, ``values``, ``label``, ``big_is_good``."""
        return {
            "timestamps": list(self.timestamps),
            "values": list(self.values),
            "label": self.label,
            "big_is_good": self.big_is_good,
        }

    def to_json(self) -> str:
        """The row as JSON (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), default=_serialize_datetime)


class Umami(collections.OrderedDict):
    """The data of one UMAMI diagram: metric name -> :class:`UmamiMetric`, in row order."""

    def _to_dict_for_pandas(self, stringify_key: bool = False) -> dict[Any, dict[Any, Any]]:
        """``{metric: {timestamp: value}}``, the form a DataFrame is built from.

        Labels and the other UMAMI attributes are left out.  With
        ``stringify_key`` the timestamps are strings (so the dict is valid
        JSON with the same keys).
        """
        out: dict[Any, dict[Any, Any]] = {}
        for name, metric in self.items():
            column: dict[Any, Any] = {}
            for timestamp, value in zip(metric.timestamps, metric.values, strict=True):
                key = str(_serialize_datetime_key(timestamp)) if stringify_key else timestamp
                column[key] = value
            out[name] = column
        return out

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """This object and all of its metrics as plain dicts."""
        return {name: metric.to_dict() for name, metric in self.items()}

    def to_dataframe(self) -> pandas.DataFrame:
        """The numbers plotted: indexed by timestamp (sorted), one column per metric."""
        frame = pandas.DataFrame(self._to_dict_for_pandas(), columns=list(self.keys()))
        return frame.sort_index()

    def to_json(self) -> str:
        """The numbers plotted as JSON: ``{metric: {"<timestamp>": value}}``."""
        return json.dumps(self._to_dict_for_pandas(stringify_key=True), default=_serialize_datetime)

    def plot(
        self,
        output_file: str | None = None,
        highlight_index: int = -1,
        linewidth: int = 1,
        linecolor: str = "#853692",
        colorscale: Sequence[str] = DEFAULT_COLORSCALE,
        fontsize: int = 12,
        figsize: tuple[float, float] = (6.0, 4.0 / 3.0),
    ) -> list[Any]:
        """Draw the diagram; save it to ``output_file`` when given.

        ``figsize`` is the size of one row: the figure is ``len(self)`` rows
        high.  ``colorscale`` gives the colours of a highlighted value in the
        worst, second, third and best quartile of its row (for a metric with
        ``big_is_good=False`` small values are the best).  Returns the
        matplotlib axes, two per row (time series, box plot), top to bottom.
        """
        if not self:
            raise ValueError("an Umami with no metrics cannot be plotted")
        if len(colorscale) != 4:
            raise ValueError("colorscale needs 4 colours (one per quartile)")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt  # matplotlib falls back to Agg without a display

        rows = len(self)
        figure = plt.figure(figsize=(figsize[0], figsize[1] * rows))
        grid = figure.add_gridspec(rows, 2, width_ratios=[4, 1], wspace=0.0, hspace=0.1)
        axes: list[Any] = []
        first_series = None
        for row, metric in enumerate(self.values()):
            series = figure.add_subplot(grid[row, 0], sharex=first_series)
            first_series = first_series or series
            box = figure.add_subplot(grid[row, 1], sharey=series)
            axes.extend((series, box))
            values = np.asarray(metric.values, dtype=np.float64)
            x = mdates.date2num(_plot_times(metric.timestamps))
            series.plot(x, values, linestyle="-", marker="x", linewidth=linewidth, color=linecolor)
            series.set_ylabel(metric.label, fontsize=fontsize, rotation=0, ha="right", va="center")
            series.grid(True)
            if row < rows - 1:
                series.tick_params(labelbottom=False)
            box.boxplot(
                values[~np.isnan(values)],
                widths=0.70,
                boxprops={"linewidth": linewidth},
                medianprops={"linewidth": linewidth},
                whiskerprops={"linewidth": linewidth},
                capprops={"linewidth": linewidth},
                flierprops={"linewidth": linewidth},
            )
            box.set_xticks([])
            box.tick_params(labelleft=False)
            if len(values):
                color = colorscale[_quartile(values, highlight_index, metric.big_is_good)]
                series.plot(
                    [x[highlight_index]],
                    [values[highlight_index]],
                    marker="o",
                    markersize=8,
                    color=color,
                )
                box.axhline(values[highlight_index], color=color, linewidth=linewidth * 2)
        locator = mdates.AutoDateLocator()
        axes[-2].xaxis.set_major_locator(locator)
        axes[-2].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        _make_room_for_labels(figure, axes[0::2])
        if output_file is not None:
            figure.savefig(output_file)
        return axes


def _plot_times(timestamps: Sequence[Any]) -> list[datetime.datetime]:
    """Timestamps (epoch seconds or datetimes) as datetimes for a dated axis (local time)."""
    out = []
    for stamp in timestamps:
        if isinstance(stamp, datetime.datetime):
            out.append(stamp)
        elif isinstance(stamp, datetime.date):
            out.append(datetime.datetime(stamp.year, stamp.month, stamp.day))
        else:
            out.append(datetime.datetime.fromtimestamp(float(stamp)))
    return out


def _make_room_for_labels(figure: Any, label_axes: Sequence[Any], pad_inches: float = 0.1) -> None:
    """Widen the left margin so that the row labels and dates fit inside the figure.

    The labels are drawn to the left of the plots; measured once the figure is
    laid out, the margin becomes as wide as the widest of them, so the whole
    diagram is inside the figure however it is saved (``plt.savefig`` too).
    """
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in label_axes]
    dpi = figure.dpi
    extra_left = max(0.0, pad_inches - min(box.x0 for box in boxes) / dpi)
    extra_bottom = max(0.0, pad_inches - min(box.y0 for box in boxes) / dpi)
    if not (extra_left or extra_bottom):
        return
    # grow the figure by what is missing, keeping the plots their size
    params = figure.subplotpars
    width, height = figure.get_figwidth(), figure.get_figheight()
    new_width, new_height = width + extra_left, height + extra_bottom
    figure.set_size_inches(new_width, new_height)
    figure.subplots_adjust(
        left=(params.left * width + extra_left) / new_width,
        right=(params.right * width + extra_left) / new_width,
        bottom=(params.bottom * height + extra_bottom) / new_height,
        top=(params.top * height + extra_bottom) / new_height,
    )


def _serialize_datetime_key(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def _quartile(values: np.ndarray, index: int, big_is_good: bool) -> int:
    """0 (worst quartile) .. 3 (best) for ``values[index]`` among ``values``."""
    present = values[~np.isnan(values)]
    value = values[index]
    if not len(present) or np.isnan(value):
        return 0
    bounds = np.percentile(present, [25, 50, 75])
    quartile = int(np.searchsorted(bounds, value, side="left"))
    quartile = min(quartile, 3)
    return quartile if big_is_good else 3 - quartile
