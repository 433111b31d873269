"""tools.lfsstatus and the cache_lfsstatus command."""

from __future__ import annotations

import datetime
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy
import pytest
from lustre_data import concatenate, corpus_file, lctl_dl, lfs_df

from atokio import config
from atokio.cli import cache_lfsstatus
from atokio.cli._common import as_program
from atokio.common import ConfigError, to_epoch
from atokio.tools import lfsstatus

DAY = datetime.datetime(2019, 5, 15)
NOON = DAY + datetime.timedelta(hours=12)


def stamp(hour: int, minute: int = 0, second: int = 0) -> int:
    return to_epoch(DAY + datetime.timedelta(hours=hour, minutes=minute, seconds=second))


SAMPLES = [stamp(11, 30, 3), stamp(11, 45, 3), stamp(12, 0, 0), stamp(12, 15, 3)]


def fullness_text() -> str:
    # the OST usage grows with each sample; the 12:00:00 sample is marked by seed 2
    return concatenate(
        [(t, lfs_df([("snx11035", "/scratch2", 4)], seed=i * 1000)) for i, t in enumerate(SAMPLES)]
    )


def map_text() -> str:
    failed = [{}, {"snx11035": 3}, {}, {}]
    return concatenate(
        [
            (t + 1, lctl_dl([("snx11035", 4, 101)], failed_over=f))
            for t, f in zip(SAMPLES, failed, strict=True)
        ]
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch) -> Path:
    """A site with dated NERSC files for DAY and a configuration pointing at them."""
    day = tmp_path / "inputs" / DAY.strftime("%Y-%m-%d")
    day.mkdir(parents=True)
    (day / "osts.txt.gz").write_bytes(gzip.compress(fullness_text().encode()))
    (day / "ost-map.txt").write_text(map_text())
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "fsname_to_backend_name": {"scratch2": "snx11035", "scratch1": "snx11025"},
        "lfsstatus_fullness_files": ["inputs/%Y-%m-%d/osts.txt.gz", "inputs/%Y-%m-%d/osts.txt"],
        "lfsstatus_map_files": ["inputs/%Y-%m-%d/ost-map.txt.gz", "inputs/%Y-%m-%d/ost-map.txt"],
        "lfsstatus_fullness_providers": ["hdf5", "nersc_lfsstate"],
        "hdf5_files": {"scratch1": ["inputs/%Y-%m-%d/snx11025.hdf5"]},
    }.items():
        monkeypatch.setitem(config.CONFIG, key, value)
    return tmp_path


def expected_fullness(seed: int) -> dict:
    used = [60000000000 + 1000003 * i + seed for i in range(4)]
    return {
        "ost_least_full_kib": used[0],
        "ost_least_full_name": "OST0000",
        "ost_least_full_id": 0,
        "ost_least_full_pct": 100.0 * used[0] / 90767651352,
        "ost_most_full_kib": used[3],
        "ost_most_full_name": "OST0003",
        "ost_most_full_id": 3,
        "ost_most_full_pct": 100.0 * used[3] / 90767651352,
        "ost_avg_full_kib": int(sum(used) / 4),
        "ost_avg_full_pct": 100.0 * sum(used) / (4 * 90767651352),
        "ost_count": 4,
    }


def test_fullness_picks_the_sample_at_or_before(site: Path) -> None:
    result = lfsstatus.get_fullness("scratch2", NOON)
    assert result == {
        **expected_fullness(2000),
        "ost_actual_timestamp": SAMPLES[2],
        "ost_next_timestamp": SAMPLES[3],
        "ost_requested_timestamp": to_epoch(NOON),
    }
    before = lfsstatus.get_fullness_lfsstate("snx11035", NOON - datetime.timedelta(seconds=1))
    assert before["ost_actual_timestamp"] == SAMPLES[1]
    early = lfsstatus.get_fullness("scratch2", DAY + datetime.timedelta(hours=1))
    assert early["ost_actual_timestamp"] == SAMPLES[0]
    assert early["ost_next_timestamp"] == SAMPLES[1]
    late = lfsstatus.get_fullness("scratch2", DAY + datetime.timedelta(hours=23))
    assert late["ost_actual_timestamp"] == SAMPLES[3]
    assert late["ost_next_timestamp"] == SAMPLES[3] + 1  # no later sample: pytokio's value


