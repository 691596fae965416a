"""Public market state that every cohort can observe: prices, their history, volatility.

Log prices are natural logs of USD per share. Only :mod:`sim.clearing` decides new prices;
this module stores them and derives what traders look at (returns over horizons, realised
volatility, the previous close).
"""

from __future__ import annotations

import numpy as np


class MarketState:
    def __init__(
        self, price0: np.ndarray, daily_vol: np.ndarray, steps_per_session: int, n_steps: int
    ) -> None:
        a = price0.size
        self.lp0 = np.log(price0)
        self.lp = self.lp0.copy()
        self.lp_prev_close = self.lp0.copy()
        self.lp_open = self.lp0.copy()
        self.steps_per_session = steps_per_session
        self.normal_step_var = daily_vol**2 / steps_per_session
        self.step_var = self.normal_step_var.copy()  # EWMA of squared step returns
        self.history = np.empty((n_steps + 1, a))
        self.history[0] = self.lp0
        self.k = 0  # trading steps done
        self.is_open_tick = False
        self.is_last_tick = False
        self.day = -1

    @property
    def price(self) -> np.ndarray:
        return np.exp(self.lp)

    def lp_ago(self, steps: int) -> np.ndarray:
        """Log price ``steps`` trading steps ago (clamped at the first recorded price)."""
        return self.history[max(self.k - steps, 0)]

    def realised_vol_ratio(self) -> np.ndarray:
        """Current EWMA step volatility over its normal level (1 = calm)."""
        return np.sqrt(self.step_var / self.normal_step_var)

    def record(self, lp_new: np.ndarray, ewma_alpha: float) -> np.ndarray:
        """Store a new clearing price; returns the step's log return."""
        r = lp_new - self.lp
        self.step_var += ewma_alpha * (r * r - self.step_var)
        self.lp = lp_new
        self.k += 1
        self.history[self.k] = lp_new
        return r
