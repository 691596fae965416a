"""The cohort registry: every investor type is registered once, where it is defined.

A cohort type is a :class:`~sim.cohorts.base.Cohort` subclass (a Mesa agent holding its members
as rows of numpy arrays) with its configuration model. ``@register`` records both under the
name a scenario uses in ``population.cohorts``; the scenario schema, the model's population
layout and random streams, and the field reference are all built from this registry, so adding
an investor type means adding one module to ``sim/cohorts/`` (see ``docs/extending.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sim.cohorts.base import Cohort, CohortConfig

C = TypeVar("C", bound="type[Cohort]")


@dataclass(frozen=True)
class CohortType:
    """One registered investor type.

    ``order`` fixes the type's place in the population arrays and its random stream (stream
    ``6 + order`` of the run's seed), so registering a new type never changes the draws of the
    others. ``required`` types must appear in every scenario (the market maker: the auction's
    residual counterparty).
    """

    name: str
    cls: type[Cohort]
    config: type[CohortConfig]
    order: int
    description: str
    required: bool = False


REGISTRY: dict[str, CohortType] = {}


def register(
    name: str,
    config: type[CohortConfig],
    *,
    order: int,
    description: str,
    required: bool = False,
) -> Callable[[C], C]:
    """Class decorator: register a cohort class under ``name`` with its config model."""

    def deco(cls: C) -> C:
        if name in REGISTRY and REGISTRY[name].cls is not cls:
            raise ValueError(f"cohort type {name!r} is registered twice")
        clash = [t.name for t in REGISTRY.values() if t.order == order and t.name != name]
        if clash:
            raise ValueError(f"cohort type {name!r}: order {order} is taken by {clash[0]!r}")
        from sim.cohorts.base import ElasticCohort

        if cls.elastic != issubclass(cls, ElasticCohort):
            raise ValueError(
                f"cohort type {name!r}: elastic cohorts subclass ElasticCohort (and only they)"
            )
        cls.kind = name
        REGISTRY[name] = CohortType(name, cls, config, order, description, required)
        return cls

    return deco


def cohort_types() -> list[CohortType]:
    """Registered types in their fixed order."""
    return sorted(REGISTRY.values(), key=lambda t: t.order)
