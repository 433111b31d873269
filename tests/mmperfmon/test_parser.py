"""The streaming mmperfmon parser: records, values, wrapped tables, errors, chunking."""

from __future__ import annotations

import datetime
import gzip
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmpm_data import STAMPS, USAGE, WRAPPED, corpus_file, render

from atokio.parsers import mmperfmon as mod
from atokio.parsers import mmperfmon_rows as rows_mod
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.mmperfmon import (
    MmperfmonParser,
    Sample,
    get_col_pos,
    merge_samples,
    parse_timestamp,
    parse_value,
    value_unit_to_bytes,
)


def epoch(text: str) -> int:
    when = datetime.datetime.strptime(text, "%Y-%m-%d-%H:%M:%S")
    return int(time.mktime(when.timetuple()))


T1, T2, T3 = (epoch(s) for s in STAMPS)
HOST1, HOST2 = "node1.example.org", "node2.example.org"


def parse(text: str | bytes, source: str = "test") -> list[Sample]:
    data = text.encode() if isinstance(text, str) else text
    return parse_all(MmperfmonParser(source), data)


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[Sample]:
    parser = MmperfmonParser("test")
    out: list[Sample] = []
    last = 0
    for cut in sorted(set(cuts)):
        out.extend(parser.feed(data[last:cut]))
        last = cut
    out.extend(parser.feed(data[last:]))
    out.extend(parser.close())
    return out


# -- helpers ------------------------------------------------------------------------------


def test_get_col_pos() -> None:
    header = "Row           Timestamp cpu_user cpu_sys   mem_total"
    assert get_col_pos(header) == [(0, 3), (14, 23), (24, 32), (33, 40), (43, 52)]
    assert get_col_pos(header, align="right") == [(0, 3), (3, 23), (23, 32), (32, 40), (40, 52)]
    assert get_col_pos(header, align="left") == [(0, 14), (14, 24), (24, 33), (33, 43), (43, 52)]
    assert get_col_pos("   ") == []
    with pytest.raises(ValueError, match="align"):
        get_col_pos(header, align="middle")


def test_value_unit_to_bytes_is_binary() -> None:
    assert value_unit_to_bytes("1 MB") == 1048576
    assert value_unit_to_bytes("1.7 kB") == 1740.8
    assert value_unit_to_bytes("31371.0 MB") == 32894877696.0
    assert value_unit_to_bytes("2 GB") == 2 * 2**30
    for bad in ("1 XB", "MB", "x MB", "1MB"):
        with pytest.raises(ValueError):
            value_unit_to_bytes(bad)


def test_parse_value() -> None:
    assert parse_value("12") == (12, False)
    assert type(parse_value("0")[0]) is int
    assert parse_value("0.5") == (0.5, False)
    assert parse_value("1e3") == (1000.0, False)
    assert parse_value("null") == (None, False)
    assert parse_value("1.7 kB") == (1740.8, True)
    for bad in ("0x1f", "abc", "1.2.3", "true"):
        with pytest.raises(ValueError):
            parse_value(bad)


def test_parse_timestamp_is_local_time() -> None:
    assert parse_timestamp("2019-01-11-10:01:00") == T1
    with pytest.raises(ValueError):
        parse_timestamp("2019-01-11 10:01:00")
    with pytest.raises(ValueError):
        parse_timestamp("2019-13-11-10:01:00")


# -- records ------------------------------------------------------------------------------


def test_usage_records() -> None:
    assert parse(USAGE) == [
        Sample(
            T1,
            {
                HOST1: {
                    "cpu_user": 0.2,
                    "mem_total_bytes": 32894877696.0,
                    "net_r_bytes": {"lo": 1740.8},
                }
            },
        ),
        Sample(T2, {HOST1: {"cpu_user": 0, "mem_total_bytes": 32894877696.0}}),
        Sample(
            T3,
            {
                HOST1: {
                    "cpu_user": 10.0,
                    "mem_total_bytes": 1048576.0,
                    "net_r_bytes": {"lo": 2048.0},
                }
            },
        ),
    ]
    assert type(parse(USAGE)[1].data[HOST1]["cpu_user"]) is int


