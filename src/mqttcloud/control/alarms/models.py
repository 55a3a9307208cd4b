"""Alarms, active and past.

Rule: at most one active row (no `deactivated_at`) per (deployment, name); the checker
(`checker.py`) is the only writer. A platform-wide alarm has no deployment.
"""

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime


class AlarmRow(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(64))  # e.g. "certificate_expiring", "quota_connections"
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, object]] = mapped_column(JSON)
    activated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
