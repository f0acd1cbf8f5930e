"""report.html in a real browser: headless Chromium opens it offline, takes a screenshot,
and the test fails on any console message, uncaught exception, failed load or request to
the network. Skips where no Chromium-family browser is found: on PATH as chromium,
chromium-browser, google-chrome or google-chrome-stable (Debian: `apt install chromium`),
or named by the environment variable GRADWORK_CHROMIUM."""

from __future__ import annotations

import os
import shutil
import struct

import pytest

from tests.plots._devtools import Browser
from tests.plots.test_report import MOONS, train

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = os.environ.get("GRADWORK_CHROMIUM") or next(
    (shutil.which(name) for name in BROWSERS if shutil.which(name)), None
)


@pytest.mark.skipif(BROWSER is None, reason="no chromium/google-chrome on PATH")
def test_the_report_renders_in_headless_chromium_without_errors(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run, _ = train(tmp_path, MOONS, capsys)
    with Browser(BROWSER, tmp_path / "profile") as browser:
        page = browser.open((run / "report.html").as_uri())
        shot = page.screenshot()
        problems = page.problems()
    assert not problems, problems
    (tmp_path / "screenshot.png").write_bytes(shot)  # to look at when it fails
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", shot[16:24])
    assert (width, height) == (1280, 3000)
    assert len(shot) > 50_000  # a page of text and pictures, not a blank sheet


@pytest.mark.skipif(BROWSER is None, reason="no chromium/google-chrome on PATH")
def test_the_browser_check_sees_console_errors_and_network_requests(tmp_path):
    # The check above can fail: a page that logs, throws and fetches is caught.
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        "<html><body><img src='http://example.invalid/x.png'>"
        "<script>console.error('boom'); undefined_function();</script></body></html>"
    )
    with Browser(BROWSER, tmp_path / "profile") as browser:
        problems = browser.open(page_file.as_uri()).problems()
    text = "\n".join(problems)
    assert "console.error" in text
    assert "exception" in text
    assert "example.invalid" in text
