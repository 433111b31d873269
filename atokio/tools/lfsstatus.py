"""OST fullness and failover state of a file system at a point in time (``tokio.tools.lfsstatus``).

:func:`get_fullness` and :func:`get_failures` take a *logical* file system
name (``scratch2``), mapped to the Lustre name (``snx11035``) through the
``fsname_to_backend_name`` config key (the name is used as given when it is
not there); the ``*_lfsstate`` functions take the Lustre name.

Providers of fullness (``lfsstatus_fullness_providers``, default ``["hdf5",
"nersc_lfsstate"]``) are tried in order; the first that answers wins, and
:class:`atokio.common.ConfigError` (listing what each provider said) is raised
when none does.  Failures always come from the NERSC ``lctl dl -t`` files.

Files: the NERSC files are found through the ``lfsstatus_fullness_files`` /
``lfsstatus_map_files`` templates from one day before to one hour after the
requested time, and all of them are loaded (a later file wins for a repeated
time stamp).  ``cache_file`` replaces that search: a path that exists is used
as it is, otherwise it is taken as a basename and searched for in the
directories of the templates over the same days.  No file: ``OSError``.

Decided points (docs/formats.md#ost-summaries, docs/cli.md#cache_lfsstatus):

* the sample used is the last one stamped at or before the requested time
  (the first one if the time precedes every sample), not the reference's
  "one before the first at or after";
* ``ost_next_timestamp`` is the time stamp of the following sample; when
  there is none it is the chosen time stamp + 1 s (the value pytokio always
  gives), so the key is always there, as scripts written for pytokio expect;
* a provider whose file cannot be read (missing, corrupt, truncated) is
  logged and the next provider is tried; among several NERSC files, one that
  cannot be read is skipped with a warning when others can;
* every time key is an epoch ``int``, for every provider;
* an explicit ``cache_file`` bypasses the ``hdf5`` provider;
* the ``hdf5`` provider converts ``fullness/bytes`` and ``fullness/bytestotal``
  to KiB according to their ``units`` attribute (``KiB`` is used as is,
  anything else is taken as bytes and divided by 1024), skips missing cells
  and rows, and accepts a logical or a Lustre file system name.

Summaries count only ``OST*`` targets; percentages are used / total.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Callable
from typing import Any

from atokio import config
from atokio.common import ConfigError, to_epoch
from atokio.connectors.lfshealth import failovers
from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness, NerscLfsOstMap
from atokio.tools.common import enumerate_dated_files

__all__ = [
    "DEFAULT_FULLNESS_PROVIDERS",
    "get_failures",
    "get_failures_lfsstate",
    "get_fullness",
    "get_fullness_hdf5",
    "get_fullness_lfsstate",
    "get_lfsstate",
]

logger = logging.getLogger(__name__)

DEFAULT_FULLNESS_PROVIDERS = ("hdf5", "nersc_lfsstate")
#: How far before and after the requested time the dated files are searched.
LOOK_BEHIND = datetime.timedelta(days=1)
LOOK_AHEAD = datetime.timedelta(hours=1)

_METRIC_KEYS = {"fullness": "lfsstatus_fullness_files", "failures": "lfsstatus_map_files"}
_OST_COLUMN = re.compile(r"(?:.*[-_])?(OST)([0-9A-Fa-f]+)")


def _backend_name(file_system: str) -> str:
    mapping = config.CONFIG.get("fsname_to_backend_name") or {}
    return str(mapping.get(file_system, file_system))


def _summarize_fullness(fs_data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Summary statistics of one time stamp and file system of ``NerscLfsOstFullness``.

    ``fs_data`` is ``{"MDT0000": {...}, "OST0000": {"total_kib": ..., "used_kib": ...,
    "target_index": ..., ...}, ...}``; only ``OST*`` targets count.  Returns
    ``ost_count``, ``ost_avg_full_kib`` (int, mean used KiB), ``ost_avg_full_pct``
    (100 x sum used / sum total), and for the least and most full OST (by used /
    total; the first one on a tie) ``ost_{least,most}_full_{kib,name,id,pct}``.
    ``ValueError`` when there is no OST.
    """
    osts = [(name, rec) for name, rec in fs_data.items() if name.startswith("OST")]
    if not osts:
        raise ValueError("no OST in the fullness data")
    used_total = sum(rec["used_kib"] for _, rec in osts)
    size_total = sum(rec["total_kib"] for _, rec in osts)

    def pct(rec: dict[str, Any]) -> float:
        return 100.0 * rec["used_kib"] / rec["total_kib"] if rec["total_kib"] else 0.0

    least = min(osts, key=lambda item: pct(item[1]))
    most = max(osts, key=lambda item: pct(item[1]))
    return {
        "ost_least_full_kib": least[1]["used_kib"],
        "ost_least_full_name": least[0],
        "ost_least_full_id": least[1]["target_index"],
        "ost_least_full_pct": pct(least[1]),
        "ost_most_full_kib": most[1]["used_kib"],
        "ost_most_full_name": most[0],
        "ost_most_full_id": most[1]["target_index"],
        "ost_most_full_pct": pct(most[1]),
        "ost_avg_full_kib": int(used_total / len(osts)),
        "ost_avg_full_pct": 100.0 * used_total / size_total if size_total else 0.0,
        "ost_count": len(osts),
    }


