# Type stub for the part of Mesa that sim/ uses, identical in Mesa 3.3, 3.4 and 3.5.
#
# Mesa ships inline annotations but no py.typed marker, so without this stub mypy treats
# mesa.Model and mesa.Agent as Any and checks nothing on the classes that subclass them
# (MoatshockModel, every cohort). Only what sim/ touches is declared; extend it when sim/ starts
# using more of Mesa. tests/test_mesa_compat.py checks at run time that our own attribute
# names never collide with the installed Mesa's.

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

class AgentSet:
    def do(self, method: str | Callable[..., Any], *args: Any, **kwargs: Any) -> AgentSet: ...
    def shuffle_do(
        self, method: str | Callable[..., Any], *args: Any, **kwargs: Any
    ) -> AgentSet: ...
    def __len__(self) -> int: ...

class Model:
    running: bool
    steps: int
    rng: np.random.Generator
    random: random.Random
    def __init__(
        self, *args: Any, seed: float | None = None, rng: Any = None, **kwargs: Any
    ) -> None: ...
    @property
    def agents(self) -> AgentSet: ...
    def step(self) -> None: ...
    def run_model(self) -> None: ...

class Agent:
    model: Any
    unique_id: int | None
    def __init__(self, model: Model, *args: Any, **kwargs: Any) -> None: ...
    def step(self) -> None: ...
    def remove(self) -> None: ...
    @property
    def rng(self) -> np.random.Generator: ...
    @property
    def random(self) -> random.Random: ...

class DataCollector:
    def __init__(
        self,
        model_reporters: dict[str, Any] | None = None,
        agent_reporters: dict[str, Any] | None = None,
        agenttype_reporters: dict[Any, Any] | None = None,
        tables: dict[str, Any] | None = None,
    ) -> None: ...
    def collect(self, model: Model) -> None: ...
    def get_model_vars_dataframe(self) -> pd.DataFrame: ...
