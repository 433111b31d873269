"""Module-level names pytokio scripts use: commands, table names, time formats, hit flags."""

from __future__ import annotations

import datetime
import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conform_standins import calls

from atokio.connectors import cachingdb, darshan, lfshealth, nersc_jobsdb, nersc_lfsstate, slurm

DARSHAN_TEXT = """# darshan log version: 3.10
# compression method: ZLIB
# exe: /bin/app
# uid: 1000
# jobid: 42
# start_time: 1490000867
# start_time_asci: Mon Mar 20 09:07:47 2017
# end_time: 1490000983
# end_time_asci: Mon Mar 20 09:09:43 2017
# nprocs: 1
# run time: 117
# metadata: lib_ver = 3.1.3

# mounted file systems (mount point and fs type)
# -------------------------------------------------------
# mount entry:\t/scratch\tlustre

# *******************************************************
# POSIX module data
# *******************************************************

#<module>\t<rank>\t<record id>\t<counter>\t<value>\t<file name>\t<mount pt>\t<fs type>
POSIX\t0\t123\tPOSIX_OPENS\t4\t/scratch/a\t/scratch\tlustre
"""

SACCT_TEXT = "JobIDRaw|Start|End|NodeList\n777|2019-01-01T00:00:00|2019-01-01T01:00:00|nid0[1-2]\n"

LFS_DF_TEXT = (
    "UUID                   1K-blocks        Used   Available Use% Mounted on\n"
    "snx11035-OST0000_UUID 90767651352 65387344040 24423870832  73% /scratch2[OST:0]\n"
)
LCTL_TEXT = (
    "  4 UP osc snx11035-OST0014-osc-ffff885f81a64000 8dbdc7f6-8f86-86ea-052f-357e2db2a7d9 5 "
    "10.100.101.25@o2ib2\n"
)


