"""The Solara app the server names in ``SOLARA_APP``: the page of :mod:`analysis.dashboard.app`.

A package of its own so that Solara finds the dashboard's page template next to it, in
``analysis/dashboard/templates/`` (Solara looks for ``templates/`` beside the app's folder).
"""

from analysis.dashboard.app import Page

__all__ = ["Page"]
