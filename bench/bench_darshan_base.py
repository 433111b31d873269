#!/usr/bin/env python3
"""Benchmark ``darshan_base``: ``Darshan(log).darshan_parser_base()`` on ~200 MB of ``--base`` text.

``darshan-parser`` runs as a subprocess: there is none here, so a stand-in
(a shell script that ``exec``s ``cat`` on the workload's text, as the
index benchmark's stand-in does) is named by ``$ATOKIO_DARSHAN_PARSER`` and
writes the recorded output to the pipe; the log given is an empty file.  The
documented dict's counters (module, record, rank, counter) are counted
against the manifest's counter lines (less the darshan 3.1 names the dict
adds to 3.5 Lustre records).  Further lines: the async form
(``aread_darshan`` in an event loop), and the saved-text path
(``parse_darshan_text_file``, all cores).  Target: 5x the reference's
48 MB/s, scaled by ``shared/bench/calibrate.py``.

    python bench/bench_darshan_base.py [--inputs DIR] [--repeats 3] [--profile]

``bench_darshan_base_modern.py`` runs the same on the darshan-util 3.5 text.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Any

from _targets import Bench


def _aliases(values: dict[str, Any]) -> int:
    """Lustre counters the dict adds under their darshan 3.1 names (not lines of the text)."""
    if "COMP1_STRIPE_COUNT" not in values:
        return 0
    return sum(1 for name in values if name in _ALIASES or name.startswith("OST_ID_"))


_ALIASES = frozenset({"STRIPE_WIDTH", "STRIPE_SIZE"})


def counters(data: dict[str, Any]) -> int:
    """Counter values in the documented dict (one per counter line of ``--base``)."""
    return sum(
        len(values) - (_aliases(values) if module == "lustre" else 0)
        for module, records in data.get("counters", {}).items()
        for ranks in records.values()
        for values in ranks.values()
    )


def standin(text: str) -> str:
    """A log file whose ``darshan-parser`` (named by the environment) replays ``text``."""
    folder = tempfile.mkdtemp(prefix="bench-darshan-")
    atexit.register(shutil.rmtree, folder, True)
    script = os.path.join(folder, "darshan-parser")
    with open(script, "w") as out:
        out.write(f'#!/bin/sh\nexec cat "{text}"\n')
    os.chmod(script, 0o755)
    os.environ["ATOKIO_DARSHAN_PARSER"] = script
    log = os.path.join(folder, "glock_bench_id1234_1-2-3-4_1.darshan")
    open(log, "wb").close()
    return log


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.darshan import Darshan

    log = standin(entry["files"][0])
    return (lambda: Darshan(log).darshan_parser_base()), counters


def asynchronous(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    import anyio

    from atokio.connectors.darshan import aread_darshan

    log = standin(entry["files"][0])
    return (lambda: anyio.run(aread_darshan, log, ("base",))), counters


def saved_text(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.workers import process_pool, warm_up
    from atokio.connectors.darshan import parse_darshan_text_file

    warm_up()
    process_pool().submit(int).result()
    path = entry["files"][0]
    return (lambda: parse_darshan_text_file(path)), counters


def make_bench(workload: str) -> Bench:
    """The benchmark of ``workload`` (``darshan_base`` or ``darshan_base_modern``)."""
    return Bench(
        workload,
        "Darshan(log).darshan_parser_base()",
        "MB/s",
        48.0,
        5,
        documented,
        extra=[
            ("async: aread_darshan(log, ('base',))", asynchronous),
            ("saved text: parse_darshan_text_file(path), all cores", saved_text),
        ],
    )


if __name__ == "__main__":
    sys.exit(make_bench("darshan_base").main())
