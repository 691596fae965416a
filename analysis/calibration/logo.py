"""Leave-one-group-out check of the shared loadings, and the cross-section fit they come from.

``python -m analysis.calibration.logo [--leave-out GROUP ...] [--seeds 5] [--size 10000]``

The shared loadings fitted here are the compute-demand loadings of ``universe.exposures`` (one
per characteristic named by ``--fit``) and ``universe.positioning.compute_demand_loading``:
nothing per ticker. The fit uses a fast surrogate of the model, checked by simulations:

1. simulate the scenario (``--seeds`` seeds) at the current loadings; regress every company's
   simulated shock-day return on its factor exposures ``b_ik`` to get the return per unit of
   exposure ``kappa_k`` the model's investors and clearing produce this week;
2. the surrogate predicts ``r_i = alpha + sum_k kappa_k b_ik(L)``, which is linear in the fitted
   loadings; fit them by least squares (non-negative, ``--ridge`` towards the scenario's values)
   to the real returns of the companies *outside* the held-out group;
3. simulate the model with the fitted loadings and report, from those simulations (median over
   seeds), the held-out group's rank correlation (within the group, and over all companies
   with the group's returns predicted), its mean return and the MAE.

``--leave-out none`` fits on all companies (the shipped calibration); ``--evaluate`` only
simulates the scenario as it is (median of ``--seeds`` seeds: Spearman, MAE, group means, NVDA's
shock-day return and dollar loss). Output: a table on stdout and ``--out`` (JSON) with every
number and the fitted loadings.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

from sim.scenario import Scenario, load_scenario, validate

DEFAULT_FIT = (
    "ai_infrastructure_revenue_share",
    "ai_share_of_expected_growth",
    "power_grid_revenue_share",
)
POSITIONING = "positioning"


#: metrics reported beside the cross-section (the simulator issue's bands)
BAND_METRICS = ("shock_return:NVDA", "dollar_loss:NVDA")


def _run(args: tuple[dict[str, Any], int]) -> dict[str, float]:
    from analysis.cross_section import cross_section
    from analysis.metrics import compute_metric
    from sim.simulate import run_model

    raw, seed = args
    scn = validate(raw, "<logo>")
    _, result = run_model(scn, seed=seed)
    t = cross_section(result)
    out = dict(zip(t["ticker"], t["sim_pct"], strict=True))
    out.update({m: compute_metric(result, m) for m in BAND_METRICS})
    return out


def simulate(scn: Scenario, seeds: list[int], workers: int) -> pd.DataFrame:
    """Shock-day simulated return per company (rows) and seed (columns), percent."""
    raw = scn.model_dump(mode="json")
    with ProcessPoolExecutor(max_workers=workers) as ex:
        outs = list(ex.map(_run, [(raw, s) for s in seeds]))
    return pd.DataFrame(outs, index=seeds).T


def real_returns(scn: Scenario) -> pd.DataFrame:
    """ticker, group, real_pct of every company with a real shock-day return."""
    from analysis.cross_section import real_return_pct

    day = scn.reference.shock_date
    rows = []
    for a in scn.universe.assets:
        if a.ticker == scn.universe.rest_of_market or day is None:
            continue
        r, _ = real_return_pct(scn, a.ticker, day)
        if r is not None:
            rows.append({"ticker": a.ticker, "group": a.group, "real_pct": r})
    return pd.DataFrame(rows).set_index("ticker")


def with_loadings(scn: Scenario, fit: list[str], values: np.ndarray) -> Scenario:
    """The scenario with the fitted compute-demand loadings set."""
    raw = scn.model_dump(mode="json")
    cd = raw["universe"]["exposures"].setdefault("compute_demand", {})
    for name, v in zip(fit, values, strict=True):
        if name == POSITIONING:
            raw["universe"]["positioning"]["compute_demand_loading"] = float(v)
        else:
            cd[name] = float(v)
    return validate(raw, scn.name)


def current(scn: Scenario, fit: list[str]) -> np.ndarray:
    cd = scn.universe.exposures.get("compute_demand", {})
    return np.array(
        [
            scn.universe.positioning.compute_demand_loading if n == POSITIONING else cd.get(n, 0.0)
            for n in fit
        ]
    )


def features(scn: Scenario, fit: list[str], kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X, offset): the surrogate's prediction is ``offset + X @ loadings`` (percent)."""
    from sim.universe import build_universe, crowding_scores

    u = build_universe(scn)
    f_cd = u.factor_names.index("compute_demand")
    b = u.exposures.copy()
    C = np.zeros((u.n_assets, len(fit)))
    for j, name in enumerate(fit):
        if name == POSITIONING:
            C[:, j] = crowding_scores(scn)
        else:
            C[:, j] = [a.characteristics.get(name, 0.0) for a in scn.universe.assets]
    b[:, f_cd] -= C @ current(scn, fit)  # the part of b the fitted loadings do not set
    return kappa[f_cd] * C, b @ kappa


