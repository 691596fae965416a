"""The cohort protocol: one Mesa agent per strategy type, its members as rows of numpy arrays.

Every cohort sees the public market state and its members' own wealth, holdings and beliefs,
and each trading step it either submits a demand *schedule* (belief-driven cohorts: the
clearing price is not known when they decide) or *market orders* (everyone else, who react to
prices already observed). After clearing, :meth:`Cohort.execute` books the trades of every
member at the clearing price. Nothing here loops over investors.

Units: holdings in shares, cash and wealth in USD, log prices in log USD, fractions of wealth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import mesa
import numpy as np
from pydantic import Field

from sim.fields import StrictModel

if TYPE_CHECKING:
    from sim.clearing import ElasticSchedule
    from sim.model import MoatshockModel
    from sim.universe import Universe


class CohortConfig(StrictModel):
    """Fields every cohort type has: its weight in the head count and in total wealth."""

    share: float = Field(
        ge=0, le=1e6, description="weight in the head count (normalised over cohorts)"
    )
    wealth_share: float = Field(ge=0, le=1e6, description="weight in total wealth (normalised)")
    wealth_pareto_alpha: float = Field(
        1.5, ge=1.05, le=100, description="Pareto tail of wealth sizes"
    )


class Cohort(mesa.Agent):
    """A strategy type. ``rows`` is the slice of the population arrays its members occupy.

    Class flags: ``elastic`` (submits a demand schedule; set by subclassing
    :class:`ElasticCohort`, not by hand), ``market_maker`` (the auction's residual counterparty;
    exactly one such cohort per scenario) and ``crowded`` (holds the crowded book at neutral, see
    :meth:`sim.model.MoatshockModel.neutral_weights`).
    """

    kind: ClassVar[str] = "cohort"  # set by @register
    #: configuration fields that amplify price moves, named when the run-time guard stops a
    #: run (:mod:`sim.guard`)
    amplifiers: ClassVar[tuple[str, ...]] = ()
    elastic: ClassVar[bool] = False
    market_maker: ClassVar[bool] = False
    crowded: ClassVar[bool] = False

    #: set by ``mesa.Agent.__init__``; declared here only for its type (Mesa's own attribute,
    #: never reassigned by a cohort: see tests/test_mesa_compat.py)
    model: MoatshockModel

    def __init__(
        self, model: MoatshockModel, rows: slice, cfg: Any, rng: np.random.Generator
    ) -> None:
        super().__init__(model)
        self.rows = rows
        self.cfg = cfg
        self.stream = rng  # this cohort's own random stream (Mesa's agent.rng is the model's)
        pop = model.population
        self.holdings = pop.holdings[rows]  # views: members are rows of the population arrays
        self.cash = pop.cash[rows]
        self.wealth = pop.wealth[rows]
        self.n: int = self.holdings.shape[0]
        # neutral fraction of wealth per asset, per unit of leverage (see MoatshockModel)
        self.bench = model.neutral_weights(self.kind)
        self.delta = np.zeros_like(self.holdings)  # this step's trades, shares
        self.flow = np.zeros(model.universe.n_assets)  # net shares bought this step
        self.volume = np.zeros(model.universe.n_assets)  # shares traded this step (one side)
        self.fixed = np.zeros(model.universe.n_assets)  # market orders submitted, shares

    # -- what the model asks of a type before building it ---------------------------------
    @classmethod
    def target_leverage(cls, cfg: Any) -> float:
        """Gross exposure / equity of a member at neutral (1 for unlevered investors)."""
        return 1.0

    @classmethod
    def news_reaction(cls, cfg: Any) -> float:
        """Multiplier of members' trust in news: over- (>1) or under-reaction (<1)."""
        return 1.0

    @classmethod
    def neutral_book(cls, universe: Universe, w0: np.ndarray, cfg: Any) -> np.ndarray:
        """A ``crowded`` type's neutral weights per unit of leverage (fractions of wealth);
        ``w0`` are market-cap weights. Only called for types flagged ``crowded``."""
        return w0

    # -- protocol ------------------------------------------------------------------------
    def submit(self) -> None:
        """Decide this step's orders from observed state (prices up to the last step)."""

    idle = False  # set by cohorts that placed no order this step: nothing to book

    def settle(self, lp_exec: np.ndarray, phi: np.ndarray | None, lp_decide: np.ndarray) -> None:
        """Book this step's trades at log prices ``lp_exec`` (the clearing price).

        ``phi`` (per asset, or None) is the share of market orders a limit move lets through;
        ``lp_decide`` the price belief-driven cohorts decide at (see :class:`ElasticCohort`).
        """
        if phi is not None:
            self.ration(phi)
        self.execute(lp_exec)

    def execute(self, lp_exec: np.ndarray) -> None:
        """Book this step's trades ``self.delta`` at prices ``exp(lp_exec)``."""
        if self.idle:
            self.flow = np.zeros_like(self.fixed)
            self.volume = np.zeros_like(self.fixed)
            return
        d = self.delta
        self.holdings += d
        self.cash -= d @ np.exp(lp_exec)
        self.flow = d.sum(axis=0)
        self.volume = np.abs(d).sum(axis=0)

    def ration(self, phi: np.ndarray) -> None:
        """Fill only a share ``phi`` (per asset) of this step's market orders (limit move)."""
        self.delta *= phi

    def mark_to_market(self) -> None:
        """Members' wealth (USD) at the last price: holdings times prices plus cash."""
        np.matmul(self.holdings, self.model.market.price, out=self.wealth)
        self.wealth += self.cash

    # -- what the model records ------------------------------------------------------------
    def reporters(self) -> dict[str, Callable[[], Any]]:
        """Extra per-step series for Mesa's DataCollector, name -> zero-argument getter."""
        return {}

    def diagnostics(self) -> dict[str, Any]:
        """Counts reported in a run's summary (e.g. margin calls)."""
        return {}

    # -- helpers ------------------------------------------------------------------------
    def _rebalance_to(self, target_frac: np.ndarray, kappa: float, lp: np.ndarray) -> None:
        """Market orders moving ``kappa`` of the way to ``target_frac`` of wealth, at ``lp``."""
        target = self.wealth[:, None] * target_frac * np.exp(-lp)
        np.subtract(target, self.holdings, out=self.delta)
        self.delta *= kappa


