"""Time-indexed file discovery (``tokio.tools.common``).

A *template* is a path with ``strftime`` codes (glibc's ``%-m``, no zero
padding, included): a string, a list of strings, or a dict whose
``lookup_key`` entry (every entry when the key is ``None``) is again a
template.  :func:`enumerate_dated_files` steps from ``start`` (its time of day
kept) by ``timedelta`` while the step's date is not after ``end``'s date,
formats every template at each step, optionally expands globs, and keeps the
paths that exist: with ``match_first``, only the first hit of each list item
per step.  Paths come back without duplicates, in the order first found.
"""

from __future__ import annotations

import datetime
import glob
import os
from typing import Any

__all__ = ["enumerate_dated_files"]


def _expand_check_paths(template: Any, lookup_key: str | None) -> list[Any]:
    """The templates to check: a list of strings or of lists of strings (one per list item)."""
    if isinstance(template, str):
        return [template]
    if isinstance(template, list):
        return [template]
    if isinstance(template, dict):
        if lookup_key is not None:
            if lookup_key not in template:
                raise KeyError(f"{lookup_key!r} is not among the template keys {sorted(template)}")
            return _expand_check_paths(template[lookup_key], None)
        out: list[Any] = []
        for value in template.values():
            out.extend(_expand_check_paths(value, None))
        return out
    raise TypeError(f"a path template is a str, list or dict, not {type(template).__name__}")


def _match_files(
    check_paths: list[Any], use_time: datetime.datetime, match_first: bool, use_glob: bool
) -> list[str]:
    """The existing files the templates name at ``use_time``."""
    found: list[str] = []
    for check in check_paths:
        candidates = check if isinstance(check, list) else [check]
        for template in candidates:
            path = use_time.strftime(template)
            hits = sorted(glob.glob(path)) if use_glob else ([path] if os.path.exists(path) else [])
            found.extend(hits)
            if hits and match_first:
                break
    return found


def enumerate_dated_files(
    start: datetime.datetime,
    end: datetime.datetime,
    template: Any,
    lookup_key: str | None = None,
    match_first: bool = True,
    timedelta: datetime.timedelta = datetime.timedelta(days=1),
    use_glob: bool = False,
) -> list[str]:
    """The existing files matching ``template`` from ``start`` to ``end`` (inclusive).

    See the module docstring for the rules.
    """
    if timedelta <= datetime.timedelta(0):
        raise ValueError(f"timedelta must be positive, not {timedelta}")
    check_paths = _expand_check_paths(template, lookup_key)
    seen: dict[str, None] = {}
    when = start
    end_date = end.date()
    while when.date() <= end_date:
        for path in _match_files(check_paths, when, match_first, use_glob):
            seen.setdefault(path, None)
        when += timedelta
    return list(seen)
