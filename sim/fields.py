"""The base of every configuration model: strict pydantic models that refuse unknown fields.

Scenario sections (:mod:`sim.scenario`) and cohort configurations (:mod:`sim.cohorts`) both
derive from :class:`StrictModel`, so a misspelt field is an error that names it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A configuration section: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=False)
