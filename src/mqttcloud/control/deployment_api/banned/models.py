"""Banned clients of a deployment (EMQX `banned`: as clientid / username / peerhost)."""

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class BanRow(Base):
    __tablename__ = "deployment_bans"
    __table_args__ = (UniqueConstraint("deployment_id", "kind", "who", name="uq_deployment_bans_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # contracts.BanKind value (EMQX `as`)
    who: Mapped[str] = mapped_column(String(255))
    by: Mapped[str] = mapped_column(String(255), default="user")
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
