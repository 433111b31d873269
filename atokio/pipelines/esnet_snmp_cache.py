"""Fetch ESnet SNMP interface rates for a window, or reload a saved copy (the job of ``cache_esnet_snmp``).

:func:`cache_esnet_snmp` (async form :func:`acache_esnet_snmp`) asks the ESnet
REST service for every interface, ``in`` and ``out``, over ``[start, end]``
with the ``average`` aggregation, all requests at once, and returns the
:class:`~atokio.connectors.esnet_snmp.EsnetSnmp` dict; a request that fails
after its retries is logged and recorded in its ``failures`` while the data of
the others is kept.  With ``input_file`` the saved copy is loaded instead.
:func:`retry_policy` builds the retry policy of a number of retries.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

from atokio.collectors.http import RetryPolicy
from atokio.collectors.sync import run_sync
from atokio.connectors import esnet_snmp
from atokio.connectors.esnet_snmp import EsnetSnmp

__all__ = ["acache_esnet_snmp", "cache_esnet_snmp", "retry_policy"]


def retry_policy(retries: int) -> RetryPolicy:
    """The default ESnet retry policy with ``retries`` tries after the first (0 or more)."""
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    return dataclasses.replace(esnet_snmp.DEFAULT_RETRY, retries=retries)


async def acache_esnet_snmp(
    interfaces: Sequence[tuple[str, str]],
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    timeout: float | None = esnet_snmp.DEFAULT_TIMEOUT,
    retries: int | None = None,
    input_file: str | None = None,
) -> EsnetSnmp:
    """The rates of ``interfaces`` (``(endpoint, interface)`` pairs) over ``[start, end]``.

    ``timeout`` and ``retries`` shape every request (``None``: the
    defaults of :mod:`atokio.connectors.esnet_snmp`).  With ``input_file``
    the saved copy is returned whole.  Failed requests are in the result's
    ``failures``.
    """
    if input_file is not None:
        return EsnetSnmp(start, end, input_file=input_file)
    retry = retry_policy(retries) if retries is not None else None
    result = EsnetSnmp(start, end, timeout=timeout, retry=retry)
    await result.aget_counters(list(interfaces), agg_func="average")
    return result


def cache_esnet_snmp(
    interfaces: Sequence[tuple[str, str]],
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    timeout: float | None = esnet_snmp.DEFAULT_TIMEOUT,
    retries: int | None = None,
    input_file: str | None = None,
) -> EsnetSnmp:
    """:func:`acache_esnet_snmp` from sync code."""
    return run_sync(
        acache_esnet_snmp,
        interfaces,
        start,
        end,
        timeout=timeout,
        retries=retries,
        input_file=input_file,
    )
