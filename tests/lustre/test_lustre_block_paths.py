"""The per-block fast paths of the NERSC concatenation parsers agree with the line rules.

``lfs df`` blocks are matched against the layout of an earlier block and
``lctl dl -t`` blocks are answered from the previous block or from the lines
seen before; every block here is also parsed line by line with the reference
rules (``df_lines_slowly`` / ``lctl_lines_slowly``), which must give the same dicts or the
same error.  Later blocks are variations of the first, so that they meet a
cached layout or cached lines that they do not fit.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lustre_data import concatenate, corpus_file, corpus_text, lctl_dl, lfs_df

from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness, NerscLfsOstMap, read_blocks
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.lfs import nest_targets
from atokio.parsers.lfs_df import df_lines_slowly
from atokio.parsers.lfs_lctl import lctl_lines_slowly
from atokio.parsers.lfs_nersc import (
    DfValues,
    LfsBlock,
    MapTemplates,
    NerscFullnessParser,
    NerscOstMapParser,
    expand_block,
    parse_segment,
)

DF = lfs_df([("snx11035", "/scratch2", 3), ("lustre", "/global/lus", 2)])
LCTL = lctl_dl([("snx11035", 4, 101), ("lustre", 2, 104)], failed_over={"snx11035": 3})

#: ``(old, new)`` replacements, applied to one line of a block
DF_EDITS = [
    ("60000000000", "6"),  # a shorter number
    ("60000000000", "999999999999999999999"),  # too large for int64
    ("90767651352", "90767651353"),  # another capacity
    ("90767651352", "9076765135x"),  # not a number
    ("  67%", " 167%"),
    ("67%", "67"),
    ("67%", "%"),
    ("67%", "6%7%"),
    ("67%", "67%%"),
    (" 60000000000", "\t60000000000"),
    (" 60000000000", "\n60000000000"),  # a line broken in two
    ("/scratch2[OST:1]", "/scratch2[OST:1] extra"),
    ("/scratch2[OST:1]", "/scratch 2[OST:1]"),  # a mount point with a space
    ("/scratch2[OST:1]", "/scratch2[OST:10]"),
    ("/scratch2[OST:1]", "/scratch2"),
    ("/scratch2[OST:1]\n", "/scratch2[OST:1]  \n"),  # trailing blanks
    ("/scratch2[OST:1]\n", "/scratch2[OST:1] "),  # two lines joined
    ("/scratch2[OST:1]\n", "/scratch2[OST:1]\n\n"),
    ("Mounted on\n", "Mounted on \n"),
    ("Mounted on\n", "Mounted\non\n"),
    ("OST0001_UUID", "OST0004_UUID"),
    ("snx11035-OST0001", "lustre-OST0001"),  # another file system within the run
    ("snx11035-OST0001", "snx11035-OST0000"),  # a duplicate target
    ("UUID    ", "UUIDx   "),
    ("filesystem summary:", "snx11035-OST0009_UUID summary:"),
    ("filesystem summary:", "snx11035-OST0009_UUID 12"),  # a malformed target line
    ("filesystem summary:", "filesystem\x1csummary:"),
    ("filesystem summary:", "files\u00e9ystem summary:"),
    ("filesystem summary:", "filesystem summary: \x00"),
    ("\n\n", "\n"),
    ("\n\n", "\n \n"),
    ("\n\n", "\nsnx11168-OST0005_UUID : inactive device\n"),
    ("snx11035-OST0002_UUID", "\u00e9nx11035-OST0002_UUID"),
    ("snx11035-OST0002_UUID", "snx11035-OST0002_UUID\x1c"),
    ("\n", "\r\n"),
]

LCTL_EDITS = [
    (" UP ", " IN "),
    ("  5 UP", "  x UP"),  # a bad index (an error on a NID line)
    (" 5 10.100", " 5x 10.100"),
    ("@o2ib101\n", "@o2ib101 extra\n"),
    ("@o2ib101\n", "\n"),
    ("10.100.101.7@", "10.100.101.9@"),
    ("snx11035-OST0002-osc", "snx11035-OST0001-osc"),  # a duplicate target
    ("snx11035-OST0002-osc", "snx11035_OST0002"),
    ("osc snx", "osc \u00e9snx"),
    ("\n", "\r\n"),
    ("\n", "\n\n"),
]


def blocks_by_lines(text: str, body_rules) -> list[tuple[int, dict] | tuple[str, int]]:
    """Reference: each block parsed line by line; an error ends the list as ``("error", line)``."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    starts = [n for n, line in enumerate(lines) if line.startswith("BEGIN")]
    out: list = []
    for index, start in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else len(lines)
        try:
            stamp = int(("BEGIN" + lines[start][5:]).split()[1])
            columns = body_rules(lines[start + 1 : stop], start + 2, "ref")
        except (ParseError, IndexError, ValueError) as error:
            line = error.line_number if isinstance(error, ParseError) else start + 1
            out.append(("error", line))
            return out
        out.append((stamp, nest_targets(*columns)))
    return out


