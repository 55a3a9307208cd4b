"""Deployment API v5 presenter of the stored history, in EMQX 5's dashboard-monitor shapes:

    GET /api/v5/monitor?latest=SECONDS  → [{"time_stamp": ms, "connections", "live_connections",
                                            "sessions", "subscriptions", "retained", "received", "sent",
                                            "dropped", "received_bytes", "sent_bytes"}, ...] oldest first
    GET /api/v5/monitor_current         → {"connections", "live_connections", "sessions", "subscriptions",
                                            "retained_msg_count", "received_msg_rate", "sent_msg_rate",
                                            "dropped_msg_rate", "received_bytes_rate", "sent_bytes_rate"}

As in EMQX, `connections` counts sessions (connected or not) and `live_connections` connected clients;
gauges are the values at the time of sampling (averaged over the point's period), and `received`,
`sent`, `dropped`, `received_bytes`, `sent_bytes` count what happened during the point's period (null
where no rate is known: the first sample after a gap). Points are one sampling interval (10 s) apart up
to 6 h back, 1 min up to 7 days, 10 min up to 90 days (`latest` at most 7776000); a period without a
sample has no element: clients draw a gap there. Both read stored data, so they answer while the
deployment is stopped (`/monitor_current`: zeros without a fresh sample). Permission group: `metrics`.
"""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mqttcloud.control.config import Settings
from mqttcloud.control.deployment_api import common
from mqttcloud.control.deployment_api.target import Target, target_dep
from mqttcloud.control.monitoring import service
from mqttcloud.control.monitoring.series import LONGEST
from mqttcloud.control.monitoring.store import StoredPoint

router = APIRouter()
Monitored = Annotated[Target, Depends(target_dep("metrics"))]
DEFAULT_LATEST = 3600


def _finest(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.monitor_interval


def _count(rate: float | None, step: int) -> int | None:
    return None if rate is None else round(rate * step)


def _sample(p: StoredPoint, step: int) -> dict[str, int | None]:
    return {
        "time_stamp": p.at * 1000,
        "connections": round(p.gauges["sessions"]),  # EMQX: sessions, connected or not
        "live_connections": round(p.gauges["connections"]),
        "sessions": round(p.gauges["sessions"]),
        "subscriptions": round(p.gauges["subscriptions"]),
        "retained": round(p.gauges["retained"]),
        "received": _count(p.rates["received"], step),
        "sent": _count(p.rates["sent"], step),
        "dropped": _count(p.rates["dropped"], step),
        "received_bytes": _count(p.rates["bytes_received"], step),
        "sent_bytes": _count(p.rates["bytes_sent"], step),
    }


@router.get("/monitor")
async def monitor(target: Monitored, request: Request) -> JSONResponse:
    latest = common.int_param(request.query_params, "latest", low=1, high=LONGEST) or DEFAULT_LATEST
    finest = _finest(request)
    result = await target.read(
        lambda session: service.history(
            session, deployment_id=target.deployment_id, span=latest, now=time.time(), finest=finest
        )
    )
    return JSONResponse([_sample(p, result.step) for p in result.points])


@router.get("/monitor_current")
async def monitor_current(target: Monitored, request: Request) -> JSONResponse:
    finest = _finest(request)
    newest = await target.read(
        lambda session: service.current(
            session, deployment_id=target.deployment_id, now=time.time(), finest=finest
        )
    )
    gauges = newest.gauges if newest is not None else {}
    rates = newest.rates if newest is not None else {}

    def rate(name: str) -> float:
        return round(rates.get(name) or 0.0, 2)

    connections = round(gauges.get("connections", 0.0))
    return JSONResponse(
        {
            "connections": round(gauges.get("sessions", 0.0)),  # EMQX: sessions, connected or not
            "live_connections": connections,
            "sessions": round(gauges.get("sessions", 0.0)),
            "subscriptions": round(gauges.get("subscriptions", 0.0)),
            "retained_msg_count": round(gauges.get("retained", 0.0)),
            "received_msg_rate": rate("received"),
            "sent_msg_rate": rate("sent"),
            "dropped_msg_rate": rate("dropped"),
            "received_bytes_rate": rate("bytes_received"),
            "sent_bytes_rate": rate("bytes_sent"),
        }
    )
