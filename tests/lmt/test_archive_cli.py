"""The archive_lmtdb tool (CLI.md 3.3): output files compared with the corpus reference TTS."""

from __future__ import annotations

import contextlib
import datetime
import io
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
from lmt_mariadb import MariaDbServer
from lmt_paths import SNX_HDF5, SNX_SQLITE

from atokio.archive.driver import DayOptions, DayResult, SourceSpec, archive_days
from atokio.cli import archive_lmtdb
from atokio.cli._common import as_program
from atokio.pipelines.archive_lmtdb import lmtdb_source

QUERY = ["2018-01-28T00:00:00", "2018-01-28T00:05:00"]
DAY = ["--init-start", "2018-01-28T00:00:00", "--init-end", "2018-01-29T00:00:00"]
UNITS = {
    "datatargets": "bytes",
    "fullness/bytes": "KiB",
    "fullness/bytestotal": "KiB",
    "fullness/inodes": "inodes",
    "fullness/inodestotal": "inodes",
    "dataservers": "%",
    "mdservers": "%",
    "mdtargets": "ops",
}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = as_program(archive_lmtdb.main, argv)
    return status, out.getvalue(), err.getvalue()


def logged(stderr: str) -> list[str]:
    """The INFO messages of a ``--debug`` run (what the tool reports as it works)."""
    return [line[len("INFO: ") :] for line in stderr.splitlines() if line.startswith("INFO: ")]


def datasets_of(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as h5:
        h5.visititems(
            lambda name, obj: (
                names.append(name)
                if isinstance(obj, h5py.Dataset) and not name.endswith("timestamps")
                else None
            )
        )
    return sorted(names)


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes | np.bytes_) else str(value)


def assert_matches_reference(path: Path, rows: slice = slice(0, 60)) -> None:
    """Every dataset equals the reference value by value (sign of zero included)."""
    with h5py.File(SNX_HDF5, "r") as ref, h5py.File(path, "r") as out:
        assert datasets_of(path) == datasets_of(SNX_HDF5)
        for name in datasets_of(SNX_HDF5):
            want = ref[name][...]
            got = out[name][rows]
            assert got.shape == want.shape, name
            assert np.array_equal(got, want) and np.array_equal(
                np.signbit(got), np.signbit(want)
            ), name
            assert [text(c) for c in out[name].attrs["columns"]] == [
                text(c) for c in ref[name].attrs["columns"]
            ]
            units = UNITS.get(name, UNITS.get(name.split("/")[0]))
            assert text(out[name].attrs["units"]) == units, name
            assert text(out[name].attrs["version"]) == "1"
        for group in ("datatargets", "fullness", "dataservers", "mdservers", "mdtargets"):
            assert text(out[group].attrs["source"]) == "lmt"
        assert text(out.attrs["version"]) == "1"


