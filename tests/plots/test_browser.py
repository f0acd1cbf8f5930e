"""report.html in a real browser: headless Chromium opens it offline, takes a screenshot,
and the test fails on any console message or failed load. Skips where no Chromium-family
browser is installed (Debian: `apt install chromium`)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest

from tests.plots.test_report import MOONS, train

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
# Console output of the page, failed loads and network errors, as Chromium logs them.
PROBLEMS = re.compile(r"CONSOLE\(\d+\)|Uncaught|Failed to load resource|net::ERR_")


@pytest.mark.skipif(BROWSER is None, reason="no chromium/google-chrome on PATH")
def test_the_report_renders_in_headless_chromium_without_errors(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run, _ = train(tmp_path, MOONS, capsys)
    shot = tmp_path / "screenshot.png"
    command = [
        BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--disable-extensions", "--enable-logging=stderr", "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # any request to the network fails loudly
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,3000",
        f"--screenshot={shot}", (run / "report.html").as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    assert not PROBLEMS.search(log), PROBLEMS.findall(log)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24])[0] >= 1000
    assert len(data) > 50_000  # a page of text and pictures, not a blank sheet
