"""``NerscIsdct``: bundles (directory, tar, tgz), JSON caches, synthesised metrics, diff, DataFrames."""

from __future__ import annotations

import gzip
import json
import logging
import tarfile
from pathlib import Path

import pytest
from cray_isdct_data import (
    bundle_members,
    corpus_input,
    device_values,
    write_bundle,
    write_tarball,
)

from atokio.connectors.common import CacheableDict
from atokio.connectors.nersc_isdct import (
    NerscIsdct,
    _decode_nersc_nid,
    _merge_parsed_counters,
    _normalize_key,
    _rekey_smart_buffer,
    parse_counters_fileobj,
)

SERIAL0 = "CVFAAAA000000000001-1"
MEMBERS = bundle_members()
MTIME = 1503685872.0


@pytest.fixture
def tgz(tmp_path: Path) -> Path:
    mtimes = [MTIME + 7 * i for i in range(len(MEMBERS))][::-1]  # the oldest member is last
    return write_tarball(tmp_path / "isdct.tgz", "isdct_dir", MEMBERS, mtimes)


def test_tgz_bundle(tgz: Path) -> None:
    isdct = NerscIsdct(str(tgz))
    assert isinstance(isdct, CacheableDict)
    assert list(isdct) == [SERIAL0, "CVFAAAA000000000001-2", "CVFBBBB000000000002-1"]
    device = isdct[SERIAL0]
    v = device_values(0)
    assert len(device) == 70
    assert list(device)[:4] == [
        "node_name",
        "available_spare",
        "crc_error_count",
        "endurance_analyzer",
    ]
    assert list(device)[-6:] == [
        "timestamp", "data_units_read_bytes", "data_units_written_bytes",
        "smart_nand_bytes_written_bytes", "smart_host_bytes_written_bytes",
        "write_amplification_factor",
    ]  # fmt: skip
    expected = {
        "node_name": "nid00100",
        "serial_number": SERIAL0,
        "device_path": "/dev/nvme0n1",
        "bootloader": 2333802800,
        "data_units_read": v["units_read"],
        "data_units_read_bytes": v["units_read"] * 512000,
        "data_units_written_bytes": v["units_written"] * 512000,
        "host_write_commands": v["writes"],
        "temperature": "27 Celsius",
        "temperature_unit": "Celsius",
        "temperature_celsius": 27,
        "smart_crc_error_count_id": 199,
        "smart_crc_error_count_raw": 0,
        "smart_nand_bytes_written_raw": 3140121,
        "smart_host_bytes_written_raw": 1416435,
        "smart_nand_bytes_written_bytes": 3140121 * 32 * 2**20,
        "smart_host_bytes_written_bytes": 1416435 * 32 * 2**20,
        "write_amplification_factor": 3140121 / 1416435,
        # drive info comes after the sensors in this bundle: "2628.15 years" -> None
        "endurance_analyzer": None,
        "endurance_analyzer_unit": "years",
        "timestamp": int(MTIME),  # no timestamp_ member: the oldest member's mtime
        "intel": True,
        "media_is_in_a_readonly_mode": False,
    }
    assert {key: device[key] for key in expected} == expected
    assert isdct["CVFBBBB000000000002-1"]["node_name"] == "nid00200"
    assert isdct["CVFBBBB000000000002-1"]["smart_crc_error_count_raw"] == 2


def test_timestamp_member_is_local_time(tmp_path: Path) -> None:
    path = write_tarball(tmp_path / "stamped.tar", "top", MEMBERS, [MTIME] * len(MEMBERS),
                         timestamp="20170825113100")  # fmt: skip
    isdct = NerscIsdct(str(path))
    # 2017-08-25 11:31:00 in Los Angeles (PDT, UTC-7)
    assert {d["timestamp"] for d in isdct.values()} == {1503685860}


def test_directory_bundle_reads_files_in_sorted_order(tmp_path: Path, tgz: Path) -> None:
    top = write_bundle(tmp_path / "dir", MEMBERS, mtime=MTIME + 50, timestamp="20170825113100")
    isdct = NerscIsdct(str(top))
    from_tgz = NerscIsdct(str(tgz))
    assert set(isdct) == set(from_tgz)
    device = isdct[SERIAL0]
    assert device["timestamp"] == 1503685860
    assert device["endurance_analyzer"] == 2628.15  # sensor file sorts after drive info
    differing = {k for k in device if device[k] != from_tgz[SERIAL0].get(k)}
    assert differing == {"endurance_analyzer", "timestamp"}


