"""Passive index funds: hold their shares; trade only on fund flows, at the close."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from sim.cohorts.base import Cohort, CohortConfig
from sim.cohorts.registry import register

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class PassiveConfig(CohortConfig):
    flow_volatility: float = Field(
        0.001, ge=0, le=1, description="daily std of flows, fraction AUM"
    )


@register(
    "passive",
    PassiveConfig,
    order=4,
    description="index funds: hold; trade only on flows at the close",
)
class Passive(Cohort):
    """Index funds: hold their shares; trade only on fund flows, at the close."""

    amplifiers: ClassVar[tuple[str, ...]] = ("flow_volatility",)

    def __init__(
        self, model: MoatshockModel, rows: slice, cfg: PassiveConfig, rng: np.random.Generator
    ) -> None:
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
