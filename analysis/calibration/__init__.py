"""Calibration by the method of simulated moments (MSM), on the experiment runner.

Fit a scenario's least-known parameters to real facts (``run.py calibrate``, see
``docs/calibration.md``):

* :mod:`~analysis.calibration.spec`: the calibration file (targets, parameters, bounds);
* :mod:`~analysis.calibration.objective`: J, common random numbers, task keys;
* :mod:`~analysis.calibration.evaluations`: every run a recorded task of the runner (resumable);
* :mod:`~analysis.calibration.optimiser`: differential evolution over the unit cube;
* :mod:`~analysis.calibration.acceptance`: requirements on the shipped scenario;
* :mod:`~analysis.calibration.report`: fitted.json, report.md, fitted_scenario.yaml;
* :mod:`~analysis.calibration.run`: :func:`~analysis.calibration.run.run_calibration`.
"""
