"""The sans-IO ISDCT parser: key normalisation, typing, SMART registers, chunking, errors."""

from __future__ import annotations

import pytest
from cray_isdct_data import isdct_texts
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.isdct import (
    IsdctDevice,
    IsdctParser,
    normalize_key,
    recast_value,
    rekey_smart_buffer,
)

SERIAL = "CVF0DEB55CBA6FFE2C-2"
TEXTS = isdct_texts(SERIAL, "/dev/nvme1n1", index=1)


def parse(text: str, nodename: str | None = None, source: str = "f.txt") -> list[IsdctDevice]:
    return parse_all(IsdctParser(source=source, nodename=nodename), text.encode())


@pytest.mark.parametrize(
    ("key", "normalized"),
    [
        ("PCILinkGenSpeed", "pci_link_gen_speed"),
        ("EndToEndDataProtCapabilities", "end_to_end_data_prot_capabilities"),
        ("Temperature - Celsius", "temperature_celsius"),
        ("Media is in a read-only mode", "media_is_in_a_readonly_mode"),
        ("IntelGen3SATA", "intel_gen3_sata"),
        ("IntelNVMe", "intelnvme"),
        ("NVMeControllerID", "nvme_controller_id"),
        ("SMBusAddress", "smbus_address"),
        ("IOCompletionQueuesRequested", "io_completion_queues_requested"),
        ("NumLBAFormats", "num_lba_formats"),
        ("SpecifiedPCBMaxOperatingTemp", "specified_pcb_max_operating_temp"),
        (
            "SMARTHealthCriticalWarningsConfiguration",
            "smart_health_critical_warnings_configuration",
        ),
        ("End-to-End Error Detection Count", "endto_end_error_detection_count"),
        ("Timed Workload - Host Read/Write Ratio", "timed_workload_host_read/_write_ratio"),
        ("  Power On Hours ", "power_on_hours"),
        ("ID", "id"),
        ("TCGSupported", "tcg_supported"),
    ],
)
def test_normalize_key(key: str, normalized: str) -> None:
    assert normalize_key(key) == normalized


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100),
        ("2628.15", 2628.15),
        ("0x014C0D3B", 21761339),
        ("8B1B0130", 2333802800),
        ("C7", 199),
        ("0x0", 0),
        ("True", True),
        ("False", False),
        ("8DV10170", "8DV10170"),
        ("28 Celsius", "28 Celsius"),
        ("", ""),
        ("Pass", "Pass"),
    ],
)
def test_recast_value(text: str, value: object) -> None:
    result = recast_value(text)
    assert result == value and type(result) is type(value)


def test_rekey_smart_buffer() -> None:
    buffer = {"action": "Pass", "description": "CRC Error Count", "id": 199, "raw": 0}
    assert rekey_smart_buffer(buffer) == {
        "smart_crc_error_count_action": "Pass",
        "smart_crc_error_count_description": "CRC Error Count",
        "smart_crc_error_count_id": 199,
        "smart_crc_error_count_raw": 0,
    }
    assert rekey_smart_buffer({"raw": 5}, "AB") == {"smart_ab_raw": 5}


def test_drive_info() -> None:
    [device] = parse(TEXTS["drive_info"], nodename="nid00842")
    assert device.serial == SERIAL
    counters = device.counters
    assert list(counters)[:3] == ["node_name", "bootloader", "device_path"]
    assert counters["node_name"] == "nid00842"
    assert counters["bootloader"] == 2333802800
    assert counters["device_path"] == "/dev/nvme1n1"
    assert counters["error_string"] == ""
    assert counters["firmware"] == "8DV10170"
    assert counters["firmware_update_available"] == (
        "Please contact your Intel representative: no update."
    )  # a value keeps its colons
    assert counters["intel"] is True and counters["intel_gen3_sata"] is False
    assert counters["power_governor_mode"] == "0 40W for 8 Lane Slot power"
    # the unit is split off, and a value with a unit is not a number (reference behaviour)
    assert counters["endurance_analyzer"] is None
    assert counters["endurance_analyzer_unit"] == "years"
    assert len(counters) == 22


