"""A headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): no
driver download, no websocket library, no network. Used by the topic-browser test, its benchmark and the
README screenshot.

Chromium reads commands from its file descriptor 3 and writes replies and events to descriptor 4, each
message JSON ending in a NUL byte. One page target is attached in flat mode; console errors, uncaught
exceptions and error log entries of that page are collected in :attr:`Chromium.errors`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]


def find_chromium() -> str | None:
    """Debian's chromium (or another Chromium/Chrome on PATH), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class DevToolsError(RuntimeError):
    """Chromium answered a command with an error, stopped, or did not answer in time."""


class Chromium:
    """One headless Chromium process with one page; a context manager (the process and its fresh
    profile directory go at exit)."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900, timeout_s: float = 60.0):
        binary = binary or find_chromium()
        if not binary:
            raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="softtopic-chromium-")
        self.timeout_s = timeout_s
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def child_pipes():  # runs in the child before exec: the pipes become its descriptors 3 and 4
            high_read = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            high_write = fcntl.fcntl(replies_write, fcntl.F_DUPFD, 10)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_pipes, pass_fds=(3, 4),
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.errors: list[str] = []
        self.session = None
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------ protocol
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DevToolsError(f"chromium did not answer within {self.timeout_s} s")
            ready, _, _ = select.select([self._replies], [], [], left)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise DevToolsError(f"chromium stopped (exit status {self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _note(self, message: dict) -> None:
        self.events.append(message)
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])

    def send(self, method: str, **params) -> dict:
        """Send one command (to the page once attached) and return its result; events meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._note(reply)

    def wait_for(self, method: str) -> dict:
        """The parameters of the next event `method` (or of one already received and not yet waited for)."""
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i).get("params", {})
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read_message(deadline)
            if message.get("method") == method:
                self._note(message)
                self.events.remove(message)
                return message.get("params", {})
            self._note(message)

    # ------------------------------------------------------------ page
    def open(self, path: str | Path) -> float:
        """Load a file and wait for its load event; returns the seconds from the request to that event.
        `errors` then holds this page's errors only."""
        self.events.clear()
        self.errors.clear()
        url = Path(path).resolve().as_uri()
        started = time.perf_counter()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        return time.perf_counter() - started

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited); a thrown error raises."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise DevToolsError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def screenshot(self, path: str | Path) -> None:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close")
                except DevToolsError:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            os.close(self._commands)
            os.close(self._replies)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