def test_sample_window_equals_reference(lmt_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.hdf5"
    status, stdout, stderr = run(["-i", str(SNX_SQLITE), "-o", str(out), *QUERY])
    assert status == 0, stderr
    assert stderr == ""
    assert_matches_reference(out)
    with h5py.File(out, "r") as h5:
        assert int(h5.attrs["start"]) == 1517126400 and int(h5.attrs["end"]) == 1517126700
        assert h5["datatargets/timestamps"][...].tolist() == list(range(1517126400, 1517126700, 5))
    # pytokio's progress lines, on stdout (CLI.md, archive tools)
    lines = stdout.splitlines()
    assert lines[0] == "Initialized datatargets/readbytes in / with size (60, 24)"
    assert "Initialized mdtargets/opens in / with size (60, 1)" in lines
    assert lines[21] == "Writing out /datatargets/readbytes"
    assert lines[-1] == "Writing out /mdtargets/getattrs"
    assert len(lines) == 42
    out.unlink()
    status, stdout2, stderr = run(["-i", str(SNX_SQLITE), "-o", str(out), "--debug", *QUERY])
    assert status == 0 and stdout2 == stdout
    assert_matches_reference(out)
    assert logged(stderr) == lines  # also logged, for --debug runs


def test_day_file_filled_piece_by_piece(lmt_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "day.hdf5"
    first = ["2018-01-28T00:00:00", "2018-01-28T00:02:30"]
    second = ["2018-01-28T00:02:30", "2018-01-28T00:05:00"]
    status, _, stderr = run(["-i", str(SNX_SQLITE), "-o", str(out), "--debug", *DAY, *first])
    assert status == 0
    assert logged(stderr)[0] == "Initialized datatargets/readbytes in / with size (17280, 24)"
    # abbreviated long options are accepted (argparse prefix matching)
    status, stdout, stderr = run(
        [
            "-i",
            str(SNX_SQLITE),
            "-o",
            str(out),
            "--init-s",
            DAY[1],
            "--init-e",
            DAY[3],
            "--time",
            "5",
            "--debug",
            *second,
        ]
    )
    assert status == 0
    assert not any(line.startswith("Initialized") for line in stdout.splitlines())
    assert stdout.startswith("Writing out /datatargets/readbytes\n")
    assert not any(line.startswith("Initialized") for line in logged(stderr))
    assert stderr.endswith(f"Wrote output to {out}\n")
    assert_matches_reference(out)
    with h5py.File(out, "r") as h5:
        rest = h5["datatargets/readbytes"][60:]
        assert rest.shape == (17220, 24)
        assert np.all((rest == 0) & np.signbit(rest))  # the rest of the day is missing
        assert int(h5.attrs["end"]) - int(h5.attrs["start"]) == 86400


def test_existing_columns_order_is_kept(lmt_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "shuffled.hdf5"
    assert (
        run(["-i", str(SNX_SQLITE), "-o", str(out), *DAY, QUERY[0], "2018-01-28T00:01:00"])[0] == 0
    )
    with h5py.File(out, "a") as h5:  # a file whose columns are in another order
        data = h5["fullness/bytes"]
        order = np.arange(24)[::-1]
        data[...] = data[...][:, order]
        data.attrs["columns"] = data.attrs["columns"][order]
    assert (
        run(["-i", str(SNX_SQLITE), "-o", str(out), *DAY, "2018-01-28T00:01:00", QUERY[1]])[0] == 0
    )
    with h5py.File(out, "r") as h5, h5py.File(SNX_HDF5, "r") as ref:
        columns = [text(c) for c in h5["fullness/bytes"].attrs["columns"]]
        assert columns == [f"snx11025-OST{i:04x}" for i in range(23, -1, -1)]
        assert np.array_equal(h5["fullness/bytes"][:60], ref["fullness/bytes"][...][:, ::-1])


def test_failures(lmt_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "PYTOKIO_LMT_HOST",
        "PYTOKIO_LMT_USER",
        "PYTOKIO_LMT_PASSWORD",
        "PYTOKIO_LMT_DB",
    ):
        monkeypatch.delenv(variable, raising=False)
    out = tmp_path / "f.hdf5"
    lite = ["-i", str(SNX_SQLITE), "-o", str(out)]
    status, _, err = run([*lite, QUERY[1], QUERY[0]])
    assert status == 1 and "query_start >= query_end" in err
    status, _, err = run([*lite, "--init-start", QUERY[1], "--init-end", QUERY[0], *QUERY])
    assert status == 1 and "query_start >= query_end" in err
    assert run([*lite, "--timestep", "0", *QUERY])[0] == 1
    assert run([*lite, "2018-01-28 00:00:00", QUERY[1]])[0] == 1
    status, _, err = run(["-o", str(out), *QUERY])
    assert status == 1 and "No databases available to query" in err
    missing = tmp_path / "missing.sqlite3"
    assert run(["-i", str(missing), "-o", str(out), *QUERY])[0] == 1
    assert not missing.exists()
    with pytest.raises(SystemExit) as usage:
        run([*lite, QUERY[0]])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as usage:
        run([*lite, "--timestep", "five", *QUERY])
    assert usage.value.code == 2
    assert not out.exists()

    # an existing file: rows outside it, or a new dataset with another range
    assert run([*lite, *QUERY])[0] == 0
    status, _, err = run([*lite, "2018-01-28T00:04:00", "2018-01-28T00:06:00"])
    assert status == 1 and "cannot commit dataset that is not a subset of existing data" in err
    with h5py.File(out, "a") as h5:
        del h5["mdtargets/opens"]
    status, _, err = run([*lite, *DAY, *QUERY])
    assert status == 1 and "Mismatched start or end values" in err


def test_mariadb_equals_sqlite(
    mariadb: MariaDbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTOKIO_LMT_HOST", f"{mariadb.host}:{mariadb.port}")
    monkeypatch.setenv("PYTOKIO_LMT_USER", mariadb.user)
    monkeypatch.setenv("PYTOKIO_LMT_PASSWORD", mariadb.password)
    monkeypatch.setenv("PYTOKIO_LMT_DB", "snx11025")
    out = tmp_path / "remote.hdf5"
    status, _, err = run(["-o", str(out), *QUERY])
    assert status == 0, err
    assert_matches_reference(out)
    # the same under trio (asyncmy bridged through its helper loop)
    monkeypatch.setenv("ATOKIO_BACKEND", "trio")
    out_trio = tmp_path / "remote-trio.hdf5"
    assert run(["--database", "snx11025", "-o", str(out_trio), *DAY, *QUERY])[0] == 0
    assert_matches_reference(out_trio)


def test_reset_sample_from_both_sources(mariadb: MariaDbServer, tmp_path: Path) -> None:
    from lmt_paths import RESET_SQLITE

    window = ["2018-04-18T07:35:15", "2018-04-18T07:40:35"]
    lite = tmp_path / "lite.hdf5"
    remote = tmp_path / "remote.hdf5"
    assert run(["-i", str(RESET_SQLITE), "-o", str(lite), *window])[0] == 0
    args = ["--host", f"{mariadb.host}:{mariadb.port}", "--user", mariadb.user]
    args += ["--password", mariadb.password, "--database", "lmtdb_reset"]
    assert run([*args, "-o", str(remote), *window])[0] == 0
    with h5py.File(lite, "r") as a, h5py.File(remote, "r") as b:
        for name in datasets_of(lite):
            x, y = a[name][...], b[name][...]
            assert np.array_equal(x, y) and np.array_equal(np.signbit(x), np.signbit(y)), name
            assert not np.any(x < 0)
        assert a["mdtargets/opens"].shape == (64, 5)


def test_daylight_saving_change(lmt_corpus: Path, tmp_path: Path) -> None:
    """Across 2018-03-11 02:00 PST -> 03:00 PDT the rows follow real time (no hour lost)."""
    from lmt_data import make_cycled

    source = tmp_path / "dst.sqlite3"
    make_cycled(source, 241, start=datetime.datetime(2018, 3, 11, 1, 50))
    out = tmp_path / "dst.hdf5"
    assert (
        run(["-i", str(source), "-o", str(out), "2018-03-11T01:50:00", "2018-03-11T03:10:00"])[0]
        == 0
    )
    with h5py.File(out, "r") as h5, h5py.File(SNX_HDF5, "r") as ref:
        stamps = h5["datatargets/timestamps"][...]
        assert len(stamps) == 240 and np.all(np.diff(stamps) == 5)
        for name in ("datatargets/readbytes", "mdtargets/opens", "fullness/bytes"):
            want = np.tile(ref[name][...], (4, 1))
            got = h5[name][...]
            assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))


def test_another_timestep_into_an_existing_file_fails(lmt_corpus: Path, tmp_path: Path) -> None:
    """FORMATS.md 14.4: new data must have the file's time step; nothing is overwritten."""
    out = tmp_path / "day.hdf5"
    assert run(["-i", str(SNX_SQLITE), "-o", str(out), *QUERY])[0] == 0
    with h5py.File(out, "r") as h5:
        before = h5["dataservers/cpuload"][...]
    status, _, err = run(["-i", str(SNX_SQLITE), "-o", str(out), "--timestep", "10", *QUERY])
    assert status == 1
    assert f"archive_lmtdb: {out}: rows of 5 s in /dataservers, not 10 s: use --timestep 5" in err
    with h5py.File(out, "r") as h5:
        assert np.array_equal(h5["dataservers/cpuload"][...], before, equal_nan=True)


def test_a_non_tts_output_is_refused_and_left_alone(lmt_corpus: Path, tmp_path: Path) -> None:
    h5lmt = tmp_path / "snx11025_2018-01-28.h5lmt"
    with h5py.File(h5lmt, "w") as h5:
        h5.create_dataset("FSStepsGroup/FSStepsDataSet", data=np.arange(10))
        h5.create_dataset("OSTReadGroup/OSTBulkReadDataSet", data=np.zeros((24, 10)))
    before = h5lmt.read_bytes()
    status, _, err = run(["-i", str(SNX_SQLITE), "-o", str(h5lmt), *QUERY])
    assert status == 1
    assert (
        f"archive_lmtdb: {h5lmt}: not a TOKIO Time Series file (H5LMT or another layout): "
        "choose another output"
    ) in err
    assert h5lmt.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [h5lmt.name]  # no scratch left


def test_a_half_made_output_is_rebuilt(lmt_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.hdf5"
    assert run(["-i", str(SNX_SQLITE), "-o", str(out), *QUERY])[0] == 0
    out.write_bytes(out.read_bytes()[:4096])  # as a crash of an older release could leave it
    status, _, err = run(["-i", str(SNX_SQLITE), "-o", str(out), *QUERY])
    assert status == 0
    assert f"WARNING: archive_lmtdb: {out} was left half-made by an interrupted run" in err
    assert_matches_reference(out)


def test_archive_day_is_a_picklable_unit_of_work(lmt_corpus: Path, tmp_path: Path) -> None:
    """One day file from plain arguments, as a scale-out task would run it."""
    spec = SourceSpec(lmtdb_source, {"timestep": 5, "cache_file": str(SNX_SQLITE)})
    options = DayOptions(
        str(tmp_path / "fs-%Y-%m-%d.hdf5"),
        query_start=datetime.datetime(2018, 1, 28),
        query_end=datetime.datetime(2018, 1, 28, 0, 5),
    )
    spec, options = pickle.loads(pickle.dumps((spec, options)))
    results = archive_days(
        spec, datetime.date(2018, 1, 28), datetime.date(2018, 1, 29), options, show_progress=False
    )
    day_file = tmp_path / "fs-2018-01-28.hdf5"
    assert results == [
        DayResult(datetime.date(2018, 1, 28), str(day_file), True),
        DayResult(datetime.date(2018, 1, 29), str(tmp_path / "fs-2018-01-29.hdf5"), False),
    ]
    assert_matches_reference(day_file)
    with h5py.File(day_file, "r") as h5:
        assert int(h5.attrs["end"]) - int(h5.attrs["start"]) == 86400
        rest = h5["datatargets/readbytes"][60:]
        assert np.all((rest == 0) & np.signbit(rest))
    assert sorted(p.name for p in tmp_path.iterdir()) == [day_file.name]
