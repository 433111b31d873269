"""Correlate per-file Darshan performance with the Lustre OSTs files were striped over.

``darshan_bad_ost`` (docs/cli.md#darshan_bad_ost): for every file with both POSIX and
Lustre records, the performance is the bytes read and written over all ranks
divided by the longest per-rank time spent in reads, writes and metadata; each
file spreads a weight of 1/n over its n OSTs, and the Pearson correlation of
performance with each OST's column is computed.  A strongly negative
coefficient with a small p-value points at a slow OST.

Lustre counters are read under both layouts: ``OST_ID_<n>`` (darshan-util up to
3.4.5) and ``COMP<k>_OST_ID_<n>`` (3.4.6 and later).  Files whose I/O time is
zero have no performance estimate and are left out (the reference fails on
them).  Logs without POSIX or Lustre data are skipped with a warning.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from atokio.cli._common import add_common_arguments, run_main, setup_logging

__all__ = [
    "correlate_ost_performance",
    "darshanlogs_to_ost_dataframe",
    "estimate_darshan_perf",
    "main",
    "pearson",
    "summarize_darshan_perf",
]

logger = logging.getLogger(__name__)

_OST_ID = re.compile(r"^(?:COMP\d+_)?OST_ID_\d+$")


def estimate_darshan_perf(ranks_data: Mapping[str, Mapping[str, Any]]) -> float:
    """Bytes/s of one file: sum of bytes over ranks / the longest per-rank I/O time.

    ``ranks_data`` maps rank (``"-1"`` for a shared record) to POSIX counters.
    Raises ``ZeroDivisionError`` when no rank spent any time in I/O.
    """
    total_bytes = 0
    max_time = 0.0
    for counters in ranks_data.values():
        total_bytes += counters.get("BYTES_READ", 0) + counters.get("BYTES_WRITTEN", 0)
        io_time = (
            counters.get("F_READ_TIME", 0.0)
            + counters.get("F_WRITE_TIME", 0.0)
            + counters.get("F_META_TIME", 0.0)
        )
        max_time = max(max_time, io_time)
    return total_bytes / max_time


def _ost_ids(lustre_ranks: Mapping[str, Mapping[str, Any]]) -> set[int]:
    osts: set[int] = set()
    for counters in lustre_ranks.values():
        for name, value in counters.items():
            if _OST_ID.match(name) and isinstance(value, int) and value >= 0:
                osts.add(value)
    return osts


def summarize_darshan_perf(
    darshan_logs: Iterable[str], silent_errors: bool = False
) -> dict[str, dict[str, Any]]:
    """Per-file performance and OSTs: ``{"<log>@<file>": {"performance": B/s, "ost_list": [ids]}}``.

    A key seen twice keeps the higher performance and the union of the OSTs.
    A log that cannot be read raises ``DarshanLogError`` naming it; with
    ``silent_errors`` it is skipped.
    """
    from atokio.pipelines.darshan_logs import cache_darshan

    results: dict[str, dict[str, Any]] = {}
    for log_path in darshan_logs:
        log = cache_darshan(log_path, modules=["posix", "lustre"], silent_errors=silent_errors)
        counters = log.get("counters", {})
        posix, lustre = counters.get("posix"), counters.get("lustre")
        if not posix or not lustre:
            logger.warning("%s has no POSIX or no Lustre data; skipped", log_path)
            continue
        for file_name, ranks in posix.items():
            if file_name.startswith("_") or file_name not in lustre:
                continue
            try:
                performance = estimate_darshan_perf(ranks)
            except ZeroDivisionError:
                logger.debug("%s@%s: no I/O time, no performance estimate", log_path, file_name)
                continue
            osts = _ost_ids(lustre[file_name])
            if not osts:
                continue
            key = f"{log_path}@{file_name}"
            if key in results:
                old = results[key]
                old["performance"] = max(old["performance"], performance)
                old["ost_list"] = sorted(set(old["ost_list"]) | osts)
            else:
                results[key] = {"performance": performance, "ost_list": sorted(osts)}
    return results


def _ost_table(summary: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[int], Any, Any]:
    """Files, OSTs, weights (files x OSTs: 1/n on each of a file's n OSTs) and performances."""
    import numpy

    keys = list(summary)
    all_osts = sorted({ost for item in summary.values() for ost in item["ost_list"]})
    column = {ost: index for index, ost in enumerate(all_osts)}
    weights = numpy.zeros((len(keys), len(all_osts)))
    performance = numpy.zeros(len(keys))
    for row, key in enumerate(keys):
        item = summary[key]
        for ost in item["ost_list"]:
            weights[row, column[ost]] = 1.0 / len(item["ost_list"])
        performance[row] = item["performance"]
    return keys, all_osts, weights, performance


def darshanlogs_to_ost_dataframe(darshan_logs: Iterable[str], silent_errors: bool = False) -> Any:
    """DataFrame, one row per file: ``performance`` and one ``OST#<n>`` column per OST.

    An OST column holds the fraction of the file probably striped there
    (1/n for each of its n OSTs, 0 elsewhere).
    """
    import pandas

    keys, osts, weights, performance = _ost_table(
        summarize_darshan_perf(darshan_logs, silent_errors)
    )
    columns = ["performance"] + [f"OST#{ost}" for ost in osts]
    frame = pandas.DataFrame(weights, index=keys, columns=columns[1:])
    frame.insert(0, "performance", performance)
    return frame


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1.

    Evaluated with its continued fraction (modified Lentz method), on the side
    of ``x`` where the fraction converges fast (I_x(a, b) = 1 - I_{1-x}(b, a)).
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-16:
            break
    return math.exp(log_front) * fraction / a


def pearson(x: Sequence[float] | Any, y: Sequence[float] | Any) -> tuple[float, float]:
    """Pearson's correlation coefficient of ``x`` and ``y`` and its two-sided p-value.

    The p-value is the probability, for uncorrelated normal samples of the
    same size, of a coefficient at least this far from 0: with ``n`` pairs and
    coefficient ``r`` it is I_{1-r^2}((n-2)/2, 1/2).  Two pairs always give
    p = 1.  ``ValueError`` for fewer than two pairs, lengths that differ, or a
    constant input (whose coefficient is undefined).
    """
    import numpy

    xs = numpy.asarray(x, dtype=numpy.float64)
    ys = numpy.asarray(y, dtype=numpy.float64)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(
            f"pearson needs two 1-d inputs of one length, not {xs.shape} and {ys.shape}"
        )
    n = len(xs)
    if n < 2:
        raise ValueError(f"pearson needs at least 2 pairs of values, not {n}")
    dx, dy = xs - xs.mean(), ys - ys.mean()
    norm_x, norm_y = float(numpy.linalg.norm(dx)), float(numpy.linalg.norm(dy))
    if norm_x == 0.0 or norm_y == 0.0:
        raise ValueError("pearson: an input is constant; its correlation is undefined")
    r = float(numpy.dot(dx / norm_x, dy / norm_y))
    r = max(-1.0, min(1.0, r))
    if n == 2:
        return r, 1.0
    return r, _betainc((n - 2) / 2.0, 0.5, 1.0 - r * r)


def correlate_ost_performance(
    darshan_logs: Iterable[str], silent_errors: bool = False
) -> list[dict[str, Any]]:
    """Pearson correlation of per-file performance with every OST column.

    Returns ``[{"ost_name": "OST#<n>", "coefficient": r, "p-value": p}, ...]``
    sorted by coefficient, ascending; empty when all files performed the same.
    Unreadable logs raise unless ``silent_errors`` (:func:`summarize_darshan_perf`).
    """
    import numpy

    _, osts, weights, performance = _ost_table(summarize_darshan_perf(darshan_logs, silent_errors))
    if len(performance) == 0 or len(numpy.unique(performance)) < 2:
        return []
    results: list[dict[str, Any]] = []
    for index, ost in enumerate(osts):
        column = weights[:, index]
        if len(numpy.unique(column)) < 2:
            continue
        coefficient, p_value = pearson(column, performance)
        results.append({"ost_name": f"OST#{ost}", "coefficient": coefficient, "p-value": p_value})
    results.sort(key=lambda item: item["coefficient"])
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darshan_bad_ost",
        description="Find Lustre OSTs whose use correlates with low (or high) per-file I/O performance.",
    )
    parser.add_argument(
        "darshanlogs",
        nargs="*",
        default=None,
        type=str,
        help="Darshan logs with Lustre data (more logs, more observations)",
    )
    parser.add_argument(
        "-p",
        "--p-threshold",
        type=float,
        default=0.05,
        help="show only correlations with p-value below this (default 0.05)",
    )
    parser.add_argument(
        "-c",
        "--c-threshold",
        type=float,
        default=0.0,
        help="show only correlations with |coefficient| above this (default 0.0)",
    )
    parser.add_argument(
        "-C",
        "--c-warning",
        type=float,
        default=0.5,
        help="flag OSTs with |coefficient| above this (default 0.5)",
    )
    parser.add_argument("-j", "--json", action="store_true", help="print JSON instead of a table")
    add_common_arguments(parser, silent_errors=True)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    results = [
        row
        for row in correlate_ost_performance(args.darshanlogs or [], args.silent_errors)
        if row["p-value"] < args.p_threshold and abs(row["coefficient"]) > args.c_threshold
    ]
    if args.json:
        print(json.dumps(results, indent=4, sort_keys=True))
        return 0
    print("%-10s %12s %10s" % ("OST Name", "Correlation", "P-Value"))
    for row in results:
        line = "%-10s %12.3f %10.4g" % (row["ost_name"], row["coefficient"], row["p-value"])
        if abs(row["coefficient"]) > args.c_warning:
            if row["coefficient"] < 0:
                line += " <-- this OST looks unhealthy"
            else:
                line += " <-- this OST is running unusually quickly"
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
