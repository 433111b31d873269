"""The Mmperfmon connector: files, directories, bundles, JSON caches, DataFrames."""

from __future__ import annotations

import gc
import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pandas
import pytest
from mmpm_data import STAMPS, USAGE, WRAPPED, corpus_file
from test_parser import HOST1, HOST2, T1, T2, T3, epoch

from atokio.connectors import mmperfmon as connector
from atokio.connectors.mmperfmon import Mmperfmon
from atokio.parsers.base import ParseError


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A .tgz with both small outputs (one gzipped) in subdirectories."""
    path = tmp_path / "mmperfmon.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (
            ("b/servers/node1.out", USAGE.encode()),
            ("b/read/node2.out.gz", gzip.compress(WRAPPED.encode())),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_module_functions_are_reexported() -> None:
    assert connector.value_unit_to_bytes("1 MB") == 1048576
    assert connector.get_col_pos("Row Timestamp") == [(0, 3), (4, 13)]


def test_from_str() -> None:
    mmpm = Mmperfmon.from_str(USAGE)
    assert list(mmpm) == [T1, T2, T3]
    assert mmpm[T1] == {
        HOST1: {"cpu_user": 0.2, "mem_total_bytes": 32894877696.0, "net_r_bytes": {"lo": 1740.8}}
    }
    assert mmpm[T2] == {HOST1: {"cpu_user": 0, "mem_total_bytes": 32894877696.0}}


def test_file_gzip_directory_and_bundle_agree(tmp_path: Path, bundle: Path) -> None:
    plain = tmp_path / "usage.out"
    plain.write_text(USAGE)
    zipped = tmp_path / "wrapped.out.gz"
    zipped.write_bytes(gzip.compress(WRAPPED.encode()))
    one_by_one = Mmperfmon.from_file(str(plain))
    one_by_one.load(str(zipped))
    directory = tmp_path / "dir"
    (directory / "x").mkdir(parents=True)
    (directory / "x" / "a.out").write_text(USAGE)
    (directory / "b.out").write_text(WRAPPED)
    from_dir = Mmperfmon.from_file(str(directory))
    from_tar = Mmperfmon(cache_file=str(bundle))
    assert from_dir == one_by_one
    assert from_tar == one_by_one
    assert set(one_by_one[T1]) == {HOST1, HOST2}
    assert one_by_one[T1][HOST2]["gpfs_fs_read_ops"] == {"fs.example.org|tl1": 10}


class _WatchGc(Mmperfmon):
    """Notes whether the cyclic collector ran while samples were merged."""

    seen: list[bool] = []

    def _apply_records(self, records: list[Any]) -> None:
        self.seen.append(gc.isenabled())
        super()._apply_records(records)


@pytest.mark.parametrize("how", ["bundle", "file", "string"])
def test_collector_paused_while_loading_and_restored(
    tmp_path: Path, bundle: Path, how: str
) -> None:
    plain = tmp_path / "usage.out"
    plain.write_text(USAGE)
    _WatchGc.seen = []
    assert gc.isenabled()
    if how == "bundle":
        loaded = _WatchGc(cache_file=str(bundle))
    elif how == "file":
        loaded = _WatchGc(cache_file=str(plain))
    else:
        loaded = _WatchGc(from_string=USAGE)
    assert gc.isenabled()
    assert _WatchGc.seen and not any(_WatchGc.seen)
    assert loaded[T1][HOST1]["cpu_user"] == 0.2


def test_loading_twice_changes_nothing(bundle: Path) -> None:
    mmpm = Mmperfmon.from_file(str(bundle))
    before = json.loads(mmpm.to_json())
    mmpm.load(str(bundle))
    assert json.loads(mmpm.to_json()) == before


def test_json_cache_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mmpm = Mmperfmon.from_str(WRAPPED)
    out = tmp_path / "cache.json"
    mmpm.save_cache(str(out))
    text = out.read_text()
    assert not text.endswith("\n")
    assert text.startswith(
        '{"%d": {"node2.example.org": {"gpfs_nsdds_bytes_read": {"ddn1dt00": 1, ' % T1
    )
    again = Mmperfmon.from_file(str(out))
    assert again == mmpm
    assert all(type(key) is int for key in again)
    assert Mmperfmon.from_str(text) == mmpm
    mmpm.save_cache()
    assert capsys.readouterr().out == text
    assert repr(mmpm) == text


def test_empty_file_loads_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "mmperfmon.2019-05-16-mini.tgz"
    empty.write_bytes(b"")
    assert Mmperfmon.from_file(str(empty)) == {}


def test_bad_text_raises_after_merging_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "bad.out"
    path.write_text(USAGE.replace("      1e1", "     bad!"))
    mmpm = Mmperfmon()
    with pytest.raises(ParseError) as caught:
        mmpm.load(str(path))
    assert caught.value.source == str(path)
    assert caught.value.line_number == 10
    assert list(mmpm) == [T1, T2]


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        Mmperfmon.from_file("/nonexistent/mmperfmon.out")


def test_to_dataframe_by_host() -> None:
    frame = Mmperfmon.from_str(USAGE).to_dataframe(by_host=HOST1)
    assert list(frame.columns) == ["cpu_user", "mem_total_bytes", "net_r_bytes:lo"]
    assert frame.index.name == "timestamp"
    assert list(frame.index) == [pandas.Timestamp(s.replace("-10:", " 10:")) for s in STAMPS]
    assert frame.loc[frame.index[0], "net_r_bytes:lo"] == 1740.8
    assert pandas.isna(frame.loc[frame.index[1], "net_r_bytes:lo"])


def test_to_dataframe_by_metric() -> None:
    frame = Mmperfmon.from_str(WRAPPED).to_dataframe(by_metric="gpfs_nsdds_bytes_read")
    assert list(frame.columns) == [f"{HOST2}:ddn1dt00", f"{HOST2}:ddn1dt01", f"{HOST2}:na1md00"]
    assert frame.iloc[:, 0].tolist() == [1, 4, 7]
    scalar = Mmperfmon.from_str(USAGE).to_dataframe(by_metric="cpu_user")
    assert list(scalar.columns) == [HOST1]
    assert scalar[HOST1].tolist() == [0.2, 0.0, 10.0]


def test_to_dataframe_needs_exactly_one_selector() -> None:
    mmpm = Mmperfmon.from_str(USAGE)
    with pytest.raises(RuntimeError):
        mmpm.to_dataframe()
    with pytest.raises(RuntimeError):
        mmpm.to_dataframe(by_host=HOST1, by_metric="cpu_user")
    assert mmpm.to_dataframe_by_host("unknown").empty


def test_corpus_bundles() -> None:
    flat = Mmperfmon.from_file(str(corpus_file("bundle")))
    assert len(flat) == 60
    assert len({host for hosts in flat.values() for host in hosts}) == 36
    micro = Mmperfmon.from_file(str(corpus_file("micro")))
    first = micro[epoch("2019-05-15-12:01:00")]
    assert set(first) == {f"ngfsv{n}.nersc.gov" for n in (448, 449, 492, 493, 494, 495)}
    assert len(first["ngfsv449.nersc.gov"]["gpfs_nsdds_bytes_read"]) == 42
    assert first["ngfsv449.nersc.gov"]["net_s_bytes"] == {"lo": 75.6 * 1024}
    assert Mmperfmon.from_file(str(corpus_file("empty"))) == {}
