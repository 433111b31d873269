"""For the tests: a headless Chromium driven over the DevTools protocol on a pipe.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol
commands from its file descriptor 3 and writes answers and events to 4,
each message a JSON text ended by a NUL byte.  No network port and no
websocket client are needed.  :func:`find_chromium` skips the calling test,
with the reason, when no browser is installed.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str:
    """The Chromium executable, or skip (``scripts/ensure-chromium`` installs Debian's)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (scripts/ensure-chromium installs Debian's package)")


class Chromium:
    """One headless browser with a fresh profile (a context manager)."""

    def __init__(self, profile: Path, width: int = 1100, height: int = 1500) -> None:
        self.profile = profile
        self.size = (width, height)
        self.process: subprocess.Popen[bytes] | None = None
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        executable = find_chromium()
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: the pipe ends as fds 3 and 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        return self

    def __exit__(self, *exc: object) -> None:
        process = self.process
        if process is None:
            return
        try:
            if process.poll() is None:
                self.send("Browser.close", timeout=10)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self._buffer += chunk
        text, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(text)
        return message

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        tab: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Send one command and return its result (events met meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if tab:
            message["sessionId"] = tab
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._events.append(answer)

    def wait_event(self, method: str, tab: str, timeout: float = 60.0) -> dict[str, Any]:
        """The first event ``method`` of ``tab`` (kept or still to come)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == tab:
                    self._events.remove(event)
                    return event
            self._events.append(self._read_message(deadline))

    def open(self, url: str) -> str:
        """Load ``url`` in a new tab and wait for its load event; return the tab's protocol id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        tab = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", tab=tab)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": self.size[0],
                "height": self.size[1],
                "deviceScaleFactor": 1,
                "mobile": False,
            },
            tab=tab,
        )
        self.send("Page.navigate", {"url": url}, tab=tab)
        self.wait_event("Page.loadEventFired", tab)
        return tab

    def evaluate(self, tab: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            tab=tab,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"in the page: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, tab: str, path: Path) -> Path:
        """Save the whole page as a PNG at ``path``."""
        metrics = self.send("Page.getLayoutMetrics", tab=tab)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        data = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": size["height"],
                    "scale": 1,
                },
            },
            tab=tab,
        )["data"]
        path.write_bytes(base64.b64decode(data))
        return path
