#!/usr/bin/env python3
"""Benchmark ``darshan_base_modern``: ``Darshan(log).darshan_parser_base()`` on darshan-util 3.5 text.

As ``bench_darshan_base.py`` (same stand-in, same lines), on ~200 MB of
``--base`` text in the darshan-util 3.5 format.  The reference cannot read
this format; the target printed is that of ``darshan_base``.

    python bench/bench_darshan_base_modern.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys

from bench_darshan_base import make_bench

if __name__ == "__main__":
    sys.exit(make_bench("darshan_base_modern").main())
