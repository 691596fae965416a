"""The dashboard in a real browser (headless Debian Chromium driven by Playwright).

Starts ``run.py dashboard`` on a free port, loads the page, runs the DeepSeek scenario with a
small crowd, changes a news credibility and runs again (the first run kept for comparison),
types bad values, and measures how often the charts redraw at 10,000 investors. Screenshots
go to the test's tmp folder. Skipped only when no Chromium (or no Playwright) can be found.
"""

from __future__ import annotations

import os

import pytest

from tests.browser import (
    control_message,
    find_chromium,
    launch,
    open_page,
    run_to_end,
    screenshot,
    serial,
    set_value,
    start_dashboard,
    status,
    table_value,
    updates_per_second,
    wait_for_text,
)
from tests.conftest import MARKET_DATA, ROOT

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium)"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CRED = "news.viral_cost_claim.credibility"


def _num(text: str) -> float:
    return float(text.replace("+", "").replace(",", ""))


def test_dashboard_in_browser(tmp_path):
    args = [str(ROOT / "scenarios" / "deepseek_2025.yaml")]
    if MARKET_DATA.is_dir():
        args += ["--market-data", str(MARKET_DATA)]
    with start_dashboard(*args) as url, launch(CHROMIUM) as browser:
        page, load_s = open_page(browser, url)
        print(f"\npage load (navigation to first chart drawn): {load_s:.2f} s")
        screenshot(page, tmp_path / "01_loaded.png")
        assert "Not started" in status(page)

        # a small crowd keeps each run to a few seconds
        set_value(page, "population.size", "1500")
        t_first = run_to_end(page)
        first = table_value(page, "NVDA", 1)
        assert first != "–", "NVDA's simulated return is shown after the run"
        screenshot(page, tmp_path / "02_first_run.png")
        serial_before = serial(page)

        # a less credible cost claim: the previous run is kept and drawn for comparison
        set_value(page, CRED, "0.2")
        assert control_message(page, CRED) == ""
        t_second = run_to_end(page)
        second = table_value(page, "NVDA", 1)
        print(f"NVDA shock-day return: {first} % (credibility 1.03), {second} % (0.2)")
        print(f"runs of 1,500 investors in the page: {t_first:.1f} s and {t_second:.1f} s")
        assert second != first, "the table changed"
        assert _num(second) > _num(first), "a less credible claim gives a milder sell-off"
        assert serial(page) != serial_before or "finished" in status(page)
        assert page.locator(".compare-label").count() == 1
        assert table_value(page, "NVDA", 7) == first, "the comparison column is the first run"
        screenshot(page, tmp_path / "03_compared.png")

        # bad input: a message next to the control, the page and its charts stay
        set_value(page, CRED, "abc")
        msg = "expected a number"
        assert msg in wait_for_text(lambda: control_message(page, CRED), msg)
        set_value(page, CRED, "-1")
        msg = "greater than or equal to 0.001"
        assert msg in wait_for_text(lambda: control_message(page, CRED), msg)
        page.locator(".btn-run").click()
        err = page.locator(".general-error")
        msg = "marked in red"
        assert msg in wait_for_text(lambda: err.first.inner_text() if err.count() else "", msg)
        assert table_value(page, "NVDA", 1) == second, "nothing was lost"
        page.locator(f".ctl-{CRED.replace('.', '-')}").screenshot(path=tmp_path / "04_bad.png")
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            f"extends: {ROOT / 'scenarios' / 'deepseek_2025.yaml'}\nnetwork: {{q: -1}}\n"
        )
        box = page.locator(".input-scenario-path input")
        box.fill(str(bad))
        box.press("Enter")
        page.wait_for_selector(".scenario-error .v-messages__message")
        msg = page.locator(".scenario-error .v-messages__message").first.inner_text()
        assert "bad.yaml: network.q" in msg and "greater than or equal to 0" in msg
        assert table_value(page, "NVDA", 1) == second, "the loaded run stays"

        # 10,000 investors: the charts redraw at least 5 times per second while running
        set_value(page, CRED, "0.6")
        set_value(page, "population.size", "10000")
        page.locator(".btn-run").click()
        page.wait_for_function(
            "() => document.querySelector('.sim-time').innerText.includes('running')"
        )
        # (a whole 10,000-investor week takes a few seconds: measure over its first two)
        rate = updates_per_second(page, 2.0)
        page.screenshot(path=tmp_path / "05_running_10k.png", full_page=False)
        if page.locator(".btn-pause").is_enabled():
            page.locator(".btn-pause").click()
        print(f"chart redraws at 10,000 investors: {rate:.1f} per second")
    print(f"screenshots: {tmp_path}")
    # the targets (5 s, 5 redraws/s) on a machine of our own; a machine shared with other
    # work gets generous bounds unless MOATSHOCK_PERF_STRICT=1 (tests/measure_dashboard.py
    # measures the targets on purpose, with a whole 10,000-investor run)
    strict = os.environ.get("MOATSHOCK_PERF_STRICT") == "1"
    max_load, min_rate = (5.0, 5.0) if strict else (20.0, 1.0)
    assert load_s < max_load, f"the page took {load_s:.1f} s to load"
    assert rate >= min_rate, f"the charts redrew {rate:.1f} times per second at 10,000 investors"
