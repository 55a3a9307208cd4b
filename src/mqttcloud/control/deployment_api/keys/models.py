"""Deployment API key table (App ID + App Secret). The secret is stored only as its SHA-256 hex digest."""

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class DeploymentApiKey(Base):
    __tablename__ = "deployment_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # None: full access (Serverless, Dedicated v4). Otherwise ["GET:clients", "POST:publish", "*:metrics"].
    permissions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