def _summarize_failover(fs_data: dict[str, Any]) -> dict[str, Any]:
    """Summary statistics of one time stamp and file system of ``NerscLfsOstMap.get_failovers``.

    ``fs_data`` is ``{"mode": 1, "abnormal_ips": {"10.100.104.140": ["OST0087", ...], ...}}``.
    An OSS is *overloaded* when it serves more OSTs than the mode.  Returns
    ``ost_overloaded_oss_count``, ``ost_overloaded_ost_count`` (OSTs on
    overloaded OSSes), ``ost_avg_overloaded_ost_per_oss`` and
    ``ost_avg_overloaded_overload_factor`` (mean OSTs / mode over the overloaded
    OSSes); the two averages are 0.0 when nothing is overloaded.
    """
    mode = int(fs_data.get("mode") or 0)
    abnormal = fs_data.get("abnormal_ips") or {}
    counts = [len(osts) for osts in abnormal.values()] if isinstance(abnormal, dict) else []
    overloaded = [count for count in counts if count > mode]
    oss_count = len(overloaded)
    ost_count = sum(overloaded)
    return {
        "ost_overloaded_oss_count": oss_count,
        "ost_overloaded_ost_count": ost_count,
        "ost_avg_overloaded_ost_per_oss": ost_count / oss_count if oss_count else 0.0,
        "ost_avg_overloaded_overload_factor": (
            sum(count / mode for count in overloaded) / oss_count if oss_count and mode else 0.0
        ),
    }


def _pick_sample(stamps: list[int], requested: int) -> tuple[int, int | None]:
    """``(chosen, next or None)``: the last stamp at or before ``requested`` (else the first)."""
    ordered = sorted(stamps)
    chosen = 0
    for position, stamp in enumerate(ordered):
        if stamp <= requested:
            chosen = position
        else:
            break
    following = ordered[chosen + 1] if chosen + 1 < len(ordered) else None
    return ordered[chosen], following


def _find_files(
    metric: str, datetime_target: datetime.datetime, cache_file: str | None
) -> list[str]:
    key = _METRIC_KEYS[metric]
    start, end = datetime_target - LOOK_BEHIND, datetime_target + LOOK_AHEAD
    template = config.CONFIG.get(key)
    if cache_file:
        if os.path.isfile(cache_file):
            return [cache_file]
        if template is None:
            raise OSError(f"{cache_file}: no such file, and {key} is not configured to search")
        templates = template if isinstance(template, list) else [template]
        if isinstance(template, dict):
            templates = [
                t
                for value in template.values()
                for t in (value if isinstance(value, list) else [value])
            ]
        dirs = list(dict.fromkeys(os.path.dirname(str(t)) for t in templates))
        found = enumerate_dated_files(
            start, end, [os.path.join(d, os.path.basename(cache_file)) for d in dirs]
        )
        if not found:
            raise OSError(f"{cache_file}: not found (as a path, or in the {key} directories)")
        return found
    if template is None:
        raise OSError(f"no {metric} file given and {key} is not configured")
    found = enumerate_dated_files(start, end, template)
    if not found:
        raise OSError(f"no {metric} files found through {key} from {start} to {end}")
    return found


