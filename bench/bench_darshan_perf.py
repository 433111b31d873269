#!/usr/bin/env python3
"""Benchmark ``darshan_perf``: ``Darshan(log).darshan_parser_perf()`` per log, 1,998 logs.

As ``bench_darshan_total.py``, with the workload's ``--perf`` outputs; every
call must give ``_perf`` counters.  No target is printed (the reference's
figure for this workload is not in ``calibrate.py``).

    python bench/bench_darshan_perf.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys

from _targets import Bench
from bench_darshan_total import per_log

if __name__ == "__main__":
    sys.exit(Bench("darshan_perf", "Darshan(log).darshan_parser_perf()", "logs/s", None, 1,
                   per_log("perf")).main())  # fmt: skip
