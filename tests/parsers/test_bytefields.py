"""Fields of many lines read from their bytes: the same values as ``int()``/``float()``/``split()``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.parsers import bytefields
from atokio.parsers.hpss import get_ascii_resolution


def columns_of(words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The array of one word per line, and each word's extent."""
    text = bytefields.text_array("\n".join(words).encode())
    assert text is not None
    found = bytefields.tokens(text)
    assert found is not None
    starts, ends, first, counts = found
    assert counts.tolist() == [1] * len(words)
    return text, starts[first], ends[first]


NUMBERS = st.from_regex(r"\A-?[0-9]{1,16}(\.[0-9]{0,8})?\Z", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(NUMBERS, min_size=1, max_size=30))
def test_decimals_are_float_and_their_resolution(words: list[str]) -> None:
    found = bytefields.decimals(*columns_of(words))
    digits = max(sum(c.isdigit() for c in word) for word in words)
    if digits > 15:
        assert found is None
        return
    assert found is not None
    values, places = found
    assert values.tolist() == [float(word) for word in words]
    assert [10.0**-k for k in places.tolist()] == list(map(get_ascii_resolution, words))
    assert [str(v) for v in values.tolist()] == [str(float(word)) for word in words]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.from_regex(r"\A-?[0-9]{1,19}\Z", fullmatch=True), min_size=1, max_size=30))
def test_integers_are_int(words: list[str]) -> None:
    found = bytefields.integers(*columns_of(words))
    if max(len(word.lstrip("-")) for word in words) > 18:
        assert found is None
        return
    assert found is not None
    assert found.tolist() == [int(word) for word in words]


@pytest.mark.parametrize(
    "word", ["1_0", "+1", "1e3", "nan", "0x1", "1.2.3", "-", ".", "1-", "--1", "١٢"]
)
def test_other_forms_are_declined(word: str) -> None:
    if not word.isascii():
        assert bytefields.text_array(word.encode()) is None
        return
    text, starts, ends = columns_of(["12", word])
    assert bytefields.integers(text, starts, ends) is None
    assert bytefields.decimals(text, starts, ends) is None


WORD = st.text(st.sampled_from("ab1. \t\x0b\x0c\x1c\x1f"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=20))
def test_tokens_and_strings_are_str_split(lines: list[str]) -> None:
    text = bytefields.text_array("\n".join(lines).encode())
    assert text is not None
    found = bytefields.tokens(text)
    assert found is not None
    starts, ends, first, counts = found
    expected = [line.split() for line in lines]
    assert counts.tolist() == list(map(len, expected))
    assert bytefields.strings(text, starts, ends) == [w for words in expected for w in words]
    for number, words in enumerate(expected):
        if words:
            k = int(first[number])
            assert bytefields.matches(text, starts[k : k + 1], ends[k : k + 1], words[0].encode())[
                0
            ]
            assert bytefields.ends_with(text, starts[k : k + 1], ends[k : k + 1], b"1")[0] == (
                words[0].endswith("1")
            )


def test_control_characters_that_are_not_whitespace_decline() -> None:
    text = bytefields.text_array(b"a\x01b c")
    assert text is not None
    assert bytefields.tokens(text) is None
    assert bytefields.text_array(b"a\r\nb") is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.sampled_from("abc/._-1"), min_size=25, max_size=60), min_size=1))
def test_long_fields_are_sliced_out_whole(words: list[str]) -> None:
    text, starts, ends = columns_of(words)
    assert bytefields.strings(text, starts, ends) == words
    assert bytefields.joined(text, starts, ends) == "\n".join(words)
