"""Run many sources at once with a capacity limit, keeping every success.

A source that fails is reported as a :class:`SourceFailure` (which source,
why) while the others run to completion; cancellation and ``KeyboardInterrupt``
are never swallowed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

__all__ = ["FanoutResult", "SourceFailure", "gather"]

T = TypeVar("T")


@dataclass
class SourceFailure:
    """One source that failed, and why."""

    source: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.source}: {type(self.error).__name__}: {self.error}"


@dataclass
class FanoutResult(Generic[T]):
    """The results of the sources that succeeded (in the order given) and the failures."""

    results: dict[str, T] = field(default_factory=dict)
    failures: list[SourceFailure] = field(default_factory=list)

    def raise_first(self) -> None:
        """Raise the error of the first failed source, if any."""
        if self.failures:
            raise self.failures[0].error


async def gather(
    jobs: Mapping[str, Callable[[], Awaitable[T]]], *, limit: int = 8
) -> FanoutResult[T]:
    """Run every job (at most ``limit`` at once); collect results and failures."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    limiter = anyio.CapacityLimiter(limit)
    done: dict[str, T] = {}
    failed: dict[str, BaseException] = {}

    async def one(name: str, job: Callable[[], Awaitable[T]]) -> None:
        async with limiter:
            try:
                done[name] = await job()
            except Exception as error:
                failed[name] = error

    async with anyio.create_task_group() as group:
        for name, job in jobs.items():
            group.start_soon(one, name, job)
    result: FanoutResult[T] = FanoutResult()
    for name in jobs:
        if name in done:
            result.results[name] = done[name]
        elif name in failed:
            result.failures.append(SourceFailure(name, failed[name]))
    return result