def get_lfsstate(
    file_system: str,
    datetime_target: datetime.datetime,
    metric: str,
    cache_file: str | None = None,
) -> dict[str, Any]:
    """Fullness or failure summary of a Lustre file system (e.g. ``snx11025``) at a time.

    Locates and loads the ``lfs df`` (``metric="fullness"``) or ``lctl dl -t``
    (``metric="failures"``) files, takes the sample at or before
    ``datetime_target`` (see the module docstring) and returns the summary plus
    ``ost_actual_timestamp``, ``ost_requested_timestamp`` and
    ``ost_next_timestamp`` (epoch ints; see the module docstring).

    ``ValueError`` for another ``metric``; ``OSError`` when no file is found;
    ``KeyError`` when the file system is not in the chosen sample.
    """
    if metric not in _METRIC_KEYS:
        raise ValueError(f"metric must be 'fullness' or 'failures', not {metric!r}")
    loader: Callable[[str], dict[int, Any]] = (
        NerscLfsOstFullness if metric == "fullness" else NerscLfsOstMap
    )
    samples: dict[int, Any] = {}
    problems: list[str] = []
    for path in _find_files(metric, datetime_target, cache_file):
        try:
            samples.update(loader(path))
        except (OSError, EOFError, ValueError) as error:
            logger.warning("%s: cannot read %s file, skipped: %s", path, metric, error)
            problems.append(f"{path}: {error}")
    if not samples:
        raise OSError(
            f"no {metric} samples in the files for {datetime_target}"
            + (" (" + "; ".join(problems) + ")" if problems else "")
        )
    requested = to_epoch(datetime_target)
    chosen, following = _pick_sample(list(samples), requested)
    sample = samples[chosen]
    if file_system not in sample:
        raise KeyError(f"{file_system} is not in the {metric} sample of {chosen}")
    if metric == "fullness":
        result = _summarize_fullness(sample[file_system])
    else:
        result = _summarize_failover(failovers(sample[file_system], file_system))
    result["ost_actual_timestamp"] = chosen
    result["ost_next_timestamp"] = following if following is not None else chosen + 1
    result["ost_requested_timestamp"] = requested
    return result


def get_fullness_lfsstate(
    file_system: str, datetime_target: datetime.datetime, cache_file: str | None = None
) -> dict[str, Any]:
    """Fullness summary from the NERSC ``lfs df`` files (Lustre name, e.g. ``snx11025``)."""
    return get_lfsstate(file_system, datetime_target, "fullness", cache_file)


def get_failures_lfsstate(
    file_system: str, datetime_target: datetime.datetime, cache_file: str | None = None
) -> dict[str, Any]:
    """Failover summary from the NERSC ``lctl dl -t`` files (Lustre name, e.g. ``snx11025``)."""
    return get_lfsstate(file_system, datetime_target, "failures", cache_file)


def _hdf5_name(file_system: str) -> str:
    """The ``hdf5_files`` key for a logical or Lustre file system name."""
    templates = config.CONFIG.get("hdf5_files")
    if not isinstance(templates, dict) or file_system in templates:
        return file_system
    mapping = config.CONFIG.get("fsname_to_backend_name") or {}
    for logical, backend in mapping.items():
        if backend == file_system and logical in templates:
            return str(logical)
    return file_system


