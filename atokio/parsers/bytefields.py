"""Fields of many ASCII lines at once: a block of text as a numpy byte array.

The line parsers' fast paths cut a whole block of lines into fields without a
Python string per field: :func:`text_array` views the block, :func:`tokens`
finds the whitespace-separated tokens and the line each is on, and the values
of one field of every line are read with one numpy pass each --
:func:`integers` and :func:`decimals` (exactly what ``int()`` and ``float()``
give for the plain forms they accept, ``None`` for anything else, so that the
caller falls back to its line-by-line path), :func:`matches` and
:func:`ends_with` to test a field, :func:`strings` to make the strings of a
field (one ``decode`` and one ``split`` for the column).

A field is given by two int64 arrays, the offsets of its first byte and of the
byte after its last one.  Every function expects the array of
:func:`text_array`, whose last byte is a line break.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "decimals",
    "ends_with",
    "integers",
    "joined",
    "matches",
    "strings",
    "text_array",
    "tokens",
]

#: Which bytes below 33 ``str.split()`` takes for whitespace (the others are not).
_SPACE_BELOW_33 = np.array([chr(code).isspace() for code in range(33)])
_NEWLINE = 10
_DOT = 46
_MINUS = 45
#: Most digits read into an int64 (``10**18`` fits) and into an exact float mantissa.
_INT_DIGITS = 18
_FLOAT_DIGITS = 15
#: Powers of ten by column; the widest field has a sign column, whose weight is never used.
_POWERS = np.array([10**k if k <= _INT_DIGITS else 0 for k in range(_INT_DIGITS + 2)])


def text_array(block: bytes) -> np.ndarray | None:
    """The bytes of a block of lines (no ``\\r``, ASCII) and a final line break, or ``None``."""
    if not block.isascii() or b"\r" in block:
        return None
    return np.frombuffer(block + b"\n", dtype=np.uint8)


def tokens(text: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The whitespace-separated tokens of the lines of ``text``, as ``str.split()`` cuts them.

    Returns ``(starts, ends, first, counts)``: the extents of every token, and
    for each line the index of its first token and its number of tokens;
    ``None`` if the text holds a control character that is not whitespace.
    """
    low = text[text < 32]
    if len(low) and not _SPACE_BELOW_33[low].all():
        return None
    word = np.zeros(len(text) + 1, dtype=np.int8)
    np.greater(text, 32, out=word[1:].view(np.bool_))
    edges = np.flatnonzero(np.diff(word))
    starts = edges[0::2]
    ends = edges[1::2]
    # each line's first token: the first that starts after the line break before it
    breaks = np.flatnonzero(text == _NEWLINE)
    bounds = np.searchsorted(starts, breaks)
    first = np.empty_like(bounds)
    first[0] = 0
    first[1:] = bounds[:-1]
    return starts, ends, first, bounds - first


