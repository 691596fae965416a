"""Scenario files: schema, loading, ``extends:`` inheritance and ``--set`` overrides.

A scenario is a YAML file that fully describes one simulated market: the trading calendar, the
universe of assets with their sourced characteristics, the latent narrative factors, the news,
the investor population and the price-formation mechanism. Every field is validated here
(pydantic, unknown fields rejected) and documented in ``scenarios/README.md``.

Errors are raised as :class:`ScenarioError` whose message names the file, the field path and
what is expected, before anything is written.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

FACTOR_NAMES_REQUIRED = ("compute_demand", "frontier_moat", "cost_of_intelligence")


class ScenarioError(ValueError):
    """A scenario file (or an override) is invalid; the message names file, field and fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------
class CalendarConfig(_Strict):
    """Trading calendar. Sessions run on weekdays in [start, end] that are not holidays."""

    start: dt.date = Field(description="first calendar day simulated (may be a closed day)")
    end: dt.date = Field(description="last calendar day simulated")
    holidays: list[dt.date] = Field(default_factory=list)
    step_minutes: int = Field(5, ge=1, le=390, description="length of one trading step, minutes")
    session_open: dt.time = dt.time(9, 30)
    session_close: dt.time = dt.time(16, 0)
    closed_step_minutes: int = Field(
        60, ge=5, le=1440, description="length of one closed-market step (news still spreads)"
    )

    @model_validator(mode="after")
    def _check(self) -> CalendarConfig:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        open_min = self.session_open.hour * 60 + self.session_open.minute
        close_min = self.session_close.hour * 60 + self.session_close.minute
        if close_min <= open_min:
            raise ValueError("session_close must be after session_open")
        if (close_min - open_min) % self.step_minutes:
            raise ValueError(
                f"step_minutes ({self.step_minutes}) must divide the session length "
                f"({close_min - open_min} minutes)"
            )
        return self


# --------------------------------------------------------------------------------------------
# Universe
# --------------------------------------------------------------------------------------------
class FactorConfig(_Strict):
    name: str
    description: str = ""
    consensus: float = Field(0.0, description="theta_k0: the consensus level priced in at start")


class AssetConfig(_Strict):
    ticker: str = Field(pattern=r"^[A-Z][A-Z0-9.\-]{0,9}$")
    name: str = ""
    group: str = Field("other", description="e.g. chips, big_tech, rest")
    price: float = Field(gt=0, description="starting price, USD per share")
    shares_outstanding: float = Field(gt=0, description="shares")
    adv_shares: float = Field(gt=0, description="average daily volume, shares/day")
    daily_volatility: float = Field(gt=0, lt=1, description="std of daily log returns")
    characteristics: dict[str, float] = Field(default_factory=dict)
    source: str = Field("", description="where the numbers come from")


class IndexConfig(_Strict):
    """A cap-weighted index: each member's market cap counts with the given fraction."""

    members: dict[str, float]
    real_ticker: str | None = Field(None, description="market-data file of the real index")

    @field_validator("members")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("an index needs at least one member")
        for k, w in v.items():
            if not 0 < w <= 1:
                raise ValueError(f"member {k}: weight {w} must be in (0, 1]")
        return v


class UniverseConfig(_Strict):
    assets: list[AssetConfig] = Field(min_length=1)
    exposures: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="factor -> {characteristic: loading}; b_ik = sum_c loading * char_ic",
    )
    rest_of_market: str | None = Field(
        None, description="ticker of the asset that absorbs money rotating out of the others"
    )
    rotation: float = Field(
        0.7, ge=0, le=1, description="fraction of an underweight in the others moved into rest"
    )
    cash_share: float = Field(0.05, ge=0, lt=0.9, description="investors' neutral cash, fraction")

    @model_validator(mode="after")
    def _check(self) -> UniverseConfig:
        tickers = [a.ticker for a in self.assets]
        dup = {t for t in tickers if tickers.count(t) > 1}
        if dup:
            raise ValueError(f"duplicate tickers: {sorted(dup)}")
        if self.rest_of_market is not None and self.rest_of_market not in tickers:
            raise ValueError(f"rest_of_market {self.rest_of_market!r} is not an asset ticker")
        chars = {c for a in self.assets for c in a.characteristics}
        for f, loads in self.exposures.items():
            for c in loads:
                if c not in chars:
                    raise ValueError(
                        f"exposures.{f}: characteristic {c!r} is not given for any asset "
                        f"(known: {sorted(chars)})"
                    )
        return self


