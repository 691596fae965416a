"""Investor cohorts: one Mesa agent per strategy type (see :mod:`sim.cohorts.base`).

Every module of this package is imported here, and each registers its type with
:func:`sim.cohorts.registry.register`; ``REGISTRY`` then lists them all. A new investor type
is one new module in this folder (``docs/extending.md``).
"""

from __future__ import annotations

import importlib
import pkgutil

from sim.cohorts.base import Cohort, CohortConfig, ElasticCohort
from sim.cohorts.registry import REGISTRY, CohortType, cohort_types, register

_INFRASTRUCTURE = {"base", "registry"}

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _mod.name not in _INFRASTRUCTURE and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = [
    "REGISTRY",
    "Cohort",
    "CohortConfig",
    "ElasticCohort",
    "CohortType",
    "cohort_types",
    "register",
]
