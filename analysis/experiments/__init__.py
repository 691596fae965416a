"""Experiments: many runs of the simulator, on one runner.

* :mod:`~analysis.experiments.runner`: the experiment runner (local process pool or Dask, dead
  workers retried, workers that exit with their driver; :mod:`~analysis.experiments.dask_watch`
  for Dask's) and :mod:`~analysis.experiments.record`: the append-only record to resume from
  (damaged lines refused with their number); :mod:`~analysis.experiments.lock`: one
  experiment per output folder;
* :mod:`~analysis.experiments.protocol`: named, checked, seeded tasks (with an up-front check
  of their inputs);
  :mod:`~analysis.experiments.tasks`: the standard ones (``evaluate``, ``simulate_metrics``);
* sweeps: :mod:`~analysis.experiments.spec` (the sweep file, with
  :mod:`~analysis.experiments.parameters`), :mod:`~analysis.experiments.designs`,
  :mod:`~analysis.experiments.sweep` (running), :mod:`~analysis.experiments.sensitivity`
  (``analyze``);
* :mod:`~analysis.experiments.ensemble`: one scenario, many seeds, fan charts.
"""
