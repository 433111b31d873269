"""``cache_isdct`` and ``compare_isdct``: exact outputs, flags, exit statuses."""

from __future__ import annotations

import csv
import functools
import io
import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from cray_isdct_data import (
    FLEET,
    NEW_FLEET,
    NEW_INDEXES,
    bundle_members,
    corpus_input,
    write_tarball,
)

from atokio.cli import cache_isdct, compare_isdct
from atokio.cli._common import as_program
from atokio.connectors.nersc_isdct import NerscIsdct

MTIME = 1503685872.0  # 2017-08-25 11:31:12 in Los Angeles
S1, S2, S3, S4 = (
    "CVFAAAA000000000001-1",
    "CVFAAAA000000000001-2",
    "CVFBBBB000000000002-1",
    "CVFCCCC000000000003-1",
)
WAF_CHANGE = (3140121 + 2000) / (1416435 + 20) - 3140121 / 1416435
MIB32 = 32 * 2**20


@pytest.fixture
def dumps(tmp_path: Path) -> tuple[str, str]:
    """(older bundle, newer bundle one day later) of the generated fleet."""
    old_members = bundle_members(FLEET)
    new_members = bundle_members(NEW_FLEET, NEW_INDEXES)
    old = write_tarball(tmp_path / "old.tgz", "old", old_members, [MTIME] * len(old_members))
    new = write_tarball(
        tmp_path / "new.tgz", "new", new_members, [MTIME + 86400] * len(new_members)
    )
    return str(old), str(new)


# -- cache_isdct --------------------------------------------------------------------------------


