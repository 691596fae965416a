"""Spec files: frozen pydantic models read from YAML, with paths relative to the file.

The base of the sweep file (:mod:`analysis.experiments.spec`) and the calibration file
(:mod:`analysis.calibration.spec`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr

from sim.scenario import yaml_error_text

__all__ = ["SpecFile", "StrictModel", "finite_values", "read_yaml"]


class StrictModel(BaseModel):
    """A frozen pydantic model that refuses unknown fields and inf/NaN numbers (the base of
    every spec model; the scenario schema refuses them too)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def finite_values(value: Any) -> Any:
    """``value`` unchanged; ``ValueError`` naming the first inf/NaN number inside it (for the
    free-form override mappings, which ``allow_inf_nan`` does not reach)."""

    def walk(x: Any, at: str) -> None:
        if isinstance(x, float) and not math.isfinite(x):
            raise ValueError(f"{at or 'value'}: expected a finite number, got {x}")
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{at}.{k}" if at else str(k))
        elif isinstance(x, list | tuple):
            for i, v in enumerate(x):
                walk(v, f"{at}.{i}" if at else str(i))

    walk(value, "")
    return value


class SpecFile(StrictModel):
    """A spec read from a YAML file: paths in it are relative to that file."""

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file this spec was read from (None if built in memory)."""
        return self._source

    def resolve(self, rel: str) -> Path:
        """Absolute path of a file named relative to the spec file (or the working folder)."""
        p = Path(rel)
        if not p.is_absolute():
            p = (self._source.parent if self._source else Path.cwd()) / p
        return p.resolve()


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """The parsed content of YAML file ``path``; ``error`` (one line) if unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise error(f"{path}: cannot read {what} file: {err.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise error(f"{path.name}: invalid YAML{yaml_error_text(err)}") from None
