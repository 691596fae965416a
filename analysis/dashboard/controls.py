"""The parameters offered as controls, and checking what is typed into them.

A control is one dotted override path of a scenario (``news.viral_cost_claim.credibility``,
``population.cohorts.momentum.share``, ``beliefs.jevons_share``, ``network.q``,
``population.size``, ``seed``): the same paths as ``run.py run --set``. Each carries its unit
and the one-line explanation of the scenario schema's ``Field(description=...)`` (read from
the schema, never retyped here). Typed text is parsed per control (:func:`parse_text`), then
the whole scenario is validated with the overrides (:func:`check`), and each line of a
:class:`~sim.scenario.ScenarioError` is placed next to the control it names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sim.scenario import Scenario, ScenarioError, apply_overrides, load_raw, validate

#: Unit shown beside each control, by schema path (``[]`` stands for a list item).
UNITS = {
    "news[].credibility": "1/variance",
    "population.cohorts.*.share": "weight",
    "population.cohorts.*.wealth_share": "weight",
    "beliefs.jevons_share": "fraction",
    "network.q": "per hour",
    "population.size": "investors",
    "seed": "integer",
}

#: Groups of controls, in the order the page shows them.
GROUPS = ("News credibility", "Investor types", "Beliefs and word of mouth", "Run size and seed")


@dataclass(frozen=True)
class Control:
    """One parameter as a control.

    ``path`` is the override path, ``schema_path`` the schema field it sets, ``aliases`` other
    spellings a validation message may use for it (a news item by position), ``help`` the
    schema's description, ``default`` the scenario's value, ``top`` a slider's upper end.
    """

    path: str
    schema_path: str
    label: str
    unit: str
    help: str
    group: str
    default: float
    integer: bool = False
    top: float = 1.0
    aliases: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """The path as a CSS class fragment: ``news-viral_cost_claim-credibility``."""
        return self.path.replace(".", "-")


@cache
def _descriptions() -> dict[str, str]:
    from sim.scenario.doc import field_paths

    return {path: info.description or "" for path, info in field_paths()}


def field_help(schema_path: str) -> str:
    """The schema's description of a field, e.g. ``network.q`` -> 'peer hazard per hour ...'."""
    return _descriptions()[schema_path]


def _unit(schema_path: str) -> str:
    generic = re.sub(r"^population\.cohorts\.[a-z_]+\.", "population.cohorts.*.", schema_path)
    return UNITS.get(schema_path, UNITS.get(generic, ""))


def _top(value: float, floor: float) -> float:
    """A slider's upper end: at least ``floor`` and twice the default, rounded up."""
    return float(max(floor, math.ceil(2 * value * 10) / 10))


def scenario_controls(raw: dict[str, Any]) -> list[Control]:
    """The controls of a scenario (its raw mapping, ``extends:`` resolved)."""
    out: list[Control] = []
    for i, ev in enumerate(raw.get("news") or []):
        if not isinstance(ev, dict) or "id" not in ev:
            continue
        sp = "news[].credibility"
        cred = float(ev.get("credibility", 1.0))
        out.append(
            Control(
                path=f"news.{ev['id']}.credibility",
                schema_path=sp,
                label=f"{ev.get('label') or ev['id']} [{ev['id']}]",
                unit=_unit(sp),
                help=field_help(sp),
                group=GROUPS[0],
                default=cred,
                top=_top(cred, 2.0),
                aliases=(f"news.{i}.credibility",),
            )
        )
    cohorts = ((raw.get("population") or {}).get("cohorts")) or {}
    for name, cfg in cohorts.items():
        if not isinstance(cfg, dict):
            continue
        for field, what in (("share", "head-count share"), ("wealth_share", "wealth share")):
            if field not in cfg:
                continue
            sp = f"population.cohorts.{name}.{field}"
            val = float(cfg[field])
            out.append(
                Control(
                    path=sp,
                    schema_path=sp,
                    label=f"{name.replace('_', ' ')}: {what}",
                    unit=_unit(sp),
                    help=field_help(sp),
                    group=GROUPS[1],
                    default=val,
                    top=_top(val, 1.0),
                )
            )
    beliefs = raw.get("beliefs") or {}
    network = raw.get("network") or {}
    js = float(beliefs.get("jevons_share", 0.15))
    q = float(network.get("q", 0.15))
    out.append(
        Control(
            "beliefs.jevons_share",
            "beliefs.jevons_share",
            "Jevons readers",
            _unit("beliefs.jevons_share"),
            field_help("beliefs.jevons_share"),
            GROUPS[2],
            js,
            top=1.0,
        )
    )
    out.append(
        Control(
            "network.q",
            "network.q",
            "word-of-mouth rate",
            _unit("network.q"),
            field_help("network.q"),
            GROUPS[2],
            q,
            top=_top(q, 1.0),
        )
    )
    size = int((raw.get("population") or {}).get("size", 10_000))
    out.append(
        Control(
            "population.size",
            "population.size",
            "population size",
            _unit("population.size"),
            field_help("population.size"),
            GROUPS[3],
            size,
            integer=True,
            top=float(max(100_000, 2 * size)),
        )
    )
    out.append(
        Control(
            "seed",
            "seed",
            "seed",
            _unit("seed"),
            field_help("seed"),
            GROUPS[3],
            int(raw.get("seed", 0)),
            integer=True,
            top=0.0,
        )
    )
    return out


