"""The scenario schema: every section of a scenario file as a validated pydantic model.

A scenario is a YAML file that fully describes one simulated market: the trading calendar, the
universe of assets with their sourced characteristics, the latent narrative factors, the news,
the investor population and the price-formation mechanism. Every field is validated here
(pydantic, unknown fields rejected) and documented in ``scenarios/README.md``.

The ``population.cohorts`` section is built from the cohort registry (:mod:`sim.cohorts`): each
registered investor type contributes its own configuration model. Reading files, ``extends:``
and ``--set`` live in :mod:`sim.scenario.loading`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model, model_validator

from sim.cohorts import CohortConfig, CohortType, cohort_types
from sim.fields import FactorUnits, LogValue, StrictModel

# the universe section lives in its own module; re-exported here with the rest of the schema
from sim.scenario.universe_config import AssetConfig as AssetConfig
from sim.scenario.universe_config import IndexConfig as IndexConfig
from sim.scenario.universe_config import MarketDataConfig as MarketDataConfig
from sim.scenario.universe_config import PositioningConfig as PositioningConfig
from sim.scenario.universe_config import UniverseConfig as UniverseConfig

FACTOR_NAMES_REQUIRED = ("compute_demand", "frontier_moat", "cost_of_intelligence")
#: The longest calendar a scenario may span (ten years).
MAX_CALENDAR_DAYS = 3660


class ScenarioError(ValueError):
    """A scenario file (or an override) is invalid; the message names file, field and fix.

    Messages are capped (20 lines of 300 characters), so no value or file of any size is ever
    echoed whole.
    """

    MAX_LINES = 20
    MAX_LINE = 300

    def __init__(self, message: str) -> None:
        lines = str(message).splitlines() or [""]
        kept = [
            line if len(line) <= self.MAX_LINE else line[: self.MAX_LINE - 3] + "..."
            for line in lines[: self.MAX_LINES]
        ]
        if len(lines) > self.MAX_LINES:
            kept.append(f"... and {len(lines) - self.MAX_LINES} more problems")
        super().__init__("\n".join(kept))


_Strict = StrictModel


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------
class CalendarConfig(_Strict):
    """Trading calendar. Sessions run on weekdays in [start, end] that are not holidays."""

    start: dt.date = Field(description="first calendar day simulated (may be a closed day)")
    end: dt.date = Field(description="last calendar day simulated")
    holidays: list[dt.date] = Field(
        default_factory=list, description="closed weekdays (YYYY-MM-DD)"
    )
    step_minutes: int = Field(5, ge=1, le=390, description="length of one trading step, minutes")
    session_open: dt.time = Field(
        dt.time(9, 30), description="opening call auction time, HH:MM (exchange time)"
    )
    session_close: dt.time = Field(dt.time(16, 0), description="close, HH:MM")
    closed_step_minutes: int = Field(
        60, ge=5, le=1440, description="length of one closed-market step (news still spreads)"
    )

    @model_validator(mode="after")
    def _check(self) -> CalendarConfig:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if (self.end - self.start).days > MAX_CALENDAR_DAYS:
            raise ValueError(
                f"end: {self.end} is more than {MAX_CALENDAR_DAYS} days after start "
                f"({self.start}); split a longer study into several scenarios"
            )
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
    """A latent narrative factor investors hold beliefs about."""

    name: str = Field(description="factor name used in exposures and news signals")
    description: str = Field("", description="free text")
    consensus: float = Field(
        0.0, ge=-10, le=10, description="theta_k0: the consensus level priced in at start"
    )


# --------------------------------------------------------------------------------------------
# News and beliefs
# --------------------------------------------------------------------------------------------
class NewsEvent(_Strict):
    """One news item: a noisy signal on the latent factors (and optionally on single firms)."""

    id: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,47}$",
        description="stable name of the item (lower case, digits, _), unique in the scenario; "
        "--set, sweeps and calibrations address it as news.<id>.<field>",
    )
    time: dt.datetime = Field(
        description="release time, YYYY-MM-DDTHH:MM:SS (exchange time), inside the calendar"
    )
    label: str = Field("", description="text shown in outputs and plots")
    signal: dict[str, FactorUnits] = Field(
        default_factory=dict, description="factor -> signal, factor units in [-10, 10]"
    )
    idiosyncratic: dict[str, LogValue] = Field(
        default_factory=dict, description="ticker -> signal on that firm's own log value"
    )
    credibility: float = Field(ge=1e-3, le=1000, description="precision of the signal (1/variance)")
    reach: float = Field(ge=1e-4, le=1, description="fraction told directly by media in ~a day")
    media_half_life_hours: float = Field(
        12.0, ge=0.01, le=720, description="half-life of media attention to the item, hours"
    )
    shock: bool = Field(True, description="marked on plots as part of the shock")
    source: str = Field(
        "", max_length=500, description="where the item is documented (publisher, date, title)"
    )


class NewsFlowConfig(_Strict):
    """Ordinary background news: Poisson arrivals of small factor and firm-specific signals."""

    rate_per_day: float = Field(0.0, ge=0, le=1000, description="expected items per calendar day")
    factor_scale: float = Field(0.05, ge=0, le=5, description="scale of factor signals")
    idiosyncratic_scale: float = Field(
        0.02, ge=0, le=1, description="scale of firm signals, log value"
    )
    idiosyncratic_rate_per_day: float = Field(
        0.0, ge=0, le=100, description="firm items per asset-day"
    )
    tail_df: float = Field(
        3.0, ge=2.1, le=1000, description="Student-t degrees of freedom of magnitudes"
    )
    credibility: float = Field(1.0, ge=1e-3, le=1000, description="precision of ordinary items")
    reach: float = Field(0.3, ge=1e-4, le=1, description="media reach of ordinary items (fraction)")
    media_half_life_hours: float = Field(
        6.0, ge=0.01, le=720, description="half-life of media attention, hours"
    )
    max_age_hours: float = Field(
        24.0, ge=0.1, le=8760, description="an ordinary item stops spreading after, hours"
    )
    word_of_mouth: float = Field(
        0.0,
        ge=0,
        le=100,
        description="word-of-mouth rate of ordinary items, per hour at a fully informed "
        "neighbourhood (network.q is that of scheduled news); 0: routine news reaches "
        "investors only through their own media",
    )
    uncertainty_sd: float = Field(
        0.0, ge=0, le=3, description="sd of the log size of news in daily regimes (0: no regimes)"
    )
    uncertainty_persistence: float = Field(
        0.98, ge=0, lt=1, description="daily AR(1) persistence of the news-size regime"
    )


class BeliefsConfig(_Strict):
    prior_precision: float = Field(4.0, ge=1e-3, le=1e4, description="tau_0 on each factor")
    prior_dispersion: float = Field(
        0.15, ge=0, le=5, description="std of prior means across investors"
    )
    bull_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="fraction of investors with bullish priors on compute demand and moat",
    )
    bull_bear_gap: float = Field(
        0.2, ge=0, le=10, description="bull prior mean minus bear prior mean, factor units"
    )
    jevons_share: float = Field(
        0.15, ge=0, le=1, description="investors who read cheaper compute as more demand"
    )
    jevons_elasticity: float = Field(
        0.6, ge=0, le=10, description="how strongly they flip the sign"
    )
    trust_mean: float = Field(1.0, ge=1e-3, le=100, description="mean trust w in news")
    trust_dispersion: float = Field(0.3, ge=0, le=3, description="lognormal sigma of trust")
    idiosyncratic_precision: float = Field(
        2.0, ge=1e-3, le=1e4, description="precision of firm-level beliefs (fixed; no accumulation)"
    )
    memory_half_life_days: float = Field(
        20.0, ge=0.01, le=3650, description="precision decays so that old certainty fades, days"
    )


class NetworkConfig(_Strict):
    """Attention: a Bass hazard h = attention*p_media(t) + q*share_informed_neighbours (per hour)."""

    degree: int = Field(
        8, ge=1, le=200, description="contacts per investor (fixed, so cost grows linearly with N)"
    )
    q: float = Field(0.15, ge=0, le=100, description="peer hazard per hour at full informed share")
    attention_dispersion: float = Field(0.5, ge=0, le=3, description="lognormal sigma of attention")
    homophily: float = Field(0.5, ge=0, le=1, description="share of links within own cohort")
    max_event_age_hours: float = Field(
        72.0,
        ge=0.1,
        le=8760,
        description="an item stops spreading this long after its release, hours",
    )


# --------------------------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Population: one optional section per registered cohort type
# --------------------------------------------------------------------------------------------
class CohortsBase(_Strict):
    """``population.cohorts``: a section per investor type present in the market.

    Its fields come from the cohort registry (:func:`cohorts_model`); a type left out of a
    scenario has no members. ``share`` and ``wealth_share`` are weights normalised over the
    types present, so a sweep can vary one type on its own.
    """

    @model_validator(mode="after")
    def _sums(self) -> CohortsBase:
        cs = [cfg for _, cfg in self.present()]
        if sum(c.share for c in cs) <= 0 or sum(c.wealth_share for c in cs) <= 0:
            raise ValueError("cohort shares and wealth_shares must not all be zero")
        for t, cfg in self.present():
            if t.cls.market_maker and (cfg.share <= 0 or cfg.wealth_share <= 0):
                raise ValueError(f"{t.name} needs a positive share and wealth_share")
        return self

    def present(self) -> list[tuple[CohortType, CohortConfig]]:
        """(type, configuration) of every type in the scenario, in the registry's order."""
        out = []
        for t in cohort_types():
            cfg = getattr(self, t.name, None)
            if cfg is not None:
                out.append((t, cfg))
        return out

    def normalised(self, field: str) -> dict[str, float]:
        """Each present type's ``share`` or ``wealth_share`` divided by their total."""
        vals = {t.name: getattr(cfg, field) for t, cfg in self.present()}
        total = sum(vals.values())
        return {n: v / total for n, v in vals.items()}


