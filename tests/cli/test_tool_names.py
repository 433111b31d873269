"""``python -m atokio``, tools naming themselves, and the one-line summaries of ``atokio --help``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from atokio.cli import TOOLS
from atokio.cli.__main__ import SUMMARIES, main, usage

HEAVY = ("numpy", "pandas", "h5py", "matplotlib", "scipy", "tqdm")


def test_python_m_atokio() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atokio", "--help"], capture_output=True, text=True, check=True
    )
    assert done.stdout == usage() + "\n"
    done = subprocess.run(
        [sys.executable, "-m", "atokio", "cache-darshanlogs", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("usage: cache_darshanlogs [-h]")


@pytest.mark.parametrize("tool", TOOLS)
def test_usage_names_the_tool(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    help_flag = "--help"
    with pytest.raises(SystemExit) as stop:
        main([tool.replace("_", "-"), help_flag])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {tool} ")


def test_cache_darshan_log_argument_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cache_darshan", "--help"])
    usage_lines = capsys.readouterr().out.split("\n\n")[0].split()
    assert usage_lines[-1] == "DARSHAN_LOG" and "N" not in usage_lines


def test_summaries_are_for_users() -> None:
    assert set(SUMMARIES) >= set(TOOLS)
    for tool, line in SUMMARIES.items():
        assert line and "\n" not in line and len(line) <= 80, tool
        assert line[0].isupper() and line.endswith("."), tool
        for developer_word in ("CLI", "interface for", "``", ":func:", "connector", ".md"):
            assert developer_word not in line, (tool, developer_word)
    listed = usage().splitlines()
    assert "  cache-isdct              " + SUMMARIES["cache_isdct"] in listed


def test_help_loads_no_heavy_module() -> None:
    """``atokio --help`` and ``darshan_bad_ost --help`` import no numerical library.

    (What keeps them quick to start; the figures are measured by hand, not here.)
    """
    code = (
        "import sys\n"
        "from atokio.cli.__main__ import main\n"
        "main(['--help'])\n"
        "try:\n"
        "    main(['darshan-bad-ost', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(set({HEAVY!r}) & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTOKIO_SKIP_CONFIG="1"),
    )
    assert done.stdout.splitlines()[-1] == "[]"