def test_bad_member_is_a_warning_and_the_rest_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    members = [*MEMBERS, ("nid00300/ssd0_garbage.txt", "\n- Intel SSD CVFZ-1 -\nA : 1\nnonsense\n")]
    path = write_tarball(tmp_path / "bad.tgz", "top", members, [MTIME] * len(members))
    with caplog.at_level(logging.WARNING, logger="atokio"):
        isdct = NerscIsdct(str(path))
    assert "bad.tgz:top/nid00300/ssd0_garbage.txt:4: expected a title" in caplog.text
    assert len(isdct) == 3  # the bad file's unfinished device is not kept
    assert "CVFZ-1" not in isdct


def test_json_cache_round_trip(
    tmp_path: Path, tgz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    isdct = NerscIsdct(str(tgz))
    out = tmp_path / "cache.json"
    isdct.save_cache(str(out))
    text = out.read_text()
    assert text == json.dumps(isdct)  # compact, insertion order, no newline
    again = NerscIsdct(str(out))
    assert again == isdct
    gz = tmp_path / "cache.json.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert NerscIsdct(str(gz)) == isdct
    isdct.save_cache()
    assert capsys.readouterr().out == text


def test_missing_and_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"Input file .*nope does not exist"):
        NerscIsdct(str(tmp_path / "nope"))
    bad = tmp_path / "bad.txt"
    bad.write_text("not json, not tar")
    with pytest.raises(ValueError):
        NerscIsdct(str(bad))


def test_helpers() -> None:
    assert _decode_nersc_nid("sample_nersc_isdct_dir/nid00842/ssd1_drive_info.txt") == "nid00842"
    assert _decode_nersc_nid("/abs/path/nid01234/x.txt") == "nid01234"
    assert _decode_nersc_nid("x.txt") is None
    assert _normalize_key("SMBusAddress") == "smbus_address"
    assert _rekey_smart_buffer({"description": "PLI Lock Loss Count", "raw": 1}) == {
        "smart_pli_lock_loss_count_description": "PLI Lock Loss Count",
        "smart_pli_lock_loss_count_raw": 1,
    }
    merged = _merge_parsed_counters([{"a": {"x": 1, "y": 2}}, {"b": {"x": 3}}, {"a": {"y": 5}}])
    assert merged == {"a": {"x": 1, "y": 5}, "b": {"x": 3}}


def test_parse_counters_fileobj(tmp_path: Path) -> None:
    path = tmp_path / "perf.txt"
    path.write_text(MEMBERS[1][1])
    with open(path, "rb") as handle:
        parsed = parse_counters_fileobj(handle, nodename="nid00100")
    assert parsed == {SERIAL0: {
        "node_name": "nid00100",
        "data_units_read": 0x03443046,
        "data_units_written": 0x05886F6D,
        "host_read_commands": 0x130970A8,
        "host_write_commands": 0x1AE19370,
    }}  # fmt: skip
    with open(path) as text_handle:
        assert parse_counters_fileobj(text_handle)[SERIAL0]["data_units_read"] == 0x03443046


def _load_json(tmp_path: Path, name: str, data: dict) -> NerscIsdct:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return NerscIsdct(str(path))


OLD = {
    "A": {"node_name": "nid1", "reads": 10, "ratio": 1.5, "fw": "X1", "ok": True, "endurance_analyzer": 5.0,
          "gone": 1},
    "B": {"node_name": "nid2", "reads": 4},
}  # fmt: skip
NEW = {
    "A": {"node_name": "nid1", "reads": 15, "ratio": 1.5, "fw": "X2", "ok": True, "endurance_analyzer": None,
          "fresh": 3},
    "C": {"node_name": "nid3", "reads": 1},
}  # fmt: skip


def test_diff(tmp_path: Path) -> None:
    old = _load_json(tmp_path, "old.json", OLD)
    new = _load_json(tmp_path, "new.json", NEW)
    assert new.diff(old) == {
        "added_devices": ["C"],
        "removed_devices": ["B"],
        "devices": {"A": {"node_name": "", "reads": 5, "ratio": 0.0, "fw": "+++X2 ---X1", "ok": 0}},
    }
    assert new.diff(old, report_zeros=False) == {
        "added_devices": ["C"],
        "removed_devices": ["B"],
        "devices": {"A": {"reads": 5, "fw": "+++X2 ---X1"}},
    }


def test_diff_number_against_text_fails_but_text_against_number_compares(tmp_path: Path) -> None:
    old = _load_json(tmp_path, "old.json", {"A": {"size": "big", "fw": 7}})
    new = _load_json(tmp_path, "new.json", {"A": {"size": 3, "fw": "7"}})
    with pytest.raises(TypeError, match="A size"):
        new.diff(old)
    new_text = _load_json(tmp_path, "new2.json", {"A": {"fw": "8"}})
    assert new_text.diff(old)["devices"] == {"A": {"fw": "+++8 ---7"}}


