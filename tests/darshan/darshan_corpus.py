"""Test helpers: the shared Darshan corpus, the darshan package's own logs, a stand-in darshan-parser.

The corpus lives beside the repository (``<root>/shared/corpus``); tests that
need it skip with the reason when it is absent.  The ``darshan`` package
installs a few logs of its own (some are the corpus logs byte for byte), so
a fresh clone still tests the reader and the index with them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
DARSHAN = CORPUS / "darshan"
INPUTS = CORPUS / "inputs"

#: The six real logs of the corpus.
REAL_LOGS = ("sample", "sample-2", "sample-badost", "sample-goodost", "noposix", "noposixopens")
#: The five small ones (sample-badost gives 27 MB of --base text).
SMALL_LOGS = ("sample", "sample-2", "sample-goodost", "noposix", "noposixopens")
#: The two 0-byte placeholder logs of the corpus.
EMPTY_LOGS = (
    "glock_dbscan_read_id4487503_3-21-14554-2400062619352127555_1",
    "glock_vpicio_uni_id4487503_3-21-14391-1931100114561819213_1",
)


def need_corpus() -> Path:
    """The corpus folder, or skip the calling test with the reason."""
    if not DARSHAN.is_dir():
        pytest.skip(f"shared Darshan corpus not found at {CORPUS} (it sits beside the repository)")
    return CORPUS


def corpus_log(name: str) -> Path:
    """Path of ``<name>.darshan`` in the corpus (skips without the corpus)."""
    need_corpus()
    return DARSHAN / f"{name}.darshan"


def darshan_text(log: str, mode: str) -> bytes:
    """The recorded darshan-parser 3.5.0 output of ``log`` (gunzipped if stored compressed)."""
    need_corpus()
    path = DARSHAN / f"{log}.{mode}.txt"
    if path.exists():
        return path.read_bytes()
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes())


def package_logs() -> dict[str, Path]:
    """Logs installed with the ``darshan`` package, by stem (no network needed)."""
    import importlib.util

    spec = importlib.util.find_spec("darshan")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the darshan package is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    found: dict[str, Path] = {}
    for folder in (root / "tests" / "input", root / "examples" / "example_logs"):
        for path in sorted(folder.glob("*.darshan")):
            found.setdefault(path.stem, path)
    return found


# -- an independent reading of darshan-parser --base text -------------------------

SUMMED = (
    "bytes_read", "bytes_written", "reads", "writes", "file_not_aligned", "consec_reads",
    "consec_writes", "mmaps", "opens", "seeks", "stats", "fdsyncs", "fsyncs", "flushes",
    "seq_reads", "seq_writes", "rw_switches",
)  # fmt: skip
STARTS = ("f_open_start_timestamp", "f_read_start_timestamp", "f_write_start_timestamp", "f_close_start_timestamp")  # fmt: skip
ENDS = ("f_open_end_timestamp", "f_read_end_timestamp", "f_write_end_timestamp", "f_close_end_timestamp")  # fmt: skip
ACTIVE = ("bytes_read", "bytes_written", "reads", "writes", "opens", "stats")


def expected_index(log: str, log_name: str | None = None) -> dict[str, Any]:
    """The index rows of a corpus log, worked out from its 3.5.0 ``--base`` text.

    Plain code, sharing nothing with atokio: the header lines, the mount
    table and the POSIX/STDIO lines, summed per longest mount prefix
    (FORMATS.md section 1.6).  Returns ``{"header": {...}, "rows": {mount: {...}}}``.
    """
    header: dict[str, Any] = {}
    mounts: list[str] = []
    records: dict[tuple[str, str, str], dict[str, str]] = {}
    names: dict[tuple[str, str, str], str] = {}
    in_header = True
    for line in darshan_text(log, "base").decode().split("\n"):
        if not line:
            in_header = False  # the job header ends at the first blank line
        elif in_header:
            key, _, value = line[2:].partition(": ")
            header.setdefault(key, value)
        elif line.startswith("# mount entry:\t"):
            mounts.append(line.split("\t")[1])
        elif not line.startswith("#"):
            fields = line.split("\t")
            if fields[0] not in ("POSIX", "STDIO"):
                continue
            key3 = (fields[0], fields[1], fields[2])
            records.setdefault(key3, {})[fields[3]] = fields[4]
            names[key3] = fields[5]
    rows: dict[str, dict[str, Any]] = {}
    for record, counters in records.items():
        module = record[0]
        name = names[record]
        mount = "UNKNOWN"
        if "/" in name and not name.startswith("<"):
            candidates = [m for m in mounts if name.startswith(m)]
            if candidates:
                mount = max(candidates, key=len)
        row = rows.setdefault(
            mount,
            {**dict.fromkeys(SUMMED, 0), "posix_files": 0, "stdio_files": 0,
             **dict.fromkeys(STARTS + ENDS)},
        )  # fmt: skip
        row[f"{module.lower()}_files"] += 1
        for column in SUMMED:
            text = counters.get(f"{module}_{column.upper()}")
            if text is not None:
                row[column] += int(text)
        for column in STARTS + ENDS:
            text = counters.get(f"{module}_{column.upper()}")
            if text is None:
                continue
            stamp = float(text)
            if row[column] is None:
                row[column] = stamp
            elif column in STARTS:
                row[column] = min(row[column], stamp)
            else:
                row[column] = max(row[column], stamp)
    rows = {m: r for m, r in rows.items() if sum(r[c] for c in ACTIVE) != 0}
    exe = header["exe"].split()
    head = {
        "filename": log_name or f"{log}.darshan",
        "end_time": int(header["end_time"]),
        "exe": exe[0],
        "exename": exe[0].rsplit("/", 1)[-1],
        "jobid": header["jobid"],
        "nprocs": int(header["nprocs"]),
        "start_time": int(header["start_time"]),
        "uid": int(header["uid"]),
        "version": header["darshan log version"],
        "walltime": int(float(header["run time"])),
    }
    return {"header": head, "rows": rows}


# -- a stand-in darshan-parser ------------------------------------------------------

STANDIN = """#!{python}
# Stand-in darshan-parser: replays the recorded darshan-parser 3.5.0 run of a corpus log.
import csv, gzip, hashlib, os, sys
corpus = {corpus!r}
args = sys.argv[1:]
end = args.index("--") if "--" in args else len(args)  # "--" ends the options
flags = [a for a in args[:end] if a.startswith("-")]
files = [a for a in args[:end] if not a.startswith("-")] + args[end + 1 :]
if len(flags) != 1 or flags[0] not in ("--base", "--total", "--perf") or len(files) != 1:
    sys.stderr.write("usage: darshan-parser [--base|--total|--perf] <filename>\\n")
    sys.exit(1)