class ElasticCohort(Cohort):
    """A belief-driven cohort (``elastic``): it submits a demand *schedule*, not market orders.

    Each trading step the model calls :meth:`submit`, then :meth:`schedule` (the aggregate
    demand at any price, for the auction), then :meth:`settle` with the clearing price (each
    member's exact order, booked). :meth:`fractions` gives members' target fractions of
    wealth, with which the model starts them at their targets.
    """

    elastic: ClassVar[bool] = True

    def schedule(self, kappa: tuple[float, float] | None = None) -> ElasticSchedule:
        """This step's demand schedule; ``kappa`` overrides the (gap, price) response shares."""
        raise NotImplementedError

    def orders(
        self,
        lp_decide: np.ndarray,
        lp_exec: np.ndarray | None = None,
        phi: np.ndarray | None = None,
        store: bool = False,
    ) -> None:
        """Members' orders at log prices ``lp_decide``; booked at ``lp_exec`` unless it is None.

        Sets ``flow`` and ``volume``; with ``store`` also each member's order in ``delta``.
        """
        raise NotImplementedError

    def settle(self, lp_exec: np.ndarray, phi: np.ndarray | None, lp_decide: np.ndarray) -> None:
        self.orders(lp_decide, lp_exec, phi)

    def prepare(self, lp_decide: np.ndarray) -> None:
        """Each member's order at log prices ``lp_decide`` into ``self.delta``, not booked."""
        self.orders(lp_decide, None, None, store=True)

    def fractions(self) -> np.ndarray:
        """Members' target fractions of wealth at the last price (members x assets)."""
        raise NotImplementedError
