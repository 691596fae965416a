"""The ``universe`` section of a scenario: companies, their data, indices and positioning.

Part of the scenario schema (:mod:`sim.scenario.schema` re-exports every class); companies'
data files are read by :mod:`sim.scenario.assets` and :mod:`sim.marketdata` before validation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator, model_validator

from sim.fields import Characteristic, Loading, StrictModel

_Strict = StrictModel


class AssetConfig(_Strict):
    """One company (or the rest of the market). ``price``, ``adv_shares``,
    ``daily_volatility`` and the two pre-event returns come from ``price_file`` (see
    :mod:`sim.marketdata`) unless given here; a value given here wins."""

    ticker: str = Field(
        pattern=r"^[A-Z][A-Z0-9.\-]{0,9}$",
        description="ticker, upper case (used by indices, news and outputs)",
    )
    name: str = Field("", description="company name")
    group: str = Field("other", description="e.g. chips, big_tech, rest")
    price_file: str | None = Field(
        None,
        description="daily price CSV (date, close, volume) relative to "
        "universe.market_data.folder; gives price, adv_shares, daily_volatility and the "
        "pre-event returns (sim.marketdata)",
    )
    proxy_price_file: str | None = Field(
        None,
        description="price CSV of a proxy (the rest of the market: SPY) for daily_volatility "
        "and the pre-event returns when the asset has no price file",
    )
    price: float | None = Field(
        None, ge=0.01, le=1e6, description="starting price, USD per share (default: price_file)"
    )
    price_as_of: dt.date | None = Field(
        None, description="session the starting price is the close of (set by the loader)"
    )
    shares_outstanding: float = Field(ge=1e3, le=1e13, description="shares, in price_file units")
    shares_reported: float | None = Field(
        None, ge=1e3, le=1e13, description="share count on the filing's cover page"
    )
    shares_factor: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="reported shares x this = shares_outstanding (splits, ADR ratio)",
    )
    adv_shares: float | None = Field(
        None, ge=1, le=1e12, description="average daily volume, shares/day (default: price_file)"
    )
    daily_volatility: float | None = Field(
        None,
        ge=1e-4,
        le=0.5,
        description="std of daily log returns, fraction per day (default: price_file)",
    )
    relative_return_12m: float | None = Field(
        None,
        ge=-5,
        le=5,
        description="trailing-12-month log return less the market's, to the last session "
        "before the start (default: price_file, else 0)",
    )
    relative_runup: float | None = Field(
        None,
        ge=-5,
        le=10,
        description="log return since universe.market_data.boom_start less the market's "
        "(default: price_file, else 0)",
    )
    characteristics: dict[str, Characteristic] = Field(
        default_factory=dict,
        description="sourced company characteristics (scenarios/characteristics.yaml), name -> "
        "value; combined with universe.exposures into factor exposures",
    )
    source: str = Field("", description="where the numbers come from")
    sources: dict[str, str] = Field(
        default_factory=dict, description="field or characteristic -> one-line source"
    )

    @model_validator(mode="after")
    def _resolved(self) -> AssetConfig:
        for f in ("price", "adv_shares", "daily_volatility"):
            if getattr(self, f) is None:
                raise ValueError(
                    f"{self.ticker}: {f} is missing: give {f} or a price_file with that column"
                )
        return self


class MarketDataConfig(_Strict):
    """Where price files are and the windows :mod:`sim.marketdata` computes inputs over."""

    folder: str = Field(
        "../shared/market-data",
        description="folder price_file paths are relative to: absolute, or relative to the "
        "repository (else the working directory); $MOATSHOCK_MARKET_DATA overrides it",
    )
    derived_table: str = Field(
        "scenarios/universe/derived_inputs.csv",
        description="committed table of derived inputs used when a price file is absent "
        "(written by python -m sim.marketdata build SCENARIO)",
    )
    market_file: str = Field(
        "ohlcv_raw/SPY.csv",
        description="the market's price file; pre-event returns are relative to it",
    )
    volume_window_sessions: int = Field(
        63, ge=1, le=2520, description="sessions averaged for adv_shares (ending at as_of)"
    )
    volatility_window_sessions: int = Field(
        63, ge=2, le=2520, description="daily returns in daily_volatility (ending at as_of)"
    )
    trailing_window_sessions: int = Field(
        252, ge=1, le=2520, description="sessions of relative_return_12m"
    )
    boom_start: dt.date = Field(
        dt.date(2022, 11, 30),
        description="start of relative_runup: the AI boom's public start (ChatGPT launch)",
    )
    max_staleness_days: int = Field(
        7,
        ge=1,
        le=366,
        description="the last session before the start may be at most this many days before "
        "it (else the file does not cover the start)",
    )

    def windows(self) -> Any:
        from sim.marketdata import Windows

        return Windows(
            self.volume_window_sessions,
            self.volatility_window_sessions,
            self.trailing_window_sessions,
            self.boom_start,
            self.max_staleness_days,
        )


class PositioningConfig(_Strict):
    """How crowded each name was before the event, from its pre-event prices only.

    Crowding score ``s_i = max(0, trailing_weight * relative_return_12m_i + runup_weight *
    relative_runup_i)`` (log units). It tilts the levered and momentum books
    (``w0 (1 + crowding * s_i)``) and adds ``compute_demand_loading * s_i`` to the
    compute-demand exposure: the premium a name gained in the AI boom rests on compute-demand
    beliefs. The same three numbers for every asset; nothing per ticker.
    """

    trailing_weight: float = Field(
        1.0, ge=0, le=10, description="weight of relative_return_12m in the crowding score"
    )
    runup_weight: float = Field(
        0.5, ge=0, le=10, description="weight of relative_runup in the crowding score"
    )
    compute_demand_loading: float = Field(
        0.0,
        ge=-10,
        le=10,
        description="compute-demand exposure per unit of crowding score (log value per factor "
        "unit per log unit of score)",
    )


class IndexConfig(_Strict):
    """A cap-weighted index: each member's market cap counts with the given fraction."""

    members: dict[str, float] = Field(
        description="ticker -> fraction of its market cap counted, in (0, 1]"
    )
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
    assets: list[AssetConfig] = Field(min_length=1, description="list of assets")
    exposures: dict[str, dict[str, Loading]] = Field(
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
    positioning: PositioningConfig = Field(
        default_factory=PositioningConfig,
        description="crowding from pre-event prices (levered and momentum books, exposures)",
    )
    market_data: MarketDataConfig = Field(
        default_factory=MarketDataConfig, description="price files and their windows"
    )
    dictionary: str = Field(
        "scenarios/characteristics.yaml",
        description="the characteristic dictionary (relative to the repository, else the "
        "working directory): characteristics and loadings must be defined there",
    )

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
