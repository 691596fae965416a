"""Calm-year checks of issue 13 on ``calm_2024.yaml``: daily volatility per name against 2024's,
and the autocorrelation of simulated daily volume.

Usage::

    python -m analysis.calm_check [--seeds 1 2] [--investors 3000] [--out DIR]

For each seed: one run of the calm year; per ticker the standard deviation of daily log returns
(simulated, and real over the 2024 sessions of ``ohlcv_raw``, or ``close_adjusted`` when there
is no raw file), their ratio (the target: within :data:`VOL_TOLERANCE` of 1), the excess
kurtosis of both, and the lag-1 autocorrelation of daily volume (the target: positive). Writes
``calm_check.csv`` and prints a table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: Simulated daily volatility within this relative distance of the real one (issue 13).
VOL_TOLERANCE = 0.30
YEAR = ("2024-01-01", "2024-12-31")


def _real_returns(mdir: Path | None, ticker: str) -> pd.Series | None:
    from analysis.plots.run import real_closes

    c = real_closes(mdir, ticker)
    if c is None:
        return None
    c = c.loc[YEAR[0] : YEAR[1]]
    return np.log(c).diff().dropna()


def check(result) -> pd.DataFrame:  # noqa: ANN001 (a sim.tables.RunResult)
    """One row per ticker: simulated and real daily volatility and excess kurtosis, their
    ratio, and the simulated volume's lag-1 autocorrelation."""
    from analysis.vs_real import market_data

    mdir = market_data(result)
    rows = []
    for t, g in result.daily.groupby("ticker", sort=False):
        r = np.log1p(g["return_pct"].to_numpy() / 100.0)
        v = g["volume"].to_numpy()
        real = _real_returns(mdir, t)
        sd_real = float(real.std()) if real is not None else np.nan
        rows.append(
            {
                "ticker": t,
                "sim_daily_vol": float(np.std(r, ddof=1)),
                "real_daily_vol": sd_real,
                "vol_ratio": float(np.std(r, ddof=1)) / sd_real,
                "sim_excess_kurtosis": float(pd.Series(r).kurt()),
                "real_excess_kurtosis": float(real.kurt()) if real is not None else np.nan,
                "volume_acf1": float(pd.Series(v).autocorr(1)),
            }
        )
    out = pd.DataFrame(rows)
    out["vol_within"] = (out["vol_ratio"] - 1.0).abs() <= VOL_TOLERANCE
    out["volume_acf_positive"] = out["volume_acf1"] > 0
    return out


def main(argv: list[str] | None = None) -> int:
    from sim.simulate import run_scenario

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=Path("scenarios/calm_2024.yaml"))
    p.add_argument("--seeds", type=int, nargs="+", default=[2024])
    p.add_argument("--investors", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("results/calm_check"))
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args(argv)
    from sim.scenario.loading import parse_override

    ov = dict(parse_override(s) for s in args.overrides)
    if args.investors:
        ov["population.size"] = args.investors
    frames = []
    for seed in args.seeds:
        res = run_scenario(args.scenario, seed=seed, overrides=ov)
        frames.append(check(res).assign(seed=seed))
    table = pd.concat(frames, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "calm_check.csv", index=False, float_format="%.5f")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
