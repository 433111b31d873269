"""The sans-IO parsers of lfs df, lctl dl -t and the NERSC concatenations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lustre_data import concatenate, corpus_text, lctl_dl, lfs_df

from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.lfs import nest_targets
from atokio.parsers.lfs_df import LfsDfParser
from atokio.parsers.lfs_lctl import LctlDlParser
from atokio.parsers.lfs_nersc import LfsBlock, NerscFullnessParser, NerscOstMapParser

DF = lfs_df([("snx11035", "/scratch2", 3), ("lustre", "/global/lus", 2)])
LCTL = lctl_dl([("snx11035", 4, 101), ("lustre", 2, 104)], failed_over={"snx11035": 3})


def chunked(parser, data: bytes, cuts: list[int]) -> list:
    records = []
    last = 0
    for cut in sorted(set(cuts)):
        records.extend(parser.feed(data[last:cut]))
        last = cut
    records.extend(parser.feed(data[last:]))
    records.extend(parser.close())
    return records


def test_lfs_df_records_exact() -> None:
    records = parse_all(LfsDfParser(), DF.encode())
    assert [(fs, target) for fs, target, _ in records] == [
        ("snx11035", "MDT0000"),
        ("snx11035", "OST0000"),
        ("snx11035", "OST0001"),
        ("snx11035", "OST0002"),
        ("lustre", "MDT0000"),
        ("lustre", "OST0000"),
        ("lustre", "OST0001"),
    ]
    assert records[2][2] == {
        "total_kib": 90767651352,
        "used_kib": 60001000003,
        "remaining_kib": 29998999997 - 327651352,
        "mount_pt": "/scratch2",
        "role": "ost",
        "target_index": 1,
    }
    assert records[0][2]["role"] == "mdt"
    assert records[4][2]["mount_pt"] == "/global/lus"


def test_lfs_df_hex_index_and_skipped_lines() -> None:
    text = (
        "UUID                   1K-blocks        Used   Available Use% Mounted on\n"
        "snx11035-OST000a_UUID 90767651352 68046786932 21769522164  76% /scratch2[OST:10]\n"
        "snx11168-OST0005_UUID : inactive device\n"
        "\n"
        "filesystem summary:  2178423632448 1590005655436 565502107932  74% /scratch2\n"
        "some other line\n"
    )
    records = parse_all(LfsDfParser(), text.encode())
    assert records == [
        (
            "snx11035",
            "OST000a",
            {
                "total_kib": 90767651352,
                "used_kib": 68046786932,
                "remaining_kib": 21769522164,
                "mount_pt": "/scratch2",
                "role": "ost",
                "target_index": 10,
            },
        )
    ]


def test_lfs_df_truncated_target_line_is_an_error() -> None:
    text = DF.encode() + b"snx11035-OST0005_UUID 90767651352 6792\n"
    with pytest.raises(ParseError) as caught:
        parse_all(LfsDfParser(source="osts.txt"), text)
    line = DF.count("\n") + 1
    assert caught.value.source == "osts.txt"
    assert caught.value.line_number == line
    assert str(caught.value) == (
        f"osts.txt:{line}: malformed lfs df target line: 'snx11035-OST0005_UUID 90767651352 6792'"
    )


def test_lctl_records_exact() -> None:
    records = parse_all(LctlDlParser(), LCTL.encode())
    assert [(fs, target) for fs, target, _ in records] == [
        ("snx11035", "MDT0000"),
        ("snx11035", "OST0000"),
        ("snx11035", "OST0001"),
        ("snx11035", "OST0002"),
        ("snx11035", "OST0003"),
        ("lustre", "MDT0000"),
        ("lustre", "OST0000"),
        ("lustre", "OST0001"),
    ]
    assert records[4][2] == {
        "index": 6,
        "status": "up",
        "role": "osc",
        "role_id": "snx11035-OST0003-osc-ffff885f81a60101",
        "uuid": "8dbdc7f6-8f86-86ea-052f-357e2db20101",
        "ref_count": 5,
        "target_ip": "10.100.101.7",
        "nid": "10.100.101.7@o2ib101",
    }


def test_lctl_skips_lines_without_nid_or_device_name() -> None:
    text = (
        "  0 UP mgc MGC10.100.101.3@o2ib2 3547302e-74a0-7260-9a61-ddecc4161901 5\n"
        "  1 UP mgc MGC10.100.101.3@o2ib2 3547302e-74a0-7260-9a61-ddecc4161901 5 10.1.1.3@o2ib\n"
        "  2 UP lmv snx11035-clilmv-ffff885f81a64000 8dbdc7f6 4\n"
        "  3 IN osc snx11035-OST0001-osc-ffff885f81a64000 8dbdc7f6 5 10.100.101.6@o2ib2\n"
    )
    records = parse_all(LctlDlParser(), text.encode())
    assert [(fs, target, rec["status"], rec["index"]) for fs, target, rec in records] == [
        ("snx11035", "OST0001", "in", 3)
    ]


def test_lctl_bad_index_is_an_error() -> None:
    text = LCTL.encode() + b"  x UP osc snx11035-OST0009-osc-ffff 8dbd 5 10.1.1.1@o2ib\n"
    with pytest.raises(ParseError) as caught:
        parse_all(LctlDlParser(source="lctl dl -t"), text)
    assert caught.value.line_number == LCTL.count("\n") + 1
    assert str(caught.value).startswith(
        f"lctl dl -t:{LCTL.count(chr(10)) + 1}: malformed lctl dl -t device line: "
    )


HUGE = "9" * 5000  # more digits than Python's int() converts


@pytest.mark.parametrize(
    "kind, line",
    [
        ("df", f"snx11035-OST0009_UUID {HUGE} 1 2 1% /scratch2[OST:9]"),
        ("df", f"snx11035-OST0009_UUID 3 1 2 1% /scratch2[OST:{HUGE}]"),
        ("lctl", f" {HUGE} UP osc snx11035-OST0009-osc-ffff 8dbd 5 10.1.1.1@o2ib"),
        ("lctl", f"  9 UP osc snx11035-OST0009-osc-ffff 8dbd {HUGE} 10.1.1.1@o2ib"),
    ],
)
@pytest.mark.parametrize("form", ["single", "concatenation"])
def test_numbers_too_long_for_int_are_parse_errors(kind: str, line: str, form: str) -> None:
    output = DF if kind == "df" else LCTL
    text = output + line + "\n"
    if form == "single":
        parser: Any = LfsDfParser("in") if kind == "df" else LctlDlParser("in")
        where = output.count("\n") + 1
    else:
        text = concatenate([(1000, output), (1300, text)])
        parser = NerscFullnessParser("in") if kind == "df" else NerscOstMapParser("in")
        where = 2 * output.count("\n") + 3
    with pytest.raises(ParseError) as caught:
        parse_all(parser, text.encode())
    assert caught.value.line_number == where
    assert str(caught.value).startswith(f"in:{where}: number out of range (Exceeds the limit")


def test_duplicate_target_keeps_later_fields_in_first_position() -> None:
    assert nest_targets(
        ["a", "a", "b", "a"], ["x", "y", "x", "x"], [{"1": 1}, {"2": 2}, {"3": 3}, {"4": 4}]
    ) == {
        "a": {"x": {"4": 4}, "y": {"2": 2}},
        "b": {"x": {"3": 3}},
    }
    text = DF + DF.replace("60000000000", "1").replace("60001000003", "2")
    records = parse_all(LfsDfParser(), text.encode())
    nested = nest_targets(*map(list, zip(*records, strict=True)))
    assert list(nested["snx11035"]) == ["MDT0000", "OST0000", "OST0001", "OST0002"]


CONCAT = concatenate(
    [(1489998203, DF), (1489998603, DF.replace("/scratch2", "/s2")), (1489999502, "")]
)


def test_concatenation_blocks_exact() -> None:
    blocks = parse_all(NerscFullnessParser(), CONCAT.encode())
    assert [(b.timestamp, b.line_number) for b in blocks] == [
        (1489998203, 1),
        (1489998603, DF.count("\n") + 2),
        (1489999502, 2 * DF.count("\n") + 3),
    ]
    assert list(blocks[0].data) == ["snx11035", "lustre"]
    assert blocks[1].data["snx11035"]["OST0002"]["mount_pt"] == "/s2"
    assert blocks[2].data == {}


def test_map_concatenation_keeps_last_block() -> None:
    text = concatenate([(10, LCTL), (20, LCTL)])
    blocks = parse_all(NerscOstMapParser(), text.encode())
    assert [b.timestamp for b in blocks] == [10, 20]
    assert blocks[1].data["snx11035"]["OST0003"]["target_ip"] == "10.100.101.7"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("junk\nBEGIN 5\n", 1, "data before the first BEGIN line: 'junk'"),
        ("\n\n  x\nBEGIN 5\n", 3, "data before the first BEGIN line: '  x'"),
        ("BEGIN 5\nBEGIN later\n", 2, "BEGIN line without an integer epoch: 'BEGIN later'"),
        ("BEGIN\n", 1, "BEGIN line without an integer epoch: 'BEGIN'"),
        (DF, 2, "data before the first BEGIN line: " + repr(DF.splitlines()[0])),
    ],
)
@pytest.mark.parametrize("chunk", [1, 4, 1 << 20])
def test_concatenation_errors(text: str, line: int, message: str, chunk: int) -> None:
    if text is DF:
        line = 1
    with pytest.raises(ParseError) as caught:
        parse_all(NerscFullnessParser(source="osts.txt"), text.encode(), chunk_size=chunk)
    assert str(caught.value) == f"osts.txt:{line}: {message}"


def test_errors_inside_blocks_name_the_line() -> None:
    text = concatenate([(1, DF), (2, "snx1-OST0000_UUID 12 3\n")])
    parser = NerscFullnessParser(source="f")
    assert [b.timestamp for b in parser.feed(text.encode())] == [1]
    with pytest.raises(ParseError) as caught:
        parser.close()
    assert caught.value.line_number == DF.count("\n") + 3
    # within one call, the blocks completed before the bad one travel with the error
    text = concatenate([(1, DF), (2, "snx1-OST0000_UUID 12 3\n"), (3, "")])
    with pytest.raises(ParseError) as caught:
        NerscFullnessParser(source="f").feed(text.encode())
    assert [b.timestamp for b in caught.value.records if isinstance(b, LfsBlock)] == [1]
    assert len(caught.value.records) == 1


def test_empty_and_blank_inputs() -> None:
    assert parse_all(NerscFullnessParser(), b"") == []
    assert parse_all(NerscOstMapParser(), b"\n\n") == []
    assert parse_all(LfsDfParser(), b"") == []


def test_no_trailing_newline_and_crlf() -> None:
    text = concatenate([(1, LCTL)]).rstrip("\n").replace("\n", "\r\n")
    blocks = parse_all(NerscOstMapParser(), text.encode())
    assert blocks[0].data == nest_targets(
        *map(list, zip(*parse_all(LctlDlParser(), LCTL.encode()), strict=True))
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(CONCAT)), max_size=12))
def test_fullness_any_chunking(cuts: list[int]) -> None:
    data = CONCAT.encode()
    assert chunked(NerscFullnessParser(), data, cuts) == parse_all(NerscFullnessParser(), data)


MAP_CONCAT = concatenate([(7, LCTL), (8, LCTL.replace(" UP ", " ST "))]).encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(MAP_CONCAT)), max_size=12))
def test_map_any_chunking(cuts: list[int]) -> None:
    assert chunked(NerscOstMapParser(), MAP_CONCAT, cuts) == parse_all(
        NerscOstMapParser(), MAP_CONCAT
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(DF)), max_size=8))
def test_single_outputs_any_chunking(cuts: list[int]) -> None:
    assert chunked(LfsDfParser(), DF.encode(), cuts) == parse_all(LfsDfParser(), DF.encode())
    data = LCTL.encode()
    cuts = [c % (len(data) + 1) for c in cuts]
    assert chunked(LctlDlParser(), data, cuts) == parse_all(LctlDlParser(), data)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=len(CONCAT) - 1))
def test_truncated_error_any_chunking(cut: int) -> None:
    """A bad line gives the same error whatever the chunking."""
    data = (CONCAT + "BEGIN nope\n").encode()
    with pytest.raises(ParseError) as caught:
        chunked(NerscFullnessParser(source="s"), data, [cut])
    assert caught.value.line_number == CONCAT.count("\n") + 1


# -- the corpus ---------------------------------------------------------------------------
def test_corpus_single_outputs() -> None:
    df = parse_all(LfsDfParser(), corpus_text("lfs-df.txt.gz"))
    lctl = parse_all(LctlDlParser(), corpus_text("lctl-dl-t.txt.gz"))
    assert df[1] == (
        "snx11035",
        "OST0000",
        {
            "total_kib": 90767651352,
            "used_kib": 65387344040,
            "remaining_kib": 24423870832,
            "mount_pt": "/scratch2",
            "role": "ost",
            "target_index": 0,
        },
    )
    assert {fs for fs, _, _ in df} == {"snx11035", "snx11036", "snx11168", "snx11025"}
    assert lctl[1][:2] == ("snx11035", "OST0014")
    assert lctl[1][2]["nid"] == "10.100.101.25@o2ib2"


def test_corpus_concatenations() -> None:
    fullness = parse_all(NerscFullnessParser(), corpus_text("sample_ost-fullness.txt.gz"))
    osts = parse_all(NerscOstMapParser(), corpus_text("sample_ost-map.txt.gz"))
    assert len(fullness) == 70 and len(osts) == 70
    assert fullness[0].timestamp == 1489998203 and osts[1].timestamp == 1489998604
    assert osts[-1].timestamp == 1490081108
    first = fullness[0].data
    assert {fs: len(t) for fs, t in first.items()} == {
        "snx11035": 25,
        "snx11036": 37,
        "snx11168": 253,
        "snx11025": 25,
    }
    assert first["snx11035"]["MDT0000"] == {
        "total_kib": 2255453580,
        "used_kib": 115229304,
        "remaining_kib": 2106024648,
        "mount_pt": "/scratch2",
        "role": "mdt",
        "target_index": 0,
    }
    data = corpus_text("sample_ost-map.txt.gz")
    assert chunked(NerscOstMapParser(), data, [1, 4097, 70000, 1 << 20]) == osts