def fit_kappa(scn: Scenario, sim: pd.Series) -> tuple[np.ndarray, float]:
    """(kappa per factor, alpha): least squares of simulated returns on exposures."""
    from sim.universe import build_universe

    u = build_universe(scn)
    idx = [u.tickers.index(t) for t in sim.index]
    X = np.column_stack([u.exposures[idx], np.ones(len(idx))])
    coef, *_ = np.linalg.lstsq(X, sim.to_numpy(float), rcond=None)
    return coef[:-1], float(coef[-1])


def fit_loadings(
    scn: Scenario, fit: list[str], kappa: np.ndarray, alpha: float, train: pd.DataFrame,
    ridge: float,
) -> np.ndarray:  # fmt: skip
    """Non-negative least squares of the surrogate on the training companies."""
    X, off = features(scn, fit, kappa)
    tickers = scn.tickers
    idx = [tickers.index(t) for t in train.index]
    A = X[idx]
    y = train["real_pct"].to_numpy(float) - off[idx] - alpha
    L0 = current(scn, fit)
    if ridge > 0:
        A = np.vstack([A, np.sqrt(ridge) * np.eye(len(fit)) * np.abs(A).mean()])
        y = np.concatenate([y, np.sqrt(ridge) * L0 * np.abs(A[: len(idx)]).mean()])
    lo = np.zeros(len(fit))
    return np.asarray(lsq_linear(A, y, bounds=(lo, np.full(len(fit), 10.0))).x)


def report(sim: pd.DataFrame, real: pd.DataFrame, group: str | None) -> dict[str, Any]:
    """Statistics of the median-over-seeds simulated returns against the real ones."""
    from analysis.cross_section import spearman

    med = sim.median(axis=1).reindex(real.index)
    x, y = med.to_numpy(float), real["real_pct"].to_numpy(float)
    out: dict[str, Any] = {
        **{m: float(sim.loc[m].median()) for m in BAND_METRICS if m in sim.index},
        "spearman_all": spearman(x, y),
        "mae_points_all": float(np.mean(np.abs(x - y))),
        "per_company": {t: [float(a), float(b)] for t, a, b in zip(real.index, x, y, strict=True)},
        "groups": {
            g: {
                "sim_mean_pct": float(med[t.index].mean()),
                "real_mean_pct": float(t.real_pct.mean()),
            }
            for g, t in real.groupby("group")
        },
    }
    if group is not None:
        g = real[real["group"] == group]
        out["held_out"] = group
        out["spearman_held_out"] = spearman(
            med[g.index].to_numpy(float), g.real_pct.to_numpy(float)
        )
        out["mae_points_held_out"] = float(np.mean(np.abs(med[g.index] - g.real_pct)))
        out["spearman_seeds_held_out"] = [
            spearman(sim.loc[g.index, s].to_numpy(float), g.real_pct.to_numpy(float))
            for s in sim.columns
        ]
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {"population.size": args.size}
    scn = load_scenario(args.scenario, overrides)
    real = real_returns(scn)
    seeds = list(range(1, args.seeds + 1))
    base = simulate(scn, seeds, args.workers)
    if args.evaluate:
        rep = report(base, real, None)
        print(
            f"as shipped: Spearman {rep['spearman_all']:+.3f} MAE {rep['mae_points_all']:.2f} "
            + " ".join(f"{m} {rep[m]:.4g}" for m in BAND_METRICS)
        )
        for g, v in rep["groups"].items():
            print(f"  {g:22s} sim {v['sim_mean_pct']:+6.2f}  real {v['real_mean_pct']:+6.2f}")
        if args.out:
            Path(args.out).write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
        return rep
    kappa, alpha = fit_kappa(scn, base.median(axis=1).reindex(real.index))
    results: dict[str, Any] = {"kappa": kappa.tolist(), "alpha": alpha, "fit": args.fit, "runs": {}}
    for group in args.leave_out:
        held = None if group == "none" else group
        train = real if held is None else real[real["group"] != held]
        L = fit_loadings(scn, args.fit, kappa, alpha, train, args.ridge)
        fitted = with_loadings(scn, args.fit, L)
        sim = simulate(fitted, seeds, args.workers)
        rep = report(sim, real, held)
        rep["loadings"] = dict(zip(args.fit, L.tolist(), strict=True))
        results["runs"][group] = rep
        held_txt = (
            f" held-out Spearman {rep['spearman_held_out']:+.2f} "
            f"(seeds {', '.join(f'{v:+.2f}' for v in rep['spearman_seeds_held_out'])})"
            if held
            else ""
        )
        print(
            f"{group:22s} all Spearman {rep['spearman_all']:+.3f} MAE {rep['mae_points_all']:.2f}"
            f"{held_txt}  loadings {np.round(L, 3).tolist()}",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.calibration.logo", description=__doc__)
    p.add_argument("--scenario", default="scenarios/deepseek_2025.yaml")
    p.add_argument(
        "--leave-out",
        nargs="+",
        default=["chips", "power_cooling", "software"],
        help="groups to hold out in turn ('none': fit on all companies)",
    )
    p.add_argument("--fit", nargs="+", default=[*DEFAULT_FIT, POSITIONING])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--size", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ridge", type=float, default=0.0, help="pull towards the scenario's values")
    p.add_argument("--out", default=None, help="write every number to this JSON file")
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="only simulate the scenario as it is and report its cross-section (no fit)",
    )
    run(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