def blocks_by_parser(parser, data: bytes, chunk: int) -> list:
    """The parser's blocks, fed ``chunk`` bytes at a time; an error ends them as in the reference."""
    blocks: list = []
    try:
        for start in range(0, len(data), chunk):
            blocks.extend(parser.feed(data[start : start + chunk]))
        blocks.extend(parser.close())
    except ParseError as error:
        blocks.extend(error.records)
        return [(b.timestamp, b.data) for b in blocks] + [("error", error.line_number)]
    return [(b.timestamp, b.data) for b in blocks]


def edited(text: str, edit: tuple[str, str], occurrence: int) -> str:
    old, new = edit
    where = -1
    for _ in range(occurrence + 1):
        found = text.find(old, where + 1)
        if found < 0:
            break
        where = found
    if where < 0:
        return text
    return text[:where] + new + text[where + len(old) :]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(DF_EDITS), st.integers(min_value=0, max_value=4)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([1 << 20, 7, 300]),
)
def test_fullness_blocks_agree_with_the_line_rules(edits, chunk: int) -> None:
    outputs = [(100, DF), (200, DF)]
    for number, (edit, occurrence) in enumerate(edits):
        outputs.append((300 + number, edited(DF, edit, occurrence)))
        outputs.append((400 + number, DF))
    text = concatenate(outputs)
    expected = blocks_by_lines(text, df_lines_slowly)
    assert blocks_by_parser(NerscFullnessParser(), text.encode(), chunk) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(LCTL_EDITS), st.integers(min_value=0, max_value=6)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([1 << 20, 11]),
)
def test_map_blocks_agree_with_the_line_rules(edits, chunk: int) -> None:
    outputs = [(100, LCTL), (200, LCTL)]
    for number, (edit, occurrence) in enumerate(edits):
        outputs.append((300 + number, edited(LCTL, edit, occurrence)))
        outputs.append((400 + number, LCTL))
    text = concatenate(outputs)
    expected = blocks_by_lines(text, lctl_lines_slowly)
    assert blocks_by_parser(NerscOstMapParser(), text.encode(), chunk) == expected


def test_blocks_do_not_share_dicts() -> None:
    """Each block has its own field dicts, also where the parsers reuse parsed parts."""
    for parser, text in ((NerscFullnessParser(), DF), (NerscOstMapParser(), LCTL)):
        first, second = parse_all(parser, concatenate([(1, text), (2, text)]).encode())
        assert first.data == second.data
        first.data["snx11035"]["OST0000"]["role"] = "changed"
        assert second.data["snx11035"]["OST0000"]["role"] != "changed"
        third = parse_all(parser.__class__(), concatenate([(3, text)]).encode())[0]
        assert third.data == second.data


def test_corpus_blocks_agree_with_the_line_rules() -> None:
    for name, parser, rules in (
        ("sample_ost-fullness.txt.gz", NerscFullnessParser(), df_lines_slowly),
        ("sample_ost-map.txt.gz", NerscOstMapParser(), lctl_lines_slowly),
    ):
        data = corpus_text(name)
        assert blocks_by_parser(parser, data, 1 << 16) == blocks_by_lines(data.decode(), rules)


