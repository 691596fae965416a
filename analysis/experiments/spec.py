"""Sweep specifications: the sweep file (YAML), validated, with one-line errors.

A sweep file names a base scenario, the parameters to vary (by the dotted path that
``analysis.experiments.tasks.evaluate`` understands as an override), a design that decides
which parameter combinations ("points") to run (:mod:`analysis.experiments.designs`), how many
replications (seeds) per point, and which metrics to record::

    name: momentum_vs_credibility
    base: ../deepseek_2025.yaml          # relative to the sweep file
    task: analysis.experiments.tasks:evaluate               # optional, pluggable unit of work
    parameters:
      - {path: population.cohorts.momentum.share, low: 0.0, high: 0.3, levels: 4}
      - {path: news.viral_cost_claim.credibility, values: [0.5, 1.0, 2.0, 3.0]}
    design: grid                         # or {method: saltelli, n: 32, calc_second_order: false}
    replications: 2
    seed: 20250127
    metrics: ["shock_return:NVDA"]

``common_random_numbers: true`` gives every point of a design block the same seeds
(replication ``r`` of each point of the block runs with the block's ``r``-th seed): a Saltelli
block (a base sample and its cross samples), a Morris trajectory, or the whole design for the
other methods. The estimators then compare points under the same draws, so seed noise largely
cancels from their differences (:func:`analysis.experiments.sweep.sweep_seeds`).

The parameter forms are in :mod:`analysis.experiments.parameters`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from analysis.experiments.parameters import Parameter
from analysis.experiments.specfile import SpecFile, StrictModel, finite_values, read_yaml

__all__ = [
    "DEFAULT_TASK",
    "SpecError",
    "SweepSpec",
    "format_validation_error",
    "load_spec",
    "parse_spec",
    "validate_spec",
]

DEFAULT_TASK = "analysis.experiments.tasks:evaluate"


class SpecError(ValueError):
    """A sweep specification is invalid; the message is one line naming file and field."""


Spec = TypeVar("Spec", bound=SpecFile)


def validate_spec(
    model: type[Spec],
    data: Any,
    filename: str,
    source: Path | None,
    what: str,
    error: type[Exception],
) -> Spec:
    """``data`` validated as ``model`` read from ``source``; ``error`` with a one-line message."""
    if not isinstance(data, dict):
        raise error(f"{filename}: expected a mapping of {what} fields at the top level")
    try:
        spec = model.model_validate(data)
    except ValidationError as err:
        raise error(format_validation_error(err, filename)) from None
    spec._source = source
    return spec


# ------------------------------------------------------------------------------ designs


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class GridDesign(StrictModel):
    """Full factorial: the cartesian product of every parameter's levels."""

    method: Literal["grid"]


class LhsDesign(StrictModel):
    """Latin hypercube with ``n`` points (scipy.stats.qmc.LatinHypercube)."""

    method: Literal["lhs"]
    n: int = Field(ge=1)


class SobolDesign(StrictModel):
    """Scrambled Sobol' sequence with ``n`` points (a power of two keeps its balance)."""

    method: Literal["sobol"]
    n: int = Field(ge=1)

    @field_validator("n")
    @classmethod
    def _pow2(cls, n: int) -> int:
        if not _is_power_of_two(n):
            raise ValueError(f"must be a power of 2 for a Sobol' design (got {n})")
        return n


class SaltelliDesign(StrictModel):
    """Saltelli cross-sampling for Sobol' indices: ``n`` base samples, ``n*(D+2)`` points
    (``n*(2D+2)`` with second order)."""

    method: Literal["saltelli"]
    n: int = Field(ge=2)
    calc_second_order: bool = False

    @field_validator("n")
    @classmethod
    def _pow2(cls, n: int) -> int:
        if not _is_power_of_two(n):
            raise ValueError(f"must be a power of 2 for a Saltelli design (got {n})")
        return n


class MorrisDesign(StrictModel):
    """Morris elementary-effects screening: ``n`` trajectories of ``D+1`` points on a
    ``levels``-level grid (``levels`` should be even)."""

    method: Literal["morris"]
    n: int = Field(ge=2)
    levels: int = Field(default=4, ge=2)


DesignConfig = Annotated[
    GridDesign | LhsDesign | SobolDesign | SaltelliDesign | MorrisDesign,
    Field(discriminator="method"),
]
DESIGN_METHODS = ("grid", "lhs", "sobol", "saltelli", "morris")


# -------------------------------------------------------------------------------- spec


