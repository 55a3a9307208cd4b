"""The audit log table: one row per state-changing action, whatever interface it came through.

Rule: rows are only ever inserted (by `service.write_entries`) and deleted by retention
(`service.purge_before`); no interface updates or deletes one. No column holds a secret: the actor is a
key id or a user name, and `summary` is the redacted request (redaction.py).
"""

import datetime as dt

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    interface: Mapped[str] = mapped_column(String(16))  # platform_api, deployment_api, console, cli
    actor_kind: Mapped[str] = mapped_column(String(16))  # platform_key, deployment_key, account, anonymous
    actor_id: Mapped[str] = mapped_column(String(128), index=True)  # key id or user name; "" if anonymous
    authenticated: Mapped[bool] = mapped_column(Boolean)  # False: the id was presented, not verified
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None for the CLI
    method: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(200))  # "POST /public_api/v1/projects/{project_id}/..."
    target: Mapped[str] = mapped_column(String(255))  # "deployment_id=abc project_id=p1" ("" if none)
    summary: Mapped[str] = mapped_column(Text)  # JSON object: the redacted request body
    status: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
