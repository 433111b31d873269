"""Crash-safe updates of archive files, and the check of an existing output before it is used.

Every write of a TTS file — one-shot archives, ``--follow`` day files, the
single writer's commits — goes through :func:`safe_update`:

1. a scratch file is created *exclusively* in the target's folder
   (:func:`tempfile.mkstemp`: ``O_CREAT | O_EXCL``, a fresh random name, so a
   symlink planted there is never followed nor overwritten);
2. the existing file, if any, is copied into it, and the caller updates the
   copy through ``h5py``;
3. the copy is closed, fsynced and renamed over the target (``os.replace``,
   atomic), and the folder is fsynced.

A crash (even ``kill -9``) at any moment leaves either the previous file or
the new one, never a mix: rows archived earlier can not be damaged.  Scratch
files left by a killed process (their name carries its pid) are removed by
the next update of the same target.

:func:`check_output` looks at an existing output before it is used: a TOKIO
Time Series file of the expected step whose datasets are consistent is
accepted; an empty or unreadable HDF5 file (a creation that was cut short)
is reported as half-made, to be rebuilt; anything else (an H5LMT file,
another HDF5 layout, a file that is not HDF5) is refused with
:class:`ArchiveFileError` naming the file.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import h5py

from atokio.common import new_file_mode, process_running

__all__ = ["ArchiveFileError", "check_output", "safe_update", "scratch_file"]

logger = logging.getLogger(__name__)

#: The first bytes of an HDF5 file (superblock at offset 0).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

#: The suffix of scratch files (their full name is ``.<target>.<pid>.<random>.writing``).
SCRATCH_SUFFIX = ".writing"


class ArchiveFileError(ValueError):
    """An existing output that can not be archived into; the message names the file and why."""


def _decode(value: Any) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


#: Fixed scratch names used by earlier releases (removed when found, never opened).
LEGACY_SUFFIXES = (".writing", ".init")


def _remove_stale_scratch(directory: str, base: str) -> None:
    """Remove scratch files of ``base`` left by processes that no longer run (or by old releases)."""
    for suffix in LEGACY_SUFFIXES:
        try:
            os.unlink(os.path.join(directory, base + suffix))  # a symlink: only the link goes
            logger.info("removed %s, left by an interrupted run", base + suffix)
        except FileNotFoundError:
            pass
    for stale in glob.glob(
        os.path.join(glob.escape(directory), f".{glob.escape(base)}.*{SCRATCH_SUFFIX}")
    ):
        parts = os.path.basename(stale)[len(base) + 2 :].split(".")
        try:
            pid = int(parts[0])
        except (ValueError, IndexError):
            continue
        if pid == os.getpid() or process_running(pid):
            continue  # still running: its scratch file is its own business
        try:
            os.unlink(stale)  # never follows a symlink: removes the link itself
            logger.info("removed %s, left by a process that stopped", stale)
        except FileNotFoundError:
            pass


def scratch_file(path: str) -> str:
    """Create (exclusively, never through a symlink) an empty scratch file beside ``path``.

    The name is ``.<basename>.<pid>.<random>.writing`` in ``path``'s folder,
    so the final rename stays on one file system.  Returns its path; the
    caller removes it or renames it.
    """
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    descriptor, scratch = tempfile.mkstemp(
        prefix=f".{base}.{os.getpid()}.", suffix=SCRATCH_SUFFIX, dir=directory
    )
    try:
        # mkstemp makes it private (0600): give it the target's mode, else the usual one
        mode = os.stat(path).st_mode & 0o777 if os.path.isfile(path) else new_file_mode()
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)
    return scratch


def _copy_into(source: str, scratch: str) -> None:
    """Copy ``source`` into the (already created) ``scratch``, never following a symlink there."""
    flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    with open(source, "rb") as reader, os.fdopen(os.open(scratch, flags), "wb") as writer:
        size = os.fstat(reader.fileno()).st_size
        offset = 0
        try:
            while offset < size:  # in the kernel, as shutil.copyfile does
                sent = os.sendfile(writer.fileno(), reader.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent
        except OSError:  # no sendfile between these files: copy through a buffer
            reader.seek(offset)
            writer.seek(offset)
            shutil.copyfileobj(reader, writer, 1 << 22)


def _fsync_path(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def safe_update(path: str, *, fresh: bool = False, **options: Any) -> Iterator[h5py.File]:
    """Update the HDF5 file at ``path`` through an exclusive scratch copy; yields the open copy.

    The folder is made when absent.  With ``fresh`` (or when ``path`` does not
    exist) the copy starts empty, so a half-made file is rebuilt.  When the
    block ends normally the copy is closed, fsynced and renamed over ``path``;
    when it raises, the copy is removed and ``path`` is left as it was.
    ``options`` go to :class:`h5py.File` (e.g. ``libver``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    _remove_stale_scratch(directory, os.path.basename(path))
    scratch = scratch_file(path)
    try:
        copied = not fresh and os.path.isfile(path)
        if copied:
            _copy_into(path, scratch)
        with h5py.File(scratch, "r+" if copied else "w", **options) as handle:
            yield handle
        _fsync_path(scratch)
        os.replace(scratch, path)
    except BaseException:
        try:
            os.unlink(scratch)
        except FileNotFoundError:
            pass
        raise
    _fsync_path(directory)


def _half_made(path: str) -> bool:
    """Whether an existing HDF5-looking file is one whose creation was cut short."""
    if os.path.getsize(path) == 0:
        return True
    try:
        with h5py.File(path, "r") as handle:
            return not handle.attrs.keys() and not handle.keys()
    except OSError:
        return True


def check_output(
    path: str, timestep: int | None = None, datasets: Iterable[str] = (), *, tool: str = "archive"
) -> bool:
    """Whether ``path`` is an existing TTS file to update (``False``: absent or half-made).

    A half-made file (empty, or HDF5 that can not be opened, or holding
    nothing) is logged and reported as ``False``: the caller rebuilds it.
    :class:`ArchiveFileError` refuses a file that is not HDF5, an H5LMT or
    other non-TTS layout, time stamps of a step
    other than ``timestep`` (when given), and a dataset of ``datasets``
    whose shape does not match its time stamps or its ``columns``.
    """
    if not os.path.lexists(path):
        return False
    if not os.path.isfile(path):
        raise ArchiveFileError(f"{tool}: {path}: not a regular file: choose another output")
    with open(path, "rb") as handle:
        head = handle.read(len(HDF5_SIGNATURE))
    if head and head != HDF5_SIGNATURE:
        raise ArchiveFileError(f"{tool}: {path}: not an HDF5 file: choose another output")
    if _half_made(path):
        logger.warning("%s: %s was left half-made by an interrupted run; rebuilding it", tool, path)
        return False
    with h5py.File(path, "r") as h5:
        version = h5.attrs.get("version")
        if version is None or "FSStepsGroup" in h5:
            raise ArchiveFileError(
                f"{tool}: {path}: not a TOKIO Time Series file (H5LMT or another layout): "
                "choose another output"
            )
        for name, group in h5.items():
            stamps = group.get("timestamps") if isinstance(group, h5py.Group) else None
            if timestep is None or not isinstance(stamps, h5py.Dataset) or len(stamps) < 2:
                continue
            step = int(stamps[1] - stamps[0])
            if step != timestep:
                raise ArchiveFileError(
                    f"{tool}: {path}: rows of {step} s in /{name}, not {timestep} s: "
                    f"use --timestep {step} or another output"
                )
        for name in datasets:
            _check_dataset(h5, path, "/" + name.strip("/"), tool)
    return True


def _check_dataset(h5: h5py.File, path: str, name: str, tool: str) -> None:
    if name not in h5:
        return
    dataset = h5[name]
    group = name.rsplit("/", 1)[0] or "/"
    stamps = h5.get(f"{group}/timestamps")
    problem = None
    if not isinstance(dataset, h5py.Dataset) or dataset.ndim != 2:
        problem = "is not a 2-D dataset"
    elif isinstance(stamps, h5py.Dataset) and dataset.shape[0] != len(stamps):
        problem = f"has {dataset.shape[0]} rows for {len(stamps)} time stamps"
    elif len(dataset.attrs.get("columns", ())) > dataset.shape[1]:
        problem = f"names more columns than its {dataset.shape[1]}"
    if problem is not None:
        raise ArchiveFileError(f"{tool}: {path}: {name} {problem}: choose another output")
