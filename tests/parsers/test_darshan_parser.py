"""The streaming darshan-parser text parser: records, dict shape, versions, errors, chunking."""

from __future__ import annotations

import pytest
from corpus import REAL_LOGS, SAMPLE_HEADER, darshan_text
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.darshan import (
    DarshanParser,
    build_darshan_dict,
    convert_value,
    merge_darshan_dicts,
    parse_base_counters,
    parse_header,
    parse_mounts,
    parse_perf_counters,
    parse_total_counters,
    record_boundary_after,
    split_points,
)
from atokio.parsers.darshan_records import BaseRecord, Header, Module, Mount, Perf, Total, Warning_

# A small output in the shape of darshan-parser 3.5 (--base, --total and --perf
# in one run), made here so that these tests need no corpus.
SMALL = (
    b"# darshan log version: 3.41\n"
    b"# compression method: ZLIB\n"
    b"# exe: /bin/app -x /data#1 7\n"
    b"# uid: 1000\n"
    b"# jobid: 42\n"
    b"# start_time: 1490000867\n"
    b"# start_time_asci: Mon Mar 20 09:07:47 2017\n"
    b"# end_time: 1490000983\n"
    b"# end_time_asci: Mon Mar 20 09:09:43 2017\n"
    b"# nprocs: 4\n"
    b"# run time: 117.0000\n"
    b"# metadata: lib_ver = 3.4.6\n"
    b"# metadata: h = romio_no_indep_rw=true;cb_nodes=4\n"
    b"\n"
    b"# log file regions\n"
    b"# -------------------------------------------------------\n"
    b"# header: 1328 bytes (uncompressed)\n"
    b"\n"
    b"# mounted file systems (mount point and fs type)\n"
    b"# -------------------------------------------------------\n"
    b"# mount entry:\t/scratch\tlustre\n"
    b"# mount entry:\t/\trootfs\n"
    b"# mount entry:\t/\tdvs\n"
    b"\n"
    b"# *******************************************************\n"
    b"# POSIX module data\n"
    b"# *******************************************************\n"
    b"\n"
    b"#<module>\t<rank>\t<record id>\t<counter>\t<value>\t<file name>\t<mount pt>\t<fs type>\n"
    b"POSIX\t-1\t11\tPOSIX_OPENS\t4\t/scratch/a file\t/scratch\tlustre\n"
    b"POSIX\t-1\t11\tPOSIX_BYTES_READ\t1048576\t/scratch/a file\t/scratch\tlustre\n"
    b"POSIX\t-1\t11\tPOSIX_F_READ_TIME\t1.500000\t/scratch/a file\t/scratch\tlustre\n"
    b"POSIX\t0\t12\tPOSIX_OPENS\t1\t/scratch/b\t/scratch\tlustre\n"
    b"POSIX\t0\t12\tPOSIX_BYTES_READ\t10\t/scratch/b\t/scratch\tlustre\n"
    b"POSIX\t0\t12\tPOSIX_F_READ_TIME\t0.000000\t/scratch/b\t/scratch\tlustre\n"
    b"POSIX\t1\t12\tPOSIX_OPENS\t2\t/scratch/b\t/scratch\tlustre\n"
    b"POSIX\t1\t12\tPOSIX_BYTES_READ\t-1\t/scratch/b\t/scratch\tlustre\n"
    b"POSIX\t1\t12\tPOSIX_F_READ_TIME\t-1.000000\t/scratch/b\t/scratch\tlustre\n"
    b"\n"
    b"total_POSIX_OPENS: 7\n"
    b"total_POSIX_BYTES_READ: 1048585\n"
    b"\n"
    b"# performance\n"
    b"# -----------\n"
    b"# total_bytes: 1048586\n"
    b"#\n"
    b"# unique files: slowest_rank_io_time: 0.250000\n"
    b"# unique files: slowest_rank: 1\n"
    b"# shared files: time_by_slowest: 1.500000\n"
    b"# agg_time_by_slowest: 1.750000 # seconds\n"
    b"# agg_perf_by_slowest: 0.571429 # MiB/s\n"
    b"\n"
    b"# *******************************************************\n"
    b"# LUSTRE module data\n"
    b"# *******************************************************\n"
    b"\n"
    b"LUSTRE\t-1\t11\tLUSTRE_NUM_COMPONENTS\t1\t/scratch/a file\t/scratch\tlustre\n"
    b"LUSTRE\t-1\t11\tLUSTRE_COMP1_STRIPE_COUNT\t2\t/scratch/a file\t/scratch\tlustre\n"
    b"LUSTRE\t-1\t11\tLUSTRE_COMP1_STRIPE_PATTERN\tN/A\t/scratch/a file\t/scratch\tlustre\n"
    b"LUSTRE\t-1\t11\tLUSTRE_COMP1_FLAGS\tinit,prefwr\t/scratch/a file\t/scratch\tlustre\n"
    b"LUSTRE\t-1\t11\tLUSTRE_COMP1_OST_ID_0\t14\t/scratch/a file\t/scratch\tlustre\n"
    b"LUSTRE\t-1\t11\tLUSTRE_COMP1_OST_ID_1\t3\t/scratch/a file\t/scratch\tlustre\n"
)

