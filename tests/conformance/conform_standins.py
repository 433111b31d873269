"""Stand-in commands for the pytokio drop-in tests: they print a fixed text and log their argv."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

SCRIPT = """#!{python}
import sys
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv) + "\\n")
sys.stdout.write({text!r})
sys.exit({status})
"""


def make_standin(folder: Path, name: str, text: str, status: int = 0) -> tuple[Path, Path]:
    """An executable ``folder/bin/name`` printing ``text``; returns (executable, call log)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = folder / f"{name}.calls"
    path = bin_dir / name
    path.write_text(SCRIPT.format(python=sys.executable, log=str(log), text=text, status=status))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path, log


def calls(log: Path) -> list[list[str]]:
    """The argument vectors a stand-in was run with (argv[0] as a basename)."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        argv = line.split(" ")
        out.append([os.path.basename(argv[0]), *argv[1:]])
    return out