# --------------------------------------------------------------------------------------------
# News and beliefs
# --------------------------------------------------------------------------------------------
class NewsEvent(_Strict):
    """One news item: a noisy signal on the latent factors (and optionally on single firms)."""

    time: dt.datetime
    label: str = ""
    signal: dict[str, float] = Field(default_factory=dict, description="factor -> signal")
    idiosyncratic: dict[str, float] = Field(
        default_factory=dict, description="ticker -> signal on that firm's own log value"
    )
    credibility: float = Field(gt=0, description="precision of the signal (1/variance)")
    reach: float = Field(gt=0, le=1, description="fraction told directly by media in ~a day")
    media_half_life_hours: float = Field(12.0, gt=0)
    shock: bool = Field(True, description="marked on plots as part of the shock")


class NewsFlowConfig(_Strict):
    """Ordinary background news: Poisson arrivals of small factor and firm-specific signals."""

    rate_per_day: float = Field(0.0, ge=0, description="expected items per calendar day")
    factor_scale: float = Field(0.05, ge=0, description="scale of factor signals")
    idiosyncratic_scale: float = Field(0.02, ge=0, description="scale of firm signals, log value")
    idiosyncratic_rate_per_day: float = Field(0.0, ge=0, description="firm items per asset-day")
    tail_df: float = Field(3.0, gt=2, description="Student-t degrees of freedom of magnitudes")
    credibility: float = Field(1.0, gt=0)
    reach: float = Field(0.3, gt=0, le=1)
    media_half_life_hours: float = Field(6.0, gt=0)
    max_age_hours: float = Field(24.0, gt=0, description="an ordinary item stops spreading after")
    uncertainty_sd: float = Field(
        0.0, ge=0, description="sd of the log size of news in daily regimes (0: no regimes)"
    )
    uncertainty_persistence: float = Field(
        0.98, ge=0, lt=1, description="daily AR(1) persistence of the news-size regime"
    )


class BeliefsConfig(_Strict):
    prior_precision: float = Field(4.0, gt=0, description="tau_0 on each factor")
    prior_dispersion: float = Field(0.15, ge=0, description="std of prior means across investors")
    bull_share: float = Field(0.5, ge=0, le=1)
    bull_bear_gap: float = Field(
        0.2, ge=0, description="bull prior mean minus bear prior mean, factor units"
    )
    jevons_share: float = Field(
        0.15, ge=0, le=1, description="investors who read cheaper compute as more demand"
    )
    jevons_elasticity: float = Field(0.6, ge=0, description="how strongly they flip the sign")
    trust_mean: float = Field(1.0, gt=0, description="mean trust w in news")
    trust_dispersion: float = Field(0.3, ge=0, description="lognormal sigma of trust")
    idiosyncratic_precision: float = Field(
        2.0, gt=0, description="precision of firm-level beliefs (fixed; no accumulation)"
    )
    memory_half_life_days: float = Field(
        20.0, gt=0, description="precision decays so that old certainty fades"
    )


class NetworkConfig(_Strict):
    """Attention: a Bass hazard h = attention*p_media(t) + q*share_informed_neighbours (per hour)."""

    degree: int = Field(8, ge=1, le=200)
    q: float = Field(0.15, ge=0, description="peer hazard per hour at full informed share")
    attention_dispersion: float = Field(0.5, ge=0, description="lognormal sigma of attention")
    homophily: float = Field(0.5, ge=0, le=1, description="share of links within own cohort")
    max_event_age_hours: float = Field(
        72.0, gt=0, description="an item stops spreading this long after its release"
    )


# --------------------------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------------------------
class CohortBase(_Strict):
    share: float = Field(ge=0, description="weight in the head count (normalised over cohorts)")
    wealth_share: float = Field(ge=0, description="weight in total wealth (normalised)")
    wealth_pareto_alpha: float = Field(1.5, gt=1, description="Pareto tail of wealth sizes")


class _GapClosing(CohortBase):
    """Belief-driven cohorts: they close belief gaps gradually and respond to the price."""

    @model_validator(mode="after")
    def _stable(self):
        # closing the belief gap faster than responding to the price is a cobweb: it diverges
        if self.adjust_per_step > self.price_response_per_step:
            raise ValueError(
                f"adjust_per_step ({self.adjust_per_step}) must not exceed "
                f"price_response_per_step ({self.price_response_per_step})"
            )
        return self


