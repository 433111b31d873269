"""The job I/O report service: an HTTP API and report pages over atokio (``atokio serve``).

``atokio.service:app`` is the ASGI application: any ASGI server can run it.
It is built at its first event (the server's start-up), with settings from
the environment (see :mod:`atokio.service.settings`), so importing this
package stays cheap.  ``atokio serve`` runs it on Hypercorn under asyncio or
trio (:func:`atokio.service.server.serve`).  Needs the ``service`` extra
(Starlette, Hypercorn).
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "create_app"]


def create_app(settings: Any = None) -> Any:
    """A new service application (see :func:`atokio.service.app.create_app`)."""
    from atokio.service.app import create_app as make

    return make(settings)


class _Application:
    """An ASGI application that builds the service on its first event."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


#: The service with settings from the environment, for any ASGI server.
app = _Application()
