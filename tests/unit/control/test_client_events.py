"""The stored client event history (`control/events/service.py`) on SQLite and PostgreSQL."""

import datetime as dt
import time

from mqttcloud.contracts import ClientEvent, EventKind
from mqttcloud.control.db import Database
from mqttcloud.control.events import service
from mqttcloud.control.events.service import Filters


def event(clientid: str, kind: EventKind, at: float, **kw: object) -> ClientEvent:
    return ClientEvent.model_validate({"at": at, "event": kind, "clientid": clientid, **kw})


def test_filters_by_client_event_and_time_newest_first(database: Database) -> None:
    now = time.time()
    with database.session() as session:
        service.write_events(
            session,
            deployment_id="d1",
            events=[
                event("a", EventKind.CONNECTED, now - 30, username="u", detail={"keepalive": 60}),
                event("a", EventKind.DISCONNECTED, now - 20, reason="kicked", reason_code=0x98),
                event("b", EventKind.CONNACK, now - 10, reason_code=0x86),
            ],
        )
        service.write_events(session, deployment_id="d2", events=[event("a", EventKind.CONNECTED, now)])
        rows, total = service.list_events(
            session, deployment_id="d1", filters=Filters(clientid="a"), page=1, limit=10
        )
        assert total == 2
        assert [r.event for r in rows] == ["client.disconnected", "client.connected"]
        assert rows[1].detail == {"keepalive": 60}
        assert rows[0].reason_code == 0x98
        since = dt.datetime.fromtimestamp(now - 15, dt.UTC)
        rows, total = service.list_events(
            session, deployment_id="d1", filters=Filters(since=since), page=1, limit=10
        )
        assert [r.clientid for r in rows] == ["b"]
        rows, total = service.list_events(
            session, deployment_id="d1", filters=Filters(event=EventKind.CONNACK), page=1, limit=10
        )
        assert (total, rows[0].reason_code) == (1, 0x86)
        rows, total = service.list_events(session, deployment_id="d1", filters=Filters(), page=2, limit=2)
        assert (total, [r.clientid for r in rows]) == (3, ["a"])


def test_purge_applies_retention_then_the_per_deployment_cap(database: Database) -> None:
    now = time.time()
    with database.session() as session:
        old = [event("old", EventKind.CONNECTED, now - 5 * 86400)]
        recent = [event(f"c{i}", EventKind.CONNECTED, now - 100 + i) for i in range(5)]
        service.write_events(session, deployment_id="d1", events=old + recent)
        service.write_events(session, deployment_id="d2", events=recent[:2])
        cutoff = dt.datetime.fromtimestamp(now - 3 * 86400, dt.UTC)
        assert service.purge(session, cutoff=cutoff, max_per_deployment=3) == 3  # "old", then c0 and c1
        rows, _ = service.list_events(session, deployment_id="d1", filters=Filters(), page=1, limit=10)
        assert [r.clientid for r in rows] == ["c4", "c3", "c2"]
        _, kept = service.list_events(session, deployment_id="d2", filters=Filters(), page=1, limit=10)
        assert kept == 2
