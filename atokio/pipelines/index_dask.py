"""Summarising Darshan logs on a Dask cluster (``index_darshanlogs --scheduler``).

The index driver hands the logs to read to :func:`asummarize_on_dask` instead
of its local worker processes.  The logs go out in tasks of
:data:`LOGS_PER_TASK` (a Dask task costs about a millisecond of scheduling,
so a task carries more logs than a local worker call); each task runs the
driver's picklable ``summarize_batch(logs, reader, mount_to_fsname)`` on a
worker and returns the small summary rows.  Outcomes come back in submission
order, so the one writer on the client sees the same sequence as a local run
with one worker and writes the same rows with the same ids.

What can go wrong in a task:

* a log that cannot be read is reported by ``summarize_batch`` itself (an
  error text for that log), as in a local run;
* a worker that dies (killed, out of memory, node lost) has its tasks rerun
  elsewhere by the scheduler; a task that kills every worker it runs on ends
  in ``KilledWorker``, and its logs are then read one task per log to find the
  culprit, which is reported as "the Darshan reader crashed on this log";
* any other error of a task is reported for each of its logs.

Workers need atokio (with the ``darshan`` package for the direct reader, or
darshan-parser at the same path as on the client) and read access to the
logs at the same paths (relative paths are made absolute first).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from atokio.pipelines.scaleout import adask_client, arun_tasks

__all__ = ["LOGS_PER_TASK", "asummarize_on_dask"]

logger = logging.getLogger(__name__)

#: Logs read by one Dask task.
LOGS_PER_TASK = 256

#: What ``summarize_batch`` gives: ``(log, outcome)`` per log, the outcome a dict or an error text.
Results = list[tuple[str, Any]]


def _crashed(error: BaseException | None) -> bool:
    """True for the scheduler's verdict on a task whose workers kept dying."""
    return error is not None and type(error).__name__ == "KilledWorker"


def _under_given_names(
    take: Callable[[Results], Any], given: dict[str, str]
) -> Callable[[Results], Any]:
    """``take`` receiving each log under the name the caller gave it."""

    def renamed(results: Results) -> Any:
        return take([(given.get(log, log), outcome) for log, outcome in results])

    return renamed


async def asummarize_on_dask(
    summarize_batch: Callable[[Sequence[str], str, Any], Results],
    todo: Sequence[str],
    reader: str,
    mount_to_fsname: Any,
    scheduler: Any,
    take: Callable[[Results], Any],
    *,
    logs_per_task: int | None = None,
    reader_works: Callable[[str], bool] | None = None,
    reader_fails: Callable[[], BaseException] | None = None,
    max_in_flight: int | None = None,
) -> None:
    """Run ``summarize_batch`` over ``todo`` on Dask; hand each task's results to ``take``.

    ``logs_per_task`` defaults to :data:`LOGS_PER_TASK`.
    ``take`` receives the results of one task at a time, in submission order
    (see the module docstring for failures).  ``reader_works(reader)``, when
    given, runs first on a worker; if it says no, ``reader_fails()`` is raised.
    ``scheduler`` is a ``--scheduler`` value, a
    :class:`~atokio.pipelines.scaleout.SchedulerSpec` or a ``Client``.
    """
    if logs_per_task is None:
        logs_per_task = LOGS_PER_TASK
    if logs_per_task < 1:
        raise ValueError(f"logs_per_task must be at least 1, not {logs_per_task}")
    if not todo:
        return
    # workers may run in another directory (or on another node): they get absolute
    # paths, and the results go back under the caller's names
    absolute = [os.path.abspath(log) for log in todo]
    take = _under_given_names(take, dict(zip(absolute, todo, strict=True)))
    todo = absolute
    async with adask_client(scheduler) as client:
        if reader_works is not None:
            async with arun_tasks(
                reader_works, [(reader,)], scheduler=client, retries=0, name="reader-check"
            ) as checks:
                async for check in checks:
                    if not check.ok:
                        raise RuntimeError(
                            f"cannot check the Darshan reader on the Dask workers: "
                            f"{check.describe_error()}"
                        )
                    if not check.value:
                        raise (
                            reader_fails()
                            if reader_fails
                            else RuntimeError(
                                f"the Darshan reader {reader!r} does not work on the Dask workers"
                            )
                        )
        batches = [
            tuple(todo[start : start + logs_per_task])
            for start in range(0, len(todo), logs_per_task)
        ]
        crashed: list[str] = []
        async with arun_tasks(
            summarize_batch,
            ((list(batch), reader, mount_to_fsname) for batch in batches),
            scheduler=client,
            labels=batches,
            ordered=True,
            max_in_flight=max_in_flight,
            name="summarize_batch",
        ) as outcomes:
            async for outcome in outcomes:
                logs: tuple[str, ...] = outcome.label  # type: ignore[assignment]
                if outcome.ok:
                    take(outcome.value or [])
                elif _crashed(outcome.error):
                    crashed += logs
                else:
                    why = outcome.describe_error()
                    take([(log, f"{log}: {why}") for log in logs])
        if crashed:  # one task per log, to find the culprit(s)
            logger.warning(
                "Dask workers died reading a task of %d logs; reading them one by one", len(crashed)
            )
            async with arun_tasks(
                summarize_batch,
                (([log], reader, mount_to_fsname) for log in crashed),
                scheduler=client,
                labels=crashed,
                ordered=True,
                retries=0,
                name="summarize_one",
            ) as singles:
                async for single in singles:
                    log = str(single.label)
                    if single.ok:
                        take(single.value or [])
                    elif _crashed(single.error):
                        take([(log, f"{log}: the Darshan reader crashed on this log")])
                    else:
                        take([(log, f"{log}: {single.describe_error()}")])
