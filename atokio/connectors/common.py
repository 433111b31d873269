"""Base classes shared by the connectors (``tokio.connectors.common``).

* :class:`CacheableDict` — a dict that loads itself from a JSON cache or from
  the native format (subclasses give :meth:`CacheableDict.load_native`) and
  saves itself as JSON.
* :class:`SubprocessOutputDict` / :class:`SubprocessOutputList` — a dict (list)
  filled from a command's stdout, from a saved copy of that output
  (``cache_file``) or from a string (``from_string``).  A subclass sets
  ``self.subprocess_cmd`` and provides :meth:`~SubprocessOutputDict._make_parser`
  (a sans-IO parser) and :meth:`~SubprocessOutputDict._apply_records` (fill
  self from the records).  The command's stdout is streamed into the parser
  through :func:`atokio.collectors.subprocess.run_command`: nothing is read
  whole.  A non-zero exit status or bad output is a warning, as in the
  reference, and whatever was parsed is kept (``silent_errors=True`` logs these
  at debug level instead).
* :class:`_TextLog` — the loading that the text-log connectors share
  (``hpss.FtpLog``, ``hpss.HsiLog``, ``hpss.HpssDailyReport``,
  ``globuslogs.GlobusLog``): a log file or string streamed through a sans-IO
  parser, the records read before a bad line kept.
* :func:`walk_file_collection` — every file of a directory tree or tar bundle.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import tarfile
import warnings
from collections.abc import Iterable, Iterator
from typing import IO, Any, TextIO

from atokio.collectors.files import open_binary
from atokio.collectors.subprocess import run_command
from atokio.collectors.sync import run_sync
from atokio.common import atomic_output
from atokio.parsers.base import ParseError, Parser, parse_all

__all__ = [
    "CacheableDict",
    "gc_paused",
    "SubprocessOutputDict",
    "SubprocessOutputList",
    "walk_file_collection",
]

logger = logging.getLogger(__name__)


class CacheableDict(dict):
    """A dict that can be cached as JSON; ``load_native`` parses the source format."""

    def __init__(self, input_file: str | None = None) -> None:
        super().__init__()
        self.input_file = input_file
        if input_file is not None:
            self.load()

    def load(self, input_file: str | None = None) -> None:
        """Load a JSON cache, or the native format when the file is not JSON."""
        path = input_file or self.input_file
        try:
            self.load_json(path)
        except (ValueError, UnicodeDecodeError):
            self.load_native(path)

    def load_json(self, input_file: str | None = None) -> None:
        """Load the JSON written by :meth:`save_cache`."""
        path = input_file or self.input_file
        if path is None:
            raise ValueError("no input file given")
        with open_binary(path) as handle:
            self.update(json.loads(handle.read()))

    def load_native(self, input_file: str | None = None) -> None:
        """Parse the native format (subclasses override this)."""
        raise NotImplementedError(f"{type(self).__name__} has no native format loader")

    def save_cache(self, output_file: str | None = None, **kwargs: Any) -> None:
        """Write self as JSON to ``output_file`` (``None`` = stdout); kwargs go to json.dumps."""
        if output_file is None:
            self._save_cache(sys.stdout, **kwargs)
        else:
            with atomic_output(output_file) as output:
                self._save_cache(output, **kwargs)

    def _save_cache(self, output: TextIO, **kwargs: Any) -> None:
        output.write(json.dumps(self, **kwargs))


class _SubprocessOutput:
    """What the dict and list forms share: load from a command, a saved copy or a string."""

    subprocess_cmd: list[str]

    def __init__(
        self,
        cache_file: str | None = None,
        from_string: str | None = None,
        silent_errors: bool = False,
    ) -> None:
        self.cache_file = cache_file
        self.from_string = from_string
        self.silent_errors = silent_errors
        self.subprocess_cmd = []

    # -- hooks for subclasses --------------------------------------------------
    def _make_parser(self) -> Parser[Any]:
        raise NotImplementedError(f"{type(self).__name__} must provide _make_parser()")

    def _apply_records(self, records: list[Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must provide _apply_records()")

    # -- loading -----------------------------------------------------------------
    def load(self, cache_file: str | None = None) -> None:
        """Load from the cache file, the string, or by running the command."""
        if cache_file or self.cache_file:
            self.load_cache(cache_file)
        elif self.from_string is not None:
            self.load_str(self.from_string)
        elif self.subprocess_cmd:
            self._load_subprocess()

    def _report(self, message: str, *args: Any) -> None:
        (logger.debug if self.silent_errors else logger.warning)(message, *args)

    def _load_subprocess(self, *args: str) -> None:
        """Run ``subprocess_cmd + args`` and parse its stdout as it streams."""
        argv = [*self.subprocess_cmd, *args]
        result = run_sync(run_command, argv, self._make_parser())
        if result.returncode != 0:
            tail = result.stderr.strip().splitlines()[-2:]
            self._report("%s exited with status %s%s", " ".join(argv), result.returncode,
                         (": " + " / ".join(tail)) if tail else "")  # fmt: skip
            if not self.silent_errors:  # a Python warning too, as pytokio issued
                warnings.warn(
                    f"{argv} returned nonzero exit code ({result.returncode})", stacklevel=2
                )
        if result.error is not None:
            self._report("%s", result.error)
        self._apply_records(result.records)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Parse a saved copy of the command's output (plain or gzip)."""
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        parser = self._make_parser()
        records: list[Any] = []
        with open_binary(path) as handle:
            while chunk := handle.read(1 << 20):
                records.extend(parser.feed(chunk))
        try:
            records.extend(parser.close())
        finally:
            self._apply_records(records)

    def save_cache(self, output_file: str | None = None) -> None:
        """Write self as JSON (``None`` = stdout)."""
        text = json.dumps(self)
        if output_file is None:
            sys.stdout.write(text)
        else:
            with atomic_output(output_file) as output:
                output.write(text)

    def load_str(self, input_str: str | bytes) -> None:
        """Parse the command's output given as a string."""
        data = input_str.encode() if isinstance(input_str, str) else input_str
        try:
            records = parse_all(self._make_parser(), data)
        except ParseError as error:
            self._report("%s", error)
            return
        self._apply_records(records)


