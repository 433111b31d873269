"""Helpers of the pytokio drop-in tests: stand-in commands that print a fixed text."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SCRIPT = """#!{python}
import sys
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv) + "\\n")
sys.stdout.write({text!r})
sys.exit({status})
"""


@pytest.fixture
def standin(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """``standin(name, text, status=0)`` -> (executable, call log): prints ``text``, logs argv."""

    def make(name: str, text: str, status: int = 0) -> tuple[Path, Path]:
        folder = tmp_path / "bin"
        folder.mkdir(exist_ok=True)
        log = tmp_path / f"{name}.calls"
        path = folder / name
        path.write_text(
            SCRIPT.format(python=sys.executable, log=str(log), text=text, status=status)
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path, log

    return make


def calls(log: Path) -> list[list[str]]:
    """The argument vectors a stand-in was run with (argv[0] as a basename)."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        argv = line.split(" ")
        out.append([os.path.basename(argv[0]), *argv[1:]])
    return out