def test_failures(site: Path) -> None:
    at = DAY + datetime.timedelta(hours=11, minutes=50)
    assert lfsstatus.get_failures("scratch2", at) == {
        "ost_overloaded_oss_count": 1,
        "ost_overloaded_ost_count": 2,
        "ost_avg_overloaded_ost_per_oss": 2.0,
        "ost_avg_overloaded_overload_factor": 2.0,
        "ost_actual_timestamp": SAMPLES[1] + 1,
        "ost_next_timestamp": SAMPLES[2] + 1,
        "ost_requested_timestamp": to_epoch(at),
    }
    healthy = lfsstatus.get_failures_lfsstate("snx11035", NOON + datetime.timedelta(minutes=5))
    assert healthy["ost_overloaded_oss_count"] == 0
    assert healthy["ost_avg_overloaded_ost_per_oss"] == 0.0


def test_summaries_directly() -> None:
    assert lfsstatus._summarize_failover(
        {"mode": 2, "abnormal_ips": {"a": ["OST1", "OST2", "OST3", "OST4"], "b": ["OST5"]}}
    ) == {
        "ost_overloaded_oss_count": 1,
        "ost_overloaded_ost_count": 4,
        "ost_avg_overloaded_ost_per_oss": 4.0,
        "ost_avg_overloaded_overload_factor": 2.0,
    }
    with pytest.raises(ValueError, match="no OST"):
        lfsstatus._summarize_fullness({"MDT0000": {"used_kib": 1, "total_kib": 2}})


def test_errors(site: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="metric must be"):
        lfsstatus.get_lfsstate("snx11035", NOON, "inodes")
    with pytest.raises(KeyError, match="snx99999 is not in the fullness sample"):
        lfsstatus.get_fullness_lfsstate("snx99999", NOON)
    with pytest.raises(OSError, match="no failures files found"):
        lfsstatus.get_failures("scratch2", NOON + datetime.timedelta(days=5))
    with pytest.raises(ConfigError, match="no valid fullness provider for scratch2") as caught:
        lfsstatus.get_fullness("scratch2", NOON + datetime.timedelta(days=5))
    assert "hdf5: KeyError" in str(caught.value) and "nersc_lfsstate: OSError" in str(caught.value)
    monkeypatch.setitem(config.CONFIG, "lfsstatus_fullness_providers", ["nope"])
    with pytest.raises(ConfigError, match="nope: unknown provider"):
        lfsstatus.get_fullness("scratch2", NOON)


def test_cache_file_path_or_basename(site: Path) -> None:
    other = site / "elsewhere.txt"
    other.write_text(concatenate([(SAMPLES[0], lfs_df([("snx11035", "/scratch2", 4)]))]))
    result = lfsstatus.get_fullness("scratch2", NOON, cache_file=str(other))
    assert result["ost_actual_timestamp"] == SAMPLES[0]
    by_name = lfsstatus.get_fullness("scratch2", NOON, cache_file="osts.txt.gz")
    assert by_name["ost_actual_timestamp"] == SAMPLES[2]
    failures = lfsstatus.get_failures("scratch2", NOON, cache_file="ost-map.txt")
    assert failures["ost_actual_timestamp"] == SAMPLES[1] + 1
    with pytest.raises(ConfigError, match="missing.txt: not found"):
        lfsstatus.get_fullness("scratch2", NOON, cache_file="missing.txt")


def write_tts(path: Path, start: datetime.datetime, rows: int, units: str) -> list[int]:
    """A TTS file with fullness/bytes and bytestotal, one row per minute; row 3 missing."""
    stamps = [to_epoch(start) + 60 * i for i in range(rows)]
    used = numpy.array([[1000.0 * 1024 * (i + 1), 2000.0 * 1024 * (i + 1)] for i in range(rows)])
    total = numpy.full((rows, 2), 8000.0 * 1024 * rows)
    used[3, :] = -0.0
    total[3, :] = -0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        h5.attrs["version"] = numpy.bytes_("1")
        h5.attrs["start"] = stamps[0]
        h5.attrs["end"] = stamps[-1] + 60
        group = h5.create_group("fullness")
        group.create_dataset("timestamps", data=numpy.array(stamps, dtype=numpy.int64))
        for name, values in (("bytes", used), ("bytestotal", total)):
            dataset = group.create_dataset(name, data=values)
            dataset.attrs["columns"] = numpy.array([b"snx11025-OST0000", b"snx11025-OST000a"])
            dataset.attrs["units"] = numpy.bytes_(units)
            dataset.attrs["version"] = numpy.bytes_("1")
    return stamps


