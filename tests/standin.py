"""A stand-in ``darshan-parser`` that replays the recorded real outputs of the corpus.

Real ``darshan-parser`` cannot be installed from the package registries here, so
tests of the subprocess path put this executable on ``PATH``.  It finds the log
by the SHA-256 of its bytes in ``corpus/darshan/MANIFEST.tsv`` (so copies of
the corpus logs under other names work), and writes the recorded stdout and
stderr of ``darshan-parser --<mode> <log>`` with the recorded exit status.
The code under test cannot tell the difference.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from corpus import DARSHAN, need_corpus

SCRIPT = """#!{python}
import csv, gzip, hashlib, os, sys
corpus = {corpus!r}
tag = {tag!r}
args = sys.argv[1:]
end = args.index("--") if "--" in args else len(args)  # "--" ends the options
flags = [a for a in args[:end] if a.startswith("--")]
files = [a for a in args[:end] if not a.startswith("--")] + args[end + 1 :]
if len(flags) != 1 or len(files) != 1 or flags[0] not in ("--base", "--total", "--perf"):
    sys.stderr.write("stand-in darshan-parser: one of --base/--total/--perf and one log\\n")
    sys.exit(1)
mode = flags[0][2:]
try:
    digest = hashlib.sha256(open(files[0], "rb").read()).hexdigest()
except OSError as error:
    sys.stderr.write("Error: failed to open darshan log file %s: %s\\n" % (files[0], error))
    sys.exit(255)
logs = {{}}
with open(os.path.join(corpus, "MANIFEST.tsv")) as handle:
    for row in csv.DictReader(handle, delimiter="\\t"):
        if row["kind"] == "log":
            logs.setdefault(row["sha256"], row["name"][: -len(".darshan")])
stem = logs.get(digest)
if stem is None:
    sys.stderr.write("Error: invalid log file (failed to read version).\\n")
    sys.exit(255)
base = os.path.join(corpus, "%s%s.%s" % (stem, tag, mode))
rc = 0
if os.path.exists(base + ".stderr.txt"):
    sys.stderr.write(open(base + ".stderr.txt").read())
    rc = 255
if os.path.exists(base + ".txt"):
    data = open(base + ".txt", "rb").read()
else:
    data = gzip.open(base + ".txt.gz").read()
sys.stdout.buffer.write(data)
sys.exit(rc)
"""

TAGS = {"3.5.0": "", "3.4.4": ".v3.4.4", "3.1.8": ".v3.1.8"}


def install_darshan_parser(bin_dir: Path, version: str = "3.5.0") -> Path:
    """Write the stand-in as ``bin_dir/darshan-parser`` and return its path."""
    need_corpus()
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "darshan-parser"
    path.write_text(SCRIPT.format(python=sys.executable, corpus=str(DARSHAN), tag=TAGS[version]))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_with(bin_dir: Path) -> str:
    """``PATH`` with ``bin_dir`` first."""
    return str(bin_dir) + os.pathsep + os.environ.get("PATH", "")
