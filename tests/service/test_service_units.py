"""The report service's small parts, in process: settings, times, uploads, formatting, the command."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from atokio.cli.__main__ import usage
from atokio.service.api import parse_time
from atokio.service.app import ServiceError
from atokio.service.pages import format_value
from atokio.service.settings import (
    DEFAULT_BODY_LIMIT,
    ServiceSettings,
    parse_limits,
    parse_size,
)
from atokio.service.uploads import BadUpload, extract_form_file, safe_name


@pytest.mark.parametrize(
    ("text", "size"),
    [("1048576", 1 << 20), ("64K", 65536), ("512M", 512 << 20), ("1G", 1 << 30), ("2GiB", 2 << 30)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects_words() -> None:
    with pytest.raises(ValueError, match="body limit 'lots' is not a size"):
        parse_size("lots")


def test_parse_limits() -> None:
    assert parse_limits("darshan=2, tts=8") == {"darshan": 2, "tts": 8}
    with pytest.raises(ValueError, match="NAME one of darshan, tts, jobinfo, plots"):
        parse_limits("disk=2")
    with pytest.raises(ValueError, match="'x' is not a whole number"):
        parse_limits("tts=x")
    with pytest.raises(ValueError, match="at least 1"):
        parse_limits("tts=0")


def test_settings_from_env() -> None:
    default = ServiceSettings.from_env({})
    assert (default.token, default.body_limit) == (None, DEFAULT_BODY_LIMIT)
    assert DEFAULT_BODY_LIMIT == 1 << 30
    settings = ServiceSettings.from_env(
        {
            "ATOKIO_SERVICE_TOKEN": "t",
            "ATOKIO_SERVICE_BODY_LIMIT": "10M",
            "ATOKIO_SERVICE_LIMITS": "plots=1",
        }
    )
    assert (settings.token, settings.body_limit, settings.limits["plots"]) == ("t", 10 << 20, 1)
    assert settings.limits["tts"] == 4


def test_parse_time_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    naive = datetime.datetime(2018, 1, 28, 0, 1)
    assert parse_time("2018-01-28T00:01:00", "start") == naive
    assert parse_time("2018-01-28 00:01:00", "start") == naive
    assert parse_time(str(naive.timestamp()), "start") == naive
    aware = datetime.datetime(2018, 1, 28, 8, 1, tzinfo=datetime.UTC)
    assert parse_time("2018-01-28T08:01:00Z", "start") == aware.astimezone().replace(tzinfo=None)


@pytest.mark.parametrize(
    ("text", "error"), [(None, "missing end"), ("soon", "bad end"), ("nan", "bad end")]
)
def test_parse_time_errors(text: str | None, error: str) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_time(text, "end")
    assert (caught.value.status, caught.value.error) == (400, error)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("sample.darshan", "sample.darshan"),
        ("../../etc/passwd", "passwd"),
        ("C:\\logs\\a b.darshan", "a_b.darshan"),
        ("..", "upload.darshan"),
        (None, "upload.darshan"),
    ],
)
def test_safe_name(name: str | None, safe: str) -> None:
    assert safe_name(name) == safe


def form_body(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ") -> bytes:
    out = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


def test_extract_form_file(tmp_path: Path) -> None:
    # a prefix of the delimiter inside the data is data (a client never sends the whole one)
    data = bytes(range(256)) * 50 + b"\r\n--Xy not the end\r\n"
    body = tmp_path / "body"
    body.write_bytes(form_body([("note", None, b"hello"), ("log", "my log.darshan", data)]))
    path = extract_form_file(str(body), "multipart/form-data; boundary=XyZ", str(tmp_path))
    assert Path(path).name == "my_log.darshan"
    assert Path(path).read_bytes() == data


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"x", "application/json", "expected a multipart/form-data upload, not application/json"),
        (b"x", "multipart/form-data", "the multipart/form-data upload has no boundary"),
        (b"", "multipart/form-data; boundary=XyZ", "the upload is empty"),
        (b"--XyZ\r\nContent-Disposition: form-data; name=\"log\"; filename=\"a\"\r\n\r\nabc",
         "multipart/form-data; boundary=XyZ", "the multipart/form-data upload is cut short"),
    ],
)  # fmt: skip
def test_extract_form_file_errors(
    tmp_path: Path, content: bytes, content_type: str, message: str
) -> None:
    body = tmp_path / "body"
    body.write_bytes(content)
    with pytest.raises(BadUpload, match=message):
        extract_form_file(str(body), content_type, str(tmp_path))


@pytest.mark.parametrize(
    ("value", "text"),
    [(2048, "2048"), (2.0, "2"), (24535.281934, "24535.3"), (1.5e-7, "1.5e-07"), ("posix", "posix"),
     (None, ""), (True, "True"), (2199023259968.0, "2199023259968")],
)  # fmt: skip
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_atokio_lists_and_runs_serve() -> None:
    assert "  serve                    Serve job I/O reports over HTTP" in usage()
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.__main__", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("usage: atokio serve [-h] [--host HOST] [--port PORT]")
    assert "--loop {asyncio,trio}" in done.stdout


def test_serve_rejects_a_bad_limit() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.serve", "--limits", "disk=1", "--port", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "source limit 'disk=1': write NAME=N" in done.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    from atokio.service.server import _is_loopback

    assert _is_loopback(host) is loopback
