"""The log traces of each deployment.

A trace is desired state like a user or an ACL rule: its row reaches the broker in the tenant's spec
(`contracts.TraceSpec`), and the broker writes what it captures to its own file. Stopping a trace keeps
the row and the file (`enabled` False); deleting it removes both.
"""

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class TraceRow(Base):
    __tablename__ = "deployment_traces"
    __table_args__ = (UniqueConstraint("deployment_id", "name", name="uq_deployment_traces_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(16))  # contracts.TraceType: clientid, topic, ip_address
    filter: Mapped[str] = mapped_column(Text)  # the client id, topic filter or IP address
    payload_encode: Mapped[str] = mapped_column(String(8))  # text, hex, hidden
    start_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # False once stopped through the API
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