def cohorts_model() -> type[CohortsBase]:
    """The ``population.cohorts`` model: one field per registered cohort type."""
    fields: dict[str, Any] = {}
    for t in cohort_types():
        if t.required:
            fields[t.name] = (t.config, Field(description=t.description))
        else:
            fields[t.name] = (
                t.config | None,
                Field(None, description=f"{t.description} (leave out: none in the market)"),
            )
    return create_model("CohortsConfig", __base__=CohortsBase, **fields)


if TYPE_CHECKING:
    CohortsConfig = CohortsBase
else:
    CohortsConfig = cohorts_model()


class PopulationConfig(_Strict):
    """The investors: how many, at what precision, and the types they belong to."""

    size: int = Field(10_000, ge=100, le=50_000_000, description="number of investors")
    dtype: Literal["float32", "float64"] = Field(
        "float64", description="precision of per-investor arrays"
    )
    cohorts: CohortsConfig = Field(description="one section per investor type present")


class PriceFormationConfig(_Strict):
    mechanism: Literal["batch_auction", "market_maker"] = Field(
        "batch_auction",
        description="batch_auction (Walrasian clearing each step) or market_maker "
        "(square-root impact)",
    )
    impact_y: float = Field(1.0, ge=1e-3, le=100, description="Y in dp/p = Y sigma_d sqrt(Q/V_d)")
    bins: int = Field(256, ge=16, le=8192, description="resolution of aggregated demand")
    bracket: float = Field(0.7, ge=0.01, le=3, description="max |log move| per clearing")
    tolerance: float = Field(1e-10, ge=1e-14, le=1e-3, description="root tolerance, log-price")
    volatility_halflife_steps: float = Field(
        39.0, ge=1, le=1e6, description="memory of the realised volatility everyone observes, steps"
    )
    max_log_move: float = Field(
        3.0,
        ge=0.05,
        le=10,
        description="run-time guard: a run stops if a price moves further than this (log) from "
        "its start (3 = a factor of 20)",
    )


