"""Streaming parser for Intel SSD Data Center Tool (``isdct show ...``) text output.

One file holds the output of one ``isdct show`` invocation (docs/formats.md#intel-isdct-dumps):
for each device, a title line ``- <title> <serial> -`` (blank lines
around it), then ``Key : Value`` lines.  ``isdct show -smart`` output is a
sequence of SMART register blocks, each opened by ``- <hex id> -`` and holding
``Action``, ``Description``, ``ID``, ``Normalized``, ``Raw`` and sometimes more
keys.  The parser gives one :class:`IsdctDevice` record per device section,
complete when the next device title arrives or at :meth:`~IsdctParser.close`.

Rules (the reference's, with its open points decided):

* A title line is ``- ... -``.  A single token of one to four hex digits
  (``- AB -``) opens a SMART register block of the current device; any other
  title opens a new device whose serial number is its last word
  (``- Intel SSD DC P3608 Series CVF84679515755866C-1 -``).
* A counter line is split at its first ``:``; key and value are stripped (so
  ``ErrorString : `` has the value ``""``, and values keep inner colons and
  spaces).  Keys are normalised by :func:`normalize_key`, values typed by
  :func:`recast_value`.
* Outside SMART blocks, ``temperature``, ``throttle_status`` and
  ``endurance_analyzer`` also give ``<key>_unit`` (the text after the number:
  ``28 Celsius`` -> ``temperature_unit = "Celsius"``; a bare
  ``endurance_analyzer`` number gets the unit ``years``).  As in the reference
  the value itself is the whole text recast, so ``temperature`` stays the
  string ``"28 Celsius"``; ``endurance_analyzer`` is ``None`` unless the whole
  text is a number.  Inside SMART blocks values are kept as typed, without a
  unit counter (``smart_thermal_throttle_status_throttle_status = "0 %"``).
* A SMART block's counters become ``smart_<description>_<key>``
  (:func:`rekey_smart_buffer`); a block without ``Description`` uses its hex
  id instead.
* ``node_name`` (when the parser is given one) is the first counter of every
  device.
* A counter or register line before any device title, or a non-blank line
  that is neither a title nor ``Key : Value``, is a
  :class:`~atokio.parsers.base.ParseError`.

The older ISDCT SMART layout that was not ``Key : Value`` text is not
described by the reference documentation and is not recognised.
"""

from __future__ import annotations

import functools
import re
from typing import Any, NamedTuple

from atokio.parsers.base import LineParser, ParseError

__all__ = [
    "IsdctDevice",
    "IsdctParser",
    "UNIT_KEYS",
    "normalize_key",
    "recast_value",
    "rekey_smart_buffer",
]

#: Keys whose text is a number followed by a unit (the unit is kept as ``<key>_unit``).
UNIT_KEYS = frozenset({"temperature", "throttle_status", "endurance_analyzer"})

_ACRONYMS = (("NVMe", "nvme"), ("SMBus", "smbus"))
_BEFORE_WORD = re.compile(r"(.)([A-Z][a-z]+)")
_AFTER_LOWER = re.compile(r"([a-z0-9])([A-Z])")
_UNDERSCORES = re.compile(r"_{2,}")
_REGISTER_ID = re.compile(r"[0-9A-Fa-f]{1,4}")


@functools.lru_cache(maxsize=4096)
def normalize_key(key: str) -> str:
    """Coerce an ISDCT counter name into snake_case.

    Strip, spaces -> ``_``, drop ``-``, ``NVMe`` -> ``nvme`` and ``SMBus`` ->
    ``smbus``, then an ``_`` before every capitalised word and between a
    lower-case letter or digit and a capital, collapse repeated ``_`` and
    lower-case: ``PCILinkGenSpeed`` -> ``pci_link_gen_speed``,
    ``IntelGen3SATA`` -> ``intel_gen3_sata``, ``Temperature - Celsius`` ->
    ``temperature_celsius``.
    """
    text = key.strip().replace(" ", "_").replace("-", "")
    for acronym, replacement in _ACRONYMS:
        text = text.replace(acronym, replacement)
    text = _BEFORE_WORD.sub(r"\1_\2", text)
    text = _AFTER_LOWER.sub(r"\1_\2", text)
    return _UNDERSCORES.sub("_", text).lower()


