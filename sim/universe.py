"""The universe of assets as numpy arrays, and factor exposures from company characteristics.

Each asset's fundamental log value moves with the latent narrative factors through exposures
derived from sourced company characteristics (never fitted per ticker)::

    log V_i = log V_i0 + sum_k b_ik (theta_k - theta_k0),   b_ik = sum_c L_kc * char_ic

where ``L`` (the scenario's ``universe.exposures``) is one small loading table shared by all
assets.

Positioning comes from pre-event prices only (``universe.positioning``): the crowding score
``s_i = max(0, w_12m * relative_return_12m_i + w_runup * relative_runup_i)`` (log units) says how
crowded a name was on the eve of the scenario. It tilts the levered and momentum books and adds
``compute_demand_loading * s_i`` to the compute-demand exposure (the premium a name gained in
the AI boom is what rests on beliefs about compute demand).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Scenario


@dataclass(frozen=True)
class Universe:
    tickers: list[str]
    names: list[str]
    groups: list[str]
    price0: np.ndarray  # USD per share
    shares: np.ndarray  # shares outstanding
    adv: np.ndarray  # shares per day
    daily_vol: np.ndarray  # std of daily log returns
    crowding: np.ndarray  # (A,) crowding score s_i from pre-event prices, log units (>= 0)
    exposures: np.ndarray  # (A, F) b_ik, log value per factor unit
    factor_names: list[str]
    consensus: np.ndarray  # (F,) theta_k0
    rest: int | None  # index of the rest-of-market asset
    index_weights: dict[str, np.ndarray]  # name -> (A,) fraction of cap counted

    @property
    def n_assets(self) -> int:
        return len(self.tickers)

    @property
    def market_cap0(self) -> np.ndarray:
        """Starting market capitalisation, USD."""
        return self.price0 * self.shares

    def index(self, ticker: str) -> int:
        return self.tickers.index(ticker)


def crowding_scores(scn: Scenario) -> np.ndarray:
    """``s_i`` (assets,): the crowding score from pre-event relative returns (0 when absent)."""
    p = scn.universe.positioning
    r12 = np.array([a.relative_return_12m or 0.0 for a in scn.universe.assets], dtype=float)
    run = np.array([a.relative_runup or 0.0 for a in scn.universe.assets], dtype=float)
    return np.maximum(0.0, p.trailing_weight * r12 + p.runup_weight * run)


def exposure_matrix(scn: Scenario) -> np.ndarray:
    """``b`` (assets x factors) = characteristics (assets x chars) @ loadings (chars x factors),
    plus the positioning term on compute demand."""
    fnames = scn.factor_names
    chars = sorted({c for a in scn.universe.assets for c in a.characteristics})
    C = np.array([[a.characteristics.get(c, 0.0) for c in chars] for a in scn.universe.assets])
    L = np.zeros((len(chars), len(fnames)))
    for f, loads in scn.universe.exposures.items():
        for c, w in loads.items():
            L[chars.index(c), fnames.index(f)] = w
    b = C @ L if chars else np.zeros((len(scn.universe.assets), len(fnames)))
    k = scn.universe.positioning.compute_demand_loading
    if k and "compute_demand" in fnames:
        b[:, fnames.index("compute_demand")] += k * crowding_scores(scn)
    return b


def build_universe(scn: Scenario) -> Universe:
    assets = scn.universe.assets
    tickers = [a.ticker for a in assets]
    rest = tickers.index(scn.universe.rest_of_market) if scn.universe.rest_of_market else None
    idx = {
        name: np.array([cfg.members.get(t, 0.0) for t in tickers])
        for name, cfg in scn.indices.items()
    }
    return Universe(
        tickers=tickers,
        names=[a.name or a.ticker for a in assets],
        groups=[a.group for a in assets],
        price0=np.array([a.price for a in assets], dtype=float),
        shares=np.array([a.shares_outstanding for a in assets], dtype=float),
        adv=np.array([a.adv_shares for a in assets], dtype=float),
        daily_vol=np.array([a.daily_volatility for a in assets], dtype=float),
        crowding=crowding_scores(scn),
        exposures=exposure_matrix(scn),
        factor_names=scn.factor_names,
        consensus=np.array([f.consensus for f in scn.factors], dtype=float),
        rest=rest,
        index_weights=idx,
    )
