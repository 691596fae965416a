"""What drives the spread of NVDA's shock-day move across seeds (issue 13).

Usage::

    python -m analysis.seed_spread [--scenario scenarios/deepseek_2025.yaml] [--n 20]
                                   [--ticker NVDA] [--out DIR]

Runs the scenario with the ``--replications`` seeds (:func:`replication_seeds`, so each row can
be re-run alone with ``run.py run --seed S``) and records per seed: the ticker's shock-day
return (percent) and volume multiple (of ADV), the share of investors who had heard each shock
news item by the end of the run, the median investor's belief on each factor at the shock
day's open (factor units), margin calls, and the share of the day's volume traded by each
investor type. Prints the 5-95 % spread of the move and each recorded quantity's correlation
with it across seeds; writes ``seed_spread.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def _row(result, ticker: str) -> dict[str, float]:  # noqa: ANN001 (a sim.tables.RunResult)
    from analysis import vs_real
    from analysis.metrics import compute_metric, shock_date

    sd = shock_date(result)
    out: dict[str, float] = {
        "return_pct": compute_metric(result, f"shock_return:{ticker}"),
        "volume_multiple": compute_metric(result, f"volume_multiple:{ticker}"),
        "margin_calls": float(result.diagnostics.get("margin_calls", 0)),
    }
    ev = result.events[result.events["shock"]]
    for _, e in ev.iterrows():
        out[f"heard_{e['id']}"] = float(e["informed_share"])
    b = result.beliefs
    opening = b[b["timestamp"] <= pd.Timestamp(sd) + pd.Timedelta(hours=9, minutes=30)]
    last = opening.groupby("factor").tail(1).set_index("factor")["q50"]
    for f, v in last.items():
        out[f"belief_{f}_at_open"] = float(v)
    vb = vs_real.volume_by_type(result)
    vb = vb[(vb["date"] == sd) & (vb["ticker"] == ticker)]
    for _, r in vb.iterrows():
        out[f"volume_share_{r['cohort']}"] = float(r["share_pct"])
    return out


def main(argv: list[str] | None = None) -> int:
    from analysis.experiments.ensemble import replication_seeds
    from sim.scenario import load_scenario
    from sim.simulate import run_scenario

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", type=Path, default=Path("scenarios/deepseek_2025.yaml"))
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--ticker", default="NVDA")
    p.add_argument("--out", type=Path, default=Path("results/seed_spread"))
    args = p.parse_args(argv)
    scn = load_scenario(args.scenario)
    rows = []
    for seed in replication_seeds(scn.seed, args.n):
        res = run_scenario(scn, seed=seed)
        rows.append({"seed": seed, **_row(res, args.ticker)})
    t = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    t.to_csv(args.out / "seed_spread.csv", index=False, float_format="%.5f")
    r = t["return_pct"]
    p5, p50, p95 = np.percentile(r, [5, 50, 95])
    print(f"{args.ticker} shock-day return over {len(t)} seeds: median {p50:.2f} %, "
          f"5-95 % [{p5:.2f}, {p95:.2f}] % (spread {p95 - p5:.2f} points)")  # fmt: skip
    v = t["volume_multiple"]
    print(f"volume multiple: median {v.median():.2f}, 5-95 % "
          f"[{np.percentile(v, 5):.2f}, {np.percentile(v, 95):.2f}]")  # fmt: skip
    cols = [c for c in t.columns if c not in ("seed", "return_pct") and t[c].std() > 0]
    corr = t[cols].corrwith(r).sort_values(key=np.abs, ascending=False)
    print("correlation with the return across seeds:")
    print(corr.round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
