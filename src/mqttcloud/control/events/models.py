"""The `client_events` table: one row per client event a deployment's broker recorded.

Rule: rows are inserted by `service.write_events` and deleted only by retention and the per-deployment
size cap (`service.purge`); nothing updates one. `detail` is a JSON object of the kind's extra fields.
"""

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime

MAX_CLIENTID = 1024  # longer client ids and user names are stored cut to this length


class ClientEventRow(Base):
    __tablename__ = "client_events"
    __table_args__ = (
        Index("ix_client_events_deployment_at", "deployment_id", "at"),
        Index("ix_client_events_deployment_clientid", "deployment_id", "clientid", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    event: Mapped[str] = mapped_column(String(32))
    clientid: Mapped[str] = mapped_column(String(MAX_CLIENTID))
    username: Mapped[str | None] = mapped_column(String(MAX_CLIENTID), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text)  # JSON object
