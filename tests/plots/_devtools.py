"""A headless Chromium driven over the DevTools protocol on a pipe, with the standard library.

`--remote-debugging-pipe` makes the browser read commands on its file
descriptor 3 and write replies and events on 4, each a JSON object ended by a
NUL byte. One-shot switches such as `--screenshot` would be shorter, but some
builds (the serverless ones) hang on them; the protocol works on every build
and also hands back the page's console messages, exceptions and requests.

    with Browser(path, profile_dir) as browser:
        page = browser.open(url)          # waits for the load event
        png = page.screenshot()
        page.events                        # everything the page reported
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
    "--disable-extensions", "--remote-debugging-pipe",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # any request to the network fails loudly
)  # fmt: skip


class Browser:
    """A headless browser process and its protocol pipe."""

    def __init__(self, path: str, profile: Path, width: int = 1280, height: int = 3000,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.timeout, self.events, self._next_id, self._buffer = timeout, [], 0, b""
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def onto_3_and_4() -> None:  # in the child, before exec
            high_read, high_write = os.dup(commands_read), os.dup(replies_write)
            os.dup2(high_read, 3, inheritable=True)
            os.dup2(high_write, 4, inheritable=True)

        command = [path, *FLAGS, f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", "about:blank"]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=onto_3_and_4, close_fds=False,  # (Python's own fds close on exec)
        )  # fmt: skip
        os.close(commands_read)
        os.close(replies_write)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._send("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, TimeoutError, subprocess.TimeoutExpired):
            self.process.kill()
        os.close(self._commands)
        os.close(self._replies)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict:
        """Send one command and wait for its reply; events meanwhile go to `self.events`."""
        ident = self._send(method, session, **params)
        while True:
            message = self._receive()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> dict:
        """The first event named `event` (already received or still to come)."""
        for message in self.events:
            if message.get("method") == event:
                return message
        while True:
            message = self._receive()
            self.events.append(message)
            if message.get("method") == event:
                return message

    def open(self, url: str) -> Page:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired")
        return Page(self, session)

    def _send(self, method: str, session: str | None = None, **params: Any) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError(f"no reply from the browser in {self.timeout:.0f} s")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                error = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the browser closed its pipe: {error}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)


class Page:
    """One tab of a `Browser`, loaded."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        data = self.browser.call("Page.captureScreenshot", self.session, format="png")["data"]
        return base64.b64decode(data)

    def problems(self) -> list[str]:
        """Console messages, uncaught exceptions, log entries, failed loads, and any
        request for something other than the file itself or data: URLs it embeds."""
        found = []
        for event in self.browser.events:
            method, params = event.get("method", ""), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded":
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
            elif method == "Network.loadingFailed":
                found.append(f"failed load: {params.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    found.append(f"request to the network: {url}")
        return found