def _window(text: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` bytes from each start (past the end of ``text``: line breaks)."""
    if len(starts) and int(starts.max()) + width <= len(text):
        return _rows(text, width)[starts]  # rows of a view: n indexes, not n*width
    index = starts[:, None] + np.arange(width)
    np.minimum(index, len(text) - 1, out=index)
    return text[index]


def _rows(text: np.ndarray, width: int) -> np.ndarray:
    """Every ``width`` consecutive bytes of ``text``, as rows of a view (nothing copied)."""
    if not text.flags.c_contiguous or text.dtype != np.uint8:
        text = np.ascontiguousarray(text, dtype=np.uint8)
    return np.ndarray((len(text) - width + 1, width), np.uint8, text, 0, (1, 1))


def _window_before(text: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` bytes before each end (before the start of ``text``: its first byte)."""
    if len(ends) and int(ends.min()) >= width:
        return _rows(text, width)[ends - width]
    index = ends[:, None] + np.arange(-width, 0)
    np.maximum(index, 0, out=index)
    return text[index]


def matches(text: np.ndarray, starts: np.ndarray, ends: np.ndarray, word: bytes) -> np.ndarray:
    """Which fields are exactly ``word`` (a bool array)."""
    same = (ends - starts) == len(word)
    if not len(starts):
        return same
    window = _window(text, starts, len(word))
    return same & (window == np.frombuffer(word, dtype=np.uint8)).all(axis=1)


def ends_with(text: np.ndarray, starts: np.ndarray, ends: np.ndarray, suffix: bytes) -> np.ndarray:
    """Which fields end with ``suffix`` (a bool array)."""
    long = (ends - starts) >= len(suffix)
    if not len(starts):
        return long
    window = _window(text, np.maximum(ends - len(suffix), 0), len(suffix))
    return long & (window == np.frombuffer(suffix, dtype=np.uint8)).all(axis=1)


def _digits(
    text: np.ndarray, starts: np.ndarray, ends: np.ndarray, limit: int, dots: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The parts of ``[-]digits[.digits]`` fields: ``(negative, mantissa, decimals, dotted)``.

    ``None`` if a field has another form (more than ``limit`` digits, a dot
    when ``dots`` is false).  The
    fields are read right-aligned, so that a digit's weight is a power of ten
    fixed by its column (a dot counts as a zero digit, taken out afterwards).
    """
    lengths = ends - starts
    width = int(lengths.max())
    if lengths.min() < 1 or width > limit + 2:
        return None
    columns = np.arange(-width, 0)
    window = _window_before(text, ends, width)
    inside = columns >= -lengths[:, None]
    code = window - np.uint8(48)
    digit = inside & (code <= 9)
    other = inside & ~digit
    negative = np.zeros(len(starts), dtype=np.bool_)
    dotted = negative
    places = np.zeros(len(starts), dtype=np.int64)
    count = lengths
    if other.any():
        ones = np.ones(width, dtype=np.int64)  # row sums as products: faster than sum(axis=1)
        negative = text[starts] == _MINUS
        leading = other & (columns == -lengths[:, None]) & (window == _MINUS)
        dot = other & ~leading & (window == _DOT)
        dots_per_field = dot @ ones
        if (other & ~leading & ~dot).any() or (dots_per_field > 1).any():
            return None
        if ((leading @ ones) != negative).any():
            return None
        dotted = dots_per_field == 1
        if not dots and dotted.any():
            return None
        places = dot @ np.arange(width - 1, -1, -1)
        count = lengths - other @ ones
    if count.min() < 1 or count.max() > limit:
        return None
    value = np.where(digit, code, 0).astype(np.int64) @ _POWERS[width - 1 :: -1]
    if dotted.any():
        low = value % _POWERS[places]
        value = np.where(dotted, (value - low) // 10 + low, value)
    return negative, value, places, dotted


def integers(text: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """``int()`` of every field (``[-]digits``, up to 18 digits) as int64, else ``None``."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    parts = _digits(text, starts, ends, _INT_DIGITS, False)
    if parts is None:
        return None
    negative, value = parts[0], parts[1]
    return np.where(negative, -value, value)


def decimals(
    text: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """``float()`` of every field (``[-]digits[.digits]``, up to 15 digits) and its number of
    decimals, else ``None``.

    The digits as an integer divided by a power of ten is one correctly
    rounded division of two exact floats: the value ``float()`` gives.
    """
    if not len(starts):
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    parts = _digits(text, starts, ends, _FLOAT_DIGITS, True)
    if parts is None:
        return None
    negative, value, places, _ = parts
    result = value.astype(np.float64) / (10.0 ** places.astype(np.float64))
    return np.where(negative, -result, result), places


def strings(text: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[str]:
    """The fields as strings (they must hold no line break).

    Short fields are gathered into one string that is split; long ones are
    sliced out of the text decoded once.
    """
    n = len(starts)
    if not n:
        return []
    if int((ends - starts).sum()) > 24 * n:
        whole = text.tobytes().decode("ascii")
        return list(map(whole.__getitem__, map(slice, starts.tolist(), ends.tolist())))
    return joined(text, starts, ends).split("\n")


def joined(text: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> str:
    """The fields joined by line breaks, as one string (they must hold no line break)."""
    if not len(starts):
        return ""
    lengths = ends - starts + 1  # each with the byte after it, made a line break
    offsets = np.cumsum(lengths) - lengths
    index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - offsets, lengths)
    out = text[index]
    out[offsets + lengths - 1] = _NEWLINE
    return out[:-1].tobytes().decode("ascii")
