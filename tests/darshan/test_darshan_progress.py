"""Progress bars of summarize_darshanlogs and find_darshanlogs --load: on a terminal only.

The tools run as real programs with their stderr on a pseudo-terminal (a bar
is drawn) or on a pipe (nothing but warnings).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

from darshan_corpus import package_logs


def run_on_terminal(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pseudo-terminal; (status, stdout, what the terminal showed)."""
    master, slave = os.openpty()
    # a terminal 24 rows by 100 columns (a new pseudo-terminal has no size)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = dict(os.environ, PYTOKIO_SKIP_CONFIG="1")
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=120), out, shown.decode(errors="replace")


def tool(name: str) -> list[str]:
    return [sys.executable, "-m", "atokio", name]


def test_summarize_darshanlogs_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    logs = package_logs()
    paths = [str(logs["sample-goodost"]), str(logs["sample-badost"])]
    status, out, shown = run_on_terminal([*tool("summarize-darshanlogs"), *paths], tmp_path)
    assert status == 0, shown
    assert sorted(json.loads(out)) == sorted(paths)
    assert "summarize:" in shown and "log/s" in shown  # a bar, with or without a total

    piped = subprocess.run(
        [*tool("summarize-darshanlogs"), *paths],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTOKIO_SKIP_CONFIG="1"),
        check=True,
    )
    assert "summarize:" not in piped.stderr and "\r" not in piped.stderr


def test_find_darshanlogs_load_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    logs = package_logs()
    day = tmp_path / "logs" / "2017" / "3" / "20"
    day.mkdir(parents=True)
    for number, stem in enumerate(("sample-goodost", "sample-badost")):
        name = f"glock_app{number}_id4478544_3-20-7667-1838539300596257751{number}_1.darshan"
        shutil.copy(logs[stem], day / name)
    argv = [*tool("find-darshanlogs"), "--logdir", str(tmp_path / "logs"), "-s", "2017-03-20"]
    status, out, shown = run_on_terminal([*argv, "--load", "total"], tmp_path)
    assert status == 0, shown
    loaded = json.loads(out)
    assert sorted(Path(p).name for p in loaded) == sorted(p.name for p in day.iterdir())
    assert all("posix" in log["counters"] for log in loaded.values())
    assert "load:" in shown and " 0/2 " in shown

    status, out, shown = run_on_terminal(argv, tmp_path)  # listing only: nothing to wait for
    assert status == 0 and len(out.split()) == 2
    assert "load:" not in shown and "/2" not in shown
