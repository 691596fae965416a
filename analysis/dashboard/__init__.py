"""The browser dashboard: watch a scenario run, change its key parameters, compare runs.

``python run.py dashboard [SCENARIO.yaml] [--port N]`` serves it on 127.0.0.1 (a Solara app,
see :mod:`analysis.dashboard.server`). The pieces, one job each:

* :mod:`.controls`: the parameters offered as controls, their units and schema descriptions,
  parsing typed values and placing validation messages next to the right control;
* :mod:`.frame`: a run's series as plain arrays (:class:`.frame.Frame`), recorded live from a
  model's DataCollector or read from a run folder;
* :mod:`.runner`: steps a model in a background thread, several steps per screen update;
* :mod:`.figures`: Plotly figure dictionaries drawn from frames;
* :mod:`.table`: the shock-day table (simulated vs real return, $ change, volume multiple);
* :mod:`.realdata`: real daily closes and volumes from the scenario's market-data folder;
* :mod:`.folders`: what a sweep folder holds, for the "open a sweep folder" tab;
* :mod:`.chart` (with ``plotly_chart.vue``): the browser-side chart component;
* :mod:`.state`: one browser session's state and actions; :mod:`.app`: the page;
  :mod:`.page` and ``templates/``: the app as Solara loads it; :mod:`.server`: serving it;
* :mod:`.mesa_components`: the charts as Mesa SolaraViz components, for notebooks.

The dashboard only consumes :mod:`sim` and :mod:`analysis`; nothing there imports it.
"""
