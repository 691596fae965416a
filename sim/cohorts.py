"""Investor cohorts: one Mesa agent per strategy type, its members as rows of numpy arrays.

Every cohort sees the public market state and its members' own wealth, holdings and beliefs,
and each trading step it either submits a demand *schedule* (belief-driven cohorts: the
clearing price is not known when they decide) or *market orders* (everyone else, who react to
prices already observed). After clearing, :meth:`Cohort.execute` books the trades of every
member at the clearing price. Nothing here loops over investors.

Units: holdings in shares, cash and wealth in USD, log prices in log USD, fractions of wealth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.clearing import ElasticSchedule, MarketMakerQuote

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class Cohort(mesa.Agent):
    """A strategy type. ``rows`` is the slice of the population arrays its members occupy."""

    kind = "cohort"
    elastic = False

    def __init__(self, model: MoatshockModel, rows: slice, cfg, rng: np.random.Generator) -> None:
        super().__init__(model)
        self.rows = rows
        self.cfg = cfg
        self.stream = rng  # this cohort's own random stream (Mesa's agent.rng is the model's)
        pop = model.population
        self.holdings = pop.holdings[rows]  # views: members are rows of the population arrays
        self.cash = pop.cash[rows]
        self.wealth = pop.wealth[rows]
        self.n = self.holdings.shape[0]
        # neutral fraction of wealth per asset, per unit of leverage (see MoatshockModel)
        self.bench = model.neutral_weights(self.kind)
        self.delta = np.zeros_like(self.holdings)  # this step's trades, shares
        self.flow = np.zeros(model.universe.n_assets)  # net shares bought this step
        self.volume = np.zeros(model.universe.n_assets)  # shares traded this step (one side)
        self.fixed = np.zeros(model.universe.n_assets)  # market orders submitted, shares

    # -- protocol ------------------------------------------------------------------------
    def submit(self) -> None:
        """Decide this step's orders from observed state (prices up to the last step)."""

    def schedule(self) -> ElasticSchedule | None:
        return None

    idle = False  # set by cohorts that placed no order this step: nothing to book

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

    # -- helpers ------------------------------------------------------------------------
    def _rebalance_to(self, target_frac: np.ndarray, kappa: float, lp: np.ndarray) -> None:
        """Market orders moving ``kappa`` of the way to ``target_frac`` of wealth, at ``lp``."""
        target = self.wealth[:, None] * target_frac * np.exp(-lp)
        np.subtract(target, self.holdings, out=self.delta)
        self.delta *= kappa


