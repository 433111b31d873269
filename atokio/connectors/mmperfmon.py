"""Connect to GPFS ``mmperfmon query`` outputs (``tokio.connectors.mmperfmon``).

:class:`Mmperfmon` is a dict of the form (docs/formats.md#gpfs-mmperfmon)::

    {epoch_int: {"<host>": {"<metric>": value,                       # no instance
                            "<metric>": {"<instance>": value, ...},   # with instance
                           }, ...}, ...}

for example ``{1547229600: {"ngfsv468.nersc.gov": {"cpu_user": 0.2,
"mem_total_bytes": 32894877696.0, "net_r_bytes": {"lo": 1740.8}}}}``.  A metric
whose values carry a unit (``31371.0 MB``) gets the suffix ``_bytes`` and its
value in bytes (binary units: :func:`value_unit_to_bytes`); ``null`` samples
are left out.  Time stamps are epoch seconds of the server's local time
stamps, which mark the *end* of each sampling interval.

Inputs (:meth:`Mmperfmon.load`): a text output (plain or gzip), a directory
tree or a ``.tar``/``.tgz`` bundle of such outputs (every member is parsed,
each with a fresh parser, and merged), or a JSON cache written by
:meth:`Mmperfmon.save_cache` (its string keys become ints again).  Loading
data already present changes nothing.  The text is streamed through
:class:`atokio.parsers.mmperfmon.MmperfmonParser`; bad text raises
:class:`~atokio.parsers.base.ParseError` naming the file and line, after what
was read before it has been merged.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import sys
import tarfile
from collections.abc import Iterable
from typing import IO, Any

import pandas

from atokio.collectors.files import open_binary
from atokio.collectors.mmperfmon import load_tar_bundle
from atokio.common import atomic_output
from atokio.connectors.common import SubprocessOutputDict, gc_paused, walk_file_collection
from atokio.parsers.base import ParseError
from atokio.parsers.mmperfmon import (
    MmperfmonParser,
    Sample,
    get_col_pos,
    merge_samples,
    value_unit_to_bytes,
)

__all__ = ["Mmperfmon", "get_col_pos", "value_unit_to_bytes"]

_CHUNK = 1 << 20


def _first_byte(handle: IO[bytes]) -> bytes:
    """The first non-whitespace byte of a seekable stream (it is rewound)."""
    head = handle.read(4096)
    handle.seek(0)
    stripped = head.lstrip()
    return stripped[:1]


class Mmperfmon(SubprocessOutputDict):
    """The samples of one or more ``mmperfmon query`` outputs; see the module docstring.

    ``Mmperfmon(cache_file=None, from_string=None, silent_errors=False)``:
    ``cache_file`` is loaded with :meth:`load` (a text output, directory,
    tar bundle or JSON cache), ``from_string`` with :meth:`load_str`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load()

    def __repr__(self) -> str:
        """JSON of self (not mmperfmon text: loading it lost the table layout)."""
        return self.to_json()

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_file(cls, cache_file: str) -> Mmperfmon:
        """Instantiate from a text output, directory, tar bundle or JSON cache."""
        return cls(cache_file=cache_file)

    @classmethod
    def from_str(cls, input_str: str | bytes) -> Mmperfmon:
        """Instantiate from the text of an ``mmperfmon query`` output (or its JSON)."""
        return cls(from_string=input_str)

    # -- SubprocessOutputDict hooks -------------------------------------------------
    def _make_parser(self) -> MmperfmonParser:
        return MmperfmonParser()

    def _apply_records(self, records: list[Sample]) -> None:
        merge_samples(records, self)

    # -- loading ------------------------------------------------------------------------
    def load(self, cache_file: str | None = None) -> None:
        """Load a directory or tar bundle (:meth:`load_multiple`), else one file (:meth:`load_cache`).

        Without ``cache_file`` this loads ``self.cache_file``, or else the
        ``from_string`` text given at construction.
        """
        path = cache_file or self.cache_file
        if path:
            if os.path.isdir(path) or (os.path.isfile(path) and _is_tarfile(path)):
                self.load_multiple(path)
            else:
                self.load_cache(path)
        elif self.from_string is not None:
            self.load_str(self.from_string)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Load one file: the JSON of :meth:`save_cache` or native text (plain or gzip).

        The format is told by the first non-blank byte (``{`` is JSON).
        """
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        with open_binary(path) as handle, gc_paused():
            self._load_stream(handle, str(path))

    def load_multiple(self, input_file: str) -> None:
        """Load every output in a directory tree or a ``.tar``/``.tgz`` bundle.

        Each member is one ``mmperfmon`` invocation; members named ``*.gz``
        are decompressed.  Members are parsed with fresh parser state (legend,
        column extents, row numbers) and merged.  An uncompressed tar of more
        than a few MB is parsed by the worker processes
        (:func:`atokio.collectors.mmperfmon.load_tar_bundle`); the result is
        the same.
        """
        stamps: dict[str, int] = {}  # the outputs' time stamps repeat: convert each once
        with gc_paused():
            if os.path.isfile(input_file) and load_tar_bundle(
                input_file, self, f"{input_file}:", stamps=stamps
            ):
                return
            for name, _mtime, handle in walk_file_collection(input_file):
                source = (
                    name
                    if os.path.isabs(name) or os.path.isdir(input_file)
                    else f"{input_file}:{name}"
                )
                if name.endswith(".gz"):
                    with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                        self._load_text(unzipped, source, stamps)  # type: ignore[arg-type]
                else:
                    self._load_text(handle, source, stamps)

    def load_str(self, input_str: str | bytes) -> None:
        """Parse the text of an ``mmperfmon query`` output (a JSON cache's text is accepted too)."""
        data = input_str.encode() if isinstance(input_str, str) else input_str
        if data.lstrip()[:1] == b"{":
            self._load_json(json.loads(data))
            return
        parser = MmperfmonParser("<string>")
        view = memoryview(data)
        with gc_paused():
            try:
                for start in range(0, len(data), _CHUNK):
                    self._apply_records(parser.feed(bytes(view[start : start + _CHUNK])))
                self._apply_records(parser.close())
            except ParseError as error:
                self._apply_records(error.records)  # type: ignore[arg-type]
                raise

    def _load_stream(self, handle: IO[bytes], source: str) -> None:
        try:
            first = _first_byte(handle)
        except (OSError, ValueError):  # not seekable
            first = b""
        if first == b"{":
            self._load_json(json.loads(handle.read()))
        else:
            self._load_text(handle, source)

    def _load_text(
        self, handle: IO[bytes], source: str, stamps: dict[str, int] | None = None
    ) -> None:
        parser = MmperfmonParser(source, stamps=stamps)
        try:
            while chunk := handle.read(_CHUNK):
                self._apply_records(parser.feed(chunk))
            self._apply_records(parser.close())
        except ParseError as error:
            self._apply_records(error.records)  # type: ignore[arg-type]
            raise

    def _load_json(self, loaded: Any) -> None:
        if not isinstance(loaded, dict):
            raise ValueError("an mmperfmon JSON cache is an object keyed by epoch seconds")
        merge_samples((Sample(int(stamp), hosts) for stamp, hosts in loaded.items()), self)

    # -- output -------------------------------------------------------------------------
    def to_json(self, **kwargs: Any) -> str:
        """JSON text of self (epoch keys become strings); ``kwargs`` go to ``json.dumps``."""
        return json.dumps(self, **kwargs)

    def save_cache(self, output_file: str | None = None, **kwargs: Any) -> None:
        """Write self as compact JSON to ``output_file`` (``None`` = stdout, no newline)."""
        text = self.to_json(**kwargs)
        if output_file is None:
            sys.stdout.write(text)
        else:
            with atomic_output(output_file) as output:
                output.write(text)

    def to_dataframe(
        self, by_host: str | None = None, by_metric: str | None = None
    ) -> pandas.DataFrame:
        """A DataFrame of one host (:meth:`to_dataframe_by_host`) or one metric (:meth:`to_dataframe_by_metric`).

        Exactly one of ``by_host`` and ``by_metric`` must be given
        (``RuntimeError`` otherwise).
        """
        if (by_host is None) == (by_metric is None):
            raise RuntimeError("give exactly one of by_host and by_metric")
        if by_host is not None:
            return self.to_dataframe_by_host(by_host)
        assert by_metric is not None
        return self.to_dataframe_by_metric(by_metric)

    def to_dataframe_by_host(self, host: str) -> pandas.DataFrame:
        """All metrics of ``host``: columns are metrics (``metric:instance`` for instance metrics).

        The index, named ``timestamp``, holds naive local datetimes, in load order.
        """
        stamps: list[int] = []
        rows: list[dict[str, Any]] = []
        for stamp, hosts in self.items():
            metrics = hosts.get(host)
            if metrics is None:
                continue
            row: dict[str, Any] = {}
            for key, value in metrics.items():
                if isinstance(value, dict):
                    for instance, sample in value.items():
                        row[f"{key}:{instance}"] = sample
                else:
                    row[key] = value
            stamps.append(stamp)
            rows.append(row)
        return _frame(stamps, rows)

    def to_dataframe_by_metric(self, metric: str) -> pandas.DataFrame:
        """One metric on every host: columns are hosts (``host:instance`` for instance metrics).

        The index, named ``timestamp``, holds naive local datetimes, in load order.
        """
        stamps: list[int] = []
        rows: list[dict[str, Any]] = []
        for stamp, hosts in self.items():
            row: dict[str, Any] = {}
            for host, metrics in hosts.items():
                value = metrics.get(metric)
                if value is None:
                    continue
                if isinstance(value, dict):
                    for instance, sample in value.items():
                        row[f"{host}:{instance}"] = sample
                else:
                    row[host] = value
            if row:
                stamps.append(stamp)
                rows.append(row)
        return _frame(stamps, rows)


def _frame(stamps: Iterable[int], rows: list[dict[str, Any]]) -> pandas.DataFrame:
    index = pandas.DatetimeIndex(
        [datetime.datetime.fromtimestamp(stamp) for stamp in stamps], name="timestamp"
    )
    return pandas.DataFrame(rows, index=index)


def _is_tarfile(path: str) -> bool:
    """Whether ``path`` is a tar bundle (plain or compressed); a 0-byte file is not."""
    if os.path.getsize(path) == 0:
        return False
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, tarfile.TarError):
        return False