SMALL_DICT = {
    "header": {
        "version": "3.41",
        "compression": "ZLIB",
        "exe": ["/bin/app", "-x", "/data#1", "7"],
        "uid": 1000,
        "jobid": "42",
        "start_time": 1490000867,
        "start_time_string": "Mon Mar 20 09:07:47 2017",
        "end_time": 1490000983,
        "end_time_string": "Mon Mar 20 09:09:43 2017",
        "nprocs": 4,
        "walltime": 117,
        "metadata": ["lib_ver = 3.4.6", "h = romio_no_indep_rw=true;cb_nodes=4"],
    },
    "mounts": {"/scratch": "lustre", "/": "dvs"},
    "counters": {
        "posix": {
            "/scratch/a file": {"-1": {"OPENS": 4, "BYTES_READ": 1048576, "F_READ_TIME": 1.5}},
            "/scratch/b": {
                "0": {"OPENS": 1, "BYTES_READ": 10, "F_READ_TIME": 0.0},
                "1": {"OPENS": 2, "BYTES_READ": -1, "F_READ_TIME": -1.0},
            },
            "_total": {"OPENS": 7, "BYTES_READ": 1048585},
            "_perf": {
                "total_bytes": 1048586,
                "slowest_rank_io_time_unique_files": 0.25,
                "slowest_rank_unique_files": 1,
                "time_by_slowest_shared_files": 1.5,
                "agg_perf_by_slowest": 0.571429,
            },
        },
        "lustre": {
            "/scratch/a file": {
                "-1": {
                    "NUM_COMPONENTS": 1,
                    "COMP1_STRIPE_COUNT": 2,
                    "COMP1_STRIPE_PATTERN": "N/A",
                    "COMP1_FLAGS": "init,prefwr",
                    "COMP1_OST_ID_0": 14,
                    "COMP1_OST_ID_1": 3,
                    # the 3.1 names of the first component (FORMATS.md 1.5)
                    "STRIPE_WIDTH": 2,
                    "OST_ID_0": 14,
                    "OST_ID_1": 3,
                }
            }
        },
    },
}


def parse(data: bytes, chunk_size: int = 1 << 16, **kwargs):
    return parse_all(DarshanParser("test", **kwargs), data, chunk_size=chunk_size)


def test_small_output_gives_the_documented_dict() -> None:
    assert build_darshan_dict(parse(SMALL)) == SMALL_DICT


def test_records_in_order_with_types() -> None:
    records = parse(SMALL)
    kinds = [type(r).__name__ for r in records]
    assert kinds[:13] == ["Header"] * 13
    assert records[13:16] == [Mount("/scratch", "lustre"), Mount("/", "rootfs"), Mount("/", "dvs")]
    assert records[16] == Module("posix")
    assert records[17] == BaseRecord(
        "posix", "-1", "/scratch/a file", "/scratch", "lustre",
        {"OPENS": 4, "BYTES_READ": 1048576, "F_READ_TIME": 1.5},
    )  # fmt: skip
    assert [r.rank for r in records if isinstance(r, BaseRecord)] == ["-1", "0", "1", "-1"]
    assert [r for r in records if isinstance(r, Total)] == [
        Total("posix", "OPENS", 7),
        Total("posix", "BYTES_READ", 1048585),
    ]
    perf_keys = [r.key for r in records if isinstance(r, Perf)]
    assert "agg_time_by_slowest" not in perf_keys
    assert perf_keys[-1] == "agg_perf_by_slowest"


def test_values_int_float_or_text() -> None:
    assert convert_value("2049") == 2049 and isinstance(convert_value("2049"), int)
    assert convert_value("-1") == -1
    assert convert_value("0.000000") == 0.0 and isinstance(convert_value("0.000000"), float)
    assert convert_value("N/A") == "N/A"
    assert convert_value("raid0,overstriped") == "raid0,overstriped"


