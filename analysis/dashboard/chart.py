"""The chart component: a Plotly figure drawn in the browser by plotly.js.

plotly.js comes with the ``plotly`` Python package and is served by the dashboard's own
server at :data:`PLOTLY_URL` (nothing is fetched from the internet). A figure is a plain
``{"data": [...], "layout": {...}}`` dictionary (see :mod:`analysis.dashboard.figures`); it
travels to the browser as one JSON string, which Solara passes on as it is (a nested
dictionary of long lists would be walked item by item at every redraw).
"""

from __future__ import annotations

import json
from pathlib import Path

import solara

#: Where the page loads plotly.js from (see :mod:`analysis.dashboard.server`).
PLOTLY_URL = "/_moatshock/plotly.min.js"


def plotly_js() -> Path:
    """plotly.js as shipped inside the ``plotly`` Python package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@solara.component_vue("plotly_chart.vue")
def PlotlyChartJSON(
    figure_json: str, testid: str = "chart", height: int = 400, plotly_url: str = PLOTLY_URL
):
    """A Plotly figure given as JSON text."""


def figure_json(figure: dict) -> str:
    """A figure as compact JSON text (NaN is not JSON: figures carry None for gaps)."""
    return json.dumps(figure, separators=(",", ":"), allow_nan=False)


def PlotlyChart(figure: dict | str, testid: str = "chart", height: int = 400):
    """A Plotly figure (a dictionary, or its :func:`figure_json` text); ``testid`` becomes the
    element's ``data-testid``; height in pixels.

    A plain function, not a component: the element it returns holds only text, which Solara
    compares at a glance when the page redraws.
    """
    text = figure if isinstance(figure, str) else figure_json(figure)
    return PlotlyChartJSON(figure_json=text, testid=testid, height=height)
