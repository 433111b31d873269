"""Serve job I/O reports over HTTP: a JSON API and web pages (``atokio serve``).

``atokio serve [--host 127.0.0.1] [--port 8000] [--loop asyncio|trio]``
runs :func:`atokio.service.server.serve` until interrupted.  The site
configuration is the usual one (``ATOKIO_CONFIG``, relative paths from the
working directory).  See ``docs/service.md`` for the API.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from atokio.cli._common import run_main, setup_logging

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``atokio serve``."""
    parser = argparse.ArgumentParser(
        prog="atokio serve",
        description="Serve job I/O reports: a JSON API under /api/v1 and report pages.",
        epilog="Environment: ATOKIO_SERVICE_TOKEN (bearer token required on every route), "
        "ATOKIO_SERVICE_BODY_LIMIT, ATOKIO_SERVICE_LIMITS (e.g. darshan=4,tts=4).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--loop", choices=("asyncio", "trio"), default="asyncio", help="event loop to run on"
    )
    parser.add_argument(
        "--body-limit",
        default=None,
        metavar="SIZE",
        help="largest request body, bytes or with K/M/G (default 1G)",
    )
    parser.add_argument(
        "--limits",
        default=None,
        metavar="NAME=N,...",
        help="capacity per source: darshan, tts, jobinfo, plots (e.g. darshan=4)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="log warnings only (no request log)"
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from atokio.service.server import serve
    from atokio.service.settings import ServiceSettings, parse_limits, parse_size

    settings = ServiceSettings.from_env()
    if args.body_limit is not None:
        settings.body_limit = parse_size(args.body_limit)
    if args.limits is not None:
        settings.limits.update(parse_limits(args.limits))
    setup_logging()
    if not args.quiet:
        logging.getLogger("atokio.service").setLevel(logging.INFO)
    serve(args.host, args.port, loop=args.loop, settings=settings)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``atokio serve``."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