class SubprocessOutputDict(_SubprocessOutput, dict):
    """A dict filled from a command's output (see the module docstring)."""

    def __init__(
        self,
        cache_file: str | None = None,
        from_string: str | None = None,
        silent_errors: bool = False,
    ) -> None:
        dict.__init__(self)
        _SubprocessOutput.__init__(self, cache_file, from_string, silent_errors)


class SubprocessOutputList(_SubprocessOutput, list):
    """A list filled from a command's output (see the module docstring)."""

    def __init__(
        self,
        cache_file: str | None = None,
        from_string: str | None = None,
        silent_errors: bool = False,
    ) -> None:
        list.__init__(self)
        _SubprocessOutput.__init__(self, cache_file, from_string, silent_errors)


#: Read size of text logs: small enough for a batch of lines to stay in the CPU caches.
_TEXT_CHUNK = 1 << 18


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a log is loaded (restored afterwards).

    Loading creates millions of small dicts and no reference cycles; left on,
    the collector would traverse the growing result again and again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _TextDump:
    """A text cache: ``repr()`` and ``save_cache()`` give the text of ``_text()``.

    Put before the dict base class, so that ``save_cache`` writes this text
    rather than JSON.
    """

    def _text(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._text()

    def _save_cache(self, output: TextIO) -> None:
        """Write the text into ``output``."""
        output.write(self._text())

    def save_cache(self, output_file: str | None = None) -> None:
        """Write the text to ``output_file`` (``None`` = stdout)."""
        if output_file is None:
            self._save_cache(sys.stdout)
        else:
            with atomic_output(output_file) as output:
                self._save_cache(output)


class _TextLog:
    """Loading shared by the text-log connectors: stream a file or a string into a parser.

    The host class provides ``_make_parser(source)``, ``_apply_records(records)``
    and ``_apply_json(data)``; ``silent_errors`` comes from the subprocess-output
    base class.  A file is read in chunks (plain or gzip; a file holding JSON
    is a cache that ``save_cache()`` wrote); when the parser raises
    :class:`~atokio.parsers.base.ParseError`, the records read before the bad
    line are stored first, then the error is raised (logged at debug level
    with ``silent_errors``).  Messages go to the logger of the host class's
    module.
    """

    cache_file: str | None
    silent_errors: bool

    def _make_parser(self, source: str = "<string>") -> Parser[Any]:
        raise NotImplementedError

    def _apply_records(self, records: list[Any]) -> None:
        raise NotImplementedError

    def _apply_json(self, data: Any) -> None:
        raise NotImplementedError

    def _parse_chunks(self, chunks: Iterable[bytes], source: str) -> None:
        parser = self._make_parser(source)
        records: list[Any] = []
        try:
            with gc_paused():
                for chunk in chunks:
                    records.extend(parser.feed(chunk))
                records.extend(parser.close())
        except ParseError as error:
            records.extend(error.records)
            self._apply_records(records)
            if not self.silent_errors:
                raise
            logging.getLogger(type(self).__module__).debug("%s", error)
            return
        skipped = getattr(parser, "skipped", 0)
        if skipped:
            logging.getLogger(type(self).__module__).debug(
                "%s: skipped %d lines that are not transfer records", source, skipped
            )
        self._apply_records(records)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Parse a log file (plain or gzip), or the JSON that ``save_cache`` wrote."""
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        with open_binary(path) as handle:
            first = handle.read(_TEXT_CHUNK)
            if first.lstrip()[:1] in (b"{", b"["):
                self._apply_json(json.loads(first + handle.read()))
                return

            def chunks() -> Iterator[bytes]:
                yield first
                while chunk := handle.read(_TEXT_CHUNK):
                    yield chunk

            self._parse_chunks(chunks(), str(path))

    def load_str(self, input_str: str | bytes) -> None:
        """Parse log text given as a string."""
        data = input_str.encode() if isinstance(input_str, str) else input_str
        view = memoryview(data)
        self._parse_chunks(
            (bytes(view[i : i + _TEXT_CHUNK]) for i in range(0, len(data), _TEXT_CHUNK)), "<string>"
        )


def walk_file_collection(input_source: str) -> Iterator[tuple[str, float, IO[bytes]]]:
    """Every regular file of a directory tree or tar bundle (``.tar``, ``.tgz``, ``.tar.gz``).

    Yields ``(path, mtime, open binary handle)``: for a directory the file's
    full path and modification time; for a tar member its name inside the
    bundle and its recorded mtime.  A handle is valid until the next item.
    """
    if os.path.isdir(input_source):
        for root, dirs, files in os.walk(input_source):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                if not os.path.isfile(path):
                    continue
                with open(path, "rb") as handle:
                    yield path, os.path.getmtime(path), handle
        return
    with tarfile.open(input_source, "r:*") as bundle:
        for member in bundle:
            if not member.isfile():
                continue
            extracted = bundle.extractfile(member)
            if extracted is None:
                continue
            with extracted:
                yield member.name, float(member.mtime), extracted