@given(cuts=st.lists(st.integers(min_value=0, max_value=len(SMALL)), max_size=40))
@settings(max_examples=200, deadline=None)
def test_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    parser = DarshanParser("test")
    records = []
    last = 0
    for cut in sorted(cuts):
        records += parser.feed(SMALL[last:cut])
        last = cut
    records += parser.feed(SMALL[last:])
    records += parser.close()
    assert records == parse(SMALL)


def test_blank_lines_separate_blocks_and_never_end_the_input() -> None:
    text = SMALL.replace(b"total_POSIX_OPENS", b"\n\ntotal_POSIX_OPENS")
    assert build_darshan_dict(parse(text)) == SMALL_DICT


def test_crlf_line_ends() -> None:
    assert build_darshan_dict(parse(SMALL.replace(b"\n", b"\r\n"))) == SMALL_DICT


def test_truncated_last_line_raises_with_line_number_and_keeps_records() -> None:
    cut = SMALL.index(b"\tlustre\n", SMALL.index(b"POSIX\t1\t12\tPOSIX_BYTES_READ"))
    parser = DarshanParser("job.darshan")
    records = parser.feed(SMALL[:cut])
    with pytest.raises(ParseError) as caught:
        records += parser.close()
    error = caught.value
    assert error.source == "job.darshan"
    assert error.line_number == 37
    assert error.text == "POSIX\t1\t12\tPOSIX_BYTES_READ\t-1\t/scratch/b\t/scratch"
    assert str(error).startswith("job.darshan:37: expected a darshan-parser record of 8")
    # every record completed before the bad line was delivered
    assert [r.rank for r in records if isinstance(r, BaseRecord)] == ["-1", "0"]


def test_bad_line_in_the_middle_is_located() -> None:
    bad = SMALL.replace(
        b"POSIX\t0\t12\tPOSIX_BYTES_READ\t10\t", b"POSIX\t0\t12\tPOSIX_BYTES_READ 10\t"
    )
    with pytest.raises(ParseError) as caught:
        parse(bad)
    assert caught.value.line_number == 34
    assert "got 7" in str(caught.value)


def test_duplicate_counter_in_one_record_is_an_error() -> None:
    line = b"POSIX\t-1\t11\tPOSIX_OPENS\t4\t/scratch/a file\t/scratch\tlustre\n"
    bad = SMALL.replace(line, line + line)
    with pytest.raises(ParseError, match="duplicate counter 'OPENS'") as caught:
        parse(bad)
    assert caught.value.line_number == 30


def test_duplicate_counter_across_records_is_an_error_in_the_dict() -> None:
    rec = BaseRecord("posix", "0", "/f", "/", "ext4", {"OPENS": 1})
    with pytest.raises(ValueError, match="Duplicate counter OPENS"):
        build_darshan_dict([rec, BaseRecord("posix", "0", "/f", "/", "ext4", {"OPENS": 2})])


def test_incomplete_module_warning_is_a_record() -> None:
    text = SMALL.replace(
        b"# POSIX module data\n# *****************",
        b"# POSIX module data\n# *WARNING*: The POSIX module contains incomplete data!\n# *****************",
    )
    warnings = [r for r in parse(text) if isinstance(r, Warning_)]
    assert warnings == [Warning_("posix", "*WARNING*: The POSIX module contains incomplete data!")]


def test_module_and_counter_filters() -> None:
    result = build_darshan_dict(parse(SMALL, modules=["lustre"], counters=["COMP1_OST_ID_0"]))
    assert result["counters"] == {
        "lustre": {"/scratch/a file": {"-1": {"COMP1_OST_ID_0": 14}}},
        "posix": {"_total": SMALL_DICT["counters"]["posix"]["_total"],
                  "_perf": SMALL_DICT["counters"]["posix"]["_perf"]},
    }  # fmt: skip


def test_module_names_with_underscore_and_slash() -> None:
    text = (
        b"# *******\n# PNETCDF_FILE module data\n# *******\n"
        b"PNETCDF_FILE\t0\t5\tPNETCDF_FILE_OPENS\t3\t/f\t/\text4\n"
        b"# *******\n# BG/Q module data\n# *******\n"
        b"BG/Q\t-1\t6\tBGQ_NNODES\t128\tdarshan-bgq-record\tUNKNOWN\tUNKNOWN\n"
    )
    assert build_darshan_dict(parse(text))["counters"] == {
        "pnetcdf_file": {"/f": {"0": {"OPENS": 3}}},
        "bgq": {"darshan-bgq-record": {"-1": {"NNODES": 128}}},
    }


