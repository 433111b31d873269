"""Progress bars for long runs, shown only when stderr is a terminal.

Every long-running job (indexing logs, archiving days, Dask runs) reports its
progress through :func:`progress`, which returns a `tqdm` bar when standard
error is a terminal and a silent stand-in otherwise, so that logs, pipes and
CI output never fill with carriage returns::

    with progress(total=len(logs), unit="log", desc="index") as bar:
        for log in logs:
            ...
            bar.update(1)

The library functions take an optional ``progress`` callable (or a bar) from
their caller; only front ends (the command line) decide to draw one.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Protocol


class ProgressBar(Protocol):
    """What a caller may do with a bar: count work, say something, close it."""

    def update(self, n: float = 1) -> Any: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> Any: ...

    def write(self, s: str) -> Any: ...

    def close(self) -> Any: ...


class SilentBar:
    """A bar that draws nothing (stderr is not a terminal, or asked to be quiet)."""

    def __init__(self, total: float | None = None) -> None:
        self.total = total
        self.n: float = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        del s, refresh

    def write(self, s: str) -> None:
        del s

    def close(self) -> None:
        pass

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def on_terminal() -> bool:
    """True when standard error is an interactive terminal."""
    stream = sys.stderr
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def progress(
    total: float | None = None,
    *,
    desc: str = "",
    unit: str = "it",
    enabled: bool | None = None,
    **options: Any,
) -> Any:
    """A progress bar on stderr when it is a terminal, else a :class:`SilentBar`.

    ``enabled`` forces the choice (``False`` for ``--quiet``); ``options`` go to
    `tqdm.tqdm` (for example ``unit_scale=True``).
    """
    if enabled is None:
        enabled = on_terminal()
    if not enabled:
        return SilentBar(total)
    from tqdm import tqdm  # deferred: only a terminal run draws a bar

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, **options)
