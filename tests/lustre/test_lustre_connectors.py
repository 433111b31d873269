"""lfshealth and nersc_lfsstate connectors: strings, cache files, real subprocesses, text caches."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from lustre_data import concatenate, corpus_file, install_standin, lctl_dl, lfs_df, path_with

from atokio.connectors.lfshealth import LfsOstFullness, LfsOstMap
from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness, NerscLfsOstMap
from atokio.parsers.base import ParseError

DF = lfs_df([("snx11035", "/scratch2", 3), ("snx11025", "/scratch1", 2)])
LCTL = lctl_dl([("snx11035", 4, 101), ("snx11025", 3, 100)], failed_over={"snx11035": 3})


def test_fullness_from_string_and_repr_round_trip() -> None:
    fullness = LfsOstFullness(from_string=DF)
    assert list(fullness) == ["snx11035", "snx11025"]
    assert list(fullness["snx11025"]) == ["MDT0000", "OST0000", "OST0001"]
    text = repr(fullness)
    assert text.splitlines()[1] == (
        "snx11035-OST0000_UUID 90767651352 60000000000 29672348648  67% /scratch2[OST:0]"
    )
    assert str(fullness) == text
    assert LfsOstFullness(from_string=text) == fullness


def test_fullness_repr_matches_the_documented_line() -> None:
    line = "snx11025-OST0001_UUID 90767651352 63381521692 26424604184  71% /scratch1[OST:1]"
    assert repr(LfsOstFullness(from_string=line + "\n")) == line + "\n"


def test_map_failovers_and_round_trip() -> None:
    osts = LfsOstMap(from_string=LCTL)
    assert osts.get_failovers() == {
        "snx11035": {"mode": 1, "abnormal_ips": {"10.100.101.7": ["OST0002", "OST0003"]}},
        "snx11025": {"mode": 1, "abnormal_ips": {}},
    }
    assert repr(osts).splitlines()[0] == (
        "  2 UP mdc snx11035-MDT0000-mdc-ffff885f81a60101 8dbdc7f6-8f86-86ea-052f-357e2db20101 5 "
        "10.100.101.4@o2ib101"
    )
    assert LfsOstMap(from_string=repr(osts)) == osts


def test_map_without_osc_raises_key_error() -> None:
    only_mdc = "".join(line + "\n" for line in LCTL.splitlines() if " mdc " in line)
    with pytest.raises(KeyError, match="snx11035 has no osc targets"):
        LfsOstMap(from_string=only_mdc).get_failovers()


def test_cache_files_plain_gzip_json_and_save_cache(tmp_path: Path, capsys) -> None:
    plain = tmp_path / "lfs-df.txt"
    plain.write_text(DF)
    packed = tmp_path / "lfs-df.txt.gz"
    packed.write_bytes(gzip.compress(DF.encode()))
    expected = LfsOstFullness(from_string=DF)
    assert LfsOstFullness(cache_file=str(plain)) == expected
    assert LfsOstFullness(cache_file=str(packed)) == expected
    dumped = tmp_path / "dump.json"
    dumped.write_text(json.dumps(expected))
    assert LfsOstFullness(cache_file=str(dumped)) == expected
    saved = tmp_path / "saved.txt"
    expected.save_cache(str(saved))
    assert saved.read_text() == repr(expected)
    assert LfsOstFullness(cache_file=str(saved)) == expected
    capsys.readouterr()
    expected.save_cache()
    assert capsys.readouterr().out == repr(expected)


def test_bad_string_is_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = LfsOstFullness(from_string=DF + "snx11035-OST0009_UUID 1 2\n")
    assert result == {}
    assert "<string>:" in caplog.text and "malformed lfs df target line" in caplog.text


def test_runs_lfs_and_lctl(tmp_path: Path, monkeypatch) -> None:
    install_standin(tmp_path, "lfs", ["df"], DF)
    install_standin(tmp_path, "lctl", ["dl", "-t"], LCTL)
    monkeypatch.setenv("PATH", path_with(tmp_path))
    assert LfsOstFullness() == LfsOstFullness(from_string=DF)
    osts = LfsOstMap()
    assert osts == LfsOstMap(from_string=LCTL)
    assert osts.subprocess_cmd == ["lctl", "dl", "-t"]


def test_failing_command_keeps_output_and_warns(tmp_path: Path, monkeypatch, caplog) -> None:
    install_standin(tmp_path, "lfs", ["df"], DF, status=1, stderr="lfs: some target busy\n")
    monkeypatch.setenv("PATH", path_with(tmp_path))
    with caplog.at_level(logging.WARNING):
        fullness = LfsOstFullness()
    assert fullness == LfsOstFullness(from_string=DF)
    assert "lfs df exited with status 1: lfs: some target busy" in caplog.text


def test_missing_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="lctl: command not found"):
        LfsOstMap()


# -- NERSC concatenations ------------------------------------------------------------------
def test_nersc_fullness(tmp_path: Path) -> None:
    path = tmp_path / "osts.txt.gz"
    path.write_bytes(
        gzip.compress(concatenate([(100, DF), (200, DF.replace("/scratch1", "/s1"))]).encode())
    )
    fullness = NerscLfsOstFullness(cache_file=str(path))
    assert list(fullness) == [100, 200]
    assert fullness[100] == dict(LfsOstFullness(from_string=DF))
    assert fullness[200]["snx11025"]["OST0001"]["mount_pt"] == "/s1"
    text = repr(fullness)
    assert text.startswith("BEGIN 100\nsnx11035-MDT0000_UUID 2255453580 115229304 2106024648   5% ")
    saved = tmp_path / "saved.txt"
    fullness.save_cache(str(saved))
    assert NerscLfsOstFullness(cache_file=str(saved)) == fullness
    assert NerscLfsOstFullness() == {}


def test_nersc_map(tmp_path: Path) -> None:
    path = tmp_path / "ost-map.txt"
    path.write_text(concatenate([(101, LCTL), (201, lctl_dl([("snx11035", 4, 101)]))]))
    osts = NerscLfsOstMap(cache_file=str(path))
    assert list(osts) == [101, 201]
    assert isinstance(osts[101], LfsOstMap)
    assert osts.get_failovers() == {
        101: {
            "snx11035": {"mode": 1, "abnormal_ips": {"10.100.101.7": ["OST0002", "OST0003"]}},
            "snx11025": {"mode": 1, "abnormal_ips": {}},
        },
        201: {"snx11035": {"mode": 1, "abnormal_ips": {}}},
    }
    assert osts[101].get_failovers()["snx11035"]["mode"] == 1
    saved = tmp_path / "saved.txt"
    osts.save_cache(str(saved))
    assert saved.read_text().startswith("BEGIN 101\n  2 UP mdc snx11035-MDT0000-mdc-")
    assert NerscLfsOstMap(cache_file=str(saved)) == osts


def test_repeated_time_stamp_warns_and_later_wins(tmp_path: Path, caplog) -> None:
    path = tmp_path / "osts.txt"
    path.write_text(concatenate([(5, DF), (5, DF.replace("/scratch2", "/later"))]))
    with caplog.at_level(logging.WARNING):
        fullness = NerscLfsOstFullness(cache_file=str(path))
    assert list(fullness) == [5]
    assert fullness[5]["snx11035"]["OST0000"]["mount_pt"] == "/later"
    assert (
        f"{path}:{DF.count(chr(10)) + 2}: time stamp 5 seen before; the later block wins"
        in caplog.text
    )


def test_bad_file_names_source_and_line(tmp_path: Path) -> None:
    path = tmp_path / "osts.txt"
    path.write_text("BEGIN 5\n" + DF + "BEGIN soon\n")
    with pytest.raises(ParseError) as caught:
        NerscLfsOstFullness(cache_file=str(path))
    assert caught.value.source == str(path)
    assert caught.value.line_number == DF.count("\n") + 2


def test_link_stub_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text(concatenate([(1, DF)]))
    (tmp_path / "day").mkdir()
    (tmp_path / "day" / "osts.txt.gz").write_text("../real.txt")
    assert list(NerscLfsOstFullness(cache_file=str(tmp_path / "day" / "osts.txt.gz"))) == [1]


def test_corpus_files() -> None:
    fullness = NerscLfsOstFullness(cache_file=str(corpus_file("sample_ost-fullness.txt.gz")))
    osts = NerscLfsOstMap(cache_file=str(corpus_file("sample_ost-map.txt.gz")))
    assert len(fullness) == 70 and len(osts) == 70
    assert osts.get_failovers()[1489998203] == {
        "snx11035": {"mode": 1, "abnormal_ips": {"10.100.101.7": ["OST0002", "OST0003"]}},
        "snx11036": {"mode": 1, "abnormal_ips": {}},
        "snx11168": {
            "mode": 1,
            "abnormal_ips": {
                "10.100.104.43": ["OST0024", "OST0025"],
                "10.100.104.140": ["OST0086", "OST0087"],
            },
        },
        "snx11025": {"mode": 1, "abnormal_ips": {}},
    }
    single = LfsOstFullness(cache_file=str(corpus_file("lfs-df.txt.gz")))
    assert single["snx11035"]["OST000a"]["target_index"] == 10
    lctl = LfsOstMap(cache_file=str(corpus_file("lctl-dl-t.txt.gz")))
    assert lctl.get_failovers()["snx11035"]["abnormal_ips"] == {
        "10.100.101.7": ["OST0002", "OST0003"]
    }
    link = corpus_file("2017-03-20/osts.txt.gz")
    assert NerscLfsOstFullness(cache_file=str(link)) == fullness


def test_documented_module_regexes() -> None:
    """``nersc_lfsstate._REX_LFS_DF`` / ``_REX_OST_MAP``: one target line, one device line."""
    from atokio.connectors import nersc_lfsstate

    df = nersc_lfsstate._REX_LFS_DF.fullmatch(
        "snx11025-OST0001_UUID 90767651352 40344493196 49969389212  45% /scratch1[OST:1]"
    )
    assert df is not None
    assert df.groups() == ("snx11025", "OST0001", "90767651352", "40344493196",
                           "49969389212", "/scratch1", "OST", "1")  # fmt: skip
    device = nersc_lfsstate._REX_OST_MAP.fullmatch(
        "  5 UP osc snx11025-OST0001-osc-ffff88203b2a5800 "
        "a4a5f0a6-e3b5-e8a7-1b31-c7d68f1c1a10 5 10.100.100.12@o2ib1"
    )
    assert device is not None
    assert device.group(3, 4, 8) == (
        "osc",
        "snx11025-OST0001-osc-ffff88203b2a5800",
        "10.100.100.12",
    )