def test_empty_output_gives_no_records() -> None:
    assert parse(b"") == []
    assert build_darshan_dict([]) == {}


def test_line_helpers_never_raise() -> None:
    assert parse_header("# run time: 117.0000") == ("walltime", 117)
    assert parse_header("# run time: 117") == ("walltime", 117)
    assert parse_header("# darshan log version: 3.10") == ("version", "3.10")
    assert parse_header("# header: 360 bytes (uncompressed)") == (None, None)
    assert parse_header("POSIX\t-1") == (None, None)
    assert parse_mounts("# mount entry:\t/scratch2\tlustre") == ("/scratch2", "lustre")
    assert parse_mounts("# mount entry:  /usr/lib64/libibverbs.so.1.0.0  dvs") == (
        "/usr/lib64/libibverbs.so.1.0.0",
        "dvs",
    )
    assert parse_mounts("# exe: x") == (None, None)
    assert parse_base_counters("POSIX\t-1\t63\tPOSIX_OPENS\t2049\t/f\t/\tlustre") == (
        "POSIX", "-1", "63", "POSIX_OPENS", 2049, "/f", "/", "lustre",
    )  # fmt: skip
    assert parse_base_counters("# comment") == (None,) * 8
    assert parse_base_counters("a\tb") == (None,) * 8
    assert parse_total_counters("total_MPIIO_F_READ_END_TIMESTAMP: 0.000000") == (
        "total_MPIIO_F_READ_END_TIMESTAMP",
        0.0,
    )
    assert parse_total_counters("# total_bytes: 5") == (None, None)
    assert parse_perf_counters("# unique files: slowest_rank: 0") == (
        "slowest_rank_unique_files",
        0,
    )
    assert parse_perf_counters("# shared files: time_by_cumul_io_only: 39.992327") == (
        "time_by_cumul_io_only_shared_files",
        39.992327,
    )
    assert parse_perf_counters("# agg_perf_by_slowest: 24535.281934 # MiB/s") == (
        "agg_perf_by_slowest",
        24535.281934,
    )
    assert parse_perf_counters("# agg_time_by_slowest: 85.47 # seconds") == (None, None)


def test_split_points_give_pieces_that_parse_to_the_same_records() -> None:
    body = b"".join(
        b"POSIX\t%d\t7\tPOSIX_%s\t%d\t/f\t/\text4\n" % (rank, name, rank)
        for rank in range(50)
        for name in (b"OPENS", b"READS", b"WRITES")
    )
    text = SMALL.split(b"POSIX\t-1")[0] + body
    whole = parse(text)
    cuts = split_points(text, 4)
    assert len(cuts) == 4 and cuts[0] == (0, None, 0)
    pieces = []
    for i, (offset, module, line) in enumerate(cuts):
        stop = cuts[i + 1][0] if i + 1 < len(cuts) else len(text)
        assert module in (None, "POSIX")
        parser = DarshanParser("test", resume_module=module, resume_line=line)
        pieces += parse_all(parser, text[offset:stop])
    assert pieces == whole


def _many_records() -> bytes:
    body = b"".join(
        b"POSIX\t%d\t%d\tPOSIX_%s\t%d\t/f%d\t/\text4\n" % (rank, record, name, rank, record)
        for record in range(40)
        for rank in range(5)
        for name in (b"OPENS", b"READS", b"WRITES")
    )
    return SMALL.split(b"POSIX\t-1")[0] + body


