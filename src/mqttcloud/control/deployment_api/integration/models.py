"""Data integration of a deployment: connectors (v5 `http`, v4 `web_hook` resources), v5 actions, rules.

Configs are JSON objects in EMQX's field names, kept as the API accepted them after validation
(`config.py` checks them); a rule's `actions` is a JSON list of canonical items (`actions.py`).
"""

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class ConnectorRow(Base):
    """A v5 connector (`type` "http", id `http:<name>`) or a v4 resource (`web_hook`, `resource:<hex>`)."""

    __tablename__ = "deployment_connectors"
    __table_args__ = (UniqueConstraint("deployment_id", "connector_id", name="uq_deployment_connectors_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    connector_id: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ActionRow(Base):
    """A v5 action (`type` "http", id `http:<name>`) over a connector of the same type."""

    __tablename__ = "deployment_actions"
    __table_args__ = (UniqueConstraint("deployment_id", "action_id", name="uq_deployment_actions_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    action_id: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    connector: Mapped[str] = mapped_column(String(255))  # the connector's name (same type)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    parameters: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class RuleRow(Base):
    """A rule of either shape: v5 ids are chosen or `rule_<hex>`, v4 ids `rule:<8 hex>`."""

    __tablename__ = "deployment_rules"
    __table_args__ = (UniqueConstraint("deployment_id", "rule_id", name="uq_deployment_rules_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    sql: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
