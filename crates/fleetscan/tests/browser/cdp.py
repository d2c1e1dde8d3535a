#!/usr/bin/env python3
"""Loads one page in headless Chromium and reports what happened, for the
report tests in crates/fleetscan/tests/report.rs.

Talks the DevTools protocol over --remote-debugging-pipe (fds 3 and 4, NUL-
separated JSON), so no port and no websocket library are needed. Reads a JSON
spec on stdin:

    {"chromium": "/usr/bin/chromium", "url": "file:///...",
     "steps": [{"name": "rows", "expression": "..."}], "screenshot": "/path.png"}

and prints one JSON object: console errors and warnings, uncaught exceptions,
log entries (CSP refusals land there), every network request the page made,
JavaScript dialogs, and the value of each step, evaluated in order.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT_SECONDS = 120


class Browser:
    def __init__(self, chromium, profile):
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()

        def wire_pipes():
            # Dup first: the pipe ends may themselves sit on 3 or 4.
            reader, writer = os.dup(commands_read), os.dup(replies_write)
            os.dup2(reader, 3)
            os.dup2(writer, 4)

        self.process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-pipe",
                "--user-data-dir=" + profile,
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),
        )
        os.close(commands_read)
        os.close(replies_write)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + TIMEOUT_SECONDS

    def send(self, method, params=None, session=None):
        self.next_id += 1
        wanted = self.next_id
        message = {"id": wanted, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.handle_event(reply)

    def read(self):
        while b"\0" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.replies], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.replies, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def handle_event(self, event):
        self.events.append(event)
        if event.get("method") == "Page.javascriptDialogOpening":
            # Answer it, or the page stays blocked; the test sees it in "dialogs".
            self.send_async("Page.handleJavaScriptDialog", {"accept": False}, event.get("sessionId"))

    def send_async(self, method, params, session):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params, "sessionId": session}
        os.write(self.commands, json.dumps(message).encode() + b"\0")

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run(spec):
    profile = tempfile.mkdtemp(prefix="fleetscan-chromium-")
    browser = Browser(spec["chromium"], profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.send(domain + ".enable", session=session)
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.send("Page.navigate", {"url": spec["url"]}, session=session)
        # The load event of the first about:blank may still be on its way:
        # wait until the document is the page, fully loaded.
        loaded = json.dumps(spec["url"]) + " === location.href && document.readyState === 'complete'"
        while not browser.send(
            "Runtime.evaluate", {"expression": loaded, "returnByValue": True}, session=session
        )["result"].get("value"):
            if time.monotonic() > browser.deadline:
                raise TimeoutError("the page did not finish loading")
            time.sleep(0.05)

        results = {}
        for step in spec.get("steps", []):
            reply = browser.send(
                "Runtime.evaluate",
                {"expression": step["expression"], "returnByValue": True, "awaitPromise": True},
                session=session,
            )
            if "exceptionDetails" in reply:
                results[step["name"]] = {"exception": reply["exceptionDetails"].get("text")}
            else:
                results[step["name"]] = reply["result"].get("value")

        if spec.get("screenshot"):
            height = browser.send(
                "Runtime.evaluate",
                {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
                session=session,
            )["result"]["value"]
            shot = browser.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": 1400, "height": min(int(height), 8000), "scale": 1},
                },
                session=session,
            )
            with open(spec["screenshot"], "wb") as file:
                file.write(base64.b64decode(shot["data"]))

        # Anything the page did after the steps (a late timer, a late load).
        browser.send("Runtime.evaluate", {"expression": "1"}, session=session)
        events = [event for event in browser.events if event.get("sessionId") == session]
        return {
            "console": [
                {"type": event["params"]["type"],
                 "text": " ".join(str(arg.get("value", arg.get("description", ""))) for arg in event["params"]["args"])}
                for event in events
                if event.get("method") == "Runtime.consoleAPICalled"
                and event["params"]["type"] in ("error", "warning", "assert")
            ],
            "exceptions": [
                event["params"]["exceptionDetails"].get("text", "")
                + " "
                + str(event["params"]["exceptionDetails"].get("exception", {}).get("description", ""))
                for event in events
                if event.get("method") == "Runtime.exceptionThrown"
            ],
            "log": [
                event["params"]["entry"]["level"] + ": " + event["params"]["entry"]["text"]
                for event in events
                if event.get("method") == "Log.entryAdded"
                and event["params"]["entry"]["level"] in ("error", "warning")
            ],
            "requests": [
                event["params"]["request"]["url"]
                for event in events
                if event.get("method") == "Network.requestWillBeSent"
            ],
            "dialogs": [
                event["params"].get("message", "")
                for event in events
                if event.get("method") == "Page.javascriptDialogOpening"
            ],
            "results": results,
        }
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    spec = json.load(sys.stdin)
    json.dump(run(spec), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
