"""A minimal headless-Chromium driver over the Chrome DevTools Protocol (CDP).

Python only: the browser is started with ``--remote-debugging-port=0``; the port it picked
is read from ``DevToolsActivePort`` in its fresh profile folder, and one page target is
driven over a websocket (``websockets``' synchronous client). Console messages, uncaught
exceptions and every network request are recorded for the tests to assert on.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None. ``GRIDCAST_CHROMIUM`` overrides the search."""
    override = os.environ.get("GRIDCAST_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@dataclass
class PageLog:
    """What the page did: console errors, uncaught exceptions, network requests."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, binary: str, timeout_s: float = 60.0):
        self.binary = binary
        self.timeout_s = timeout_s
        self.log = PageLog()
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="gridcast-chromium-")
        self._stderr = (Path(self._profile) / "stderr.log").open("wb")  # closed in __exit__
        self._proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        try:
            self._ws = connect(self._browser_ws_url(), max_size=None, open_timeout=self.timeout_s)
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._call(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _browser_ws_url(self) -> str:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                stderr = (Path(self._profile) / "stderr.log").read_text(errors="replace")
                raise RuntimeError(
                    f"chromium exited with {self._proc.returncode}: {stderr[-2000:]}"
                )
            if marker.exists():
                lines = marker.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise TimeoutError(f"chromium wrote no DevToolsActivePort within {self.timeout_s} s")

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        msg_id = next(self._ids)
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._record(reply)

    def send(self, method: str, params: dict | None = None) -> dict:
        """Call a CDP method on the page and return its result."""
        return self._call(method, params, self._session)

    def _record(self, event: dict) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.log.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.log.exceptions.append(
                str(details.get("exception", {}).get("description", details.get("text")))
            )
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.log.console_errors.append(
                f"{params['entry'].get('source')}: {params['entry'].get('text')}"
            )
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params["request"]["url"])
        elif method == "Page.loadEventFired":
            self._loaded = True

    def pump(self, seconds: float) -> None:
        """Process events for ``seconds`` (so late console messages are recorded)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._record(json.loads(self._ws.recv(timeout=left)))
            except TimeoutError:
                return

    def open(self, url: str, width: int = 1280, height: int = 900) -> float:
        """Navigate to ``url``, wait for the load event; returns seconds until it fired."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self._loaded = False
        start = time.monotonic()
        self.send("Page.navigate", {"url": url})
        deadline = start + self.timeout_s
        while not self._loaded:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{url} did not finish loading within {self.timeout_s} s")
            try:
                self._record(json.loads(self._ws.recv(timeout=left)))
            except TimeoutError:
                continue
        return time.monotonic() - start

    def evaluate(self, expression: str) -> object:
        """Value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> object:
        """Poll a JavaScript expression until truthy; returns its last value."""
        deadline = time.monotonic() + timeout_s
        value = self.evaluate(expression)
        while not value and time.monotonic() < deadline:
            self.pump(0.1)
            value = self.evaluate(expression)
        return value

    def screenshot(self, path: Path) -> Path:
        """Full-page PNG."""
        data = self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def pdf(self, path: Path) -> Path:
        """The page printed to PDF (print CSS and its @page size apply)."""
        data = self.send("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})[
            "data"
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