class FundamentalConfig(_GapClosing):
    risk_aversion: float = Field(2.0, gt=0, description="gamma in x=(E logV - log p)/(gamma s2)")
    horizon_days: float = Field(250.0, gt=0, description="sigma^2 is over this horizon")
    adjust_per_step: float = Field(
        0.02, gt=0, le=1, description="kappa: share of the belief gap closed per step"
    )
    open_adjust: float = Field(0.6, gt=0, le=1, description="kappa at the opening auction")
    price_response_per_step: float = Field(
        0.02, gt=0, le=1, description="kappa_p: share of a price-driven target change traded"
    )
    max_weight_multiple: float = Field(3.0, gt=1, description="position limit: k x benchmark")
    reaction: float = Field(1.0, gt=0, description="over(>1)/under(<1)-reaction to news")


class MomentumConfig(CohortBase):
    horizons_steps: list[int] = Field(
        default_factory=lambda: [39, 78, 234, 390], min_length=1, description="look-backs, steps"
    )
    aggressiveness: float = Field(1.0, ge=0, description="max tilt, multiple of benchmark")
    signal_scale: float = Field(0.05, gt=0, description="log-return that saturates the tilt")
    adjust_per_step: float = Field(0.01, gt=0, le=1)
    switch_rate: float = Field(0.02, ge=0, description="Franke-Westerhoff base switching/step")
    herding: float = Field(1.0, ge=0, description="alpha_n: pull of the active share")
    volatility_attraction: float = Field(
        2.0, ge=0, description="alpha_v: recent |returns| in units of normal vol attract"
    )
    predisposition: float = Field(-0.5, description="alpha_0: <0 means mostly inactive")


class VolTargetConfig(CohortBase):
    target_volatility: float = Field(0.10, gt=0, description="annualised target")
    max_leverage: float = Field(1.5, gt=0)
    ewma_halflife_steps: float = Field(390.0, gt=0, description="their realised-vol memory")
    adjust_per_day: float = Field(0.3, gt=0, le=1, description="share of the gap closed per day")
    rebalance_steps: int = Field(
        12, ge=1, description="they trade over this many last steps of each session"
    )


class LeveragedConfig(_GapClosing):
    leverage: float = Field(3.0, ge=1, description="gross exposure / equity at target")
    risk_aversion: float = Field(2.0, gt=0)
    horizon_days: float = Field(120.0, gt=0)
    adjust_per_step: float = Field(0.02, gt=0, le=1)
    open_adjust: float = Field(0.7, gt=0, le=1)
    price_response_per_step: float = Field(0.02, gt=0, le=1)
    maintenance_margin: float = Field(0.15, gt=0, lt=1, description="equity/gross floor")
    initial_margin: float = Field(0.2, gt=0, lt=1, description="equity/gross restored")
    forced_sale_per_step: float = Field(
        0.1, gt=0, le=1, description="share of a margin call's cut sold per step"
    )
    var_sensitivity: float = Field(
        0.5, ge=0, description="neutral book scaled by (vol/normal vol)^-this when vol is high"
    )
    margin_vol_sensitivity: float = Field(
        1.0, ge=0, description="margins scale with (vol/normal vol)^this, when vol is above normal"
    )
    short_limit: float = Field(1.0, ge=0, description="max short, multiple of benchmark")
    crowding: float = Field(
        1.0, ge=0, description="overweight of compute-exposed names in their neutral book"
    )
    reaction: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _margins(self) -> LeveragedConfig:
        if self.initial_margin <= self.maintenance_margin:
            raise ValueError("initial_margin must exceed maintenance_margin")
        return self


class PassiveConfig(CohortBase):
    flow_volatility: float = Field(0.001, ge=0, description="daily std of flows, fraction AUM")


