#!/usr/bin/env python3
"""Benchmark ``darshan_total``: ``Darshan(log).darshan_parser_total()`` per log, 1,998 logs.

Each of the workload's six ``--total`` outputs is read ``repeat`` times (as
the manifest says), each time by a new ``Darshan(log)`` whose
``darshan-parser`` is a stand-in that ``cat``s that output (one process per
log, as with the real program).  Every call must give a dict with
``_total`` counters; those dicts are counted against the manifest's logs.
The reference's figure for this workload is not in ``calibrate.py``: no
target is printed.

    python bench/bench_darshan_total.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Any

from _targets import Bench


def per_log(mode: str) -> Any:
    """The prepare function of ``Darshan(log).darshan_parser_<mode>()`` over the workload."""

    def prepare(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
        from atokio.connectors.darshan import Darshan

        folder = tempfile.mkdtemp(prefix=f"bench-darshan-{mode}-")
        atexit.register(shutil.rmtree, folder, True)
        script = os.path.join(folder, "darshan-parser")
        with open(script, "w") as out:  # the log's name says which recorded output to replay
            out.write('#!/bin/sh\nfor log; do :; done\nexec cat "$(cat "$log")"\n')
        os.chmod(script, 0o755)
        os.environ["ATOKIO_DARSHAN_PARSER"] = script
        logs = []
        for number, text in enumerate(entry["files"]):
            log = os.path.join(folder, f"glock_app_id{number}_1-2-3-4_1.darshan")
            with open(log, "w") as out:
                out.write(text)
            logs.append(log)
        order = logs * int(entry.get("repeat", 1))

        def call() -> list[dict[str, Any]]:
            return [getattr(Darshan(log), f"darshan_parser_{mode}")() for log in order]

        def count(results: list[dict[str, Any]]) -> int:
            key = "_" + mode
            return sum(
                1
                for data in results
                if any(key in records for records in data.get("counters", {}).values())
            )

        return call, count

    return prepare


if __name__ == "__main__":
    sys.exit(Bench("darshan_total", "Darshan(log).darshan_parser_total()", "logs/s", None, 1,
                   per_log("total")).main())  # fmt: skip
