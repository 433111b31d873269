"""Find the mmperfmon outputs NERSC collects each hour (``tokio.tools.nersc_mmperfmon``).

The ``mmperfmon_output_files`` configuration key maps a logical file system
name (``project2``, ``testfs-mini``, ...) to a path template or a list of
them (``strftime`` codes, shell globs allowed), one output per server and
hour or one bundle per day.  :func:`enumerate_mmperfmon_txt` lists the files
that exist for a window.  The module is not in the reference text; pytokio's
later releases have it and scripts call it.
"""

from __future__ import annotations

import datetime
from typing import Any

from atokio import config
from atokio.tools.common import enumerate_dated_files

__all__ = ["enumerate_mmperfmon_txt"]

#: One template expansion per hour: the outputs are hourly.
STEP = datetime.timedelta(hours=1)


def _templates(fsname: str) -> Any:
    templates = config.CONFIG.get("mmperfmon_output_files")
    if not isinstance(templates, dict) or not templates:
        raise KeyError(
            "the mmperfmon_output_files configuration key is not set: add "
            '{"<file system>": [templates]} to the site configuration'
        )
    if fsname not in templates:
        raise KeyError(
            f"file system {fsname!r} is not in mmperfmon_output_files "
            f"(known: {', '.join(sorted(map(str, templates)))})"
        )
    return templates


def enumerate_mmperfmon_txt(
    fsname: str, datetime_start: datetime.datetime, datetime_end: datetime.datetime
) -> list[str]:
    """The existing mmperfmon output files of ``fsname`` from ``datetime_start`` to ``datetime_end``.

    Every hour from the start (taken at its full hour) to the end, inclusive,
    expands the file system's ``mmperfmon_output_files`` templates through
    :func:`atokio.tools.common.enumerate_dated_files` with shell globs on and
    every match kept.  Paths come back once each, in the order found.
    ``KeyError`` when the configuration has no templates for ``fsname``;
    ``ValueError`` when the end precedes the start.
    """
    if datetime_end < datetime_start:
        raise ValueError(f"the end {datetime_end} precedes the start {datetime_start}")
    templates = _templates(fsname)
    found: dict[str, None] = {}
    when = datetime_start.replace(minute=0, second=0, microsecond=0)
    while when <= datetime_end:
        # one step only: start and end are the same hour
        for path in enumerate_dated_files(
            when,
            when,
            templates,
            lookup_key=fsname,
            match_first=False,
            timedelta=STEP * 24,
            use_glob=True,
        ):
            found.setdefault(path, None)
        when += STEP
    return list(found)