def test_sensor_units() -> None:
    [device] = parse(TEXTS["sensor_info"])
    counters = device.counters
    assert "node_name" not in counters
    assert counters["temperature"] == "28 Celsius"
    assert counters["temperature_unit"] == "Celsius"
    assert counters["endurance_analyzer"] == 2628.15  # bare number: kept, unit "years"
    assert counters["endurance_analyzer_unit"] == "years"
    assert counters["media_errors"] == 0 and counters["power_on_hours"] == 0x40CD
    assert list(counters) == [
        "available_spare", "crc_error_count", "endurance_analyzer", "endurance_analyzer_unit",
        "media_errors", "power_on_hours", "temperature", "temperature_unit",
        "thermal_throttle_status",
    ]  # fmt: skip


def test_smart_attributes() -> None:
    [device] = parse(TEXTS["smart_info"])
    counters = device.counters
    assert counters["smart_crc_error_count_id"] == 199
    assert counters["smart_crc_error_count_raw"] == 1
    assert counters["smart_crc_error_count_description"] == "CRC Error Count"
    assert counters["smart_timed_workload_host_read/_write_ratio_raw"] == 37
    assert counters["smart_thermal_throttle_status_throttle_status"] == "0 %"
    assert "smart_thermal_throttle_status_throttle_status_unit" not in counters
    assert counters["smart_thermal_throttle_status_throttling_event_count"] == 0
    assert counters["smart_nand_bytes_written_raw"] == 3141121
    assert counters["smart_host_bytes_written_raw"] == 1416445
    assert len(counters) == 5 * 5 + 2


def test_smart_health() -> None:
    [device] = parse(TEXTS["smarthealthinfo"])
    assert device.counters == {
        "media_is_in_a_readonly_mode": False,
        "temperature_celsius": 28,
        "critical_warnings": 0,
        "number_of_error_info_log_entries": 0,
    }


def test_several_devices_in_one_output() -> None:
    other = isdct_texts("CVF84679515755866C-1", "/dev/nvme0n1")["performance_info"]
    devices = parse(TEXTS["performance_info"] + other)
    assert [d.serial for d in devices] == [SERIAL, "CVF84679515755866C-1"]
    assert devices[0].counters["data_units_read"] == 0x03443046 + 1_000_000
    assert devices[1].counters["data_units_read"] == 0x03443046


def test_empty_input_gives_nothing() -> None:
    assert parse("") == []
    assert parse("\n\n  \n") == []


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("\nBootloader : 8B\n", 2, "counter before any device title"),
        ("\n- AB -\nRaw : 0\n", 2, "SMART register before any device title"),
        (f"\n- Intel SSD {SERIAL} -\n\nnot a counter\n", 4, "expected a title"),
        (f"- Intel SSD {SERIAL} -\n : 5\n", 2, "expected a title"),
    ],
)
def test_errors_name_source_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(text, source="nid1/ssd0.txt")
    assert caught.value.source == "nid1/ssd0.txt"
    assert caught.value.line_number == line
    assert message in str(caught.value)


def test_error_keeps_devices_completed_before_it() -> None:
    text = TEXTS["performance_info"] + isdct_texts("CVFX-2", "/dev/x")["sensor_info"] + "junk\n"
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert [d.serial for d in caught.value.records] == [SERIAL]  # type: ignore[attr-defined]


ALL_TEXT = "".join(TEXTS.values()).encode()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_chunking_gives_the_same_records(data: st.DataObject) -> None:
    expected = parse_all(IsdctParser(nodename="nid7"), ALL_TEXT)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ALL_TEXT)), max_size=15)))
    parser = IsdctParser(nodename="nid7")
    records: list[IsdctDevice] = []
    start = 0
    for cut in [*cuts, len(ALL_TEXT)]:
        records.extend(parser.feed(ALL_TEXT[start:cut]))
        start = cut
    records.extend(parser.close())
    assert records == expected
    assert len(records) == 5 and {r.serial for r in records} == {SERIAL}


def test_byte_by_byte_equals_one_chunk() -> None:
    parser = IsdctParser()
    records = [r for i in range(len(ALL_TEXT)) for r in parser.feed(ALL_TEXT[i : i + 1])]
    records += parser.close()
    assert records == parse_all(IsdctParser(), ALL_TEXT)
