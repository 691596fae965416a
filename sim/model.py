"""The Mesa model: scenario -> population -> ticks of (news, orders, clearing, prices).

One ``step`` is one tick of the calendar. In a closed tick news spreads and beliefs update; in
a trading tick every cohort submits orders, :mod:`sim.clearing` sets prices, trades are booked
and Mesa's ``DataCollector`` records the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np

from sim import clearing
from sim.beliefs import Beliefs
from sim.calendar import TICK_CLOSED, TICK_OPEN, build_ticks
from sim.cohorts import Cohort, CohortType, ElasticCohort
from sim.cohorts.market_maker import MarketMaker
from sim.guard import Guard
from sim.market import MarketState
from sim.news import Diffusion, build_network, ordinary_news, scheduled_events
from sim.scenario import Scenario, ScenarioError
from sim.universe import build_universe

#: Random streams of the model's components: child ``i`` of the run's ``SeedSequence``. Cohort
#: type ``t`` draws from child ``len(STREAMS) + t.order``, so registering a new type, or leaving
#: one out of a scenario, never changes another component's draws.
STREAMS = ("population", "beliefs", "network", "news_flow", "diffusion", "mesa")


def stream(root: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Child ``index`` of ``root``: what ``root.spawn(n)[index]`` gives, without spawning."""
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, index), pool_size=root.pool_size
    )


@dataclass
class Population:
    """All investors' state; cohorts hold row slices (views) of these arrays."""

    holdings: np.ndarray  # (N, A) shares
    cash: np.ndarray  # (N,) USD
    wealth: np.ndarray  # (N,) USD, marked to market at the last price
    cohort_of: np.ndarray  # (N,) int8 cohort index
    bounds: dict[str, tuple[int, int]]


def cohort_sizes(n: int, shares: list[float]) -> list[int]:
    """Head counts per cohort summing to ``n`` (every cohort with a positive share gets >= 1)."""
    raw = np.array(shares) * n
    sizes = np.floor(raw).astype(int)
    sizes[(np.array(shares) > 0) & (sizes == 0)] = 1
    order = np.argsort(-(raw - np.floor(raw)))
    i = 0
    while sizes.sum() < n:
        sizes[order[i % len(order)]] += 1
        i += 1
    while sizes.sum() > n:
        j = int(np.argmax(sizes))
        sizes[j] -= 1
    return sizes.tolist()


def _ignore_model(get: Callable[[], Any]) -> Callable[[MoatshockModel], Any]:
    """A DataCollector model reporter calling a cohort's zero-argument getter."""
    return lambda m: get()


