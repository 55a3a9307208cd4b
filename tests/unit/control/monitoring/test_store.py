"""Stored monitoring points (SQLite, and PostgreSQL when configured): folding into tiers, averages,
gaps, pruning, deletion with the deployment, and the history use case."""

from pathlib import Path

import pytest

from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.deployments.schemas import DeploymentCreate
from mqttcloud.control.errors import BadRequest
from mqttcloud.control.monitoring import service, store
from mqttcloud.control.monitoring.series import DAY, Point, tiers

TIERS = tiers(10)
T0 = 1_700_000_400.0  # a multiple of 600: every tier's period starts here


def new_deployment(database: Database, tmp_path: Path) -> str:
    with database.session() as session:
        request = DeploymentCreate.model_validate({"projectID": "default"})
        settings = Settings(data_dir=tmp_path)
        return deployments.create_deployment(session, settings=settings, request=request).id


def sample(deployment_id: str, at: float, connections: float, received: float | None) -> Point:
    gauges = {"connections": connections, "sessions": connections, "subscriptions": 0.0, "retained": 0.0}
    rates = None if received is None else {"received": received, "sent": 0.0, "dropped": 0.0}
    return Point(deployment_id, at, gauges, rates)


def test_samples_fold_into_every_tier_as_averages(database: Database, tmp_path: Path) -> None:
    d = new_deployment(database, tmp_path)
    with database.session() as session:
        store.record(session, [sample(d, T0, 2, None)], TIERS)
        store.record(session, [sample(d, T0 + 10, 4, 6.0)], TIERS)
        store.record(session, [sample(d, T0 + 20, 6, 2.0)], TIERS)
        fine = store.read(session, deployment_id=d, step=10, since=T0, until=T0 + 30)
        minute = store.read(session, deployment_id=d, step=60, since=T0, until=T0 + 30)
        ten = store.read(session, deployment_id=d, step=600, since=T0, until=T0 + 30)
    assert [(p.at, p.gauges["connections"], p.rates["received"]) for p in fine] == [
        (int(T0), 2.0, None),
        (int(T0) + 10, 4.0, 6.0),
        (int(T0) + 20, 6.0, 2.0),
    ]
    # The first sample had no rate: it counts in the gauges' average, not in the rates'.
    assert [(p.at, p.gauges["connections"], p.rates["received"]) for p in minute] == [(int(T0), 4.0, 4.0)]
    assert [(p.gauges["connections"], p.rates["received"]) for p in ten] == [(4.0, 4.0)]


def test_a_period_without_samples_has_no_point(database: Database, tmp_path: Path) -> None:
    d = new_deployment(database, tmp_path)
    with database.session() as session:
        for at in (T0, T0 + 10, T0 + 60, T0 + 70):
            store.record(session, [sample(d, at, 1, 1.0)], TIERS)
        points = store.read(session, deployment_id=d, step=10, since=T0, until=T0 + 100)
    assert [p.at - int(T0) for p in points] == [0, 10, 60, 70]


def test_one_tick_records_many_deployments_at_once(database: Database, tmp_path: Path) -> None:
    ids = [new_deployment(database, tmp_path) for _ in range(3)]
    with database.session() as session:
        store.record(session, [sample(d, T0, n, None) for n, d in enumerate(ids)], TIERS)
        store.record(session, [sample(d, T0 + 10, n, float(n)) for n, d in enumerate(ids)], TIERS)
        minutes = [store.read(session, deployment_id=d, step=60, since=T0, until=T0 + 60) for d in ids]
    assert [[(p.gauges["connections"], p.rates["received"]) for p in m] for m in minutes] == [
        [(0.0, 0.0)],
        [(1.0, 1.0)],
        [(2.0, 2.0)],
    ]


def test_prune_keeps_each_tier_for_its_own_time(database: Database, tmp_path: Path) -> None:
    d = new_deployment(database, tmp_path)
    with database.session() as session:
        store.record(session, [sample(d, T0, 1, None)], TIERS)
        store.prune(session, T0 + DAY + 10, TIERS)
        assert store.read(session, deployment_id=d, step=10, since=T0, until=T0 + 10) == []
        assert len(store.read(session, deployment_id=d, step=60, since=T0, until=T0 + 10)) == 1
        store.prune(session, T0 + 8 * DAY, TIERS)
        assert store.read(session, deployment_id=d, step=60, since=T0, until=T0 + 10) == []
        assert len(store.read(session, deployment_id=d, step=600, since=T0, until=T0 + 10)) == 1
        store.prune(session, T0 + 91 * DAY, TIERS)
        assert store.read(session, deployment_id=d, step=600, since=T0, until=T0 + 10) == []


def test_points_go_with_their_deployment(database: Database, tmp_path: Path) -> None:
    d = new_deployment(database, tmp_path)
    with database.session() as session:
        store.record(session, [sample(d, T0, 1, None)], TIERS)
        deployments.delete_deployment(session, deployment_id=d)
        assert store.latest(session, deployment_id=d, step=10) is None


def test_history_picks_the_tier_of_the_range(database: Database, tmp_path: Path) -> None:
    d = new_deployment(database, tmp_path)
    with database.session() as session:
        store.record(session, [sample(d, T0, 1, None)], TIERS)
        hour = service.history(session, deployment_id=d, span=3600, now=T0 + 5, finest=10)
        day = service.history(session, deployment_id=d, span=DAY, now=T0 + 5, finest=10)
        old = service.history(session, deployment_id=d, span=3600, now=T0 + 7200, finest=10)
    assert (hour.step, [p.at for p in hour.points]) == (10, [int(T0)])
    assert (day.step, [p.at for p in day.points]) == (60, [int(T0)])
    assert old.points == []


def test_current_is_only_a_fresh_point(database: Database, tmp_path: Path) -> None:
    d = new_deployment(database, tmp_path)
    with database.session() as session:
        store.record(session, [sample(d, T0, 3, None)], TIERS)
        fresh = service.current(session, deployment_id=d, now=T0 + 20, finest=10)
        stale = service.current(session, deployment_id=d, now=T0 + 60, finest=10)
    assert fresh is not None
    assert fresh.gauges["connections"] == 3.0
    assert stale is None


@pytest.mark.parametrize("span", [0, -1, 90 * DAY + 1])
def test_history_refuses_a_span_out_of_range(database: Database, span: int) -> None:
    with database.session() as session, pytest.raises(BadRequest) as caught:
        service.history(session, deployment_id="x", span=span, now=T0, finest=10)
    assert caught.value.field == "latest"


def test_unknown_console_range_is_refused_with_its_field() -> None:
    assert service.parse_range("6h") == 6 * 3600
    with pytest.raises(BadRequest) as caught:
        service.parse_range("2h")
    assert caught.value.field == "range"
