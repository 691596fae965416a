"""Scenarios: the schema (:mod:`.schema`), reading files (:mod:`.loading`), field reference.

A scenario is a YAML file that fully describes one simulated market; see
``scenarios/README.md`` for every field.
"""

from __future__ import annotations

from sim.scenario.loading import (
    PathDeprecation,
    apply_overrides,
    get_path,
    load_raw,
    load_scenario,
    parse_override,
    validate,
    yaml_error_text,
)
from sim.scenario.schema import (
    FACTOR_NAMES_REQUIRED,
    AssetConfig,
    BeliefsConfig,
    CalendarConfig,
    CohortsBase,
    CohortsConfig,
    FactorConfig,
    IndexConfig,
    NetworkConfig,
    NewsEvent,
    NewsFlowConfig,
    PopulationConfig,
    PriceFormationConfig,
    ReferenceConfig,
    Scenario,
    ScenarioError,
    UniverseConfig,
)

__all__ = [
    "FACTOR_NAMES_REQUIRED",
    "AssetConfig",
    "BeliefsConfig",
    "CalendarConfig",
    "CohortsBase",
    "CohortsConfig",
    "FactorConfig",
    "IndexConfig",
    "NetworkConfig",
    "NewsEvent",
    "NewsFlowConfig",
    "PopulationConfig",
    "PriceFormationConfig",
    "ReferenceConfig",
    "Scenario",
    "ScenarioError",
    "UniverseConfig",
    "PathDeprecation",
    "apply_overrides",
    "get_path",
    "load_raw",
    "load_scenario",
    "parse_override",
    "validate",
    "yaml_error_text",
]
