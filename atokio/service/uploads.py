"""Request bodies: spooled to disk within the size limit, and file fields of HTML forms.

A Darshan log can be large, so a body is never held in memory: it is
written to a file in a private temporary folder as it arrives, and the
request fails with 413 as soon as it passes the limit.  An HTML form
upload (``multipart/form-data``) is spooled the same way, then the file
field's bytes are copied out of the spooled body (:func:`extract_form_file`).
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import Message

__all__ = [
    "BadUpload",
    "BodyTooLarge",
    "extract_form_file",
    "safe_name",
    "spool_body",
    "upload_folder",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


class BodyTooLarge(ValueError):
    """The request body is larger than the service accepts."""


class BadUpload(ValueError):
    """The request body is not what the route expects."""


def safe_name(filename: str | None, default: str = "upload.darshan") -> str:
    """A file name safe to create in the upload folder (basename only, no odd characters)."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = _UNSAFE.sub("_", name).lstrip(".")
    return name[:200] or default


@asynccontextmanager
async def upload_folder() -> AsyncIterator[str]:
    """A private temporary folder for one request, removed afterwards in a worker thread.

    (Removing a large upload can take a while; the event loop does not wait for it.)
    """
    import anyio

    folder = tempfile.mkdtemp(prefix="atokio-upload-")
    try:
        yield folder
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(shutil.rmtree, folder, True)


#: Bodies up to this size are gathered in memory and written in one go (most Darshan logs).
SPOOL_MEMORY = 1 << 20


def _write_all(path: str, mode: str, pieces: list[bytes]) -> None:
    with open(path, mode) as out:
        out.writelines(pieces)


async def spool_body(chunks: AsyncIterator[bytes], path: str, limit: int) -> int:
    """Write the body ``chunks`` to ``path``; ``BodyTooLarge`` past ``limit`` bytes.

    Up to :data:`SPOOL_MEMORY` bytes are kept in memory and written by one
    worker-thread call at the end; past that, what has come is written and
    the rest follows in pieces of that size.  Every write runs in a worker
    thread: a burst of uploads costs the event loop one hand-off per
    megabyte, not one per network read.
    """
    import anyio

    size = 0
    pending: list[bytes] = []
    pending_size = 0
    mode = "wb"
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(
                f"the request body is larger than the service's limit of {limit} bytes "
                "(set ATOKIO_SERVICE_BODY_LIMIT or atokio serve --body-limit to raise it)"
            )
        if chunk:
            pending.append(chunk)
            pending_size += len(chunk)
        if pending_size >= SPOOL_MEMORY:
            await anyio.to_thread.run_sync(_write_all, path, mode, pending)
            pending, pending_size, mode = [], 0, "ab"
    await anyio.to_thread.run_sync(_write_all, path, mode, pending)
    return size


def _boundary(content_type: str) -> bytes:
    message = Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        raise BadUpload(f"expected a multipart/form-data upload, not {content_type or 'no type'}")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise BadUpload("the multipart/form-data upload has no boundary")
    return boundary.encode("latin-1")


def _part_filename(headers: bytes) -> str | None:
    message = Message()
    for line in headers.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            message[name.strip()] = value.strip()
    if message.get("content-disposition") is None:
        return None
    filename = message.get_param("filename", header="content-disposition")
    return filename if isinstance(filename, str) else None


def extract_form_file(body_path: str, content_type: str, folder: str) -> str:
    """Copy the first file field of a spooled ``multipart/form-data`` body into ``folder``.

    Returns the path of the copy, named after the uploaded file
    (:func:`safe_name`).  Raises :class:`BadUpload` when the body holds no
    file field or is cut short.  Runs in a worker thread (it reads the whole
    body, through a memory map).
    """
    boundary = b"--" + _boundary(content_type)
    with open(body_path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise BadUpload("the upload is empty: choose a Darshan log to send")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as body:
            position = body.find(boundary)
            while position >= 0:
                head_start = position + len(boundary)
                if body[head_start : head_start + 2] == b"--":
                    break  # the closing delimiter
                head_end = body.find(b"\r\n\r\n", head_start)
                if head_end < 0:
                    break
                data_start = head_end + 4
                data_end = body.find(b"\r\n" + boundary, data_start)
                if data_end < 0:
                    raise BadUpload("the multipart/form-data upload is cut short")
                filename = _part_filename(body[head_start:head_end].strip(b"\r\n"))
                if filename is not None:
                    if data_end == data_start:
                        raise BadUpload("the uploaded file is empty: choose a Darshan log to send")
                    target = os.path.join(folder, safe_name(filename))
                    with open(target, "wb") as out:
                        step = 1 << 22
                        for offset in range(data_start, data_end, step):
                            out.write(body[offset : min(offset + step, data_end)])
                    return target
                position = data_end + 2
    raise BadUpload("the upload holds no file: choose a Darshan log to send")