class Fundamental(Cohort):
    """Active funds: mean-variance on believed values, long-only with position limits.

    Target fraction of wealth, as an active manager's tilt around the benchmark weight ``w_b``::

        f = clip(w_b (1 + (E[log V] - log p) / (gamma sigma_h^2)), 0, k w_b)

    i.e. the mean-variance demand ``(E[log V] - log p) / (gamma sigma^2)`` measured in units of the
    benchmark weight, with ``sigma_h^2`` the return variance over the investment horizon. Money
    leaving the AI names partly rotates into the rest of the market.
    """

    kind = "fundamental"
    elastic = True
    leverage = 1.0

    def __init__(self, model, rows, cfg, rng) -> None:
        super().__init__(model, rows, cfg, rng)
        u = model.universe
        var_h = u.daily_vol**2 * cfg.horizon_days
        # leverage scales the position, not the conviction: the tilt per unit of mispricing is
        # the same as an unlevered fund's, so more leverage means larger swings in equity
        self.base = self.leverage * self.bench
        self.inv_g = self.bench / (cfg.risk_aversion * var_h)
        self.lo = self._lower()
        self.hi = self._upper()
        self.gap = np.zeros_like(self.holdings)
        self.active = np.ones(self.n, dtype=bool)
        self.t_ref = np.zeros_like(self.holdings)
        self.carry = np.zeros_like(self.holdings)
        self.kp = 1.0

    def _lower(self) -> np.ndarray:
        return np.zeros_like(self.bench)

    def _upper(self) -> np.ndarray:
        return self.cfg.max_weight_multiple * self.bench

    def kappa(self) -> tuple[float, float]:
        """(gap-closing share, price-response share) for this step; the open takes more."""
        c = self.cfg
        if self.model.market.is_open_tick:
            return c.open_adjust, max(c.open_adjust, c.price_response_per_step)
        return c.adjust_per_step, c.price_response_per_step

    def fractions(self, x: np.ndarray | float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
        """Target fractions at log price ``lp_ref + x`` (x per asset), into ``out`` if given."""
        # clip(base + (gap - x) inv_g, lo, hi), in place: the same arithmetic, one buffer
        f = np.subtract(self.gap, x, out=out)
        f *= self.inv_g
        f += self.base
        np.maximum(f, self.lo, out=f)
        return np.minimum(f, self.hi, out=f)

    def submit(self) -> None:
        m = self.model.market
        # believed log value minus log price: beliefs' gap plus the anchor, less the move so far
        np.add(self.model.beliefs.gap[self.rows], self.model.anchor + m.lp0 - m.lp, out=self.gap)
        self.f0 = f = self.fractions()  # target fractions at the last price
        rest = self.model.universe.rest
        if rest is not None and self.model.rotation > 0:
            # an underweight in the other names is partly held in the rest of the market
            under = (self.base - f).sum(axis=1) - (self.base[rest] - f[:, rest])
            self.gap[:, rest] += self.model.rotation * under / self.inv_g[rest]
            f[:, rest] = np.clip(
                self.base[rest] + self.gap[:, rest] * self.inv_g[rest], self.lo[rest], self.hi[rest]
            )
        self.fixed[:] = 0.0

    def schedule(self, kappa: tuple[float, float] | None = None) -> ElasticSchedule:
        k, kp = self.kappa() if kappa is None else kappa
        p = self.model.market.price
        t_ref = np.divide(self.f0, p, out=self.t_ref)
        t_ref *= self.wealth[:, None]  # targets at the last price, shares
        self.kp = kp
        # what members order regardless of the clearing price (see ElasticSchedule), built in
        # place; ``delta`` is free scratch until ``prepare`` fills it
        carry = np.multiply(t_ref, kp - k, out=self.carry)
        carry += np.multiply(self.holdings, k, out=self.delta)
        if self.active.all():
            w = self.wealth
            offset = carry.sum(axis=0)
        else:
            w = np.where(self.active, self.wealth, 0.0)
            offset = carry[self.active].sum(axis=0)
        return ElasticSchedule.from_investors(
            w, self.gap, kp, offset, self.base, self.inv_g, self.lo, self.hi,
            self.model.scenario.price_formation.bins,
        )  # fmt: skip

    def ration(self, phi: np.ndarray) -> None:
        """Schedules are filled in full at the limit price; nothing to ration."""

    def prepare(self, lp_decide: np.ndarray) -> None:
        """Each member's order at log prices ``lp_decide`` (the clearing price in an auction)."""
        x = lp_decide - self.model.market.lp
        target = self.fractions(x, out=self.delta)
        target *= self.wealth[:, None]
        target *= np.exp(-lp_decide)
        target *= self.kp
        np.subtract(target, self.carry, out=self.delta)
        self.delta[~self.active] = 0.0


class Leveraged(Fundamental):
    """Hedge funds: belief-driven like funds but levered and allowed to short; margin calls.

    When equity falls below ``maintenance_margin`` x gross exposure, positions are cut (a market
    order at the next step) until equity is ``initial_margin`` x gross: forced selling into a
    falling market, the fire-sale channel. Brokers raise margins with volatility (the margin
    spiral of Brunnermeier and Pedersen, 2009): each position's margin is scaled by
    ``max(1, vol / vol_normal) ** margin_vol_sensitivity``, so the more levered a fund, the
    sooner a volatility spike forces it to sell. Before any margin call, risk limits already
    make leverage procyclical (a value-at-risk rule, Adrian and Shin 2010): the neutral book is
    scaled by ``min(1, vol / vol_normal) ** -var_sensitivity``, so when volatility jumps the
    funds de-gross, and the more levered they are the more they sell.
    """

    kind = "leveraged"

    def __init__(self, model, rows, cfg, rng) -> None:
        self.leverage = cfg.leverage
        super().__init__(model, rows, cfg, rng)
        self.forced = np.zeros_like(self.holdings)
        self.margin_calls = 0

    def _lower(self) -> np.ndarray:
        return -self.cfg.short_limit * self.bench

    def _upper(self) -> np.ndarray:
        return 3.0 * self.leverage * self.bench

    def submit(self) -> None:
        m = self.model.market
        vr = np.maximum(m.realised_vol_ratio(), 1.0)
        self.base = self.leverage * self.bench * vr ** (-self.cfg.var_sensitivity)
        super().submit()
        haircut = vr**self.cfg.margin_vol_sensitivity
        gross = np.abs(self.holdings) @ (m.price * haircut)
        equity = self.wealth
        cfg = self.cfg
        call = equity < cfg.maintenance_margin * gross
        self.active = ~call
        self.forced[:] = 0.0
        if call.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                cut = np.where(
                    equity[call] > 0, 1.0 - equity[call] / (cfg.initial_margin * gross[call]), 1.0
                )
            # brokers liquidate over several steps, not in one block
            cut = np.clip(cut, 0.0, 1.0) * np.where(equity[call] > 0, cfg.forced_sale_per_step, 1.0)
            self.forced[call] = -cut[:, None] * self.holdings[call]
            self.margin_calls += int(call.sum())
        self.fixed = self.forced.sum(axis=0)

    def prepare(self, lp_decide: np.ndarray) -> None:
        super().prepare(lp_decide)
        self.delta[~self.active] = self.forced[~self.active]

    def ration(self, phi: np.ndarray) -> None:
        """Scale the forced (market) orders by ``phi`` per asset (a limit-move rationing)."""
        rows = ~self.active
        self.delta[rows] *= phi


class Momentum(Cohort):
    """Trend followers (CTAs): tilt away from the benchmark with the return over their horizon.

    Target ``f = w_b (1 + a tanh(r_h / s))`` for active members. Members switch between active and
    inactive with Franke-Westerhoff-style rates ``nu exp(+-A)``, where the attractiveness
    ``A = alpha_0 + alpha_n (2 n_active - 1) + alpha_v (vol_ratio - 1)`` depends on population
    shares and observed volatility, so the herding survives any population size.
    """

    kind = "momentum"

    def __init__(self, model, rows, cfg, rng) -> None:
        super().__init__(model, rows, cfg, rng)
        self.horizons = np.array(cfg.horizons_steps)
        self.h_idx = rng.integers(0, len(self.horizons), size=self.n)
        self.active = rng.random(self.n) < 0.5 * (1 + np.tanh(cfg.predisposition))
        self.active_share = float(self.active.mean()) if self.n else 0.0

    def _switch(self) -> None:
        c = self.cfg
        vol = float(np.mean(self.model.market.realised_vol_ratio()))
        attract = c.predisposition + c.herding * (2 * self.active_share - 1)
        attract += c.volatility_attraction * (vol - 1.0)
        p_on = min(c.switch_rate * np.exp(attract), 1.0)
        p_off = min(c.switch_rate * np.exp(-attract), 1.0)
        u = self.stream.random(self.n)
        self.active = np.where(self.active, u >= p_off, u < p_on)
        self.active_share = float(self.active.mean()) if self.n else 0.0

    def submit(self) -> None:
        m = self.model.market
        self._switch()
        c = self.cfg
        # returns over each horizon (aggregate), then each member reads its own horizon
        r = np.stack([m.lp - m.lp_ago(int(h)) for h in self.horizons])  # (H, A)
        tilt = np.tanh(r / c.signal_scale)[self.h_idx]  # (n, A)
        frac = self.bench * (1.0 + c.aggressiveness * tilt)
        self._rebalance_to(frac, c.adjust_per_step, m.lp)
        self.delta[~self.active] = 0.0
        self.fixed = self.delta.sum(axis=0)


class VolTarget(Cohort):
    """Volatility targeters / risk parity: exposure ~ target vol / realised vol (capped).

    They keep their own slow EWMA of squared step returns and, over the last
    ``rebalance_steps`` steps of each session, move ``adjust_per_day`` of the way to
    ``w_b * min(L, s*/s_hat) / min(L, s*/s_normal)``.
    """

    kind = "vol_target"

    def __init__(self, model, rows, cfg, rng) -> None:
        super().__init__(model, rows, cfg, rng)
        self.var = model.market.normal_step_var.copy()
        self.alpha = 1.0 - 0.5 ** (1.0 / cfg.ewma_halflife_steps)
        self._seen = model.market.k

    def submit(self) -> None:
        m = self.model.market
        c = self.cfg
        if m.k > self._seen:
            r = m.lp - m.lp_ago(1)
            self.var += self.alpha * (r * r - self.var)
            self._seen = m.k
        # they rebalance over the last hour of the session, not in one closing print
        steps_left = self.model.steps_to_close()
        self.idle = steps_left >= c.rebalance_steps
        if not self.idle:
            ann = np.sqrt(self.var * m.steps_per_session * 252.0)
            ann0 = np.sqrt(m.normal_step_var * m.steps_per_session * 252.0)
            scale = np.minimum(c.max_leverage, c.target_volatility / ann)
            scale0 = np.minimum(c.max_leverage, c.target_volatility / ann0)
            frac = self.bench * scale / scale0
            # spread the day's adjustment evenly over the remaining steps of the window
            k = 1.0 - (1.0 - c.adjust_per_day) ** (1.0 / c.rebalance_steps)
            self._rebalance_to(frac[None, :], k, m.lp)
            self.fixed = self.delta.sum(axis=0)
        else:
            self.fixed = np.zeros_like(self.fixed)


class Passive(Cohort):
    """Index funds: hold their shares; trade only on fund flows, at the close."""

    kind = "passive"

    def __init__(self, model, rows, cfg, rng) -> None:
        super().__init__(model, rows, cfg, rng)
        self.today_flow = 0.0

    def submit(self) -> None:
        m = self.model.market
        if m.is_open_tick:
            self.today_flow = self.cfg.flow_volatility * float(self.stream.standard_normal())
        self.idle = not (m.is_last_tick and self.today_flow != 0.0)
        if self.idle:
            self.fixed = np.zeros_like(self.fixed)
        else:
            # inflows buy and outflows sell the index in proportion to holdings
            np.multiply(self.holdings, self.today_flow, out=self.delta)
            self.fixed = self.delta.sum(axis=0)


class Retail(Cohort):
    """Retail / noise traders: idiosyncratic noise orders, a shared mood, and dip buying.

    Members are optimists or pessimists; they switch with Lux-Marchesi rates ``nu exp(+-U)``,
    ``U = alpha_h x + alpha_r r_day`` where ``x`` is the population opinion index (a population
    share, so herding survives at any size) and ``r_day`` today's average return. Orders per step
    are ``zeta W (omega x + c xi + (1 - omega - c) eps) / p`` plus dip buying in proportion to the
    drop since the previous close; sales never exceed holdings. ``xi`` is a market-wide liquidity
    shock per asset and step shared by all members (noise-trader risk, De Long et al. 1990): the
    idiosyncratic ``eps`` averages away in a large crowd, the shared part does not.
    """

    kind = "retail"

    def __init__(self, model, rows, cfg, rng) -> None:
        super().__init__(model, rows, cfg, rng)
        u = model.universe
        steps = model.ticks.steps_per_session
        w_total = max(float(self.wealth.sum()), 1.0)
        idio = max(1.0 - cfg.sentiment_weight - cfg.common_noise, 1e-6)
        mix = (idio + cfg.common_noise) * np.sqrt(2.0 / np.pi)
        # per-step noise turnover (fraction of wealth) that yields the configured noise volume
        self.zeta = cfg.noise_volume_share * u.adv * u.price0 / (steps * w_total * mix)
        self.optimist = rng.random(self.n) < 0.5
        self.opinion = float(2 * self.optimist.mean() - 1) if self.n else 0.0
        self.act = np.zeros(0, dtype=np.int64)
        self.d_act = np.zeros((0, u.n_assets))

    def _switch(self) -> None:
        c = self.cfg
        m = self.model.market
        r_day = float(np.mean(m.lp - m.lp_prev_close))
        u = c.herding * self.opinion + c.return_feedback * r_day
        p_up = min(c.autonomous_switch * np.exp(u), 1.0)
        p_down = min(c.autonomous_switch * np.exp(-u), 1.0)
        z = self.stream.random(self.n)
        self.optimist = np.where(self.optimist, z >= p_down, z < p_up)
        self.opinion = float(2 * self.optimist.mean() - 1) if self.n else 0.0

    def submit(self) -> None:
        c = self.cfg
        m = self.model.market
        self._switch()
        # only a random few members trade in a given step; their orders are scaled up so the
        # expected flow is unchanged (and the cost of a step is proportional to who trades)
        act = np.flatnonzero(self.stream.random(self.n) < c.activity)
        self.act = act
        noise = self.stream.standard_normal((act.size, self.holdings.shape[1]))
        noise *= max(1.0 - c.sentiment_weight - c.common_noise, 0.0)
        xi = self.stream.standard_normal(self.holdings.shape[1])
        noise += c.sentiment_weight * self.opinion + c.common_noise * xi
        dollars = noise * self.zeta
        drop = np.maximum(m.lp_prev_close - m.lp, 0.0)
        dollars += c.dip_buying * drop * self.bench / m.steps_per_session
        dollars *= (self.wealth[act] / c.activity)[:, None]
        d = dollars * np.exp(-m.lp)
        # no shorting, and buys limited by the cash members are willing to use
        np.maximum(d, -self.holdings[act], out=d)
        buys = np.maximum(d, 0.0) @ m.price
        budget = np.maximum(self.cash[act], 0.0) * c.max_cash_use
        scale = np.where(buys > budget, budget / np.maximum(buys, 1e-12), 1.0)
        np.multiply(d, np.where(d > 0, scale[:, None], 1.0), out=d)
        self.d_act = d
        self.fixed = d.sum(axis=0)

    def ration(self, phi: np.ndarray) -> None:
        self.d_act *= phi

    def execute(self, lp_exec: np.ndarray) -> None:
        d = self.d_act
        self.holdings[self.act] += d
        self.cash[self.act] -= d @ np.exp(lp_exec)
        self.flow = d.sum(axis=0)
        self.volume = np.abs(d).sum(axis=0)


class MarketMaker(Cohort):
    """Liquidity providers: absorb imbalance with inventory aversion; depth shrinks with vol.

    Depth is ``depth * (V_daily / steps) / sigma_step`` shares per unit log price at normal
    volatility, scaled by ``(vol_normal / vol)^widening``. The market maker is also the
    residual counterparty of the auction, so the market always clears exactly.
    """

    kind = "market_maker"

    def __init__(self, model, rows, cfg, rng) -> None:
        super().__init__(model, rows, cfg, rng)
        u = model.universe
        steps = model.ticks.steps_per_session
        self.neutral = self.holdings.sum(axis=0).copy()
        self.depth0 = cfg.depth * (u.adv / steps) / np.sqrt(model.market.normal_step_var)
        self.limit = cfg.inventory_limit_adv * u.adv
        w = self.wealth
        self.split = w / w.sum() if w.sum() > 0 else np.full(self.n, 1.0 / max(self.n, 1))
        self.quote_error = np.zeros(u.n_assets)

    @property
    def inventory(self) -> np.ndarray:
        return self.holdings.sum(axis=0) - self.neutral

    def quote(self) -> MarketMakerQuote:
        vr = self.model.market.realised_vol_ratio()
        depth = self.depth0 * np.power(np.maximum(vr, 1e-6), -self.cfg.vol_widening)
        return MarketMakerQuote(self.inventory, depth, self.limit, self.cfg.inventory_aversion)

    def absorb(self, others_flow: np.ndarray, lp_exec: np.ndarray, quoted: np.ndarray) -> None:
        """Take the other side of every other trade (the market clears exactly)."""
        total = -others_flow
        self.quote_error = total - quoted
        np.multiply(self.split[:, None], total[None, :], out=self.delta)
        self.execute(lp_exec)


COHORT_TYPES: dict[str, type[Cohort]] = {
    "fundamental": Fundamental,
    "momentum": Momentum,
    "vol_target": VolTarget,
    "leveraged": Leveraged,
    "passive": Passive,
    "retail": Retail,
    "market_maker": MarketMaker,
}
