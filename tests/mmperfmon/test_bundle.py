"""Tar bundles parsed by the worker processes: the same dict as one process, errors, tar listing."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmpm_data import STAMPS, USAGE, WRAPPED, render
from test_parser import HOST1, T1, T2, T3

from atokio.collectors import mmperfmon as collector
from atokio.collectors.workers import processes_can_start
from atokio.connectors.mmperfmon import Mmperfmon
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.mmperfmon import (
    MmperfmonParser,
    MmperfmonTableParser,
    RowChunk,
    merge_chunks,
    merge_samples,
)

#: Null samples in every block, and a row whose hosts are all null.
NULLS = render(
    [
        "node3.example.org|GPFSNSDDisk|d0|gpfs_nsdds_bytes_read",
        "node4.example.org|GPFSNSDDisk|d1|gpfs_nsdds_bytes_read",
        "node3.example.org|CPU|cpu_user",
    ],
    STAMPS,
    [[["null", "2"], ["3", "null"], ["null", "null"]], [["0.5"], ["null"], ["null"]]],
    [["gpfs_nsdds_bytes_read"] * 2, ["cpu_user"]],
)

#: One key both with and without instance, over two blocks.
MIXED = render(
    [
        "node5.example.org|X|a|metric",
        "node5.example.org|X|metric",
        "node5.example.org|X|b|metric",
    ],
    STAMPS,
    [[["1", "2"], ["3", "4"], ["5", "6"]], [["7"], ["8"], ["9"]]],
    [["metric", "metric"], ["metric"]],
)


def write_tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def hostname(text: str, host: str) -> bytes:
    return text.replace("node1.example.org", host).replace("node2.example.org", host).encode()


MEMBERS = [
    *((f"b/usage/h{n}.out", hostname(USAGE, f"u{n}.example.org")) for n in range(6)),
    ("b/wrapped/w.out.gz", gzip.compress(WRAPPED.encode())),
    ("b/nulls.out", NULLS.encode()),
    ("b/mixed.out", MIXED.encode()),
    ("b/again.out", (WRAPPED + USAGE).encode()),
]


def sequential(path: Path, monkeypatch: pytest.MonkeyPatch) -> Mmperfmon:
    with monkeypatch.context() as patch:
        patch.setattr(collector, "PARALLEL_BYTES", 1 << 62)
        return Mmperfmon.from_file(str(path))


def shape(data: dict[int, Any]) -> str:
    """Keys in order and value types (JSON tells 1 from 1.0)."""
    return json.dumps(data)


needs_processes = pytest.mark.skipif(not processes_can_start(), reason="no worker processes")


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any bundle takes the worker path, one or two members a group."""
    monkeypatch.setattr(collector, "machine_busy", lambda workers: False)
    monkeypatch.setattr(collector, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(collector, "GROUP_BYTES", 2000)


@needs_processes
def test_parallel_load_equals_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: None
) -> None:
    path = write_tar(tmp_path / "b.tar", MEMBERS)
    loaded: list[bool] = []
    real = collector.load_tar_bundle
    monkeypatch.setattr(
        "atokio.connectors.mmperfmon.load_tar_bundle",
        lambda *a, **k: loaded.append(real(*a, **k)) or loaded[-1],
    )
    both = Mmperfmon.from_file(str(path))
    assert loaded == [True]
    one = sequential(path, monkeypatch)
    assert both == one
    assert shape(both) == shape(one)
    assert both[T1]["u0.example.org"]["net_r_bytes"] == {"lo": 1740.8}
    assert both[T2]["node3.example.org"] == {"gpfs_nsdds_bytes_read": {"d0": 3}}
    assert both[T3] == {**both[T3]}  # an all-null row still gives its time stamp
    assert list(both) == [T1, T2, T3]


@needs_processes
def test_parallel_bad_member_names_member_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: None
) -> None:
    bad = USAGE.replace("      1e1", "     bad!").replace("node1", "bad")
    members = [*MEMBERS[:3], ("b/bad.out", bad.encode()), *MEMBERS[3:]]
    path = write_tar(tmp_path / "b.tar", members)
    errors = []
    for how in ("parallel", "sequential"):
        mmpm = Mmperfmon()
        with pytest.raises(ParseError) as caught:
            if how == "parallel":
                mmpm.load(str(path))
            else:
                with monkeypatch.context() as patch:
                    patch.setattr(collector, "PARALLEL_BYTES", 1 << 62)
                    mmpm.load(str(path))
        errors.append((caught.value.source, caught.value.line_number, caught.value.message))
        # what came before the bad line was merged, nothing after it
        assert sorted({host for hosts in mmpm.values() for host in hosts}) == [
            "bad.example.org",
            "u0.example.org",
            "u1.example.org",
            "u2.example.org",
        ]
        assert "bad.example.org" not in mmpm[T3]
    assert errors[0] == errors[1] == (f"{path}:b/bad.out", 10, "not a number: 'bad!'")


