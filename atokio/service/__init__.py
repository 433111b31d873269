"""The job I/O report service: an HTTP API and report pages over atokio (``atokio serve``).

``atokio.service:app`` is the ASGI application (any ASGI server can run
it; it is made on first use, with settings from the environment, see
:mod:`atokio.service.settings`).  ``atokio serve`` runs it on Hypercorn
under asyncio or trio (:func:`atokio.service.server.serve`).  Needs the
``service`` extra (Starlette, Hypercorn).
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "create_app"]

_APP: Any = None


def create_app(settings: Any = None) -> Any:
    """A new service application (see :func:`atokio.service.app.create_app`)."""
    from atokio.service.app import create_app as make

    return make(settings)


def __getattr__(name: str) -> Any:
    """``app``: the application with settings from the environment, made once."""
    global _APP
    if name == "app":
        if _APP is None:
            _APP = create_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
