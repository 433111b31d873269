"""The ``atokio`` dispatcher and the plain pytokio tool names."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from atokio.cli import TOOLS
from atokio.cli.__main__ import main, run_named_tool

ROOT = Path(__file__).resolve().parents[2]


def test_every_tool_is_installed_under_its_plain_name() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.pop("atokio") == "atokio.cli.__main__:main"
    assert scripts == {tool: "atokio.cli.__main__:run_named_tool" for tool in TOOLS}


@pytest.mark.parametrize("argv0", ["/usr/local/bin/summarize_tts", "bin/summarize_tts.py"])
def test_plain_name_runs_that_tool(
    argv0: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0, "--help"])
    with pytest.raises(SystemExit) as stop:
        run_named_tool()
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("usage: summarize_tts")


def test_dashes_or_underscores(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("summarize-tts", "summarize_tts"):
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        assert stop.value.code == 0
        assert capsys.readouterr().out.startswith("usage: summarize_tts")


def test_unknown_tool_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-tool"]) == 2
    assert (
        capsys.readouterr()
        .err.rstrip()
        .endswith("atokio: error: 'no-such-tool' is not an atokio tool")
    )


def test_no_arguments_prints_the_list_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: atokio <tool> [arguments]")
    assert "  index-darshanlogs " in out
