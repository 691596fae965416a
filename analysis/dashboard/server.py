"""Serving the dashboard: Solara's Starlette app under uvicorn, on 127.0.0.1 only.

Solara's documented way to run an app from one's own entry point is to name it in the
``SOLARA_APP`` environment variable and serve ``solara.server.starlette.app`` with an ASGI
server; here it is mounted under a small Starlette app that also serves plotly.js from the
``plotly`` package. Solara's page assets (its Vuetify bundle, require.js, fonts) come from
the ``solara-assets`` package through Solara's own asset route, so the page needs no internet.
"""

from __future__ import annotations

import gzip
import os
import socket
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
APP_MODULE = "analysis.dashboard.page"


@dataclass
class Settings:
    """What the page starts with: the scenario file, and the market-data folder if given."""

    scenario: Path | None = None
    market_data: Path | None = None
    scenarios_dir: Path = Path(__file__).resolve().parents[2] / "scenarios"


#: Read by :mod:`analysis.dashboard.app` when a browser opens the page.
SETTINGS = Settings()


def bind(port: int) -> tuple[socket.socket, str | None]:
    """A listening socket on ``HOST``: ``port`` if free, otherwise a free one.

    Returns the socket and, when another port than the one asked for was taken, why.
    """
    note = None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        note = f"port {port} is busy ({exc.strerror}); using a free port instead"
        sock.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
    if port == 0:
        note = "port 0 asked: using a free port"
    sock.listen(128)
    return sock, note


def _quiet_solara_env() -> None:
    """Environment for Solara: our app, production mode, no telemetry (there is no internet)."""
    os.environ["SOLARA_APP"] = APP_MODULE
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")


def make_app():
    """The ASGI app: plotly.js at :data:`~analysis.dashboard.chart.PLOTLY_URL`, Solara at /."""
    _quiet_solara_env()
    import solara.server.starlette as solara_starlette
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from analysis.dashboard.chart import PLOTLY_URL, plotly_js

    body = plotly_js().read_bytes()
    packed = gzip.compress(body, compresslevel=6)
    cache = {"Cache-Control": "public, max-age=86400"}

    async def plotly(request):
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers = {**cache, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return Response(packed, media_type="application/javascript", headers=headers)
        return Response(body, media_type="application/javascript", headers=cache)

    return Starlette(
        routes=[Route(PLOTLY_URL, plotly), Mount("/", app=solara_starlette.app)],
        lifespan=solara_starlette.lifespan,
    )


def warm_up() -> None:
    """Read what the first page needs (scenario list, real data, figure code) ahead of it."""
    from analysis.dashboard import figures
    from analysis.dashboard.controls import read_scenario, shipped_scenarios
    from analysis.dashboard.frame import RunInfo, empty_frame
    from analysis.dashboard.realdata import locate
    from analysis.dashboard.table import table_rows
    from sim.scenario import validate

    shipped = shipped_scenarios(SETTINGS.scenarios_dir)
    start = SETTINGS.scenario or shipped.get("deepseek_2025")
    if start is None:
        return
    raw, message = read_scenario(start)
    if raw is None or message is not None:
        return
    info = RunInfo.from_scenario(validate(raw))
    frame = empty_frame(info, info.scenario)
    md = locate(info.market_data_dir, SETTINGS.market_data)
    figures.prices_figure(frame, None, md)
    figures.wipeout_figure(frame, None)
    figures.beliefs_figure(frame, None)
    figures.flows_figure(frame, info.tickers[0], None)
    table_rows(frame, md)


def serve(sock: socket.socket, log_level: str = "warning") -> None:
    """Serve the dashboard on an already listening socket until interrupted."""
    import threading

    import uvicorn

    threading.Thread(target=warm_up, name="moatshock-warm-up", daemon=True).start()

    config = uvicorn.Config(make_app(), log_level=log_level)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
