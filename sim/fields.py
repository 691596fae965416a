"""The base of every configuration model: strict pydantic models that refuse unknown fields.

Scenario sections (:mod:`sim.scenario`) and cohort configurations (:mod:`sim.cohorts`) both
derive from :class:`StrictModel`, so a misspelt field is an error that names it, and no number
may be infinite or NaN (``.inf`` or ``.nan`` in YAML, ``--set x=.inf``). Fields carry the sane
ranges their economics has (see each ``Field``); the value types below bound the entries of
mappings (a news signal, a characteristic, a loading).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """A configuration section: unknown fields and non-finite numbers are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=False, allow_inf_nan=False)


#: A value in factor units (a signal, a consensus level): beyond +-10 no belief would move.
FactorUnits = Annotated[float, Field(ge=-10, le=10)]
#: A firm-level signal on log value: beyond +-2 (a factor of 7.4) it is no news but a typo.
LogValue = Annotated[float, Field(ge=-2, le=2)]
#: A loading of a factor on a characteristic (log value per factor unit per unit of it).
Loading = Annotated[float, Field(ge=-10, le=10)]
#: A company characteristic: a fraction, or a small ratio (see scenarios/characteristics.yaml).
Characteristic = Annotated[float, Field(ge=-10, le=10)]
