"""tools.common, tools.nersc_mmperfmon and tools.lfsstatus as pytokio scripts use them."""

from __future__ import annotations

import datetime
import gzip
import shutil
from pathlib import Path

import pytest
from corpus import INPUTS, need_corpus

from atokio import config
from atokio.common import to_epoch
from atokio.tools import lfsstatus
from atokio.tools.common import enumerate_dated_files
from atokio.tools.nersc_mmperfmon import enumerate_mmperfmon_txt

DAY = datetime.datetime(2019, 5, 15)


def touch(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return str(path)


def test_dict_template_without_lookup_key_and_globs(tmp_path: Path) -> None:
    a = touch(tmp_path / "2019-05-15" / "a1.out")
    b1 = touch(tmp_path / "2019-05-15" / "b1.out")
    b2 = touch(tmp_path / "2019-05-15" / "b2.out")
    c = touch(tmp_path / "2019-05-16" / "c.out")
    template = {
        "fs_a": str(tmp_path / "%Y-%m-%d" / "a1.out"),
        "fs_b": [str(tmp_path / "%Y-%m-%d" / "b*.out"), str(tmp_path / "%Y-%m-%d" / "c.out")],
    }
    every = enumerate_dated_files(
        DAY, DAY + datetime.timedelta(days=1), template, match_first=False, use_glob=True
    )
    assert sorted(every) == sorted([a, b1, b2, c])
    only_b = enumerate_dated_files(
        DAY, DAY, template, lookup_key="fs_b", match_first=False, use_glob=True
    )
    assert sorted(only_b) == [b1, b2]
    plain = enumerate_dated_files(DAY, DAY + datetime.timedelta(days=1), template)
    assert sorted(plain) == sorted([a, c])  # no globbing: "b*.out" names no file


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A configuration whose paths point into ``tmp_path``."""
    monkeypatch.setitem(
        config.CONFIG,
        "mmperfmon_output_files",
        {
            "gpfs1": [
                str(tmp_path / "out" / "*" / "ngfsv*.nersc.gov.%Y-%m-%d-%H:00:00.out"),
                str(tmp_path / "out" / "*" / "ngfsv*.nersc.gov.%Y-%m-%d-%H:00:00.out.gz"),
            ],
            "other": str(tmp_path / "nothing-%Y.out"),
        },
    )
    return tmp_path


def test_enumerate_mmperfmon_txt(site: Path) -> None:
    made = {}
    for folder, host, hour, suffix in [
        ("read", "ngfsv491", 10, ".out"),
        ("write", "ngfsv492", 10, ".out.gz"),
        ("read", "ngfsv491", 11, ".out"),
        ("read", "ngfsv491", 12, ".out"),
        ("read", "ngfsv491", 14, ".out"),
    ]:
        made[(host, hour)] = touch(
            site / "out" / folder / f"{host}.nersc.gov.2019-05-15-{hour:02d}:00:00{suffix}"
        )
    found = enumerate_mmperfmon_txt("gpfs1", DAY.replace(hour=10, minute=30), DAY.replace(hour=12))
    assert sorted(found) == sorted(
        [made[("ngfsv491", 10)], made[("ngfsv492", 10)], made[("ngfsv491", 11)],
         made[("ngfsv491", 12)]]
    )  # fmt: skip
    assert enumerate_mmperfmon_txt("other", DAY, DAY) == []
    with pytest.raises(KeyError, match="'nope' is not in mmperfmon_output_files"):
        enumerate_mmperfmon_txt("nope", DAY, DAY)
    with pytest.raises(ValueError, match="precedes"):
        enumerate_mmperfmon_txt("gpfs1", DAY, DAY - datetime.timedelta(hours=1))


def test_enumerate_mmperfmon_txt_corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    need_corpus()
    monkeypatch.chdir(INPUTS.parent)
    monkeypatch.setitem(
        config.CONFIG,
        "mmperfmon_output_files",
        {"testfs-mini": ["inputs/mmperfmon.%Y-%m-%d-mini.tgz"]},
    )
    assert enumerate_mmperfmon_txt("testfs-mini", DAY, DAY + datetime.timedelta(days=1)) == [
        "inputs/mmperfmon.2019-05-15-mini.tgz",
        "inputs/mmperfmon.2019-05-16-mini.tgz",
    ]


def test_lfsstatus_falls_through_unreadable_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    need_corpus()
    day = tmp_path / "2017-03-20"
    day.mkdir()
    (day / "snx11035.hdf5").write_bytes(b"not an HDF5 file")  # the hdf5 provider's file
    shutil.copyfile(INPUTS / "sample_ost-fullness.txt.gz", day / "osts.txt.gz")
    shutil.copyfile(INPUTS / "sample_ost-map.txt.gz", day / "ost-map.txt.gz")
    before = tmp_path / "2017-03-19"
    before.mkdir()
    whole = gzip.compress((INPUTS / "sample_ost-fullness.txt.gz").read_bytes())
    (before / "osts.txt.gz").write_bytes(whole[: len(whole) // 2])  # cut short
    template = str(tmp_path / "%Y-%m-%d")
    for key, value in {
        "fsname_to_backend_name": {"scratch2": "snx11035"},
        "hdf5_files": {"scratch2": [template + "/snx11035.hdf5"]},
        "lfsstatus_fullness_files": [template + "/osts.txt.gz"],
        "lfsstatus_map_files": [template + "/ost-map.txt.gz"],
        "lfsstatus_fullness_providers": ["hdf5", "nersc_lfsstate"],
    }.items():
        monkeypatch.setitem(config.CONFIG, key, value)
    noon = datetime.datetime(2017, 3, 20, 12, 0, 0)
    fullness = lfsstatus.get_fullness("scratch2", noon)
    assert fullness["ost_count"] == 24
    assert fullness["ost_requested_timestamp"] == to_epoch(noon)
    assert fullness["ost_actual_timestamp"] <= to_epoch(noon) < fullness["ost_next_timestamp"]
    failures = lfsstatus.get_failures("scratch2", noon)
    assert failures["ost_actual_timestamp"] <= to_epoch(noon) < failures["ost_next_timestamp"]
    late = lfsstatus.get_fullness("scratch2", datetime.datetime(2017, 3, 21, 23, 59))
    assert late["ost_next_timestamp"] == late["ost_actual_timestamp"] + 1  # no later sample
