"""A page opened in Debian's headless chromium at a given viewport width, driven over the DevTools
protocol on a pipe (no extra library, no port): the layout measured, console errors and uncaught
exceptions collected, a full-page screenshot taken.

``--window-size`` cannot go below 500 px in headless chromium, so the width is set by device-metrics
emulation (as a phone, ``mobile``, below 600 px: the page's viewport meta then decides the layout width,
as on a real phone)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_MEASURE = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  viewport: window.innerWidth,
  height: document.documentElement.scrollHeight,
  summary: !!document.getElementById("summary"),
  svgCharts: document.querySelectorAll("figure.chart svg").length,
  sections: Object.fromEntries(Array.from(document.querySelectorAll("h2"))
    .map((h) => [h.textContent, Math.round(h.getBoundingClientRect().top + window.scrollY)])),
  // elements sticking out of the body's content box (a wide table pushing past the column), other
  // than the contents of a deliberately scrolling box
  wide: (() => {
    const style = getComputedStyle(document.body);
    const edge = document.body.getBoundingClientRect().right - parseFloat(style.paddingRight) + 1;
    return Array.from(document.querySelectorAll("body *"))
      .filter((e) => !e.closest(".scroll") && e.getBoundingClientRect().right > edge)
      .slice(0, 5)
      .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right));
  })(),
})"""


class _Pipe:
    def __init__(self, browser: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.browser, self.write_fd, self.read_fd = browser, write_fd, read_fd
        self.next_id = 0
        self.buffer = b""
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer over the DevTools pipe")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        request: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self.write_fd, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            message = self._message(deadline)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == method for e in self.events):
            return
        while True:
            message = self._message(deadline)
            self.events.append(message)
            if message.get("method") == method:
                return


def _wire(commands: int, answers: int) -> None:
    """In the child: the pipe ends at fds 3 and 4, copied above 10 first so neither clobbers the other."""
    high_commands = fcntl.fcntl(commands, fcntl.F_DUPFD, 10)
    high_answers = fcntl.fcntl(answers, fcntl.F_DUPFD, 10)
    os.dup2(high_commands, 3)
    os.dup2(high_answers, 4)


def open_page(
    page: Path,
    width: int,
    screenshot: Path | None = None,
    height: int = 900,
    parts: tuple[tuple[int, int], ...] = (),
) -> dict[str, Any]:
    """Load ``page`` at ``width`` CSS px; the layout figures, plus ``errors``: console errors and
    uncaught exceptions. Writes a full-page PNG to ``screenshot`` when given, and one PNG per
    ``parts`` entry (top, height) next to it (``name-1.png``, …) to look at a region closely."""
    assert CHROMIUM is not None
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()
    profile = tempfile.mkdtemp(prefix="pushguard-chromium-")
    # The DevTools pipe is fds 3 (commands in) and 4 (answers out) of the browser process.
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        close_fds=False,  # fds 3 and 4 (made inheritable by dup2) must survive; os.pipe's others do not
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _wire(to_browser_read, from_browser_write),
    )
    os.close(to_browser_read)
    os.close(from_browser_write)
    pipe = _Pipe(browser, to_browser_write, from_browser_read)
    try:
        targets = pipe.call("Target.getTargets")["targetInfos"]
        target = next(t["targetId"] for t in targets if t["type"] == "page")
        session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            pipe.call(domain, session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        pipe.call("Page.navigate", session, url=page.resolve().as_uri())
        pipe.wait_for("Page.loadEventFired")
        figures: dict[str, Any] = json.loads(
            pipe.call("Runtime.evaluate", session, expression=_MEASURE, returnByValue=True)["result"]["value"]
        )
        if screenshot is not None:
            shot = pipe.call(
                "Page.captureScreenshot",
                session,
                format="png",
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": figures["height"], "scale": 1},
            )
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            for number, (top, tall) in enumerate(parts, 1):
                clip = {"x": 0, "y": top, "width": width, "height": tall, "scale": 1}
                part = pipe.call(
                    "Page.captureScreenshot", session, format="png", captureBeyondViewport=True, clip=clip
                )
                path = screenshot.with_name(f"{screenshot.stem}-{number}.png")
                path.write_bytes(base64.b64decode(part["data"]))
        errors = []
        for event in pipe.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif event.get("method") == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", ""))
        figures["errors"] = errors
        return figures
    finally:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            pipe.call("Browser.close")
        try:
            browser.wait(timeout=20)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        os.close(to_browser_write)
        os.close(from_browser_read)
        shutil.rmtree(profile, ignore_errors=True)
