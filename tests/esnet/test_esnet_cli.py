"""cache_esnet_snmp and archive_esnet_snmp: exact JSON, CSV and HDF5 outputs, failures, exit codes."""

from __future__ import annotations

import datetime
import gzip
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from esnet_data import CACHE, NERSC, T0, need_cache
from esnet_server import Data, EsnetServer

from atokio.cli import archive_esnet_snmp, cache_esnet_snmp
from atokio.cli._common import as_program
from atokio.collectors.http import RetryPolicy
from atokio.connectors import esnet_snmp

WINDOW = ["-s", "2019-02-11T01:00:00", "-e", "2019-02-11T01:05:00"]
QUERY = ["2019-02-11T01:00:00", "2019-02-11T01:05:00"]
PAIRS = [(e, i) for e, names in NERSC.items() for i in names]
COLUMNS = [f"{e}:{i}" for e, i in PAIRS]


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quick backoff for the tools' requests (their --retries still counts)."""
    monkeypatch.setattr(esnet_snmp, "DEFAULT_RETRY", RetryPolicy(backoff=0.002, backoff_max=0.01))


def write_cache(data: Data, path: Path) -> Path:
    path.write_text(json.dumps(data))
    return path


def expected_csv(data: Data) -> str:
    lines = [",endpoint,interface,direction,timestamp,data_rate"]
    for endpoint, interfaces in data.items():
        for interface, entry in interfaces.items():
            for direction in ("in", "out"):
                for stamp, value in entry[direction].items():
                    when = datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")
                    lines.append(
                        f"{len(lines) - 1},{endpoint},{interface},{direction},{when},{value!r}"
                    )
    return "\n".join(lines) + "\n"


# -- cache_esnet_snmp --------------------------------------------------------------------


