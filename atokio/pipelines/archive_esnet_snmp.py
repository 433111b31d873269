"""Retrieve ESnet SNMP counters and store them in TOKIO Time Series format (``archive_esnet_snmp``, docs/cli.md#archive_esnet_snmp).

Fetches the traffic rates of ESnet router interfaces from the SNMP REST
service (or a cache written by ``cache_esnet_snmp``, ``-i``) and writes them
into a TTS HDF5 file (schema ``"1"``, docs/formats.md#esnet-snmp-in-tts and docs/formats.md#tokio-time-series): ``in`` (into
ESnet) goes to ``datatargets/readrates``, ``out`` to
``datatargets/writerates``, both in bytes/sec with columns
``<endpoint>:<interface>`` in the order asked (the site entry's order, then
its list order), and the group attribute ``source = "esnet_snmp"``.  A value
stamped *t* lands in the row covering ``[t, t + timestep)``; rows cover
``[query_start, query_end)``, so the point the service returns for
``query_end`` itself (it counts both bounds) is dropped.

Live mode sends every (endpoint, interface, direction) request at once
(:meth:`atokio.connectors.esnet_snmp.EsnetSnmp.fetch_counters`: a capacity
limit, timeouts, retries with backoff), asking for ``calc_func=average`` and
``calc=<timestep>``.  A request that fails after its retries, or whose answer
holds no data (no data, or throttling), is a failure of that request only,
and so are interfaces that return different numbers of points: the data of
every request that worked is written, then the failures are reported (which
request, why) and the run ends with :class:`IncompleteArchiveError` (exit
status 1).  When no request at all worked, nothing is written.  With ``-i``
every interface asked for must be in the cache (``KeyError`` otherwise).
An empty or unknown ``endpoints`` argument fails at once (exit status 1,
with the valid site names on stderr) rather than while writing, as in the
reference.

A new file (or a dataset missing from an existing one) gets the range
``[--init-start, --init-end)``, every cell missing (−0.0) until written; an
existing file keeps its range and its column order (values are matched to
columns by name).

``--follow`` (an atokio addition, :func:`follow_esnet_snmp`) keeps running:
every timestep it archives the interval since the last poll (see
:func:`atokio.collectors.follow.follow`) through the archive's single writer
(:func:`atokio.archive.writer.open_writer`), into the file of each local day
(``-o`` is then a ``strftime`` template; ``-%Y-%m-%d`` is inserted before
the extension when it has none), rolling over at midnight.  An interface
whose requests fail is asked again, from where its data stops, at the next
polls (up to a day back), while the others go on; when every request fails
the poll is retried with backoff and the missed interval caught up.  SIGTERM
or SIGINT stops it after the poll in flight, with everything sent committed.
Positionals are then optional: ``query_start`` is where to start (default:
after the last row archived in today's or yesterday's file, else now),
``query_end`` where to stop (default: never).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np

from atokio.archive import daily
from atokio.archive.daily import FollowOptions, commit_datasets, day_template
from atokio.archive.driver import ArchiveSource, Window, aarchive_window, afollow_source
from atokio.archive.files import check_output, safe_update
from atokio.archive.timeseries import TimeSeries
from atokio.archive.writer import Batch
from atokio.collectors.fanout import SourceFailure
from atokio.collectors.http import DEFAULT_LIMIT, RetryPolicy
from atokio.collectors.sync import run_sync
from atokio.common import to_epoch
from atokio.connectors.esnet_snmp import UNITS, EsnetSnmp

__all__ = [
    "CONFIG",
    "Archiver",
    "DatasetConfig",
    "IncompleteArchiveError",
    "EsnetSnmpSource",
    "aarchive_esnet_snmp",
    "afollow_esnet_snmp",
    "archive_esnet_snmp",
    "commit_datasets",
    "day_template",
    "endpoint_name",
    "follow_esnet_snmp",
    "init_hdf5_file",
    "resume_point",
    "write_file",
]

logger = logging.getLogger(__name__)

SOURCE = "esnet_snmp"


@dataclass(frozen=True)
class DatasetConfig:
    """Which direction of the interfaces fills a TTS dataset, and its units."""

    direction: str
    units: str = UNITS


#: The datasets archive_esnet_snmp writes (docs/formats.md#esnet-snmp-in-tts).
CONFIG: dict[str, DatasetConfig] = {
    "datatargets/readrates": DatasetConfig("in"),
    "datatargets/writerates": DatasetConfig("out"),
}


class IncompleteArchiveError(RuntimeError):
    """Some requests failed; the data of the others was archived.  ``failures`` says which and why."""

    def __init__(self, failures: Sequence[SourceFailure]) -> None:
        self.failures = list(failures)
        lines = "; ".join(str(failure) for failure in self.failures)
        super().__init__(f"{len(self.failures)} request(s) failed: {lines}")


def endpoint_name(endpoint: str, interface: str) -> str:
    """The column name of an interface: ``<endpoint>:<interface>``."""
    return f"{endpoint}:{interface}"


class Archiver(dict):
    """The TimeSeries (``dataset name -> TimeSeries``) of one archive window.

    ``query_start``/``query_end`` bound the rows (``[query_start,
    query_end)``; the service is asked for both bounds inclusive);
    ``interfaces`` lists ``(endpoint, interface)`` pairs, which become the
    columns in that order; ``timestep`` is the seconds per row (the service
    is asked for it, but may not honour it); ``timeout`` the HTTP timeout
    per connect/read/write.  atokio additions (keyword only): ``retry``,
    ``limit``, ``url`` as for :class:`~atokio.connectors.esnet_snmp.EsnetSnmp`.
    ``*args``/``**kwargs`` go to ``dict``.

    After :meth:`archive`, ``failures`` lists the requests that failed
    (``SourceFailure``, named ``endpoint:interface:direction``) and
    ``esnetsnmp`` is the connector that was read.
    """

    def __init__(
        self,
        query_start: datetime.datetime,
        query_end: datetime.datetime,
        interfaces: Sequence[Sequence[str]],
        timestep: int,
        timeout: float = 30.0,
        *args: Any,
        retry: RetryPolicy | None = None,
        limit: int = DEFAULT_LIMIT,
        url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        daily.check_timestep(timestep)
        self.query_start = query_start
        self.query_end = query_end
        self.interfaces: list[tuple[str, str]] = list(
            dict.fromkeys((str(e), str(i)) for e, i in interfaces)
        )
        self.timestep = int(timestep)
        self.timeout = timeout
        self.retry = retry
        self.limit = limit
        self.url = url
        self.config = CONFIG
        self.failures: list[SourceFailure] = []
        self.answered = 0  #: live mode: requests whose answer held data
        self.esnetsnmp: EsnetSnmp | None = None
        self.init_datasets(list(self.config))

    # -- setup ---------------------------------------------------------------------------
    def init_datasets(self, dataset_names: Sequence[str]) -> None:
        """Create empty (−0.0) TimeSeries for ``dataset_names``, a column per interface."""
        columns = [endpoint_name(e, i) for e, i in self.interfaces]
        for name in dataset_names:
            self[name] = TimeSeries(
                dataset_name=name,
                start=self.query_start,
                end=self.query_end,
                timestep=self.timestep,
                num_columns=len(columns),
                column_names=columns,
            )
        self.set_timeseries_metadata(dataset_names)

    def set_timeseries_metadata(self, dataset_names: Sequence[str]) -> None:
        """Set ``version`` and ``units`` on the datasets and ``source`` on their group."""
        for name in dataset_names:
            daily.set_metadata(self[name], self.config[name].units, SOURCE)

    # -- filling -------------------------------------------------------------------------
    def _connector(self) -> EsnetSnmp:
        return EsnetSnmp(
            self.query_start,
            self.query_end,
            url=self.url,
            timeout=self.timeout,
            retry=self.retry,
            limit=self.limit,
        )

    async def fetch(self, check_counts: bool = True) -> EsnetSnmp:
        """Query the REST service for every interface and direction at once, and fill self.

        Failures (requests that failed, answers without data and, with
        ``check_counts``, interfaces that returned different numbers of
        points) go to :attr:`failures`; the rest is inserted.
        """
        esnetsnmp = self._connector()
        answers = await esnetsnmp.fetch_counters(
            self.interfaces, agg_func="average", interval=self.timestep
        )
        failures = list(answers.failures)
        counts: dict[str, int] = {}
        for name, answer in answers.results.items():
            points = len(answer.get("data") or [])
            if points == 0:
                failure = SourceFailure(
                    name, ValueError("no data in the answer (no data, or API throttling)")
                )
                logger.warning("%s", failure)
                failures.append(failure)
            else:
                counts[name] = points
        if check_counts and len(set(counts.values())) > 1:
            detail = ", ".join(f"{name}={count}" for name, count in counts.items())
            failure = SourceFailure(
                "*", ValueError(f"interfaces returned different numbers of points: {detail}")
            )
            logger.warning("%s", failure)
            failures.append(failure)
        self.failures.extend(failures)
        self.answered = len(counts)
        self.esnetsnmp = esnetsnmp
        self._fill(esnetsnmp)
        return esnetsnmp

    def archive(self, input_file: str | None = None) -> None:
        """Fill the TimeSeries from the REST service, or from the JSON cache ``input_file``.

        From a cache, every interface asked for must be present
        (``KeyError`` otherwise).
        """
        run_sync(self.aarchive, input_file)

    async def aarchive(self, input_file: str | None = None) -> None:
        """The async form of :meth:`archive`."""
        if input_file is None:
            await self.fetch()
            return
        esnetsnmp = EsnetSnmp(self.query_start, self.query_end, input_file=input_file)
        for endpoint, interface in self.interfaces:
            if interface not in esnetsnmp.get(endpoint, {}):
                raise KeyError(f"{endpoint}:{interface} is not in {input_file}")
        self.esnetsnmp = esnetsnmp
        self._fill(esnetsnmp)

    def _fill(self, esnetsnmp: EsnetSnmp) -> None:
        for name, config in self.config.items():
            series = self[name]
            epochs: list[int] = []
            columns: list[str] = []
            values: list[float] = []
            for endpoint, interface in self.interfaces:
                points = esnetsnmp.get(endpoint, {}).get(interface, {}).get(config.direction, {})
                column = endpoint_name(endpoint, interface)
                for stamp, value in points.items():
                    if value is None:
                        continue
                    epochs.append(int(stamp))
                    columns.append(column)
                    values.append(float(value))
            dropped = series.insert_many(epochs, columns, values)
            if dropped:
                logger.debug("%s: %d points outside [query_start, query_end)", name, dropped)

    def finalize(self) -> None:
        """Attach the metadata (version, units, source) to every dataset."""
        self.set_timeseries_metadata(list(self))


# -- writing one file -------------------------------------------------------------------


def init_hdf5_file(
    datasets: Archiver,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    hdf5_file: h5py.File,
) -> list[str]:
    """Create the datasets of ``datasets`` missing from the file, full size and missing (−0.0).

    A new dataset covers ``[init_start, init_end)`` and gets its columns
    (``datasets``' order), ``units``, ``version``, ``updated`` and its
    group's ``source``; a new file also gets the root ``version``,
    ``start`` and ``end``.  In a file whose ``start``/``end`` differ from the
    init range this raises ``IndexError("Mismatched start or end values")``.
    Logs ``Initialized <dataset> ...`` for each dataset created and returns
    their names.
    """
    units = {name: config.units for name, config in datasets.config.items()}
    return daily.init_timeseries_datasets(
        hdf5_file, datasets, units, init_start, init_end, datasets.timestep, SOURCE
    )


def write_file(
    datasets: Archiver, init_start: datetime.datetime, init_end: datetime.datetime, path: str
) -> None:
    """Initialise (if needed) and commit ``datasets`` into the TTS file at ``path``, crash-safely."""
    usable = check_output(path, datasets.timestep, list(CONFIG), tool="archive_esnet_snmp")
    with safe_update(path, fresh=not usable) as hdf5_file:
        created = init_hdf5_file(datasets, init_start, init_end, hdf5_file)
        commit_datasets(datasets, hdf5_file, created)


class EsnetSnmpSource(ArchiveSource):
    """ESnet SNMP as a source of the archiver driver: two datasets, a column per interface.

    One-shot (:meth:`write_window`): every request at once, or the cache
    ``input_file``; nothing is written when no request worked, and
    :class:`IncompleteArchiveError` is raised after writing when some failed.
    Following (:meth:`window_batches`): an interface whose requests fail (or
    answer no data) is asked again from where its data stops at the next
    polls, at most ``max_backlog`` seconds back; a poll where every request
    fails raises (the driver retries it).  ``timeout``, ``retry``, ``url``
    and ``limit`` are as for :class:`Archiver`.
    """

    source = SOURCE
    tool = "archive_esnet_snmp"
    timestep: int

    def __init__(
        self,
        interfaces: Sequence[Sequence[str]],
        timestep: int,
        *,
        input_file: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        url: str | None = None,
        limit: int = DEFAULT_LIMIT,
        max_backlog: float = 86400.0,
    ) -> None:
        daily.check_timestep(timestep)
        self.pairs = list(dict.fromkeys((str(e), str(i)) for e, i in interfaces))
        if not self.pairs:
            raise ValueError("no interfaces to archive")
        self.timestep = int(timestep)
        self.input_file = input_file
        self.options: dict[str, Any] = {"retry": retry, "url": url, "limit": limit}
        self.timeout = timeout
        self.max_backlog = max_backlog
        self.pending: dict[tuple[str, str], datetime.datetime] = {}

    def units(self) -> dict[str, str]:
        """Both datasets with their units."""
        return {name: config.units for name, config in CONFIG.items()}

    async def write_window(self, hdf5_file: h5py.File, window: Window) -> Archiver:
        """Fetch (or load) the window and commit it; see the class docstring."""
        assert window.query_start is not None and window.query_end is not None
        assert window.init_start is not None and window.init_end is not None
        archiver = Archiver(
            window.query_start,
            window.query_end,
            self.pairs,
            self.timestep,
            self.timeout,
            **self.options,
        )
        await archiver.aarchive(self.input_file)
        archiver.finalize()
        if archiver.failures and not archiver.answered:
            raise IncompleteArchiveError(archiver.failures)  # nothing at all worked: write nothing
        created = init_hdf5_file(archiver, window.init_start, window.init_end, hdf5_file)
        commit_datasets(archiver, hdf5_file, created)
        return archiver

    async def window_batches(self, begin: datetime.datetime, end: datetime.datetime) -> list[Batch]:
        """The points of ``[begin, end)`` (and of the interfaces still owed data), as batches."""
        oldest = end - datetime.timedelta(seconds=self.max_backlog)
        groups: dict[datetime.datetime, list[tuple[str, str]]] = {}
        for pair in self.pairs:
            since = self.pending.get(pair, begin)
            if since < oldest:
                logger.warning(
                    "%s: giving up on its data before %s (older than %.0f s)",
                    endpoint_name(*pair),
                    oldest,
                    self.max_backlog,
                )
                since = self.pending[pair] = oldest
            groups.setdefault(since, []).append(pair)
        archivers = [
            Archiver(since, end, members, self.timestep, self.timeout, **self.options)
            for since, members in sorted(groups.items())
        ]
        async with anyio.create_task_group() as group:
            for archiver in archivers:
                group.start_soon(partial(archiver.fetch, check_counts=False))
        failed: set[tuple[str, str]] = set()
        for archiver in archivers:
            for failure in archiver.failures:
                endpoint, _, rest = failure.source.partition(":")
                interface = rest.rpartition(":")[0]
                failed.add((endpoint, interface))
        if len(failed) == len(self.pairs):
            raise IncompleteArchiveError([f for a in archivers for f in a.failures])
        batches: list[Batch] = []
        for archiver in archivers:
            batches.extend(_batches(archiver))
            for pair in archiver.interfaces:
                if pair in failed:
                    self.pending.setdefault(pair, archiver.query_start)
                else:
                    self.pending.pop(pair, None)
        if failed:
            logger.warning(
                "archived %s - %s without %s (asked again at the next poll)",
                begin,
                end,
                ", ".join(endpoint_name(*pair) for pair in sorted(failed)),
            )
        return batches

    def init_day(
        self, hdf5_file: h5py.File, start: datetime.datetime, end: datetime.datetime
    ) -> None:
        """Both datasets over the day, columns in request order (the writer adds others later)."""
        init_hdf5_file(Archiver(start, end, self.pairs, self.timestep), start, end, hdf5_file)

    async def aclose(self) -> None:
        """Report the interfaces whose data is still owed."""
        for pair, since in sorted(self.pending.items()):
            logger.warning(
                "stopped without the data of %s from %s on (its requests failed)",
                endpoint_name(*pair),
                since,
            )


async def aarchive_esnet_snmp(
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    interfaces: Sequence[Sequence[str]],
    timestep: int,
    output_file: str,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    input_file: str | None = None,
    **kwargs: Any,
) -> Archiver:
    """Retrieve ESnet SNMP data and store it in a TTS file (async form of :func:`archive_esnet_snmp`)."""
    daily.check_window(query_start, query_end, init_start, init_end, timestep)
    if not interfaces:
        raise ValueError("no interfaces to archive")
    source = EsnetSnmpSource(interfaces, timestep, input_file=input_file, **kwargs)
    window = Window(query_start, query_end, init_start, init_end)
    archiver: Archiver = await aarchive_window(source, output_file, window)
    if archiver.failures:
        raise IncompleteArchiveError(archiver.failures)
    return archiver


def archive_esnet_snmp(
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    interfaces: Sequence[Sequence[str]],
    timestep: int,
    output_file: str,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    input_file: str | None = None,
    **kwargs: Any,
) -> Archiver:
    """Retrieve ESnet SNMP data and store it in a TTS file.

    ``init_start`` is the first time stamp of a new file, ``init_end`` the
    one after its last; the query covers ``[query_start, query_end]`` at the
    service (rows ``[query_start, query_end)``).  ``input_file`` reads a
    cache instead of the REST service.  ``kwargs`` (``timeout``, ``retry``,
    ``url``, ``limit``) go to :class:`Archiver`.  Returns the archiver;
    raises :class:`IncompleteArchiveError` after writing when some requests
    failed, and before writing anything when all failed.
    """
    return run_sync(
        partial(
            aarchive_esnet_snmp,
            init_start,
            init_end,
            interfaces,
            timestep,
            output_file,
            query_start,
            query_end,
            input_file,
            **kwargs,
        )
    )


# -- --follow: day files through the single writer ---------------------------------------


def resume_point(template: str, now: datetime.datetime, timestep: int) -> datetime.datetime | None:
    """Where following should resume: after the last row holding data.

    Looks at today's and yesterday's day files; ``None`` when neither has
    any data.
    """
    return daily.resume_point(template, now, timestep, CONFIG)


def _batches(archiver: Archiver) -> list[Batch]:
    """The points an archiver fetched within ``[query_start, query_end)``, as writer batches.

    The raw time stamps are sent (the writer puts each into the row of its
    day file that covers it), so a window need not start on the row grid.
    """
    esnetsnmp = archiver.esnetsnmp
    if esnetsnmp is None:
        return []
    low, high = int(to_epoch(archiver.query_start)), int(to_epoch(archiver.query_end))
    batches = []
    for name, config in archiver.config.items():
        epochs: list[int] = []
        columns: list[str] = []
        values: list[float] = []
        for endpoint, interface in archiver.interfaces:
            points = esnetsnmp.get(endpoint, {}).get(interface, {}).get(config.direction, {})
            column = endpoint_name(endpoint, interface)
            for stamp, value in points.items():
                if value is not None and low <= stamp < high:
                    epochs.append(int(stamp))
                    columns.append(column)
                    values.append(float(value))
        if values:
            batches.append(Batch(name, np.array(epochs), np.array(columns, dtype=object), values))
    return batches


async def afollow_esnet_snmp(
    interfaces: Sequence[Sequence[str]],
    template: str,
    timestep: int,
    options: FollowOptions | None = None,
    *,
    timeout: float = 30.0,
    retry: RetryPolicy | None = None,
    url: str | None = None,
    max_backlog: float = 86400.0,
) -> datetime.datetime:
    """Archive ESnet SNMP continuously into day files until stopped; return where it stopped.

    Every ``timestep`` seconds the interval since the last poll is fetched,
    every request at once, and its cells go to the single writer, which
    commits them into the file of their local day (``template`` formatted
    with the day; a day file is first initialised over its whole day,
    columns in request order).  Failed interfaces are asked again later
    (:class:`EsnetSnmpSource`); resume, retries, day roll-over and stopping
    are the driver's (:func:`atokio.archive.driver.afollow_source`,
    ``options``).  ``timeout``, ``retry`` and ``url`` are as for
    :class:`Archiver`.
    """
    source = EsnetSnmpSource(
        interfaces, timestep, timeout=timeout, retry=retry, url=url, max_backlog=max_backlog
    )
    return await afollow_source(source, template, options)


def follow_esnet_snmp(
    interfaces: Sequence[Sequence[str]],
    template: str,
    timestep: int,
    options: FollowOptions | None = None,
    **kwargs: Any,
) -> datetime.datetime:
    """The sync form of :func:`afollow_esnet_snmp`."""
    return run_sync(partial(afollow_esnet_snmp, interfaces, template, timestep, options, **kwargs))
