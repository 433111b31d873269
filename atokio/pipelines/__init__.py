"""The jobs the tools do, as library functions: the layer between the documented API and the front ends.

A pipeline takes plain arguments (paths, names, times, options), runs one whole
job — index Darshan logs, summarise a job, compare two ISDCT dumps, archive a
source — and returns its data or writes its output.  It never reads
``sys.argv``, never prints, and draws no progress bar of its own (a caller may
pass a ``progress`` callable or bar).  The command-line tools in
:mod:`atokio.cli` parse their arguments, call one pipeline function and format
what it returns; the service and Dask workers call the same functions.

Layers: a pipeline may use :mod:`atokio.analysis`, :mod:`atokio.tools`,
:mod:`atokio.connectors`, :mod:`atokio.archive`, :mod:`atokio.collectors` and
:mod:`atokio.parsers`; only the front ends (:mod:`atokio.cli`, the service)
import pipelines.

Naming rule of the async API (this package and the modules below it): the
async form of a function is its sync name with an ``a`` in front —
``aindex_darshanlogs``/``index_darshanlogs``, ``asummarize_log``/
``summarize_log``, ``aread_darshan``, ``arun_sacct``, ``aget_job``,
``aquery_timeseries``/``query_timeseries``, ``aget_counters``/``get_counters``,
``afetch``, ``astream_batches`` — and the sync form is a thin wrapper that runs
the async one (:func:`atokio.collectors.sync.run_sync`, which works in scripts
and inside a running event loop).  Names that were async before the rule
(``read_darshan``, ``run_sacct``, ``get_job``, ``fetch``, ``fetch_many``,
``fetch_counters``, ``fetch_interface_counters``, ``stream_batches``) stay as
aliases of their ``a`` forms, so code that awaits them keeps working.

Modules load on first use (``atokio.pipelines.darshan_index``).
"""

from __future__ import annotations

from types import ModuleType

from atokio._lazy import submodule


def __getattr__(name: str) -> ModuleType:
    """Submodules load on first use (``atokio.pipelines.<module>``)."""
    return submodule(__name__, name)