class ReferenceConfig(_Strict):
    """Real values printed next to the simulated ones (not used by the model)."""

    shock_date: dt.date | None = Field(None, description="the session the headline table reports")
    returns_pct: dict[str, float] = Field(default_factory=dict, description="ticker -> % on date")
    index_returns_pct: dict[str, float] = Field(
        default_factory=dict, description="index name -> real return on the shock date, percent"
    )
    dollar_loss_usd: dict[str, float] = Field(
        default_factory=dict,
        description="ticker -> real market-value change on the shock date, USD",
    )
    market_data_dir: str = Field("../shared/market-data", description="relative to the repo")
    real_closes_table: str = Field(
        "scenarios/universe/real_closes.csv",
        description="committed real closes of the scenario's sessions, read by reports when a "
        "price file is absent (python -m sim.marketdata build); never by the model",
    )


class Scenario(_Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$",
        description="scenario name (letters, digits, _ . -; not starting with a dot); names "
        "the default output folder results/<name>/",
    )
    description: str = Field("", description="free text")
    seed: int = Field(0, ge=0, description="default integer seed of a run (--seed overrides)")
    calendar: CalendarConfig = Field(description="trading calendar")
    factors: list[FactorConfig] = Field(
        min_length=1,
        description="latent narrative factors (must include compute_demand, frontier_moat, "
        "cost_of_intelligence)",
    )
    universe: UniverseConfig = Field(description="assets and how their values load on the factors")
    indices: dict[str, IndexConfig] = Field(
        default_factory=dict, description="cap-weighted indices reported in outputs, name -> index"
    )
    beliefs: BeliefsConfig = Field(
        default_factory=BeliefsConfig, description="priors and interpretation of news"
    )
    network: NetworkConfig = Field(
        default_factory=NetworkConfig,
        description="attention and the social network news spreads on",
    )
    news: list[NewsEvent] = Field(
        default_factory=list,
        description="scheduled news events (a child scenario replaces the list; news_append adds)",
    )
    news_flow: NewsFlowConfig = Field(
        default_factory=NewsFlowConfig, description="ordinary background news"
    )
    population: PopulationConfig = Field(description="investor population")
    price_formation: PriceFormationConfig = Field(
        default_factory=PriceFormationConfig, description="how orders become prices"
    )
    reference: ReferenceConfig = Field(
        default_factory=ReferenceConfig,
        description="real values printed beside the simulated ones; not used by the model",
    )

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
        ids = [ev.id for ev in self.news]
        dup = sorted({x for x in ids if ids.count(x) > 1})
        if dup:
            raise ValueError(f"news: duplicate id(s) {dup}: each news item needs its own id")
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
