"""The monitoring points in the platform database: fold samples into every tier, prune, read a series.

Rule: one tick's points share their time, so the rows they fold into are found with one query per chunk
of deployments, and each tick commits once. Pruning deletes by (step, at), which the index covers.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from mqttcloud.control.monitoring.models import MonitorPoint
from mqttcloud.control.monitoring.series import GAUGES, RATES, Point, Tier, bucket

_CHUNK = 500  # deployments per query (bound parameters stay well under every backend's limit)


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """One period of one tier: gauge averages, and rate averages per second (None: no rate known)."""

    at: int
    gauges: dict[str, float]
    rates: dict[str, float | None]


def record(session: Session, points: Sequence[Point], tiers: Sequence[Tier]) -> None:
    """Fold each point into its period's row of every tier, and commit."""
    for start in range(0, len(points), _CHUNK):
        chunk = points[start : start + _CHUNK]
        periods = {(tier.step, bucket(p.at, tier.step)) for p in chunk for tier in tiers}
        existing = {
            (row.deployment_id, row.step, row.at): row
            for row in session.scalars(
                select(MonitorPoint).where(
                    MonitorPoint.deployment_id.in_({p.deployment_id for p in chunk}),
                    or_(*(and_(MonitorPoint.step == step, MonitorPoint.at == at) for step, at in periods)),
                )
            )
        }
        for p in chunk:
            for tier in tiers:
                key = (p.deployment_id, tier.step, bucket(p.at, tier.step))
                row = existing.get(key)
                if row is None:
                    row = existing[key] = _empty_row(*key)
                    session.add(row)
                _fold(row, p)
    session.commit()


def _empty_row(deployment_id: str, step: int, at: int) -> MonitorPoint:
    row = MonitorPoint(deployment_id=deployment_id, step=step, at=at, samples=0, rate_samples=0)
    for name in (*GAUGES, *RATES):
        setattr(row, f"{name}_sum", 0.0)
    return row


def _fold(row: MonitorPoint, p: Point) -> None:
    row.samples += 1
    for name in GAUGES:
        setattr(row, f"{name}_sum", getattr(row, f"{name}_sum") + p.gauges.get(name, 0.0))
    if p.rates is not None:
        row.rate_samples += 1
        for name in RATES:
            setattr(row, f"{name}_sum", getattr(row, f"{name}_sum") + p.rates.get(name, 0.0))


def prune(session: Session, now: float, tiers: Sequence[Tier]) -> None:
    """Delete every row older than its tier keeps, and commit."""
    for tier in tiers:
        session.execute(
            delete(MonitorPoint).where(MonitorPoint.step == tier.step, MonitorPoint.at < now - tier.keep)
        )
    session.commit()


def read(session: Session, *, deployment_id: str, step: int, since: float, until: float) -> list[StoredPoint]:
    """The points of one tier whose period starts in [since, until], oldest first."""
    rows = session.scalars(
        select(MonitorPoint)
        .where(
            MonitorPoint.deployment_id == deployment_id,
            MonitorPoint.step == step,
            MonitorPoint.at >= bucket(since, step),
            MonitorPoint.at <= until,
        )
        .order_by(MonitorPoint.at)
    )
    return [_stored(row) for row in rows]


def latest(session: Session, *, deployment_id: str, step: int) -> StoredPoint | None:
    """The newest point of one tier, if any."""
    row = session.scalars(
        select(MonitorPoint)
        .where(MonitorPoint.deployment_id == deployment_id, MonitorPoint.step == step)
        .order_by(MonitorPoint.at.desc())
        .limit(1)
    ).first()
    return _stored(row) if row is not None else None


def _stored(row: MonitorPoint) -> StoredPoint:
    samples = max(row.samples, 1)
    gauges = {name: getattr(row, f"{name}_sum") / samples for name in GAUGES}
    rates: dict[str, float | None] = {
        name: getattr(row, f"{name}_sum") / row.rate_samples if row.rate_samples else None for name in RATES
    }
    return StoredPoint(row.at, gauges, rates)
