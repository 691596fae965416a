"""The parameters a sweep varies: explicit values, ranges (linear, log, integer), distributions.

Each is addressed by the dotted override path that the task understands (``--set`` paths).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from scipy import stats

from analysis.experiments.specfile import StrictModel

__all__ = ["DistributionParameter", "Parameter", "RangeParameter", "ValuesParameter"]

Scalar = bool | int | float | str


class ValuesParameter(StrictModel):
    """A parameter taking one of an explicit list of values (numbers, strings or bools)."""

    path: str = Field(min_length=1, description="dotted override path")
    values: list[Scalar] = Field(min_length=1)

    @property
    def kind(self) -> str:
        return "values"


class RangeParameter(StrictModel):
    """A continuous (or integer) parameter on ``[low, high]``, linear or log scale.

    ``levels`` is the number of evenly spaced grid levels (grid designs only).
    """

    path: str = Field(min_length=1, description="dotted override path")
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False
    levels: int | None = Field(default=None, ge=2)

    @property
    def kind(self) -> str:
        return "range"

    @model_validator(mode="after")
    def _check_bounds(self) -> RangeParameter:
        if not math.isfinite(self.low) or not math.isfinite(self.high):
            raise ValueError("low and high must be finite")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"log scale needs low > 0 (got {self.low})")
        if self.integer and math.floor(self.high) < math.ceil(self.low):
            raise ValueError(f"no integer lies in [{self.low}, {self.high}]")
        return self


class DistributionParameter(StrictModel):
    """A parameter drawn from a distribution, sampled through its quantile function.

    normal: ``mean``, ``sd``; lognormal: ``mu``, ``sigma`` of the underlying normal
    (median ``exp(mu)``); uniform: ``low``, ``high``. Unbounded distributions are
    truncated at the ``truncate`` quantiles so that grid and Morris levels at the
    cube's edges (u = 0 or 1) stay finite.
    """

    path: str = Field(min_length=1, description="dotted override path")
    distribution: Literal["normal", "uniform", "lognormal"]
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    mu: float | None = None
    sigma: float | None = Field(default=None, gt=0)
    low: float | None = None
    high: float | None = None
    truncate: tuple[float, float] = (0.001, 0.999)
    integer: bool = False
    levels: int | None = Field(default=None, ge=2)

    @property
    def kind(self) -> str:
        return "distribution"

    @model_validator(mode="after")
    def _check_shape(self) -> DistributionParameter:
        needed = {
            "normal": ("mean", "sd"),
            "lognormal": ("mu", "sigma"),
            "uniform": ("low", "high"),
        }
        used = {
            name for names in needed.values() for name in names if getattr(self, name) is not None
        }
        want = set(needed[self.distribution])
        if missing := sorted(want - used):
            raise ValueError(f"{self.distribution} distribution needs {', '.join(missing)}")
        if extra := sorted(used - want):
            raise ValueError(f"{self.distribution} distribution does not take {', '.join(extra)}")
        if self.distribution == "uniform" and not self.low < self.high:  # type: ignore[operator]
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        lo, hi = self.truncate
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError("truncate must be two quantiles 0 <= lo < hi <= 1")
        return self

    def scipy_dist(self) -> Any:
        """The scipy frozen distribution (before truncation)."""
        if self.distribution == "normal":
            return stats.norm(loc=self.mean, scale=self.sd)
        if self.distribution == "lognormal":
            return stats.lognorm(s=self.sigma, scale=math.exp(self.mu))  # type: ignore[arg-type]
        return stats.uniform(loc=self.low, scale=self.high - self.low)  # type: ignore[operator]


def _parameter_tag(value: Any) -> str:
    # Pick the parameter form from the keys present so that errors name the fields of
    # that form instead of listing every union member's complaints.
    if isinstance(value, dict):
        if "values" in value:
            return "values"
        if "distribution" in value:
            return "distribution"
        return "range"
    return getattr(value, "kind", "range")


Parameter = Annotated[
    Annotated[ValuesParameter, Tag("values")]
    | Annotated[RangeParameter, Tag("range")]
    | Annotated[DistributionParameter, Tag("distribution")],
    Discriminator(_parameter_tag),
]