class RetailConfig(CohortBase):
    noise_volume_share: float = Field(
        0.6, ge=0, description="noise trading as a fraction of normal volume"
    )
    dip_buying: float = Field(
        0.5, ge=0, description="fraction of wealth bought per unit log drop since prior close"
    )
    sentiment_weight: float = Field(0.2, ge=0, le=1, description="mood part of noise orders")
    common_noise: float = Field(
        0.6, ge=0, le=1, description="market-wide liquidity-shock part of noise orders"
    )
    herding: float = Field(0.6, ge=0, description="Kirman: switch hazard from neighbours")
    autonomous_switch: float = Field(0.01, ge=0, description="Kirman epsilon per step")
    return_feedback: float = Field(5.0, ge=0, description="pessimism from losses (per log-ret)")
    max_cash_use: float = Field(0.5, gt=0, le=1)
    activity: float = Field(
        0.1, gt=0, le=1, description="probability that a member trades in a given step"
    )


class MarketMakerConfig(CohortBase):
    depth: float = Field(1.0, gt=0, description="orders of ADV/steps moving price one step-vol")
    inventory_limit_adv: float = Field(0.5, gt=0, description="max |inventory|, days of ADV")
    inventory_aversion: float = Field(0.05, ge=0, le=1, description="share shed per step")
    vol_widening: float = Field(1.0, ge=0, description="depth ~ (vol0/vol)^widening")


class CohortsConfig(_Strict):
    fundamental: FundamentalConfig
    momentum: MomentumConfig
    vol_target: VolTargetConfig
    leveraged: LeveragedConfig
    passive: PassiveConfig
    retail: RetailConfig
    market_maker: MarketMakerConfig

    @model_validator(mode="after")
    def _sums(self) -> CohortsConfig:
        # shares are weights, normalised here, so a sweep can vary one cohort on its own
        cs = [getattr(self, n) for n in type(self).model_fields]
        if sum(c.share for c in cs) <= 0 or sum(c.wealth_share for c in cs) <= 0:
            raise ValueError("cohort shares and wealth_shares must not all be zero")
        if self.market_maker.share <= 0 or self.market_maker.wealth_share <= 0:
            raise ValueError("market_maker needs a positive share and wealth_share")
        return self

    def normalised(self, field: str) -> dict[str, float]:
        """Each cohort's ``share`` or ``wealth_share`` divided by the total over cohorts."""
        vals = {n: getattr(getattr(self, n), field) for n in type(self).model_fields}
        total = sum(vals.values())
        return {n: v / total for n, v in vals.items()}


class PopulationConfig(_Strict):
    size: int = Field(10_000, ge=100, le=50_000_000, description="number of investors")
    dtype: Literal["float32", "float64"] = Field(
        "float64", description="precision of per-investor arrays"
    )
    cohorts: CohortsConfig


class PriceFormationConfig(_Strict):
    mechanism: Literal["batch_auction", "market_maker"] = "batch_auction"
    impact_y: float = Field(1.0, gt=0, description="Y in dp/p = Y sigma_d sqrt(Q/V_d)")
    bins: int = Field(256, ge=16, le=8192, description="resolution of aggregated demand")
    bracket: float = Field(0.7, gt=0, le=3, description="max |log move| per clearing")
    tolerance: float = Field(1e-10, gt=0, description="root tolerance, log-price")
    volatility_halflife_steps: float = Field(
        39.0, gt=0, description="memory of the realised volatility everyone observes"
    )


class ReferenceConfig(_Strict):
    """Real values printed next to the simulated ones (not used by the model)."""

    shock_date: dt.date | None = None
    returns_pct: dict[str, float] = Field(default_factory=dict, description="ticker -> % on date")
    index_returns_pct: dict[str, float] = Field(default_factory=dict)
    dollar_loss_usd: dict[str, float] = Field(default_factory=dict)
    market_data_dir: str = Field("../shared/market-data", description="relative to the repo")


