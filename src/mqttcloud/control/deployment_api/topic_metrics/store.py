"""Registered topics of one deployment: the rules on topics and their number, and what brokers count.

Rules (EMQX's, with its codes and words): a topic is a valid topic name, never a filter (400 `BAD_TOPIC`
"Wildcard topic is not supported"), registered once (400 `BAD_TOPIC` "Topic already registered"), at
most `MAX_TOPIC_METRICS` per deployment (409 `EXCEED_LIMIT`); an empty topic is 400 `BAD_REQUEST`; an
unknown one is 404 `TOPIC_NOT_FOUND`. Every write commits; callers run these functions in a worker thread.
"""

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mqttcloud.contracts import MAX_TOPIC_METRICS
from mqttcloud.control.deployment_api.topic_metrics.models import TopicMetricRow
from mqttcloud.control.errors import BadRequest, Conflict, NotFound
from mqttcloud.protocol import topics
from mqttcloud.protocol.errors import MQTTError

NOT_FOUND_MESSAGE = "Topic not found"  # EMQX's words


def topic_key(topic: str) -> str:
    return hashlib.sha256(topic.encode()).hexdigest()


def check_topic(topic: str) -> str:
    """A topic that may be registered. Raises: BadRequest naming the field `topic`."""
    if not topic:
        raise BadRequest("Topic can not be empty", code="BAD_REQUEST", field="topic")
    if "+" in topic or "#" in topic:
        raise BadRequest("Wildcard topic is not supported", code="BAD_TOPIC", field="topic")
    try:
        topics.validate_topic_name(topic)
    except MQTTError as exc:
        raise BadRequest(f"Invalid topic name: {exc}", code="BAD_TOPIC", field="topic") from None
    return topic


def rows(session: Session, *, deployment_id: str) -> list[TopicMetricRow]:
    """The registered topics, oldest first."""
    query = (
        select(TopicMetricRow)
        .where(TopicMetricRow.deployment_id == deployment_id)
        .order_by(TopicMetricRow.created_at, TopicMetricRow.id)
    )
    return list(session.scalars(query))


def get(session: Session, *, deployment_id: str, topic: str) -> TopicMetricRow:
    """Raises: NotFound."""
    row = session.scalar(
        select(TopicMetricRow).where(
            TopicMetricRow.deployment_id == deployment_id, TopicMetricRow.topic_key == topic_key(topic)
        )
    )
    if row is None:
        raise NotFound(NOT_FOUND_MESSAGE, code="TOPIC_NOT_FOUND")
    return row


def records(session: Session, *, deployment_id: str) -> list[str]:
    """What the deployment's brokers count: `TenantSpec.topic_metrics`."""
    return [row.topic for row in rows(session, deployment_id=deployment_id)]


def register(session: Session, *, deployment_id: str, topic: str, now: dt.datetime) -> TopicMetricRow:
    """Raises: BadRequest (empty, wildcard, invalid, already registered), Conflict (over the limit)."""
    check_topic(topic)
    existing = rows(session, deployment_id=deployment_id)
    if any(row.topic == topic for row in existing):
        raise BadRequest("Topic already registered", code="BAD_TOPIC", field="topic")
    if len(existing) >= MAX_TOPIC_METRICS:
        raise Conflict(f"Max topic metrics count is {MAX_TOPIC_METRICS}", code="EXCEED_LIMIT", field="topic")
    row = TopicMetricRow(deployment_id=deployment_id, topic=topic, topic_key=topic_key(topic), created_at=now)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # registered at the same moment by another request
        session.rollback()
        raise BadRequest("Topic already registered", code="BAD_TOPIC", field="topic") from None
    return row


def reset(
    session: Session, *, deployment_id: str, topic: str | None, now: dt.datetime
) -> list[TopicMetricRow]:
    """Record a reset of `topic` (None: of every topic); returns the rows reset. Raises: NotFound."""
    reset_rows = (
        rows(session, deployment_id=deployment_id)
        if topic is None
        else [get(session, deployment_id=deployment_id, topic=topic)]
    )
    for row in reset_rows:
        row.reset_at = now
    session.commit()
    return reset_rows


def delete(session: Session, *, deployment_id: str, topic: str) -> None:
    """Raises: NotFound."""
    session.delete(get(session, deployment_id=deployment_id, topic=topic))
    session.commit()
