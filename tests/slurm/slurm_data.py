"""Test data for the Slurm and jobs-database tests, made without the corpus.

:data:`SAMPLE_JOB` reproduces the records of the corpus cache
``inputs/sample.slurm`` (job 4478544 on Edison: the job, ``.batch`` on one
node, ``.extern`` and steps ``.0``-``.7`` on 128 nodes) so that a fresh clone
without the corpus tests the same expectations; a corpus test checks that the
two agree.  :func:`sacct_text` writes records as sacct prints them, node lists
in Cray's ``nid0[5301-5428]`` spelling (independently of atokio's own
compaction).  :func:`install_sacct` writes a stand-in ``sacct`` executable that
answers ``--jobs`` and ``--starttime/--endtime`` queries from a JSON file of
records, logs its argument vectors, and can be told to fail.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import sys
from pathlib import Path

from fixtures_common import write_program

JOBID = "4478544"
NODES = [f"nid{n:05d}" for n in range(5301, 5429)]
BATCH_NODE = "nid05301"

#: (task id, start, end, on the batch node only), in the corpus cache's order.
_STEPS = [
    ("4478544.extern", "2017-03-20T01:59:02", "2017-03-20T02:11:39", False),
    ("4478544.1", "2017-03-20T02:00:10", "2017-03-20T02:02:00", False),
    ("4478544.0", "2017-03-20T01:59:05", "2017-03-20T02:00:10", False),
    ("4478544.3", "2017-03-20T02:03:13", "2017-03-20T02:04:32", False),
    ("4478544.2", "2017-03-20T02:02:01", "2017-03-20T02:03:13", False),
    ("4478544.5", "2017-03-20T02:06:19", "2017-03-20T02:07:40", False),
    ("4478544", "2017-03-20T01:59:02", "2017-03-20T02:11:38", False),
    ("4478544.7", "2017-03-20T02:09:54", "2017-03-20T02:11:34", False),
    ("4478544.4", "2017-03-20T02:04:32", "2017-03-20T02:06:19", False),
    ("4478544.batch", "2017-03-20T01:59:02", "2017-03-20T02:11:38", True),
    ("4478544.6", "2017-03-20T02:07:41", "2017-03-20T02:09:54", False),
]

#: The sample job as raw JSON-cache records (strings and node-name lists).
SAMPLE_JOB: dict[str, dict[str, object]] = {
    task: {
        "jobidraw": task,
        "start": start,
        "end": end,
        "nodelist": [BATCH_NODE] if batch else list(NODES),
    }
    for task, start, end, batch in _STEPS
}

SAMPLE_START = datetime.datetime(2017, 3, 20, 1, 59, 2)
SAMPLE_END = datetime.datetime(2017, 3, 20, 2, 11, 39)

#: Another job, to make the stand-in's database hold more than one.
OTHER_JOB: dict[str, dict[str, object]] = {
    "4487503": {
        "jobidraw": "4487503",
        "start": "2017-03-21T04:02:34",
        "end": "2017-03-21T04:10:01",
        "nodelist": ["nid00010", "nid00011", "nid00012", "nid00020"],
    },
    "4487503.batch": {
        "jobidraw": "4487503.batch",
        "start": "2017-03-21T04:02:34",
        "end": "2017-03-21T04:10:01",
        "nodelist": ["nid00010"],
    },
    "4487503.0": {
        "jobidraw": "4487503.0",
        "start": "2017-03-21T04:02:40",
        "end": "Unknown",
        "nodelist": ["nid00010", "nid00011", "nid00012", "nid00020"],
    },
}

#: sacct's spelling of the fields the tests ask for.
SACCT_NAMES = {
    "jobidraw": "JobIDRaw",
    "start": "Start",
    "end": "End",
    "nodelist": "NodeList",
    "jobname": "JobName",
    "state": "State",
}


def cray_nodelist(names: list[str]) -> str:
    """``nid0[5301-5428]``-style compaction of ``nidNNNNN`` names (Cray systems' spelling)."""
    if not names:
        return "None assigned"
    numbers = sorted(int(name[3:]) for name in names)
    if len(numbers) == 1:
        return f"nid{numbers[0]:05d}"
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    parts = [f"{a:04d}" if a == b else f"{a:04d}-{b:04d}" for a, b in runs]
    return "nid0[" + ",".join(parts) + "]"


def sacct_text(
    records: dict[str, dict[str, object]],
    fields: tuple[str, ...] = ("jobidraw", "start", "end", "nodelist"),
    parsable2: bool = True,
) -> str:
    """Records as ``sacct --parsable2`` (or ``--parsable``, trailing ``|``) prints them."""
    end = "" if parsable2 else "|"
    lines = ["|".join(SACCT_NAMES.get(f, f.capitalize()) for f in fields) + end]
    for record in records.values():
        cells = []
        for field in fields:
            value = record.get(field, "")
            if field == "nodelist":
                value = cray_nodelist(list(value))  # type: ignore[arg-type]
            cells.append(str(value))
        lines.append("|".join(cells) + end)
    return "\n".join(lines) + "\n"


STANDIN = r'''#!{python}
"""Stand-in sacct: answers from a JSON file of job records."""
import json, os, sys
sys.path[:0] = [{here!r}, {tests!r}]
from slurm_data import sacct_text

db_path = {db!r}
log_path = {log!r}
argv = sys.argv[1:]
with open(log_path, "a") as log:
    log.write(json.dumps(argv) + "\n")
if os.environ.get("STANDIN_SACCT_FAIL"):
    sys.stderr.write("sacct: error: " + os.environ["STANDIN_SACCT_FAIL"] + "\n")
    sys.exit(1)
opts = {{}}
flags = set()
i = 0
while i < len(argv):
    arg = argv[i]
    if arg.startswith("--") and "=" in arg:
        key, value = arg[2:].split("=", 1)
        opts[key] = value
    elif arg in ("--jobs", "--format", "--starttime", "--endtime", "--state"):
        opts[arg[2:]] = argv[i + 1]
        i += 1
    else:
        flags.add(arg)
    i += 1
with open(db_path) as handle:
    jobs = json.load(handle)
fields = tuple(f.strip().lower() for f in opts.get("format", "jobidraw,start,end").split(","))
if "jobs" in opts:
    wanted = set(opts["jobs"].split(","))
    chosen = {{k: v for k, v in jobs.items() if k.split(".")[0] in wanted}}
else:
    t0, t1 = opts["starttime"], opts["endtime"]
    chosen = {{k: v for k, v in jobs.items()
               if (v["end"] == "Unknown" or v["end"] >= t0) and v["start"] <= t1}}
text = sacct_text(chosen, fields, parsable2=("--parsable2" in flags or "-P" in flags))
if os.environ.get("STANDIN_SACCT_GARBLE"):
    text += "4478544.9|2017-03-20T02:00:00\n"
sys.stdout.write(text)
'''


def install_sacct(bin_dir: Path, jobs: dict[str, dict[str, object]]) -> Path:
    """Write a stand-in ``sacct`` into ``bin_dir`` answering from ``jobs``; return its call log."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    db = bin_dir / "jobs.json"
    db.write_text(json.dumps(jobs))
    log = bin_dir / "sacct-calls.log"
    log.write_text("")
    write_program(
        bin_dir / "sacct",
        STANDIN.format(
            python=sys.executable,
            here=str(Path(__file__).parent),
            tests=str(Path(__file__).parents[1]),
            db=str(db),
            log=str(log),
        ),
    )
    return log


def sacct_calls(log: Path) -> list[list[str]]:
    """The argument vectors the stand-in was run with."""
    return [json.loads(line) for line in log.read_text().splitlines() if line]


#: Rows of a small generated jobs database:
#: (stepid, hostname, start, completion, numnodes).
JOBSDB_ROWS = [
    ("100.edison", "edison", 1000, 2000, 2),  # overlaps [1500, 3000) for 500 s
    ("101.edison", "edison", 1600, 1700, 10),  # inside: 100 s
    ("102.edison", "edison", 2500, 4000, 4),  # overlaps 500 s
    ("103.edison", "edison", 100, 1500, 8),  # ends at the window start: excluded
    ("104.edison", "edison", 3000, 3500, 1),  # starts at the window end: excluded
    ("105.cori", "cori", 1000, 5000, 100),  # other host
    ("106.edison", "edison", 1000, 5000, 3),  # spans the window: 1500 s
    ("106.edison-2", "edison", 1000, 5100, 3),  # a second row for job 106
]
#: get_concurrent_jobs(1500, 3000, "edison") on :data:`JOBSDB_ROWS`.
JOBSDB_CONCURRENT = {
    "nodehrs": (2 * 500 + 10 * 100 + 4 * 500 + 3 * 1500 + 3 * 1500) / 3600.0,
    "numnodes": 2 + 10 + 4 + 3 + 3,
    "numjobs": 5,
}


def make_jobsdb(path: Path, rows: list[tuple] = JOBSDB_ROWS) -> Path:
    """An SQLite jobs database in the corpus layout holding ``rows``."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE summary(stepid primary key, hostname, start integer, "
            "completion integer, numnodes integer)"
        )
        db.executemany("INSERT INTO summary VALUES (?, ?, ?, ?, ?)", rows)
    db.close()
    return path
