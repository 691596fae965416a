"""The simulator's decision rules written the plain Mesa way: one ``mesa.Agent`` per investor.

This is the speed reference of ``benchmarks/bench_step.py``, not part of the simulator. It
starts from the exact state of a :class:`sim.model.MoatshockModel` (same investors, holdings,
cash, beliefs, news network, active news, cohort states, market history) and then steps it the
way a textbook Mesa model would: every investor is an ``Agent`` holding its state as Python
floats and lists, and ``model.agents.shuffle_do("step")`` lets each one compute its own order
with scalar Python arithmetic. Per investor and trading tick an agent does what the simulator
does for its row:

1. **news** (``sim.news.Diffusion.spread``): for every active event it has not heard yet, the
   hazard ``attention * media intensity + q * hours * informed share of its neighbours`` (its
   own neighbour list from the simulator's network) and a Bernoulli draw; on learning, the
   normal-normal Bayesian update of its factor beliefs, with the Jevons reading, and of its
   firm-level beliefs (``sim.beliefs.Beliefs.update``);
2. **belief precision decay** (``Beliefs.decay``);
3. **mark to market**: ``wealth = cash + holdings . prices`` (``MoatshockModel.wealth_update``);
4. **its cohort's decision rule** (``sim.cohorts``), one order per asset, in shares:

   * fundamental: believed log values ``log V0 + anchor + b (mu - theta0) + idio`` (recomputed
     only when its beliefs changed), the mean-variance tilt
     ``f = clip(w_b + (value - log p) / (gamma sigma_h^2) ...)`` with rotation into the rest of
     the market, target ``W f / p`` and an order closing ``kappa`` of the gap;
   * leveraged: the same, after a margin check that may force a cut;
   * momentum: Franke-Westerhoff switching draw, then ``w_b (1 + a tanh(r_h / s))`` on its own
     look-back ``h``;
   * vol_target: rebalancing at the close to the vol-scaled benchmark;
   * passive: the day's fund flow at the close;
   * retail: Lux-Marchesi switching draw, then an activity draw: if it trades this step, one
     Gaussian noise draw per asset, the shared mood and liquidity shock, dip buying, the
     no-short and cash-budget limits;
   * market maker: nothing here (it absorbs after clearing);

5. **booking** after clearing (``Cohort.execute``): belief-driven investors first recompute
   their demand at the clearing price (``Fundamental.prepare``), every investor books its trade
   at the clearing price, and each market maker takes its wealth share of the other side
   (``MarketMaker.absorb``).

Belief-driven investors do not send market orders: like the simulator's members they report
their wealth, value gaps and the price-independent part of their order, from which the model
builds each cohort's :class:`sim.clearing.ElasticSchedule` (the model gathers the reports into
arrays, the one step that is not per agent). Clearing is then the simulator's own
:func:`sim.clearing.batch_auction` on those schedules, the summed market orders of everyone
else and the market maker's quote, so both models face the same price formation.

Once per step, at the model level as in the simulator: the media intensity of each event, the
returns over the momentum horizons, realised volatility, the switching probabilities, the
passive flow draw and the market maker's quote.

Differences, all of which make this reference a little *cheaper* than the simulator (so the
measured speed-up of the simulator is conservative): news spreads asynchronously (an agent
sees its neighbours' status as of now, not as of the tick's start); no ``DataCollector`` (the
simulator records belief quantiles); no rationing of market orders after a limit move (rare).
The rules are copied from ``sim/`` as of the benchmark's writing: when a cohort's rule changes
there, change it here too, or the comparison stops being like for like. It draws from Mesa's ``model.random``, so its
paths differ from the simulator's in detail; the amount of work per investor is what matches.

Units: holdings in shares, cash and wealth in USD, log prices in log USD, fractions of wealth.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING

import mesa
import numpy as np
import scipy.sparse as sp

from sim import clearing
from sim.calendar import TICK_CLOSED, TICK_OPEN
from sim.kernels.diffusion import DONE

if TYPE_CHECKING:
    from sim.model import MoatshockModel

LN2 = math.log(2.0)


@dataclass
class RefEvent:
    """An active or pending news event, as the agents read it."""

    eid: int
    time: np.datetime64
    p0: float  # media hazard per hour at release
    half_life_h: float
    signal: np.ndarray  # (F,) factor units, NaN where silent (before relative adjustment)
    idio_raw: np.ndarray  # (A,) log value, NaN where silent
    credibility: float
    relative: bool
    max_age_h: float | None = None  # stops spreading this long after release (None: default)
    q: float = 0.0  # word-of-mouth rate, per hour at a fully informed neighbourhood
    n_informed: int = 0
    media: float = 0.0  # media hazard integrated over the current tick
    pairs: list[tuple[int, float]] = field(default_factory=list)  # (factor, signal) read
    jevons_pairs: list[tuple[int, float]] = field(default_factory=list)  # Jevons reading
    idio: list[tuple[int, float]] = field(default_factory=list)  # (asset, firm signal)


class Investor(mesa.Agent):
    """One investor with its own state as Python floats; subclasses decide the orders."""

    def __init__(
        self,
        model: MesaReferenceModel,
        cohort: SimpleNamespace,
        holdings: list[float],
        cash: float,
        mu: list[float],
        tau: list[float],
        idio: list[float],
        trust: float,
        idio_tau: float,
        jevons: bool,
        attention: float,
    ) -> None:
        super().__init__(model)
        self.c = cohort  # parameters shared by the cohort
        self.holdings = holdings  # shares per asset
        self.cash = cash  # USD
        self.wealth = 0.0  # USD, marked to market each step
        self.mu = mu  # belief means, factor units
        self.tau = tau  # belief precisions
        self.idio = idio  # firm-level beliefs, log value
        self.trust = trust
        self.idio_tau = idio_tau
        self.jevons = jevons
        self.attention = attention
        self.knows: set[int] = set()  # ids of events this investor has heard
        self.neighbours: list[Investor] = []
        self.weights: list[float] = []  # row-normalised link weights
        self.delta = [0.0] * len(holdings)  # this step's order / trade, shares
        self.stale = True  # beliefs changed since the believed values were computed

    # -- news and beliefs -----------------------------------------------------------------
    def learn(self) -> None:
        """Hear (or not) each active event, update beliefs on hearing, then decay precision."""
        m = self.model
        hours = m.tick_hours
        rnd = self.random.random
        knows = self.knows
        for ev in m.active_events:
            eid = ev.eid
            if eid in knows:
                continue
            rate = self.attention * ev.media
            q_hours = ev.q * hours
            if q_hours > 0.0:
                share = 0.0
                for nb, w in zip(self.neighbours, self.weights, strict=True):
                    if eid in nb.knows:
                        share += w
                rate += q_hours * share
            if rnd() < -math.expm1(-rate):
                knows.add(eid)
                ev.n_informed += 1
                self._bayes(ev)
        f = m.decay_factor
        tau = self.tau
        for k in range(len(tau)):
            tau[k] *= f

    def _bayes(self, ev: RefEvent) -> None:
        """Normal-normal update of the factor beliefs and the firm-level beliefs."""
        wp = self.trust * ev.credibility
        mu, tau = self.mu, self.tau
        for k, s in ev.jevons_pairs if self.jevons else ev.pairs:
            t = tau[k]
            t_new = t + wp
            mu[k] = (t * mu[k] + wp * s) / t_new
            tau[k] = t_new
        if ev.idio:
            t = self.idio_tau
            idio = self.idio
            for i, s in ev.idio:
                idio[i] = (t * idio[i] + wp * s) / (t + wp)
        self.stale = True

    # -- trading --------------------------------------------------------------------------
    def step(self) -> None:
        """One trading tick: news, beliefs, mark to market, own order (added to the book)."""
        self.learn()
        m = self.model
        w = self.cash
        for h, p in zip(self.holdings, m.price, strict=True):
            w += h * p
        self.wealth = w
        self.decide()
        orders = m.orders
        for i, d in enumerate(self.delta):
            orders[i] += d

    def decide(self) -> None:
        """Fill ``self.delta`` (shares per asset) from what the investor observes."""

    def execute(self) -> None:
        """Book ``self.delta`` at the clearing prices; add it to the aggregate flow."""
        m = self.model
        h = self.holdings
        flow = m.flow
        cost = 0.0
        for i, (d, p) in enumerate(zip(self.delta, m.price_new, strict=True)):
            h[i] += d
            cost += d * p
            flow[i] += d
        self.cash -= cost


class FundamentalAgent(Investor):
    """Mean-variance tilt around the benchmark on believed values (``sim.cohorts.Fundamental``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        n_a = len(self.holdings)
        self.value = [0.0] * n_a  # believed log values
        self.gap = [0.0] * n_a  # believed log value minus last log price
        self.carry = [0.0] * n_a  # order part independent of the clearing price, shares
        self.active = True

    def decide(self) -> None:
        m = self.model
        c = self.c
        n_a = len(self.holdings)
        if self.stale:
            dm = [x - x0 for x, x0 in zip(self.mu, c.consensus, strict=True)]
            for i in range(n_a):
                v = c.val0[i] + self.idio[i]
                for b, d in zip(c.exposures[i], dm, strict=True):
                    v += b * d
                self.value[i] = v
            self.stale = False
        base, inv_g, lo, hi = c.base, c.inv_g, c.lo, c.hi
        gap = self.gap
        for i in range(n_a):
            gap[i] = self.value[i] - m.lp[i]
        rest = c.rest
        if rest is not None and c.rotation > 0:
            under = 0.0
            for i in range(n_a):
                if i != rest:
                    under += base[i] - min(max(base[i] + gap[i] * inv_g[i], lo[i]), hi[i])
            gap[rest] += c.rotation * under / inv_g[rest]
        k, kp = c.kappa
        w = self.wealth
        offset = c.offset
        for i in range(n_a):
            f = min(max(base[i] + gap[i] * inv_g[i], lo[i]), hi[i])
            t_ref = w * f / m.price[i]  # target at the last price
            carry = (kp - k) * t_ref + k * self.holdings[i]
            self.carry[i] = carry
            offset[i] += carry
            self.delta[i] = 0.0  # no market order: the demand goes into the schedule
        # report wealth and value gaps for the cohort's demand schedule (sim.clearing)
        c.sched_w.append(w)
        c.sched_gap.append(gap.copy())

    def execute(self) -> None:
        if self.active:
            # exact demand at the clearing price (sim.cohorts.Fundamental.prepare)
            m = self.model
            c = self.c
            kp = c.kappa[1]
            w = self.wealth
            for i in range(len(self.delta)):
                x = m.lp_new[i] - m.lp[i]
                f = min(max(c.base[i] + (self.gap[i] - x) * c.inv_g[i], c.lo[i]), c.hi[i])
                self.delta[i] = kp * w * f / m.price_new[i] - self.carry[i]
        super().execute()


class LeveragedAgent(FundamentalAgent):
    """Levered belief-driven fund with a margin check (``sim.cohorts.Leveraged``)."""

    def decide(self) -> None:
        super().decide()
        m = self.model
        c = self.c
        gross = 0.0
        for h, p in zip(self.holdings, c.margin_price, strict=True):
            gross += abs(h) * p
        equity = self.wealth
        self.active = not equity < c.maintenance_margin * gross
        if self.active:
            return
        # a margin call: out of the schedule, a forced cut as a market order instead
        c.sched_w[-1] = 0.0
        for i, carry in enumerate(self.carry):
            c.offset[i] -= carry
        cut = 1.0 - equity / (c.initial_margin * gross) if equity > 0 else 1.0
        cut = min(max(cut, 0.0), 1.0)
        for i, h in enumerate(self.holdings):
            self.delta[i] = -cut * h
        m.margin_calls += 1


class MomentumAgent(Investor):
    """Trend follower with Franke-Westerhoff switching (``sim.cohorts.Momentum``)."""

    def __init__(self, *args, h_idx: int = 0, active: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.h_idx = h_idx  # which look-back this investor reads
        self.active = active

    def decide(self) -> None:
        m = self.model
        c = self.c
        u = self.random.random()
        self.active = u >= c.p_off if self.active else u < c.p_on
        d = self.delta
        if not self.active:
            for i in range(len(d)):
                d[i] = 0.0
            return
        c.n_active += 1
        tilt = c.tilt[self.h_idx]
        w = self.wealth
        for i in range(len(d)):
            frac = c.bench[i] * (1.0 + c.aggressiveness * tilt[i])
            d[i] = c.adjust * (w * frac / m.price[i] - self.holdings[i])


class VolTargetAgent(Investor):
    """Rebalances to the vol-scaled benchmark at the close (``sim.cohorts.VolTarget``)."""

    def decide(self) -> None:
        m = self.model
        c = self.c
        d = self.delta
        if not m.is_last_tick:
            for i in range(len(d)):
                d[i] = 0.0
            return
        w = self.wealth
        for i in range(len(d)):
            d[i] = c.adjust * (w * c.frac[i] / m.price[i] - self.holdings[i])


class PassiveAgent(Investor):
    """Trades the day's fund flow at the close (``sim.cohorts.Passive``)."""

    def decide(self) -> None:
        flow = self.c.today_flow if self.model.is_last_tick else 0.0
        for i, h in enumerate(self.holdings):
            self.delta[i] = flow * h


class RetailAgent(Investor):
    """Noise trader with mood switching and dip buying (``sim.cohorts.Retail``)."""

    def __init__(self, *args, optimist: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.optimist = optimist
        self.trading = False

    def execute(self) -> None:
        if self.trading:
            super().execute()

    def decide(self) -> None:
        m = self.model
        c = self.c
        z = self.random.random()
        self.optimist = z >= c.p_down if self.optimist else z < c.p_up
        c.n_optimist += self.optimist
        d = self.delta
        self.trading = self.random.random() < c.activity  # only a random few trade per step
        if not self.trading:
            for i in range(len(d)):
                d[i] = 0.0
            return
        gauss = self.random.gauss
        w = self.wealth / c.activity  # scaled up so that the expected flow is unchanged
        buys = 0.0
        for i in range(len(d)):
            noise = c.idio_weight * gauss(0.0, 1.0) + c.shared[i]
            dollars = (noise * c.zeta[i] + c.dip[i]) * w
            x = max(dollars / m.price[i], -self.holdings[i])  # no shorting
            d[i] = x
            if x > 0:
                buys += x * m.price[i]
        budget = max(self.cash, 0.0) * c.max_cash_use
        if buys > budget:
            s = budget / max(buys, 1e-12)
            for i in range(len(d)):
                if d[i] > 0:
                    d[i] *= s


class MarketMakerAgent(Investor):
    """Takes its wealth share of the other side of all trades (``sim.cohorts.MarketMaker``)."""

    def __init__(self, *args, split: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.split = split

    def decide(self) -> None:
        d = self.delta
        for i in range(len(d)):
            d[i] = 0.0

    def execute(self) -> None:
        """Market makers book in :meth:`absorb`, after everyone else."""

    def absorb(self, total: list[float]) -> None:
        """Book this market maker's share of ``total`` (shares per asset) at clearing prices."""
        m = self.model
        h = self.holdings
        cost = 0.0
        for i, (t, p) in enumerate(zip(total, m.price_new, strict=True)):
            d = self.split * t
            self.delta[i] = d
            h[i] += d
            cost += d * p
        self.cash -= cost


AGENT_TYPES: dict[str, type[Investor]] = {
    "fundamental": FundamentalAgent,
    "momentum": MomentumAgent,
    "vol_target": VolTargetAgent,
    "leveraged": LeveragedAgent,
    "passive": PassiveAgent,
    "retail": RetailAgent,
    "market_maker": MarketMakerAgent,
}


class MesaReferenceModel(mesa.Model):
    """Plain-Mesa copy of a :class:`MoatshockModel`, one agent per investor, from its state."""

    def __init__(self, sim_model: MoatshockModel, seed: int = 0) -> None:
        # an integer ``rng`` seeds Mesa's ``random`` and ``rng`` exactly as ``seed=`` did (which
        # Mesa 3.5 deprecates)
        super().__init__(rng=seed)
        s = sim_model
        u = s.universe
        self.scn = s.scn
        self.ticks = s.ticks
        self.tick = s.tick
        self.n_assets = u.n_assets
        self.market = copy.deepcopy(s.market)
        self.benchmark = s.benchmark.tolist()
        self.factor_names = list(u.factor_names)
        self.i_cd = u.factor_names.index("compute_demand")
        self.i_cost = u.factor_names.index("cost_of_intelligence")
        bcfg = s.scn.beliefs
        self.jevons_elasticity = bcfg.jevons_elasticity
        self.memory_half_life_days = bcfg.memory_half_life_days
        self.q = s.diffusion.q
        self.tick_hours = 0.0
        self.decay_factor = 1.0
        self.saturation = s.diffusion.saturation
        self.max_age_hours = s.diffusion.max_age_hours
        self.is_open_tick = False
        self.is_last_tick = False
        self.margin_calls = 0
        self.n_investors = s.scn.population.size
        self.lp: list[float] = []
        self.price: list[float] = []
        self.lp_new: list[float] = []
        self.price_new: list[float] = []
        self.orders = [0.0] * self.n_assets
        self.flow = [0.0] * self.n_assets

        # news: every released event still spreading, and the ones to come
        self._next_eid = 0
        self.active_events: list[RefEvent] = []
        self.pending: list[RefEvent] = []
        knows_of: dict[int, list[int]] = {}
        for ev in s.diffusion.active:
            rev = self._event(ev)
            rev.n_informed = ev.n_informed
            self._interpret(rev, rev.signal, rev.idio_raw)
            self.active_events.append(rev)
            assert ev.spreading is not None
            for j in np.flatnonzero(ev.spreading.tick_of == DONE):
                knows_of.setdefault(int(j), []).append(rev.eid)
        self.pending = [self._event(ev) for ev in s.diffusion.pending]

        self.cohorts = self._cohort_params(s)
        self._build_agents(s, knows_of)

    # -- construction ---------------------------------------------------------------------
    def _event(self, ev) -> RefEvent:
        self._next_eid += 1
        return RefEvent(
            eid=self._next_eid,
            time=ev.time,
            p0=float(ev.p0),
            half_life_h=float(ev.half_life_h),
            signal=np.array(ev.signal, dtype=float),
            idio_raw=np.array(ev.idio, dtype=float),
            credibility=float(ev.credibility),
            relative=bool(ev.relative),
            max_age_h=getattr(ev, "max_age_h", None),
            q=self.q if ev.q is None else float(ev.q),
        )

    def _interpret(self, ev: RefEvent, signal: np.ndarray, idio: np.ndarray) -> None:
        """The (factor, signal) pairs a plain and a Jevons investor read from an event."""
        has = ~np.isnan(signal)
        sig = np.nan_to_num(signal)
        ev.pairs = [(int(k), float(sig[k])) for k in np.flatnonzero(has)]
        jev = dict(ev.pairs)
        if has[self.i_cost]:
            jev[self.i_cd] = -self.jevons_elasticity * float(sig[self.i_cost])
        ev.jevons_pairs = sorted(jev.items())
        if np.any(~np.isnan(idio)):
            ev.idio = [(int(i), float(idio[i])) for i in np.flatnonzero(~np.isnan(idio))]

    def _cohort_params(self, s: MoatshockModel) -> dict[str, SimpleNamespace]:
        u = s.universe
        pf = s.scn.price_formation
        out: dict[str, SimpleNamespace] = {}
        for name, coh in s.cohorts.items():
            cfg = coh.cfg
            c = SimpleNamespace(name=name, cfg=cfg)
            # the cohort's neutral weights (per cohort where the simulator has them)
            c.bench = np.asarray(getattr(coh, "bench", s.benchmark), dtype=float).tolist()
            if name in ("fundamental", "leveraged"):
                c.base = coh.base.tolist()
                c.inv_g = coh.inv_g.tolist()
                c.lo = coh.lo.tolist()
                c.hi = coh.hi.tolist()
                c.consensus = s.beliefs.consensus.tolist()
                c.exposures = u.exposures.tolist()  # (A, F)
                c.val0 = (s.market.lp0 + s.anchor).tolist()
                c.rest = u.rest
                c.rotation = s.rotation
                c.kappa = (cfg.adjust_per_step, cfg.price_response_per_step)
                if name == "leveraged":
                    c.maintenance_margin = cfg.maintenance_margin
                    c.initial_margin = cfg.initial_margin
            elif name == "momentum":
                c.horizons = [int(h) for h in coh.horizons]
                c.aggressiveness = cfg.aggressiveness
                c.adjust = cfg.adjust_per_step
                c.active_share = coh.active_share
                c.n_active = 0
                c.n = coh.n
            elif name == "vol_target":
                c.var = coh.var.copy()
                c.alpha = coh.alpha
                c.seen = coh._seen
                c.adjust = cfg.adjust_per_day
                c.frac = [0.0] * u.n_assets
            elif name == "passive":
                c.today_flow = coh.today_flow
            elif name == "retail":
                c.zeta = coh.zeta.tolist()
                c.opinion = coh.opinion
                c.idio_weight = max(1.0 - cfg.sentiment_weight - cfg.common_noise, 0.0)
                c.max_cash_use = cfg.max_cash_use
                c.activity = getattr(cfg, "activity", 1.0)
                c.n_optimist = 0
                c.n = coh.n
            elif name == "market_maker":
                c.neutral = coh.neutral.copy()
                c.depth0 = coh.depth0.copy()
                c.limit = coh.limit.copy()
            out[name] = c
        self.ewma_alpha = 1.0 - 0.5 ** (1.0 / pf.volatility_halflife_steps)
        return out

    def _build_agents(self, s: MoatshockModel, knows_of: dict[int, list[int]]) -> None:
        pop, bel = s.population, s.beliefs
        holdings = pop.holdings.tolist()
        cash = pop.cash.tolist()
        mu, tau, idio = bel.mu.tolist(), bel.tau.tolist(), bel.idio.tolist()
        trust, idio_tau = bel.trust.tolist(), bel.idio_tau.tolist()
        jevons, attention = bel.jevons.tolist(), s.diffusion.attention.tolist()
        agents: list[Investor] = []
        for name, (a, b) in pop.bounds.items():
            cls = AGENT_TYPES[name]
            coh = s.cohorts[name]
            for j in range(a, b):
                extra = {}
                if name == "momentum":
                    extra = {"h_idx": int(coh.h_idx[j - a]), "active": bool(coh.active[j - a])}
                elif name == "retail":
                    extra = {"optimist": bool(coh.optimist[j - a])}
                elif name == "market_maker":
                    extra = {"split": float(coh.split[j - a])}
                ag = cls(
                    self,
                    self.cohorts[name],
                    holdings[j],
                    cash[j],
                    mu[j],
                    tau[j],
                    idio[j],
                    trust[j],
                    idio_tau[j],
                    jevons[j],
                    attention[j],
                    **extra,
                )
                ag.knows.update(knows_of.get(j, ()))
                agents.append(ag)
        d = s.diffusion
        net = sp.csc_matrix((d.weights, d.indices, d.indptr), shape=(d.n, d.n)).tocsr()
        for j, ag in enumerate(agents):
            lo, hi = net.indptr[j], net.indptr[j + 1]
            ag.neighbours = [agents[k] for k in net.indices[lo:hi]]
            ag.weights = net.data[lo:hi].astype(float).tolist()
        self.mm_agents = [ag for ag in agents if isinstance(ag, MarketMakerAgent)]

    # -- per-step public information ------------------------------------------------------
    def _news(self, start: np.datetime64, hours: float) -> None:
        """Release due events; set each active event's media hazard over this tick."""
        end = start + np.timedelta64(int(round(hours * 60)), "m")
        while self.pending and self.pending[0].time < end:
            ev = self.pending.pop(0)
            sig, idio = ev.signal, ev.idio_raw
            if ev.relative:
                # a surprise around what the crowd believes now (a pass over the agents)
                n = max(len(self.agents), 1)
                cur = np.zeros(len(self.factor_names))
                cur_i = np.zeros(self.n_assets)
                for ag in self.agents:
                    cur += ag.mu
                    cur_i += ag.idio
                sig = np.where(np.isnan(sig), np.nan, sig + cur / n)
                idio = np.where(np.isnan(idio), np.nan, idio + cur_i / n)
            self._interpret(ev, sig, idio)
            self.active_events.append(ev)
        keep = []
        for ev in self.active_events:
            age0 = max((start - ev.time) / np.timedelta64(1, "m") / 60.0, 0.0)
            hl = ev.half_life_h
            ev.media = ev.p0 * hl / LN2 * (2.0 ** (-age0 / hl) - 2.0 ** (-(age0 + hours) / hl))
            max_age = self.max_age_hours if ev.max_age_h is None else ev.max_age_h
            if ev.n_informed < self.saturation * self.n_investors and age0 < max_age:
                keep.append(ev)
        self.active_events = keep
        self.tick_hours = hours
        self.decay_factor = 0.5 ** (hours / (24.0 * self.memory_half_life_days))

    def _observe(self) -> None:
        """Public market information every investor reads this step (once, model-level)."""
        m = self.market
        c = self.cohorts
        self.lp = m.lp.tolist()
        self.price = np.exp(m.lp).tolist()
        vr = m.realised_vol_ratio()
        # momentum: tilts per look-back and switching probabilities
        mo = c["momentum"]
        mcfg = mo.cfg
        r = np.stack([m.lp - m.lp_ago(h) for h in mo.horizons])
        mo.tilt = np.tanh(r / mcfg.signal_scale).tolist()
        attract = mcfg.predisposition + mcfg.herding * (2 * mo.active_share - 1)
        attract += mcfg.volatility_attraction * (float(np.mean(vr)) - 1.0)
        mo.p_on = min(mcfg.switch_rate * math.exp(attract), 1.0)
        mo.p_off = min(mcfg.switch_rate * math.exp(-attract), 1.0)
        mo.n_active = 0
        # vol targeting: their own EWMA variance and, at the close, the target fraction
        vt = c["vol_target"]
        if m.k > vt.seen:
            ret = m.lp - m.lp_ago(1)
            vt.var += vt.alpha * (ret * ret - vt.var)
            vt.seen = m.k
        if self.is_last_tick:
            vcfg = vt.cfg
            ann = np.sqrt(vt.var * m.steps_per_session * 252.0)
            ann0 = np.sqrt(m.normal_step_var * m.steps_per_session * 252.0)
            scale = np.minimum(vcfg.max_leverage, vcfg.target_volatility / ann)
            scale0 = np.minimum(vcfg.max_leverage, vcfg.target_volatility / ann0)
            vt.frac = (np.asarray(vt.bench) * scale / scale0).tolist()
        # passive: the day's flow is drawn at the open
        pa = c["passive"]
        if self.is_open_tick:
            pa.today_flow = pa.cfg.flow_volatility * self.random.gauss(0.0, 1.0)
        # retail: switching probabilities, shared mood and liquidity shock, dip buying
        re = c["retail"]
        rcfg = re.cfg
        r_day = float(np.mean(m.lp - m.lp_prev_close))
        util = rcfg.herding * re.opinion + rcfg.return_feedback * r_day
        re.p_up = min(rcfg.autonomous_switch * math.exp(util), 1.0)
        re.p_down = min(rcfg.autonomous_switch * math.exp(-util), 1.0)
        xi = [self.random.gauss(0.0, 1.0) for _ in range(self.n_assets)]
        re.shared = [rcfg.sentiment_weight * re.opinion + rcfg.common_noise * x for x in xi]
        drop = np.maximum(m.lp_prev_close - m.lp, 0.0)
        re.dip = (rcfg.dip_buying * drop * np.asarray(re.bench) / m.steps_per_session).tolist()
        re.n_optimist = 0
        # fundamental / leveraged: the open takes a bigger step
        for name in ("fundamental", "leveraged"):
            fc = c[name]
            cfg = fc.cfg
            if self.is_open_tick:
                fc.kappa = (cfg.open_adjust, max(cfg.open_adjust, cfg.price_response_per_step))
            else:
                fc.kappa = (cfg.adjust_per_step, cfg.price_response_per_step)
            if name == "leveraged":
                # brokers' margin per position scales with volatility (sim.cohorts.Leveraged)
                sens = getattr(cfg, "margin_vol_sensitivity", 0.0)
                haircut = np.maximum(m.realised_vol_ratio(), 1.0) ** sens
                fc.margin_price = (np.exp(m.lp) * haircut).tolist()
            fc.sched_w = []
            fc.sched_gap = []
            fc.offset = [0.0] * self.n_assets

    def _quote(self) -> clearing.MarketMakerQuote:
        mm = self.cohorts["market_maker"]
        inv = np.zeros(self.n_assets)
        for ag in self.mm_agents:
            inv += ag.holdings
        vr = self.market.realised_vol_ratio()
        depth = mm.depth0 * np.power(np.maximum(vr, 1e-6), -mm.cfg.vol_widening)
        return clearing.MarketMakerQuote(
            inv - mm.neutral, depth, mm.limit, mm.cfg.inventory_aversion
        )

    def _schedule(self, c: SimpleNamespace, bins: int) -> clearing.ElasticSchedule:
        """A belief-driven cohort's demand schedule from its members' reports."""
        return clearing.ElasticSchedule.from_investors(
            np.asarray(c.sched_w, dtype=float),
            np.asarray(c.sched_gap, dtype=float).reshape(-1, self.n_assets),
            c.kappa[1],
            np.asarray(c.offset),
            np.asarray(c.base),
            np.asarray(c.inv_g),
            np.asarray(c.lo),
            np.asarray(c.hi),
            bins,
        )

    # -- the step -------------------------------------------------------------------------
    def step(self) -> None:
        """One tick: news for everyone; in a trading tick, orders, clearing and booking."""
        t = self.tick
        ticks = self.ticks
        if t >= len(ticks):
            self.running = False
            return
        kind = ticks.kind[t]
        hours = float(ticks.hours[t])
        self._news(ticks.start[t], hours)
        self.tick += 1
        if kind == TICK_CLOSED:
            self.agents.shuffle_do("learn")
            return
        m = self.market
        self.is_open_tick = kind == TICK_OPEN
        nxt = t + 1
        self.is_last_tick = bool(
            nxt >= len(ticks) or ticks.kind[nxt] != 2 or ticks.day[nxt] != ticks.day[t]
        )
        m.is_open_tick, m.is_last_tick = self.is_open_tick, self.is_last_tick
        self._observe()
        self.orders = [0.0] * self.n_assets
        self.agents.shuffle_do("step")  # every investor computes its own order
        c = self.cohorts
        c["momentum"].active_share = c["momentum"].n_active / max(c["momentum"].n, 1)
        c["retail"].opinion = 2.0 * c["retail"].n_optimist / max(c["retail"].n, 1) - 1.0
        # clearing: the simulator's batch auction on the summed orders and the MM quote
        pf = self.scn.price_formation
        fixed = np.asarray(self.orders)
        scheds = [self._schedule(c[name], pf.bins) for name in ("fundamental", "leveraged")]
        res = clearing.batch_auction(m.lp, scheds, fixed, self._quote(), pf.bracket, pf.tolerance)
        self.lp_new = res.lp.tolist()
        self.price_new = np.exp(res.lp).tolist()
        self.flow = [0.0] * self.n_assets
        self.agents.do("execute")  # every investor books its own trade
        total = [-f for f in self.flow]
        for ag in self.mm_agents:
            ag.absorb(total)
        if self.is_last_tick:
            m.lp_prev_close = res.lp.copy()
        m.record(res.lp, ewma_alpha=self.ewma_alpha)
