"""atokio.connectors.darshan, atokio.tools.darshan and the Darshan CLI tools.

The subprocess path runs a stand-in ``darshan-parser`` that replays the real
recorded outputs (tests/standin.py); the direct path reads the real logs.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from corpus import DARSHAN, INPUTS, darshan_text, need_corpus
from standin import install_darshan_parser, path_with

from atokio.cli._common import as_program
from atokio.parsers.base import parse_all
from atokio.parsers.darshan import DarshanParser, build_darshan_dict

EMPTY_LOG = "glock_dbscan_read_id4487503_3-21-14554-2400062619352127555_1.darshan"


def expected(log: str, *modes: str) -> dict:
    result: dict = {}
    for mode in modes:
        build_darshan_dict(parse_all(DarshanParser(), darshan_text(log, mode)), into=result)
    return result


@pytest.fixture
def parser_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    need_corpus()
    bin_dir = tmp_path / "bin"
    install_darshan_parser(bin_dir)
    monkeypatch.setenv("PATH", path_with(bin_dir))
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)
    return bin_dir


@pytest.fixture
def no_parser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)


def test_reader_choice(
    parser_on_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from atokio.connectors.darshan import resolve_reader

    assert resolve_reader("auto") == "darshan-parser"
    assert resolve_reader(None) == "darshan-parser"
    assert resolve_reader("direct") == "direct"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert resolve_reader("auto") == "direct"
    monkeypatch.setenv("ATOKIO_DARSHAN_PARSER", str(parser_on_path / "darshan-parser"))
    assert resolve_reader("auto") == "darshan-parser"
    with pytest.raises(ValueError, match="unknown Darshan reader 'fast'"):
        resolve_reader("fast")


@pytest.mark.parametrize("log", ["sample", "sample-2", "noposix"])
def test_darshan_parser_path_gives_the_parsed_text(parser_on_path: Path, log: str) -> None:
    from atokio.connectors.darshan import Darshan

    darshan = Darshan(str(DARSHAN / f"{log}.darshan"))
    assert darshan == {}
    assert darshan.darshan_parser_base() is darshan
    assert dict(darshan) == expected(log, "base")
    darshan.darshan_parser_total()
    darshan.darshan_parser_perf()
    assert dict(darshan) == expected(log, "base", "total", "perf")
    # three passes do not repeat the metadata list
    assert len(darshan["header"]["metadata"]) == 2


def test_direct_reader_gives_the_same_dict(parser_on_path: Path) -> None:
    from atokio.connectors.darshan import Darshan

    for log in ("sample", "sample-goodost", "noposixopens"):
        path = str(DARSHAN / f"{log}.darshan")
        via_parser = Darshan(path, reader="darshan-parser").darshan_parser_base()
        direct = Darshan(path, reader="direct").darshan_parser_base()
        assert dict(direct) == dict(via_parser), log


def test_modules_and_counters_filters(parser_on_path: Path) -> None:
    from atokio.connectors.darshan import Darshan

    darshan = Darshan(str(DARSHAN / "sample.darshan"))
    darshan.darshan_parser_base(modules=["posix"], counters=["BYTES_READ", "BYTES_WRITTEN"])
    vpic = "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5"
    assert darshan["counters"] == {
        "posix": {vpic: {"-1": {"BYTES_READ": 0, "BYTES_WRITTEN": 2199023259968}}}
    }


def test_unreadable_log_is_a_warning_and_leaves_the_dict_empty(
    parser_on_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from atokio.connectors.darshan import Darshan

    with caplog.at_level(logging.WARNING, logger="atokio"):
        darshan = Darshan(str(DARSHAN / EMPTY_LOG))
        darshan.darshan_parser_base()
    assert darshan == {}
    messages = [r.getMessage() for r in caplog.records]
    assert any("exited with status 255" in m and "failed to read version" in m for m in messages)


def test_silent_errors_keeps_quiet(parser_on_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from atokio.connectors.darshan import Darshan

    with caplog.at_level(logging.WARNING, logger="atokio"):
        Darshan(str(DARSHAN / EMPTY_LOG), silent_errors=True).darshan_parser_perf()
    assert caplog.records == []


def test_missing_darshan_parser_when_asked_for(no_parser: None) -> None:
    from atokio.connectors.darshan import Darshan

    need_corpus()
    with pytest.raises(FileNotFoundError, match="darshan-parser: command not found"):
        Darshan(str(DARSHAN / "sample.darshan"), reader="darshan-parser").darshan_parser_base()


def test_cache_round_trip_json_and_text(parser_on_path: Path, tmp_path: Path) -> None:
    from atokio.connectors.darshan import Darshan

    darshan = Darshan(str(DARSHAN / "sample-2.darshan"))
    darshan.darshan_parser_perf()
    cache = tmp_path / "cache.json"
    darshan.save_cache(str(cache))
    assert json.loads(cache.read_text()) == dict(darshan)
    assert dict(Darshan(cache_file=str(cache))) == dict(darshan)
    text_cache = tmp_path / "perf.txt"
    text_cache.write_bytes(darshan_text("sample-2", "perf"))
    assert dict(Darshan(cache_file=str(text_cache))) == dict(darshan)
    assert dict(Darshan(from_string=cache.read_text())) == dict(darshan)
    assert dict(Darshan(from_string=darshan_text("sample-2", "perf").decode())) == dict(darshan)
    assert json.loads(repr(darshan)) == dict(darshan)


def test_filename_metadata() -> None:
    from atokio.connectors.darshan import Darshan, parse_filename_metadata

    name = "/x/glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan"
    assert parse_filename_metadata(name) == {
        "username": "glock",
        "exename": "vpicio_uni",
        "jobid": "4478544",
        "start_month": 3,
        "start_day": 20,
        "start_second_in_day": 7667,
        "logmod": 18385393005962577517,
        "shutdown_secs": 1,
    }
    assert parse_filename_metadata("/x/sample.darshan") == {}
    assert Darshan(name).filename_metadata["jobid"] == "4478544"


def test_parse_text_file_on_all_cores_equals_one_core(tmp_path: Path) -> None:
    from atokio.connectors.darshan import parse_darshan_text_file

    data = darshan_text("sample-badost", "base")
    path = tmp_path / "badost.txt"
    path.write_bytes(data)
    one = build_darshan_dict(parse_all(DarshanParser(), data))
    assert parse_darshan_text_file(str(path), workers=2) == one
    assert parse_darshan_text_file(str(path), workers=1) == one


def test_parse_text_file_error_names_the_line_of_the_whole_file(tmp_path: Path) -> None:
    from atokio.connectors.darshan import parse_darshan_text_file
    from atokio.parsers.base import ParseError

    lines = darshan_text("sample-badost", "base").split(b"\n")
    bad_line = len(lines) * 3 // 4
    lines[bad_line] = lines[bad_line].replace(b"\t", b" ", 1)
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ParseError) as caught:
        parse_darshan_text_file(str(path), workers=2)
    assert caught.value.line_number == bad_line + 1
    assert caught.value.source == str(path)


# ---------------------------------------------------------------------------
# async API, under asyncio and trio


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_read_darshan_async(parser_on_path: Path, anyio_backend: str) -> None:
    from atokio.connectors.darshan import read_darshan

    result = await read_darshan(str(DARSHAN / "sample.darshan"), ("base", "total", "perf"))
    assert result == expected("sample", "base", "total", "perf")
    with pytest.raises(ValueError, match="unknown darshan-parser mode"):
        await read_darshan("x.darshan", ("all",))


# ---------------------------------------------------------------------------
# tools.darshan and the CLI tools


@pytest.fixture
def corpus_cwd(monkeypatch: pytest.MonkeyPatch) -> Path:
    corpus = need_corpus()
    monkeypatch.chdir(corpus)
    from atokio import config

    monkeypatch.setitem(config.CONFIG, "darshan_log_dirs", {"testsystem": "inputs/darshanlogs"})
    return corpus


def _names(paths: list[str]) -> list[str]:
    return sorted(Path(p).name for p in paths)


def test_find_darshanlogs_by_date_user_and_job(corpus_cwd: Path) -> None:
    import datetime

    from atokio.tools.darshan import find_darshanlogs

    day20, day21 = datetime.datetime(2017, 3, 20), datetime.datetime(2017, 3, 21)
    assert _names(find_darshanlogs(day20, day21)) == [
        "glock_dbscan_read_id4478544_3-20-7800-15217972833987807816_1.darshan",
        "glock_dbscan_read_id4487503_3-21-14554-2400062619352127555_1.darshan",
        "glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan",
        "glock_vpicio_uni_id4487503_3-21-14391-1931100114561819213_1.darshan",
    ]
    assert _names(find_darshanlogs(day21, jobid=4487503)) == [
        "glock_dbscan_read_id4487503_3-21-14554-2400062619352127555_1.darshan",
        "glock_vpicio_uni_id4487503_3-21-14391-1931100114561819213_1.darshan",
    ]
    assert find_darshanlogs(day20, day21, username="nobody") == []
    assert len(find_darshanlogs(datetime_end=day20, system="testsystem")) == 2
    assert find_darshanlogs(day20, log_dir="inputs/darshanlogs") == find_darshanlogs(day20)
    with pytest.raises(ValueError, match="Either --start/--end or --jobid must be defined"):
        find_darshanlogs()
    with pytest.raises(ValueError, match="after datetime_end"):
        find_darshanlogs(day21, day20)


def test_load_darshanlogs(corpus_cwd: Path, parser_on_path: Path) -> None:
    import datetime

    from atokio.connectors.darshan import Darshan
    from atokio.tools.darshan import load_darshanlogs

    logs = load_darshanlogs(datetime.datetime(2017, 3, 20), which="base,perf")
    assert len(logs) == 2
    for path, log in logs.items():
        assert isinstance(log, Darshan) and log.log_file == path
        stem = "sample" if "vpicio" in path else "sample-2"
        assert dict(log) == expected(stem, "base", "perf")
    with pytest.raises(TypeError, match="which must name base, total and/or perf"):
        load_darshanlogs(datetime.datetime(2017, 3, 20), which="everything")


def test_cache_darshan_cli(
    parser_on_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from atokio.cli import cache_darshan

    log = str(DARSHAN / "sample.darshan")
    assert cache_darshan.main(["--perf", "--total", log]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == expected("sample", "total", "perf")
    assert out == json.dumps(json.loads(out), indent=4, sort_keys=True) + "\n"
    target = tmp_path / "out.json"
    assert cache_darshan.main(["--base", "--modules", "lustre", "-o", str(target), log]) == 0
    assert capsys.readouterr().out == f"Caching to {target}\n"
    written = target.read_text()
    assert not written.endswith("\n")
    assert list(json.loads(written)["counters"]) == ["lustre"]
    assert cache_darshan.main(["--silent-errors", str(DARSHAN / EMPTY_LOG)]) == 0
    assert capsys.readouterr().out == "{}\n"
    assert as_program(cache_darshan.main, ["-o", str(target), str(DARSHAN / EMPTY_LOG)]) == 1
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1)
    assert err.startswith(f"cache_darshan: {DARSHAN / EMPTY_LOG}: ")
    assert err.endswith(": check that it is a complete Darshan log\n")
    assert target.read_text() == written


def test_cache_darshan_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from atokio.cli import cache_darshan

    with pytest.raises(SystemExit) as caught:
        cache_darshan.main([])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        cache_darshan.main(["--help"])
    assert caught.value.code == 0
    assert "--perf" in capsys.readouterr().out


def test_find_darshanlogs_cli(corpus_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from atokio.cli import find_darshanlogs

    assert (
        find_darshanlogs.main(["-s", "2017-03-20", "--user", "glock", "--host", "testsystem"]) == 0
    )
    assert _names(capsys.readouterr().out.split()) == [
        "glock_dbscan_read_id4478544_3-20-7800-15217972833987807816_1.darshan",
        "glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan",
    ]
    with pytest.raises(SystemExit) as usage:
        find_darshanlogs.main(["-u", "glock"])
    assert usage.value.code == 2
    assert "find_darshanlogs: error: give --start/--end or --jobid" in capsys.readouterr().err


def test_find_darshanlogs_cli_load(
    corpus_cwd: Path, parser_on_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from atokio.cli import find_darshanlogs

    assert find_darshanlogs.main(["-s", "2017-03-20", "--load", "perf"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert sorted(Path(p).name for p in loaded) == [
        "glock_dbscan_read_id4478544_3-20-7800-15217972833987807816_1.darshan",
        "glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan",
    ]
    for path, value in loaded.items():
        assert value == expected("sample" if "vpicio" in path else "sample-2", "perf")


def test_darshan_bad_ost_finds_ost_14(
    parser_on_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy

    from atokio.cli import darshan_bad_ost

    need_corpus()
    log = str(DARSHAN / "sample-badost.darshan")
    # independent computation of the OST#14 correlation from the recorded 3.5.0 text
    parsed = expected("sample-badost", "base")["counters"]
    perf, on14 = [], []
    for name, ranks in parsed["posix"].items():
        if name not in parsed["lustre"]:
            continue
        total = sum(c["BYTES_READ"] + c["BYTES_WRITTEN"] for c in ranks.values())
        slowest = max(
            c["F_READ_TIME"] + c["F_WRITE_TIME"] + c["F_META_TIME"] for c in ranks.values()
        )
        osts = {
            value
            for counters in parsed["lustre"][name].values()
            for key, value in counters.items()
            if "OST_ID_" in key
        }
        perf.append(total / slowest)
        on14.append(1.0 / len(osts) if 14 in osts else 0.0)
    want_r = numpy.corrcoef(numpy.array(on14), numpy.array(perf))[0, 1]
    want_p = 2.473047514446202e-305  # scipy.stats.pearsonr 1.17.1 on these numbers

    assert darshan_bad_ost.main(["--json", log]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {row["ost_name"]: row for row in rows}
    assert by_name["OST#14"]["coefficient"] == pytest.approx(want_r, rel=1e-12)
    assert by_name["OST#14"]["p-value"] == pytest.approx(want_p, rel=1e-9)
    assert rows[0]["ost_name"] == "OST#14" and rows[0]["coefficient"] < -0.5
    assert [r["coefficient"] for r in rows] == sorted(r["coefficient"] for r in rows)

    assert darshan_bad_ost.main([log]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "OST Name    Correlation    P-Value"
    assert text[1] == "%-10s %12.3f %10.4g <-- this OST looks unhealthy" % (
        "OST#14",
        want_r,
        want_p,
    )


def test_darshan_bad_ost_without_logs(capsys: pytest.CaptureFixture[str]) -> None:
    from atokio.cli import darshan_bad_ost

    assert darshan_bad_ost.main([]) == 0
    assert capsys.readouterr().out == "OST Name    Correlation    P-Value\n"
    assert darshan_bad_ost.main(["-j"]) == 0
    assert capsys.readouterr().out == "[]\n"


def test_atokio_command_dispatches(capsys: pytest.CaptureFixture[str]) -> None:
    from atokio.cli.__main__ import main

    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert "cache-darshan" in listing and "index-darshanlogs" in listing
    assert main(["darshan-bad-ost", "-j"]) == 0
    assert capsys.readouterr().out == "[]\n"
    assert main(["no-such-tool"]) == 2
    assert "'no-such-tool' is not an atokio tool" in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "atokio.cli.darshan_bad_ost", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "[]\n"
    assert shutil.which(sys.executable)
    assert INPUTS.name == "inputs"


# ---------------------------------------------------------------------------
# the darshan-parser stream, parsed in record-aligned pieces


def _replaying_parser(tmp_path: Path, text: bytes, status: int = 0) -> str:
    """A ``darshan-parser`` that writes ``text`` (and exits with ``status``); returns a log path."""
    out = tmp_path / "output.txt"
    out.write_bytes(text)
    script = tmp_path / "darshan-parser"
    script.write_text(f'#!/bin/sh\ncat "{out}"\nexit {status}\n')
    script.chmod(0o755)
    log = tmp_path / "glock_app_id1_1-2-3-4_1.darshan"
    log.write_bytes(b"")
    return str(log)


@pytest.mark.parametrize("workers", [1, 2])
def test_stream_in_pieces_gives_the_whole_dict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    from atokio.collectors import darshantext
    from atokio.collectors import workers as pool
    from atokio.connectors import darshan as connector

    text = darshan_text("sample-badost", "base")
    log = _replaying_parser(tmp_path, text)
    monkeypatch.setenv("ATOKIO_DARSHAN_PARSER", str(tmp_path / "darshan-parser"))
    monkeypatch.setattr(darshantext, "PIECE", 256 << 10)  # about a hundred pieces
    monkeypatch.setattr(darshantext, "WINDOW", 64 << 10)
    monkeypatch.setattr(darshantext, "default_workers", lambda: workers)
    monkeypatch.setattr(pool, "default_workers", lambda: workers)
    result = connector.Darshan(log).darshan_parser_base()
    want = build_darshan_dict(parse_all(DarshanParser(), text))
    assert dict(result) == want
    assert list(result["counters"]["posix"]) == list(want["counters"]["posix"])


def test_stream_error_keeps_what_came_before_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from atokio.collectors import darshantext
    from atokio.connectors import darshan as connector

    text = darshan_text("sample-badost", "base")
    lines = text.split(b"\n")
    bad = next(i for i, line in enumerate(lines) if line.startswith(b"POSIX")) + 20000
    broken = b"\n".join([*lines[:bad], b"POSIX\tnot a record", *lines[bad:]])
    log = _replaying_parser(tmp_path, broken)
    monkeypatch.setenv("ATOKIO_DARSHAN_PARSER", str(tmp_path / "darshan-parser"))
    monkeypatch.setattr(darshantext, "PIECE", 256 << 10)
    with caplog.at_level(logging.WARNING):
        result = connector.Darshan(log).darshan_parser_base()
    assert f":{bad + 1}: " in caplog.text
    before = build_darshan_dict(parse_all(DarshanParser(), b"\n".join(lines[:bad]) + b"\n"))
    kept = result["counters"]["posix"]
    # every record before the pieces' cut nearest the bad line is there, and nothing after it
    assert 0 < len(kept) <= len(before["counters"]["posix"])
    assert all(kept[name] == before["counters"]["posix"][name] for name in list(kept)[:-1])
