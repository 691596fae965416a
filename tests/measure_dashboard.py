"""Measure the dashboard against its targets, in a real browser, and print the numbers.

    python -m tests.measure_dashboard [--investors 10000] [--market-data DIR]

1. page load: navigation until the charts in view are drawn (target: under 5 s; a chart
   below the fold is drawn when scrolled to);
2. a whole run of scenarios/deepseek_2025.yaml in the page, from the Run click to
   "finished", with the price chart's redraws per second counted in the browser while it
   runs (target: at least 5 per second at 10,000 investors);
3. the same run on the command line, ``run.py run`` (the simulation's wall time it prints,
   and the whole command's), so the page's time can be compared (target: under 3 times).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time

from tests.browser import (
    ROOT,
    WATCH_SERIALS,
    find_chromium,
    launch,
    open_page,
    set_value,
    start_dashboard,
    status,
)
from tests.conftest import MARKET_DATA

SCENARIO = ROOT / "scenarios" / "deepseek_2025.yaml"


def page_numbers(investors: int, market_data: str | None) -> dict[str, float]:
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (apt-get install chromium)")
    args = [str(SCENARIO)] + (["--market-data", market_data] if market_data else [])
    with start_dashboard(*args) as url, launch(chromium) as browser:
        page, load_s = open_page(browser, url)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=wipeout] [data-serial]') !== null"
        )
        load_all = load_s
        set_value(page, "population.size", str(investors))
        page.wait_for_timeout(300)
        page.evaluate(WATCH_SERIALS)
        t0 = time.perf_counter()
        page.locator(".btn-run").click()
        page.wait_for_function(
            "() => document.querySelector('.sim-time').innerText.includes('finished')",
            timeout=600_000,
        )
        run_s = time.perf_counter() - t0
        times = page.evaluate("() => window.moatshockSerials")
        rate = (len(times) - 1) / ((times[-1] - times[0]) / 1000.0) if len(times) > 1 else 0.0
        print(status(page))
        return {"load_s": load_all, "page_run_s": run_s, "redraws_per_s": rate}


def cli_numbers(investors: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            str(ROOT / "run.py"),
            "run",
            str(SCENARIO),
            "--investors",
            str(investors),
            "--out",
            out,
            "--no-progress",
        ]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        total = time.perf_counter() - t0
    m = re.search(r"investors, ([0-9.]+) s\)", res.stdout)
    return {"cli_sim_s": float(m.group(1)) if m else float("nan"), "cli_total_s": total}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--investors", type=int, default=10_000)
    p.add_argument("--market-data", default=str(MARKET_DATA) if MARKET_DATA.is_dir() else None)
    a = p.parse_args(argv)
    page = page_numbers(a.investors, a.market_data)
    cli = cli_numbers(a.investors)
    print(f"page load, until the charts in view are drawn: {page['load_s']:.2f} s (target < 5)")
    print(
        f"chart redraws while running at {a.investors:,} investors: "
        f"{page['redraws_per_s']:.1f} per second (target >= 5)"
    )
    print(
        f"whole run in the page: {page['page_run_s']:.1f} s; on the command line: "
        f"{cli['cli_sim_s']:.1f} s of simulation ({cli['cli_total_s']:.1f} s with start-up "
        f"and writing files); ratio {page['page_run_s'] / cli['cli_sim_s']:.2f} (target < 3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
