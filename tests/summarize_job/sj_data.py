"""Test inputs for summarize_job made in code, so a clone without the corpus still tests it.

* :func:`write_tts` writes a small TOKIO Time Series file (schema v1, 10 s
  rows from 2018-01-28 00:00:00 local time) with read/write bytes, OSS and
  MDS CPU load and one metadata operation (``opens``); the other ``mdtargets``
  datasets are absent on purpose.
* :func:`darshan_text` writes ``darshan-parser`` output (``--base`` or
  ``--perf``) for a made-up job, and :func:`install_darshan_parser` a
  stand-in ``darshan-parser`` that prints ``<log>.<mode>.txt`` from beside
  the log it is given.
* :func:`write_jobsdb`, :func:`write_slurm_cache`, :func:`write_nodemap`:
  a NERSC jobs database cache, a Slurm JSON cache and ``xtdb2proc`` output.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import sys
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
from fixtures_common import write_program

T0 = datetime.datetime(2018, 1, 28, 0, 0, 0)
STEP = 10
ROWS = 6

MISSING = -0.0
READBYTES = [[100, 200], [0, 1000], [MISSING, 500], [0, 0], [300, 300], [1, 1]]
WRITEBYTES = [[1, 1], [10, 20], [30, 40], [50, 60], [1, 1], [1, 1]]
OSS_CPU = [[0, 0], [1, 2], [3, 4], [5, 6], [0, 0], [0, 0]]
MDS_CPU = [[0], [7], [8], [9], [0], [0]]
OPENS = [[0], [10], [20], [30], [0], [0]]


def _epoch(when: datetime.datetime) -> int:
    return int(time.mktime(when.timetuple()))


def write_tts(path: Path) -> Path:
    """The small TTS file described in the module docstring."""
    stamps = np.array([_epoch(T0) + STEP * i for i in range(ROWS)], dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        h5.attrs["version"] = "1"
        h5.attrs["start"] = stamps[0]
        h5.attrs["end"] = stamps[-1] + STEP
        layout: dict[str, dict[str, tuple[list, list[str], str]]] = {
            "datatargets": {
                "readbytes": (READBYTES, ["fs-OST0000", "fs-OST0001"], "bytes"),
                "writebytes": (WRITEBYTES, ["fs-OST0000", "fs-OST0001"], "bytes"),
            },
            "dataservers": {"cpuload": (OSS_CPU, ["oss1", "oss2"], "%")},
            "mdservers": {"cpuload": (MDS_CPU, ["mds1"], "%")},
            "mdtargets": {"opens": (OPENS, ["mds1"], "ops")},
        }
        for group_name, datasets in layout.items():
            group = h5.create_group(group_name)
            group.attrs["source"] = "lmt"
            group.create_dataset("timestamps", data=stamps)
            for name, (values, columns, units) in datasets.items():
                data = group.create_dataset(name, data=np.array(values, dtype=np.float64))
                data.attrs["columns"] = np.array([c.encode() for c in columns])
                data.attrs["units"] = units
                data.attrs["version"] = "1"
    return path


#: The made-up Darshan job: (module, rank, counter, value, file name, mount).
#: Its start: 2018-01-28 00:00:10 in America/Los_Angeles (the tests' zone), row 1 of the TTS file.
START_TIME = 1517126410


def darshan_records() -> list[tuple[str, int, str, float | int, str, str]]:
    """Base records of the made-up log (POSIX: two files on /scratch1, one in /home; STDIO)."""
    rows: list[tuple[str, int, str, float | int, str, str]] = []
    posix = {
        ("/scratch1/run/out.dat", -1): {
            "OPENS": 4,
            "READS": 0,
            "WRITES": 40,
            "BYTES_READ": 0,
            "BYTES_WRITTEN": 4000,
            "STATS": 2,
            "SEQ_READS": 0,
            "SEQ_WRITES": 39,
            "FILE_NOT_ALIGNED": 1,
            "MEM_NOT_ALIGNED": 0,
            "F_READ_TIME": 0.0,
            "F_WRITE_TIME": 2.5,
            "F_META_TIME": 0.25,
        },
        ("/scratch1/run/in.dat", 3): {
            "OPENS": 1,
            "READS": 10,
            "WRITES": 0,
            "BYTES_READ": 1000,
            "BYTES_WRITTEN": 0,
            "STATS": -1,
            "SEQ_READS": 9,
            "SEQ_WRITES": 0,
            "FILE_NOT_ALIGNED": 0,
            "MEM_NOT_ALIGNED": 2,
            "F_READ_TIME": 0.5,
            "F_WRITE_TIME": 0.0,
            "F_META_TIME": 0.75,
        },
        ("/home/me/config.ini", 0): {
            "OPENS": 1,
            "READS": 1,
            "WRITES": 0,
            "BYTES_READ": 1500,
            "BYTES_WRITTEN": 0,
            "STATS": 1,
            "SEQ_READS": 1,
            "SEQ_WRITES": 0,
            "FILE_NOT_ALIGNED": 0,
            "MEM_NOT_ALIGNED": 0,
            "F_READ_TIME": 0.125,
            "F_WRITE_TIME": 0.0,
            "F_META_TIME": 0.0,
        },
    }
    for (name, rank), counters in posix.items():
        mount = "/scratch1" if name.startswith("/scratch1") else "/"
        for counter, value in counters.items():
            rows.append(("POSIX", rank, "POSIX_" + counter, value, name, mount))
    for counter, value in (("BYTES_READ", 0), ("BYTES_WRITTEN", 700), ("WRITES", 7)):
        rows.append(("STDIO", 0, "STDIO_" + counter, value, "<STDOUT>", "UNKNOWN"))
    return rows


def _value(value: float | int) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def darshan_text(mode: str, *, jobid: str = "1234", posix: bool = True) -> str:
    """``darshan-parser --<mode>`` output of the made-up log (``posix=False``: STDIO only)."""
    end_time = START_TIME + 20
    lines = [
        "# darshan log version: 3.10",
        "# compression method: ZLIB",
        "# exe: /usr/bin/myapp --flag input",
        "# uid: 1000",
        f"# jobid: {jobid}",
        f"# start_time: {START_TIME}",
        "# start_time_asci: Sun Jan 28 08:00:10 2018",
        f"# end_time: {end_time}",
        "# end_time_asci: Sun Jan 28 08:00:30 2018",
        "# nprocs: 4",
        "# run time: 21.0000",
        "# metadata: lib_ver = 3.1.3",
        "",
        "# log file regions",
        "# -------------------------------------------------------",
        "# header: 360 bytes (uncompressed)",
        "",
        "# mounted file systems (mount point and fs type)",
        "# -------------------------------------------------------",
        "# mount entry:\t/scratch1\tlustre",
        "# mount entry:\t/scratch10\tlustre",
        "# mount entry:\t/\trootfs",
    ]
    records = darshan_records()
    modules = (("POSIX", "POSIX"), ("STDIO", "STDIO")) if posix else (("STDIO", "STDIO"),)
    for banner, prefix in modules:
        lines += [
            "",
            "# *******************************************************",
            f"# {banner} module data",
            "# *******************************************************",
        ]
        if mode == "base":
            lines.append(
                "#<module>\t<rank>\t<record id>\t<counter>\t<value>\t<file name>\t<mount pt>\t<fs type>"
            )
            for module, rank, counter, value, name, mount in records:
                if module != prefix:
                    continue
                fstype = "UNKNOWN" if mount == "UNKNOWN" else "lustre"
                lines.append(
                    f"{module}\t{rank}\t{zlib.crc32(name.encode())}\t{counter}\t{_value(value)}"
                    f"\t{name}\t{mount}\t{fstype}"
                )
        else:
            total = 6500 if prefix == "POSIX" else 700
            lines += [
                "",
                "# performance",
                "# -----------",
                f"# total_bytes: {total}",
                "#",
                "# I/O timing for unique files (seconds):",
                "# ...........................",
                "# unique files: slowest_rank_io_time: 1.500000",
                "# unique files: slowest_rank_meta_only_time: 0.250000",
                "# unique files: slowest_rank_rw_only_time: 1.250000",
                "# unique files: slowest_rank: 3",
                "#",
                "# I/O timing for shared files (seconds):",
                "# ...........................",
                "# shared files: time_by_slowest: 2.750000",
                "#",
                "# Aggregate performance, including both shared and unique files:",
                "# ...........................",
                "# agg_time_by_slowest: 4.250000 # seconds",
                "# agg_perf_by_slowest: 0.001459 # MiB/s",
            ]
    return "\n".join(lines) + "\n"


def write_darshan_log(directory: Path, name: str, **kwargs: object) -> Path:
    """A placeholder log ``name`` with its base/perf outputs beside it, for the stand-in."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / name
    log.write_bytes(b"\x00fake darshan log\x00")
    for mode in ("base", "perf"):
        (directory / f"{name}.{mode}.txt").write_text(darshan_text(mode, **kwargs))  # type: ignore[arg-type]
    return log