class MoatshockModel(mesa.Model):
    """Market of investor cohorts trading a universe of stocks through a price-formation rule.

    Attribute names are our own and never those of ``mesa.Model`` (whose ``scenario``, ``time``
    and ``steps`` differ between Mesa versions): the scenario is ``scn``, the seed ``run_seed``,
    the calendar position ``tick``.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        seed = scenario.seed if seed is None else seed
        ss = np.random.SeedSequence(seed)
        children = {k: stream(ss, i) for i, k in enumerate(STREAMS)}
        super().__init__(rng=np.random.default_rng(children["mesa"]))
        self.run_seed = seed
        self.scn = scenario
        rngs = {k: np.random.default_rng(v) for k, v in children.items()}
        present = scenario.population.cohorts.present()
        self.cohort_types: list[CohortType] = [t for t, _ in present]
        for t in self.cohort_types:
            rngs[t.name] = np.random.default_rng(stream(ss, len(STREAMS) + t.order))
        dtype = np.float32 if scenario.population.dtype == "float32" else np.float64

        self.universe = u = build_universe(scenario)
        self.ticks = build_ticks(scenario.calendar)
        self.n_trading = int(self.ticks.trading.sum())
        self.market = MarketState(
            u.price0, u.daily_vol, self.ticks.steps_per_session, self.n_trading
        )
        self.rotation = scenario.universe.rotation if u.rest is not None else 0.0
        cap0 = u.market_cap0
        cash_share = scenario.universe.cash_share
        self.total_wealth = float(cap0.sum() / (1.0 - cash_share))
        self._neutral = self._neutral_weights(scenario, cap0, cash_share)
        self.benchmark = self._neutral["others"]
        self.anchor = np.zeros(u.n_assets)

        self._init_population(rngs, dtype)
        self.beliefs = Beliefs(
            scenario.beliefs,
            scenario.population.size,
            u.exposures,
            u.consensus,
            u.factor_names,
            self._reaction,
            rngs["beliefs"],
            dtype,
        )
        bounds = list(self.population.bounds.values())
        net = build_network(scenario.population.size, bounds, scenario.network, rngs["network"])
        nc = scenario.network.attention_dispersion
        attention = np.exp(
            nc * rngs["network"].standard_normal(scenario.population.size) - nc**2 / 2
        )
        events = scheduled_events(scenario) + ordinary_news(
            scenario.news_flow,
            scenario.calendar.start,
            scenario.calendar.end,
            len(u.factor_names),
            u.n_assets,
            rngs["news_flow"],
        )
        self.diffusion = Diffusion(
            events,
            net,
            attention,
            scenario.network.q,
            children["diffusion"],
            self.ticks.start,
            self.ticks.hours,
            max_age_hours=scenario.network.max_event_age_hours,
        )

        self.cohorts: dict[str, Cohort] = {}
        for t, cfg in present:
            a, b = self.population.bounds[t.name]
            self.cohorts[t.name] = t.cls(self, slice(a, b), cfg, rngs[t.name])
        makers = [c for c in self.cohorts.values() if isinstance(c, MarketMaker)]
        if len(makers) != 1:
            raise ScenarioError(
                f"{scenario.name}: population.cohorts: exactly one market-maker type is needed "
                f"(found {len(makers)})"
            )
        self.mm: MarketMaker = makers[0]
        self._calibrate_anchor()

        self.guard = Guard(
            self.market.lp0, scenario.price_formation.max_log_move, self.ticks.steps_per_session
        )
        self.tick = 0
        self.last_volume = np.zeros(u.n_assets)
        self.last_flows = {k: np.zeros(u.n_assets) for k in self.cohorts}
        self.last_cohort_volume = {k: np.zeros(u.n_assets) for k in self.cohorts}
        self.last_clearing: clearing.ClearingResult | None = None
        self.at_limit_count = 0
        self.max_abs_quote_error = 0.0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "timestamp": lambda m: m.ticks.start[m.tick - 1],
                "trading": lambda m: bool(m.ticks.kind[m.tick - 1] != TICK_CLOSED),
                "log_price": lambda m: m.market.lp.copy(),
                "volume": lambda m: m.last_volume.copy(),
                "flows": lambda m: {k: v.copy() for k, v in m.last_flows.items()},
                "cohort_volume": lambda m: {k: v.copy() for k, v in m.last_cohort_volume.items()},
                "beliefs": lambda m: m.belief_quantiles() if m._hourly() else None,
                **{
                    key: _ignore_model(get)
                    for c in self.cohorts.values()
                    for key, get in c.reporters().items()
                },
            }
        )

    # -- construction ---------------------------------------------------------------------
    def _neutral_weights(
        self, scenario: Scenario, cap0: np.ndarray, cash_share: float
    ) -> dict[str, np.ndarray]:
        """Neutral portfolio weights (fractions of wealth, per unit leverage) by cohort type.

        Types flagged ``crowded`` hold their own book (:meth:`neutral_book`, the crowded AI long
        of early 2025); everybody else holds the rest of the float at common weights
        (``"others"``), so that at neutral exactly every share is held.
        """
        wshare = scenario.population.cohorts.normalised("wealth_share")
        w0 = (1.0 - cash_share) * cap0 / cap0.sum()
        out: dict[str, np.ndarray] = {}
        held = np.zeros_like(cap0)
        w_crowded = 0.0
        for t, cfg in scenario.population.cohorts.present():
            if not t.cls.crowded:
                continue
            unit = t.cls.neutral_book(self.universe, w0, cfg)
            w_c = wshare[t.name] * self.total_wealth
            held += w_c * t.cls.target_leverage(cfg) * unit
            w_crowded += w_c
            out[t.name] = unit
        w_oth = self.total_wealth - w_crowded
        others = (cap0 - held) / max(w_oth, 1e-300)
        if np.any(others <= 0):
            names = ", ".join(f"population.cohorts.{n}" for n in out)
            raise ScenarioError(
                f"{scenario.name}: {names}: leverage x crowding x wealth_share leaves no "
                "shares for the other investors; lower one of them"
            )
        out["others"] = others
        return out

    def neutral_weights(self, kind: str) -> np.ndarray:
        """Neutral fraction of wealth per asset (per unit of leverage) for a cohort type."""
        return self._neutral.get(kind, self._neutral["others"])

    def _init_population(self, rngs: dict[str, np.random.Generator], dtype: type) -> None:
        scn = self.scn
        n = scn.population.size
        present = scn.population.cohorts.present()
        head = scn.population.cohorts.normalised("share")
        wshare = scn.population.cohorts.normalised("wealth_share")
        sizes = cohort_sizes(n, [head[t.name] for t, _ in present])
        rng = rngs["population"]
        wealth = np.zeros(n)
        cohort_of = np.zeros(n, dtype=np.int8)
        reaction = np.ones(n)
        bounds: dict[str, tuple[int, int]] = {}
        lev_target = np.ones(n)
        weights = np.empty((n, self.universe.n_assets))
        start = 0
        for i, ((t, cfg), size) in enumerate(zip(present, sizes, strict=True)):
            end = start + size
            bounds[t.name] = (start, end)
            cohort_of[start:end] = i
            if size:
                w = rng.pareto(cfg.wealth_pareto_alpha, size) + 1.0
                wealth[start:end] = w / w.sum() * wshare[t.name] * self.total_wealth
            reaction[start:end] = t.cls.news_reaction(cfg)
            lev_target[start:end] = t.cls.target_leverage(cfg)
            # everyone starts at its neutral weights (levered investors at a multiple of them)
            weights[start:end] = self.neutral_weights(t.name)
            start = end
        # the rounding left by the benchmark's definition is removed so exactly the float is held
        holdings = (wealth * lev_target)[:, None] * weights / self.universe.price0
        holdings *= self.universe.shares / holdings.sum(axis=0)
        cash = wealth - holdings @ self.universe.price0
        self.population = Population(
            holdings=np.ascontiguousarray(holdings, dtype=np.float64),
            cash=cash.astype(np.float64),
            wealth=wealth.astype(np.float64),
            cohort_of=cohort_of,
            bounds=bounds,
        )
        self._reaction = reaction

    def _calibrate_anchor(self) -> None:
        """Set the per-asset valuation anchor so that the market clears at the starting prices.

        The factor model explains *changes* in value; the level the market priced in before the
        news (everything outside the factors) is the anchor, found by clearing the belief-driven
        cohorts' schedules alone at the observed prices.
        """
        self.wealth_update()
        elastic = [c for c in self.cohorts.values() if isinstance(c, ElasticCohort)]
        for c in elastic:
            c.submit()
        scheds = [c.schedule(kappa=(1.0, 1.0)) for c in elastic]
        fixed = np.zeros(self.universe.n_assets)
        res = clearing.batch_auction(self.market.lp, scheds, fixed, None, bracket=2.0)
        # demand clears at lp0 + x*, so shifting every value by -x* clears at lp0
        self.anchor = -(res.lp - self.market.lp)
        # belief-driven investors start at their own targets (no day-one rebalancing wave);
        # the market maker's position takes up the sub-bin difference so shares still add up
        p0 = self.universe.price0
        for c in elastic:
            c.submit()
            c.holdings[:] = c.wealth[:, None] * c.fractions() / p0
            c.cash[:] = c.wealth - c.holdings @ p0
        pop = self.population
        gap = self.universe.shares - pop.holdings.sum(axis=0)
        self.mm.holdings += self.mm.split[:, None] * gap[None, :]
        self.mm.cash -= (self.mm.split[:, None] * gap[None, :]) @ p0
        self.mm.neutral = self.mm.holdings.sum(axis=0).copy()

    # -- per-step helpers -----------------------------------------------------------------
    def wealth_update(self) -> None:
        """Every investor's wealth at the last price (cohorts mark their own rows each step)."""
        pop = self.population
        np.matmul(pop.holdings, self.market.price, out=pop.wealth)
        pop.wealth += pop.cash

    def _hourly(self) -> bool:
        """Belief snapshots are taken hourly (and on closed ticks): quantiles cost O(N)."""
        t = self.ticks.start[self.tick - 1]
        return self.ticks.kind[self.tick - 1] == TICK_CLOSED or int(t.astype(int) % 60) == 0

    def steps_to_close(self) -> int:
        """Trading steps left in the current session after the one being traded."""
        t = self.tick - 1
        day = self.ticks.day[t]
        idx = np.searchsorted(self.ticks.day, day, side="right")
        return int(idx - 1 - t)

    def belief_quantiles(self) -> dict[str, list[float]]:
        """5/25/50/75/95% quantiles of each factor belief across all investors."""
        q = self.beliefs.quantiles(np.array([0.05, 0.25, 0.5, 0.75, 0.95]))
        return {f: q[:, k].tolist() for k, f in enumerate(self.universe.factor_names)}

    def _news(self, tick: int) -> None:
        """Release the items published before the end of ``tick``; who learns them updates."""
        for ev in self.diffusion.release(tick):
            if ev.relative:
                # ordinary news: a small surprise around what the crowd currently believes
                cur = self.beliefs.mu.mean(axis=0)
                ev.signal = np.where(np.isnan(ev.signal), np.nan, ev.signal + cur)
                cur_i = self.beliefs.idio.mean(axis=0)
                ev.idio = np.where(np.isnan(ev.idio), np.nan, ev.idio + cur_i)
        for ev, rows in self.diffusion.spread(tick):
            if rows.size == 0:
                continue
            if ev.reading is None:  # what the event says, fixed once released
                idio = ev.idio if np.any(~np.isnan(ev.idio)) else None
                ev.reading = (np.nan_to_num(ev.signal), ~np.isnan(ev.signal), idio)
            signal, has, idio = ev.reading
            self.beliefs.update(rows, signal, has, ev.credibility, idio)

    # -- the step -------------------------------------------------------------------------
    def step(self) -> None:
        t = self.tick
        ticks = self.ticks
        if t >= len(ticks):
            self.running = False
            return
        kind = ticks.kind[t]
        hours = float(ticks.hours[t])
        self._news(t)
        self.beliefs.decay(hours)
        self.tick += 1
        if kind == TICK_CLOSED:
            self.last_volume = np.zeros(self.universe.n_assets)
            self.last_flows = {k: np.zeros(self.universe.n_assets) for k in self.cohorts}
            self.last_cohort_volume = {k: np.zeros(self.universe.n_assets) for k in self.cohorts}
            self.datacollector.collect(self)
            return
        m = self.market
        m.is_open_tick = kind == TICK_OPEN
        nxt = t + 1
        m.is_last_tick = nxt >= len(ticks) or ticks.kind[nxt] != 2 or ticks.day[nxt] != ticks.day[t]
        if m.is_open_tick:
            m.day = int(ticks.day[t])
        self._trade()
        if m.is_last_tick:
            m.lp_prev_close = m.lp.copy()
        self.datacollector.collect(self)
        if self.tick >= len(ticks):
            self.running = False

    def _ration(
        self,
        res: clearing.ClearingResult,
        scheds: list[clearing.ElasticSchedule],
        fixed: np.ndarray,
        quote: clearing.MarketMakerQuote,
    ) -> np.ndarray:
        """At a limit move the market orders are filled pro rata with what the book absorbs.

        Like a limit-up/limit-down band: the price stops at the bound and only the part of the
        market orders that the schedules and the market maker take at that price is executed.
        Returns that share per asset (1 where the price cleared inside the band).
        """
        m = self.market
        idx = np.arange(m.lp.size)
        x = res.lp - m.lp
        absorbed = clearing.excess_demand(x, idx, m.lp, scheds, np.zeros_like(fixed), quote)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(res.at_limit & (fixed != 0), np.clip(-absorbed / fixed, 0.0, 1.0), 1.0)

    def _trade(self) -> None:
        m = self.market
        pf = self.scn.price_formation
        cohorts = list(self.cohorts.values())
        self.agents.do("submit")  # every cohort decides on what it has observed so far
        others = [c for c in cohorts if c is not self.mm]
        fixed = np.sum([c.fixed for c in others], axis=0)
        quote = self.mm.quote()
        elastic = [c for c in others if isinstance(c, ElasticCohort)]
        phi: np.ndarray | None = None
        if pf.mechanism == "batch_auction":
            scheds = [c.schedule() for c in elastic]
            res = clearing.batch_auction(m.lp, scheds, fixed, quote, pf.bracket, pf.tolerance)
            self.last_clearing = res
            self.at_limit_count += int(res.at_limit.sum())
            lp_new = lp_decide = res.lp  # members' exact demand at the clearing price
            at_limit = res.at_limit
            if res.at_limit.any():
                phi = self._ration(res, scheds, fixed, quote)
        else:
            # everyone trades at the last price; the net flow moves the price by sqrt impact
            lp_decide = m.lp
            for c in elastic:
                c.schedule()
                c.orders(lp_decide)  # not booked: only the net flow
            net = fixed + np.sum([c.flow for c in elastic], axis=0)
            u = self.universe
            lp_new = m.lp + clearing.sqrt_impact(net, u.adv, u.daily_vol, pf.impact_y)
            at_limit = np.zeros(u.n_assets, dtype=bool)
        for o in others:
            o.settle(lp_new, phi, lp_decide)
        flow = np.sum([c.flow for c in others], axis=0)
        quoted = quote.shares(lp_new - m.lp, np.arange(m.lp.size))
        self.mm.absorb(flow, lp_new, quoted)
        self.max_abs_quote_error = max(
            self.max_abs_quote_error, float(np.max(np.abs(self.mm.quote_error) / self.universe.adv))
        )
        self.last_volume = np.sum([c.volume for c in cohorts], axis=0) / 2.0
        self.last_flows = {k: c.flow.copy() for k, c in self.cohorts.items()}
        self.last_cohort_volume = {k: c.volume.copy() for k, c in self.cohorts.items()}
        self.guard.check(self, lp_new, at_limit)
        m.record(lp_new, ewma_alpha=1.0 - 0.5 ** (1.0 / pf.volatility_halflife_steps))