def get_fullness_hdf5(file_system: str, datetime_target: datetime.datetime) -> dict[str, Any]:
    """Fullness summary from the TTS ``fullness/bytes`` and ``fullness/bytestotal`` datasets.

    ``file_system`` is an ``hdf5_files`` key (a logical name such as
    ``scratch1``) or a Lustre name that ``fsname_to_backend_name`` maps from
    one.  The row used is the last one with data at or before
    ``datetime_target`` (the first one with data if none is earlier).
    ``ValueError`` when a column name has no ``OST<hex>`` from which an index
    can be derived; ``OSError`` when there is no data.
    """
    import numpy

    from atokio.connectors.hdf5 import Hdf5
    from atokio.tools.hdf5 import enumerate_hdf5, get_dataframe_from_time_range

    name = _hdf5_name(file_system)
    start, end = datetime_target - LOOK_BEHIND, datetime_target + LOOK_AHEAD
    paths = enumerate_hdf5(name, start, end)
    if not paths:
        raise OSError(f"no hdf5 files for {name} from {start} to {end}")
    with Hdf5(paths[0], mode="r") as h5:
        units = h5["fullness/bytes"].attrs.get("units")
    units = units.decode() if isinstance(units, bytes) else units
    divisor = 1.0 if str(units) == "KiB" else 1024.0
    used = get_dataframe_from_time_range(name, "fullness/bytes", start, end)
    total = get_dataframe_from_time_range(name, "fullness/bytestotal", start, end)
    if used is None or total is None or used.empty:
        raise OSError(f"no fullness data for {name} from {start} to {end}")
    rows = used.notna().any(axis=1) & total.reindex(used.index).notna().any(axis=1)
    used = used[rows]
    if used.empty:
        raise OSError(f"only missing fullness data for {name} from {start} to {end}")
    stamps = [int(to_epoch(when.to_pydatetime())) for when in used.index]
    requested = to_epoch(datetime_target)
    chosen, following = _pick_sample(stamps, requested)
    row = stamps.index(chosen)
    used_row = used.iloc[row]
    total_row = total.reindex(used.index).iloc[row]
    fs_data: dict[str, dict[str, Any]] = {}
    for column in used.columns:
        match = _OST_COLUMN.fullmatch(str(column))
        if match is None:
            raise ValueError(f"cannot derive an OST index from the column name {column!r}")
        used_kib, total_kib = used_row[column], total_row.get(column, numpy.nan)
        if numpy.isnan(used_kib) or numpy.isnan(total_kib):
            continue
        used_kib, total_kib = int(used_kib / divisor), int(total_kib / divisor)
        fs_data[match.group(1) + match.group(2)] = {
            "total_kib": total_kib,
            "used_kib": used_kib,
            "remaining_kib": total_kib - used_kib,
            "target_index": int(match.group(2), 16),
        }
    result = _summarize_fullness(fs_data)
    result["ost_actual_timestamp"] = chosen
    result["ost_next_timestamp"] = following if following is not None else chosen + 1
    result["ost_requested_timestamp"] = requested
    return result


def _providers() -> list[str]:
    value = config.CONFIG.get("lfsstatus_fullness_providers")
    if value is None:
        return list(DEFAULT_FULLNESS_PROVIDERS)
    return [value] if isinstance(value, str) else [str(item) for item in value]


def get_fullness(
    file_system: str, datetime_target: datetime.datetime, **kwargs: Any
) -> dict[str, Any]:
    """Fullness summary of a logical file system (e.g. ``cscratch``) at a time.

    Tries the ``lfsstatus_fullness_providers`` in order (``hdf5`` with the
    logical name, ``nersc_lfsstate`` with the Lustre name); ``cache_file=``
    (a path or a basename to search for) goes to ``nersc_lfsstate`` and
    bypasses ``hdf5``.  Raises :class:`atokio.common.ConfigError` when no
    provider answers.
    """
    cache_file = kwargs.get("cache_file")
    providers = ["nersc_lfsstate"] if cache_file else _providers()
    errors: list[str] = []
    for provider in providers:
        try:
            if provider == "hdf5":
                return get_fullness_hdf5(file_system, datetime_target)
            if provider == "nersc_lfsstate":
                return get_fullness_lfsstate(
                    _backend_name(file_system), datetime_target, cache_file=cache_file
                )
        except Exception as error:  # any provider failure: on to the next provider
            logger.debug("fullness provider %s failed: %s", provider, error)
            errors.append(f"{provider}: {type(error).__name__}: {error}")
            continue
        logger.warning("unknown lfsstatus_fullness_providers entry %r skipped", provider)
        errors.append(f"{provider}: unknown provider")
    raise ConfigError(
        f"no valid fullness provider for {file_system} at {datetime_target}"
        + (" (" + "; ".join(errors) + ")" if errors else "")
    )


def get_failures(
    file_system: str, datetime_target: datetime.datetime, **kwargs: Any
) -> dict[str, Any]:
    """Failover summary of a logical file system (e.g. ``cscratch``) at a time.

    ``cache_file=`` is a path, or a basename to search for, of an ``lctl dl -t``
    concatenation.
    """
    return get_failures_lfsstate(
        _backend_name(file_system), datetime_target, cache_file=kwargs.get("cache_file")
    )
