"""``cache_darshanlogs``: the name the published Quick Start uses for :mod:`atokio.cli.cache_darshan`.

The same tool under its other name: its usage and error messages say
``cache_darshanlogs``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli import cache_darshan
from atokio.cli._common import run_main

__all__ = ["build_parser", "main"]

PROG = "cache_darshanlogs"


def build_parser() -> argparse.ArgumentParser:
    """The command line of :mod:`atokio.cli.cache_darshan`, named ``cache_darshanlogs``."""
    return cache_darshan.build_parser(PROG)


def _body(argv: Sequence[str] | None) -> int:
    return cache_darshan._body(argv, PROG)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