def format_value(control: Control, value: float) -> str:
    """How a value is written in a control's text box (integers without a decimal point)."""
    if control.integer:
        return str(int(value))
    return f"{value:.6g}"


def parse_text(control: Control, text: str) -> float | int:
    """The number typed into a control; ``ValueError`` with a message for the page if not one."""
    s = text.strip().replace("_", "")
    if not s:
        raise ValueError("enter a number")
    if control.integer:
        try:
            return int(s)
        except ValueError:
            raise ValueError(
                f"expected a whole number, e.g. {format_value(control, control.default)}"
            ) from None
    try:
        v = float(s)
    except ValueError:
        raise ValueError(
            f"expected a number, e.g. {format_value(control, control.default)}"
        ) from None
    if not math.isfinite(v):
        raise ValueError("expected a finite number")
    return v


@dataclass(frozen=True)
class Checked:
    """The outcome of :func:`check`: the scenario, or messages by control path and general."""

    scenario: Scenario | None
    errors: dict[str, str]
    general: tuple[str, ...] = ()


def _strip_origin(line: str, origin: str) -> str:
    return line[len(origin) + 2 :] if line.startswith(origin + ": ") else line


def place_messages(
    message: str, controls: list[Control], origin: str
) -> tuple[dict[str, str], list[str]]:
    """Split a :class:`ScenarioError` message into lines for controls and general lines.

    A line belongs to a control when it names the control's path (or an alias) as its field;
    a cross-field line about the investor types goes to every head-count share control.
    """
    by_control: dict[str, str] = {}
    general: list[str] = []
    for raw_line in str(message).splitlines():
        line = _strip_origin(raw_line.strip(), origin)
        placed = False
        for c in controls:
            for name in (c.path, *c.aliases):
                if line.startswith(name + ":"):
                    by_control[c.path] = line[len(name) + 1 :].strip()
                    placed = True
                    break
            if placed:
                break
        if not placed and line.startswith("population.cohorts:"):
            text = line.removeprefix("population.cohorts:").strip()
            for c in controls:
                if c.path.startswith("population.cohorts.") and c.path.endswith(".share"):
                    by_control.setdefault(c.path, text)
            placed = any(c.path.startswith("population.cohorts.") for c in controls)
        if not placed and line:
            general.append(line)
    return by_control, general


def check(
    raw: dict[str, Any], overrides: dict[str, Any], controls: list[Control], origin: str
) -> Checked:
    """Validate ``raw`` with ``overrides``; messages placed by :func:`place_messages`."""
    try:
        scn = validate(apply_overrides(raw, overrides, origin), origin)
    except ScenarioError as exc:
        errors, general = place_messages(str(exc), controls, origin)
        return Checked(None, errors, tuple(general))
    return Checked(scn, {})


def read_scenario(path: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """A scenario file's raw mapping (``extends:`` resolved) and its validation message.

    Returns ``(raw, None)`` for a valid file, ``(raw, message)`` for a readable file that does
    not validate, and ``(None, message)`` for a file that cannot be read.
    """
    p = Path(path)
    try:
        raw = load_raw(p)
    except ScenarioError as exc:
        return None, str(exc)
    try:
        validate(raw, p.name)
    except ScenarioError as exc:
        return raw, str(exc)
    return raw, None


@cache
def shipped_scenarios(folder: Path) -> dict[str, Path]:
    """The valid scenario files directly in ``folder`` (name -> path), e.g. ``scenarios/``.

    Read once per process (the server warms this up before the first page).
    """
    out: dict[str, Path] = {}
    for p in sorted(folder.glob("*.yaml")):
        raw, msg = read_scenario(p)
        if raw is not None and msg is None:
            out[p.stem] = p
    return out
