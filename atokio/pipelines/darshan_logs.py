"""Read one Darshan log the way ``cache_darshan`` does: passes in order, failures raised.

:func:`acache_darshan` (and its sync form :func:`cache_darshan`) runs the
``total``, ``perf`` and ``base`` passes asked for, in that order, under the
reader policy of :mod:`atokio.connectors.darshan`, and merges them into one
:class:`~atokio.connectors.darshan.Darshan` dict.  A log that cannot be read
raises :class:`~atokio.collectors.darshanlog.DarshanLogError` naming it,
unless ``silent_errors`` is set: then it gives what could be read (possibly
an empty dict), as pytokio's tool did.
"""

from __future__ import annotations

from collections.abc import Sequence

from atokio.collectors.sync import run_sync
from atokio.connectors.darshan import Darshan, aread_darshan

__all__ = ["acache_darshan", "cache_darshan"]

#: The order in which the passes are run and merged.
PASS_ORDER = ("total", "perf", "base")


async def acache_darshan(
    log_file: str,
    modes: Sequence[str] = ("base",),
    *,
    modules: Sequence[str] | None = None,
    counters: Sequence[str] | None = None,
    reader: str = "auto",
    silent_errors: bool = False,
) -> Darshan:
    """The passes ``modes`` of ``log_file`` merged into one Darshan dict (async form).

    ``modules``/``counters`` filter the ``base`` pass only.  Raises
    ``DarshanLogError`` (or ``ValueError`` for an unknown mode) unless
    ``silent_errors``.
    """
    unknown = [mode for mode in modes if mode not in PASS_ORDER]
    if unknown:
        raise ValueError(f"unknown Darshan pass(es) {unknown}: use base, total or perf")
    log = Darshan(log_file, reader=reader, silent_errors=silent_errors)
    for mode in PASS_ORDER:
        if mode not in modes:
            continue
        await aread_darshan(
            log_file,
            (mode,),
            reader=reader,
            modules=modules if mode == "base" else None,
            counters=counters if mode == "base" else None,
            timeout=log.timeout,
            silent_errors=silent_errors,
            strict=not silent_errors,
            into=log,
        )
    return log


def cache_darshan(
    log_file: str,
    modes: Sequence[str] = ("base",),
    *,
    modules: Sequence[str] | None = None,
    counters: Sequence[str] | None = None,
    reader: str = "auto",
    silent_errors: bool = False,
) -> Darshan:
    """:func:`acache_darshan` from sync code."""
    return run_sync(
        acache_darshan,
        log_file,
        modes,
        modules=modules,
        counters=counters,
        reader=reader,
        silent_errors=silent_errors,
    )
