"""TimeSeries and helpers (``tokio.timeseries``); the implementation lives in :mod:`atokio.archive`."""

from atokio.archive.timeseries import TimeSeries, sorted_nodenames, timeseries_deltas

__all__ = ["TimeSeries", "sorted_nodenames", "timeseries_deltas"]