def test_wrapped_blocks_use_the_legend_by_position() -> None:
    records = parse(WRAPPED)
    assert len(records) == 6
    assert records[0] == Sample(
        T1, {HOST2: {"gpfs_nsdds_bytes_read": {"ddn1dt00": 1, "ddn1dt01": 2, "na1md00": 3}}}
    )
    assert records[3] == Sample(
        T1,
        {
            HOST2: {
                "gpfs_fs_read_ops": {"fs.example.org|tl1": 10},
                "gpfs_nsdds_bytes_written": {"ddn1dt00": 11},
            }
        },
    )
    merged = merge_samples(records)
    assert merged == {
        T1: {
            HOST2: {
                "gpfs_nsdds_bytes_read": {"ddn1dt00": 1, "ddn1dt01": 2, "na1md00": 3},
                "gpfs_fs_read_ops": {"fs.example.org|tl1": 10},
                "gpfs_nsdds_bytes_written": {"ddn1dt00": 11},
            }
        },
        T2: {
            HOST2: {
                "gpfs_nsdds_bytes_read": {"ddn1dt00": 4, "ddn1dt01": 5, "na1md00": 6},
                "gpfs_fs_read_ops": {"fs.example.org|tl1": 12},
                "gpfs_nsdds_bytes_written": {"ddn1dt00": 13},
            }
        },
        T3: {
            HOST2: {
                "gpfs_nsdds_bytes_read": {"ddn1dt00": 7, "ddn1dt01": 8, "na1md00": 9},
                "gpfs_fs_read_ops": {"fs.example.org|tl1": 14},
                "gpfs_nsdds_bytes_written": {"ddn1dt00": 15},
            }
        },
    }


def test_later_blocks_take_the_time_stamp_of_their_row() -> None:
    text = WRAPPED.replace(
        "  2 2019-01-11-10:02:00               12", "  2 2019-01-11-10:09:00               12"
    )
    assert [r.timestamp for r in parse(text)] == [T1, T2, T3, T1, T2, T3]


def test_concatenated_outputs_reset_the_legend() -> None:
    records = parse(USAGE + WRAPPED)
    assert records == parse(USAGE) + parse(WRAPPED)


def test_merge_is_idempotent() -> None:
    once = merge_samples(parse(WRAPPED + USAGE))
    twice = merge_samples(parse(WRAPPED + USAGE), merge_samples(parse(WRAPPED + USAGE)))
    assert once == twice


def test_empty_input() -> None:
    assert parse(b"") == []
    assert parse(b"\n \n") == []


def test_unterminated_last_line_is_parsed() -> None:
    assert parse(USAGE.rstrip("\n")) == parse(USAGE)
    assert parse(USAGE.replace(" \n", "\n")) == parse(USAGE)  # no trailing spaces


def test_fast_and_line_by_line_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    text = USAGE + WRAPPED
    fast = parse(text)
    monkeypatch.setattr(MmperfmonParser, "_convert", lambda self, lines, block: (None, ()))
    slow = parse(text)
    assert slow == fast
    assert [list(r.data[h]) for r in slow for h in r.data] == [
        list(r.data[h]) for r in fast for h in r.data
    ]


def test_rows_built_by_columns_equal_rows_built_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = USAGE + WRAPPED
    by_columns = parse(text)
    monkeypatch.setattr(rows_mod, "_is_mixed", lambda plan: True)  # row by row
    one_by_one = parse(text)
    assert one_by_one == by_columns
    assert [list(r.data[h]) for r in one_by_one for h in r.data] == [
        list(r.data[h]) for r in by_columns for h in r.data
    ]
    monkeypatch.undo()
    plan = rows_mod.plan_of((("h", "m", None), ("h", "n", "a"), ("h", "n", "b")))
    assert rows_mod.build_rows([[1, 4], [2, 5], [3, 6]], plan, 2) == [
        {"h": {"m": 1, "n": {"a": 2, "b": 3}}},
        {"h": {"m": 4, "n": {"a": 5, "b": 6}}},
    ]
    # a missing sample: left out, row by row
    assert rows_mod.build_rows([[1, None], [None, 5], [3, None]], plan, 2) == [
        {"h": {"m": 1, "n": {"b": 3}}},
        {"h": {"n": {"a": 5}}},
    ]
    assert rows_mod.build_rows([], [], 2) == [{}, {}]


# -- errors -------------------------------------------------------------------------------


