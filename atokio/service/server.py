"""Run the report service on Hypercorn, under asyncio or trio (``atokio serve``)."""

from __future__ import annotations

import ipaddress
import logging
import signal
from functools import partial
from typing import Any

from atokio.service.settings import ServiceSettings

__all__ = ["LOOPS", "serve"]

logger = logging.getLogger("atokio.service")

#: The event loops the server can run on.
LOOPS = ("asyncio", "trio")


async def _until_signalled() -> None:
    """Return when SIGINT or SIGTERM arrives (Hypercorn then shuts down gracefully)."""
    import anyio

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            logger.info("signal %d: shutting down", signum)
            return


def _is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    loop: str = "asyncio",
    settings: ServiceSettings | None = None,
    graceful_timeout: float = 5.0,
) -> None:
    """Serve the application on ``host:port`` until SIGINT or SIGTERM.

    ``loop`` is ``"asyncio"`` or ``"trio"``; ``settings`` default to the
    environment's (:meth:`ServiceSettings.from_env`).  Binding only the
    loopback interface is the default: give ``host="0.0.0.0"`` to serve
    other machines (and set a token).
    """
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {', '.join(LOOPS)}, not {loop!r}")
    from hypercorn.config import Config

    from atokio.service.app import create_app

    settings = settings or ServiceSettings.from_env()
    if not _is_loopback(host) and not settings.token:
        logger.warning(
            "serving on %s, beyond this machine, with no token: anyone who can reach it may "
            "upload logs and read the archive (set ATOKIO_SERVICE_TOKEN)",
            host,
        )
    app: Any = create_app(settings)
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None  # the service logs each request itself
    config.graceful_timeout = graceful_timeout
    logger.info("serving on http://%s:%d (%s)", host, port, loop)
    runner: Any
    if loop == "trio":
        import trio
        from hypercorn.trio import serve as trio_serve

        runner = partial(trio_serve, app, config, shutdown_trigger=_until_signalled)
        trio.run(runner)
    else:
        import asyncio

        from hypercorn.asyncio import serve as asyncio_serve

        asyncio.run(asyncio_serve(app, config, shutdown_trigger=_until_signalled))