@needs_processes
def test_parallel_bad_time_stamp_and_bad_gzip_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: None
) -> None:
    stamp = USAGE.replace("2019-01-11-10:03:00", "2019-02-30-10:03:00")
    path = write_tar(tmp_path / "s.tar", [*MEMBERS[:2], ("b/stamp.out", stamp.encode())])
    with pytest.raises(ParseError) as caught:
        Mmperfmon.from_file(str(path))
    assert (caught.value.source, caught.value.line_number) == (f"{path}:b/stamp.out", 10)
    assert "day is out of range for month" in caught.value.message
    broken = write_tar(tmp_path / "g.tar", [*MEMBERS[:2], ("b/x.out.gz", b"\x1f\x8bnot gzip")])
    with pytest.raises(gzip.BadGzipFile):
        Mmperfmon.from_file(str(broken))


@needs_processes
def test_broken_workers_fall_back_to_one_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parallel: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = write_tar(tmp_path / "b.tar", MEMBERS)
    broken = ProcessPoolExecutor(max_workers=1)
    with pytest.raises(BrokenProcessPool):
        broken.submit(os._exit, 1).result()  # its worker died: the pool is broken
    monkeypatch.setattr(collector, "process_pool", lambda: broken)
    monkeypatch.setattr(collector, "warm_up", lambda workers: None)
    with caplog.at_level(logging.WARNING, logger=collector.__name__):
        loaded = Mmperfmon.from_file(str(path))
    assert shape(loaded) == shape(sequential(path, monkeypatch))
    assert "worker processes failed" in caplog.text
    assert "loading in this process" in caplog.text


def test_busy_machine_one_core_or_no_processes_parse_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: None
) -> None:
    path = write_tar(tmp_path / "b.tar", MEMBERS)
    expected = shape(sequential(path, monkeypatch))

    def no_pool() -> None:
        raise AssertionError("no worker process should be used")

    monkeypatch.setattr(collector, "process_pool", no_pool)
    monkeypatch.setattr(collector, "warm_up", lambda workers: no_pool())
    for how in ("busy", "one core", "no processes"):
        with monkeypatch.context() as patch:
            busy, can_start = how == "busy", how != "no processes"
            patch.setattr(collector, "machine_busy", lambda workers, busy=busy: busy)
            patch.setattr(collector, "processes_can_start", lambda can=can_start: can)
            into: dict[int, Any] = {}
            assert collector.load_tar_bundle(
                str(path), into, f"{path}:", workers=1 if how == "one core" else 2
            )
            assert shape(into) == expected
    assert isinstance(collector.machine_busy(2), bool)


def test_compressed_and_small_bundles_take_the_one_process_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: None
) -> None:
    tgz = write_tar(tmp_path / "b.tgz", MEMBERS, "w:gz")
    plain = write_tar(tmp_path / "b.tar", MEMBERS)
    assert collector.plain_tar_members(str(tgz)) is None
    assert not collector.load_tar_bundle(str(tgz), {}, "x:")
    assert Mmperfmon.from_file(str(tgz)) == sequential(plain, monkeypatch)
    monkeypatch.setattr(collector, "PARALLEL_BYTES", 1 << 62)
    assert not collector.load_tar_bundle(str(plain), {}, "x:")


def test_members_parsed_and_merged_here_equal_the_samples(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "b.tar", MEMBERS)
    members = collector.plain_tar_members(str(path))
    assert members is not None
    results = collector.parse_tar_members(str(path), members, "pre:")
    assert [source for source, _, _ in results] == [f"pre:{name}" for name, _ in MEMBERS]
    into: dict[int, Any] = {}
    collector._merge_results(results, into, {})
    expected: dict[int, Any] = {}
    for name, data in MEMBERS:
        text = gzip.decompress(data) if name.endswith(".gz") else data
        merge_samples(parse_all(MmperfmonParser(name), text), expected)
    assert shape(into) == shape(expected)


# -- the table parser ----------------------------------------------------------------------


