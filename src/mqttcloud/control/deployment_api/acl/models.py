"""Built-in authorization (ACL) rules of a deployment. `target_kind` "all" rules have target ""."""

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class AclRuleRow(Base):
    __tablename__ = "deployment_acl_rules"
    __table_args__ = (Index("ix_deployment_acl_rules_target", "deployment_id", "target_kind", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    target_kind: Mapped[str] = mapped_column(String(16))  # "clientid" | "username" | "all"
    target: Mapped[str] = mapped_column(String(255), default="")
    topic: Mapped[str] = mapped_column(String(1024))
    action: Mapped[str] = mapped_column(String(16))  # contracts.AclAction value
    permission: Mapped[str] = mapped_column(String(16))  # contracts.AclPermission value
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within one target
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
