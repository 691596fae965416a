"""Experiments: many runs of the simulator, on one runner.

* :mod:`~analysis.experiments.runner`: the experiment runner (local process pool or Dask, dead
  workers retried) and :mod:`~analysis.experiments.record`: the append-only record to resume
  from;
* :mod:`~analysis.experiments.protocol`: named, checked, seeded tasks;
  :mod:`~analysis.experiments.tasks`: the standard ones (``evaluate``, ``simulate_metrics``);
* sweeps: :mod:`~analysis.experiments.spec` (the sweep file, with
  :mod:`~analysis.experiments.parameters`), :mod:`~analysis.experiments.designs`,
  :mod:`~analysis.experiments.sweep` (running), :mod:`~analysis.experiments.sensitivity`
  (``analyze``);
* :mod:`~analysis.experiments.ensemble`: one scenario, many seeds, fan charts.
"""