def chunks_of(text: str | bytes, cuts: list[int] | None = None) -> list[RowChunk]:
    data = text.encode() if isinstance(text, str) else text
    parser = MmperfmonTableParser("t")
    out: list[RowChunk] = []
    last = 0
    for cut in sorted(set(cuts or [])):
        out += parser.feed(data[last:cut])
        last = cut
    return out + parser.feed(data[last:]) + parser.close()


def merged(chunks: list[RowChunk]) -> dict[int, Any]:
    return merge_chunks(chunks, {}, {}, "t")


@pytest.mark.parametrize("text", [USAGE, WRAPPED, NULLS, MIXED, WRAPPED + NULLS + USAGE + MIXED])
def test_table_chunks_give_the_samples_dict(text: str) -> None:
    expected = merge_samples(parse_all(MmperfmonParser("t"), text.encode()))
    assert shape(merged(chunks_of(text))) == shape(expected)


def test_blocks_of_a_table_come_as_one_chunk_when_they_line_up() -> None:
    wrapped = chunks_of(WRAPPED)
    assert len(wrapped) == 1
    assert wrapped[0].first_line == 10
    assert [len(column) for column in wrapped[0].columns] == [3] * 5
    assert wrapped[0].layout[3] == ("node2.example.org", "gpfs_fs_read_ops", "fs.example.org|tl1")
    assert wrapped[0].complete
    assert [chunk.complete for chunk in chunks_of(NULLS)] == [False, False]  # a chunk per block
    assert len(chunks_of(MIXED)) == 2  # a key with and without instance
    assert chunks_of(USAGE)[0].stamps[0].strip() == STAMPS[0]


SMALL = (USAGE + WRAPPED + NULLS).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(SMALL)), max_size=20))
def test_table_chunks_do_not_depend_on_chunking(cuts: list[int]) -> None:
    assert shape(merged(chunks_of(SMALL, cuts))) == shape(merged(chunks_of(SMALL)))


def test_table_parser_errors_carry_the_rows_before() -> None:
    with pytest.raises(ParseError) as caught:
        chunks_of(WRAPPED[: WRAPPED.rindex("  3 2019")])
    assert "has 2 rows, the first block 3" in caught.value.message
    assert list(merged(caught.value.records)) == [T1, T2, T3]  # type: ignore[arg-type]
    bad = USAGE.replace("2019-01-11-10:02:00", "2019-01-11-10:99:00")
    with pytest.raises(ParseError) as caught:
        chunks_of(bad)
    with pytest.raises(ParseError) as as_samples:
        parse_all(MmperfmonParser("t"), bad.encode())
    assert caught.value.line_number == as_samples.value.line_number == 9
    assert "minute must be in 0..59" in caught.value.message
    before = merge_samples(as_samples.value.records)  # type: ignore[attr-defined]
    assert (
        merged(caught.value.records)
        == before
        == {
            T1: {
                HOST1: {
                    "cpu_user": 0.2,
                    "mem_total_bytes": 32894877696.0,
                    "net_r_bytes": {"lo": 1740.8},
                }
            }
        }
    )  # type: ignore[arg-type]
    with pytest.raises(ParseError) as caught:
        merge_chunks(
            [RowChunk(4, [" 2019-01-11-10:01:00", "x"], [[1, 2]], ((HOST1, "m", None),))],
            into := {},
            {},
            "src",
        )
    assert (caught.value.source, caught.value.line_number) == ("src", 5)
    assert into == {T1: {HOST1: {"m": 1}}}


# -- tar listing ------------------------------------------------------------------------------


def tarfile_members(path: Path) -> list[collector.TarMember]:
    with tarfile.open(path, "r:") as tar:
        return [collector.TarMember(m.name, m.offset_data, m.size) for m in tar if m.isfile()]


@pytest.mark.parametrize("form", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tar_listing_equals_tarfile(tmp_path: Path, form: int) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w", format=form) as tar:
        for name, data in (
            ("a/b.out", b"x" * 700),
            ("d/" + "y" * 120 + "/c.out", b"z" * 10),
            ("e.out", b""),
            ("\u03a9.out", b"q"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        folder = tarfile.TarInfo("sub")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    assert collector.plain_tar_members(str(path)) == tarfile_members(path)
    read_directly = collector._ustar_members(str(path))
    assert read_directly is None or read_directly == tarfile_members(path)
    if form == tarfile.USTAR_FORMAT:
        assert read_directly is not None  # prefix + name of a long path
    corrupt = bytearray(path.read_bytes())
    corrupt[100] ^= 1  # the mode field: the checksum no longer matches
    (tmp_path / "bad.tar").write_bytes(bytes(corrupt))
    assert collector._ustar_members(str(tmp_path / "bad.tar")) is None
