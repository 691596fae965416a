"""Reference tables of every scenario field, generated from the schema.

``python -m sim.scenario_doc`` prints Markdown tables (field, type, default, meaning) that are
pasted into ``scenarios/README.md``; a test checks that the README names every field.
"""

from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sim.scenario import Scenario

# meanings of fields whose schema entry has no description of its own
EXTRA = {
    "name": "scenario name; names the default output folder results/<name>/",
    "description": "free text",
    "seed": "default integer seed of a run (--seed overrides)",
    "calendar": "trading calendar",
    "calendar.holidays": "closed weekdays (YYYY-MM-DD)",
    "calendar.session_open": "opening call auction time, HH:MM (exchange time)",
    "calendar.session_close": "close, HH:MM",
    "factors": "latent narrative factors (must include compute_demand, frontier_moat, "
    "cost_of_intelligence)",
    "factors[].name": "factor name used in exposures and news signals",
    "factors[].description": "free text",
    "universe": "assets and how their values load on the factors",
    "universe.assets": "list of assets",
    "universe.assets[].ticker": "ticker, upper case (used by indices, news and outputs)",
    "universe.assets[].name": "company name",
    "universe.assets[].characteristics": "sourced company characteristics (fractions), "
    "name -> value; combined with universe.exposures into factor exposures",
    "indices": "cap-weighted indices reported in outputs, name -> index",
    "indices[].members": "ticker -> fraction of its market cap counted, in (0, 1]",
    "beliefs": "priors and interpretation of news",
    "beliefs.bull_share": "fraction of investors with bullish priors on compute demand and moat",
    "network": "attention and the social network news spreads on",
    "network.degree": "contacts per investor (fixed, so cost grows linearly with N)",
    "news": "scheduled news events (a child scenario replaces the list; news_append adds)",
    "news[].time": "release time, YYYY-MM-DDTHH:MM:SS (exchange time), inside the calendar",
    "news[].label": "text shown in outputs and plots",
    "news[].media_half_life_hours": "half-life of media attention to the item, hours",
    "news_flow": "ordinary background news",
    "news_flow.credibility": "precision of ordinary items",
    "news_flow.reach": "media reach of ordinary items (fraction)",
    "news_flow.media_half_life_hours": "half-life of media attention, hours",
    "population": "investor population",
    "population.cohorts": "one entry per strategy type (all seven required)",
    "population.cohorts.fundamental": "active funds: mean-variance on believed values, long-only",
    "population.cohorts.momentum": "trend followers (CTAs) with Franke-Westerhoff activity switching",
    "population.cohorts.momentum.adjust_per_step": "share of the gap to target traded per step",
    "population.cohorts.vol_target": "volatility targeters / risk parity",
    "population.cohorts.vol_target.max_leverage": "cap on exposure / benchmark",
    "population.cohorts.leveraged": "hedge funds: levered, may short, margin calls",
    "population.cohorts.leveraged.risk_aversion": "gamma of the tilt (as for fundamental)",
    "population.cohorts.leveraged.horizon_days": "horizon of sigma^2, trading days",
    "population.cohorts.leveraged.adjust_per_step": "kappa: share of the belief gap closed per step",
    "population.cohorts.leveraged.open_adjust": "kappa at the opening auction",
    "population.cohorts.leveraged.price_response_per_step": "kappa_p: price response per step",
    "population.cohorts.leveraged.reaction": "over(>1)/under(<1)-reaction to news",
    "population.cohorts.passive": "index funds: hold; trade only on flows at the close",
    "population.cohorts.retail": "retail / noise traders",
    "population.cohorts.retail.max_cash_use": "largest fraction of cash spent in one step",
    "population.cohorts.market_maker": "liquidity providers; residual counterparty of the auction",
    "price_formation": "how orders become prices",
    "price_formation.mechanism": "batch_auction (Walrasian clearing each step) or market_maker "
    "(square-root impact)",
    "reference": "real values printed beside the simulated ones; not used by the model",
    "reference.index_returns_pct": "index name -> real return on the shock date, percent",
    "reference.dollar_loss_usd": "ticker -> real market-value change on the shock date, USD",
}


def _submodel(annotation: typing.Any) -> type[BaseModel] | None:
    for a in (annotation, *typing.get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        for b in typing.get_args(a):
            if isinstance(b, type) and issubclass(b, BaseModel):
                return b
    return None


def field_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, object]]:
    """Every (dotted path, FieldInfo) of the schema; list items are written ``[]``."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info))
        sub = _submodel(info.annotation)
        if sub is not None:
            is_list = typing.get_origin(info.annotation) in (list, dict)
            out.extend(field_paths(sub, f"{path}{'[].' if is_list else '.'}"))
    return out


def _type_name(info) -> str:
    t = info.annotation
    s = getattr(t, "__name__", None) or str(t)
    return s.replace("typing.", "").replace("datetime.", "")


def markdown() -> str:
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for path, info in field_paths():
        if info.default is PydanticUndefined and info.default_factory is None:
            default = "required"
        elif info.default_factory is not None:
            default = repr(info.default_factory())
        else:
            default = repr(info.default)
        desc = (info.description or EXTRA.get(path, "")).replace("|", "/")
        rows.append(f"| `{path}` | {_type_name(info)} | {default} | {desc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())