# -- compact blocks for worker processes -------------------------------------------------
def segments(data: bytes, cuts: list[int]) -> list[tuple[bytes, int]]:
    """``data`` cut before the ``BEGIN`` lines at or after each of ``cuts``."""
    pieces, start, line = [], 0, 1
    for cut in sorted(cuts):
        at = data.find(b"\nBEGIN", max(cut, start))
        if at < 0:
            break
        pieces.append((data[start : at + 1], line))
        line += data.count(b"\n", start, at + 1)
        start = at + 1
    pieces.append((data[start:], line))
    return pieces


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4000), max_size=5))
def test_segments_give_the_same_blocks(cuts: list[int]) -> None:
    for kind, parser, text in (
        ("fullness", NerscFullnessParser, concatenate([(1, DF), (2, DF), (3, "")])),
        ("map", NerscOstMapParser, "\n" + concatenate([(1, LCTL), (2, LCTL), (3, LCTL[:90])])),
    ):
        data = text.encode()
        whole = parse_all(parser("s"), data)
        compact: list[LfsBlock] = []
        for piece, line in segments(data, cuts):
            compact.extend(parse_segment(kind, piece, line, "s"))
        assert [expand_block(block) for block in compact] == whole


def test_compact_forms() -> None:
    blocks = parse_segment("fullness", concatenate([(1, DF), (2, DF)]).encode(), 1, "s")
    first, second = (block.data for block in blocks)
    assert isinstance(first, DfValues) and isinstance(second, DfValues)
    assert first.layout is second.layout
    blocks = parse_segment("map", concatenate([(1, LCTL), (2, LCTL)]).encode(), 1, "s")
    assert all(isinstance(block.data, MapTemplates) for block in blocks)
    assert blocks[0].data is blocks[1].data
    # an irregular lfs df block travels as dicts
    odd = DF.replace("/scratch2[OST:1]", "/scratch 2[OST:1]")
    (block,) = parse_segment("fullness", concatenate([(1, odd)]).encode(), 1, "s")
    assert block.data["snx11035"]["OST0001"]["mount_pt"] == "/scratch 2"


def test_segment_errors_name_the_file_line() -> None:
    data = concatenate([(1, DF), (2, "snx1-OST0000_UUID 12 3\n")]).encode()
    with pytest.raises(ParseError) as caught:
        parse_segment("fullness", data, 41, "f")
    assert caught.value.line_number == 40 + DF.count("\n") + 3


def test_connectors_in_worker_processes(tmp_path: Path) -> None:
    fullness_file = corpus_file("sample_ost-fullness.txt.gz")
    map_file = corpus_file("sample_ost-map.txt.gz")
    assert NerscLfsOstFullness(str(fullness_file), workers=2) == NerscLfsOstFullness(
        str(fullness_file)
    )
    osts = NerscLfsOstMap(str(map_file), workers=2)
    assert osts == NerscLfsOstMap(str(map_file))
    assert len(osts) == 70
    bad = tmp_path / "osts.txt"
    bad.write_text(concatenate([(1, DF), (2, "snx1-OST0000_UUID 12 3\n")]))
    with pytest.raises(ParseError) as caught:
        read_blocks(str(bad), NerscFullnessParser(source="osts"), workers=2)
    assert caught.value.line_number == DF.count("\n") + 3
    assert caught.value.source == "osts"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1200), max_size=6))
def test_blank_preamble_any_chunking(cuts: list[int]) -> None:
    """Blank lines before the first BEGIN count in the line numbers whatever the chunking."""
    data = ("\n \n" + concatenate([(1, DF), (2, ""), (3, DF)])).encode()
    blocks = parse_all(NerscFullnessParser(), data)
    assert [b.line_number for b in blocks] == [3, DF.count("\n") + 4, DF.count("\n") + 5]
    records, last = [], 0
    parser = NerscFullnessParser()
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        records.extend(parser.feed(data[last:cut]))
        last = max(last, cut)
    records.extend(parser.feed(data[last:]))
    records.extend(parser.close())
    assert records == blocks