def test_cache_isdct_json_to_stdout_is_compact_without_newline(
    dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cache_isdct.main([dumps[0]]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(NerscIsdct(dumps[0]))
    assert not out.endswith("\n")
    data = json.loads(out)
    assert list(data) == [S1, S2, S3]
    assert data[S1]["endurance_analyzer"] is None and data[S1]["timestamp"] == int(MTIME)


def test_cache_isdct_json_to_file(
    dumps: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "isdct.json"
    assert cache_isdct.main(["-j", dumps[0], "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    assert out.read_text() == json.dumps(NerscIsdct(dumps[0]))
    # the JSON cache is itself a valid input
    assert cache_isdct.main([str(out)]) == 0
    assert capsys.readouterr().out == out.read_text()


def test_cache_isdct_csv(
    dumps: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cache_isdct.main(["--cs", dumps[0]]) == 0  # an abbreviation of --csv
    out = capsys.readouterr().out
    assert out.endswith("\n\n")  # pandas' text, then print's newline
    rows = list(csv.reader(io.StringIO(out.rstrip("\n"))))
    isdct = NerscIsdct(dumps[0])
    assert rows[0] == ["serial_number", *isdct[S1]]
    assert [row[0] for row in rows[1:]] == [S1, S2, S3]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["node_name"] == "nid00100"
    assert row["endurance_analyzer"] == ""  # None is an empty field
    assert row["intel"] == "True"
    assert row["temperature"] == "27 Celsius"
    assert row["write_amplification_factor"] == repr(3140121 / 1416435)
    assert (
        row["firmware_update_available"] == "Please contact your Intel representative: no update."
    )
    assert '"Please contact' not in out  # no comma in it, so not quoted
    path = tmp_path / "isdct.csv"
    assert cache_isdct.main(["-c", "-j", dumps[0], "-o", str(path)]) == 0
    assert capsys.readouterr().out == f"Caching to {path}\n"
    assert path.read_text() == out[:-1]


def test_cache_isdct_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.tgz"
    assert as_program(cache_isdct.main, [str(missing)]) == 1
    assert f"Input file {missing} does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("neither tar nor json\n")
    assert as_program(cache_isdct.main, [str(bad)]) == 1
    assert capsys.readouterr().err == (
        f"cache_isdct: cannot read {bad}: not valid JSON (Expecting value at line 1): "
        "check that it is a valid ISDCT dump\n"
    )
    with pytest.raises(SystemExit) as usage:
        cache_isdct.main([])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as helped:
        cache_isdct.main(["--help"])
    assert helped.value.code == 0
    assert "isdctfile" in capsys.readouterr().out


# -- compare_isdct ------------------------------------------------------------------------------

S1_DIFF = {
    "node_name": "",
    "data_units_read": 2_000_000,
    "data_units_written": 4_000_000,
    "host_read_commands": 3_000_000,
    "host_write_commands": 5_000_000,
    "crc_error_count": 2,
    "temperature": "+++29 Celsius ---27 Celsius",
    "temperature_celsius": 2,
    "smart_crc_error_count_raw": 2,
    "smart_nand_bytes_written_raw": 2000,
    "smart_host_bytes_written_raw": 20,
    "timestamp": 86400,
    "data_units_read_bytes": 2_000_000 * 512_000,
    "data_units_written_bytes": 4_000_000 * 512_000,
    "smart_nand_bytes_written_bytes": 2000 * MIB32,
    "smart_host_bytes_written_bytes": 20 * MIB32,
    "write_amplification_factor": WAF_CHANGE,
}
S1_CHANGED = {k: v for k, v in S1_DIFF.items() if k != "node_name"}


def test_compare_all(dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert compare_isdct.main(["-a", *dumps]) == 0
    out = capsys.readouterr().out
    expected = {
        "added_devices": [S4],
        "removed_devices": [S3],
        "devices": {S1: S1_CHANGED, S2: {"timestamp": 86400}},
    }
    assert json.loads(out) == expected
    assert out == json.dumps(expected, indent=4, sort_keys=True) + "\n"


def test_compare_all_report_zeros(
    dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert compare_isdct.main(["-a", "-z", *dumps]) == 0
    diff = json.loads(capsys.readouterr().out)
    s2 = diff["devices"][S2]
    assert s2["node_name"] == "" and s2["data_units_read"] == 0 and s2["intel"] == 0
    assert s2["timestamp"] == 86400
    assert "endurance_analyzer" not in s2  # None on both sides: dropped
    assert {k: diff["devices"][S1][k] for k in S1_DIFF} == S1_DIFF
    assert len(diff["devices"][S1]) == 70 - 1  # every counter but endurance_analyzer


def test_compare_default_reduction(
    dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert compare_isdct.main(list(dumps)) == 0
    out = capsys.readouterr().out
    reduced = json.loads(out)
    assert out == json.dumps(reduced, indent=4, sort_keys=True) + "\n"
    assert reduced["count_timestamp"] == 2
    assert reduced["sum_timestamp"] == 172800 and reduced["ave_timestamp"] == 86400.0
    assert reduced["min_timestamp"] == reduced["max_timestamp"] == 86400
    assert reduced["count_temperature"] == 1 and "sum_temperature" not in reduced
    assert reduced["sum_data_units_read_bytes"] == 2_000_000 * 512_000
    assert reduced["ave_crc_error_count"] == 2.0
    assert set(reduced) == {f"count_{c}" for c in [*S1_CHANGED, "timestamp"]} | {
        f"{stat}_{c}"
        for c in S1_CHANGED
        if c != "temperature"
        for stat in ("sum", "min", "max", "ave")
    }


def test_compare_gibs(dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert compare_isdct.main(["-g", *dumps]) == 0
    reduced = json.loads(capsys.readouterr().out)
    assert reduced["sum_data_units_read_gibs"] == 2_000_000 * 512_000 * 2**-30
    assert reduced["count_data_units_read_gibs"] == 1
    assert not [key for key in reduced if key.endswith("_bytes")]
    assert compare_isdct.main(["--gibs", "--all", *dumps]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["devices"][S1]["smart_host_bytes_written_gibs"] == 20 * MIB32 * 2**-30


SUMMARY = """\
=== ISDCT Summary: 2017-08-25 11:31:12 - 2017-08-26 11:31:12 ===

*** Errors Detected! ***
nid00100 CVFAAAA000000000001-1 crc_error_count 2
nid00100 CVFAAAA000000000001-1 smart_crc_error_count_raw 2

=== Devices Removed ===
nid00200 CVFBBBB000000000002-1

=== Devices Installed ===
nid00300 CVFCCCC000000000003-1

=== Workload Statistics ===
Read:          0.93 TiB,       3.00 MOps
Written:       1.86 TiB,       5.00 MOps
WAF:        +0.0014

"""


@pytest.mark.parametrize("flags", [["-s"], ["-s", "-a"], ["-s", "-z"], ["-g", "-s"], ["--summ"]])
def test_compare_summary(
    flags: list[str], dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # -z does not list the unchanged device as erroneous; -g still prints TiB
    assert compare_isdct.main([*flags, *dumps]) == 0
    assert capsys.readouterr().out == SUMMARY


def test_compare_summary_without_changes(
    dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert compare_isdct.main(["-s", dumps[0], dumps[0]]) == 0
    assert (
        capsys.readouterr().out
        == "=== ISDCT Summary: 2017-08-25 11:31:12 - 2017-08-25 11:31:12 ===\n"
    )


def test_compare_functions(dumps: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = NerscIsdct(dumps[0]), NerscIsdct(dumps[1])
    diff = new.diff(old)
    assert compare_isdct.discover_errors(diff) == [S1]
    compare_isdct.summarize_errors(diff, new)
    assert capsys.readouterr().out == SUMMARY.split("\n\n")[1] + "\n"
    compare_isdct.summarize_reduced_diffs(compare_isdct.reduce_diff(diff))
    assert capsys.readouterr().out == SUMMARY.split("\n\n")[4] + "\n\n"
    flat = {"sum_x_bytes": 2**31, "count_x_bytes": 3, "y": 1}
    converted = compare_isdct.convert_byte_keys(flat)
    assert converted is flat
    assert flat == {"sum_x_gibs": 2.0, "count_x_gibs": 3, "y": 1}
    assert compare_isdct._convert_counters({"a_bytes": 1024, "b": 2}, 1 / 1024, "kib") == {
        "a_kib": 1.0,
        "b": 2,
    }
    assert compare_isdct.convert_byte_keys(
        {"devices": {"s": {"z_bytes": 2**40}}}, 2**-40, "tibs"
    ) == {"devices": {"s": {"z_tibs": 1.0}}}


def test_compare_errors(
    dumps: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone.tgz"
    assert as_program(compare_isdct.main, [dumps[0], str(missing)]) == 1
    assert f"Input file {missing} does not exist" in capsys.readouterr().err
    old = tmp_path / "old.json"
    old.write_text(json.dumps({S1: {"media_errors": "n/a"}}))
    new = tmp_path / "new.json"
    new.write_text(json.dumps({S1: {"media_errors": 3}}))
    assert as_program(compare_isdct.main, [str(old), str(new)]) == 1
    assert "media_errors" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        compare_isdct.main([dumps[0]])
    assert usage.value.code == 2


def test_compare_runs_as_a_program(dumps: tuple[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.compare_isdct", "-s", *dumps],
        capture_output=True,
        text=True,
        env={"TZ": "America/Los_Angeles", "PYTOKIO_SKIP_CONFIG": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, SUMMARY)


def test_compare_corpus_caches(capsys: pytest.CaptureFixture[str]) -> None:
    old = str(corpus_input("sample_nersc_isdct-1.json.gz"))
    new = str(corpus_input("sample_nersc_isdct.json.gz"))
    assert compare_isdct.main(["-s", old, new]) == 0
    assert (
        capsys.readouterr().out
        == """\
=== ISDCT Summary: 2017-09-21 09:00:04 - 2017-09-22 09:00:01 ===

*** Errors Detected! ***
nid06669 CVF85275000L4P0DGN-1 smart_pli_lock_loss_count_raw 1

=== Devices Removed ===
nid09618 CVF85276000E4P0DGN-1
nid09618 CVF85276000E4P0DGN-2
nid06094 CVF85276000F4P0DGN-1
nid06094 CVF85276000F4P0DGN-2
nid10830 CVF85276000G4P0DGN-1
nid10830 CVF85276000G4P0DGN-2

=== Devices Installed ===
nid08849 CVF8527500094P0DGN-1
nid08849 CVF8527500094P0DGN-2

=== Workload Statistics ===
Read:          0.02 TiB,       0.54 MOps
Written:       0.40 TiB,       3.49 MOps
WAF:        +0.0059

"""
    )
    assert compare_isdct.main([old, new]) == 0
    reduced = json.loads(capsys.readouterr().out)
    assert reduced["count_smart_pli_lock_loss_count_raw"] == 1
    assert reduced["max_smart_pli_lock_loss_count_raw"] == 1


def test_cache_isdct_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert cache_isdct.main([str(corpus_input("sample_nersc_isdct.tgz"))]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 16
    assert data["CVF0DEB55CBA6FFE2C-2"]["temperature_unit"] == "Celsius"
    assert cache_isdct.main(["-c", str(corpus_input("sample_nersc_isdct.json.gz"))]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[0].startswith("serial_number,aggregation_threshold,aggregation_time,")
    assert len(lines) == 1 + 8 + 2


def test_the_comparison_as_a_library_call(dumps: tuple[str, str]) -> None:
    from atokio.pipelines import isdct

    compared = isdct.compare_isdct(*dumps)
    assert compared.diff == {
        "added_devices": [S4],
        "removed_devices": [S3],
        "devices": {S1: S1_CHANGED, S2: {"timestamp": 86400}},
    }
    assert isdct.summary_text(compared.old, compared.new, compared.diff) + "\n" == SUMMARY
    on_trio = anyio.run(functools.partial(isdct.acompare_isdct, *dumps), backend="trio")
    assert on_trio.diff == compared.diff
    with pytest.raises(FileNotFoundError, match="Input file /no/such/dump does not exist"):
        isdct.compare_isdct(dumps[0], "/no/such/dump")
