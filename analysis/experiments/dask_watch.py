"""The worker plugin by which the workers of a Dask ``LocalCluster`` exit when its driver dies.

Its own module because it subclasses ``distributed``'s ``WorkerPlugin``: the runner imports
``distributed`` only when a Dask pool is asked for, and so do the workers of a local pool.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from analysis.experiments.runner import watch_driver

__all__ = ["WatchDriver"]


class WatchDriver(WorkerPlugin):
    """Each worker (including one its nanny restarts) runs :func:`watch_driver` on ``pid``."""

    name = "moatshock-watch-driver"
    idempotent = True

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def setup(self, worker: Any) -> None:
        watch_driver(self.pid)
