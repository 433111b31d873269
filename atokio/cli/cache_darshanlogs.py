"""``cache_darshanlogs``: the name the published Quick Start uses for :mod:`atokio.cli.cache_darshan`."""

from __future__ import annotations

import sys

from atokio.cli.cache_darshan import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
