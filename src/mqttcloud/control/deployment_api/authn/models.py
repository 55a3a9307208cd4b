"""Built-in authentication users of a deployment (username and client-id kinds), stored hashed."""

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class DeploymentUser(Base):
    __tablename__ = "deployment_users"
    __table_args__ = (UniqueConstraint("deployment_id", "kind", "user_id", name="uq_deployment_users_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "username" | "clientid"
    user_id: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    algorithm: Mapped[str] = mapped_column(String(16))  # contracts.HashAlgorithm value
    salt: Mapped[str] = mapped_column(String(64), default="")
    salt_position: Mapped[str] = mapped_column(String(16))  # contracts.SaltPosition value
    pbkdf2_iterations: Mapped[int] = mapped_column(Integer, default=4096)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
