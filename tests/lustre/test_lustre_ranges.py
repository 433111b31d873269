"""NERSC concatenations read in byte ranges cut before BEGIN lines, parsed by worker processes."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest
from lustre_data import concatenate, lctl_dl, lfs_df

from atokio.connectors import nersc_lfsstate
from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness, NerscLfsOstMap, read_blocks
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.lfs_nersc import NerscFullnessParser

DF_BLOCKS = [
    lfs_df([("snx11035", "/scratch2", 3), ("snx11025", "/scratch1", 2)], seed=k) for k in range(7)
]
LCTL = lctl_dl([("snx11035", 4, 101), ("snx11025", 3, 100)], failed_over={"snx11035": 3})


def fullness_text(count: int) -> str:
    """``count`` blocks, some of another layout, an empty one and a repeated time stamp."""
    outputs = [(1000 + k, DF_BLOCKS[k % 7]) for k in range(count)]
    outputs[5] = (1005, "")
    outputs[9] = (1003, DF_BLOCKS[2])  # seen before
    return "\n" + concatenate(outputs)


@pytest.mark.parametrize("segment", [1, 700, 5000, 1 << 30])
def test_all_cores_equal_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, segment: int
) -> None:
    path = tmp_path / "osts.txt"
    text = fullness_text(80)
    path.write_text(text)
    monkeypatch.setattr(nersc_lfsstate, "SEGMENT", segment)
    monkeypatch.setattr(nersc_lfsstate, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(nersc_lfsstate, "machine_busy", lambda workers: False)
    with caplog.at_level(logging.WARNING):
        fullness = NerscLfsOstFullness(str(path))
    alone = NerscLfsOstFullness(str(path), workers=1)
    assert fullness == alone and list(fullness) == list(alone)
    assert len(fullness) == 79 and fullness[1005] == {}
    blocks = read_blocks(str(path), NerscFullnessParser(str(path)))
    assert blocks == parse_all(NerscFullnessParser(str(path)), text.encode())
    line = (
        2
        + sum(block.count("\n") + 1 for block in [DF_BLOCKS[k % 7] for k in range(9)])
        - (DF_BLOCKS[5].count("\n"))
    )
    assert f"{path}:{line}: time stamp 1003 seen before; the later block wins" in caplog.text


def test_ost_maps_in_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ost-map.txt"
    path.write_text(concatenate([(2000 + k, LCTL) for k in range(30)]))
    monkeypatch.setattr(nersc_lfsstate, "SEGMENT", 900)
    monkeypatch.setattr(nersc_lfsstate, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(nersc_lfsstate, "machine_busy", lambda workers: False)
    maps = NerscLfsOstMap(str(path))
    assert maps == NerscLfsOstMap(str(path), workers=1) and len(maps) == 30
    assert maps[2000] is not maps[2001] and maps[2000]["snx11035"] is not maps[2001]["snx11035"]


def test_a_bad_line_is_numbered_in_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = fullness_text(40) + "BEGIN 9999\nsnx1-OST0000_UUID 12 3\n" + fullness_text(12)
    path = tmp_path / "osts.txt"
    path.write_text(text)
    monkeypatch.setattr(nersc_lfsstate, "SEGMENT", 600)
    monkeypatch.setattr(nersc_lfsstate, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(nersc_lfsstate, "machine_busy", lambda workers: False)
    with pytest.raises(ParseError) as caught:
        NerscLfsOstFullness(str(path))
    assert caught.value.line_number == fullness_text(40).count("\n") + 2
    assert caught.value.source == str(path)
    assert "malformed lfs df target line" in str(caught.value)


def test_gzip_file(tmp_path: Path) -> None:
    text = fullness_text(30)
    path = tmp_path / "osts.txt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    plain = tmp_path / "osts.txt"
    plain.write_text(text)
    assert NerscLfsOstFullness(str(path)) == NerscLfsOstFullness(str(plain), workers=1)


@pytest.mark.parametrize(
    ("case", "parallel_bytes", "busy"),
    [("a small file", None, False), ("a large file on busy cores", 0, True)],
)
def test_a_file_is_parsed_here_by_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    parallel_bytes: int | None,
    busy: bool,
) -> None:
    path = tmp_path / "osts.txt"
    path.write_text(fullness_text(20))
    monkeypatch.setattr(nersc_lfsstate, "SEGMENT", 500)
    if parallel_bytes is not None:
        monkeypatch.setattr(nersc_lfsstate, "PARALLEL_BYTES", parallel_bytes)
    monkeypatch.setattr(nersc_lfsstate, "machine_busy", lambda workers: busy)

    def no_ranges(*_args: object, **_kwargs: object) -> None:
        raise AssertionError(f"{case} was cut into ranges")

    monkeypatch.setattr(nersc_lfsstate, "aparse_file_ranges", no_ranges)
    assert NerscLfsOstFullness(str(path)) == NerscLfsOstFullness(str(path), workers=1)