def test_to_dataframe(tgz: Path) -> None:
    isdct = NerscIsdct(str(tgz))
    frame = isdct.to_dataframe()
    assert frame.index.name == "serial_number"
    assert list(frame.index) == list(isdct)
    assert list(frame.columns) == list(isdct[SERIAL0])
    assert frame.loc["CVFBBBB000000000002-1", "node_name"] == "nid00200"
    numeric = isdct.to_dataframe(only_numeric=True)
    assert list(numeric.columns) == [
        "node_name", "crc_error_count", "data_units_read", "data_units_written",
        "host_read_commands", "host_write_commands", "smart_crc_error_count_raw", "smart_nand_bytes_written_raw",
        "smart_host_bytes_written_raw", "temperature_celsius", "data_units_read_bytes",
        "data_units_written_bytes", "smart_nand_bytes_written_bytes",
        "smart_host_bytes_written_bytes", "write_amplification_factor",
    ]  # fmt: skip


# -- the corpus ---------------------------------------------------------------------------------


def test_corpus_bundle() -> None:
    isdct = NerscIsdct(str(corpus_input("sample_nersc_isdct.tgz")))
    assert len(isdct) == 16
    assert {len(d) for d in isdct.values()} == {174}
    assert {d["node_name"] for d in isdct.values()} == {
        "nid00842",
        "nid04242",
        "nid07313",
        "nid09166",
    }
    device = isdct["CVF0DEB55CBA6FFE2C-2"]
    expected = {
        "node_name": "nid00842", "serial_number": "CVF0DEB55CBA6FFE2C-2",
        "device_path": "/dev/nvme1n1", "bootloader": 2333802800, "data_units_read": 54800454,
        "data_units_read_bytes": 28057832448000, "temperature": "28 Celsius",
        "temperature_unit": "Celsius", "temperature_celsius": 28, "smart_crc_error_count_id": 199,
        "smart_crc_error_count_raw": 0, "smart_nand_bytes_written_raw": 3140121,
        "smart_host_bytes_written_raw": 1416435,
        "write_amplification_factor": 2.2169185313833673, "endurance_analyzer": None,
        "timestamp": 1503685872, "intel": True,
    }  # fmt: skip
    assert {key: device[key] for key in expected} == expected


def test_corpus_timestamped_bundle_and_directory(tmp_path: Path) -> None:
    stamped = NerscIsdct(str(corpus_input("sample_nersc_isdct_timestamped.tgz")))
    assert {d["timestamp"] for d in stamped.values()} == {1503685860}
    plain = NerscIsdct(str(corpus_input("sample_nersc_isdct.tgz")))
    for serial, device in plain.items():
        assert {k: v for k, v in stamped[serial].items() if k != "timestamp"} == {
            k: v for k, v in device.items() if k != "timestamp"
        }
    with tarfile.open(corpus_input("sample_nersc_isdct.tgz")) as bundle:
        bundle.extractall(tmp_path, filter="data")
    directory = NerscIsdct(str(tmp_path / "sample_nersc_isdct_dir"))
    assert set(directory) == set(plain)
    assert all(len(d) == 174 for d in directory.values())


def test_corpus_json_caches_diff() -> None:
    new = NerscIsdct(str(corpus_input("sample_nersc_isdct.json.gz")))
    old = NerscIsdct(str(corpus_input("sample_nersc_isdct-1.json.gz")))
    assert (len(new), len(old)) == (8, 12)
    diff = new.diff(old, report_zeros=False)
    assert diff["added_devices"] == ["CVF8527500094P0DGN-1", "CVF8527500094P0DGN-2"]
    assert diff["removed_devices"] == [
        "CVF85276000E4P0DGN-1", "CVF85276000E4P0DGN-2", "CVF85276000F4P0DGN-1",
        "CVF85276000F4P0DGN-2", "CVF85276000G4P0DGN-1", "CVF85276000G4P0DGN-2",
    ]  # fmt: skip
    changed = diff["devices"]["CVF85275000L4P0DGN-1"]
    assert changed["smart_pli_lock_loss_count_raw"] == 1
    assert changed["data_units_read"] == 7529
    assert changed["temperature"] == "+++29 Celsius ---27 Celsius"
    assert changed["timestamp"] == 86397
    assert len(diff["devices"]) == 6
    full = new.diff(old)
    assert full["devices"]["CVF85275000L4P0DGN-1"]["node_name"] == ""
    assert full["devices"]["CVF85275000L4P0DGN-1"]["media_errors"] == 0
