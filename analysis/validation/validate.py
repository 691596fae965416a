"""Validation: the stylized facts of simulated daily returns against a real price series.

``validate`` runs a scenario with N seeds (``analysis.experiments.ensemble.replication_seeds``), takes the
daily log returns ``ln(close_t / close_{t-1})`` (fraction per session; the first session against
the scenario's starting price) of one ticker in each replication, and measures them with the
same estimators as the real series (:mod:`analysis.validation.stylized`). It writes into ``out``:

* ``validation.json`` -- ``{"statistics": {NAME: {"simulated_median", "simulated_min",
  "simulated_max", "real", "check", "passed"}}, "scenario", "ticker", "replications",
  "seeds", "real_file", ...}``; a statistic that cannot be estimated on the series at hand
  (e.g. the Hill index or the 20-day kurtosis on fewer than 200 returns) is ``null``;
* ``report.md`` -- the table (statistic, simulated median [min, max], real, check, pass/miss)
  with the figures embedded by relative path;
* ``plots/acf.png`` (ACF of returns and of ``|returns|``, simulated median with min-max band
  against the real series), ``plots/distribution.png`` (standardised returns, log-scale density,
  simulated pooled against real and the normal) and ``plots/qq.png`` (QQ plot against the
  normal).

The checks are the three facts a calm market should show (Cont 2001): fat tails (excess
kurtosis > 2), no linear predictability (|ACF of returns at lag 1| < 0.1) and volatility
clustering (mean ACF of |returns| over lags 1-20 > 0.05), applied to the simulated median.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.metrics import table_log_returns
from analysis.validation.stylized import STATISTICS

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from analysis.experiments.runner import Pool
    from sim.scenario import Scenario

__all__ = [
    "CHECKS",
    "MIN_RETURNS",
    "ValidationError",
    "check_statistic",
    "check_validation",
    "stylized_facts",
    "validate",
]

# fewer daily returns than this cannot say anything about lags 1-20
MIN_RETURNS = 40
#: Modules the workers of a validation import once (in the local pool's fork server).
PRELOAD = ("sim.simulate", "analysis.validation.validate")


@dataclass(frozen=True)
class Check:
    """A stylized fact the simulated median must show: ``op`` is ">" or "abs<"."""

    op: str
    threshold: float

    def __str__(self) -> str:
        return f"> {self.threshold:g}" if self.op == ">" else f"|x| < {self.threshold:g}"

    def passed(self, value: float | None) -> bool | None:
        if value is None or not math.isfinite(value):
            return None
        return value > self.threshold if self.op == ">" else abs(value) < self.threshold


CHECKS: dict[str, Check] = {
    "excess_kurtosis": Check(">", 2.0),
    "acf_returns_lag1": Check("abs<", 0.1),
    "acf_abs_returns_mean_1_20": Check(">", 0.05),
}

DEFAULT_START = "2016-01-01"
DEFAULT_END = "2024-12-31"


class ValidationError(ValueError):
    """Bad input to a validation (missing file, unknown ticker, too-short series); one line."""


def check_statistic(name: str, value: float | None) -> bool | None:
    """Whether ``value`` of statistic ``name`` passes its check (None: no check or no value)."""
    c = CHECKS.get(name)
    return None if c is None else c.passed(value)


def stylized_facts(r: Any) -> dict[str, float | None]:
    """Every statistic of :data:`STATISTICS` on returns ``r`` (None where not estimable).

    Identical to :func:`analysis.validation.stylized.summary` when that one works (>= 200 returns); on
    shorter series the statistics that need more data are None instead of an error.
    """
    a = np.asarray(r, dtype=float)
    a = a[~np.isnan(a)]
    out: dict[str, float | None] = {}
    for name, stat in STATISTICS.items():
        try:
            v = float(stat.compute(a))
        except ValueError:
            v = None
        out[name] = v if v is not None and math.isfinite(v) else None
    return out


def _simulate_returns(scenario: Scenario, seed: int, ticker: str) -> np.ndarray:
    """Worker: one replication's daily log returns of ``ticker`` (fraction per session)."""
    from sim.simulate import run_model

    _, res = run_model(scenario, seed=seed, progress=False)
    return table_log_returns(res.daily, ticker)


