"""Monitoring use cases: a deployment's stored history over a time range, and its newest point.

The console's chart page and the Deployment API's `/monitor` and `/monitor_current` (`api.py`) both read
through here. Rule: a range picks one tier (`series.step_for`) and every point of it inside the range; a
period with no sample has no point, which callers draw as a gap.
"""

from dataclasses import dataclass

from sqlalchemy.orm import Session

from mqttcloud.control.errors import BadRequest
from mqttcloud.control.monitoring import store
from mqttcloud.control.monitoring.series import LONGEST, RANGES, bucket, step_for
from mqttcloud.control.monitoring.store import StoredPoint


@dataclass(frozen=True, slots=True)
class History:
    """Points `step` seconds apart between `since` and `until` (Unix seconds); missing periods are gaps."""

    step: int
    since: float
    until: float
    points: list[StoredPoint]


def parse_range(name: str) -> int:
    """The seconds of a console time range ("1h", "6h", "24h", "7d"). Raises: BadRequest (field `range`)."""
    seconds = RANGES.get(name)
    if seconds is None:
        raise BadRequest(
            f"range must be one of {', '.join(RANGES)}, not {name[:16]!r}", code="BAD_RANGE", field="range"
        )
    return seconds


def history(session: Session, *, deployment_id: str, span: int, now: float, finest: int) -> History:
    """The last `span` seconds of a deployment's points.

    Args:
        span: seconds back from `now`, 1 to 90 days' worth.
        finest: the sampling interval (the finest tier's step).

    Raises:
        BadRequest (field `latest`): a span out of range.
    """
    if not 0 < span <= LONGEST:
        raise BadRequest(
            f"latest must be 1 to {LONGEST} seconds, not {span}", code="BAD_LATEST", field="latest"
        )
    step = step_for(span, finest)
    since = now - span
    points = store.read(session, deployment_id=deployment_id, step=step, since=since, until=now)
    return History(step=step, since=since, until=now, points=points)


def current(session: Session, *, deployment_id: str, now: float, finest: int) -> StoredPoint | None:
    """The newest point if it is fresh (from the last three sampling periods), else None."""
    point = store.latest(session, deployment_id=deployment_id, step=finest)
    if point is None or point.at < bucket(now, finest) - 3 * finest:
        return None
    return point