def recast_value(text: str) -> Any:
    """An ISDCT value as its type: int, then float, then hexadecimal int, then bool.

    ``"100"`` -> 100, ``"2628.15"`` -> 2628.15, ``"0x014C0D3B"`` and
    ``"8B1B0130"`` -> int (with or without ``0x``; so a hex-looking string
    such as the SMART id ``C7`` becomes 199, as in the reference),
    ``"True"``/``"False"`` -> bool; anything else stays the string.
    """
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return int(text, 16)
    except ValueError:
        pass
    if text == "True":
        return True
    if text == "False":
        return False
    return text


def rekey_smart_buffer(
    smart_buffer: dict[str, Any], register_id: str | None = None
) -> dict[str, Any]:
    """The counters of one SMART register, named ``smart_<description>_<key>``.

    ``smart_buffer`` maps the register's normalised keys (``action``,
    ``description``, ``id``, ``normalized``, ``raw``, ...) to their values;
    the description is normalised like a key (``CRC Error Count`` ->
    ``smart_crc_error_count_raw``).  Without a description the register id
    (``register_id``, else the ``id`` value) names the counters.
    """
    description = smart_buffer.get("description")
    if isinstance(description, str) and description.strip():
        stem = normalize_key(description)
    elif register_id:
        stem = register_id.lower()
    else:
        stem = normalize_key(str(smart_buffer.get("id", "unknown")))
    prefix = f"smart_{stem}_"
    return {prefix + key: value for key, value in smart_buffer.items()}


class IsdctDevice(NamedTuple):
    """The counters of one device section of one ``isdct show`` output."""

    serial: str
    counters: dict[str, Any]


class IsdctParser(LineParser[IsdctDevice]):
    """Sans-IO parser of one ``isdct show`` output (see the module docstring).

    ``nodename`` (e.g. ``nid00842``), when given, becomes each device's
    ``node_name`` counter.
    """

    def __init__(self, source: str = "<input>", nodename: str | None = None) -> None:
        super().__init__(source)
        self.nodename = nodename
        self._serial: str | None = None
        self._counters: dict[str, Any] = {}
        self._register: dict[str, Any] | None = None
        self._register_id: str | None = None

    # -- state ------------------------------------------------------------------
    def _end_register(self) -> None:
        if self._register is not None:
            self._counters.update(rekey_smart_buffer(self._register, self._register_id))
            self._register = None
            self._register_id = None

    def _end_device(self) -> IsdctDevice | None:
        self._end_register()
        if self._serial is None:
            return None
        device = IsdctDevice(self._serial, self._counters)
        self._serial = None
        self._counters = {}
        return device

    def _add(self, key: str, text: str) -> None:
        value = recast_value(text)
        if self._register is not None:
            self._register[key] = value
            return
        counters = self._counters
        if key in UNIT_KEYS:
            number, _, unit = text.partition(" ")
            if key == "endurance_analyzer" and not isinstance(value, int | float):
                value = None
            counters[key] = value
            unit = unit.strip()
            if unit:
                counters[key + "_unit"] = unit
            elif key == "endurance_analyzer" and number:
                counters[key + "_unit"] = "years"
            return
        counters[key] = value

    # -- the contract -------------------------------------------------------------
    def parse_lines(self, lines: list[str]) -> list[IsdctDevice]:
        out: list[IsdctDevice] = []
        try:
            for raw in lines:
                self.line_number += 1
                line = raw.strip()
                if not line:
                    continue
                if len(line) >= 3 and line[:2] == "- " and line[-2:] == " -":
                    inner = line[2:-2].strip()
                    if _REGISTER_ID.fullmatch(inner):
                        if self._serial is None:
                            raise self.error("SMART register before any device title", line)
                        self._end_register()
                        self._register = {}
                        self._register_id = inner
                        continue
                    if not inner:
                        raise self.error("empty title line", line)
                    device = self._end_device()
                    if device is not None:
                        out.append(device)
                    self._serial = inner.rsplit(None, 1)[-1]
                    self._counters = {} if self.nodename is None else {"node_name": self.nodename}
                    continue
                key, sep, text = line.partition(":")
                if not sep or not key.strip():
                    raise self.error("expected a title '- ... -' or 'Key : Value'", line)
                if self._serial is None:
                    raise self.error("counter before any device title", line)
                self._add(normalize_key(key), text.strip())
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out

    def finish(self) -> list[IsdctDevice]:
        device = self._end_device()
        return [] if device is None else [device]