@pytest.fixture
def restore(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Module attributes the tests assign are put back afterwards."""
    for module, name in (
        (darshan, "DARSHAN_PARSER_BIN"),
        (slurm, "SACCT"),
        (lfshealth, "LCTL"),
        (lfshealth, "LCTL_DL_T"),
        (lfshealth, "LFS"),
        (lfshealth, "LFS_DF"),
    ):
        monkeypatch.setattr(module, name, getattr(module, name))
    return monkeypatch


def test_darshan_parser_bin_is_read_at_each_call(
    restore: pytest.MonkeyPatch, standin: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    assert darshan.DARSHAN_PARSER_BIN == "darshan-parser"
    mine, log = standin("my-darshan-parser", DARSHAN_TEXT)
    other, other_log = standin("other-parser", "", status=1)
    restore.setenv("ATOKIO_DARSHAN_PARSER", str(other))
    assert darshan.darshan_parser_executable() == str(other)  # default value: the variable counts
    darshan.DARSHAN_PARSER_BIN = str(mine)  # assigned: it wins over the variable
    result = darshan.Darshan(str(tmp_path / "job.darshan"))
    result.darshan_parser_base()
    # "--" before the log: a log named like an option is still a file
    assert calls(log) == [["my-darshan-parser", "--base", "--", str(tmp_path / "job.darshan")]]
    assert calls(other_log) == []
    assert result["counters"]["posix"]["/scratch/a"]["0"]["OPENS"] == 4
    assert result["header"]["jobid"] == "42"


def test_sacct_is_read_at_each_call(
    restore: pytest.MonkeyPatch, standin: Callable[..., tuple[Path, Path]]
) -> None:
    assert slurm.SACCT == "sacct"
    mine, log = standin("my-sacct", SACCT_TEXT)
    restore.setenv("ATOKIO_SACCT", "/nonexistent/sacct")
    slurm.SACCT = str(mine)
    job = slurm.Slurm("777")
    assert calls(log)[0][0] == "my-sacct"
    assert "777" in " ".join(calls(log)[0])
    assert job["777"]["nodelist"] == {"nid01", "nid02"}


def test_lfs_and_lctl_commands(
    restore: pytest.MonkeyPatch, standin: Callable[..., tuple[Path, Path]]
) -> None:
    assert (lfshealth.LFS, lfshealth.LFS_DF) == ("lfs", ["lfs", "df"])
    assert (lfshealth.LCTL, lfshealth.LCTL_DL_T) == ("lctl", ["lctl", "dl", "-t"])
    lfs, lfs_log = standin("my-lfs", LFS_DF_TEXT)
    lctl, lctl_log = standin("my-lctl", LCTL_TEXT)
    lfshealth.LFS = str(lfs)  # the command alone: the usual arguments follow
    fullness = lfshealth.LfsOstFullness()
    assert calls(lfs_log) == [["my-lfs", "df"]]
    assert fullness["snx11035"]["OST0000"]["used_kib"] == 65387344040
    lfshealth.LCTL_DL_T = [str(lctl), "dl", "-t", "--extra"]  # the whole command line
    ost_map = lfshealth.LfsOstMap()
    assert calls(lctl_log) == [["my-lctl", "dl", "-t", "--extra"]]
    assert ost_map["snx11035"]["OST0014"]["target_ip"] == "10.100.101.25"


def test_lustre_regular_expressions() -> None:
    assert lfshealth._REX_LFS_DF is nersc_lfsstate._REX_LFS_DF
    assert lfshealth._REX_OST_MAP is nersc_lfsstate._REX_OST_MAP
    assert isinstance(lfshealth._REX_LFS_DF, re.Pattern)
    assert lfshealth._REX_LFS_DF.search(LFS_DF_TEXT.splitlines()[1])
    assert lfshealth._REX_OST_MAP.search(LCTL_TEXT)


def test_index_table_names() -> None:
    index = importlib.import_module("atokio.cli.index_darshanlogs")
    assert (index.MOUNTS_TABLE, index.HEADERS_TABLE, index.SUMMARIES_TABLE) == (
        "mounts",
        "headers",
        "summaries",
    )


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (
            "archive_lmtdb",
            {"DATE_FMT": "%Y-%m-%dT%H:%M:%S", "DATE_FMT_PRINT": "YYYY-MM-DDTHH:MM:SS"},
        ),
        ("archive_collectdes", {"DATE_FMT": "%Y-%m-%dT%H:%M:%S"}),
        ("archive_esnet_snmp", {"DATE_FMT": "%Y-%m-%dT%H:%M:%S"}),
        ("archive_mmperfmon", {"DATE_FMT": "%Y-%m-%dT%H:%M:%S"}),
        ("cache_collectdes", {"DATE_FMT": "%Y-%m-%dT%H:%M:%S"}),
        ("cache_esnet_snmp", {"DATE_FMT": "%Y-%m-%dT%H:%M:%S"}),
        ("cache_nersc_globuslogs", {"DATE_FMT": "%Y-%m-%dT%H:%M:%S"}),
        ("summarize_h5lmt", {"DATE_FMT": "%Y-%m-%d", "DATE_FMT_STR": "YYYY-MM-DDTHH:MM:SS"}),
        ("find_darshanlogs", {"DATE_FMT": "%Y-%m-%d", "DATE_FMT_PRINT": "YYYY-MM-DD"}),
    ],
)
def test_time_formats(module: str, names: dict[str, str]) -> None:
    loaded = importlib.import_module(f"atokio.cli.{module}")
    for name, value in names.items():
        assert getattr(loaded, name) == value
    text = "2019-05-15" if loaded.DATE_FMT == "%Y-%m-%d" else "2019-05-15T12:30:00"
    assert datetime.datetime.strptime(text, loaded.DATE_FMT).strftime(loaded.DATE_FMT) == text


def test_hit_flags() -> None:
    assert (nersc_jobsdb.HIT_MEMORY, nersc_jobsdb.HIT_CACHE_DB, nersc_jobsdb.HIT_REMOTE_DB) == (
        0,
        1,
        2,
    )
    assert (cachingdb.HIT_CACHE_DB, cachingdb.HIT_REMOTE_DB) == (1, 2)