STANDIN = """#!{python}
import os, sys
args = sys.argv[1:]
end = args.index("--") if "--" in args else len(args)  # "--" ends the options
flags = [a for a in args[:end] if a.startswith("--")]
files = [a for a in args[:end] if not a.startswith("--")] + args[end + 1 :]
if len(flags) != 1 or len(files) != 1:
    sys.stderr.write("usage: darshan-parser --base|--perf LOG\\n")
    sys.exit(1)
out = "%s.%s.txt" % (files[0], flags[0][2:])
if not os.path.exists(out):
    sys.stderr.write("Error: invalid log file (failed to read version).\\n")
    sys.exit(255)
sys.stdout.write(open(out).read())
"""


def install_darshan_parser(bin_dir: Path) -> Path:
    """Write the stand-in ``darshan-parser`` into ``bin_dir``."""
    return write_program(bin_dir / "darshan-parser", STANDIN.format(python=sys.executable))


#: Jobs DB rows: (stepid, hostname, start, completion, numnodes).
JOBSDB_ROWS = [
    ("1.edison", "edison", START_TIME - 100, START_TIME + 5, 2),  # overlaps 5 s
    ("2.edison", "edison", START_TIME + 10, START_TIME + 1000, 4),  # overlaps 15 s (to end+5)
    ("3.edison", "edison", START_TIME - 500, START_TIME - 1, 8),  # before the window
    ("4.cori", "cori", START_TIME, START_TIME + 20, 16),  # other host
]


