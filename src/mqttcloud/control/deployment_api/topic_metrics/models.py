"""The topics each deployment counts messages of (EMQX's topic metrics).

A registered topic is desired state like an ACL rule: its row reaches the broker in the tenant's spec
(`TenantSpec.topic_metrics`), and the broker keeps the counts. Rule: a topic is registered once per
deployment, enforced by the unique `topic_key` (the topic's SHA-256, as a topic may exceed a B-tree key).
"""

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class TopicMetricRow(Base):
    __tablename__ = "topic_metrics"
    __table_args__ = (UniqueConstraint("deployment_id", "topic_key", name="uq_topic_metrics_topic_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(Text)
    topic_key: Mapped[str] = mapped_column(String(64))  # hashlib.sha256(topic).hexdigest()
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    reset_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
