"""Long-lived collection: poll a source every timestep, forever, without losing intervals.

:func:`follow` drives the ``--follow`` mode of the ``archive_*`` tools.  The
caller gives an async ``poll(start, end)`` that fetches the half-open interval
``[start, end)`` of its source and hands the records to the archive writer;
:func:`follow` calls it for consecutive intervals that tile time with no gap
and no overlap:

* every ``timestep`` seconds it polls ``[last_end, now - lag)``, where ``lag``
  gives the source time to make its latest samples visible;
* a failed poll (any ``Exception``) is retried with exponential backoff
  (``retry_initial`` doubling up to ``retry_max`` seconds); the interval is not
  advanced, so when the source comes back the next poll catches up the whole
  missed interval (split into pieces of at most ``max_window`` seconds);
* it stops cleanly when ``stop`` is set, on SIGTERM or SIGINT
  (``handle_signals=True``), or when ``until`` is reached: a sleep or a
  retry wait ends at once, a poll in flight is given ``grace`` seconds to
  finish (a second signal, or the end of the grace period, cancels it).  It
  returns the end of the last interval delivered.

Times are naive local datetimes, as everywhere in atokio (see
:mod:`atokio.common`).
"""

from __future__ import annotations

import datetime
import logging
import math
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

__all__ = ["FollowState", "follow"]

logger = logging.getLogger(__name__)

#: How many delivered windows :attr:`FollowState.windows` keeps (the latest).
MAX_WINDOWS_KEPT = 1000

Poll = Callable[[datetime.datetime, datetime.datetime], Awaitable[object]]


@dataclass
class FollowState:
    """Progress of a :func:`follow` run (readable while it runs, e.g. by tests)."""

    next_start: datetime.datetime
    polls: int = 0
    failures: int = 0
    #: the latest delivered intervals (at most :data:`MAX_WINDOWS_KEPT`)
    windows: list[tuple[datetime.datetime, datetime.datetime]] = field(default_factory=list)


def _floor(when: datetime.datetime, step: float) -> datetime.datetime:
    """``when`` rounded down to a multiple of ``step`` seconds since midnight."""
    midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
    seconds = (when - midnight).total_seconds()
    return midnight + datetime.timedelta(seconds=math.floor(seconds / step) * step)


async def follow(
    poll: Poll,
    *,
    timestep: float,
    start: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    lag: float = 0.0,
    max_window: float = 3600.0,
    retry_initial: float = 1.0,
    retry_max: float = 300.0,
    stop: anyio.Event | None = None,
    handle_signals: bool = True,
    grace: float = 30.0,
    now: Callable[[], datetime.datetime] = datetime.datetime.now,
    state: FollowState | None = None,
) -> datetime.datetime:
    """Poll ``[start, now - lag)`` every ``timestep`` seconds until stopped.

    ``start`` defaults to the current time rounded down to the timestep.
    Intervals end on multiples of ``timestep`` (counted from midnight), so
    rows land on the same grid whatever the polling jitter.  See the module
    docstring for retries, catch-up and stopping.
    """
    if timestep <= 0:
        raise ValueError(f"timestep must be positive, not {timestep}")
    stop = stop or anyio.Event()
    begin = start if start is not None else _floor(now(), timestep)
    state = state or FollowState(next_start=begin)
    state.next_start = begin
    backoff = retry_initial

    async def watch_signals(scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if stop.is_set():
                    logger.info("received %s again: stopping now", signal.Signals(signum).name)
                    scope.cancel()
                    return
                logger.info(
                    "received %s: stopping after the current interval", signal.Signals(signum).name
                )
                stop.set()

    async def enforce_grace(scope: anyio.CancelScope) -> None:
        await stop.wait()
        await anyio.sleep(grace)
        logger.warning("the poll in flight did not finish within %.0f s: cancelling it", grace)
        scope.cancel()

    async def run(scope: anyio.CancelScope) -> None:
        nonlocal backoff
        while not stop.is_set():
            horizon = _floor(now() - datetime.timedelta(seconds=lag), timestep)
            if until is not None:
                horizon = min(horizon, until)
            while state.next_start < horizon and not stop.is_set():
                end = min(horizon, state.next_start + datetime.timedelta(seconds=max_window))
                try:
                    await poll(state.next_start, end)
                except Exception as error:  # a source outage: retry, then catch up
                    state.failures += 1
                    logger.warning(
                        "polling %s - %s failed (%s: %s); retrying in %.0f s",
                        state.next_start,
                        end,
                        type(error).__name__,
                        error,
                        backoff,
                    )
                    with anyio.move_on_after(backoff):
                        await stop.wait()
                    backoff = min(backoff * 2, retry_max)
                    break
                state.polls += 1
                state.windows.append((state.next_start, end))
                if len(state.windows) > MAX_WINDOWS_KEPT:
                    del state.windows[: len(state.windows) - MAX_WINDOWS_KEPT]
                state.next_start = end
                backoff = retry_initial
            else:
                if until is not None and state.next_start >= until:
                    stop.set()
                    break
                # sleep until the horizon (now - lag, floored) reaches the next boundary
                step = datetime.timedelta(seconds=timestep)
                lagged = datetime.timedelta(seconds=lag)
                wake = _floor(now() - lagged, timestep) + step + lagged
                delay = max(0.0, (wake - now()).total_seconds())
                with anyio.move_on_after(delay):
                    await stop.wait()
        scope.cancel()

    async with anyio.create_task_group() as group:
        if handle_signals:
            group.start_soon(watch_signals, group.cancel_scope)
        group.start_soon(enforce_grace, group.cancel_scope)
        group.start_soon(run, group.cancel_scope)
    return state.next_start
