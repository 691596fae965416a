"""What a calibration reports: fitted.json's fact tables, report.md, fitted_scenario.yaml.

* ``fitted.json``: fitted parameters, J (and J at the hand-set values), the unconstrained
  optimum and every acceptance candidate tried, every target and validation fact (real,
  simulated mean/min/max/per replication, within?), the fresh-seed check, seeds, code commit;
* ``fitted_scenario.yaml``: a scenario that ``extends:`` the base and sets the fitted values,
  reloaded and checked before the calibration ends;
* ``report.md``: targets and out-of-sample facts with their verdicts, misses flagged;
* ``trace.png``: the objective against the generations (:mod:`analysis.plots.calibration`).
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from analysis.calibration.spec import CalibrationError, CalibrationSpec, Target
from sim.scenario import get_path

__all__ = [
    "fact_rows",
    "fitted_scenario_text",
    "parameter_table",
    "render_report",
    "write_outputs",
]


def fact_rows(
    items: Sequence[Target], runs: Mapping[str, list[float]], fit: bool
) -> list[dict[str, Any]]:
    rows = []
    for t in items:
        vals = [float(v) for v in runs.get(t.label, [])]
        mean = float(np.mean(vals)) if vals else math.nan
        dev = mean - t.value
        row: dict[str, Any] = {
            "name": t.label,
            "custom_name": t.name is not None,
            "metric": t.metric,
            "statistic": t.statistic,
            "scenario": t.scenario or "base",
            "real": t.value,
            "simulated_mean": mean,
            "simulated_min": min(vals) if vals else math.nan,
            "simulated_max": max(vals) if vals else math.nan,
            "per_replication": vals,
            "tolerance": t.tolerance,
            "deviation": dev,
            "within": bool(abs(dev) <= t.tolerance),
            "source": t.source,
        }
        if fit:
            row["weight"] = t.weight
            row["scale"] = t.s
            row["contribution"] = t.weight * (dev / t.s) ** 2
        rows.append(row)
    return rows


def _relative(target: Path, start: Path) -> str:
    try:
        return os.path.relpath(target, start)
    except ValueError:  # different drives: no relative path exists
        return str(target)


def fitted_scenario_text(
    spec: CalibrationSpec, values: Mapping[str, float], out_dir: Path, header: str = ""
) -> str:
    """YAML of a scenario that ``extends:`` the base and sets ``values`` (dotted paths).

    Paths through mappings become nested mappings (merged into the base by ``extends:``).
    A path through a list (``news.viral_cost_claim.credibility``) writes that whole list, changed, since a
    child's list replaces its parent's; the base's other entries are copied unchanged.
    """
    from sim.scenario import apply_overrides, load_raw

    base_raw = load_raw(spec.base_path)
    changed = apply_overrides(base_raw, dict(values), spec.base_path.name)
    nested: dict[str, Any] = {}
    for path in values:
        parts = path.split(".")
        node: Any = changed
        cut = len(parts)
        for i, part in enumerate(parts):
            if isinstance(node, list):
                cut = i  # write the list that holds the value, whole
                break
            node = node[part]
        keys = parts[:cut] if cut < len(parts) else parts
        value = get_path(changed, ".".join(keys))
        tgt = nested
        for k in keys[:-1]:
            tgt = tgt.setdefault(k, {})
        tgt[keys[-1]] = copy.deepcopy(value)
    doc = {"extends": _relative(spec.base_path, out_dir.resolve()), **nested}
    if "name" not in nested:
        doc["name"] = f"{spec.name}_fitted"
    return header + yaml.safe_dump(doc, sort_keys=False, width=100)


def _md_num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    ax = abs(x)
    if ax != 0 and (ax >= 1e6 or ax < 1e-3):
        return f"{x:.3g}"
    return f"{x:.3f}" if ax < 100 else f"{x:.1f}"


def _fact_table(rows: list[dict[str, Any]], fit: bool) -> list[str]:
    head = "| fact | scenario | real | simulated mean [min, max] | tolerance | verdict |"
    sep = "|---|---|---:|---|---:|---|"
    if fit:
        head += " weight | J term |"
        sep += "---:|---:|"
    lines = [head, sep]
    for r in rows:
        what = f"{r['statistic']} of {r['metric']}" if r["statistic"] else r["metric"]
        fact = f"{r['name']} ({what})" if r.get("custom_name") else r["name"]
        sim = (
            f"{_md_num(r['simulated_mean'])} "
            f"[{_md_num(r['simulated_min'])}, {_md_num(r['simulated_max'])}]"
        )
        verdict = "within" if r["within"] else f"**MISS** (off by {_md_num(r['deviation'])})"
        line = (
            f"| {fact} | {r['scenario']} | {_md_num(r['real'])} | {sim} | "
            f"±{_md_num(r['tolerance'])} | {verdict} |"
        )
        if fit:
            line += f" {r['weight']:g} | {_md_num(r['contribution'])} |"
        lines.append(line)
    return lines


def render_report(fitted: dict[str, Any]) -> str:
    opt = fitted["optimizer"]
    lines = [
        f"# Calibration `{fitted['name']}`",
        "",
        f"Method of simulated moments: minimise J = sum_k w_k ((m_k - r_k)/s_k)^2 with m_k the "
        f"mean over {fitted['replications']} replications (common random numbers: seeds "
        f"{fitted['seeds']} at every evaluation), by differential evolution "
        f"(population {fitted['population_size']}, maxiter {opt['maxiter']}, "
        f"tol {opt['tol']}, strategy {opt['strategy']}, init {opt['init']}, no polish).",
        "",
        f"- spec: `{fitted['spec_file']}`; base: `{fitted['base']}`; overrides at every "
        f"evaluation: `{json.dumps(fitted['overrides'], default=str)}` (scenarios ran from "
        "the frozen copies in scenarios/)",
        f"- evaluations: {fitted['n_evaluations']} in {fitted['n_generations']} generations, "
        f"{fitted['wall_s'] / 60:.1f} min wall; optimiser: {fitted['optimizer_message']}",
        f"- objective J: fitted **{_md_num(fitted['objective'])}**"
        + (
            f" (hand-set base values: {_md_num(fitted['base_objective'])})"
            if fitted["base_objective"] is not None
            else ""
        ),
        f"- code (when the calibration started): commit {fitted['code']['commit']}"
        + (" with local changes in sim/" if fitted["code"]["sim_modified"] else ""),
    ]
    for path in fitted.get("scenarios_changed_since_start", []):
        lines.append(
            f"- **warning**: `{path}` changed while the calibration ran; the fit is to the "
            "frozen copy, and fitted_scenario.yaml extends the file as it is now"
        )
    lines += _acceptance_lines(fitted)
    lines += [
        "",
        "## Fitted parameters",
        "",
        "| parameter | low | high | scale | base value | fitted | note |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for p in fitted["parameter_table"]:
        note = "at a bound: the optimum may lie outside" if p["at_bound"] else ""
        lines.append(
            f"| `{p['path']}` | {p['low']:g} | {p['high']:g} | {p['scale']} | "
            f"{_md_num(p['base_value'])} | **{p['fitted']:.4g}** | {note} |"
        )
    t = fitted["targets"]
    n_in = sum(r["within"] for r in t)
    lines += [
        "",
        f"## Targets (fitted): {n_in} of {len(t)} within tolerance",
        "",
        *_fact_table(t, fit=True),
    ]
    v = fitted["validation"]
    if v:
        n_in = sum(r["within"] for r in v)
        lines += [
            "",
            f"## Out-of-sample validation (NOT targeted): {n_in} of {len(v)} within tolerance",
            "",
            "These facts played no part in the fit; they test it.",
            "",
            *_fact_table(v, fit=False),
        ]
    h = fitted.get("holdout")
    if h:
        rows = [*h["targets"], *h["validation"]]
        n_in = sum(r["within"] for r in rows)
        lines += [
            "",
            f"## Fresh seeds: the fitted parameters on {len(h['seeds'])} seeds not used in the "
            f"fit: {n_in} of {len(rows)} within tolerance (J = {_md_num(h['objective'])})",
            "",
            "Same parameters, new random streams: how much of the fit is the particular seeds.",
            "",
            *_fact_table(rows, fit=False),
        ]
    misses = [r["name"] for r in (*t, *v) if not r["within"]]
    lines += ["", "## Misses", ""]
    lines += [f"- {m}" for m in misses] if misses else ["None."]
    return "\n".join(lines) + "\n"


def _acceptance_lines(fitted: dict[str, Any]) -> list[str]:
    """The acceptance section: every candidate tried, its checks, and the choice."""
    acc = fitted.get("acceptance")
    if not acc:
        return []
    unc = fitted["unconstrained_best"]
    if acc["met"]:
        head = (
            f"evaluation {acc['accepted_evaluation']} (J = {_md_num(fitted['objective'])}) is "
            "the best that meets every check"
            + (
                f"; the unconstrained optimum, evaluation {unc['evaluation']} "
                f"(J = {_md_num(unc['objective'])}), does not"
                if unc["evaluation"] != acc["accepted_evaluation"]
                else ""
            )
        )
    else:
        head = (
            f"**NO candidate among the best {len(acc['tried'])} meets every check**: the fitted "
            f"values are the unconstrained optimum (evaluation {unc['evaluation']}), which the "
            "shipped scenario's requirements reject"
        )
    lines = [
        "",
        "## Acceptance: requirements on the scenario as shipped",
        "",
        f"Candidates in order of J, each run with its fitted values and the base's own population "
        f"and calendar, at the scenario's seed {acc['default_seed']} and at seeds "
        f"{acc['seeds'][1:]} (for medians). Result: {head}.",
        "",
    ]
    names = [c["name"] for c in acc["tried"][0]["checks"]] if acc["tried"] else []
    bounds = (
        [f"{c['min'] if c['min'] is not None else '-inf'}..{c['max'] if c['max'] is not None else '+inf'}"
         for c in acc["tried"][0]["checks"]]
        if acc["tried"]
        else []
    )  # fmt: skip
    lines.append(
        "| evaluation | J | "
        + " | ".join(f"{n} in {b}" for n, b in zip(names, bounds, strict=True))
        + " | verdict |"
    )
    lines.append("|---:|---:|" + "---:|" * len(names) + "---|")
    for t in acc["tried"]:
        cells = [
            (_md_num(c["value"]) if c["passed"] else f"**{_md_num(c['value'])}**")
            for c in t["checks"]
        ]
        verdict = "accepted" if t["accepted"] else "rejected"
        if t["errors"]:
            verdict += f" (error: {t['errors'][0]})"
        lines.append(
            f"| {t['evaluation']} | {_md_num(t['objective'])} | "
            + " | ".join(cells)
            + f" | {verdict} |"
        )
    return lines


def parameter_table(
    spec: CalibrationSpec,
    values: Mapping[str, float],
    base_values: Mapping[str, float | None],
) -> list[dict[str, Any]]:
    rows = []
    for p in spec.parameters:
        u = p.to_unit(values[p.path])
        rows.append(
            {
                "path": p.path,
                "low": p.low,
                "high": p.high,
                "scale": p.scale,
                "base_value": base_values[p.path],
                "fitted": values[p.path],
                "at_bound": bool(u < 0.01 or u > 0.99),
            }
        )
    return rows


def write_outputs(
    spec: CalibrationSpec, fitted: dict[str, Any], trace: list[dict[str, Any]], out: Path
) -> None:
    """fitted.json, fitted_scenario.yaml (checked by reloading it), report.md, trace.png."""
    from analysis.plots.calibration import plot_trace
    from sim.io import atomic_write, write_json

    write_json(fitted, out / "fitted.json")
    overrides = json.dumps(spec.overrides, default=str)
    header = (
        f"# Fitted by `calibrate {fitted['spec_file']}` (objective J = {fitted['objective']:.6g})\n"
        f"# at overrides {overrides} with seeds {fitted['seeds']}; see fitted.json, report.md.\n"
    )
    text = fitted_scenario_text(spec, fitted["parameters"], out, header)
    atomic_write(out / "fitted_scenario.yaml", lambda t: Path(t).write_text(text, encoding="utf-8"))
    _verify_fitted_scenario(out / "fitted_scenario.yaml", fitted["parameters"])
    atomic_write(
        out / "report.md", lambda t: Path(t).write_text(render_report(fitted), encoding="utf-8")
    )
    plot_trace(trace, out / "trace.png")


def _verify_fitted_scenario(path: Path, values: Mapping[str, float]) -> None:
    """The written scenario must load and hold exactly the fitted values."""
    from sim.scenario import load_scenario

    dumped = load_scenario(path).model_dump(mode="json")
    for p, v in values.items():
        got = get_path(dumped, p)
        if not math.isclose(float(got), float(v), rel_tol=1e-12, abs_tol=1e-12):
            raise CalibrationError(f"{path}: {p} reads back as {got}, expected {v}")
