"""`qstore-tui serve` in a real browser: Debian's chromium, headless, driven by Playwright. The page
loads (from 127.0.0.1 alone), a key press switches screens, and the screen shows what it should."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
    proc = subprocess.Popen([sys.executable, "-m", "qstore_tui", "serve", "--port", str(port),
                             "--runs-dir", str(tmp_path / "runs")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, cwd=tmp_path, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    try:
        yield port, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class TerminalOutput:
    """What the app wrote to the browser's terminal (the websocket frames), as plain text.

    xterm.js draws on a canvas, so the page has no text to read; the bytes it was sent do."""

    def __init__(self, page) -> None:
        self.data = bytearray()
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        self.data += payload if isinstance(payload, bytes) else payload.encode()

    def mark(self) -> int:
        return len(self.data)

    def text(self, since: int = 0) -> str:
        raw = bytes(self.data[since:]).decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]", "", raw)

    def wait_for(self, page, text: str, since: int = 0, timeout_s: float = 20) -> str:
        deadline = time.monotonic() + timeout_s
        while text not in self.text(since):
            assert time.monotonic() < deadline, f"{text!r} never shown"
            page.wait_for_timeout(100)
        return self.text(since)


def test_serve_listens_on_loopback_only_and_the_app_switches_screens_in_a_headless_chromium(served):
    port, proc = served
    lines = [proc.stdout.readline().decode() for _ in range(2)]
    assert f"http://127.0.0.1:{port}" in lines[0]
    assert f"ssh -L {port}:127.0.0.1:{port} " in lines[1]
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    listening = [line.split()[3] for line in out.splitlines()[1:] if line.split()[3].endswith(f":{port}")]
    assert listening == [f"127.0.0.1:{port}"]

    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:"))
                    else outside.append(r.url))
            terminal = TerminalOutput(page)
            page.goto(f"http://127.0.0.1:{port}/")
            first = terminal.wait_for(page, "Local simulator: no charge", timeout_s=40)  # the Config screen
            assert "backend" in first and "preset" in first
            page.wait_for_timeout(300)
            mark = terminal.mark()
            page.locator(".xterm-helper-textarea").focus()
            page.keyboard.press("3")
            shown = terminal.wait_for(page, "Forte", since=mark)  # the Compiler screen
            assert "Aria" in shown and "Compile" in shown
        finally:
            browser.close()
    assert outside == []  # everything came from 127.0.0.1


def test_a_port_in_use_exits_2_naming_the_port_and_what_to_do(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "qstore_tui", "serve", "--port", str(port), "--runs-dir",
                            str(tmp_path)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r.stderr
    assert f"error: port: cannot listen on 127.0.0.1:{port}: address already in use; choose another with --port" \
        in r.stderr and "Traceback" not in r.stderr
