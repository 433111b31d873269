"""Slurm hostlist expressions, expanded and compacted natively (no ``scontrol``).

Grammar (what ``scontrol show hostnames`` / ``show hostlist`` accept and print):

* a hostlist is a comma-separated list of *items*; commas inside ``[...]``
  separate ranges and do not split items;
* an item is literal text with any number of bracket groups, e.g.
  ``nid0[5301-5428]``, ``nid[00010-00012,00020]``, ``c1-0c[0-1]s[1-3]n0``;
  several groups expand as their Cartesian product, leftmost group slowest;
* a range is ``lo-hi`` or a single number ``n``; every number of a range is
  written zero-padded to the width of its lower bound as printed, so
  ``[08-10]`` is ``08 09 10`` and ``[8-10]`` is ``8 9 10``;
* ``nid0[5301-5428]`` and ``nid[05301-05428]`` name the same 128 hosts.

:func:`compact_hostlist` is the inverse: names are grouped by the text before
their trailing number, numbers are sorted and consecutive ones that print at
the same width become ``lo-hi`` ranges, giving the standard Slurm spelling
(``nid[05301-05428]``; a single name stays bare, ``nid05301``).  Groups come
out sorted by prefix.  ``expand_hostlist(compact_hostlist(names))`` gives back
exactly ``names`` (as a set).

Malformed expressions (unbalanced brackets, empty or descending ranges,
non-digits inside brackets) raise :class:`HostlistError`, a ``ValueError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import product

__all__ = [
    "MAX_HOSTS",
    "NO_NODES",
    "HostlistError",
    "compact_hostlist",
    "expand_hostlist",
    "split_hostlist",
]

#: What sacct prints in ``NodeList`` for a job that never ran; it expands to no hosts.
NO_NODES = "None assigned"

#: Largest number of names one expression may expand to (guards against typos
#: such as ``nid[0-99999999]`` and hostile input): checked from the ranges,
#: before any name is made.  Three times the node count of the largest machines.
MAX_HOSTS = 500_000

_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$", re.DOTALL)
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_SIMPLE = re.compile(r"([^\[\],]*)\[(\d+)(?:-(\d+))?\]([^\[\],]*)")


class HostlistError(ValueError):
    """A malformed Slurm hostlist expression."""


#: Digits a number in a range may have (node numbers fit in 64 bits).
_MAX_DIGITS = 18


def _shown(expression: str) -> str:
    """``expression`` quoted for a message, cut to 80 characters."""
    return repr(expression if len(expression) <= 80 else expression[:77] + "...")


def split_hostlist(expression: str) -> list[str]:
    """The top-level items of a hostlist (commas inside brackets do not split)."""
    if "[" not in expression:
        return [item for item in (part.strip() for part in expression.split(",")) if item]
    items: list[str] = []
    depth = 0
    start = 0
    for position, char in enumerate(expression):
        if char == "[":
            if depth:
                raise HostlistError(f"nested '[' in hostlist {_shown(expression)}")
            depth = 1
        elif char == "]":
            if not depth:
                raise HostlistError(f"unbalanced ']' in hostlist {_shown(expression)}")
            depth = 0
        elif char == "," and not depth:
            items.append(expression[start:position])
            start = position + 1
    if depth:
        raise HostlistError(f"unbalanced '[' in hostlist {_shown(expression)}")
    items.append(expression[start:])
    return [item for item in (part.strip() for part in items) if item]


#: Names of ``(prefix, width, suffix)`` for every number up to this are kept for reuse.
NAME_CACHE_NUMBERS = 1 << 17
#: How many ``(prefix, width, suffix)`` keys the name cache holds before it is emptied.
NAME_CACHE_KEYS = 256

# (prefix, width, suffix) -> [name of 0, name of 1, ...]: expanding a range is then a
# slice, and every node list of a system shares the same string objects.  Lists are
# replaced, never grown in place, so concurrent readers always see a consistent list.
_NAME_CACHE: dict[tuple[str, int, str], list[str]] = {}


def _pattern(head: str, width: int, tail: str) -> str:
    return (
        head.replace("%", "%%") + ("%d" if width <= 1 else f"%0{width}d") + tail.replace("%", "%%")
    )


def _names(head: str, width: int, tail: str, low: int, high: int) -> list[str]:
    """``head + number + tail`` for ``low..high``, numbers zero-padded to ``width``."""
    if high >= NAME_CACHE_NUMBERS:
        return list(map(_pattern(head, width, tail).__mod__, range(low, high + 1)))
    key = (head, width, tail)
    names = _NAME_CACHE.get(key)
    if names is None or len(names) <= high:
        have = 0 if names is None else len(names)
        size = min(NAME_CACHE_NUMBERS, max(high + 1, 2 * have, 64))
        extra = list(map(_pattern(head, width, tail).__mod__, range(have, size)))
        names = extra if names is None else names + extra
        if len(_NAME_CACHE) >= NAME_CACHE_KEYS:
            _NAME_CACHE.clear()
        _NAME_CACHE[key] = names
    return names[low : high + 1]


def _parse_ranges(ranges: str, expression: str) -> list[tuple[int, int, int]]:
    """The ``(low, high, width)`` ranges of one bracket group."""
    out: list[tuple[int, int, int]] = []
    for part in ranges.split(","):
        match = _RANGE.match(part)
        if match is None:
            raise HostlistError(f"bad range {part[:40]!r} in hostlist {_shown(expression)}")
        low_text, high_text = match.groups()
        if max(len(low_text), len(high_text or "")) > _MAX_DIGITS:
            raise HostlistError(
                f"number too long in range {part[:40]!r} of hostlist {_shown(expression)}"
            )
        low = int(low_text)
        high = int(high_text) if high_text is not None else low
        if high < low:
            raise HostlistError(f"descending range {part[:40]!r} in hostlist {_shown(expression)}")
        if high - low >= MAX_HOSTS:
            raise HostlistError(
                f"range {part[:40]!r} in hostlist {_shown(expression)} is too large"
            )
        out.append((low, high, len(low_text)))
    return out


_Item = tuple[list[str], list[list[tuple[int, int, int]]]]


def _parse_item(item: str, expression: str) -> _Item:
    """``(literals, bracket groups)`` of one item, checked but not expanded."""
    if "[" not in item:
        if "]" in item:
            raise HostlistError(f"unbalanced ']' in hostlist {_shown(expression)}")
        return [item], []
    pieces = re.split(r"\[([^\[\]]*)\]", item)
    # pieces: literal, ranges, literal, ranges, ..., literal
    literals = pieces[0::2]
    if any("[" in text or "]" in text for text in literals):
        raise HostlistError(f"unbalanced brackets in hostlist {_shown(expression)}")
    return literals, [_parse_ranges(ranges, expression) for ranges in pieces[1::2]]


def _count(groups: list[list[tuple[int, int, int]]]) -> int:
    """How many names the bracket groups of one item make (no name is made)."""
    total = 1
    for group in groups:
        total *= sum(high - low + 1 for low, high, _width in group)
        if total > MAX_HOSTS:
            return total  # enough to refuse; the full product may be astronomic
    return total


def _expand_item(literals: list[str], groups: list[list[tuple[int, int, int]]]) -> list[str]:
    if not groups:
        return literals
    if len(groups) == 1:
        head, tail = literals
        names: list[str] = []
        for low, high, width in groups[0]:
            names.extend(_names(head, width, tail, low, high))
        return names
    numbers = [
        [number for low, high, width in group for number in _names("", width, "", low, high)]
        for group in groups
    ]
    names = []
    for combination in product(*numbers):
        parts = [literals[0]]
        for number, literal in zip(combination, literals[1:], strict=True):
            parts.append(number)
            parts.append(literal)
        names.append("".join(parts))
    return names


def expand_hostlist(expression: str) -> list[str]:
    """Every host name of a Slurm hostlist expression, in the order written.

    ``""`` and ``"None assigned"`` expand to ``[]``.  Duplicates are kept (the
    connector turns the result into a set).
    """
    text = expression.strip()
    if not text or text == NO_NODES:
        return []
    simple = _SIMPLE.fullmatch(text)
    if simple is not None:  # the common one-range case, e.g. nid0[5301-5428]
        head, low_text, high_text, tail = simple.groups()
        if (
            "]" not in head
            and "]" not in tail
            and max(len(low_text), len(high_text or "")) <= _MAX_DIGITS
        ):
            low = int(low_text)
            high = int(high_text) if high_text is not None else low
            if low <= high < low + MAX_HOSTS:
                return _names(head, len(low_text), tail, low, high)
    if "[" not in text and "]" not in text and "," not in text:
        return [text]
    items = [_parse_item(item, expression) for item in split_hostlist(text)]
    total = 0
    for _literals, groups in items:
        total += _count(groups)
        if total > MAX_HOSTS:
            raise HostlistError(
                f"hostlist {_shown(expression)} expands to more than {MAX_HOSTS:,} names "
                f"(atokio.parsers.hostlist.MAX_HOSTS)"
            )
    names: list[str] = []
    for literals, groups in items:
        names.extend(_expand_item(literals, groups))
    return names


def _runs(numbers: list[tuple[int, int, str]]) -> list[str]:
    """Range texts for sorted ``(value, width, digits)`` triples of one prefix."""
    texts: list[str] = []
    index = 0
    count = len(numbers)
    while index < count:
        value, width, digits = numbers[index]
        last_value, last_digits = value, digits
        index += 1
        while index < count:
            next_value, _next_width, next_digits = numbers[index]
            if next_value != last_value + 1 or f"{next_value:0{width}d}" != next_digits:
                break
            last_value, last_digits = next_value, next_digits
            index += 1
        texts.append(digits if last_value == value else f"{digits}-{last_digits}")
    return texts


def compact_hostlist(names: Iterable[str] | str) -> str:
    """The compact Slurm hostlist of ``names`` (an iterable, or a comma-separated string).

    ``{"nid05301", ..., "nid05428"}`` -> ``"nid[05301-05428]"``.  Names without
    a trailing number are kept as they are.  Duplicates collapse.  No names
    give ``""``.
    """
    if isinstance(names, str):
        names = split_hostlist(names)
    unique = {name.strip() for name in names}
    unique.discard("")
    numbered: dict[str, list[tuple[int, int, str]]] = {}
    bare: list[str] = []
    for name in unique:
        if "[" in name or "]" in name or "," in name:
            raise HostlistError(f"not a host name: {name!r}")
        match = _TRAILING_NUMBER.match(name)
        if match is None:
            bare.append(name)
            continue
        prefix, digits = match.groups()
        numbered.setdefault(prefix, []).append((int(digits), len(digits), digits))
    groups: list[tuple[str, str]] = [(name, name) for name in bare]
    for prefix, numbers in numbered.items():
        # ascending value; among equal values the shorter spelling first
        numbers.sort()
        runs = _runs(numbers)
        if len(runs) == 1 and "-" not in runs[0]:
            groups.append((prefix, prefix + runs[0]))
        else:
            groups.append((prefix, f"{prefix}[{','.join(runs)}]"))
    groups.sort()
    return ",".join(text for _key, text in groups)
