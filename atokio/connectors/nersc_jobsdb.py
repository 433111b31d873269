"""Extract job info from the NERSC jobs database (``tokio.connectors.nersc_jobsdb``).

The database (MySQL at NERSC; an SQLite cache of it in the corpus,
``sample_nersc_jobsdb.sqlite3``) has one table (docs/formats.md#nersc-jobs-database)::

    summary(stepid PRIMARY KEY, hostname, start, completion, numnodes)

``stepid`` is ``<jobid>.<host>``; ``start`` and ``completion`` are epoch
seconds; ``numnodes`` an integer.  Accessing MySQL is not required: with a
cache file, every query goes to it.  To reach MySQL, give the connection
values or set ``NERSC_JOBSDB_HOST``, ``NERSC_JOBSDB_USER``,
``NERSC_JOBSDB_PASSWORD`` and ``NERSC_JOBSDB_DB``: each fills in whichever
argument is missing, and a connection is made only when all four are known
and no ``cache_file`` is given (an explicit cache always wins).

Job data are immutable once they appear, so :class:`NerscJobsDb` keeps the
result of every query in memory and answers a repeated query (same text and
parameters) from there.  Rows read by :meth:`NerscJobsDb.get_job_startend`
and :meth:`NerscJobsDb.get_concurrent_jobs` are also kept as ``summary`` rows
for :meth:`~atokio.connectors.cachingdb.CachingDb.save_cache`, which is how
``cache_nersc_jobsdb`` writes its SQLite file.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

from atokio.common import to_epoch
from atokio.connectors.cachingdb import HIT_CACHE_DB, HIT_REMOTE_DB, CachingDb

__all__ = [
    "ENV_VARIABLES",
    "HIT_CACHE_DB",
    "HIT_MEMORY",
    "HIT_REMOTE_DB",
    "SUMMARY_COLUMNS",
    "SUMMARY_SCHEMA",
    "NerscJobsDb",
]

logger = logging.getLogger(__name__)

#: Values of :attr:`NerscJobsDb.last_hit`: which layer answered the last query
#: (pytokio's names; the last two are those of :mod:`atokio.connectors.cachingdb`).
HIT_MEMORY = 0

#: The environment variables that supply missing connection values, in argument order.
ENV_VARIABLES = (
    "NERSC_JOBSDB_HOST",
    "NERSC_JOBSDB_USER",
    "NERSC_JOBSDB_PASSWORD",
    "NERSC_JOBSDB_DB",
)

#: The columns read from ``summary``, in table order.
SUMMARY_COLUMNS = ("STEPID", "HOSTNAME", "START", "COMPLETION", "NUMNODES")

#: How the cache table is created (untyped columns, as the reference's caches).
SUMMARY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS summary "
    "(STEPID, HOSTNAME, START, COMPLETION, NUMNODES, PRIMARY KEY(STEPID))"
)

_SELECT = "SELECT s.stepid, s.hostname, s.start, s.completion, s.numnodes FROM summary AS s"


def _epoch(value: int | float | datetime.datetime) -> int:
    """Epoch seconds of an int/float, or of a datetime (naive = local time)."""
    if isinstance(value, datetime.datetime):
        return int(to_epoch(value))
    return int(value)


class NerscJobsDb(CachingDb):
    """The NERSC jobs database (MySQL, or its SQLite cache), with an in-memory layer in front.

    Lookup order for a query: the in-memory query cache, then the SQLite
    ``cache_file`` if one was given, otherwise MySQL (see the module
    docstring for credentials).  At any time the rows read so far can be
    committed to a new cache database with :meth:`save_cache`.

    Attributes beyond :class:`CachingDb`'s: ``cached_queries`` (the queries
    kept in memory: ``(query_str, variables)`` -> rows; ``query_cache`` is the
    same dict), ``last_results`` (the rows of the last query) and
    ``last_hit`` (:data:`HIT_MEMORY`, :data:`HIT_CACHE_DB` or
    :data:`HIT_REMOTE_DB`).
    """

    def __init__(
        self,
        dbhost: str | None = None,
        dbuser: str | None = None,
        dbpassword: str | None = None,
        dbname: str | None = None,
        cache_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.cached_queries: dict[tuple[str, tuple[Any, ...]], tuple] = {}
        self.query_cache = self.cached_queries
        self.last_results: tuple = ()
        if cache_file is None:
            values = [
                given if given is not None else os.environ.get(variable)
                for given, variable in zip(
                    (dbhost, dbuser, dbpassword, dbname), ENV_VARIABLES, strict=True
                )
            ]
            if all(value is not None for value in values):
                dbhost, dbuser, dbpassword, dbname = values
            else:
                if any(value is not None for value in values):
                    missing = [
                        variable
                        for value, variable in zip(values, ENV_VARIABLES, strict=True)
                        if value is None
                    ]
                    logger.debug("not connecting to the jobs database: %s unset", missing)
                dbhost = dbuser = dbpassword = dbname = None
            super().__init__(dbhost, dbuser, dbpassword, dbname)
        else:
            super().__init__(cache_file=cache_file)

    def drop_cache(self, tables: Iterable[str] | None = None) -> None:
        """Clear the query cache (and the rows kept for :meth:`save_cache`)."""
        self.cached_queries.clear()
        super().drop_cache(tables)

    # The documented signature puts ``nocache`` third, where CachingDb has ``table``.
    def query(  # type: ignore[override]
        self,
        query_str: str,
        query_variables: Sequence[Any] = (),
        nocache: bool = False,
        table: str | None = None,
        table_schema: str | None = None,
    ) -> tuple:
        """Answer a query from memory, else from the SQLite cache or MySQL, and remember it.

        The in-memory cache answers a query seen before (unless ``nocache``);
        otherwise the SQLite cache or MySQL does, and the rows are remembered.
        ``table``/``table_schema`` keep the rows for :meth:`save_cache` (as in
        :meth:`CachingDb.query`).  Returns a tuple of row tuples.
        """
        key = (query_str, tuple(query_variables))
        if not nocache and key in self.cached_queries:
            self.last_hit = HIT_MEMORY
            self.last_results = self.cached_queries[key]
            return self.last_results
        results = super().query(query_str, query_variables, table=table, table_schema=table_schema)
        self.cached_queries[key] = results
        self.last_results = results
        return results

    def _summary_rows(self, where: str, variables: Sequence[Any]) -> tuple:
        return self.query(
            f"{_SELECT} WHERE {where}",
            variables,
            table="summary",
            table_schema=SUMMARY_SCHEMA,
        )

    def get_job_startend(self, jobid: str | int, nersc_host: str) -> tuple[Any, Any]:
        """Return the start and end time of a job id on a NERSC host.

        ``jobid`` is the job of interest, ``nersc_host`` the system it ran on
        (e.g. ``edison``).  Returns ``(start, completion)`` as epoch seconds
        (ints, as stored; :mod:`atokio.tools.jobinfo` turns them into naive
        local datetimes) of the step that completed last; a warning is
        logged when the job has several rows.  A job that is not in the
        database gives ``(None, None)``.
        """
        mark = self.placeholder()
        rows = self._summary_rows(
            f"s.stepid LIKE {mark} AND s.hostname = {mark} ORDER BY s.completion",
            (f"{jobid}.%", nersc_host),
        )
        if not rows:
            return (None, None)
        if len(rows) > 1:
            logger.warning(
                "job %s on %s has %d rows in the jobs database; using the last to complete",
                jobid,
                nersc_host,
                len(rows),
            )
        last = rows[-1]
        return (last[2], last[3])

    def get_concurrent_jobs(
        self,
        start_timestamp: int | float | datetime.datetime,
        end_timestamp: int | float | datetime.datetime,
        nersc_host: str,
    ) -> dict[str, Any]:
        """Summarise the jobs that ran, in part or in full, between two times.

        Jobs of ``nersc_host`` that completed after ``start_timestamp`` and
        started before ``end_timestamp`` (epoch seconds, or datetimes: naive
        ones are local time).  Each job counts for the part of its run that
        overlaps the window.  Returns ``{"nodehrs": node-hours burned in the
        window (float), "numnodes": total nodes of those jobs, "numjobs":
        number of jobs}``.
        """
        t0 = _epoch(start_timestamp)
        t1 = _epoch(end_timestamp)
        mark = self.placeholder()
        rows = self._summary_rows(
            f"s.hostname = {mark} AND s.completion > {mark} AND s.start < {mark}",
            (nersc_host, t0, t1),
        )
        node_seconds = 0
        numnodes = 0
        for _stepid, _host, start, completion, nodes in rows:
            nodes = int(nodes)
            node_seconds += nodes * (min(int(completion), t1) - max(int(start), t0))
            numnodes += nodes
        return {"nodehrs": node_seconds / 3600.0, "numnodes": numnodes, "numjobs": len(rows)}