mode = flags[0][2:]
try:
    with open(files[0], "rb") as handle:
        data = handle.read()
except OSError:
    data = b""
if data.startswith(b"KILL THE INDEXER") and os.environ.get("STANDIN_KILL_PIDFILE"):
    # a test's way of killing the indexing process mid-run (see test_darshan_index.py)
    # (after the indexer has committed STANDIN_KILL_AFTER logs to STANDIN_KILL_DB)
    import signal, sqlite3, time
    wanted = int(os.environ.get("STANDIN_KILL_AFTER", "0"))
    deadline = time.monotonic() + 30
    while wanted and time.monotonic() < deadline:
        try:
            conn = sqlite3.connect(os.environ["STANDIN_KILL_DB"], timeout=1)
            done = conn.execute("SELECT COUNT(DISTINCT log_id) FROM summaries").fetchone()[0]
            conn.close()
        except sqlite3.Error:
            done = 0
        if done >= wanted:
            break
        time.sleep(0.02)
    with open(os.environ["STANDIN_KILL_PIDFILE"]) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    sys.exit(255)
digest = hashlib.sha256(data).hexdigest()
stem = None
with open(os.path.join(corpus, "MANIFEST.tsv")) as handle:
    for row in csv.DictReader(handle, delimiter="\\t"):
        if row["kind"] == "log" and row["sha256"] == digest:
            stem = row["name"][: -len(".darshan")]
            break
if stem is None:  # not a corpus log: what darshan-parser says of a file it cannot read
    sys.stderr.write("Error: invalid log file (failed to read version).\\n")
    sys.exit(255)
name = "%s.%s.txt" % (stem, mode)
with open(os.path.join(corpus, "MANIFEST.tsv")) as handle:
    rows = {{r["name"]: r for r in csv.DictReader(handle, delimiter="\\t")}}
stdout = rows[name]
stderr = rows.get("%s.%s.stderr.txt" % (stem, mode))
path = os.path.join(corpus, stdout["stored_name"])
data = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
sys.stdout.buffer.write(data)
sys.stdout.flush()
if stderr is not None:
    sys.stderr.write(open(os.path.join(corpus, stderr["stored_name"])).read())
sys.exit(int(stdout["rc"]))
"""


def install_darshan_parser(bin_dir: Path) -> Path:
    """Write the stand-in ``darshan-parser`` into ``bin_dir`` and return its path."""
    need_corpus()
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "darshan-parser"
    path.write_text(STANDIN.format(python=sys.executable, corpus=str(DARSHAN)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def manifest() -> dict[str, dict[str, str]]:
    """``MANIFEST.tsv`` rows by uncompressed name."""
    with open(need_corpus() / "darshan" / "MANIFEST.tsv") as handle:
        return {row["name"]: row for row in csv.DictReader(handle, delimiter="\t")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def path_with(bin_dir: Path) -> str:
    """``PATH`` with ``bin_dir`` first."""
    return str(bin_dir) + os.pathsep + os.environ.get("PATH", "")