def _aggregate(values: list[float | None]) -> dict[str, float | None]:
    a = np.array([v for v in values if v is not None], dtype=float)
    if a.size == 0:
        return {"simulated_median": None, "simulated_min": None, "simulated_max": None}
    return {
        "simulated_median": float(np.median(a)),
        "simulated_min": float(a.min()),
        "simulated_max": float(a.max()),
    }


def _choose_ticker(scenario: Scenario, real_file: Path, ticker: str | None) -> str:
    if ticker is not None:
        if ticker not in scenario.tickers:
            raise ValidationError(
                f"--ticker {ticker}: not in scenario {scenario.name} "
                f"(tickers: {', '.join(scenario.tickers)})"
            )
        return ticker
    stem = real_file.stem.upper()
    return stem if stem in scenario.tickers else scenario.tickers[0]


def _load_real(real_file: Path, start: str | None, end: str | None) -> pd.Series:
    from analysis.validation.realdata import load_returns

    if not real_file.is_file():
        raise ValidationError(f"{real_file}: real price file not found")
    try:
        r = load_returns(real_file, start, end)
    except ValueError as exc:
        raise ValidationError(str(exc).splitlines()[0]) from None
    if r.size < MIN_RETURNS:
        raise ValidationError(
            f"{real_file}: only {r.size} daily returns between {start} and {end}, "
            f"need at least {MIN_RETURNS}"
        )
    return r


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def _num(v: float | None) -> str:
    if v is None:
        return "n/a"
    if float(v).is_integer() and abs(v) < 1e9:
        return str(int(v))
    if v != 0 and (abs(v) >= 1000 or abs(v) < 0.001):
        return f"{v:.3g}"
    return f"{v:.4g}" if abs(v) < 1 else f"{v:.3f}".rstrip("0").rstrip(".")


def render_report(result: dict[str, Any], plots: dict[str, str]) -> str:
    """The Markdown report: table of statistics with pass/miss, then the figures."""
    stats = result["statistics"]
    lines = [
        f"# Validation of `{result['scenario']}`: {result['ticker']} daily returns",
        "",
        f"- Simulated: {result['replications']} replications of `{result['scenario']}` "
        f"(base seed {result['base_seed']}; seeds {', '.join(map(str, result['seeds']))}), "
        f"{result['simulated_returns_per_replication']} daily returns each.",
        f"- Real: `{result['real_file']}`, {result['real_start']} to {result['real_end']}, "
        f"{result['real_returns']} daily returns.",
        "- Returns are daily log returns (fraction per session); statistics are dimensionless "
        "unless stated. Checks apply to the simulated median.",
        "",
        "| statistic | simulated median [min, max] | real | check | result |",
        "|---|---|---|---|---|",
    ]
    for name, s in stats.items():
        desc = STATISTICS[name].description
        sim = (
            f"{_num(s['simulated_median'])} [{_num(s['simulated_min'])}, "
            f"{_num(s['simulated_max'])}]"
        )
        check = s.get("check") or ""
        res = {True: "**pass**", False: "**miss**", None: ""}[s.get("passed")]
        if s.get("check") and s.get("passed") is None:
            res = "n/a"
        row = [f"`{name}` ({desc})", sim, _num(s["real"]), check, res]
        # a literal | inside a cell would end it
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    n_pass = sum(1 for n in CHECKS if stats[n].get("passed"))
    lines += ["", f"**{n_pass} of {len(CHECKS)} checks pass.**", ""]
    captions = {
        "acf": "Autocorrelation of returns and of absolute returns",
        "distribution": "Distribution of standardised returns (log-scale density)",
        "qq": "QQ plot against the normal",
    }
    for key, rel in plots.items():
        lines += [f"## {captions[key]}", "", f"![{captions[key]}]({rel})", ""]
    return "\n".join(lines)


