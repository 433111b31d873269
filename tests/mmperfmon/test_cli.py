"""cache_mmperfmon and archive_mmperfmon: outputs, exit status, TTS contents."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from mmpm_data import CORPUS_FILES, USAGE, WRAPPED, corpus_file
from test_parser import HOST1, HOST2, T1, T2, T3, epoch

from atokio import config
from atokio.cli import archive_mmperfmon, cache_mmperfmon
from atokio.connectors.mmperfmon import Mmperfmon

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    usage = tmp_path / "node1.example.org.2019-01-11-10:00:00.out"
    usage.write_text(USAGE)
    wrapped = tmp_path / "node2.example.org.2019-01-11-10:00:00.out"
    wrapped.write_text(WRAPPED)
    return usage, wrapped


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, inputs: tuple[Path, Path]) -> Path:
    monkeypatch.setitem(
        config.CONFIG,
        "mmperfmon_lun_map",
        {r"^ddn\d+dt\d+$": "datatarget", r"^na\d+md\d+$": "mdtarget"},
    )
    monkeypatch.setitem(config.CONFIG, "mmperfmon_server_map", {r"^node2": "mdserver"})
    monkeypatch.setitem(
        config.CONFIG,
        "mmperfmon_output_files",
        {"smallfs": [str(tmp_path / "node*.example.org.%Y-%m-%d-%H:00:00.out")]},
    )
    return tmp_path


# -- cache_mmperfmon ----------------------------------------------------------------------


def test_cache_json_to_stdout_is_compact(
    inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    usage, wrapped = inputs
    assert cache_mmperfmon.main([str(usage), str(wrapped)]) == 0
    out = capsys.readouterr().out
    expected = Mmperfmon.from_str(USAGE)
    expected.load_str(WRAPPED)
    assert out == json.dumps(expected)
    assert not out.endswith("\n")
    assert out.startswith(
        '{"%d": {"node1.example.org": {"cpu_user": 0.2, "mem_total_bytes": 32894877696.0, '
        '"net_r_bytes": {"lo": 1740.8}}, "node2.example.org": {"gpfs_nsdds_bytes_read": ' % T1
    )


def test_cache_json_to_file(
    inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    assert cache_mmperfmon.main(["-o", str(out), "--json", str(inputs[0])]) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    assert out.read_text() == json.dumps(Mmperfmon.from_str(USAGE))
    # a JSON cache is an input too
    assert cache_mmperfmon.main([str(out)]) == 0
    assert capsys.readouterr().out == out.read_text()


def test_cache_csv_by_host(inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cache_mmperfmon.main(["-c", "--host", HOST1, str(inputs[0])]) == 0
    assert capsys.readouterr().out == (
        "timestamp,cpu_user,mem_total_bytes,net_r_bytes:lo\n"
        "2019-01-11 10:01:00,0.2,32894877696.0,1740.8\n"
        "2019-01-11 10:02:00,0.0,32894877696.0,\n"
        "2019-01-11 10:03:00,10.0,1048576.0,2048.0\n"
        "\n"
    )


def test_cache_csv_by_metric_to_file(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "metric.csv"
    assert (
        cache_mmperfmon.main(
            ["--csv", "--metric", "gpfs_nsdds_bytes_read", "-o", str(out), str(inputs[1])]
        )
        == 0
    )
    assert out.read_text() == (
        "timestamp,node2.example.org:ddn1dt00,node2.example.org:ddn1dt01,node2.example.org:na1md00\n"
        "2019-01-11 10:01:00,1,2,3\n"
        "2019-01-11 10:02:00,4,5,6\n"
        "2019-01-11 10:03:00,7,8,9\n"
    )


def run_tool(tool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", f"atokio.cli.{tool}", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_cache_exit_status(inputs: tuple[Path, Path]) -> None:
    usage = str(inputs[0])
    assert run_tool("cache_mmperfmon", "--csv", usage).returncode == 2
    both = run_tool("cache_mmperfmon", "-c", "--host", "a", "--metric", "b", usage)
    assert both.returncode == 2
    assert "exactly one of --host or --metric" in both.stderr
    missing = run_tool("cache_mmperfmon", "/nonexistent.out")
    assert missing.returncode == 1
    assert "no such file" in missing.stderr
    assert run_tool("cache_mmperfmon").returncode == 2
    assert run_tool("cache_mmperfmon", "--help").returncode == 0


# -- archive_mmperfmon --------------------------------------------------------------------


def read(path: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    with h5py.File(path, "r") as h5:

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and not name.endswith("timestamps"):
                out[name] = ([c.decode() for c in obj.attrs["columns"]], obj[...])

        h5.visititems(visit)
    return out


def missing(values: np.ndarray) -> np.ndarray:
    return (values == 0) & np.signbit(values)


def logged(stderr: str) -> list[str]:
    """The INFO messages of a ``--debug`` run."""
    return [line[len("INFO: ") :] for line in stderr.splitlines() if line.startswith("INFO: ")]


def test_archive_master_form(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = site / "day" / "smallfs.hdf5"
    argv = [
        "--init-start", "2019-01-11T00:00:00", "--init-end", "2019-01-12T00:00:00",
        "--timestep", "60", "--filesystem", "smallfs", "--output", str(out), "--debug",
        "2019-01-11T00:00:00", "2019-01-12T00:00:00",
    ]  # fmt: skip
    assert archive_mmperfmon.main(argv) == 0
    printed = logged(capsys.readouterr().err)
    assert "Initialized datatargets/readbytes in / with size (1440, 2)" in printed
    assert "Initialized mdtargets/readbytes in / with size (1440, 1)" in printed
    assert "Initialized dataservers/cpuload in / with size (1440, 1)" in printed
    assert "Writing out /datatargets/readbytes" in printed
    data = read(out)
    assert sorted(data) == [
        "dataservers/cpuload", "dataservers/cpuuser", "dataservers/memtotal",
        "datatargets/readbytes", "datatargets/writebytes", "mdtargets/readbytes",
    ]  # fmt: skip
    columns, values = data["datatargets/readbytes"]
    assert columns == [f"{HOST2}:ddn1dt00", f"{HOST2}:ddn1dt01"]
    row = 600  # 10:00:00; the value stamped 10:01:00 covers 10:00-10:01
    assert values[row : row + 3].tolist() == [[1.0, 2.0], [4.0, 5.0], [7.0, 8.0]]
    assert missing(values[:row]).all() and missing(values[row + 3 :]).all()
    assert data["datatargets/writebytes"][1][row : row + 3, 0].tolist() == [11.0, 13.0, 15.0]
    assert data["mdtargets/readbytes"][0] == [f"{HOST2}:na1md00"]
    cpu_columns, cpu = data["dataservers/cpuuser"]
    assert cpu_columns == [HOST1]
    assert cpu[row : row + 3, 0].tolist() == [20.0, 0.0, 1000.0]  # x 100
    assert not np.signbit(cpu[row + 1, 0])  # a measured zero is +0.0
    assert data["dataservers/cpuload"][1][row : row + 3, 0].tolist() == [0.2, 0.0, 10.0]
    with h5py.File(out, "r") as h5:
        assert h5.attrs["start"] == epoch("2019-01-11-00:00:00")
        assert h5.attrs["end"] == epoch("2019-01-12-00:00:00")
        assert h5.attrs["version"] == "1"
        assert h5["datatargets"].attrs["source"] == "mmperfmon"
        assert h5["datatargets/readbytes"].attrs["units"] == "bytes"
        assert h5["dataservers/cpuuser"].attrs["units"] == "UNKNOWN"
        assert h5["datatargets/timestamps"][600] == epoch("2019-01-11-10:00:00")

    # again, with one input only: the cells it does not cover keep their values
    argv_again = [*argv[:-2], "--files", str(site / "node2.example.org.2019-01-11-10:00:00.out")]
    assert archive_mmperfmon.main(argv_again) == 0
    assert logged(capsys.readouterr().err) == [
        "Writing out /datatargets/readbytes",
        "Writing out /datatargets/writebytes",
        "Writing out /mdtargets/readbytes",
    ]
    again = read(out)
    for name, (cols, matrix) in data.items():
        assert again[name][0] == cols
        np.testing.assert_array_equal(again[name][1], matrix)


def test_archive_013_form_takes_the_range_from_the_data(
    inputs: tuple[Path, Path], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = site / "o.hdf5"
    assert archive_mmperfmon.main(["-o", str(out), "--timestep=60", "--debug", str(inputs[1])]) == 0
    with h5py.File(out, "r") as h5:
        assert h5.attrs["start"] == T1 - 60
        assert h5.attrs["end"] == T3
        assert h5["datatargets/readbytes"][...].tolist() == [[1.0, 2.0], [4.0, 5.0], [7.0, 8.0]]
    assert "Writing out /mdtargets/readbytes" in logged(capsys.readouterr().err)


def test_archive_function_autodetects_the_timestep(inputs: tuple[Path, Path], site: Path) -> None:
    out = site / "auto.hdf5"
    archiver = archive_mmperfmon.archive_mmperfmon(
        None, None, None, None, None, str(out), [str(p) for p in inputs]
    )
    assert archiver.timestep == 60
    assert archiver.server_type(HOST2) == "mdserver"
    assert archiver.server_type(HOST1) == "dataserver"
    assert archiver.lun_type("na1md00") == "mdtarget"
    assert archiver.lun_type("lo") is None
    assert sorted(archiver) == sorted(read(out))


def test_init_hdf5_file_is_idempotent(
    inputs: tuple[Path, Path], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archiver = archive_mmperfmon.Archiver(None, None, None, None, None)
    archiver.archive(Mmperfmon.from_file(str(inputs[1])))
    path = str(site / "init.hdf5")
    start, end = archiver.init_start, archiver.init_end
    assert start is not None and end is not None
    created = archive_mmperfmon.init_hdf5_file(archiver, start, end, path)
    assert sorted(created) == sorted(archiver)
    assert archive_mmperfmon.init_hdf5_file(archiver, start, end, path) == []
    with pytest.raises(IndexError, match="Mismatched start or end values"):
        archiver["mdtargets/extra"] = archiver["mdtargets/readbytes"]
        archive_mmperfmon.init_hdf5_file(archiver, start, start.replace(year=2030), path)


def test_unmapped_counter_is_skipped_with_a_warning(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = USAGE.replace("|CPU|cpu_user", "|CPU|cpu_weird").replace(" cpu_user ", " cpu_weird")
    archiver = archive_mmperfmon.Archiver(None, None, 60, None, None)
    archiver.archive(Mmperfmon.from_str(text))
    assert "dataservers/cpuuser" not in archiver
    assert "counter cpu_weird maps to no TTS dataset; skipped" in caplog.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filesystem", "smallfs", "2019-01-11T00:00:00"], "query_start"),
        (
            ["--filesystem", "smallfs", "2019-01-11 00:00:00", "2019-01-12T00:00:00"],
            "YYYY-MM-DDTHH:MM:SS",
        ),
        (["2019-01-11T00:00:00", "2019-01-12T00:00:00"], "--filesystem is required"),
        (
            ["--filesystem", "smallfs", "2019-01-12T00:00:00", "2019-01-11T00:00:00"],
            "before query_end",
        ),
        (["--init-start", "2019-01-11T00:00:00", "some.out"], "together"),
        (["--timestep", "0", "some.out"], "at least 1"),
        (["--timestep", "x", "some.out"], "invalid int value"),
        ([], "give --filesystem"),
    ],
)
def test_archive_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    done = run_tool("archive_mmperfmon", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_archive_failures_exit_1(tmp_path: Path) -> None:
    site_json = tmp_path / "site.json"
    site_json.write_text(
        json.dumps({"mmperfmon_output_files": {"fs": [str(tmp_path / "none-%Y.out")]}})
    )
    env_args = ["--filesystem", "fs", "2019-01-11T00:00:00", "2019-01-11T01:00:00"]
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.archive_mmperfmon", *env_args],
        capture_output=True, text=True, cwd=tmp_path, check=False,
        env=dict(os.environ, PYTHONPATH=str(REPO), PYTOKIO_CONFIG=str(site_json)),
    )  # fmt: skip
    assert done.returncode == 1
    assert "No input files match query range" in done.stderr
    unknown = run_tool(
        "archive_mmperfmon",
        "--filesystem",
        "nofs",
        "2019-01-11T00:00:00",
        "2019-01-11T01:00:00",
        cwd=tmp_path,
    )
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "archive_mmperfmon: file system 'nofs' is not in mmperfmon_output_files\n"
    )


def test_archive_corpus_micro_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus_file("micro")
    monkeypatch.chdir(CORPUS_FILES["micro"].parents[1])
    monkeypatch.setitem(
        config.CONFIG,
        "mmperfmon_lun_map",
        {r"^ddn\d+dt\d+$": "datatarget", r"^na\d+md\d+$": "mdtarget"},
    )
    monkeypatch.setitem(config.CONFIG, "mmperfmon_server_map", {"^ngfsv49[23]": "mdserver"})
    monkeypatch.setitem(
        config.CONFIG,
        "mmperfmon_output_files",
        {"testfs-micro": ["inputs/mmperfmon.%Y-%m-%d-micro.tgz"]},
    )
    out = tmp_path / "micro.hdf5"
    argv = [
        "--init-start", "2019-05-15T12:00:00", "--init-end", "2019-05-15T13:00:00",
        "--filesystem", "testfs-micro", "-o", str(out), "2019-05-15T12:00:00", "2019-05-15T13:00:00",
    ]  # fmt: skip
    assert archive_mmperfmon.main(argv) == 0
    data = read(out)
    shapes = {name: matrix.shape for name, (_, matrix) in data.items()}
    assert shapes["dataservers/cpuuser"] == (60, 4)
    assert shapes["mdservers/cpuuser"] == (60, 2)
    assert shapes["datatargets/readbytes"] == (60, 84)
    assert shapes["datatargets/writebytes"] == (60, 84)
    assert shapes["mdtargets/readbytes"] == (60, 40)
    for name, (_, matrix) in data.items():
        assert not missing(matrix).any(), name
    columns, cpu = data["dataservers/cpuuser"]
    assert columns[:2] == ["ngfsv448.nersc.gov", "ngfsv449.nersc.gov"]
    assert cpu[0, 1] == pytest.approx(21.0)  # ngfsv449 cpu_user 0.21 at 12:01:00, x 100
    assert data["dataservers/cpuload"][1][0, 1] == 0.21
    assert data["datatargets/readbytes"][0][0] == "ngfsv448.nersc.gov:ddn55dt00"
    assert T1 and T2  # shared constants used by the other tests


def test_archive_without_lun_map_warns_naming_the_key(
    site: Path,
    inputs: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Disk-level counters need mmperfmon_lun_map: without it they are dropped, with a warning."""
    monkeypatch.delitem(config.CONFIG, "mmperfmon_lun_map")
    out = site / "nolun.hdf5"
    with caplog.at_level(logging.WARNING, logger="atokio"):
        assert archive_mmperfmon.main(["-o", str(out), "--timestep=60", str(inputs[1])]) == 0
    warnings = [r.getMessage() for r in caplog.records if "mmperfmon_lun_map" in r.getMessage()]
    assert len(warnings) == 1  # once per run, not once per sample
    assert warnings[0] == (
        "mmperfmon_lun_map is not in the configuration: disk-level counters such as "
        "gpfs_nsdds_bytes_read are dropped; add mmperfmon_lun_map (LUN name regex -> "
        "datatarget/mdtarget) to site.json to archive them"
    )
    assert not out.exists()  # these inputs hold disk-level counters only
