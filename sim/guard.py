"""The run-time guard: a run whose market breaks down stops with a message, not nonsense.

Valid but extreme parameters (leverage 10, a market maker with no depth, ...) can make prices
explode or collapse. After every clearing the guard checks that prices are finite, that no
price has moved further than ``price_formation.max_log_move`` (log units) from its start, and
that no asset's clearing has sat at the price limit for a whole session. If one fails, the run
stops with :class:`MarketBreakdown`, whose message names the asset, the time and the likely
parameters: those the cohort type that traded the asset most in the last step declares as its
amplifiers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class MarketBreakdown(RuntimeError):
    """The simulated market left its sane range; ``result`` holds the tables up to the stop."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.result: Any = None  # set by sim.simulate.run_model: the partial RunResult


class Guard:
    """Checks every clearing of a model (see the module docstring)."""

    def __init__(self, lp0: np.ndarray, max_log_move: float, steps_per_session: int) -> None:
        self.lp0 = lp0.copy()
        self.max_log_move = max_log_move
        self.steps_per_session = steps_per_session
        self.limit_streak = np.zeros(lp0.size, dtype=np.int64)

    def check(self, model: MoatshockModel, lp_new: np.ndarray, at_limit: np.ndarray) -> None:
        """Raise :class:`MarketBreakdown` if the clearing ``lp_new`` is not sane."""
        self.limit_streak = np.where(at_limit, self.limit_streak + 1, 0)
        u = model.universe
        bad = ~np.isfinite(lp_new)
        if bad.any():
            i = int(np.argmax(bad))
            raise MarketBreakdown(self._message(model, i, "price is not a finite number"))
        move = np.abs(lp_new - self.lp0)
        if np.any(move > self.max_log_move):
            i = int(np.argmax(move))
            factor = float(np.exp(lp_new[i] - self.lp0[i]))
            raise MarketBreakdown(
                self._message(
                    model,
                    i,
                    f"price moved to {factor:.3g} x its start ({u.price0[i]:.2f} -> "
                    f"{u.price0[i] * factor:.4g} USD), beyond price_formation.max_log_move "
                    f"({self.max_log_move:g}, a factor of {np.exp(self.max_log_move):.3g})",
                )
            )
        if np.any(self.limit_streak >= self.steps_per_session):
            i = int(np.argmax(self.limit_streak))
            raise MarketBreakdown(
                self._message(
                    model,
                    i,
                    f"clearing sat at the price limit (price_formation.bracket) for "
                    f"{int(self.limit_streak[i])} steps in a row: orders no price can clear",
                )
            )

    @staticmethod
    def _message(model: MoatshockModel, i: int, what: str) -> str:
        ticker = model.universe.tickers[i]
        when = np.datetime_as_string(model.ticks.start[model.tick - 1], unit="m")
        flows = {k: abs(float(f[i])) for k, f in model.last_flows.items()}
        suspects = []
        if flows and max(flows.values()) > 0:
            name = max(flows, key=flows.__getitem__)
            cfg = model.cohorts[name].cfg
            params = [
                f"population.cohorts.{name}.{p}={getattr(cfg, p):g}"
                for p in model.cohorts[name].amplifiers
            ]
            suspects.append(f"{name} traded {ticker} most in the last step")
            if params:
                suspects.append("likely parameters: " + ", ".join(params))
        return f"{model.scn.name}: the market broke down at {when}: {ticker}: {what}" + (
            "; " + "; ".join(suspects) if suspects else ""
        )
