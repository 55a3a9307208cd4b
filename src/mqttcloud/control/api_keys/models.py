"""Platform API key table (the secret is stored only as its SHA-256 hex digest) and the key revision row."""

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow

ALL_PROJECTS = "*"


class Scope(StrEnum):
    """Functionality scope of a platform key (spec §1.3)."""

    TLS = "tls"  # TLS Certificate Management: /deployments/{id}/tls
    DEPLOYMENTS = "deployments"  # deployment management: /deployments, start, stop
    PROJECTS = "projects"  # project management: /projects


class ApiKey(Base):
    __tablename__ = "platform_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # Scope values
    project_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # project ids, or ["*"] for all
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class KeyRevision(Base):
    """One row (id 1) whose `generation` database triggers bump whenever a cached key may be stale
    (migration 0006): see `api_keys/revisions.py`."""

    __tablename__ = "key_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