def error_of(text: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(text, source="out.txt")
    return caught.value


def test_bad_value_names_source_and_line() -> None:
    error = error_of(USAGE.replace("    0.2", "   oops"))
    assert error.source == "out.txt"
    assert error.line_number == 8
    assert "not a number: 'oops'" in str(error)
    assert str(error).startswith("out.txt:8: ")


def test_records_before_the_error_are_kept() -> None:
    error = error_of(USAGE.replace("      1e1", "     bad!"))
    assert error.line_number == 10
    assert [r.timestamp for r in error.records] == [T1, T2]  # type: ignore[attr-defined]


def test_truncated_row() -> None:
    cut = USAGE[: USAGE.index("1 MB")]
    error = error_of(cut)
    assert error.line_number == 10
    assert "shorter than its header" in error.message


def test_truncated_table_of_a_wrapped_output() -> None:
    cut = WRAPPED[: WRAPPED.rindex("Row")]
    error = error_of(cut)
    assert "after 3 of its 5 legend columns" in error.message
    rows_cut = WRAPPED[: WRAPPED.rindex("  3 2019")]
    assert "has 2 rows, the first block 3" in error_of(rows_cut).message


def test_output_ending_in_the_legend() -> None:
    assert "ended before its table" in error_of(USAGE[: USAGE.index(" \nRow")]).message


def test_column_without_legend_entry() -> None:
    text = USAGE.replace(" 3:\tnode1.example.org|Network|lo|net_r\n", "")
    error = error_of(text)
    assert error.line_number == 6
    assert "value column 3 has no legend entry" in error.message


def test_bad_legend_and_stray_lines() -> None:
    assert "legend entry" in error_of(USAGE.replace("|CPU|cpu_user", "cpu_user")).message
    error = error_of("Something went wrong\n")
    assert error.line_number == 1
    assert "expected 'Legend:'" in error.message
    assert "before any 'Legend:'" in error_of("Row Timestamp a\n").message
    error = error_of(USAGE.replace("2019-01-11-10:02:00", "2019-01-11-10:99:00"))
    assert error.line_number == 9
    assert "minute must be in 0..59" in error.message


# -- chunking -----------------------------------------------------------------------------

SMALL = (USAGE + WRAPPED).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(SMALL)), max_size=25))
def test_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    assert feed_in_pieces(SMALL, cuts) == parse(SMALL)


def test_byte_by_byte() -> None:
    assert feed_in_pieces(SMALL, list(range(len(SMALL)))) == parse(SMALL)


# -- corpus -------------------------------------------------------------------------------


def test_corpus_usage_first_row() -> None:
    data = gzip.decompress(corpus_file("usage").read_bytes())
    records = parse(data)
    assert len(records) == 60
    assert records[0] == Sample(
        epoch("2019-01-11-10:00:00"),
        {
            "ngfsv468.nersc.gov": {
                "cpu_user": 0.2,
                "cpu_sys": 0.56,
                "mem_total_bytes": 32894877696.0,
                "mem_free_bytes": 19699073024.0,
                "net_r_bytes": {"lo": 1740.8},
                "net_s_bytes": {"lo": 1740.8},
            }
        },
    )


def test_corpus_operations_and_wrapped_luns() -> None:
    ops = merge_samples(parse(gzip.decompress(corpus_file("ops").read_bytes())))
    first = ops[epoch("2019-01-08-13:00:00")]["ngfsv492.nersc.gov"]
    assert first["gpfs_fs_read_ops"] == {
        "TSAILUN.nersc.gov|tlproject2": 0,
        "TSAILUN7.nersc.gov|tlprojecta": 1144,
    }
    assert first["gpfs_fs_bytes_written"]["TSAILUN7.nersc.gov|tlprojecta"] == 224206848
    nsdds = parse(gzip.decompress(corpus_file("nsdds").read_bytes()))
    assert len(nsdds) == 300  # 60 rows x 5 blocks
    merged = merge_samples(nsdds)
    assert len(merged) == 60
    luns = merged[epoch("2019-03-04-16:01:00")]["ngfsv468.nersc.gov"]["gpfs_nsdds_bytes_read"]
    assert list(luns) == [f"ddn59dt{i:02d}" for i in range(42)]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corpus_chunking(data: st.DataObject) -> None:
    raw = gzip.decompress(corpus_file("nsdds").read_bytes())
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=40))
    assert feed_in_pieces(raw, cuts) == parse(raw)


def test_module_exports() -> None:
    assert set(mod.__all__) >= {"MmperfmonParser", "get_col_pos", "value_unit_to_bytes"}
    assert render  # the fixture builder is shared with the other test modules
