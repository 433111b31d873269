"""Slurm hostlist expansion and compaction, done natively."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.connectors.slurm import compact_nodelist, expand_nodelist
from atokio.parsers.hostlist import (
    HostlistError,
    compact_hostlist,
    expand_hostlist,
    split_hostlist,
)

NIDS = {f"nid{n:05d}" for n in range(5301, 5429)}


def test_both_spellings_of_the_sample_nodelist() -> None:
    assert expand_nodelist("nid0[5301-5428]") == NIDS
    assert expand_nodelist("nid[05301-05428]") == NIDS
    assert len(expand_hostlist("nid0[5301-5428]")) == 128


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("nid05301", ["nid05301"]),
        ("nid[00010-00012,00020]", ["nid00010", "nid00011", "nid00012", "nid00020"]),
        ("c1-0c0s[1-3]n0", ["c1-0c0s1n0", "c1-0c0s2n0", "c1-0c0s3n0"]),
        ("c0-0c[0-1]s[1-2]n0", ["c0-0c0s1n0", "c0-0c0s2n0", "c0-0c1s1n0", "c0-0c1s2n0"]),
        ("nid[8-10]", ["nid8", "nid9", "nid10"]),
        ("nid[08-10]", ["nid08", "nid09", "nid10"]),
        ("nid[098-101]", ["nid098", "nid099", "nid100", "nid101"]),
        ("bb[1-2],login,nid[1,3]", ["bb1", "bb2", "login", "nid1", "nid3"]),
        ("node[1-2]-ib", ["node1-ib", "node2-ib"]),
        ("None assigned", []),
        ("", []),
    ],
)
def test_expand(expression: str, names: list[str]) -> None:
    assert expand_hostlist(expression) == names
    assert expand_nodelist(expression) == set(names)


@pytest.mark.parametrize(
    ("names", "compact"),
    [
        (NIDS, "nid[05301-05428]"),
        ({"nid05301"}, "nid05301"),
        ({"nid00010", "nid00011", "nid00012", "nid00020"}, "nid[00010-00012,00020]"),
        ({"nid8", "nid9", "nid10"}, "nid[8-10]"),
        ({"nid08", "nid09", "nid10"}, "nid[08-10]"),
        ({"nid9", "nid10", "nid010"}, "nid[9-10,010]"),
        ({"login", "bb2", "bb1", "nid1", "nid3"}, "bb[1-2],login,nid[1,3]"),
        (set(), ""),
    ],
)
def test_compact(names: set[str], compact: str) -> None:
    assert compact_hostlist(names) == compact
    assert compact_nodelist(",".join(sorted(names))) == compact
    assert set(expand_hostlist(compact)) == names


def test_split_keeps_bracketed_commas() -> None:
    assert split_hostlist("a[1,2],b,c[3-4,6]") == ["a[1,2]", "b", "c[3-4,6]"]


@pytest.mark.parametrize(
    "bad", ["nid[1-2", "nid1-2]", "nid[[1]]", "nid[3-1]", "nid[a-b]", "nid[]", "nid[1-2-3]"]
)
def test_malformed_lists_raise(bad: str) -> None:
    with pytest.raises(HostlistError, match="hostlist"):
        expand_hostlist(bad)
    with pytest.raises(ValueError):
        expand_nodelist(bad)


def test_compact_rejects_non_names() -> None:
    with pytest.raises(HostlistError):
        compact_hostlist(["nid[1-2]"])


_prefixes = st.sampled_from(["nid", "c0-0c1s", "bb", "node-", "", "x1y", "login"])
_names = st.one_of(
    st.builds(
        lambda prefix, number, width: f"{prefix}{number:0{width}d}",
        _prefixes,
        st.integers(min_value=0, max_value=12000),
        st.integers(min_value=1, max_value=6),
    ),
    st.builds(
        lambda prefix, number, suffix: f"{prefix}{number}{suffix}",
        _prefixes,
        st.integers(min_value=0, max_value=40),
        st.sampled_from(["n0", "-ib", "a"]),
    ),
    st.sampled_from(["login", "gateway", "mom-a"]),
)


@settings(max_examples=300, deadline=None)
@given(st.sets(_names.filter(bool), max_size=60))
def test_expand_compact_round_trip(names: set[str]) -> None:
    compact = compact_hostlist(names)
    expanded = expand_hostlist(compact)
    assert set(expanded) == names
    assert len(expanded) == len(names)  # no name twice


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=99990),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=1, max_value=7),
)
def test_ranges_expand_to_what_they_say(low: int, count: int, width: int) -> None:
    high = low + count
    expression = f"nid[{low:0{width}d}-{high:0{width}d}]"
    names = expand_hostlist(expression)
    assert names == [f"nid{n:0{width}d}" for n in range(low, high + 1)]
    assert expand_hostlist(compact_hostlist(names)) == names


def test_the_size_is_checked_before_expanding() -> None:
    # issue 13 item 5: a[0-9999]b[0-9999]c[0-9] built 10**9 names (50 s, 2.86 GB) before failing
    import tracemalloc

    from atokio.parsers.hostlist import MAX_HOSTS

    tracemalloc.start()
    with pytest.raises(HostlistError) as caught:
        expand_hostlist("a[0-9999]b[0-9999]c[0-9]")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert str(caught.value) == (
        "hostlist 'a[0-9999]b[0-9999]c[0-9]' expands to more than 500,000 names "
        "(atokio.parsers.hostlist.MAX_HOSTS)"
    )
    assert peak < 1 << 20  # nothing was expanded
    # many items each within the bound, together over it
    many = ",".join(f"n{i}x[0-199999]" for i in range(3))
    with pytest.raises(HostlistError, match="expands to more than 500,000 names"):
        expand_hostlist(many)
    assert len(expand_hostlist("a[0-499]b[0-999]")) == 500_000 == MAX_HOSTS


def test_hostile_numbers_and_long_expressions_give_short_errors() -> None:
    digits = "9" * 5000  # int() of this raised ValueError (4300-digit limit)
    with pytest.raises(HostlistError) as caught:
        expand_hostlist(f"nid[{digits}]")
    message = str(caught.value)
    assert message.startswith("number too long in range '" + "9" * 39) and len(message) < 200
    with pytest.raises(HostlistError) as caught:
        expand_hostlist("x" * 10000 + "[1-")
    assert len(str(caught.value)) < 200 and str(caught.value).endswith("...'")
