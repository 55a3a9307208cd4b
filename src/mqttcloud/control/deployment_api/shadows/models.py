"""Shadow models of a deployment, each with its JSON document (stored as text) and the document's version."""

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class Shadow(Base):
    __tablename__ = "deployment_shadows"
    __table_args__ = (UniqueConstraint("deployment_id", "shadow_id", name="uq_deployment_shadows_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    shadow_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    document: Mapped[str] = mapped_column(Text, default="{}")  # the JSON object `data`, compact
    document_created_ms: Mapped[int] = mapped_column(BigInteger)
    document_updated_ms: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=0)
