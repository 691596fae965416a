"""The dashboard's charts as Mesa SolaraViz components, for a notebook.

Mesa's convention for a browser view of a model is ``mesa.visualization.SolaraViz(model,
components=[...])``, each component a function of the model that returns a Solara element.
:func:`components` gives the four charts in that form, drawn from what the model's
``DataCollector`` recorded (our series are arrays, so they are custom components rather than
Mesa's scalar ``make_plot_component``)::

    from mesa.visualization import SolaraViz          # needs Mesa's viz extras
    from analysis.dashboard.mesa_components import components
    SolaraViz(MoatshockModel(load_scenario("scenarios/deepseek_2025.yaml")),
              components=components())

``run.py dashboard`` does not use SolaraViz itself: it rebuilds the model from a validated
scenario with per-field messages, steps it in its own thread and redraws on a timer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.dashboard import figures
from analysis.dashboard.chart import PlotlyChart
from analysis.dashboard.frame import Frame, Recorder

if TYPE_CHECKING:
    from sim.model import MoatshockModel

_RECORDERS: dict[int, Recorder] = {}


def model_frame(model: MoatshockModel) -> Frame:
    """The model's run so far (a :class:`Recorder` kept per model)."""
    rec = _RECORDERS.get(id(model))
    if rec is None or rec.model is not model:
        rec = _RECORDERS[id(model)] = Recorder(model, model.scn.name)
    return rec.frame()


def components(
    market_data: Path | None = None, ticker: str = "NVDA"
) -> list[Callable[[MoatshockModel], object]]:
    """Prices, market-value change, beliefs and flows of ``ticker``, as model -> element."""

    def prices(model):
        return PlotlyChart(
            figure=figures.prices_figure(model_frame(model), None, market_data), testid="prices"
        )

    def wipeout(model):
        return PlotlyChart(figure=figures.wipeout_figure(model_frame(model), None))

    def beliefs(model):
        return PlotlyChart(figure=figures.beliefs_figure(model_frame(model), None), height=680)

    def flows(model):
        fr = model_frame(model)
        t = ticker if ticker in fr.info.tickers else fr.info.tickers[0]
        return PlotlyChart(figure=figures.flows_figure(fr, t, None), height=520)

    return [prices, wipeout, beliefs, flows]