def test_record_boundary_after_names_the_module_of_the_next_record() -> None:
    text = _many_records()
    found = record_boundary_after(text, len(text) // 2)
    assert found is not None
    offset, module = found
    assert module == "POSIX"
    assert text[offset - 1 : offset] == b"\n"
    before, after = text[:offset].split(b"\n")[-2], text[offset:].split(b"\n")[0]
    assert before.split(b"\t")[:3] != after.split(b"\t")[:3]
    whole = build_darshan_dict(parse(text))
    result = build_darshan_dict(parse(text[:offset]))
    rest = parse_all(DarshanParser(resume_module=module), text[offset:])
    merge_darshan_dicts(result, build_darshan_dict(rest))
    assert result == whole
    # within one record, or in --total output, there is no cut
    assert record_boundary_after(text, len(text) - 20) is None
    total = SMALL.split(b"# mounted")[0] + b"".join(
        b"total_POSIX_C%d: %d\n" % (k, k) for k in range(500)
    )
    assert record_boundary_after(total, 0) is None


# ---------------------------------------------------------------------------
# The real darshan-parser outputs of the corpus (3.1.8, 3.4.4, 3.5.0)


def corpus_dict(log: str, mode: str, version: str = "3.5.0") -> dict:
    return build_darshan_dict(parse(darshan_text(log, mode, version)))


def test_sample_base_3_5_0() -> None:
    result = corpus_dict("sample", "base")
    assert result["header"] == SAMPLE_HEADER
    assert len(result["mounts"]) == 21
    assert result["mounts"]["/"] == "dvs"
    assert result["mounts"]["/scratch2"] == "lustre"
    counters = result["counters"]
    assert sorted(counters) == ["lustre", "mpiio", "posix", "stdio"]
    vpic = "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5"
    assert list(counters["posix"]) == [vpic]
    assert counters["posix"][vpic]["-1"]["OPENS"] == 2049
    assert counters["posix"][vpic]["-1"]["FILENOS"] == -1
    assert counters["posix"][vpic]["-1"]["BYTES_WRITTEN"] == 2199023259968
    assert isinstance(counters["posix"][vpic]["-1"]["F_WRITE_TIME"], float)
    lustre = counters["lustre"][vpic]["-1"]
    assert lustre["COMP1_STRIPE_COUNT"] == 24 and lustre["COMP1_STRIPE_PATTERN"] == "N/A"
    assert lustre["COMP1_OST_ID_0"] == 7
    assert (lustre["STRIPE_WIDTH"], lustre["OST_ID_0"]) == (24, 7)  # also the 3.1 names
    stderr_ranks = list(counters["stdio"]["<STDERR>"])
    assert len(stderr_ranks) == 128 and stderr_ranks[:3] == ["0", "16", "32"]
    assert list(counters["stdio"]["<STDOUT>"]) == ["0"]


@pytest.mark.parametrize("version", ["3.5.0", "3.4.4", "3.1.8"])
def test_sample_total_and_perf(version: str) -> None:
    total = corpus_dict("sample", "total", version)["counters"]
    assert total["posix"]["_total"]["OPENS"] == 2049
    assert total["posix"]["_total"]["BYTES_WRITTEN"] == 2199023259968
    assert total["stdio"]["_total"]["FDOPENS"] == -129
    assert total["mpiio"]["_total"]["F_CLOSE_START_TIMESTAMP"] == (
        -1.0 if version == "3.1.8" else 0.0
    )
    perf = corpus_dict("sample", "perf", version)["counters"]["posix"]["_perf"]
    common = {
        "total_bytes": 2199023259968,
        "slowest_rank_io_time_unique_files": 0.0,
        "slowest_rank_meta_only_time_unique_files": 0.0,
        "slowest_rank_unique_files": 0,
        "time_by_slowest_shared_files": 85.47495,
        "agg_perf_by_slowest": 24535.281934,
    }
    if version == "3.1.8":
        assert perf == {
            **common,
            "time_by_cumul_io_only_shared_files": 49.027784,
            "time_by_cumul_meta_only_shared_files": 0.005518,
            "time_by_open_shared_files": 111.851217,
            "time_by_open_lastio_shared_files": 111.159025,
            "agg_perf_by_cumul": 42774.766486,
            "agg_perf_by_open": 18749.478637,
            "agg_perf_by_open_lastio": 18866.232455,
        }
    else:
        assert perf == {**common, "slowest_rank_rw_only_time_unique_files": 0.0}


@pytest.mark.parametrize("log", REAL_LOGS)
def test_base_3_1_8_and_3_4_4_give_the_same_dict(log: str) -> None:
    assert corpus_dict(log, "base", "3.1.8") == corpus_dict(log, "base", "3.4.4")


@pytest.mark.parametrize("log", REAL_LOGS)
def test_base_3_4_4_and_3_5_0_differ_only_in_lustre_names(log: str) -> None:
    old, new = corpus_dict(log, "base", "3.4.4"), corpus_dict(log, "base", "3.5.0")
    old_lustre = old["counters"].pop("lustre", {})
    new_lustre = new["counters"].pop("lustre", {})
    assert old == new
    assert old_lustre.keys() == new_lustre.keys()
    for name, ranks in old_lustre.items():
        for rank, counters in ranks.items():
            renamed = new_lustre[name][rank]
            assert renamed["COMP1_STRIPE_COUNT"] == counters["STRIPE_WIDTH"]
            assert renamed["COMP1_STRIPE_SIZE"] == counters["STRIPE_SIZE"]
            for i in range(counters["STRIPE_WIDTH"]):
                assert renamed[f"COMP1_OST_ID_{i}"] == counters[f"OST_ID_{i}"]
            # ... and the 3.5 record also carries the 3.1 names, with the 3.1 values
            legacy = {k: v for k, v in counters.items() if k in renamed}
            assert legacy == {
                k: v
                for k, v in counters.items()
                if k == "STRIPE_WIDTH" or k == "STRIPE_SIZE" or k.startswith("OST_ID_")
            }


def test_hash_inside_the_exe_line_is_kept() -> None:
    exe = corpus_dict("sample-2", "base")["header"]["exe"]
    assert exe[1:3] == ["-d", "/Step#0/x"]
    assert len(exe) == 15


def test_sample_badost_counts() -> None:
    records = parse(darshan_text("sample-badost", "base"))
    posix = [r for r in records if isinstance(r, BaseRecord) and r.module == "posix"]
    assert sum(len(r.counters) for r in posix) == 176128
    assert len({r.rank for r in posix}) == 2048


@pytest.mark.parametrize("log", ["sample", "sample-goodost", "noposix"])
def test_corpus_text_split_anywhere(log: str) -> None:
    data = darshan_text(log, "base")
    whole = parse(data)
    assert parse(data, chunk_size=4093) == whole
    assert parse(data, chunk_size=1) == whole if len(data) < 400_000 else True
    cuts = split_points(data, 3)
    pieces = []
    for i, (offset, module, line) in enumerate(cuts):
        stop = cuts[i + 1][0] if i + 1 < len(cuts) else len(data)
        pieces += parse_all(
            DarshanParser("x", resume_module=module, resume_line=line), data[offset:stop]
        )
    assert pieces == whole


def test_header_records_of_noposix() -> None:
    records = parse(darshan_text("noposix", "total"))
    assert Header("exe", ["160345792"]) in records
    assert Header("walltime", 39213) in records


@pytest.mark.parametrize(
    "value",
    ["[1]", "{}", '"x"', "true", "Infinity", "1_000", "N/A", "N/AN/A", "-N/A", "N/A7", '"N/A"'],
)
def test_values_json_would_read_otherwise_keep_their_own_conversion(value: str) -> None:
    lines = b"".join(
        b"LUSTRE\t-1\t9\tLUSTRE_%s\t%s\t/f\t/\tlustre\n" % (name, text)
        for name, text in ((b"A", b"1"), (b"B", value.encode()), (b"C", b"2.5"))
    )
    text = SMALL.split(b"# mounted")[0] + b"\n# LUSTRE module data\n" + lines
    for chunk_size in (1 << 16, 7):
        (record,) = [r for r in parse(text, chunk_size) if isinstance(r, BaseRecord)]
        assert record.counters == {"A": 1, "B": convert_value(value), "C": 2.5}


@st.composite
def _records(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """(rank, record id, counters) of consecutive records, no two neighbours the same record."""
    records: list[tuple[int, int, int]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=40))):
        rank = draw(st.integers(min_value=-1, max_value=2))
        record = draw(st.integers(min_value=0, max_value=2))
        if records and records[-1][:2] == (rank, record):
            rank += 10
        if any(r[:2] == (rank, record) for r in records):
            record = 1000 + len(records)  # each record once per output
        records.append((rank, record, draw(st.integers(min_value=1, max_value=12))))
    return records


@given(records=_records(), feed=st.integers(min_value=1, max_value=3000))
@settings(max_examples=150, deadline=None)
def test_records_of_any_lengths_end_where_rank_or_id_changes(
    records: list[tuple[int, int, int]], feed: int
) -> None:
    lines = [
        b"POSIX\t%d\t%d\tPOSIX_C%d\t%d\t/f%d\t/\text4\n" % (rank, record, k, k * 7, record)
        for rank, record, counters in records
        for k in range(counters)
    ]
    text = b"# POSIX module data\n" + b"".join(lines)
    parser = DarshanParser("test")
    got = []
    for at in range(0, len(text), feed):
        got += parser.feed(text[at : at + feed])
    got += parser.close()
    expected = [
        (str(rank), f"/f{record}", {f"C{k}": k * 7 for k in range(counters)})
        for rank, record, counters in records
    ]
    assert [(r.rank, r.file_name, r.counters) for r in got if isinstance(r, BaseRecord)] == expected
