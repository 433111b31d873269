"""The ``cache_nersc_globuslogs`` tool: JSON and CSV outputs, options and exit statuses."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from fixtures_common import anyio_backend, pacific_time
from globus_es_data import (
    CORPUS_CACHE,
    END,
    FIELDS,
    START,
    corpus_pages,
    filtered,
    globus_hits,
    overlapping,
    running,
    write_cache,
)

from atokio.cli import cache_nersc_globuslogs
from atokio.cli.__main__ import main as atokio_main
from atokio.cli._common import as_program

__all__ = ["anyio_backend", "pacific_time"]  # fixtures used by pytest

WINDOW = ["2019-01-29T00:00:00", "2019-01-29T00:10:00"]
REPO = Path(__file__).resolve().parents[2]

#: The corpus page as CSV (pandas' default layout: unnamed index column first).
CORPUS_CSV = """\
,@timestamp,BLOCK,BUFFER,CODE,DATE,DEST,DESTIP,FILE,HOST,NBYTES,START,STREAMS,STRIPES,TASKID,TYPE,USER,VOLUME,bandwidth_mbps,duration,start_date,end_date,host
0,2019-01-29T08:04:53.472Z,4194304,235104,226,20190129080453.142846,192.168.63.47,192.168.63.47,/global/homes/f/fusera/toolbox/workfunction_y.cpp,dtn09.nersc.gov,2597,20190129080452.993859,4,1,98b5877c-2020-11e9-9835-0262a1f2f698,RETR,fusera,/,0.14,0.149,2019-01-29T08:04:52.993Z,2019-01-29T08:04:53.142Z,dtn09.nersc.gov
1,2019-01-29T08:04:53.454Z,4194304,332800,226,20190129080450.280340,192.168.13.202,192.168.13.202,/project/projectdirs/pgrbanlensmean_2008111100,dtn09.nersc.gov,3610670,20190129080450.249593,4,1,0e28867c-2327-11e9-9fa1-0a06afd4a22e,STOR,useroll,/,931.79,0.031,2019-01-29T08:04:50.249Z,2019-01-29T08:04:50.280Z,dtn09.nersc.gov
2,2019-01-29T08:04:53.453Z,4194304,332800,226,20190129080449.602960,192.168.13.202,192.168.13.202,/project/projectdirs/pgrbanlensmean_2008101606,dtn09.nersc.gov,3616802,20190129080449.207095,4,1,0e28867c-2327-11e9-9fa1-0a06afd4a22e,STOR,useroll,/,73.25,0.395,2019-01-29T08:04:49.207Z,2019-01-29T08:04:49.602Z,dtn09.nersc.gov
"""


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = as_program(cache_nersc_globuslogs.main, argv)
    return status, out.getvalue()


def expected_csv(hits: list[dict[str, Any]]) -> str:
    """CSV of hits written out field by field (the values here have no commas or quotes)."""
    lines = ["," + ",".join(FIELDS)]
    for row, hit in enumerate(hits):
        cells = [hit["_source"].get(name) for name in FIELDS]
        lines.append(",".join([str(row)] + ["" if c is None else str(c) for c in cells]))
    return "\n".join(lines) + "\n"


def test_live_json_to_stdout_and_to_files(tmp_path: Path) -> None:
    hits = globus_hits()
    want = [filtered(h) for h in overlapping(hits, START, END)]
    with running(hits) as server:
        host = ["-h", "127.0.0.1", "-p", str(server.port)]
        status, out = run_cli([*host, *WINDOW])
        assert status == 0
        pages = json.loads(out)
        assert out == json.dumps(pages, indent=4) + "\n"  # indented, keys not sorted
        assert [h for page in pages for h in page] == want
        assert list(pages[0][0]["_source"]) == [k for k in hits[0]["_source"] if k in FIELDS]
        target = tmp_path / "globus.json"
        status, out = run_cli([*host, "-o", str(target), *WINDOW])
        assert (status, out) == (0, f"Caching to {target}\n")
        assert target.read_text() == json.dumps(pages)  # compact, no newline
        umask = os.umask(0o022)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary new file
        packed = tmp_path / "globus.json.gz"
        status, out = run_cli([*WINDOW, *host, "--output", str(packed)])
        assert (status, out) == (0, f"Caching to {packed}\n")
        assert gzip.decompress(packed.read_bytes()).decode() == json.dumps(pages)
        assert server.log.open_contexts() == []
        assert {path for _, path in server.log.requests if path.endswith("_search")} == {
            "/dtn-dtn-log*/_search"
        }
        assert sorted(os.listdir(tmp_path)) == ["globus.json", "globus.json.gz"]  # no leftovers
    # the dump replays unchanged through --input
    status, out = run_cli(["--input", str(target), *WINDOW])
    assert status == 0 and json.loads(out) == pages
    assert out == json.dumps(pages, indent=4) + "\n"


def test_user_and_type_filters_and_abbreviations() -> None:
    hits = globus_hits()
    window = overlapping(hits, START, END)

    def fetched(argv: list[str]) -> list[str]:
        status, out = run_cli(argv)
        assert status == 0
        return [h["_id"] for page in json.loads(out) for h in page]

    with running(hits) as server:
        port = str(server.port)
        ids = fetched(["--host", "127.0.0.1", "--port", port, "--type", "stor", *WINDOW])
        assert ids == [h["_id"] for h in window if h["_source"]["TYPE"] == "STOR"]
        ids = fetched(["--h", "127.0.0.1", "--po", port, "--us", "glock", *WINDOW])
        assert ids == [h["_id"] for h in window if h["_source"]["USER"] == "glock"]
        ids = fetched(["--h=127.0.0.1", f"--po={port}", "--ty=retr", "--user=fusera", *WINDOW])
        assert ids == [
            h["_id"]
            for h in window
            if h["_source"]["TYPE"] == "RETR" and h["_source"]["USER"] == "fusera"
        ]
        assert ids
        ids = fetched(
            ["-h", "127.0.0.1", "-p", port, "--type", "nlst", "-i", "dtn-other*", *WINDOW]
        )
        assert ids == [h["_id"] for h in window if h["_source"]["TYPE"] == "NLST"]
        musts = [
            body["query"]["constant_score"]["filter"]["bool"]["must"][2:]
            for (_, path), body in zip(server.log.requests, server.log.bodies, strict=True)
            if path.endswith("/_search")
        ]
        paths = [path for _, path in server.log.requests if path.endswith("/_search")]
    assert musts == [
        [{"term": {"TYPE": "STOR"}}],
        [{"term": {"USER": "glock"}}],
        [{"term": {"USER": "fusera"}}, {"term": {"TYPE": "RETR"}}],
        [{"term": {"TYPE": "NLST"}}],
    ]
    assert paths[-1] == "/dtn-other*/_search"


def test_live_csv_to_stdout_and_file(tmp_path: Path) -> None:
    hits = globus_hits()
    want = [filtered(h) for h in overlapping(hits, START, END)]
    with running(hits) as server:
        host = ["-h", "127.0.0.1", "-p", str(server.port)]
        status, out = run_cli([*host, "-c", *WINDOW])
        assert (status, out) == (0, expected_csv(want) + "\n")  # one extra empty line
        target = tmp_path / "globus.csv"
        status, out = run_cli([*host, "--csv", "-o", str(target), "--type", "STOR", *WINDOW])
        assert (status, out) == (0, f"Caching to {target}\n")
        stor = [h for h in want if h["_source"]["TYPE"] == "STOR"]
        assert target.read_text() == expected_csv(stor)
        assert server.log.open_contexts() == []


def test_input_replays_every_page_whatever_the_filters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hits = [filtered(h) for h in globus_hits(25)]
    pages = [hits[:10], hits[10:20], hits[20:]]
    cache = write_cache(tmp_path / "dump.json.gz", pages)
    caplog.set_level(logging.WARNING, logger="atokio")
    status, out = run_cli(["--input", str(cache), "--user", "nobody", "--type", "stor", *WINDOW])
    assert status == 0 and out == json.dumps(pages, indent=4) + "\n"
    assert "ignored with --input" in caplog.text
    status, out = run_cli(
        ["--input", str(cache), "-c", "2020-01-01T00:00:00", "2020-01-02T00:00:00"]
    )
    assert (status, out) == (0, expected_csv(hits) + "\n")
    empty = write_cache(tmp_path / "empty.json", [])
    assert run_cli(["--input", str(empty), *WINDOW]) == (0, "[]\n")


def test_corpus_input_json_and_csv(tmp_path: Path) -> None:
    pages = corpus_pages()
    status, out = run_cli(["--input", str(CORPUS_CACHE), *WINDOW])
    assert (status, out) == (0, json.dumps(pages, indent=4) + "\n")
    status, out = run_cli(["--input", str(CORPUS_CACHE), "--csv", *WINDOW])
    assert (status, out) == (0, CORPUS_CSV + "\n")
    target = tmp_path / "globus.csv"
    status, out = run_cli(["--input", str(CORPUS_CACHE), "-c", "-o", str(target), *WINDOW])
    assert (status, out) == (0, f"Caching to {target}\n")
    assert target.read_text() == CORPUS_CSV
    assert expected_csv(pages[0]) == CORPUS_CSV


def test_exit_statuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_nersc_globuslogs.main(["--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    assert "-h HOST, --host HOST" in text and "--type TYPE" in text and "dtn-dtn-log*" in text
    for argv in (
        ["-h"],  # -h needs a host: it is not help
        [WINDOW[0]],  # one time only
        ["--t", "5", *WINDOW],  # --timeout or --type
        ["-p", "http", *WINDOW],  # not an int
        ["--timeout", "1.5", *WINDOW],
    ):
        with pytest.raises(SystemExit) as caught:
            cache_nersc_globuslogs.main(argv)
        assert caught.value.code == 2, argv
    for argv in (["2019-01-29 00:00:00", WINDOW[1]], [WINDOW[1], WINDOW[0]]):
        with pytest.raises(SystemExit) as caught:
            cache_nersc_globuslogs.main(argv)
        assert caught.value.code == 2, argv
    err = capsys.readouterr().err
    assert "'2019-01-29 00:00:00' is not a date and time: use YYYY-MM-DDTHH:MM:SS" in err
    assert "query_start must be earlier than query_end" in err
    assert (
        as_program(
            cache_nersc_globuslogs.main, ["--input", str(tmp_path / "missing.json"), *WINDOW]
        )
        == 1
    )
    bad = tmp_path / "bad.json"
    bad.write_text('[[{"_id": "a"}],\n [{"_id": "b"}]\n')  # cut short
    target = tmp_path / "out.json"
    assert (
        as_program(cache_nersc_globuslogs.main, ["--input", str(bad), "-o", str(target), *WINDOW])
        == 1
    )
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "truncated" in err
    assert sorted(os.listdir(tmp_path)) == ["bad.json"]  # no partial output file
    # nothing listens on this port: a failure, not a hang
    with running([]) as server:
        port = server.port
    status = as_program(
        cache_nersc_globuslogs.main, ["-h", "127.0.0.1", "-p", str(port), "--timeout", "2", *WINDOW]
    )
    assert status == 1


def test_installed_forms_run_the_tool() -> None:
    hits = globus_hits()
    want = [filtered(h) for h in overlapping(hits, START, END) if h["_source"]["USER"] == "useroll"]
    env = {**os.environ, "TZ": "America/Los_Angeles"}
    with running(hits) as server:
        argv = ["-h", "127.0.0.1", "-p", str(server.port), "--user", "useroll", *WINDOW]
        done = subprocess.run(
            [sys.executable, "-m", "atokio.cli.cache_nersc_globuslogs", *argv],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stderr) == (0, "")
        assert [h for page in json.loads(done.stdout) for h in page] == want
        out = io.StringIO()
        with redirect_stdout(out):
            assert atokio_main(["cache-nersc-globuslogs", *argv]) == 0
        assert out.getvalue() == done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.cache_nersc_globuslogs", "2019-01-29", WINDOW[1]],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "'2019-01-29' is not a date and time" in done.stderr
