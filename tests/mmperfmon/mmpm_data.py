"""Small mmperfmon outputs made in code (so the tests run without the corpus), and corpus paths."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import INPUTS

Cell = str


def render(
    legend: Sequence[str],
    stamps: Sequence[str],
    blocks: Sequence[Sequence[Sequence[Cell]]],
    headers: Sequence[Sequence[str]],
    *,
    tab: bool = True,
) -> str:
    """An ``mmperfmon query`` output: a legend, then one table block per ``blocks`` item.

    ``blocks[b][r]`` are the value cells of row ``r`` in block ``b``; ``headers[b]``
    the header words of that block's value columns.  Columns are right-aligned
    under their header words and every line ends with a space, as mmperfmon
    prints them.
    """
    sep = "\t" if tab else " "
    lines = ["", "Legend:"]
    lines += [f"{n:2d}:{sep}{entry}" for n, entry in enumerate(legend, start=1)]
    for header, rows in zip(headers, blocks, strict=True):
        lines.append(" ")
        widths = [max(len(word), *(len(row[k]) for row in rows)) for k, word in enumerate(header)]
        row_width = max(3, len(str(len(rows))))
        stamp_width = max(len("Timestamp"), *(len(s) for s in stamps))
        head = "Row".ljust(row_width) + " " + "Timestamp".rjust(stamp_width)
        head += "".join(" " + word.rjust(w) for word, w in zip(header, widths, strict=True))
        lines.append(head + " ")
        for number, (stamp, row) in enumerate(zip(stamps, rows, strict=True), start=1):
            text = str(number).rjust(row_width) + " " + stamp.rjust(stamp_width)
            text += "".join(" " + cell.rjust(w) for cell, w in zip(row, widths, strict=True))
            lines.append(text + " ")
    return "\n".join(lines) + "\n"


STAMPS = ["2019-01-11-10:01:00", "2019-01-11-10:02:00", "2019-01-11-10:03:00"]

#: A usage-like output: units, an instance, a null.
USAGE = render(
    [
        "node1.example.org|CPU|cpu_user",
        "node1.example.org|Memory|mem_total",
        "node1.example.org|Network|lo|net_r",
    ],
    STAMPS,
    [[["0.2", "31371.0 MB", "1.7 kB"], ["0", "31371.0 MB", "null"], ["1e1", "1 MB", "2 kB"]]],
    [["cpu_user", "mem_total", "net_r"]],
)

#: A wrapped output: five LUN counters in two blocks, instance ids with "|".
WRAPPED = render(
    [
        "node2.example.org|GPFSNSDDisk|ddn1dt00|gpfs_nsdds_bytes_read",
        "node2.example.org|GPFSNSDDisk|ddn1dt01|gpfs_nsdds_bytes_read",
        "node2.example.org|GPFSNSDDisk|na1md00|gpfs_nsdds_bytes_read",
        "node2.example.org|GPFSFilesystem|fs.example.org|tl1|gpfs_fs_read_ops",
        "node2.example.org|GPFSNSDDisk|ddn1dt00|gpfs_nsdds_bytes_written",
    ],
    STAMPS,
    [
        [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]],
        [["10", "11"], ["12", "13"], ["14", "15"]],
    ],
    [
        ["gpfs_nsdds_bytes_read"] * 3,
        ["gpfs_fs_read_ops", "gpfs_nsdds_bytes_written"],
    ],
    tab=False,
)

CORPUS_FILES = {
    "usage": INPUTS / "mmperfmon-usage.txt.gz",
    "nsdds": INPUTS / "mmperfmon-nsdds.txt.gz",
    "ops": INPUTS / "mmperfmon-gpfsNumberOperations.txt.gz",
    "bundle": INPUTS / "mmperfmon.tgz",
    "micro": INPUTS / "mmperfmon.2019-05-15-micro.tgz",
    "mini": INPUTS / "mmperfmon.2019-05-15-mini.tgz",
    "empty": INPUTS / "mmperfmon.2019-05-16-mini.tgz",
}


def corpus_file(name: str) -> Path:
    """A corpus mmperfmon input, or skip the calling test with the reason."""
    path = CORPUS_FILES[name]
    if not path.exists():
        pytest.skip(
            f"mmperfmon corpus file not found: {path} (the corpus lives beside the repository)"
        )
    return path