def write_jobsdb(path: Path) -> Path:
    """A NERSC jobs database SQLite cache with :data:`JOBSDB_ROWS`."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE summary(stepid primary key, hostname, start integer, "
            "completion integer, numnodes integer)"
        )
        db.executemany("INSERT INTO summary VALUES (?, ?, ?, ?, ?)", JOBSDB_ROWS)
    return path


#: Node positions of the made-up job: nid -> (x, y, z).
NODE_POSITIONS = {1: (0, 0, 0), 2: (4, 0, 0), 3: (0, 3, 0)}


def write_slurm_cache(path: Path, jobid: str = "1234") -> Path:
    """A Slurm JSON cache (as ``cache_slurm -j`` writes) of one job on nid00001-3."""
    nodes = [f"nid{nid:05d}" for nid in NODE_POSITIONS]
    records = {
        f"{jobid}.batch": {
            "jobidraw": f"{jobid}.batch",
            "start": "2018-01-28T00:00:05",
            "end": "2018-01-28T00:00:40",
            "nodelist": nodes[:1],
        },
        jobid: {
            "jobidraw": jobid,
            "start": "2018-01-28T00:00:05",
            "end": "2018-01-28T00:00:40",
            "nodelist": nodes,
        },
    }
    path.write_text(json.dumps(records))
    return path


def write_nodemap(path: Path) -> Path:
    """``xtdb2proc -f -`` output placing the made-up job's nodes (plus one more)."""
    lines = ["#", "# This file lists tables currently in the system database,", "#"]
    for nid, (x, y, z) in {**NODE_POSITIONS, 9: (7, 7, 7)}.items():
        lines.append(
            f"cpu=0,slot=0,cage=0,cabinet=null,x_coord={x},y_coord={y},z_coord={z},"
            f"processor_status='up',processor_type='compute',processor_id={nid}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path