def test_cache_reload_json(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = write_cache(data, tmp_path / "in.json")
    assert cache_esnet_snmp.main(["-i", str(cache), "nersc"]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(data, indent=4, sort_keys=True) + "\n"
    target = tmp_path / "out.json"
    assert cache_esnet_snmp.main(["-i", str(cache), "-o", str(target), "-j", "nersc"]) == 0
    assert capsys.readouterr().out == f"Caching to {target}\n"
    assert target.read_text() == json.dumps(data)  # compact, insertion order
    assert site.counts == {}  # never asked the service


def test_cache_reload_the_corpus(
    site: EsnetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "again.json"
    assert cache_esnet_snmp.main(["-i", str(need_cache()), "-o", str(target), "sunn-cr5:x"]) == 0
    assert target.read_bytes() == gzip.decompress(CACHE.read_bytes())  # the whole file, unfiltered


def test_cache_csv(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = write_cache(data, tmp_path / "in.json")
    assert cache_esnet_snmp.main(["--csv", "-i", str(cache), "nersc"]) == 0
    assert capsys.readouterr().out == expected_csv(data) + "\n"  # print() adds one empty line
    target = tmp_path / "out.csv"
    assert cache_esnet_snmp.main(["-c", "-j", "-i", str(cache), "-o", str(target), "nersc"]) == 0
    assert capsys.readouterr().out == f"Caching to {target}\n"
    assert target.read_text() == expected_csv(data)


def test_cache_live(site: EsnetServer, data: Data, capsys: pytest.CaptureFixture[str]) -> None:
    assert cache_esnet_snmp.main([*WINDOW, "nersc"]) == 0
    assert capsys.readouterr().out == json.dumps(data, indent=4, sort_keys=True) + "\n"
    assert len(site.queries) == 10
    assert all(
        q == {"begin": str(T0), "end": str(T0 + 300), "calc_func": "average"}
        for _, q in site.queries
    )


def test_cache_live_pairs_and_a_failure(
    site: EsnetServer,
    data: Data,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    site.fault("sunn-cr5:to_nersc_ip-b_v6:in", status=503)
    target = tmp_path / "partial.json"
    spec = "sunn-cr5:to_nersc_ip-b,sunn-cr5:to_nersc_ip-b_v6"
    assert (
        as_program(cache_esnet_snmp.main, [*WINDOW, "--retries", "1", "-o", str(target), spec]) == 1
    )
    captured = capsys.readouterr()
    assert captured.out == f"Caching to {target}\n"
    assert captured.err.splitlines()[-1] == (
        "cache_esnet_snmp: 1 of 4 requests could not be read: see the warnings above; "
        "try again later or raise --timeout/--retries"
    )
    assert "sunn-cr5:to_nersc_ip-b_v6:in: HttpError: GET " in caplog.text
    assert site.counts["sunn-cr5:to_nersc_ip-b_v6:in"] == 2
    sunn = data["sunn-cr5"]
    wanted = {
        "sunn-cr5": {
            "to_nersc_ip-b": sunn["to_nersc_ip-b"],
            "to_nersc_ip-b_v6": {"out": sunn["to_nersc_ip-b_v6"]["out"], "units": "bytes/sec"},
        }
    }
    assert target.read_text() == json.dumps(wanted)


def test_cache_bad_endpoints(
    site: EsnetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = write_cache({}, tmp_path / "in.json")
    for spec in ("bogus", "", "sunn-cr5:"):
        with pytest.raises(SystemExit) as usage:
            cache_esnet_snmp.main(["-i", str(cache), spec])
        assert usage.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"cache_esnet_snmp: error: invalid endpoints {spec!r}: give a site name of "
            "esnet_snmp_interfaces (nersc, alcf) or endpoint:interface[,endpoint:interface...]"
        )


def test_cache_usage_and_time_errors(site: EsnetServer, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_esnet_snmp.main(["-e", "2019-02-11T01:05:00", "nersc"])
    assert caught.value.code == 2
    assert "--start must be specified with --end" in capsys.readouterr().err
    for argv in (
        ["-s", "2019-02-11T01:05:00", "-e", "2019-02-11T01:00:00", "nersc"],
        ["-s", "2019-02-11 01:05:00", "nersc"],
        ["--timeout", "-1", "nersc"],
    ):
        with pytest.raises(SystemExit) as caught:
            cache_esnet_snmp.main(argv)
        assert caught.value.code == 2, argv
    err = capsys.readouterr().err
    assert "must be earlier than --end" in err
    assert "'2019-02-11 01:05:00' is not a date and time" in err
    assert "argument --timeout: '-1' is out of range: use a value greater than 0" in err
    with pytest.raises(SystemExit) as caught:
        cache_esnet_snmp.main(["--help"])
    assert caught.value.code == 0
    assert "endpoint:interface" in capsys.readouterr().out
    assert site.counts == {}


# -- archive_esnet_snmp --------------------------------------------------------------------


def logged(stderr: str) -> str:
    """The INFO messages of a ``--debug`` run, one a line."""
    return "".join(
        line[len("INFO: ") :] + "\n" for line in stderr.splitlines() if line.startswith("INFO: ")
    )


def read_tts(path: Path) -> dict:
    with h5py.File(path, "r") as h5:
        out = {
            "attrs": {
                k: (v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else int(v))
                for k, v in h5.attrs.items()
            },
            "source": h5["datatargets"].attrs["source"],
            "timestamps": h5["datatargets/timestamps"][...],
        }
        for name in ("readrates", "writerates"):
            dataset = h5["datatargets/" + name]
            out[name] = dataset[...]
            out[name + "/columns"] = [c.decode() for c in dataset.attrs["columns"]]
            out[name + "/units"] = dataset.attrs["units"]
            out[name + "/version"] = dataset.attrs["version"]
    return out


def expected_matrix(
    data: Data, direction: str, stamps: np.ndarray, pairs: list[tuple[str, str]] = PAIRS
) -> np.ndarray:
    matrix = np.full((len(stamps), len(pairs)), -0.0)
    for col, (endpoint, interface) in enumerate(pairs):
        series = data.get(endpoint, {}).get(interface, {}).get(direction, {})
        for row, stamp in enumerate(stamps):
            if int(stamp) in series:
                matrix[row, col] = series[int(stamp)]
    return matrix


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) & (np.signbit(a) == np.signbit(b))))


def check_file(
    path: Path, data: Data, pairs: list[tuple[str, str]] = PAIRS, rows: int = 10
) -> dict:
    got = read_tts(path)
    assert got["attrs"] == {"version": "1", "start": T0, "end": T0 + 30 * rows}
    assert got["source"] == "esnet_snmp"
    assert got["timestamps"].tolist() == list(range(T0, T0 + 30 * rows, 30))
    for name, direction in (("readrates", "in"), ("writerates", "out")):
        assert got[name + "/columns"] == [f"{e}:{i}" for e, i in pairs]
        assert got[name + "/units"] == "bytes/sec" and got[name + "/version"] == "1"
        want = expected_matrix(data, direction, got["timestamps"], pairs)
        want[got["timestamps"] >= T0 + 300] = -0.0  # rows after query_end stay missing
        assert same(got[name], want), name
    return got


def test_archive_from_a_cache(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = write_cache(data, tmp_path / "in.json")
    output = tmp_path / "out.hdf5"
    argv = ["-i", str(cache), "-o", str(output), "--debug", *QUERY, "nersc"]
    assert archive_esnet_snmp.main(argv) == 0
    captured = capsys.readouterr()
    assert (
        captured.out
        == logged(captured.err)
        == (
            "Initialized datatargets/readrates in / with size (10, 5)\n"
            "Initialized datatargets/writerates in / with size (10, 5)\n"
            "Writing out /datatargets/readrates\n"
            "Writing out /datatargets/writerates\n"
        )
    )
    got = check_file(output, data)
    assert T0 + 300 in data["sunn-cr5"]["to_nersc_ip-b"]["in"]  # the 01:05 point existed...
    assert got["timestamps"][-1] == T0 + 270  # ...and was dropped: rows are [start, end)
    assert site.counts == {}


def test_archive_the_corpus_cache(site: EsnetServer, tmp_path: Path) -> None:
    from esnet_server import load_cache

    output = tmp_path / "corpus.hdf5"
    assert (
        archive_esnet_snmp.main(["-i", str(need_cache()), "-o", str(output), *QUERY, "nersc"]) == 0
    )
    check_file(output, load_cache(CACHE))
    with h5py.File(output, "r") as h5:
        assert h5["datatargets/readrates"][0, 0] == 130809025.03333333


def test_archive_live_equals_archive_from_the_cache(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = ["--init-start", "2019-02-11T00:30:00", "--init-end", "2019-02-11T02:00:00"]
    live = tmp_path / "live.hdf5"
    assert archive_esnet_snmp.main(["-o", str(live), "--debug", *init, *QUERY, "nersc"]) == 0
    assert "Initialized datatargets/readrates in / with size (180, 5)" in logged(
        capsys.readouterr().err
    )
    assert all(
        q == {"begin": str(T0), "end": str(T0 + 300), "calc_func": "average", "calc": "30"}
        for _, q in site.queries
    )
    assert sorted(k for k, _ in site.queries) == sorted(
        f"{e}:{i}:{d}" for e, i in PAIRS for d in ("in", "out")
    )
    got = read_tts(live)
    assert got["attrs"]["start"] == T0 - 1800 and got["attrs"]["end"] == T0 + 3600
    for name, direction in (("readrates", "in"), ("writerates", "out")):
        want = expected_matrix(data, direction, got["timestamps"])
        want[got["timestamps"] >= T0 + 300] = -0.0
        assert same(got[name], want)
        assert np.all(np.signbit(got[name][:60]))  # before query_start: missing


def test_archive_in_two_pieces(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "pieces.hdf5"
    init = ["--init-start", QUERY[0], "--init-end", QUERY[1]]
    assert (
        archive_esnet_snmp.main(
            ["-o", str(output), "--debug", *init, QUERY[0], "2019-02-11T01:02:00", "nersc"]
        )
        == 0
    )
    assert (
        archive_esnet_snmp.main(
            ["-o", str(output), "--debug", *init, "2019-02-11T01:02:00", QUERY[1], "nersc"]
        )
        == 0
    )
    second = logged(capsys.readouterr().err).split("Writing out /datatargets/writerates\n", 1)[1]
    assert second == "Writing out /datatargets/readrates\nWriting out /datatargets/writerates\n"
    check_file(output, data)
    # a different range for an existing file
    assert (
        archive_esnet_snmp.main(
            ["-o", str(tmp_path / "other.hdf5"), *QUERY, "sunn-cr5:to_nersc_ip-b"]
        )
        == 0
    )
    wrong = ["--init-start", "2019-02-11T00:00:00", "--init-end", QUERY[1]]
    extra = tmp_path / "other.hdf5"
    with h5py.File(extra, "a") as h5:
        del h5["datatargets/writerates"]
    assert (
        as_program(
            archive_esnet_snmp.main, ["-o", str(extra), *wrong, *QUERY, "sunn-cr5:to_nersc_ip-b"]
        )
        == 1
    )
    assert "archive_esnet_snmp: Mismatched start or end values\n" in capsys.readouterr().err


def test_archive_keeps_the_file_column_order(site: EsnetServer, data: Data, tmp_path: Path) -> None:
    output = tmp_path / "order.hdf5"
    init = ["--init-start", QUERY[0], "--init-end", QUERY[1]]
    first = "sacr-cr5:to_nersc_ip-e,sunn-cr5:to_nersc_ip-b"
    assert (
        archive_esnet_snmp.main(["-o", str(output), *init, QUERY[0], "2019-02-11T01:02:00", first])
        == 0
    )
    assert (
        archive_esnet_snmp.main(
            ["-o", str(output), "--debug", *init, "2019-02-11T01:02:00", QUERY[1], "nersc"]
        )
        == 0
    )
    got = read_tts(output)
    columns = got["readrates/columns"]
    assert columns[:2] == ["sacr-cr5:to_nersc_ip-e", "sunn-cr5:to_nersc_ip-b"]
    assert sorted(columns) == sorted(COLUMNS)
    pairs = [tuple(c.split(":", 1)) for c in columns]
    want = expected_matrix(data, "in", got["timestamps"], pairs)  # type: ignore[arg-type]
    for col, column in enumerate(columns):
        if column not in first.split(","):
            want[:4, col] = -0.0  # only asked from 01:02 on
    assert same(got["readrates"], want)


def test_archive_with_a_failing_interface(
    site: EsnetServer,
    data: Data,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    site.fault("sunn-cr5:to_nersc_ip-d_v6:out", status=500)
    site.fault("sacr-cr5:to_nersc_ip-e:in", empty=True)
    site.fault("sunn-cr5:to_nersc_ip-b:in", statuses=[502, 503])  # recovers
    output = tmp_path / "partial.hdf5"
    assert (
        as_program(archive_esnet_snmp.main, ["--retries", "2", "-o", str(output), *QUERY, "nersc"])
        == 1
    )
    captured = capsys.readouterr()
    assert "Writing out /datatargets/readrates" in captured.out and output.exists()
    assert (
        "archive_esnet_snmp: 2 request(s) failed: sunn-cr5:to_nersc_ip-d_v6:out: GET"
        in captured.err
    )
    assert "sacr-cr5:to_nersc_ip-e:in: no data in the answer" in captured.err.splitlines()[-1]
    assert site.counts["sunn-cr5:to_nersc_ip-d_v6:out"] == 3
    assert site.counts["sunn-cr5:to_nersc_ip-b:in"] == 3
    lost = json.loads(json.dumps(data))
    del lost["sunn-cr5"]["to_nersc_ip-d_v6"]["out"]
    del lost["sacr-cr5"]["to_nersc_ip-e"]["in"]
    check_file(
        output,
        {
            e: {
                i: {d: {int(t): v for t, v in s.items()} for d, s in x.items() if d != "units"}
                for i, x in y.items()
            }
            for e, y in lost.items()
        },
    )
    assert "sunn-cr5:to_nersc_ip-d_v6:out: HttpError" in caplog.text


def test_archive_when_every_request_fails(
    site: EsnetServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.fault("*", status=503)
    output = tmp_path / "nothing.hdf5"
    assert (
        as_program(
            archive_esnet_snmp.main,
            ["--retries", "0", "-o", str(output), *QUERY, "sunn-cr5:to_nersc_ip-b"],
        )
        == 1
    )
    assert "archive_esnet_snmp: 2 request(s) failed" in capsys.readouterr().err
    assert not output.exists()


def test_archive_different_point_counts(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    del site.data["sunn-cr5"]["to_nersc_ip-b"]["out"][T0 + 60]
    output = tmp_path / "counts.hdf5"
    assert (
        as_program(archive_esnet_snmp.main, ["-o", str(output), *QUERY, "sunn-cr5:to_nersc_ip-b"])
        == 1
    )
    assert (
        "interfaces returned different numbers of points: sunn-cr5:to_nersc_ip-b:in=11, sunn-cr5:to_nersc_ip-b:out=10"
        in capsys.readouterr().err
    )
    with h5py.File(output, "r") as h5:  # everything that came was still written
        assert (
            h5["datatargets/writerates"][1, 0] == data["sunn-cr5"]["to_nersc_ip-b"]["out"][T0 + 30]
        )
        assert np.signbit(h5["datatargets/writerates"][2, 0])


def test_archive_errors(
    site: EsnetServer, data: Data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = write_cache(data, tmp_path / "in.json")
    output = str(tmp_path / "x.hdf5")
    assert (
        as_program(
            archive_esnet_snmp.main, ["-i", str(cache), "-o", output, *QUERY, "sunn-cr5:nope"]
        )
        == 1
    )
    assert capsys.readouterr().err == f"archive_esnet_snmp: sunn-cr5:nope is not in {cache}\n"
    assert as_program(archive_esnet_snmp.main, ["-o", output, QUERY[1], QUERY[0], "nersc"]) == 1
    assert "archive_esnet_snmp: query_start >= query_end" in capsys.readouterr().err
    init = ["--init-start", QUERY[1], "--init-end", QUERY[0]]
    assert as_program(archive_esnet_snmp.main, ["-o", output, *init, *QUERY, "nersc"]) == 1
    assert "archive_esnet_snmp: query_start >= query_end" in capsys.readouterr().err
    assert (
        as_program(archive_esnet_snmp.main, ["--timestep", "0", "-o", output, *QUERY, "nersc"]) == 1
    )
    assert "timestep must be at least 1, not 0" in capsys.readouterr().err
    assert as_program(archive_esnet_snmp.main, ["-o", output, *QUERY, "bogus"]) == 1
    assert capsys.readouterr().err.startswith(
        "Invalid endpoint specification.\nValid endpoints: nersc\n"
    )
    for argv, code in (
        (["-o", output, QUERY[0], "nersc"], 2),
        (["--timestep", "x", *QUERY, "nersc"], 2),
        (["--follow", "-i", str(cache), "nersc"], 2),
        (["--help"], 0),
    ):
        with pytest.raises(SystemExit) as caught:
            archive_esnet_snmp.main(argv)
        assert caught.value.code == code
    assert "datatargets/readrates" in capsys.readouterr().out
    assert site.counts == {}


def test_archive_function_and_abbreviations(site: EsnetServer, data: Data, tmp_path: Path) -> None:
    cache = write_cache(data, tmp_path / "in.json")
    start, end = datetime.datetime(2019, 2, 11, 1), datetime.datetime(2019, 2, 11, 1, 5)
    archiver = archive_esnet_snmp.archive_esnet_snmp(
        init_start=start,
        init_end=end,
        interfaces=PAIRS,
        timestep=30,
        output_file=str(tmp_path / "f.hdf5"),
        query_start=start,
        query_end=end,
        input_file=str(cache),
    )
    assert list(archiver) == ["datatargets/readrates", "datatargets/writerates"]
    assert archiver["datatargets/readrates"].columns == COLUMNS
    check_file(tmp_path / "f.hdf5", data)
    assert archive_esnet_snmp.endpoint_name("sunn-cr5", "to_nersc_ip-b") == "sunn-cr5:to_nersc_ip-b"
    # abbreviated long options, as argparse allows
    out = tmp_path / "abbrev.hdf5"
    assert (
        archive_esnet_snmp.main(
            ["--inp", str(cache), "--out", str(out), "--times", "30", *QUERY, "nersc"]
        )
        == 0
    )
    check_file(out, data)


def test_runs_as_a_module(site: EsnetServer, data: Data, tmp_path: Path) -> None:
    cache = write_cache(data, tmp_path / "in.json")
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.cache_esnet_snmp", "-i", str(cache), "sunn-cr5:x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(data))
