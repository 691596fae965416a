"""Driving the dashboard in a real browser: Debian's Chromium through Playwright's Python API.

Playwright's own browser downloads are never used: :func:`find_chromium` looks for the
system's Chromium (``/usr/bin/chromium``; ``.ci/run`` installs it), and :func:`launch` starts
it headless. :func:`start_dashboard` serves ``run.py dashboard`` on a free port in a
subprocess and returns its URL once the server answers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """Path of a Chromium executable on this machine, or None."""
    env = os.environ.get("MOATSHOCK_CHROMIUM")
    candidates = [env] if env else []
    candidates += ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


@contextmanager
def launch(chromium: str) -> Iterator[object]:
    """A headless Chromium browser (Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def start_dashboard(*args: str, timeout: float = 60.0) -> Iterator[str]:
    """``run.py dashboard --port 0 ARGS`` in a subprocess; yields its URL, stops it after."""
    cmd = [sys.executable, str(ROOT / "run.py"), "dashboard", "--port", "0", *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    try:
        url = None
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                if proc.poll() is not None:
                    break
                continue
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if m:
                url = m.group(1)
        if url is None:
            raise RuntimeError("dashboard did not start:\n" + "".join(lines))
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "readyz", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        # keep reading its output so the pipe never fills up
        import threading

        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- page helpers ------------------------------------------------------------------------
WAIT_DRAWN = "() => document.querySelector('[data-testid=prices] [data-serial]') !== null"


def open_page(browser, url: str, width: int = 1600, height: int = 1000):
    """A new page at ``url``, waited for until the price chart is drawn; returns
    ``(page, seconds)``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(WAIT_DRAWN, timeout=30_000)
    return page, time.perf_counter() - t0


def screenshot(page, path) -> None:
    """A full-page screenshot, after scrolling through so that every chart is drawn."""
    for testid in ("flows", "beliefs", "prices"):
        loc = page.locator(f"[data-testid={testid}]")
        if loc.count():
            loc.first.scroll_into_view_if_needed()
            page.wait_for_timeout(700)
    page.screenshot(path=path, full_page=True)


def set_value(page, path: str, text: str) -> None:
    """Type ``text`` into the control of override path ``path`` and commit it (Enter)."""
    box = page.locator(f".input-{path.replace('.', '-')} input")
    box.fill(text)
    box.press("Enter")


def control_message(page, path: str) -> str:
    """The message shown under a control's text box ('' when none)."""
    loc = page.locator(f".input-{path.replace('.', '-')} .v-messages__message")
    return loc.first.inner_text() if loc.count() else ""


def wait_for_text(read: Callable[[], str], expected: str, timeout: float = 10.0) -> str:
    """Poll ``read()`` until it contains ``expected`` (the server answers a change over its
    websocket, slower on a busy machine) and return the last text read, found or not."""
    deadline = time.monotonic() + timeout
    text = read()
    while expected not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = read()
    return text


def table_value(page, row: str, column: int) -> str:
    """A cell of the shock-day table (column 1 = simulated return, %)."""
    return page.locator(f".shock-table tr[data-row='{row}'] td").nth(column).inner_text()


def status(page) -> str:
    return page.locator(".sim-time").inner_text()


def wait_finished(page, timeout: float = 120.0) -> None:
    page.wait_for_function(
        "() => document.querySelector('.sim-time').innerText.includes('finished')",
        timeout=timeout * 1000,
    )


def run_to_end(page, timeout: float = 120.0) -> float:
    """Click Run, wait until the run has started and then finished; returns the seconds."""
    t0 = time.perf_counter()
    page.locator(".btn-run").click()
    page.wait_for_function(
        "() => !document.querySelector('.sim-time').innerText.includes('finished')",
        timeout=10_000,
    )
    wait_finished(page, timeout)
    return time.perf_counter() - t0


def serial(page, testid: str = "prices") -> int:
    v = page.locator(f"[data-testid={testid}] [data-serial]").get_attribute("data-serial")
    return int(v) if v and v != "undefined" else -1


WATCH_SERIALS = """() => {
  const el = document.querySelector('[data-testid=prices] [data-serial]');
  window.moatshockSerials = [];
  new MutationObserver(() => window.moatshockSerials.push(performance.now()))
    .observe(el, {attributes: true, attributeFilter: ['data-serial']});
}"""


def updates_per_second(page, seconds: float) -> float:
    """Redraws per second of the price chart in the browser, over ``seconds`` of playing."""
    page.evaluate(WATCH_SERIALS)
    page.wait_for_timeout(seconds * 1000)
    times = page.evaluate("() => window.moatshockSerials")
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / ((times[-1] - times[0]) / 1000.0)