def check_validation(
    scenario: Scenario,
    real_file: str | Path,
    ticker: str | None = None,
    replications: int = 5,
    start: str | None = DEFAULT_START,
    end: str | None = DEFAULT_END,
) -> tuple[str, pd.Series]:
    """The simulated ticker and the real daily log returns, or :class:`ValidationError`.

    Every check of :func:`validate` that needs no simulation: a missing or unreadable real
    file, an unknown ticker, too few real returns or too few sessions in the scenario.
    """
    from sim.calendar import sessions

    real_file = Path(real_file)
    if replications < 1:
        raise ValidationError(f"--replications must be at least 1, got {replications}")
    tk = _choose_ticker(scenario, real_file, ticker)
    real = _load_real(real_file, start, end)
    n_sessions = len(sessions(scenario.calendar))
    if n_sessions < MIN_RETURNS:
        raise ValidationError(
            f"scenario {scenario.name}: its calendar has {n_sessions} sessions, so too few daily "
            f"returns; need at least {MIN_RETURNS} (lengthen calendar.end)"
        )
    return tk, real


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def validate(
    scenario: Scenario,
    real_file: str | Path,
    out: str | Path,
    *,
    ticker: str | None = None,
    replications: int = 5,
    seed: int | None = None,
    start: str | None = DEFAULT_START,
    end: str | None = DEFAULT_END,
    workers: int | None = None,
    executor: Pool | Executor | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the replications, compare their stylized facts with the real series, write files.

    Raises :class:`ValidationError` (one-line message) before any simulation for a missing or
    unreadable real file, an unknown ticker or fewer than ``MIN_RETURNS`` returns, and after
    the first replication for a too-short simulated series. Returns the ``validation.json``
    content.
    """
    from analysis.experiments.ensemble import replication_seeds, run_replications
    from analysis.plots.validation import plot_acf, plot_distribution, plot_qq
    from sim.io import atomic_write, write_json

    real_file = Path(real_file)
    out = Path(out)
    if workers is not None and workers < 1:
        raise ValidationError(f"--workers must be at least 1, got {workers}")
    tk, real = check_validation(scenario, real_file, ticker, replications, start, end)
    base = scenario.seed if seed is None else seed
    seeds = replication_seeds(base, replications)
    sims = run_replications(
        _simulate_returns,
        [(scenario, s, tk) for s in seeds],
        executor=executor,
        workers=workers,
        progress=progress,
        desc=f"validate {scenario.name}",
        preload=PRELOAD,
    )
    for s, sd in zip(sims, seeds, strict=True):
        if not np.isfinite(s).all():
            raise ValidationError(f"{scenario.name} seed {sd}: non-finite {tk} prices")
        if not np.ptp(s) > 0:
            raise ValidationError(f"{scenario.name} seed {sd}: {tk}'s daily returns are constant")

    per_rep = [stylized_facts(s) for s in sims]
    real_facts = stylized_facts(real.to_numpy())
    statistics: dict[str, Any] = {}
    for name in STATISTICS:
        entry: dict[str, Any] = _aggregate([f[name] for f in per_rep])
        entry["real"] = real_facts[name]
        if name in CHECKS:
            entry["check"] = str(CHECKS[name])
            entry["passed"] = check_statistic(name, entry["simulated_median"])
        statistics[name] = entry

    n_sim = min(s.size for s in sims)
    max_lag = int(min(100, n_sim - 2, real.size - 2))
    plots_dir = out / "plots"
    label = f"{scenario.name} {tk} ({replications} runs) vs real {real_file.stem}"
    plot_acf(sims, real.to_numpy(), max_lag, label, plots_dir / "acf.png")
    plot_distribution(sims, real.to_numpy(), label, plots_dir / "distribution.png")
    plot_qq(sims, real.to_numpy(), label, plots_dir / "qq.png")
    rel = {k: f"plots/{k}.png" for k in ("acf", "distribution", "qq")}

    result: dict[str, Any] = {
        "statistics": statistics,
        "scenario": scenario.name,
        "ticker": tk,
        "replications": replications,
        "base_seed": base,
        "seeds": seeds,
        "real_file": str(real_file),
        "real_start": str(real.index[0].date()),
        "real_end": str(real.index[-1].date()),
        "real_returns": int(real.size),
        "simulated_returns_per_replication": int(n_sim),
        "per_replication": [{"seed": s, **f} for s, f in zip(seeds, per_rep, strict=True)],
        "checks_passed": all(statistics[n].get("passed") for n in CHECKS),
        "plots": rel,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }
    write_json(result, out / "validation.json")
    text = render_report(result, rel)

    def _write(tmp: str) -> None:
        Path(tmp).write_text(text + "\n")

    atomic_write(out / "report.md", _write)
    return result