@pytest.mark.parametrize(("units", "divisor"), [("bytes", 1024), ("KiB", 1)])
def test_hdf5_provider(site: Path, units: str, divisor: int) -> None:
    path = site / "inputs" / DAY.strftime("%Y-%m-%d") / "snx11025.hdf5"
    stamps = write_tts(path, NOON, 6, units)
    # 12:03:30 is in row 3, which is missing: row 2 is used
    when = NOON + datetime.timedelta(minutes=3, seconds=30)
    for name in ("scratch1", "snx11025"):
        result = lfsstatus.get_fullness_hdf5(name, when)
        k = 1024 // divisor
        assert result == {
            "ost_least_full_kib": 3000 * k,
            "ost_least_full_name": "OST0000",
            "ost_least_full_id": 0,
            "ost_least_full_pct": 100.0 * 3000 / 48000,
            "ost_most_full_kib": 6000 * k,
            "ost_most_full_name": "OST000a",
            "ost_most_full_id": 10,
            "ost_most_full_pct": 100.0 * 6000 / 48000,
            "ost_avg_full_kib": 4500 * k,
            "ost_avg_full_pct": 100.0 * 9000 / 96000,
            "ost_count": 2,
            "ost_actual_timestamp": stamps[2],
            "ost_next_timestamp": stamps[4],
            "ost_requested_timestamp": to_epoch(when),
        }
    assert lfsstatus.get_fullness("scratch1", when)["ost_actual_timestamp"] == stamps[2]
    # an explicit file bypasses the hdf5 provider
    (site / "inputs" / DAY.strftime("%Y-%m-%d") / "osts.txt").write_text(
        concatenate([(stamps[0], lfs_df([("snx11025", "/scratch1", 2)]))])
    )
    assert lfsstatus.get_fullness("scratch1", when, cache_file="osts.txt")["ost_count"] == 2


def test_hdf5_provider_bad_column(site: Path) -> None:
    path = site / "inputs" / DAY.strftime("%Y-%m-%d") / "snx11025.hdf5"
    write_tts(path, NOON, 4, "KiB")
    with h5py.File(path, "a") as h5:
        h5["fullness/bytes"].attrs["columns"] = numpy.array([b"snx11025-OST0000", b"weird"])
    with pytest.raises(ValueError, match="cannot derive an OST index from the column name 'weird'"):
        lfsstatus.get_fullness_hdf5("scratch1", NOON)