class SweepSpec(SpecFile):
    """A validated sweep specification (see the module docstring for the YAML form)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    base: str = Field(min_length=1, description="base scenario, relative to the sweep file")
    task: str = Field(default=DEFAULT_TASK, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    fixed: dict[str, Any] = Field(
        default_factory=dict,
        description="overrides applied to every run (dotted paths), e.g. population.size",
    )
    parameters: list[Parameter] = Field(min_length=1)
    design: DesignConfig
    replications: int = Field(default=1, ge=1)
    common_random_numbers: bool = Field(
        default=False,
        description="the same seeds for every point of a design block (see the module docstring)",
    )
    seed: int = Field(default=0, ge=0)
    metrics: list[str] = Field(min_length=1)
    retries: int = Field(default=2, ge=0)

    @field_validator("design", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # "design: grid" is shorthand for "design: {method: grid}".
        return {"method": value} if isinstance(value, str) else value

    @field_validator("fixed")
    @classmethod
    def _finite_fixed(cls, fixed: dict[str, Any]) -> dict[str, Any]:
        return finite_values(fixed)

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, metrics: list[str]) -> list[str]:
        if dup := sorted({m for m in metrics if metrics.count(m) > 1}):
            raise ValueError(f"duplicate metric(s): {', '.join(dup)}")
        if any(not m.strip() for m in metrics):
            raise ValueError("metric names must not be empty")
        return metrics

    @field_validator("parameters")
    @classmethod
    def _unique_paths(cls, params: list[Any]) -> list[Any]:
        paths = [p.path for p in params]
        if dup := sorted({p for p in paths if paths.count(p) > 1}):
            raise ValueError(f"duplicate parameter path(s): {', '.join(dup)}")
        return params

    @model_validator(mode="after")
    def _distinct_columns(self) -> SweepSpec:
        # Parameters and metrics become columns of runs.csv next to the fixed ones.
        fixed = {"task", "point", "replication", "seed", "wall_s", "status", "error", "attempt"}
        paths = set(self.parameter_paths)
        for i, m in enumerate(self.metrics):
            if m in paths or m in fixed:
                what = "a parameter path" if m in paths else "a reserved column name"
                raise PydanticCustomError(
                    "column_clash",
                    f"metrics.{i}: {m!r} is also {what}; runs.csv needs distinct columns",
                )
        for i, p in enumerate(self.parameter_paths):
            if p in fixed:
                raise PydanticCustomError(
                    "column_clash", f"parameters.{i}.path: {p!r} is a reserved column name"
                )
        return self

    @property
    def base_path(self) -> Path:
        """Absolute path of the base scenario (relative paths resolve against the sweep file)."""
        return self.resolve(self.base)

    @property
    def parameter_paths(self) -> list[str]:
        return [p.path for p in self.parameters]

    def block_size(self, n_points: int) -> int:
        """Points per design block: the rows a Sobol' or Morris estimate takes differences
        within (a Saltelli base sample with its ``D`` (or ``2D``) cross samples; a Morris
        trajectory); for the other designs, the whole design of ``n_points``."""
        d = len(self.parameters)
        cfg = self.design
        if isinstance(cfg, SaltelliDesign):
            return 2 * d + 2 if cfg.calc_second_order else d + 2
        if isinstance(cfg, MorrisDesign):
            return d + 1
        return max(n_points, 1)


def _clean_loc(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    # Drop the union tags pydantic inserts ("parameters.0.range.low", "design.lhs.n").
    if (
        len(parts) >= 3
        and parts[0] == "parameters"
        and parts[2] in ("values", "range", "distribution")
    ):
        del parts[2]
    if len(parts) >= 2 and parts[0] == "design" and parts[1] in DESIGN_METHODS:
        del parts[1]
    return ".".join(str(p) for p in parts) or "(top level)"


_SCALAR_TAGS = ("bool", "int", "float", "str")


def format_validation_error(err: ValidationError, filename: str) -> str:
    """One line: ``FILE: field.path: message; other.field: message``."""
    items = []
    scalars: dict[str, list[str]] = {}  # parameters.N.values.M -> each scalar type's complaint
    for e in err.errors(include_url=False):
        loc = _clean_loc(tuple(e["loc"]))
        msg = str(e["msg"]).removeprefix("Value error, ")
        head, _, tag = loc.rpartition(".")
        if tag in _SCALAR_TAGS and ".values." in head:
            if head not in scalars:
                scalars[head] = []
                items.append(head)  # placeholder, filled in below
            scalars[head].append(msg)
            continue
        if e["type"] == "union_tag_invalid" and loc == "design":
            loc, msg = (
                "design.method",
                f"unknown design {e['input'].get('method')!r} (expected {', '.join(DESIGN_METHODS)})",
            )
        elif e["type"] == "string_pattern_mismatch" and loc == "task":
            msg = f"expected 'package.module:function', got {e['input']!r}"
        elif e["type"] == "string_pattern_mismatch" and loc == "name":
            msg = f"use letters, digits, '_', '.', '-' only (it names the output directory), got {e['input']!r}"
        if e["type"] == "column_clash":
            items.append(msg)  # already names its field
            continue
        msg = msg[:1].lower() + msg[1:]
        items.append(f"{loc}: {msg}")
    for head, msgs in scalars.items():
        finite = any("finite" in m for m in msgs)
        what = "a finite number" if finite else "a number, a string or a boolean"
        items[items.index(head)] = f"{head}: expected {what}"
    return f"{filename}: " + "; ".join(items)


def _check_cross_fields(spec: SweepSpec, filename: str) -> None:
    if spec.design.method == "grid":
        for i, p in enumerate(spec.parameters):
            if p.kind != "values" and p.levels is None:  # type: ignore[union-attr]
                raise SpecError(
                    f"{filename}: parameters.{i}.levels: required for a grid design "
                    f"(number of levels of {p.path})"
                )


def parse_spec(data: Any, filename: str = "<sweep>", source: Path | None = None) -> SweepSpec:
    """Validate an already-parsed mapping; raises :class:`SpecError` with a one-line message."""
    spec = validate_spec(SweepSpec, data, filename, source, "sweep", SpecError)
    _check_cross_fields(spec, filename)
    return spec


def load_spec(path: str | Path, check_base: bool = True) -> SweepSpec:
    """Read and validate a sweep YAML file.

    ``check_base`` also requires the base scenario file to exist, so a typo fails before
    any output directory is created.
    """
    path = Path(path)
    filename = path.name
    spec = parse_spec(read_yaml(path, "sweep", SpecError), filename, source=path.resolve())
    if check_base and not spec.base_path.is_file():
        raise SpecError(f"{filename}: base: scenario file not found: {spec.base_path}")
    return spec
