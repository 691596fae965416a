"""Our names never collide with Mesa's, whichever supported Mesa is installed.

``mesa.Model`` and ``mesa.Agent`` grow attributes between minor releases (Mesa 3.5 added
``Model.scenario``, ``time``, ``batch``, ``observe``, ...). An attribute of ours with one of those
names would silently replace Mesa's (or be replaced by it), so this test runs a small model and
records every attribute that code under ``sim/`` sets on the model and on each cohort agent, adds
everything our classes define, and compares both with what the installed Mesa's classes and
bare instances have (methods, properties and instance attributes, private ones included).
"""

from __future__ import annotations

import os
import sys

import mesa
import pytest

import sim
from sim.cohorts import REGISTRY, Cohort
from sim.model import MoatshockModel
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS

SIM = os.path.dirname(sim.__file__) + os.sep  # code that sets attributes from here is ours

#: Mesa names we set or define on purpose, as Mesa's documented API asks us to.
MODEL_ON_PURPOSE = {
    "step": "the model's step, which Mesa wraps and calls",
    "running": "Mesa's flag to stop run_model: the model clears it after the last tick",
}
AGENT_ON_PURPOSE: dict[str, str] = {}


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _mesa_names(cls: type, instance: object) -> set[str]:
    """Every name Mesa's class or a bare instance of it has (dunders aside)."""
    names = set(dir(cls)) | set(dir(instance)) | set(vars(instance))
    return {n for n in names if not _dunder(n)}


def _class_names(cls: type, mesa_base: type) -> set[str]:
    """Names our classes define between ``cls`` and Mesa's base (methods, class attributes).

    Mesa's ``__init_subclass__`` hooks put names of their own on every subclass (Mesa 3.5:
    ``Model.observables``, ``Agent._datasets``): those, found on an empty subclass, are Mesa's.
    """
    injected = set(vars(type("Probe", (mesa_base,), {})))
    out: set[str] = set()
    for c in cls.__mro__:
        if c is mesa_base:
            break
        out |= {n for n in vars(c) if not _dunder(n) and n not in injected}
    return out


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, set[str]]]:
    """Build and run a small model, recording which attributes ``sim/`` code sets on what.

    Returns ``{"model" | "agent": {"ours": names set from sim/, "mesa": names set elsewhere}}``.
    """
    seen: dict[str, dict[str, set[str]]] = {
        k: {"ours": set(), "mesa": set()} for k in ("model", "agent")
    }

    def recorder(kind: str, base: type):
        def __setattr__(self, name: str, value: object) -> None:  # noqa: N807
            caller = sys._getframe(1).f_code.co_filename
            seen[kind]["ours" if caller.startswith(SIM) else "mesa"].add(name)
            super(base, self).__setattr__(name, value)

        return __setattr__

    mp = pytest.MonkeyPatch()
    mp.setattr(MoatshockModel, "__setattr__", recorder("model", MoatshockModel), raising=False)
    mp.setattr(Cohort, "__setattr__", recorder("agent", Cohort), raising=False)
    try:
        scn = load_scenario(SCENARIOS / "deepseek_2025.yaml", {"population.size": 300})
        present = {t.name for t, _ in scn.population.cohorts.present()}
        assert present == set(REGISTRY), "the run should exercise every registered cohort type"
        model = MoatshockModel(scn, seed=3)
        while model.running:
            model.step()
    finally:
        mp.undo()
    # the recorder tells our code from Mesa's
    assert {"scn", "tick"} <= seen["model"]["ours"] and "holdings" in seen["agent"]["ours"]
    assert "steps" in seen["model"]["mesa"] and "model" in seen["agent"]["mesa"]
    return seen


def test_model_attributes_do_not_collide_with_mesa_model(recorded):
    bare = mesa.Model(rng=0)
    theirs = _mesa_names(mesa.Model, bare) | recorded["model"]["mesa"]
    ours = recorded["model"]["ours"] | _class_names(MoatshockModel, mesa.Model)
    clash = sorted((ours & theirs) - set(MODEL_ON_PURPOSE))
    assert not clash, (
        f"MoatshockModel sets or defines {clash}, which mesa {mesa.__version__}'s Model also has: "
        "rename ours"
    )


def test_cohort_attributes_do_not_collide_with_mesa_agent(recorded):
    bare = mesa.Agent(mesa.Model(rng=0))
    theirs = _mesa_names(mesa.Agent, bare) | recorded["agent"]["mesa"]
    ours = set(recorded["agent"]["ours"])
    for t in REGISTRY.values():
        ours |= _class_names(t.cls, mesa.Agent)
    clash = sorted((ours & theirs) - set(AGENT_ON_PURPOSE))
    assert not clash, (
        f"cohort agents set or define {clash}, which mesa {mesa.__version__}'s Agent also has: "
        "rename ours"
    )