# -- the command ----------------------------------------------------------------------------
def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = as_program(cache_lfsstatus.main, list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_fullness_stdout(site: Path, capsys) -> None:
    status, out, _ = run_cli(capsys, "scratch2", NOON.strftime("%Y-%m-%dT%H:%M:%S"), "--fullness")
    assert status == 0
    expected = {
        **expected_fullness(2000),
        "ost_actual_timestamp": SAMPLES[2],
        "ost_next_timestamp": SAMPLES[3],
        "ost_requested_timestamp": to_epoch(NOON),
    }
    assert out == json.dumps(expected, indent=4, sort_keys=True) + "\n"


def test_cli_failure_file_and_output(site: Path, capsys, tmp_path: Path) -> None:
    out_file = tmp_path / "out.json"
    status, out, _ = run_cli(
        capsys, "--fail", "inputs/2019-05-15/ost-map.txt", "-o", str(out_file), "scratch2",
        "2019-05-15T11:50:00",
    )  # fmt: skip
    assert status == 0
    assert out == f"Caching to {out_file}\n"
    data = out_file.read_text()
    assert not data.endswith("\n")
    assert json.loads(data)["ost_overloaded_ost_count"] == 2
    assert data.startswith('{"ost_overloaded_oss_count": 1, "ost_overloaded_ost_count": 2, ')


def test_cli_optional_value_swallows_the_positional(site: Path, capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_lfsstatus.main(["--failure", "scratch2", "2019-05-15T12:00:00"])
    assert caught.value.code == 2
    assert "the following arguments are required: datetime" in capsys.readouterr().err
    status, out, _ = run_cli(capsys, "--failure", "--", "scratch2", "2019-05-15T12:00:00")
    # the map sample of 12:00:01 is after the requested time: the one of 11:45:04 is used
    assert status == 0 and json.loads(out)["ost_actual_timestamp"] == SAMPLES[1] + 1


@pytest.mark.parametrize(
    "argv",
    [
        ["scratch2", "2019-05-15T12:00:00"],
        ["--fullness", "--failure", "scratch2", "2019-05-15T12:00:00"],
        ["--fullness", "a", "--failure", "b", "scratch2", "2019-05-15T12:00:00"],
    ],
)
def test_cli_usage_errors(site: Path, argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_lfsstatus.main(argv)
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("usage: cache_lfsstatus")


def test_cli_failures_exit_1(site: Path, capsys) -> None:
    with pytest.raises(SystemExit) as usage:
        run_cli(capsys, "scratch2", "2019-05-15 12:00:00", "--fullness")
    assert usage.value.code == 2
    assert "'2019-05-15 12:00:00' is not a date and time: use YYYY-MM-DDTHH:MM:SS" in (
        capsys.readouterr().err
    )
    status, _, err = run_cli(capsys, "--failure", "nothere.txt", "scratch2", "2019-05-15T12:00:00")
    assert err == (
        "cache_lfsstatus: nothere.txt: not found (as a path, or in the lfsstatus_map_files "
        "directories): check the path and the disk\n"
    )
    status, _, err = run_cli(capsys, "nofs", "2019-05-15T12:00:00", "--failure")
    assert status == 1 and err.startswith("cache_lfsstatus: ") and "Error" not in err


def test_cli_real_process_on_the_corpus() -> None:
    """The documented examples, as a separate process in the reference's setting."""
    corpus = corpus_file("site.json").parents[1]
    env = {
        **os.environ,
        "TZ": "America/Los_Angeles",
        "PYTOKIO_CONFIG": str(corpus / "inputs" / "site.json"),
    }
    env.pop("ATOKIO_CONFIG", None)
    command = [sys.executable, "-m", "atokio.cli.cache_lfsstatus"]
    done = subprocess.run(
        [*command, "scratch2", "2017-03-20T12:00:00", "--failure"],
        cwd=corpus, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ost_overloaded_oss_count": 1,
        "ost_overloaded_ost_count": 2,
        "ost_avg_overloaded_ost_per_oss": 2.0,
        "ost_avg_overloaded_overload_factor": 2.0,
        "ost_actual_timestamp": 1490035503,
        "ost_next_timestamp": 1490037881,
        "ost_requested_timestamp": 1490036400,
    }
    done = subprocess.run(
        [*command, "--fullness", "inputs/sample_ost-fullness.txt.gz", "scratch2",
         "2017-03-20T12:00:00"],
        cwd=corpus, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {k: result[k] for k in ("ost_least_full_name", "ost_most_full_name", "ost_count")} == {
        "ost_least_full_name": "OST000e",
        "ost_most_full_name": "OST0006",
        "ost_count": 24,
    }
    assert result["ost_avg_full_kib"] == 66425871686
    assert round(result["ost_avg_full_pct"], 2) == 73.18
    assert round(result["ost_most_full_pct"], 2) == 82.50
    assert result["ost_actual_timestamp"] == 1490035503
    done = subprocess.run(
        [*command, "--fullness", "scratch2", "2017-03-20T12:00:00"],
        cwd=corpus, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2


def test_corpus_tools_in_process(monkeypatch) -> None:
    corpus = corpus_file("site.json").parents[1]
    monkeypatch.chdir(corpus)
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        with open(corpus / "inputs" / "site.json") as handle:
            site = json.load(handle)
        for key in ("fsname_to_backend_name", "lfsstatus_fullness_files", "lfsstatus_map_files",
                    "lfsstatus_fullness_providers", "hdf5_files"):  # fmt: skip
            monkeypatch.setitem(config.CONFIG, key, site[key])
        fullness = lfsstatus.get_fullness("scratch2", datetime.datetime(2017, 3, 20, 12))
        assert fullness["ost_least_full_kib"] == 64383808560
        assert fullness["ost_most_full_kib"] == 74886137836
        assert fullness["ost_requested_timestamp"] == 1490036400
        failures = lfsstatus.get_failures("cscratch", datetime.datetime(2017, 3, 20, 12))
        assert failures["ost_overloaded_oss_count"] == 2
        assert failures["ost_overloaded_ost_count"] == 4
    finally:
        monkeypatch.undo()
        time.tzset()
