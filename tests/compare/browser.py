"""Headless Chromium for the HTML pages' tests: load a page with a check script, read its result.

The check script must append ``<pre id="harness-result">JSON</pre>`` to the body; errors and
``console.error`` calls are collected in ``window.__errors`` by a hook put first in the head.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HEAD_HOOK = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push('error: ' + e.message); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    original.apply(console, arguments);
  };
}());
</script>"""


def chromium() -> str:
    """The browser's path; skips the test (with the fix) when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium here (install Debian's chromium package to run this test)")


def run_page(page: str, check: str, tmp_path: Path) -> dict:
    """Load ``page`` with the error hook and ``check`` (a ``<script>``) and return its result.

    Asserts that the page raised no error and logged none to the console.
    """
    browser = chromium()
    page = page.replace("<head>", "<head>" + HEAD_HOOK, 1).replace("</body>", check + "</body>", 1)
    harness = tmp_path / "harness.html"
    harness.write_text(page, encoding="utf-8")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
        "--dump-dom",
        harness.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="harness-result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no result from Chromium (exit {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result.pop("errors") == []
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "Uncaught" in line or "rror" in line], console
    return result
