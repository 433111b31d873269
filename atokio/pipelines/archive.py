"""The archive pipelines' shared layer: the archiver driver and the day-file work, in one place.

Front ends (``atokio.cli``, the service) import these names from here rather
than from :mod:`atokio.archive`: the driver (:mod:`atokio.archive.driver`:
:class:`ArchiveSource`, :func:`aarchive_window`, :func:`archive_day`,
:func:`afollow_source`), the day files and the commit
(:mod:`atokio.archive.daily`), the crash-safe file path
(:mod:`atokio.archive.files`).  The sources are
:mod:`atokio.pipelines.archive_lmtdb`, ``archive_collectdes``,
``archive_esnet_snmp`` and ``archive_mmperfmon``.
"""

from __future__ import annotations

from atokio.archive.daily import (
    FollowOptions,
    check_timestep,
    check_window,
    commit_datasets,
    day_bounds,
    day_path,
    day_template,
    ensure_directory,
    follow_day_files,
    init_day_file,
    init_timeseries_datasets,
    prepare_days,
    resume_point,
    set_metadata,
    writer_specs,
)
from atokio.archive.driver import (
    ArchiveSource,
    DayOptions,
    DayResult,
    SourceSpec,
    Window,
    aarchive_window,
    afollow_source,
    archive_day,
    archive_days,
    archive_window,
)
from atokio.archive.files import ArchiveFileError, check_output, safe_update

__all__ = [
    "ArchiveFileError",
    "ArchiveSource",
    "DayOptions",
    "DayResult",
    "FollowOptions",
    "SourceSpec",
    "Window",
    "aarchive_window",
    "afollow_source",
    "archive_day",
    "archive_days",
    "archive_window",
    "check_output",
    "check_timestep",
    "check_window",
    "commit_datasets",
    "day_bounds",
    "day_path",
    "day_template",
    "ensure_directory",
    "follow_day_files",
    "init_day_file",
    "init_timeseries_datasets",
    "prepare_days",
    "resume_point",
    "safe_update",
    "set_metadata",
    "writer_specs",
]
