"""Keeping credentials out of reprs, log lines and error messages.

:func:`redact_url` hides the password of a URL's user information and the
values of query parameters that carry credentials (``token``, ``api_key``,
``password``, ...); :func:`redact_options` does the same for keyword options
of client libraries (``basic_auth``, ``api_key``, an ``Authorization`` header,
...).  Use them wherever a URL or client options reach a message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "HIDDEN",
    "RedactingFilter",
    "guard_library_logs",
    "redact_options",
    "redact_text",
    "redact_url",
]

#: What a secret is replaced with.
HIDDEN = "***"

#: Names (of query parameters, options, headers) whose values are credentials.
_SECRET_NAME = re.compile(
    r"pass|secret|token|api[-_]?key|apikey|auth|credential|signature|session|cookie|private",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """``url`` with its password and credential-like query values replaced by ``***``.

    ``https://user:pw@host/x?token=abc&begin=1`` ->
    ``https://user:***@host/x?token=***&begin=1``.  Text that is not a URL is
    returned as it is.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{HIDDEN}@{host}" if colon else f"{userinfo}@{host}"
    query = parts.query
    if query and _SECRET_NAME.search(query):
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, HIDDEN if _SECRET_NAME.search(k) else v) for k, v in pairs], safe="*"
        )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with the values of credential-like keys (and headers) replaced by ``***``."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if _SECRET_NAME.search(key):
            out[key] = HIDDEN
        elif isinstance(value, Mapping):
            out[key] = redact_options(value)
        elif isinstance(value, str) and "://" in value:
            out[key] = redact_url(value)
        else:
            out[key] = value
    return out


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda found: redact_url(found.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that passes each message through :func:`redact_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


#: Loggers of the client libraries that write request URLs into their messages.
LIBRARY_LOGGERS = ("httpx", "httpcore", "elastic_transport", "elastic_transport.transport")


def guard_library_logs() -> None:
    """Redact URLs in what the HTTP client libraries log (done once; idempotent)."""
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in library.filters):
            library.addFilter(RedactingFilter())
