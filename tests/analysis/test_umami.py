"""atokio.analysis.umami: rows, serialisation, the DataFrame and the diagram."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas
import pytest

from atokio.analysis.umami import (
    DEFAULT_COLORSCALE,
    Umami,
    UmamiMetric,
    _quartile,
    _serialize_datetime,
)

T0 = 1489997942  # 2017-03-20 01:59:02 US/Pacific


def sample() -> Umami:
    umami = Umami()
    umami["write_gibs"] = UmamiMetric(
        [T0, T0 + 86400, T0 + 2 * 86400, T0 + 3 * 86400],
        [10.0, 12.5, 9.0, 14.0],
        "Write Rate (GiB/s)",
    )
    umami["ost_fullness"] = UmamiMetric(
        [T0, T0 + 86400, T0 + 2 * 86400, T0 + 3 * 86400],
        [40.0, 45.0, 50.0, 80.0],
        "OST Fullness (%)",
        big_is_good=False,
    )
    return umami


def test_metric_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="'x': 2 timestamps but 1 values"):
        UmamiMetric([1, 2], [3.0], "x")


def test_append_and_pop_keep_lists_parallel() -> None:
    metric = UmamiMetric([], [], "rate")
    metric.append(T0, 1.5)
    metric.append(T0 + 5, 2.5)
    assert (metric.timestamps, metric.values) == ([T0, T0 + 5], [1.5, 2.5])
    assert metric.pop() == (T0 + 5, 2.5)
    assert (metric.timestamps, metric.values) == ([T0], [1.5])
    metric.pop()
    with pytest.raises(IndexError):
        metric.pop()


def test_metric_json() -> None:
    metric = UmamiMetric([T0], [3.25], "Read Rate", big_is_good=False)
    assert json.loads(metric.to_json()) == {
        "timestamps": [T0],
        "values": [3.25],
        "label": "Read Rate",
        "big_is_good": False,
    }


def test_dict_json_and_dataframe() -> None:
    umami = sample()
    assert list(umami) == ["write_gibs", "ost_fullness"]
    assert umami.to_dict()["ost_fullness"]["big_is_good"] is False
    assert umami._to_dict_for_pandas()["write_gibs"] == {
        T0: 10.0,
        T0 + 86400: 12.5,
        T0 + 2 * 86400: 9.0,
        T0 + 3 * 86400: 14.0,
    }
    assert json.loads(umami.to_json())["ost_fullness"] == {
        str(T0): 40.0,
        str(T0 + 86400): 45.0,
        str(T0 + 2 * 86400): 50.0,
        str(T0 + 3 * 86400): 80.0,
    }
    frame = umami.to_dataframe()
    assert list(frame.columns) == ["write_gibs", "ost_fullness"]
    assert frame.index.tolist() == [T0 + i * 86400 for i in range(4)]
    assert frame["ost_fullness"].tolist() == [40.0, 45.0, 50.0, 80.0]


def test_dataframe_of_uneven_rows_has_nan() -> None:
    umami = Umami()
    umami["a"] = UmamiMetric([2, 1], [20.0, 10.0], "A")
    umami["b"] = UmamiMetric([3], [30.0], "B")
    frame = umami.to_dataframe()
    expected = pandas.DataFrame(
        {"a": [10.0, 20.0, np.nan], "b": [np.nan, np.nan, 30.0]}, index=[1, 2, 3]
    )
    pandas.testing.assert_frame_equal(frame, expected)


def test_serialize_datetime() -> None:
    when = datetime.datetime(2017, 3, 20, 1, 59, 2)
    assert _serialize_datetime(when) == "2017-03-20T01:59:02"
    assert json.dumps({"t": when}, default=_serialize_datetime) == '{"t": "2017-03-20T01:59:02"}'
    with pytest.raises(TypeError, match="object is not JSON serializable|not JSON serializable"):
        _serialize_datetime(object())


@pytest.mark.parametrize(
    ("value", "big_is_good", "expected"),
    [(1.0, True, 0), (2.5, True, 1), (3.5, True, 2), (10.0, True, 3), (10.0, False, 0)],
)
def test_quartile_of_highlighted_value(value: float, big_is_good: bool, expected: int) -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, value])
    assert _quartile(values, -1, big_is_good) == expected


def test_plot_rows_panels_and_highlight(tmp_path: Path) -> None:
    umami = sample()
    output = tmp_path / "umami.png"
    axes = umami.plot(output_file=str(output), figsize=(6.0, 1.5))
    assert len(axes) == 4  # two panels per metric
    figure = axes[0].figure
    # the figure grows (to the left and below) by what the labels and dates need
    width, height = figure.get_size_inches()
    assert 6.0 < width < 9.0 and 3.0 < height < 4.5
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the highlighted (last) value: write rate 14.0 is the best quartile (big is good),
    # OST fullness 80 % the worst (big is bad)
    write_marker = axes[0].get_lines()[-1]
    fullness_marker = axes[2].get_lines()[-1]
    assert write_marker.get_ydata().tolist() == [14.0]
    assert write_marker.get_color() == DEFAULT_COLORSCALE[3]
    assert fullness_marker.get_color() == DEFAULT_COLORSCALE[0]
    assert axes[0].get_ylabel() == "Write Rate (GiB/s)"


def test_plot_needs_metrics() -> None:
    with pytest.raises(ValueError, match="no metrics"):
        Umami().plot()


def test_plot_labels_inside_figure_and_dated_axis(tmp_path: Path) -> None:
    """Saved with plain ``plt.savefig`` (no ``bbox_inches``), no row label is cut off."""
    import matplotlib.image
    import matplotlib.pyplot as plt

    umami = sample()
    umami["long"] = UmamiMetric(
        umami["write_gibs"].timestamps, [1.0, 2.0, 3.0, 2.5], "A rather long row label (units)"
    )
    axes = umami.plot()
    figure = axes[0].figure
    output = tmp_path / "plain.png"
    plt.savefig(output)
    renderer = figure.canvas.get_renderer()
    for series in axes[0::2]:
        box = series.yaxis.label.get_window_extent(renderer)
        assert box.x0 >= 0.0, series.get_ylabel()
    ticks = [t.get_text() for t in axes[-2].get_xticklabels() if t.get_text()]
    assert ticks and any(t.isdigit() or "Mar" in t for t in ticks), ticks
    assert all(not t.get_text() for t in axes[0].get_xticklabels())  # dates on the bottom row only
    pixels = matplotlib.image.imread(str(output))
    height, width = pixels.shape[:2]
    dpi = figure.dpi
    assert (width, height) == (
        int(figure.get_figwidth() * dpi),
        int(figure.get_figheight() * dpi),
    )
    # the leftmost columns hold ink of the longest label, not a clipped edge
    left_band = pixels[:, : width // 10, :3]
    assert left_band.min() < 0.5  # some dark text there
    assert pixels[:, :2, :3].min() > 0.9  # the very edge is blank margin: nothing cut
    assert pixels[..., :3].std() > 0.05  # not a blank picture
    plt.close(figure)
