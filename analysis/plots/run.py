"""Plots of one run, drawn only from the files a run writes (so ``run.py plot DIR`` redraws).

* ``price_paths.png``: intraday prices (percent from the start) in trading time, news marked,
  real daily closes overlaid as dots when the market data is found;
* ``wipeout.png``: change in market value by company on the shock day, simulated and real;
* ``beliefs.png``: quantiles of investors' beliefs on each factor over calendar time;
* ``order_flow.png``: net buying by investor type, per session, for the most-hit assets;
* ``volume_multiples.png``: simulated and real volume multiples (:mod:`analysis.plots.volume`),
  when the run folder has ``volume.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.plots import cohort_color, save_figure  # noqa: E402


def market_data_dir(summary: dict, run_dir: Path) -> Path | None:
    """Locate ``shared/market-data`` (the scenario's setting, relative to the repo or cwd)."""
    rel = summary.get("reference", {}).get("market_data_dir", "../shared/market-data")
    repo = Path(__file__).resolve().parents[1]
    for base in (repo, Path.cwd(), run_dir):
        p = (base / rel).resolve()
        if p.is_dir():
            return p
    return None


def real_closes(mdir: Path | None, ticker: str) -> pd.Series | None:
    """Daily closes of a real ticker (raw bars preferred), or None when not available."""
    if mdir is None:
        return None
    from analysis.validation.realdata import load_prices

    for sub in ("ohlcv_raw", "close_adjusted"):
        f = mdir / sub / f"{ticker}.csv"
        if f.exists():
            return load_prices(f)["close"]
    return None


def plot_price_paths(run: Path, summary: dict) -> None:
    intr = pd.read_csv(run / "intraday.csv", parse_dates=["timestamp"])
    events = pd.read_csv(run / "events.csv", parse_dates=["time"])
    params = summary["parameters"]
    price0 = {a["ticker"]: a["price"] for a in params["universe"]["assets"]}
    tickers = list(price0)
    ts = np.sort(intr["timestamp"].unique())
    mdir = market_data_dir(summary, run)
    ncol = 4
    nrow = int(np.ceil(len(tickers) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.8 * nrow), sharex=True)
    axes = np.atleast_1d(axes).ravel()
    days = pd.to_datetime(ts).normalize()
    day_starts = [i for i in range(len(ts)) if i == 0 or days[i] != days[i - 1]]
    for ax, t in zip(axes, tickers, strict=False):
        d = intr[intr["ticker"] == t]
        y = 100 * (d["price"].to_numpy() / price0[t] - 1)
        ax.plot(np.arange(len(y)), y, lw=1.0, color="#1f77b4", label="simulated")
        real = real_closes(mdir, t)
        if real is not None:
            base = real.loc[: pd.Timestamp(days[0]) - pd.Timedelta(days=1)]
            ref = price0[t]
            xs, ys = [], []
            for i in day_starts:
                day = days[i]
                if day in real.index:
                    end = i + int((days == day).sum()) - 1
                    xs.append(end)
                    ys.append(100 * (real.loc[day] / ref - 1))
            if xs and not base.empty:
                ax.plot(xs, ys, "o", ms=3.5, color="black", label="real close")
        for _, e in events.iterrows():
            after = np.searchsorted(ts, np.datetime64(e["time"]))
            if after < len(ts) and e["shock"]:
                ax.axvline(after, color="red", lw=0.8, alpha=0.5)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(t, fontsize=10)
        ax.set_ylabel("% from start", fontsize=8)
        ax.set_xticks(day_starts)
        ax.set_xticklabels(
            [pd.Timestamp(days[i]).strftime("%d %b") for i in day_starts], fontsize=7, rotation=45
        )
        ax.grid(alpha=0.3)
    for ax in axes[len(tickers) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        f"{summary['scenario']}: intraday prices (trading time; red = shock news released)",
        fontsize=11,
    )
    # keep ~0.45 inch on top for the title, whatever the number of rows
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    save_figure(fig, run / "plots" / "price_paths.png")


def plot_wipeout(run: Path, summary: dict) -> None:
    m = summary["metrics"]
    sd = m["shock_date"]
    change = pd.Series(m["shock_day"]["dollar_change_usd"]) / 1e9
    ref = summary.get("reference", {})
    real_ret = ref.get("returns_pct", {})
    assets = {a["ticker"]: a for a in summary["parameters"]["universe"]["assets"]}
    change = change.drop(
        index=[t for t in change.index if assets[t]["group"] == "rest"], errors="ignore"
    )
    order = change.sort_values().index
    # wide enough for a bar pair per company (28 of them in the shipped universe)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.38 * len(order) + 2.0), 4.8))
    x = np.arange(len(order))
    ax.bar(x - 0.2, change[order], width=0.4, label="simulated", color="#1f77b4")
    # the real change on the same starting capitalisation
    real = [
        assets[t]["price"] * assets[t]["shares_outstanding"] * real_ret[t] / 100 / 1e9
        if t in real_ret
        else np.nan
        for t in order
    ]
    if any(np.isfinite(real)):
        ax.bar(x + 0.2, real, width=0.4, label="real (reference return x cap)", color="#aaaaaa")
    ax.set_xticks(x)
    ax.set_xticklabels(order, rotation=60, fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("change in market value, $bn")
    ax.set_title(f"Market-value change on {sd}")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, run / "plots" / "wipeout.png")


def plot_beliefs(run: Path, summary: dict) -> None:
    b = pd.read_csv(run / "beliefs.csv", parse_dates=["timestamp"])
    events = pd.read_csv(run / "events.csv", parse_dates=["time"])
    factors = list(dict.fromkeys(b["factor"]))
    fig, axes = plt.subplots(len(factors), 1, figsize=(10, 2.6 * len(factors)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, f in zip(axes, factors, strict=True):
        d = b[b["factor"] == f]
        t = d["timestamp"]
        ax.fill_between(t, d["q05"], d["q95"], alpha=0.2, color="#1f77b4", label="5-95%")
        ax.fill_between(t, d["q25"], d["q75"], alpha=0.4, color="#1f77b4", label="25-75%")
        ax.plot(t, d["q50"], color="#1f77b4", lw=1.2, label="median")
        for _, e in events.iterrows():
            ax.axvline(e["time"], color="red" if e["shock"] else "green", lw=0.7, alpha=0.6)
        ax.set_ylabel(f.replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    axes[0].set_title("Investors' beliefs over calendar time (lines: news; red = shock)")
    fig.autofmt_xdate()
    fig.tight_layout()
    save_figure(fig, run / "plots" / "beliefs.png")


def plot_order_flow(run: Path, summary: dict) -> None:
    fl = pd.read_csv(run / "flows.csv", parse_dates=["timestamp"])
    assets = {a["ticker"]: a for a in summary["parameters"]["universe"]["assets"]}
    ret = pd.Series(summary["metrics"]["shock_day"]["returns_pct"])
    show = list(ret.sort_values().index[:2]) + list(ret.sort_values().index[-1:])
    fl["day"] = fl["timestamp"].dt.normalize()
    fig, axes = plt.subplots(1, len(show), figsize=(5 * len(show), 4), sharey=False)
    for ax, t in zip(np.atleast_1d(axes), show, strict=True):
        d = fl[fl["ticker"] == t].groupby(["day", "cohort"])["shares"].sum().unstack("cohort")
        d = 100 * d / assets[t]["shares_outstanding"]
        x = np.arange(len(d))
        pos = np.zeros(len(d))
        neg = np.zeros(len(d))
        for c in d.columns:
            v = d[c].to_numpy()
            ax.bar(x, np.where(v > 0, v, 0), bottom=pos, color=cohort_color(c), label=c)
            ax.bar(x, np.where(v < 0, v, 0), bottom=neg, color=cohort_color(c))
            pos += np.where(v > 0, v, 0)
            neg += np.where(v < 0, v, 0)
        ax.set_xticks(x)
        ax.set_xticklabels(
            [pd.Timestamp(i).strftime("%d %b") for i in d.index], rotation=45, fontsize=8
        )
        # limits from the stacks themselves (autoscaling clipped the tallest stacked bar)
        top, bot = float(np.nanmax(pos, initial=0.0)), float(np.nanmin(neg, initial=0.0))
        pad = 0.05 * max(top - bot, 1e-9)
        ax.set_ylim(bot - pad, top + pad)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(f"{t}: net buying by investor type")
        ax.set_ylabel("% of shares outstanding")
        ax.grid(axis="y", alpha=0.3)
    # one legend beside the panels, where it hides no bar
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="investor type")
    fig.tight_layout(rect=(0, 0, 1 - 1.3 / fig.get_figwidth(), 1))
    save_figure(fig, run / "plots" / "order_flow.png")


def plot_run(run: str | Path) -> list[Path]:
    """Draw every plot of a run folder from its files; returns the PNG paths."""
    run = Path(run)
    needed = ["summary.json", "intraday.csv", "daily.csv", "flows.csv", "beliefs.csv", "events.csv"]
    missing = [f for f in needed if not (run / f).exists()]
    if missing:
        raise FileNotFoundError(f"{run}: not a run folder (missing {', '.join(missing)})")
    summary = json.loads((run / "summary.json").read_text())
    plot_price_paths(run, summary)
    if "shock_date" in summary["metrics"]:  # a run stopped before its shock date has none
        plot_wipeout(run, summary)
    plot_beliefs(run, summary)
    if "shock_date" in summary["metrics"]:
        plot_order_flow(run, summary)
        if (run / "volume.csv").exists():
            from analysis.plots.volume import plot_volume_multiples

            plot_volume_multiples(run, summary)
    if (run / "cross_section.csv").exists():
        from analysis.cross_section import statistics
        from analysis.plots.cross_section import plot_cross_section

        t = pd.read_csv(run / "cross_section.csv")
        plot_cross_section(t, statistics(t), run / "plots" / "cross_section.png")
    return sorted((run / "plots").glob("*.png"))
