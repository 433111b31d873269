"""What the Lustre ``lfs df`` / ``lctl dl -t`` parsers share (docs/formats.md#lustre-lfs-df-and-lctl-dl).

The parsers live in one module per format:

* :mod:`atokio.parsers.lfs_df` -- one ``lfs df`` output (:class:`~atokio.parsers.lfs_df.LfsDfParser`);
* :mod:`atokio.parsers.lfs_lctl` -- one ``lctl dl -t`` output
  (:class:`~atokio.parsers.lfs_lctl.LctlDlParser`);
* :mod:`atokio.parsers.lfs_nersc` -- NERSC's cron-made concatenations of many
  such outputs, each preceded by a ``BEGIN <epoch>`` line
  (:class:`~atokio.parsers.lfs_nersc.NerscFullnessParser`,
  :class:`~atokio.parsers.lfs_nersc.NerscOstMapParser`).

A record of a single output is a ``(file_system, target, fields)`` triple
(:data:`Target`), in input order; a block of a concatenation nests them as
``{file_system: {target: fields}}`` (:func:`nest_targets`).  Rules common to
both formats:

* Any ``<fsname>-<target>_UUID`` is accepted, not only Cray's ``snx<digits>``
  names; likewise any ``<fsname>-<target>-<type>-<instance>`` device name.
* A target seen twice in one output (a file system mounted twice) keeps the
  later fields, at the position of its first appearance.
* A number too large to convert (Python's limit on the digits of an ``int``)
  is a :class:`ParseError` naming the line, like any other malformed line.
"""

from __future__ import annotations

from itertools import compress
from operator import ne
from typing import Any

import numpy

from atokio.parsers.base import EXCERPT_CHARS, ParseError

__all__ = ["Columns", "Target", "all_digits", "digit_ints", "located_error", "nest_targets"]

#: ``(file_system, target, fields)``
Target = tuple[str, str, dict[str, Any]]
#: ``(file_systems, targets, fields)``: three parallel columns of a batch of lines.
Columns = tuple[list[str], list[str], list[dict[str, Any]]]


def located_error(source: str, line_number: int, message: str, text: str) -> ParseError:
    """A :class:`ParseError` at ``source:line_number`` quoting (the start of) ``text``."""
    return ParseError(
        message, source=source, line_number=line_number, text=text[: EXCERPT_CHARS * 2]
    )


def digit_ints(tokens: list[str]) -> list[int]:
    """Decimal digit strings (already validated) as Python ints, converted in one numpy call."""
    if len(tokens) < 16:
        return list(map(int, tokens))
    joined = " ".join(tokens)
    return numpy.fromstring(joined, dtype=numpy.int64, sep=" ").tolist()


def all_digits(tokens: list[str]) -> bool:
    """Every token is ASCII digits, short enough for an int64."""
    joined = "".join(tokens)
    return joined.isdigit() and joined.isascii() and max(map(len, tokens)) <= 18


def nest_targets(
    file_systems: list[str], targets: list[str], fields: list[dict[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{file_system: {target: fields}}`` from three parallel columns (later duplicates win)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    count = len(file_systems)
    if not count:
        return out
    starts = [0, *compress(range(1, count), map(ne, file_systems, file_systems[1:])), count]
    for begin, end in zip(starts, starts[1:], strict=False):
        name = file_systems[begin]
        known = out.get(name)
        if known is None:
            out[name] = dict(zip(targets[begin:end], fields[begin:end], strict=True))
        else:
            known.update(zip(targets[begin:end], fields[begin:end], strict=True))
    return out