class Scenario(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    seed: int = Field(0, ge=0)
    calendar: CalendarConfig
    factors: list[FactorConfig] = Field(min_length=1)
    universe: UniverseConfig
    indices: dict[str, IndexConfig] = Field(default_factory=dict)
    beliefs: BeliefsConfig = Field(default_factory=BeliefsConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    news: list[NewsEvent] = Field(default_factory=list)
    news_flow: NewsFlowConfig = Field(default_factory=NewsFlowConfig)
    population: PopulationConfig
    price_formation: PriceFormationConfig = Field(default_factory=PriceFormationConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        fnames = [f.name for f in self.factors]
        missing = [f for f in FACTOR_NAMES_REQUIRED if f not in fnames]
        if missing:
            raise ValueError(f"factors: missing required factor(s) {missing}")
        tickers = {a.ticker for a in self.universe.assets}
        for f in self.universe.exposures:
            if f not in fnames:
                raise ValueError(f"universe.exposures: unknown factor {f!r} (known: {fnames})")
        for name, idx in self.indices.items():
            for t in idx.members:
                if t not in tickers:
                    raise ValueError(
                        f"indices.{name}.members: unknown ticker {t!r} (known: {sorted(tickers)})"
                    )
        start = dt.datetime.combine(self.calendar.start, dt.time(0, 0))
        end = dt.datetime.combine(self.calendar.end, dt.time(23, 59, 59))
        for i, ev in enumerate(self.news):
            for f in ev.signal:
                if f not in fnames:
                    raise ValueError(f"news.{i}.signal: unknown factor {f!r} (known: {fnames})")
            for t in ev.idiosyncratic:
                if t not in tickers:
                    raise ValueError(
                        f"news.{i}.idiosyncratic: unknown ticker {t!r} (known: {sorted(tickers)})"
                    )
            if not start <= ev.time <= end:
                raise ValueError(
                    f"news.{i}.time: {ev.time} is outside the calendar "
                    f"({self.calendar.start} to {self.calendar.end})"
                )
        # holidays outside [start, end] are allowed and simply unused, so a shortened calendar
        # (--set calendar.end=...) keeps its parent's holiday list
        ref = self.reference
        if ref.shock_date is not None and not (
            self.calendar.start <= ref.shock_date <= self.calendar.end
        ):
            raise ValueError(f"reference.shock_date: {ref.shock_date} is outside the calendar")
        for t in list(ref.returns_pct) + list(ref.dollar_loss_usd):
            if t not in tickers:
                raise ValueError(f"reference: unknown ticker {t!r}")
        return self

    @property
    def tickers(self) -> list[str]:
        return [a.ticker for a in self.universe.assets]

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: mappings merge recursively, everything else replaces."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def yaml_error_text(err: yaml.YAMLError) -> str:
    """`` (line L, column C): problem`` of a YAML parse error, for one-line messages."""
    mark = getattr(err, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    problem = getattr(err, "problem", None) or " ".join(str(err).split())
    return f"{where}: {problem}"


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: malformed YAML{yaml_error_text(exc)}") from None
    if data is None:
        raise ScenarioError(f"{path}: the file is empty; expected a mapping of scenario fields")
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields at top level")
    return data


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and resolve ``extends:`` (paths relative to the file) recursively."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ScenarioError(f"{path}: extends: circular inheritance ({chain})")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected a file path (string), got {parent!r}")
    base = load_raw(path.parent / parent, (*_seen, path))
    # A child's news list replaces the parent's unless it asks to append.
    extra_news = data.pop("news_append", None)
    merged = _deep_merge(base, data)
    if extra_news is not None:
        if not isinstance(extra_news, list):
            raise ScenarioError(f"{path}: news_append: expected a list of news events")
        merged["news"] = list(merged.get("news", [])) + extra_news
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key.path=value`` (value read as YAML, so numbers and lists work)."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected key.path=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ScenarioError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], origin: str) -> dict[str, Any]:
    """Set dotted paths (``population.cohorts.momentum.share``, ``news.2.credibility``)."""
    out = copy.deepcopy(data)
    for key, value in overrides.items():
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(
                        f"{origin}: override {key}: {where}: expected an index below {len(node)}"
                    )
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if part not in node:
                        node[part] = {}
                    node = node[part]
            else:
                raise ScenarioError(f"{origin}: override {key}: {where} is not a mapping or list")
    return out


def _format_validation(origin: str, exc: ValidationError, data: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see scenarios/README.md)"
        got = err.get("input")
        got_txt = "" if err["type"] in ("missing", "extra_forbidden") else f" (got {got!r})"
        if isinstance(got, dict | list):
            got_txt = ""
        lines.append(f"{origin}: {loc}: {msg}{got_txt}")
    return "\n".join(lines)


def validate(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    """Validate a raw mapping into a :class:`Scenario`, raising :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation(origin, exc, data)) from None


def load_scenario(
    path: str | Path,
    overrides: dict[str, Any] | None = None,
) -> Scenario:
    """Load, inherit, override and validate a scenario file."""
    p = Path(path)
    data = load_raw(p)
    if overrides:
        data = apply_overrides(data, overrides, p.name)
    return validate(data, p.name)
